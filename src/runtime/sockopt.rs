//! Socket options the sessions need: bind, TTL for multihop, GTSM
//! (IP_MINTTL), and TCP MD5 (RFC 2385). Unsafe code in leafvip is the
//! raw setsockopt here (TCP_MD5SIG, and BFD's IP_RECVTTL and
//! IPV6_RECVHOPLIMIT), which no safe crate wraps, and BFD's reading of
//! the buffers recvmsg filled (`runtime/bfd.rs`).
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SockOpts {
    pub local: Option<IpAddr>,
    /// TTL (hop limit) of our packets.
    pub ttl: Option<u8>,
    /// GTSM: drop packets that arrive with a lower TTL.
    pub min_ttl: Option<u8>,
    pub md5_key: Option<Vec<u8>>,
}

pub fn new_tcp(family: &SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(
        Domain::for_address(*family),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Applies TTL, GTSM and MD5 toward `peer` on `s`.
pub fn apply(s: &Socket, peer: IpAddr, o: &SockOpts) -> io::Result<()> {
    if let Some(ttl) = o.ttl {
        match peer {
            IpAddr::V4(_) => s.set_ttl(u32::from(ttl))?,
            IpAddr::V6(_) => s.set_unicast_hops_v6(u32::from(ttl))?,
        }
    }
    if let Some(min) = o.min_ttl {
        let (level, name) = match peer {
            IpAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_MINTTL),
            IpAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT),
        };
        setsockopt(s, level, name, &libc::c_int::from(min))?;
    }
    if let Some(key) = &o.md5_key {
        set_md5(s, peer, key)?;
    }
    Ok(())
}

/// A socket ready to connect to `peer`: options applied, bound if asked.
pub fn outgoing(peer: SocketAddr, o: &SockOpts) -> io::Result<Socket> {
    let s = new_tcp(&peer)?;
    apply(&s, peer.ip(), o)?;
    if let Some(local) = o.local {
        s.bind(&SockAddr::from(SocketAddr::new(local, 0)))?;
    }
    Ok(s)
}

/// Linux `struct tcp_md5sig` (include/uapi/linux/tcp.h).
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; 80],
}

/// Installs (or with an empty key, removes) the MD5 key for `peer`. On a
/// listening socket it covers connections from that address.
pub fn set_md5(s: &Socket, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    if key.len() > 80 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP MD5 keys are at most 80 bytes",
        ));
    }
    let sa = SockAddr::from(SocketAddr::new(peer, 0));
    // SAFETY: sockaddr_storage is plain data for which all-zero is valid.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = (sa.len() as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
    // SAFETY: both pointers are valid for `len` bytes and do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(sa.as_ptr().cast::<u8>(), (&raw mut addr).cast::<u8>(), len)
    };
    let mut sig = TcpMd5Sig {
        addr,
        flags: 0,
        prefixlen: 0,
        keylen: key.len() as u16,
        ifindex: 0,
        key: [0; 80],
    };
    sig.key[..key.len()].copy_from_slice(key);
    setsockopt(s, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
}

pub(super) fn setsockopt<T>(
    s: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `value` points to a live T and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
