//! IP prefixes and NLRI encoding (RFC 4271 §4.3, RFC 7911 path identifiers).
use super::family::{Family, AFI_IPV4};
use super::reader::Reader;
use crate::prelude::*;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

/// A prefix with its host bits cleared, so that equal routes compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Prefix {
    V4 { addr: Ipv4Addr, len: u8 },
    V6 { addr: Ipv6Addr, len: u8 },
}

impl Prefix {
    /// `None` when `len` is longer than the address.
    pub fn new(addr: IpAddr, len: u8) -> Option<Prefix> {
        match addr {
            IpAddr::V4(a) if len <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                Some(Prefix::V4 {
                    addr: Ipv4Addr::from(u32::from(a) & mask),
                    len,
                })
            }
            IpAddr::V6(a) if len <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                Some(Prefix::V6 {
                    addr: Ipv6Addr::from(u128::from(a) & mask),
                    len,
                })
            }
            _ => None,
        }
    }

    /// A host route: /32 or /128.
    pub fn host(addr: IpAddr) -> Prefix {
        match addr {
            IpAddr::V4(addr) => Prefix::V4 { addr, len: 32 },
            IpAddr::V6(addr) => Prefix::V6 { addr, len: 128 },
        }
    }

    pub fn addr(&self) -> IpAddr {
        match *self {
            Prefix::V4 { addr, .. } => IpAddr::V4(addr),
            Prefix::V6 { addr, .. } => IpAddr::V6(addr),
        }
    }

    pub fn prefix_len(&self) -> u8 {
        match *self {
            Prefix::V4 { len, .. } | Prefix::V6 { len, .. } => len,
        }
    }

    pub fn family(&self) -> Family {
        match self {
            Prefix::V4 { .. } => Family::IPV4_UNICAST,
            Prefix::V6 { .. } => Family::IPV6_UNICAST,
        }
    }

    fn octets(&self) -> ([u8; 16], usize) {
        let mut buf = [0u8; 16];
        match self {
            Prefix::V4 { addr, .. } => {
                buf[..4].copy_from_slice(&addr.octets());
            }
            Prefix::V6 { addr, .. } => buf.copy_from_slice(&addr.octets()),
        }
        (buf, usize::from(self.prefix_len()).div_ceil(8))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.prefix_len())
    }
}

/// Why a prefix string did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixParseError(pub String);

impl fmt::Display for PrefixParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for PrefixParseError {}

impl FromStr for Prefix {
    type Err = PrefixParseError;

    /// "192.0.2.1/32", "2001:db8::/32"; a bare address means a host route.
    /// Host bits must be clear, so that a typo is not silently widened.
    fn from_str(s: &str) -> Result<Prefix, PrefixParseError> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| PrefixParseError(format!("{a:?} is not an IP address")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len =
            match l {
                None => max,
                Some(l) => l.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(|| {
                    PrefixParseError(format!("prefix length {l:?} is not 0..={max}"))
                })?,
            };
        let p =
            Prefix::new(addr, len).ok_or_else(|| PrefixParseError(format!("bad prefix {s:?}")))?;
        if p.addr() != addr {
            return Err(PrefixParseError(format!(
                "{s} has host bits set (did you mean {p}?)"
            )));
        }
        Ok(p)
    }
}

/// One NLRI entry: a prefix and, on ADD-PATH sessions, its path identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nlri {
    pub path_id: Option<u32>,
    pub prefix: Prefix,
}

impl Nlri {
    pub fn new(prefix: Prefix) -> Self {
        Nlri {
            path_id: None,
            prefix,
        }
    }

    pub fn with_path_id(prefix: Prefix, path_id: u32) -> Self {
        Nlri {
            path_id: Some(path_id),
            prefix,
        }
    }

    /// Bytes this entry takes on the wire.
    pub fn wire_len(&self, add_path: bool) -> usize {
        1 + usize::from(self.prefix.prefix_len()).div_ceil(8) + if add_path { 4 } else { 0 }
    }

    /// Writes the entry; the path id goes out iff the session negotiated
    /// ADD-PATH for the family, whatever `path_id` says, so a caller cannot
    /// desynchronise the stream.
    pub fn emit(&self, add_path: bool, out: &mut Vec<u8>) {
        if add_path {
            out.extend_from_slice(&self.path_id.unwrap_or(0).to_be_bytes());
        }
        let (octets, n) = self.prefix.octets();
        out.push(self.prefix.prefix_len());
        out.extend_from_slice(&octets[..n]);
    }
}

/// Parses a run of NLRI entries filling `buf`. `Err(())` means the field is
/// syntactically broken (RFC 7606 §5.3: that is a session reset).
pub(crate) fn parse_nlri(buf: &[u8], afi: u16, add_path: bool) -> Result<Vec<Nlri>, ()> {
    let mut r = Reader::new(buf);
    let max = if afi == AFI_IPV4 { 32 } else { 128 };
    let mut out = Vec::with_capacity(buf.len() / 5);
    while !r.is_empty() {
        let path_id = if add_path {
            Some(r.u32().ok_or(())?)
        } else {
            None
        };
        let len = r.u8().ok_or(())?;
        if len > max {
            return Err(());
        }
        let bytes = r.take(usize::from(len).div_ceil(8)).ok_or(())?;
        let mut octets = [0u8; 16];
        octets[..bytes.len()].copy_from_slice(bytes);
        let addr = if afi == AFI_IPV4 {
            IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(octets))
        };
        let prefix = Prefix::new(addr, len).ok_or(())?;
        out.push(Nlri { path_id, prefix });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_display_roundtrip() {
        for s in [
            "192.0.2.200/32",
            "198.51.100.0/24",
            "0.0.0.0/0",
            "2001:db8::/32",
            "2001:db8::1/128",
        ] {
            assert_eq!(s.parse::<Prefix>().unwrap().to_string(), s);
        }
        assert_eq!(
            "192.0.2.7".parse::<Prefix>().unwrap().to_string(),
            "192.0.2.7/32"
        );
    }

    #[test]
    fn host_bits_and_bad_lengths_are_errors() {
        assert!("192.0.2.1/24"
            .parse::<Prefix>()
            .unwrap_err()
            .0
            .contains("192.0.2.0/24"));
        assert!("192.0.2.0/33".parse::<Prefix>().is_err());
        assert!("2001:db8::/129".parse::<Prefix>().is_err());
        assert!("nonsense/8".parse::<Prefix>().is_err());
    }

    #[test]
    fn nlri_bytes() {
        let n = Nlri::with_path_id("198.51.100.0/25".parse().unwrap(), 7);
        let mut out = Vec::new();
        n.emit(true, &mut out);
        assert_eq!(out, [0, 0, 0, 7, 25, 198, 51, 100, 0]);
        assert_eq!(parse_nlri(&out, AFI_IPV4, true).unwrap(), vec![n]);
        assert!(parse_nlri(&[33, 1, 2, 3, 4, 5], AFI_IPV4, false).is_err());
        assert!(parse_nlri(&[24, 1, 2], AFI_IPV4, false).is_err());
    }
}
