//! One AF_PACKET socket per interface that holds layer-2 VIPs: it hears
//! ARP, Neighbor Solicitations and VRRP, and sends the frames the speaker
//! builds. A classic BPF filter in the kernel passes only those, so a busy
//! segment wakes us for what concerns us and nothing else; frames the host
//! itself sends are left out (`PACKET_IGNORE_OUTGOING`).
use super::super::sockopt::setsockopt;
use socket2::{Domain, Socket, Type};
use std::io;
use std::os::fd::AsRawFd;

/// Frames are cut to this length: every frame we read is far shorter
/// (an NS with options, a VRRP advert with a few addresses).
const SNAP: u32 = 1514;

fn ins(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// ARP; IPv4 protocol 112 (VRRP); IPv6 next header 112, or ICMPv6 type
/// 135 (a Neighbor Solicitation) right after the fixed header. Offsets are
/// from the Ethernet header.
fn filter() -> [libc::sock_filter; 13] {
    const LDH: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
    const LDB: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    [
        ins(LDH, 0, 0, 12),     // 0: EtherType
        ins(JEQ, 9, 0, 0x0806), // 1: ARP -> 11
        ins(JEQ, 1, 0, 0x0800), // 2: IPv4 -> 4
        ins(JEQ, 2, 8, 0x86dd), // 3: IPv6 -> 6, else 12
        ins(LDB, 0, 0, 23),     // 4: IPv4 protocol
        ins(JEQ, 5, 6, 112),    // 5: VRRP -> 11, else 12
        ins(LDB, 0, 0, 20),     // 6: IPv6 next header
        ins(JEQ, 3, 0, 112),    // 7: VRRP -> 11
        ins(JEQ, 0, 3, 58),     // 8: ICMPv6 -> 9, else 12
        ins(LDB, 0, 0, 54),     // 9: ICMPv6 type
        ins(JEQ, 0, 1, 135),    // 10: NS -> 11, else 12
        ins(RET, 0, 0, SNAP),   // 11: accept
        ins(RET, 0, 0, 0),      // 12: drop
    ]
}

/// Opens the socket on the interface with this index.
pub fn open(index: u32) -> io::Result<Socket> {
    // Protocol 0 hears nothing until bound: the filter is in place before
    // the first frame comes.
    let s = Socket::new(Domain::PACKET, Type::RAW, None)?;
    s.attach_filter(&filter())?;
    setsockopt(
        &s,
        libc::SOL_PACKET,
        23, /* PACKET_IGNORE_OUTGOING */
        &1i32,
    )?;
    let all = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: sockaddr_ll is plain data for which all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = all;
    sll.sll_ifindex = index as i32;
    // SAFETY: `sll` is a live sockaddr_ll and the length passed is its size.
    let rc = unsafe {
        libc::bind(
            s.as_raw_fd(),
            (&raw const sll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // VRRP's groups and every solicited-node address: the interface
    // passes all multicast up, the filter keeps what is ours.
    #[repr(C)]
    struct Mreq {
        ifindex: libc::c_int,
        kind: libc::c_ushort,
        alen: libc::c_ushort,
        address: [u8; 8],
    }
    let m = Mreq {
        ifindex: index as i32,
        kind: 2, // PACKET_MR_ALLMULTI
        alen: 0,
        address: [0; 8],
    };
    setsockopt(&s, libc::SOL_PACKET, 1 /* PACKET_ADD_MEMBERSHIP */, &m)?;
    s.set_nonblocking(true)?;
    Ok(s)
}
