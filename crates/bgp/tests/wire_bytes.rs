//! Byte-vector tests: known bytes decode to the expected struct and the
//! struct encodes back to the same bytes (the holo-bgp style). The bytes
//! were written by hand from the RFC layouts; tests/captured.rs does the
//! same with bytes captured from BIRD, FRR and GoBGP.
mod common;
use common::{hex, MARKER};
use leafvip_bgp::wire::*;
use std::net::Ipv4Addr;

fn both_ways(bytes: &[u8], ctx: &Context, msg: &Message) {
    assert_eq!(&Message::parse(bytes, ctx).expect("parses"), msg, "decode");
    assert_eq!(msg.to_bytes(ctx).expect("encodes"), bytes, "encode");
}

const AS4: Context = Context {
    four_octet_as: true,
    add_path: FamilySet::EMPTY,
    extended_messages: false,
};

#[test]
fn keepalive() {
    both_ways(
        &hex(&format!("{MARKER} 0013 04")),
        &Context::default(),
        &Message::Keepalive,
    );
}

#[test]
fn open_with_every_capability_we_send() {
    let bytes = hex(&format!(
        "{MARKER} 0043 01
         04 fe4c 005a c6336403 26
         02 24
           01 04 0001 00 01      # MP ipv4 unicast
           01 04 0002 00 01      # MP ipv6 unicast
           02 00                 # route refresh
           41 04 0000fe4c        # 4-octet AS 65100
           45 04 0001 01 02      # ADD-PATH ipv4 unicast send
           40 06 0078 0001 01 80 # GR 120 s, ipv4 unicast F bit
           06 00                 # extended messages"
    ));
    let open = Open::new(
        65100,
        90,
        Ipv4Addr::new(198, 51, 100, 3),
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(65100),
            Capability::AddPath(vec![AddPathEntry {
                family: Family::IPV4_UNICAST,
                mode: AddPathMode::SEND,
            }]),
            Capability::GracefulRestart(GracefulRestart {
                flags: 0,
                restart_time: 120,
                families: vec![GrFamily {
                    family: Family::IPV4_UNICAST,
                    flags: GracefulRestart::FORWARDING,
                }],
            }),
            Capability::ExtendedMessage,
        ],
    );
    both_ways(&bytes, &Context::default(), &Message::Open(open));
}

#[test]
fn open_with_four_octet_as_uses_as_trans_and_keeps_unknown_caps() {
    let bytes = hex(&format!(
        "{MARKER} 0029 01
         04 5ba0 0000 c6336404 0c
         02 06 41 04 fa56ea01   # AS 4200000001
         02 02 49 00            # unknown capability 73, empty"
    ));
    let Message::Open(open) = Message::parse(&bytes, &Context::default()).unwrap() else {
        panic!()
    };
    assert_eq!(open.my_as, AS_TRANS);
    assert_eq!(open.asn(), 4_200_000_001);
    assert_eq!(open.hold_time, 0);
    assert_eq!(open.params.len(), 2, "one capability per parameter is kept");
    assert_eq!(
        open.params[1],
        vec![Capability::Unknown {
            code: 73,
            data: vec![]
        }]
    );
    assert_eq!(
        Message::Open(open).to_bytes(&Context::default()).unwrap(),
        bytes
    );
}

#[test]
fn open_with_rfc9072_extended_parameters() {
    let bytes = hex(&format!(
        "{MARKER} 0025 01
         04 fe4c 005a c6336403 ff ff 0005
         02 0002 02 00"
    ));
    let Message::Open(open) = Message::parse(&bytes, &Context::default()).unwrap() else {
        panic!()
    };
    assert!(open.extended_params);
    assert_eq!(open.params, vec![vec![Capability::RouteRefresh]]);
    assert_eq!(
        Message::Open(open).to_bytes(&Context::default()).unwrap(),
        bytes
    );
}

#[test]
fn update_ipv4_with_communities() {
    let bytes = hex(&format!(
        "{MARKER} 0046 02
         0000 002a
         40 01 01 00                          # ORIGIN IGP
         40 02 06 02 01 0000fe4c              # AS_PATH (65100)
         40 03 04 c6336403                    # NEXT_HOP 198.51.100.3
         c0 08 04 ffff0000                    # COMMUNITIES GRACEFUL_SHUTDOWN
         c0 20 0c 0000fde8 00000001 00000002  # LARGE_COMMUNITY 65000:1:2
         20 c00002c8                          # 192.0.2.200/32"
    ));
    let u = Update {
        attributes: vec![
            PathAttribute::new(AttrValue::Origin(Origin::Igp)),
            PathAttribute::new(AttrValue::AsPath(AsPath::sequence(vec![65100]))),
            PathAttribute::new(AttrValue::NextHop(Ipv4Addr::new(198, 51, 100, 3))),
            PathAttribute::new(AttrValue::Communities(vec![community::GRACEFUL_SHUTDOWN])),
            PathAttribute::new(AttrValue::LargeCommunities(vec![LargeCommunity {
                global: 65000,
                local1: 1,
                local2: 2,
            }])),
        ],
        nlri: vec![Nlri::new("192.0.2.200/32".parse().unwrap())],
        ..Update::default()
    };
    both_ways(&bytes, &AS4, &Message::Update(u.clone()));
    assert_eq!(u.review(false, 65100).action(), Revision::Accept);
}

