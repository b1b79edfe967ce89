//! BFD's UDP edge (RFC 5881 single hop), feature `bfd`: the sockets. The
//! sessions and their thread are `bfd_hub.rs`.
//!
//! - One receive socket a family on UDP 3784, with the TTL (hop limit)
//!   of each datagram asked of the kernel: RFC 5881 5 requires 255, and
//!   `IP_MINTTL` does not filter UDP.
//! - One send socket a session, bound to a source port in 49152–65535
//!   (the same for the session's life, RFC 5881 4), TTL 255, connected to
//!   the peer's port 3784.
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use tracing::{debug, warn};

/// The control packet port (RFC 5881 4).
pub const PORT: u16 = 3784;
const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;

/// A received control packet, copied for the peer task. 64 bytes hold any
/// packet leafvip would accept (24, no authentication); a longer one is
/// cut and then fails the length check, as it should.
#[derive(Debug, Clone, Copy)]
pub struct Datagram {
    pub bytes: [u8; 64],
    pub len: usize,
    pub ttl: u8,
}

impl Datagram {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len.min(self.bytes.len())]
    }
}

/// The receive sockets, one a family (IPv6 may be missing on the host).
pub struct Sockets {
    pub socks: Vec<UdpSocket>,
}

impl Sockets {
    pub fn bind() -> io::Result<Sockets> {
        let mut socks = vec![listen(IpAddr::V4(Ipv4Addr::UNSPECIFIED))?];
        match listen(IpAddr::V6(Ipv6Addr::UNSPECIFIED)) {
            Ok(s) => socks.push(s),
            Err(e) => warn!("BFD: no IPv6 socket on UDP {PORT}: {e}"),
        }
        Ok(Sockets { socks })
    }

    /// The next datagram waiting on socket `i`, if any.
    pub fn recv(&self, i: usize) -> Option<(IpAddr, Datagram)> {
        match recv(self.socks.get(i)?) {
            Ok(d) => d,
            Err(e) => {
                debug!("BFD receive: {e}");
                None
            }
        }
    }
}

fn listen(ip: IpAddr) -> io::Result<UdpSocket> {
    let domain = Domain::for_address(SocketAddr::new(ip, 0));
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if ip.is_ipv6() {
        s.set_only_v6(true)?;
        super::sockopt::setsockopt(&s, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, &1i32)?;
    } else {
        super::sockopt::setsockopt(&s, libc::IPPROTO_IP, libc::IP_RECVTTL, &1i32)?;
    }
    s.bind(&SocketAddr::new(ip, PORT).into())
        .map_err(|e| io::Error::new(e.kind(), format!("bind UDP {PORT}: {e}")))?;
    s.set_nonblocking(true)?;
    Ok(UdpSocket::from(s))
}

/// A session's send socket: from `local` (or the address the route
/// picks), a free port of 49152–65535, TTL 255, to the peer's 3784.
pub fn sender(peer: IpAddr, local: Option<IpAddr>, seed: u64) -> io::Result<UdpSocket> {
    let s = Socket::new(
        Domain::for_address(SocketAddr::new(peer, 0)),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    if peer.is_ipv6() {
        s.set_unicast_hops_v6(255)?;
    } else {
        s.set_ttl(255)?;
    }
    let ip = local.unwrap_or(match peer {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    let span = u64::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
    let mut bound = Err(io::Error::from(io::ErrorKind::AddrInUse));
    for i in 0..span {
        let port = SOURCE_PORTS.start() + ((seed.wrapping_add(i)) % span) as u16;
        bound = s.bind(&SocketAddr::new(ip, port).into());
        match &bound {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            _ => break,
        }
    }
    bound?;
    s.connect(&SocketAddr::new(peer, PORT).into())?;
    s.set_nonblocking(true)?;
    Ok(UdpSocket::from(s))
}

/// One datagram and its sender, with the TTL or hop limit from the
/// control message; `None` when nothing is waiting.
fn recv(s: &UdpSocket) -> io::Result<Option<(IpAddr, Datagram)>> {
    let sock = socket2::SockRef::from(s);
    // Both buffers start initialised (zeros), so reading them back after
    // recvmsg is sound whatever the kernel wrote.
    let mut data = [MaybeUninit::new(0u8); 64];
    let mut cmsg = [MaybeUninit::new(0u8); 64];
    // Sized for IPv6, the larger: the kernel cuts the address to fit.
    let mut addr = SockAddr::from(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)));
    let (n, clen) = {
        let mut bufs = [socket2::MaybeUninitSlice::new(&mut data)];
        let mut msg = socket2::MsgHdrMut::new()
            .with_addr(&mut addr)
            .with_buffers(&mut bufs)
            .with_control(&mut cmsg);
        match sock.recvmsg(&mut msg, 0) {
            Ok(n) => (n, msg.control_len()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    let d = Datagram {
        bytes: bytes(&data),
        len: n,
        ttl: ttl_from_cmsg(&bytes(&cmsg)[..clen.min(cmsg.len())]).unwrap_or(0),
    };
    // A datagram without an IP source cannot be from a peer: dropped, and
    // the caller reads on.
    let from = addr
        .as_socket()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    Ok(Some((from, d)))
}

fn bytes(b: &[MaybeUninit<u8>; 64]) -> [u8; 64] {
    // SAFETY: every buffer passed here was made of `MaybeUninit::new(0)`
    // and the kernel only writes bytes into it: all 64 are initialised.
    b.map(|x| unsafe { x.assume_init() })
}

/// The TTL (IPv4 `IP_TTL`) or hop limit (IPv6 `IPV6_HOPLIMIT`) in a
/// control buffer: headers of `cmsg_len` (a usize), level and type (two
/// ints), each message padded to a usize.
fn ttl_from_cmsg(mut b: &[u8]) -> Option<u8> {
    const W: usize = std::mem::size_of::<usize>();
    const HDR: usize = W + 8;
    while b.len() >= HDR {
        let len = usize::from_ne_bytes(b[..W].try_into().ok()?);
        let level = i32::from_ne_bytes(b[W..W + 4].try_into().ok()?);
        let kind = i32::from_ne_bytes(b[W + 4..W + 8].try_into().ok()?);
        if len < HDR || len > b.len() {
            return None;
        }
        let ttl = (level == libc::IPPROTO_IP && kind == libc::IP_TTL)
            || (level == libc::IPPROTO_IPV6 && kind == libc::IPV6_HOPLIMIT);
        if ttl && len >= HDR + 4 {
            let v = i32::from_ne_bytes(b[HDR..HDR + 4].try_into().ok()?);
            return u8::try_from(v).ok();
        }
        let next = len.div_ceil(W) * W;
        b = b.get(next..)?;
    }
    None
}
