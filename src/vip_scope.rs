//! Which prefixes can never be a service VIP. A VIP goes to a router that
//! installs it in its FIB and spreads traffic over the hosts: a default
//! route, a multicast group or a loopback address there would hijack or
//! black-hole traffic that has nothing to do with the service. A typo
//! (`0.0.0.0/0` for `192.0.2.0/32`) must fail `check` and a load, with its
//! line, rather than reach a router.
use leafvip_bgp::wire::Prefix;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a prefix is refused as a VIP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unannounceable {
    /// 0.0.0.0/0 or ::/0.
    DefaultRoute,
    /// 0.0.0.0/8 ("this network", RFC 1122 3.2.1.3) or ::/128.
    Unspecified,
    /// 127.0.0.0/8 or ::1/128.
    Loopback,
    /// 224.0.0.0/4 or ff00::/8.
    Multicast,
    /// 255.255.255.255/32 (limited broadcast, RFC 919).
    Broadcast,
    /// 169.254.0.0/16 or fe80::/10: never forwarded by a router.
    LinkLocal,
}

impl fmt::Display for Unannounceable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unannounceable::DefaultRoute => "a default route",
            Unannounceable::Unspecified => "the unspecified address",
            Unannounceable::Loopback => "a loopback address",
            Unannounceable::Multicast => "a multicast address",
            Unannounceable::Broadcast => "the broadcast address",
            Unannounceable::LinkLocal => "a link-local address",
        })
    }
}

const V4: [(Ipv4Addr, u8, Unannounceable); 5] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8, Unannounceable::Unspecified),
    (Ipv4Addr::new(127, 0, 0, 0), 8, Unannounceable::Loopback),
    (Ipv4Addr::new(169, 254, 0, 0), 16, Unannounceable::LinkLocal),
    (Ipv4Addr::new(224, 0, 0, 0), 4, Unannounceable::Multicast),
    (Ipv4Addr::BROADCAST, 32, Unannounceable::Broadcast),
];

const V6: [(Ipv6Addr, u8, Unannounceable); 4] = [
    (Ipv6Addr::UNSPECIFIED, 128, Unannounceable::Unspecified),
    (Ipv6Addr::LOCALHOST, 128, Unannounceable::Loopback),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        Unannounceable::LinkLocal,
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        Unannounceable::Multicast,
    ),
];

/// Why `p` cannot be a VIP, if it cannot: a default route, or a prefix
/// that overlaps one of the ranges above (both are aligned, so they
/// overlap when the shorter one contains the other's address).
pub fn refuse(p: &Prefix) -> Option<Unannounceable> {
    if p.prefix_len() == 0 {
        return Some(Unannounceable::DefaultRoute);
    }
    let overlaps = |addr: IpAddr, len: u8| {
        let shorter = len.min(p.prefix_len());
        Prefix::new(addr, shorter) == Prefix::new(p.addr(), shorter)
    };
    match p {
        Prefix::V4 { .. } => V4
            .iter()
            .find(|(a, l, _)| overlaps(IpAddr::V4(*a), *l))
            .map(|(_, _, why)| *why),
        Prefix::V6 { .. } => V6
            .iter()
            .find(|(a, l, _)| overlaps(IpAddr::V6(*a), *l))
            .map(|(_, _, why)| *why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(s: &str) -> Option<Unannounceable> {
        refuse(&s.parse().unwrap())
    }

    #[test]
    fn nonsense_vips_are_refused_and_documentation_ranges_pass() {
        use Unannounceable::*;
        for (p, w) in [
            ("0.0.0.0/0", DefaultRoute),
            ("::/0", DefaultRoute),
            ("224.0.0.1/32", Multicast),
            ("239.255.0.0/16", Multicast),
            ("ff02::1/128", Multicast),
            ("127.0.0.1/32", Loopback),
            ("::1/128", Loopback),
            ("255.255.255.255/32", Broadcast),
            ("0.0.0.0/32", Unspecified),
            ("0.1.2.3/32", Unspecified),
            ("::/128", Unspecified),
            ("169.254.1.1/32", LinkLocal),
            ("fe80::1/128", LinkLocal),
            ("febf::1/128", LinkLocal),
            // Short prefixes that cover a bad range are refused too.
            ("192.0.0.0/2", Multicast),
            ("0.0.0.0/1", Unspecified),
        ] {
            assert_eq!(why(p), Some(w), "{p}");
        }
        for p in [
            "192.0.2.200/32",
            "198.51.100.0/24",
            "203.0.113.255/32",
            "2001:db8::1/128",
            "2001:db8::/32",
            "fec0::1/128",
            "128.0.0.0/3",
        ] {
            assert_eq!(why(p), None, "{p}");
        }
    }
}