#[test]
fn update_ipv6_mp_reach_with_link_local_and_path_id() {
    let bytes = hex(&format!(
        "{MARKER} 0062 02
         0000 004b
         80 0e 3a 0002 01 20
            20010db8000000000000000000000003 fe800000000000000000000000000001
            00
            00000001 80 20010db8000000000000000000000200
         40 01 01 00
         40 02 00
         40 05 04 00000064"
    ));
    let ctx = Context {
        add_path: FamilySet::EMPTY.with(Family::IPV6_UNICAST),
        ..AS4
    };
    let u = Update {
        attributes: vec![
            PathAttribute::new(AttrValue::MpReach(MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: MpNextHop::V6 {
                    global: "2001:db8::3".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: vec![Nlri::with_path_id("2001:db8::200/128".parse().unwrap(), 1)],
            })),
            PathAttribute::new(AttrValue::Origin(Origin::Igp)),
            PathAttribute::new(AttrValue::AsPath(AsPath::default())),
            PathAttribute::new(AttrValue::LocalPref(100)),
        ],
        ..Update::default()
    };
    both_ways(&bytes, &ctx, &Message::Update(u.clone()));
    assert_eq!(
        u.review(true, 65100).action(),
        Revision::Accept,
        "iBGP: NEXT_HOP not needed with MP only"
    );
}

#[test]
fn withdrawal_and_end_of_rib() {
    let w = hex(&format!("{MARKER} 001c 02 0005 20c00002c8 0000"));
    let u = Update {
        withdrawn: vec![Nlri::new("192.0.2.200/32".parse().unwrap())],
        ..Update::default()
    };
    both_ways(&w, &AS4, &Message::Update(u));

    let eor4 = hex(&format!("{MARKER} 0017 02 0000 0000"));
    both_ways(
        &eor4,
        &AS4,
        &Message::Update(Update::end_of_rib(Family::IPV4_UNICAST)),
    );
    let eor6 = hex(&format!("{MARKER} 001d 02 0000 0006 80 0f 03 0002 01"));
    both_ways(
        &eor6,
        &AS4,
        &Message::Update(Update::end_of_rib(Family::IPV6_UNICAST)),
    );
    let Message::Update(u6) = Message::parse(&eor6, &AS4).unwrap() else {
        panic!()
    };
    assert_eq!(u6.end_of_rib_family(), Some(Family::IPV6_UNICAST));
}

#[test]
fn notification_with_shutdown_communication() {
    let bytes = hex(&format!("{MARKER} 001b 03 06 02 05 6d61696e74"));
    let n = Notification::cease(cease::ADMIN_SHUTDOWN, "maint");
    both_ways(&bytes, &AS4, &Message::Notification(n.clone()));
    assert_eq!(n.shutdown_message(), Some("maint"));
    assert_eq!(
        n.to_string(),
        "Cease / Administrative Shutdown (6/2): \"maint\""
    );
}

#[test]
fn route_refresh() {
    let bytes = hex(&format!("{MARKER} 0017 05 0002 00 01"));
    both_ways(
        &bytes,
        &AS4,
        &Message::RouteRefresh(RouteRefresh::request(Family::IPV6_UNICAST)),
    );
}

#[test]
fn long_attribute_gets_extended_length() {
    let path = AsPath::sequence((1..=70).map(|i| 65000 + i).collect());
    let u = Update {
        attributes: vec![
            PathAttribute::new(AttrValue::Origin(Origin::Igp)),
            PathAttribute::new(AttrValue::AsPath(path)),
        ],
        ..Update::default()
    };
    let bytes = Message::Update(u.clone()).to_bytes(&AS4).unwrap();
    // ORIGIN is 4 bytes; AS_PATH follows with flags 0x50 and a 2-byte length.
    assert_eq!(&bytes[23 + 4..23 + 4 + 4], &[0x50, 2, 0x01, 0x1a]);
    let Message::Update(back) = Message::parse(&bytes, &AS4).unwrap() else {
        panic!()
    };
    assert_eq!(back.attributes[1].flags, 0x50);
    assert_eq!(back.attributes[1].value, u.attributes[1].value);
}

#[test]
fn too_long_for_the_session_is_an_error() {
    let many: Vec<Nlri> = (0..1200u32)
        .map(|i| Nlri::new(Prefix::host(Ipv4Addr::from(0xc000_0200 + i).into())))
        .collect();
    let u = Message::Update(Update {
        nlri: many,
        ..Update::default()
    });
    let err = u.to_bytes(&AS4).unwrap_err();
    assert_eq!(err.limit, 4096);
    let ext = Context {
        extended_messages: true,
        ..AS4
    };
    assert_eq!(u.to_bytes(&ext).unwrap().len(), 23 + 1200 * 5);
}
