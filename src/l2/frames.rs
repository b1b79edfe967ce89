//! The frames of layer-2 mode, parsed and built with `etherparse`: ARP
//! requests and Neighbor Solicitations in (what a neighbour asks of the
//! VIPs' owner), ARP replies, gratuitous ARP and Neighbor Advertisements
//! out. Pure: bytes in, a typed [`Asked`] or bytes out.
//!
//! The checks a receiver must make of a Neighbor Solicitation (RFC 4861
//! 7.1.1) are made here: hop limit 255, code 0, a valid checksum, a
//! unicast target, and, from the unspecified address (duplicate address
//! detection), a solicited-node destination and no source link-layer
//! address option. An ARP packet must be Ethernet/IPv4 with the lengths
//! that says. Anything else is a [`FrameError`], counted by the caller.
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use etherparse::icmpv6::NeighborAdvertisementHeader;
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, Icmpv6Type, NetSlice, PacketBuilder,
    SlicedPacket, TransportSlice,
};

/// A link-layer (Ethernet) address.
pub type Mac = [u8; 6];

pub const BROADCAST: Mac = [0xff; 6];
/// All-nodes (ff02::1) as an Ethernet multicast address (RFC 2464 7).
const ALL_NODES_MAC: Mac = [0x33, 0x33, 0, 0, 0, 1];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// NDP's hop limit, sent and required (RFC 4861 7.1.1).
const HOP_LIMIT: u8 = 255;
/// NDP option types (RFC 4861 4.6).
const SOURCE_LL: u8 = 1;
const TARGET_LL: u8 = 2;

/// What a neighbour asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// An ARP request for `target`, from `mac` at `ip`.
    Arp {
        mac: Mac,
        ip: Ipv4Addr,
        target: Ipv4Addr,
    },
    /// A Neighbor Solicitation for `target`, from `ip` (unspecified during
    /// duplicate address detection) with link-layer address `mac` (its
    /// source link-layer option, else the frame's source).
    Solicit {
        mac: Mac,
        ip: Ipv6Addr,
        target: Ipv6Addr,
    },
}

/// Why a frame is not a question for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Not a whole Ethernet frame of a kind etherparse reads.
    Malformed,
    /// ARP, but not Ethernet/IPv4, or not a request.
    NotArpRequest,
    /// IPv6, but not a Neighbor Solicitation.
    NotSolicitation,
    /// Neither ARP nor IPv6.
    Other,
    HopLimit(u8),
    Code(u8),
    Checksum,
    /// The target is multicast, or too short to hold.
    Target,
    /// Duplicate address detection, but to another destination or with a
    /// source link-layer option (RFC 4861 7.1.1).
    Dad,
    /// An NDP option of length 0.
    Option,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::Malformed => f.write_str("malformed frame"),
            FrameError::NotArpRequest => f.write_str("ARP but not an Ethernet/IPv4 request"),
            FrameError::NotSolicitation => f.write_str("IPv6 but not a Neighbor Solicitation"),
            FrameError::Other => f.write_str("neither ARP nor IPv6"),
            FrameError::HopLimit(h) => write!(f, "hop limit {h}, not 255"),
            FrameError::Code(c) => write!(f, "ICMPv6 code {c}, not 0"),
            FrameError::Checksum => f.write_str("bad ICMPv6 checksum"),
            FrameError::Target => f.write_str("no unicast target"),
            FrameError::Dad => f.write_str("a malformed duplicate address detection"),
            FrameError::Option => f.write_str("an NDP option of length 0"),
        }
    }
}

/// VRRP's IP protocol number (RFC 5798 5.1.1.4).
pub const VRRP: u8 = 112;
/// The VRRP groups, 224.0.0.18 and ff02::12, and their Ethernet
/// addresses (RFC 1112 6.4, RFC 2464 7).
pub const VRRP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub const VRRP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
pub const VRRP_V4_MAC: Mac = [0x01, 0x00, 0x5e, 0, 0, 0x12];
pub const VRRP_V6_MAC: Mac = [0x33, 0x33, 0, 0, 0, 0x12];

/// A received frame, for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard<'a> {
    Asked(Asked),
    /// A VRRP packet: its IP source, destination, TTL or hop limit, and
    /// the VRRP message, for `leafvip_vrrp::Advert::decode`.
    Vrrp {
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        payload: &'a [u8],
    },
}

/// Reads one received frame: VRRP, or a question ([`read`]).
pub fn hear(frame: &[u8]) -> Result<Heard<'_>, FrameError> {
    if let Ok(p) = SlicedPacket::from_ethernet(frame) {
        match &p.net {
            Some(NetSlice::Ipv4(ip)) if ip.header().protocol().0 == VRRP => {
                if ip.is_payload_fragmented() {
                    return Err(FrameError::Malformed);
                }
                let h = ip.header();
                return Ok(Heard::Vrrp {
                    src: h.source_addr().into(),
                    dst: h.destination_addr().into(),
                    ttl: h.ttl(),
                    payload: ip.payload().payload,
                });
            }
            Some(NetSlice::Ipv6(ip)) if ip.payload().ip_number.0 == VRRP => {
                let h = ip.header();
                return Ok(Heard::Vrrp {
                    src: h.source_addr().into(),
                    dst: h.destination_addr().into(),
                    ttl: h.hop_limit(),
                    payload: ip.payload().payload,
                });
            }
            _ => {}
        }
    }
    read(frame).map(Heard::Asked)
}

