//! The sockets' settings from the config: each peer's options (MD5, TTL,
//! GTSM, local address) and the listener, whose MD5 keys follow reloads.
use super::sockopt::{self, SockOpts};
use crate::config::{Config, PeerConfig};
use async_io::Async;
use std::net::{IpAddr, SocketAddr, TcpListener};

/// The socket options for a peer; its MD5 key was read with the config.
pub fn sock_opts(p: &PeerConfig, local_as: u32) -> SockOpts {
    let md5_key = p.md5_key.as_ref().map(|k| k.bytes().to_vec());
    let (ttl, min_ttl) = match (p.ttl_security, p.ebgp_multihop) {
        (Some(hops), _) => (Some(255), Some(255 - hops + 1)),
        (None, Some(ttl)) => (Some(ttl), None),
        // Direct eBGP uses TTL 1, as BIRD, FRR and GoBGP do by default.
        (None, None) if p.asn != local_as => (Some(1), None),
        (None, None) => (None, None),
    };
    SockOpts {
        local: p.local_address,
        ttl,
        min_ttl,
        md5_key,
    }
}

pub fn listener(addr: SocketAddr, cfg: &Config) -> std::io::Result<Async<TcpListener>> {
    let s = sockopt::new_tcp(&addr)?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(false)?;
    }
    key_listener(&s, addr, None, cfg)?;
    s.bind(&addr.into())?;
    s.listen(64)?;
    Async::new(TcpListener::from(s))
}

/// Gives the listener the keys of `new`'s peers and takes away the keys
/// of `old`'s peers that `new` no longer keys, so that a rotated or removed
/// `password_file` takes effect on reload for incoming connections too.
pub fn key_listener(
    s: &socket2::Socket,
    addr: SocketAddr,
    old: Option<&Config>,
    new: &Config,
) -> std::io::Result<()> {
    let on_listener = |a: IpAddr| match (addr, a) {
        (SocketAddr::V6(_), IpAddr::V4(a)) => IpAddr::V6(a.to_ipv6_mapped()),
        (_, a) => a,
    };
    for p in old.into_iter().flat_map(Config::peers) {
        let still = new
            .peers()
            .any(|n| n.address == p.address && n.md5_key.is_some());
        if p.md5_key.is_some() && !still {
            // An empty key removes it.
            sockopt::set_md5(s, on_listener(p.address), &[])?;
        }
    }
    for p in new.peers() {
        if let Some(k) = &p.md5_key {
            sockopt::set_md5(s, on_listener(p.address), k.bytes())?;
        }
    }
    Ok(())
}
