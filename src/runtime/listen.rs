//! The sockets' settings: each peer's options (MD5, TTL, GTSM, local
//! address) and the listeners, whose MD5 keys follow reloads and BgpPeers.
use super::sockopt::{self, SockOpts};
use crate::config::PeerConfig;
use async_io::Async;
use socket2::SockRef;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};

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

/// A listening socket on `addr`; an IPv6 one takes IPv4 too.
pub fn listener(addr: SocketAddr) -> std::io::Result<Async<TcpListener>> {
    let s = sockopt::new_tcp(&addr)?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(false)?;
    }
    s.bind(&addr.into())?;
    s.listen(64)?;
    Async::new(TcpListener::from(s))
}

/// The listening sockets, from `[bgp] listen` or the BgpConf's
/// `listenPort`/`listenAddresses`, and the MD5 keys they hold: the keys of
/// every peer, from the file or a BgpPeer, so that a rotated, added or
/// removed key takes effect for incoming connections too.
#[derive(Default)]
pub struct Listeners {
    bound: Vec<(SocketAddr, Async<TcpListener>)>,
    keys: BTreeMap<IpAddr, Vec<u8>>,
}

impl Listeners {
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.bound.iter().map(|(a, _)| *a).collect()
    }

    /// Binds what `want` adds and closes what it drops; a failure to bind
    /// one address is returned for it, the others stand.
    pub fn set(&mut self, want: &[SocketAddr]) -> Vec<(SocketAddr, std::io::Error)> {
        self.bound.retain(|(a, _)| want.contains(a));
        let mut failed = Vec::new();
        for a in want {
            if self.bound.iter().any(|(b, _)| b == a) {
                continue;
            }
            match listener(*a).and_then(|l| {
                for (peer, key) in &self.keys {
                    sockopt::set_md5(&SockRef::from(l.get_ref()), on(*a, *peer), key)?;
                }
                Ok(l)
            }) {
                Ok(l) => self.bound.push((*a, l)),
                Err(e) => failed.push((*a, e)),
            }
        }
        failed
    }

    /// Gives every listener the keys of `peers` and takes away the others.
    pub fn rekey<'p>(
        &mut self,
        peers: impl Iterator<Item = &'p PeerConfig>,
    ) -> std::io::Result<()> {
        let want: BTreeMap<IpAddr, Vec<u8>> = peers
            .filter_map(|p| Some((p.address, p.md5_key.as_ref()?.bytes().to_vec())))
            .collect();
        for (a, l) in &self.bound {
            let s = SockRef::from(l.get_ref());
            for peer in self.keys.keys().filter(|p| !want.contains_key(p)) {
                // An empty key removes it.
                sockopt::set_md5(&s, on(*a, *peer), &[])?;
            }
            for (peer, key) in &want {
                if self.keys.get(peer) != Some(key) {
                    sockopt::set_md5(&s, on(*a, *peer), key)?;
                }
            }
        }
        self.keys = want;
        Ok(())
    }

    /// The next connection on any listener; never, when there is none.
    pub async fn accept(&self) -> std::io::Result<(Async<TcpStream>, SocketAddr)> {
        use std::task::Poll;
        if self.bound.is_empty() {
            return futures_lite::future::pending().await;
        }
        futures_lite::future::poll_fn(|cx| {
            for (_, l) in &self.bound {
                loop {
                    match l.poll_readable(cx) {
                        Poll::Pending => break,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(())) => {}
                    }
                    match l.get_ref().accept() {
                        Ok((s, from)) => return Poll::Ready(Async::new(s).map(|s| (s, from))),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// A peer's address as a listener of `addr`'s family sees it.
fn on(addr: SocketAddr, a: IpAddr) -> IpAddr {
    match (addr, a) {
        (SocketAddr::V6(_), IpAddr::V4(a)) => IpAddr::V6(a.to_ipv6_mapped()),
        (_, a) => a,
    }
}
