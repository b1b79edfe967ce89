//! The host's interfaces as layer-2 mode needs them: index, MAC, and the
//! addresses that say which VIPs belong on the segment and which address
//! VRRP speaks from. Read with getifaddrs(3) at each load (the config's
//! checks) and by the runtime; [`check`] is pure.
use super::frames::Mac;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Mac,
    /// Addresses with their prefix lengths, in the kernel's order.
    pub v4: Vec<(Ipv4Addr, u8)>,
    /// Global IPv6 addresses with their prefix lengths.
    pub v6: Vec<(Ipv6Addr, u8)>,
    /// The link-local address, which VRRP for IPv6 speaks from (RFC 5798
    /// 5.1.2.1).
    pub link_local: Option<Ipv6Addr>,
}

impl Link {
    /// The address VRRP speaks from for `vip`: for IPv4 the interface's
    /// address in the VIP's subnet (the first one if none), for IPv6 the
    /// link-local address.
    pub fn primary(&self, vip: IpAddr) -> Option<IpAddr> {
        match vip {
            IpAddr::V4(v) => self
                .v4
                .iter()
                .find(|(a, len)| same_net4(*a, v, *len))
                .or(self.v4.first())
                .map(|(a, _)| IpAddr::V4(*a)),
            IpAddr::V6(_) => self.link_local.map(IpAddr::V6),
        }
    }

    /// Whether `a` is in one of its subnets.
    pub fn holds(&self, a: IpAddr) -> bool {
        match a {
            IpAddr::V4(v) => self.v4.iter().any(|(a, len)| same_net4(*a, v, *len)),
            IpAddr::V6(v) => self.v6.iter().any(|(a, len)| same_net6(*a, v, *len)),
        }
    }
}

/// The Ethernet interface with a subnet holding `a` (an Eip's
/// `can_reach:`), if one has.
pub fn reaching(links: &[Link], a: IpAddr) -> Option<&Link> {
    links.iter().find(|l| l.mac != [0; 6] && l.holds(a))
}

fn same_net4(a: Ipv4Addr, b: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}

fn same_net6(a: Ipv6Addr, b: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(a) & mask == u128::from(b) & mask
}

/// Why a VIP cannot be held on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    NoInterface(String),
    /// Not an Ethernet interface (no 6-byte MAC): ARP and NDP need one.
    NotEthernet(String),
    /// The VIP is in none of the interface's subnets: no neighbour would
    /// ask for it there.
    OutsideSubnets {
        vip: IpAddr,
        interface: String,
    },
    /// IPv6 VRRP speaks from a link-local address, which it lacks.
    NoLinkLocal(String),
    /// An Eip's `can_reach:` address is on no interface's subnet.
    NoneReaches(IpAddr),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::NoInterface(i) => write!(f, "interface {i} does not exist"),
            LinkError::NotEthernet(i) => write!(f, "interface {i} has no Ethernet address"),
            LinkError::OutsideSubnets { vip, interface } => write!(
                f,
                "{vip} is outside every subnet of {interface}, so no neighbour there asks for it"
            ),
            LinkError::NoLinkLocal(i) => {
                write!(f, "interface {i} has no IPv6 link-local address for VRRP")
            }
            LinkError::NoneReaches(a) => {
                write!(
                    f,
                    "no interface of this node has a subnet holding can_reach:{a}"
                )
            }
        }
    }
}

/// Whether `vip` can be held on `interface`, among `links`.
pub fn check<'a>(links: &'a [Link], interface: &str, vip: IpAddr) -> Result<&'a Link, LinkError> {
    let l = links
        .iter()
        .find(|l| l.name == interface)
        .ok_or_else(|| LinkError::NoInterface(interface.into()))?;
    if l.mac == [0; 6] {
        return Err(LinkError::NotEthernet(interface.into()));
    }
    if !l.holds(vip) {
        return Err(LinkError::OutsideSubnets {
            vip,
            interface: interface.into(),
        });
    }
    if vip.is_ipv6() && l.link_local.is_none() {
        return Err(LinkError::NoLinkLocal(interface.into()));
    }
    Ok(l)
}

/// Every interface of the host, as getifaddrs(3) lists them.
pub fn read() -> Vec<Link> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut links: Vec<Link> = Vec::new();
    for a in addrs {
        let Some(addr) = a.address else { continue };
        let at = match links.iter().position(|l| l.name == a.interface_name) {
            Some(i) => i,
            None => {
                links.push(Link {
                    index: nix::net::if_::if_nametoindex(a.interface_name.as_str()).unwrap_or(0),
                    name: a.interface_name.clone(),
                    mac: [0; 6],
                    v4: Vec::new(),
                    v6: Vec::new(),
                    link_local: None,
                });
                links.len() - 1
            }
        };
        let l = &mut links[at];
        if let Some(ll) = addr.as_link_addr() {
            if let Some(mac) = ll.addr() {
                l.mac = mac;
            }
        } else if let Some(v4) = addr.as_sockaddr_in() {
            let len = a
                .netmask
                .and_then(|m| m.as_sockaddr_in().map(|m| u32::from(m.ip()).count_ones()))
                .unwrap_or(32);
            l.v4.push((v4.ip(), len as u8));
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            let ip = v6.ip();
            if ip.segments()[0] & 0xffc0 == 0xfe80 {
                l.link_local.get_or_insert(ip);
            } else {
                let len = a
                    .netmask
                    .and_then(|m| m.as_sockaddr_in6().map(|m| u128::from(m.ip()).count_ones()))
                    .unwrap_or(128);
                l.v6.push((ip, len as u8));
            }
        }
    }
    links.retain(|l| l.index != 0);
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth0() -> Link {
        Link {
            index: 2,
            name: "eth0".into(),
            mac: [2, 0, 0, 0, 0, 1],
            v4: vec![("198.51.100.2".parse().unwrap(), 24)],
            v6: vec![("2001:db8::2".parse().unwrap(), 64)],
            link_local: Some("fe80::1".parse().unwrap()),
        }
    }

    #[test]
    fn a_vip_belongs_in_a_subnet_of_its_interface() {
        let links = [eth0()];
        let v4: IpAddr = "198.51.100.10".parse().unwrap();
        assert_eq!(check(&links, "eth0", v4).unwrap().index, 2);
        assert!(check(&links, "eth0", "2001:db8::10".parse().unwrap()).is_ok());
        assert_eq!(
            check(&links, "eth9", v4),
            Err(LinkError::NoInterface("eth9".into()))
        );
        let out = check(&links, "eth0", "203.0.113.1".parse().unwrap()).unwrap_err();
        assert!(
            out.to_string().contains("outside every subnet of eth0"),
            "{out}"
        );
        assert!(check(&links, "eth0", "2001:db8:1::1".parse().unwrap()).is_err());
        let mut no_ll = eth0();
        no_ll.link_local = None;
        assert_eq!(
            check(&[no_ll], "eth0", "2001:db8::10".parse().unwrap()),
            Err(LinkError::NoLinkLocal("eth0".into()))
        );
    }

    #[test]
    fn vrrp_speaks_from_the_address_in_the_vips_subnet() {
        let mut l = eth0();
        l.v4.insert(0, ("192.0.2.1".parse().unwrap(), 24));
        assert_eq!(
            l.primary("198.51.100.10".parse().unwrap()),
            Some("198.51.100.2".parse().unwrap())
        );
        assert_eq!(
            l.primary("2001:db8::10".parse().unwrap()),
            Some("fe80::1".parse().unwrap())
        );
    }
}
