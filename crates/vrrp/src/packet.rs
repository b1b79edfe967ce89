//! VRRPv3 ADVERTISEMENTs (RFC 5798 5.1), for IPv4 and IPv6:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! |                       IPvX Address(es)                        |
//! ```
//!
//! The IP header is the caller's: it hands in the source, the
//! destination and the TTL (IPv4) or hop limit (IPv6) it read, and the
//! bytes after the header. The checksum covers the IP pseudo-header, as
//! RFC 5798 5.2.8 says and keepalived does by default (its
//! `vrrp_v3_checksum_as_v2` option is the only way to the other form).
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number 112 (RFC 5798 5.1.1.4 and 5.1.2.3).
pub const PROTOCOL: u8 = 112;
/// What the TTL or hop limit must be, sent and received (RFC 5798 5.1.1.3,
/// 7.1): proof that the packet did not cross a router.
pub const TTL: u8 = 255;
/// The group every ADVERTISEMENT goes to.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The fixed part's length.
pub const HEADER: usize = 8;
/// The largest Max Adver Int, in centiseconds (12 bits).
pub const MAX_INTERVAL: u16 = 0x0fff;

/// One ADVERTISEMENT, as the router reads and writes it. The addresses
/// are of one family, the family of the IP packet that carries them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Advert {
    /// Virtual Rtr ID, 1 to 255.
    pub vrid: u8,
    /// 255 for the addresses' owner, 1 to 254 for a backup, 0 for a
    /// master that is giving up.
    pub priority: u8,
    /// Max Adver Int in centiseconds, 1 to 4095.
    pub interval: u16,
    pub addrs: Vec<IpAddr>,
}

/// Why a received packet is discarded (RFC 5798 7.1); VRRP answers
/// nothing, so each is a counter and a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The TTL or hop limit was not 255: it crossed a router.
    Ttl(u8),
    /// Fewer bytes than the header, or than its address count says.
    Short {
        got: usize,
    },
    Version(u8),
    /// Not type 1, ADVERTISEMENT (the only type).
    Type(u8),
    /// Virtual Rtr ID 0 is not one.
    Vrid,
    /// Max Adver Int 0: a master that never advertises.
    Interval,
    /// No addresses, or addresses of the other family than the packet's.
    Addresses,
    /// The source and destination are of different families.
    Family,
    Checksum {
        got: u16,
        want: u16,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Ttl(t) => write!(f, "TTL or hop limit {t}, not 255"),
            DecodeError::Short { got } => write!(f, "packet too short ({got} bytes)"),
            DecodeError::Version(v) => write!(f, "version {v}, not 3"),
            DecodeError::Type(t) => write!(f, "type {t}, not 1 (ADVERTISEMENT)"),
            DecodeError::Vrid => f.write_str("virtual router ID 0"),
            DecodeError::Interval => f.write_str("advertisement interval 0"),
            DecodeError::Addresses => f.write_str("no address of the packet's family"),
            DecodeError::Family => f.write_str("source and destination of different families"),
            DecodeError::Checksum { got, want } => {
                write!(f, "checksum {got:#06x}, expected {want:#06x}")
            }
        }
    }
}