/// A VRRP message (already encoded, checksum included) in its IP packet
/// and Ethernet frame, to its group, TTL or hop limit 255.
pub fn vrrp_frame(ours: Mac, src: IpAddr, message: &[u8]) -> Vec<u8> {
    let b = match src {
        IpAddr::V4(s) => PacketBuilder::ethernet2(ours, VRRP_V4_MAC).ipv4(
            s.octets(),
            VRRP_V4.octets(),
            HOP_LIMIT,
        ),
        IpAddr::V6(s) => PacketBuilder::ethernet2(ours, VRRP_V6_MAC).ipv6(
            s.octets(),
            VRRP_V6.octets(),
            HOP_LIMIT,
        ),
    };
    let mut out = Vec::with_capacity(14 + 40 + message.len());
    b.write(&mut out, etherparse::IpNumber(VRRP), message)
        .expect("writing to a Vec");
    out
}

/// Reads one received frame.
pub fn read(frame: &[u8]) -> Result<Asked, FrameError> {
    let p = SlicedPacket::from_ethernet(frame).map_err(|_| FrameError::Malformed)?;
    let source: Mac = match &p.link {
        Some(etherparse::LinkSlice::Ethernet2(e)) => e.source(),
        _ => return Err(FrameError::Malformed),
    };
    match p.net {
        Some(NetSlice::Arp(a)) => {
            let a = a
                .to_packet()
                .try_eth_ipv4()
                .map_err(|_| FrameError::NotArpRequest)?;
            if a.operation != ArpOperation::REQUEST {
                return Err(FrameError::NotArpRequest);
            }
            Ok(Asked::Arp {
                mac: a.sender_mac,
                ip: a.sender_ipv4_addr(),
                target: a.target_ipv4_addr(),
            })
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            let Some(TransportSlice::Icmpv6(icmp)) = p.transport else {
                return Err(FrameError::NotSolicitation);
            };
            if icmp.icmp_type() != Icmpv6Type::NeighborSolicitation {
                return Err(FrameError::NotSolicitation);
            }
            if h.hop_limit() != HOP_LIMIT {
                return Err(FrameError::HopLimit(h.hop_limit()));
            }
            if icmp.code_u8() != 0 {
                return Err(FrameError::Code(icmp.code_u8()));
            }
            let (src, dst) = (h.source_addr(), h.destination_addr());
            if !icmp.is_checksum_valid(src.octets(), dst.octets()) {
                return Err(FrameError::Checksum);
            }
            // After the 8 bytes of the ICMPv6 header: the target, then
            // options.
            let body = icmp.slice().get(8..).unwrap_or_default();
            let (target, mut options) = body.split_first_chunk::<16>().ok_or(FrameError::Target)?;
            let target = Ipv6Addr::from(*target);
            if target.is_multicast() {
                return Err(FrameError::Target);
            }
            let mut mac = None;
            while let [kind, len, ..] = *options {
                let n = usize::from(len) * 8;
                if n == 0 {
                    return Err(FrameError::Option);
                }
                let Some(opt) = options.get(..n) else { break };
                if kind == SOURCE_LL {
                    mac = opt.get(2..8).and_then(|m| <Mac>::try_from(m).ok());
                }
                options = &options[n..];
            }
            if src.is_unspecified() && (mac.is_some() || dst != solicited_node(target)) {
                return Err(FrameError::Dad);
            }
            Ok(Asked::Solicit {
                mac: mac.unwrap_or(source),
                ip: src,
                target,
            })
        }
        _ => Err(FrameError::Other),
    }
}

/// The solicited-node multicast address of `a` (RFC 4291 2.7.1).
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

fn arp(ours: Mac, to: Mac, op: ArpOperation, vip: Ipv4Addr, target: (Mac, Ipv4Addr)) -> Vec<u8> {
    let packet = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        op,
        &ours,
        &vip.octets(),
        &target.0,
        &target.1.octets(),
    )
    .expect("Ethernet and IPv4 addresses have ARP's lengths");
    let b = PacketBuilder::ethernet2(ours, to).arp(packet);
    let mut out = Vec::with_capacity(b.size());
    b.write(&mut out).expect("writing to a Vec");
    out
}

/// The answer to an ARP request for `vip` from `to`.
pub fn arp_reply(ours: Mac, vip: Ipv4Addr, to: (Mac, Ipv4Addr)) -> Vec<u8> {
    arp(ours, to.0, ArpOperation::REPLY, vip, to)
}

/// Gratuitous ARP for `vip`: a broadcast request with the VIP as sender
/// and target, as keepalived sends (RFC 5227 3 prefers a request to a
/// reply: every stack updates its cache from one).
pub fn gratuitous_arp(ours: Mac, vip: Ipv4Addr) -> Vec<u8> {
    arp(ours, BROADCAST, ArpOperation::REQUEST, vip, ([0; 6], vip))
}

/// A Neighbor Advertisement for `vip` with our link-layer address and
/// the override flag: to `to` (solicited) or, when `to` is None or a
/// duplicate address detection's unspecified address, to all nodes
/// (unsolicited, RFC 4861 7.2.4 and 7.2.6).
pub fn advertise(ours: Mac, vip: Ipv6Addr, to: Option<(Mac, Ipv6Addr)>) -> Vec<u8> {
    let to = to.filter(|(_, ip)| !ip.is_unspecified());
    let (mac, dst) = to.unwrap_or((ALL_NODES_MAC, ALL_NODES));
    let header = NeighborAdvertisementHeader {
        router: false,
        solicited: to.is_some(),
        r#override: true,
    };
    let mut payload = Vec::with_capacity(24);
    payload.extend_from_slice(&vip.octets());
    payload.extend_from_slice(&[TARGET_LL, 1]);
    payload.extend_from_slice(&ours);
    let b = PacketBuilder::ethernet2(ours, mac)
        .ipv6(vip.octets(), dst.octets(), HOP_LIMIT)
        .icmpv6(Icmpv6Type::NeighborAdvertisement(header));
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, &payload).expect("writing to a Vec");
    out
}

#[cfg(test)]
mod tests;
