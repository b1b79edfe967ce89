//! Frames captured from arping, ndisc6 and the kernel
//! (`tests/vectors/l2/`, made by its `capture.sh`) read as what they ask;
//! what we build reads back through etherparse as what a neighbour
//! expects; and broken NDP is refused for the RFC's reasons.
use super::*;
use etherparse::NetSlice;

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/vectors/l2/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let hex: String = text.lines().filter(|l| !l.starts_with('#')).collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn captured_questions_read_as_what_they_ask() {
    for name in ["arping-request", "kernel-arp-request"] {
        let f = vector(name);
        match read(&f) {
            Ok(Asked::Arp { mac, ip, target }) => {
                assert_eq!(mac, f[6..12], "{name}: the sender is the frame's source");
                assert_eq!(ip, v4("198.51.100.2"), "{name}");
                let want = if name == "arping-request" {
                    "198.51.100.10"
                } else {
                    "198.51.100.11"
                };
                assert_eq!(target, v4(want), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    for (name, from, target) in [
        ("ndisc6-solicitation", None, "2001:db8:1::10"),
        (
            "kernel-solicitation",
            Some("2001:db8:1::2"),
            "2001:db8:1::11",
        ),
        ("kernel-dad-solicitation", Some("::"), "2001:db8:1::12"),
    ] {
        let f = vector(name);
        match read(&f) {
            Ok(Asked::Solicit { mac, ip, target: t }) => {
                assert_eq!(mac, f[6..12], "{name}");
                assert_eq!(t, v6(target), "{name}");
                match from {
                    Some(a) => assert_eq!(ip, v6(a), "{name}"),
                    None => assert!(ip.is_unicast_link_local(), "{name}: {ip}"),
                }
            }
            other => panic!("{name}: {other:?}"),
        }
        // Any bit flipped in the ICMPv6 message fails its checksum (or
        // makes it another message); never a panic.
        for i in 54..f.len() {
            let mut b = f.clone();
            b[i] ^= 0x10;
            assert!(read(&b) != read(&f), "{name} byte {i}");
        }
        let mut hop = f.clone();
        hop[21] = 64;
        assert_eq!(read(&hop), Err(FrameError::HopLimit(64)), "{name}");
    }
}

#[test]
fn every_prefix_of_a_frame_is_an_error_not_a_panic() {
    for name in [
        "arping-request",
        "kernel-solicitation",
        "kernel-dad-solicitation",
    ] {
        let f = vector(name);
        for n in 0..f.len().min(86) {
            let _ = read(&f[..n]);
        }
    }
}

const OURS: Mac = [0x02, 0, 0x5e, 0, 0x01, 0x33];

#[test]
fn arp_replies_and_gratuitous_arp_read_back() {
    let asker: Mac = [0x02, 1, 2, 3, 4, 5];
    let r = arp_reply(OURS, v4("192.0.2.10"), (asker, v4("198.51.100.2")));
    let p = SlicedPacket::from_ethernet(&r).unwrap();
    let Some(NetSlice::Arp(a)) = p.net else {
        panic!("{p:?}")
    };
    let a = a.to_packet().try_eth_ipv4().unwrap();
    assert_eq!(a.operation, ArpOperation::REPLY);
    assert_eq!(
        (a.sender_mac, a.sender_ipv4_addr()),
        (OURS, v4("192.0.2.10"))
    );
    assert_eq!(
        (a.target_mac, a.target_ipv4_addr()),
        (asker, v4("198.51.100.2"))
    );
    assert_eq!(&r[..6], &asker, "unicast to the asker");
    assert_eq!(
        read(&r),
        Err(FrameError::NotArpRequest),
        "a reply asks nothing"
    );

    let g = gratuitous_arp(OURS, v4("192.0.2.10"));
    assert_eq!(&g[..6], &BROADCAST);
    assert_eq!(
        read(&g),
        Ok(Asked::Arp {
            mac: OURS,
            ip: v4("192.0.2.10"),
            target: v4("192.0.2.10")
        })
    );
}

#[test]
fn neighbor_advertisements_carry_override_and_our_address() {
    let asker: Mac = [0x02, 1, 2, 3, 4, 5];
    let vip = v6("2001:db8::10");
    for (to, solicited) in [
        (Some((asker, v6("2001:db8:1::2"))), true),
        (Some((asker, Ipv6Addr::UNSPECIFIED)), false),
        (None, false),
    ] {
        let f = advertise(OURS, vip, to);
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(NetSlice::Ipv6(ip)) = &p.net else {
            panic!("{p:?}")
        };
        let h = ip.header();
        assert_eq!(h.hop_limit(), 255);
        assert_eq!(h.source_addr(), vip);
        let Some(TransportSlice::Icmpv6(icmp)) = &p.transport else {
            panic!("{p:?}")
        };
        assert!(icmp.is_checksum_valid(h.source_addr().octets(), h.destination_addr().octets()));
        let Icmpv6Type::NeighborAdvertisement(na) = icmp.icmp_type() else {
            panic!("{:?}", icmp.icmp_type())
        };
        assert_eq!(
            (na.solicited, na.r#override, na.router),
            (solicited, true, false)
        );
        let body = &icmp.slice()[8..];
        assert_eq!(&body[..16], &vip.octets());
        assert_eq!(&body[16..24], &[TARGET_LL, 1, 2, 0, 0x5e, 0, 1, 0x33]);
        match solicited {
            true => assert_eq!(&f[..6], &asker),
            false => assert_eq!(h.destination_addr(), ALL_NODES),
        }
    }
}

#[test]
fn duplicate_address_detection_must_go_to_the_solicited_node_group() {
    let f = vector("kernel-dad-solicitation");
    // Re-addressed to all nodes (and the checksum made right again), it
    // is refused: RFC 4861 7.1.1.
    let p = SlicedPacket::from_ethernet(&f).unwrap();
    let Some(TransportSlice::Icmpv6(icmp)) = &p.transport else {
        panic!()
    };
    let payload = icmp.slice()[8..].to_vec();
    let b = PacketBuilder::ethernet2(f[6..12].try_into().unwrap(), ALL_NODES_MAC)
        .ipv6(Ipv6Addr::UNSPECIFIED.octets(), ALL_NODES.octets(), 255)
        .icmpv6(Icmpv6Type::NeighborSolicitation);
    let mut out = Vec::new();
    b.write(&mut out, &payload).unwrap();
    assert_eq!(read(&out), Err(FrameError::Dad));
    assert_eq!(solicited_node(v6("2001:db8:1::12")), v6("ff02::1:ff00:12"));
}

proptest::proptest! {
    /// Any bytes, and any captured frame with bytes changed anywhere, read
    /// as a question or an error, never a panic; a solicitation for a
    /// random unicast target, built by etherparse, reads back as asked.
    #[test]
    fn frames_from_anywhere(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
        which in 0usize..5,
        flips in proptest::collection::vec((0usize..90, proptest::prelude::any::<u8>()), 0..4),
        target in proptest::prelude::any::<u128>(),
        from_mac in proptest::prelude::any::<[u8; 6]>(),
    ) {
        let _ = read(&bytes);
        let names = [
            "arping-request",
            "kernel-arp-request",
            "ndisc6-solicitation",
            "kernel-solicitation",
            "kernel-dad-solicitation",
        ];
        let mut f = vector(names[which]);
        for (i, x) in flips {
            if let Some(b) = f.get_mut(i) {
                *b ^= x;
            }
        }
        let _ = read(&f);
        let target = Ipv6Addr::from(target);
        proptest::prop_assume!(!target.is_multicast());
        let src = v6("2001:db8:1::2");
        let mut payload = target.octets().to_vec();
        payload.extend_from_slice(&[SOURCE_LL, 1]);
        payload.extend_from_slice(&from_mac);
        let b = PacketBuilder::ethernet2(from_mac, [0x33, 0x33, 0xff, 0, 0, 1])
            .ipv6(src.octets(), solicited_node(target).octets(), 255)
            .icmpv6(Icmpv6Type::NeighborSolicitation);
        let mut out = Vec::new();
        b.write(&mut out, &payload).unwrap();
        proptest::prop_assert_eq!(read(&out), Ok(Asked::Solicit { mac: from_mac, ip: src, target }));
    }
}
