//! This host's addresses: the source address toward a peer, the global
//! address of the other family on that interface, the default router ID.
use crate::plan::LocalAddrs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

struct IfAddr {
    name: String,
    addr: IpAddr,
    /// Length of the connected prefix (from the netmask).
    plen: u8,
}

fn interfaces() -> Vec<IfAddr> {
    let Ok(list) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    list.filter_map(|i| {
        let a = i.address?;
        let addr = if let Some(v4) = a.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else {
            IpAddr::V6(a.as_sockaddr_in6()?.ip())
        };
        let plen = i.netmask.as_ref().map_or(0, |m| {
            if let Some(v4) = m.as_sockaddr_in() {
                u32::from(v4.ip()).count_ones() as u8
            } else {
                m.as_sockaddr_in6()
                    .map_or(0, |v6| u128::from(v6.ip()).count_ones() as u8)
            }
        });
        Some(IfAddr {
            name: i.interface_name,
            addr,
            plen,
        })
    })
    .collect()
}

fn is_global_v6(a: &Ipv6Addr) -> bool {
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || (a.segments()[0] & 0xffc0) == 0xfe80)
}

fn is_global_v4(a: &Ipv4Addr) -> bool {
    !(a.is_loopback() || a.is_unspecified() || a.is_link_local() || a.is_multicast())
}

/// The source address the kernel would use toward `peer`: connecting a
/// UDP socket picks a route and a source without sending anything.
pub fn source_toward(peer: IpAddr) -> Option<IpAddr> {
    let bind: SocketAddr = match peer {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect((peer, 179)).ok()?;
    Some(s.local_addr().ok()?.ip())
}

/// Both families' addresses on the interface that holds `source`.
pub fn around(source: IpAddr) -> LocalAddrs {
    let all = interfaces();
    let mut out = LocalAddrs::default();
    match source {
        IpAddr::V4(a) => out.v4 = Some(a),
        IpAddr::V6(a) => out.v6 = Some(a),
    }
    let Some(iface) = all
        .iter()
        .find(|i| i.addr == source)
        .map(|i| i.name.clone())
    else {
        return out;
    };
    for i in all.iter().filter(|i| i.name == iface) {
        match i.addr {
            IpAddr::V4(a) if (out.v4.is_none() || out.v4 == Some(a)) && is_global_v4(&a) => {
                out.v4 = Some(a);
                out.v4_plen = i.plen;
            }
            IpAddr::V6(a) if (out.v6.is_none() || out.v6 == Some(a)) && is_global_v6(&a) => {
                out.v6 = Some(a);
                out.v6_plen = i.plen;
            }
            _ => {}
        }
    }
    out
}

/// What a session to `peer` would see, before it exists.
pub fn predict(peer: IpAddr, local_address: Option<IpAddr>) -> LocalAddrs {
    local_address
        .or_else(|| source_toward(peer))
        .map(around)
        .unwrap_or_default()
}

/// The default router ID: the first global IPv4 address on the host,
/// preferring real interfaces over loopback, where VIPs usually live and
/// would give every host of a service the same ID.
pub fn first_global_ipv4() -> Option<Ipv4Addr> {
    let mut all: Vec<(bool, Ipv4Addr)> = interfaces()
        .into_iter()
        .filter_map(|i| match i.addr {
            IpAddr::V4(a) if is_global_v4(&a) => Some((i.name == "lo", a)),
            _ => None,
        })
        .collect();
    all.sort_by_key(|(lo, _)| *lo);
    all.first().map(|(_, a)| *a)
}