/// The Internet checksum (RFC 1071) of the pseudo-header and `body`,
/// given in even-length parts but the last.
fn checksum(src: IpAddr, dst: IpAddr, body: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        let mut chunks = bytes.chunks_exact(2);
        for c in &mut chunks {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
    };
    let len = body.iter().map(|p| p.len()).sum::<usize>() as u32;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            add(&s.octets());
            add(&d.octets());
            add(&[0, PROTOCOL]);
            add(&(len as u16).to_be_bytes());
        }
        (s, d) => {
            add(&v6(s).octets());
            add(&v6(d).octets());
            add(&len.to_be_bytes());
            add(&[0, 0, 0, PROTOCOL]);
        }
    }
    for part in body {
        add(part);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

impl Advert {
    /// Reads one ADVERTISEMENT from the bytes after the IP header, with
    /// the checks of RFC 5798 7.1 that need no router (the Virtual Rtr ID
    /// and the address list are the router's to judge).
    pub fn decode(src: IpAddr, dst: IpAddr, ttl: u8, b: &[u8]) -> Result<Advert, DecodeError> {
        if ttl != TTL {
            return Err(DecodeError::Ttl(ttl));
        }
        let v4 = match (src, dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => true,
            (IpAddr::V6(_), IpAddr::V6(_)) => false,
            _ => return Err(DecodeError::Family),
        };
        let short = DecodeError::Short { got: b.len() };
        let (&header, _) = b.split_first_chunk::<HEADER>().ok_or(short)?;
        let [vt, vrid, priority, count, i0, i1, c0, c1] = header;
        let interval = u16::from_be_bytes([i0, i1]) & MAX_INTERVAL;
        if vt >> 4 != 3 {
            return Err(DecodeError::Version(vt >> 4));
        }
        if vt & 0x0f != 1 {
            return Err(DecodeError::Type(vt & 0x0f));
        }
        let size = if v4 { 4 } else { 16 };
        let body = b.get(..HEADER + usize::from(count) * size).ok_or(short)?;
        // Computed as the sender computes it: over the packet with the
        // checksum field zero (so 0xffff does not pass for 0x0000).
        let got = u16::from_be_bytes([c0, c1]);
        let want = checksum(src, dst, &[&body[..6], &[0, 0], &body[HEADER..]]);
        if got != want {
            return Err(DecodeError::Checksum { got, want });
        }
        if vrid == 0 {
            return Err(DecodeError::Vrid);
        }
        if interval == 0 {
            return Err(DecodeError::Interval);
        }
        if count == 0 {
            return Err(DecodeError::Addresses);
        }
        let addrs = body[HEADER..]
            .chunks_exact(size)
            // Chunks of `size` bytes: 4 for IPv4, else 16.
            .map(|a| match <[u8; 4]>::try_from(a) {
                Ok(a) => IpAddr::from(a),
                Err(_) => IpAddr::from(<[u8; 16]>::try_from(a).unwrap_or_default()),
            })
            .collect();
        Ok(Advert {
            vrid,
            priority,
            interval,
            addrs,
        })
    }

    /// The bytes after the IP header, checksummed for `src` and `dst`.
    /// Addresses not of their family are left out, so the count is true;
    /// an interval over 4095 centiseconds is cut to 4095.
    pub fn encode(&self, src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let ours: Vec<&IpAddr> = self
            .addrs
            .iter()
            .filter(|a| a.is_ipv4() == src.is_ipv4())
            .take(usize::from(u8::MAX))
            .collect();
        let mut b = Vec::with_capacity(HEADER + 16 * ours.len());
        b.extend_from_slice(&[0x31, self.vrid, self.priority, ours.len() as u8]);
        b.extend_from_slice(&self.interval.min(MAX_INTERVAL).to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        for a in ours {
            match a {
                IpAddr::V4(a) => b.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => b.extend_from_slice(&a.octets()),
            }
        }
        let sum = checksum(src, dst, &[&b]);
        b[6..8].copy_from_slice(&sum.to_be_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn round_trip_both_families() {
        for (src, dst, addrs) in [
            (
                "198.51.100.2",
                "224.0.0.18",
                vec![a("192.0.2.10"), a("192.0.2.11")],
            ),
            ("fe80::2", "ff02::12", vec![a("2001:db8::10")]),
        ] {
            let ad = Advert {
                vrid: 51,
                priority: 150,
                interval: 10,
                addrs,
            };
            let b = ad.encode(a(src), a(dst));
            assert_eq!(Advert::decode(a(src), a(dst), TTL, &b), Ok(ad.clone()));
            // The pseudo-header counts: another source fails the checksum.
            let other = if src.contains(':') {
                "fe80::3"
            } else {
                "198.51.100.3"
            };
            assert!(matches!(
                Advert::decode(a(other), a(dst), TTL, &b),
                Err(DecodeError::Checksum { .. })
            ));
            assert_eq!(
                Advert::decode(a(src), a(dst), 64, &b),
                Err(DecodeError::Ttl(64))
            );
        }
    }

    /// One's complement has two zeros; the sender writes 0x0000, so a
    /// packet carrying 0xffff there was not computed as RFC 5798 says.
    /// (Found by the fuzz target when the check summed the field in.)
    #[test]
    fn a_checksum_of_ffff_does_not_pass_for_zero() {
        let (src, dst) = (a("198.51.100.2"), a("224.0.0.18"));
        let zero = (1..=255u8)
            .flat_map(|vrid| (0..=255u8).map(move |priority| (vrid, priority)))
            .map(|(vrid, priority)| Advert {
                vrid,
                priority,
                interval: 100,
                addrs: vec![a("192.0.2.1")],
            })
            .map(|ad| ad.encode(src, dst))
            .find(|b| b[6..8] == [0, 0])
            .expect("some advert sums to zero");
        assert!(Advert::decode(src, dst, TTL, &zero).is_ok());
        let mut ffff = zero;
        ffff[6..8].copy_from_slice(&[0xff, 0xff]);
        assert!(matches!(
            Advert::decode(src, dst, TTL, &ffff),
            Err(DecodeError::Checksum {
                got: 0xffff,
                want: 0
            })
        ));
    }

    #[test]
    fn every_prefix_of_a_packet_is_short_not_a_panic() {
        let b = Advert {
            vrid: 1,
            priority: 100,
            interval: 100,
            addrs: vec![a("192.0.2.1")],
        }
        .encode(a("198.51.100.2"), a("224.0.0.18"));
        for n in 0..b.len() {
            assert!(Advert::decode(a("198.51.100.2"), a("224.0.0.18"), TTL, &b[..n]).is_err());
        }
    }
}
