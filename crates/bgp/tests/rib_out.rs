//! Adj-RIB-Out behaviour: packing, grouping, ADD-PATH ids, suppression and
//! the originator rules.
use leafvip_bgp::rib_out::{AdjRibOut, Route, RouteAttrs};
use leafvip_bgp::session::Negotiated;
use leafvip_bgp::wire::*;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

fn neg(add_path: FamilySet, ext: bool, four: bool) -> Negotiated {
    Negotiated {
        peer_as: 65001,
        peer_id: Ipv4Addr::new(198, 51, 100, 2),
        ibgp: false,
        hold_time: 90,
        keepalive: Some(Duration::from_secs(30)),
        families: FamilySet::BOTH,
        four_octet_as: four,
        add_path_send: add_path,
        add_path_receive: FamilySet::EMPTY,
        extended_messages: ext,
        route_refresh: true,
        peer_graceful_restart: None,
    }
}

fn r(p: &str, nh: &str, attrs: &Arc<RouteAttrs>) -> Route {
    Route {
        prefix: p.parse().unwrap(),
        next_hop: nh.parse().unwrap(),
        attrs: attrs.clone(),
    }
}

fn hosts(n: u32, nh: &str, attrs: &Arc<RouteAttrs>) -> Vec<Route> {
    (0..n)
        .map(|i| Route {
            prefix: Prefix::host(IpAddr::V4(Ipv4Addr::from(0xc000_0000 + i))),
            next_hop: nh.parse().unwrap(),
            attrs: attrs.clone(),
        })
        .collect()
}

fn sizes(updates: &[Update], ctx: &Context) -> Vec<usize> {
    updates
        .iter()
        .map(|u| Message::Update(u.clone()).to_bytes(ctx).unwrap().len())
        .collect()
}

#[test]
fn packs_as_few_updates_as_the_size_allows() {
    let a = Arc::new(RouteAttrs::default());
    for ext in [false, true] {
        let n = neg(FamilySet::EMPTY, ext, true);
        let mut rib = AdjRibOut::new(65100);
        rib.session_up(&n);
        rib.set_routes(hosts(10_000, "198.51.100.3", &a));
        let ups = rib.poll_updates();
        let ctx = n.send_context();
        let s = sizes(&ups, &ctx);
        let data: Vec<&usize> = s.iter().take(s.len() - 2).collect(); // minus 2 End-of-RIB
        let limit = ctx.max_message_len();
        // Each /32 is 5 bytes; every full message is within 5 bytes of the limit.
        assert!(
            data.iter()
                .take(data.len() - 1)
                .all(|l| **l <= limit && **l > limit - 5),
            "{s:?}"
        );
        let per_msg = (limit - 23 - 25) / 5; // 25 bytes of attributes
        assert_eq!(data.len(), 10_000usize.div_ceil(per_msg));
    }
}

#[test]
fn groups_by_identical_attributes_and_batches_withdrawals() {
    let a = Arc::new(RouteAttrs::default());
    let b = Arc::new(RouteAttrs {
        communities: vec![community::GRACEFUL_SHUTDOWN],
        ..RouteAttrs::default()
    });
    let n = neg(FamilySet::EMPTY, false, true);
    let mut rib = AdjRibOut::new(65100);
    rib.session_up(&n);
    let mut routes = hosts(100, "198.51.100.3", &a);
    routes.extend((0..100u32).map(|i| Route {
        prefix: Prefix::host(IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + i))),
        next_hop: "198.51.100.3".parse().unwrap(),
        attrs: b.clone(),
    }));
    rib.set_routes(routes.clone());
    let ups = rib.poll_updates();
    assert_eq!(
        ups.len(),
        2 + 2,
        "one UPDATE per attribute set, then two End-of-RIB"
    );
    rib.set_routes(routes[..10].to_vec());
    let ups = rib.poll_updates();
    assert_eq!(ups.len(), 1, "190 withdrawals in one UPDATE");
    assert_eq!(ups[0].withdrawn.len(), 190);
    assert!(rib.poll_updates().is_empty(), "nothing left to do");
}

#[test]
fn add_path_ids_follow_the_next_hop_and_match_across_speakers() {
    let a = Arc::new(RouteAttrs::default());
    let paths = vec![
        r("192.0.2.200/32", "198.51.100.4", &a),
        r("192.0.2.200/32", "198.51.100.5", &a),
    ];
    let n = neg(FamilySet::IPV4, false, true);
    let mut one = AdjRibOut::new(65100);
    let mut two = AdjRibOut::new(65100);
    one.session_up(&n);
    two.session_up(&n);
    one.set_routes(paths.clone());
    two.set_routes(paths.iter().rev().cloned());
    let (u1, u2) = (one.poll_updates(), two.poll_updates());
    assert_eq!(u1, u2, "an HA pair sends identical paths");
    let ids: Vec<Option<u32>> = u1[0]
        .nlri
        .iter()
        .map(|n| n.path_id)
        .chain(u1[1].nlri.iter().map(|n| n.path_id))
        .collect();
    assert_eq!(ids, vec![Some(0xc633_6404), Some(0xc633_6405)]);
    // A restart (new RIB, same routes) gives the same ids.
    let mut again = AdjRibOut::new(65100);
    again.session_up(&n);
    again.set_routes(paths);
    assert_eq!(again.poll_updates(), u1);
}

#[test]
fn without_add_path_one_path_per_prefix_and_the_rest_suppressed() {
    let a = Arc::new(RouteAttrs::default());
    let n = neg(FamilySet::EMPTY, false, true);
    let mut rib = AdjRibOut::new(65100);
    rib.session_up(&n);
    rib.set_routes(vec![
        r("192.0.2.200/32", "198.51.100.9", &a),
        r("192.0.2.200/32", "198.51.100.4", &a),
        r("192.0.2.200/32", "198.51.100.5", &a),
    ]);
    let ups = rib.poll_updates();
    assert_eq!(
        ups[0].attribute(attr_code::NEXT_HOP),
        Some(&AttrValue::NextHop(Ipv4Addr::new(198, 51, 100, 4))),
        "lowest next hop"
    );
    assert_eq!(ups[0].nlri.len(), 1);
    assert_eq!(rib.suppressed(), 2);
    // Losing the chosen one moves the prefix to the next: an implicit replace.
    rib.set_routes(vec![
        r("192.0.2.200/32", "198.51.100.9", &a),
        r("192.0.2.200/32", "198.51.100.5", &a),
    ]);
    let ups = rib.poll_updates();
    assert_eq!(ups.len(), 1);
    assert!(ups[0].withdrawn.is_empty());
    assert_eq!(
        ups[0].attribute(attr_code::NEXT_HOP),
        Some(&AttrValue::NextHop(Ipv4Addr::new(198, 51, 100, 5)))
    );
}

#[test]
fn two_octet_peer_gets_as_trans_and_as4_path() {
    let a = Arc::new(RouteAttrs::default());
    let n = neg(FamilySet::EMPTY, false, false);
    let mut rib = AdjRibOut::new(4_200_000_001);
    rib.session_up(&n);
    rib.set_routes(vec![r("192.0.2.1/32", "198.51.100.3", &a)]);
    let u = &rib.poll_updates()[0];
    let bytes = Message::Update(u.clone())
        .to_bytes(&n.send_context())
        .unwrap();
    let Ok(Message::Update(back)) = Message::parse(&bytes, &n.send_context()) else {
        panic!()
    };
    assert_eq!(
        back.attribute(attr_code::AS_PATH),
        Some(&AttrValue::AsPath(AsPath::sequence(vec![u32::from(
            AS_TRANS
        )])))
    );
    assert_eq!(
        back.attribute(attr_code::AS4_PATH),
        Some(&AttrValue::As4Path(AsPath::sequence(vec![4_200_000_001])))
    );
}

#[test]
fn ipv6_routes_use_mp_reach_first_and_families_not_negotiated_are_held_back() {
    let a = Arc::new(RouteAttrs {
        link_local: Some("fe80::1".parse().unwrap()),
        ..RouteAttrs::default()
    });
    let mut n = neg(FamilySet::EMPTY, false, true);
    n.families = FamilySet::IPV4;
    let mut rib = AdjRibOut::new(65100);
    rib.session_up(&n);
    rib.set_routes(vec![
        r("2001:db8::200/128", "2001:db8::3", &a),
        r("192.0.2.1/32", "198.51.100.3", &a),
    ]);
    let ups = rib.poll_updates();
    assert!(
        ups.iter()
            .all(|u| u.attribute(attr_code::MP_REACH_NLRI).is_none()),
        "no IPv6 on an IPv4-only session"
    );
    n.families = FamilySet::BOTH;
    rib.session_down();
    rib.session_up(&n);
    let ups = rib.poll_updates();
    let v6 = ups
        .iter()
        .find(|u| u.attribute(attr_code::MP_REACH_NLRI).is_some())
        .unwrap();
    assert_eq!(v6.attributes[0].code(), attr_code::MP_REACH_NLRI);
    let Some(AttrValue::MpReach(m)) = v6.attribute(attr_code::MP_REACH_NLRI) else {
        panic!()
    };
    assert_eq!(
        m.next_hop,
        MpNextHop::V6 {
            global: "2001:db8::3".parse().unwrap(),
            link_local: Some("fe80::1".parse().unwrap())
        }
    );
}

#[test]
fn add_path_sends_at_most_the_configured_paths() {
    let a = Arc::new(RouteAttrs::default());
    let n = neg(FamilySet::IPV4, false, true);
    let mut rib = AdjRibOut::new(65100).with_max_paths(2);
    rib.session_up(&n);
    rib.set_routes(vec![
        r("192.0.2.200/32", "198.51.100.9", &a),
        r("192.0.2.200/32", "198.51.100.4", &a),
        r("192.0.2.200/32", "198.51.100.5", &a),
    ]);
    let ups = rib.poll_updates();
    let hops: Vec<&AttrValue> = ups
        .iter()
        .filter_map(|u| u.attribute(attr_code::NEXT_HOP))
        .collect();
    assert_eq!(
        hops,
        vec![
            &AttrValue::NextHop(Ipv4Addr::new(198, 51, 100, 4)),
            &AttrValue::NextHop(Ipv4Addr::new(198, 51, 100, 5))
        ],
        "the two lowest next hops"
    );
    assert_eq!(rib.suppressed(), 1);
}

/// The config lets a VIP carry 3,800 bytes of communities (leafvip's
/// `COMMUNITY_BYTES`): with every other attribute at its largest (an IPv6
/// next hop with a link-local one, MED, LOCAL_PREF, an ADD-PATH /128), the
/// route still fits one 4,096-byte UPDATE and is encoded, over eBGP and iBGP.
#[test]
fn the_largest_community_set_the_config_allows_fits_a_standard_update() {
    let attrs = Arc::new(RouteAttrs {
        med: Some(1),
        local_pref: Some(200),
        communities: (0..950).collect(),
        link_local: Some("fe80::3".parse().unwrap()),
        ..RouteAttrs::default()
    });
    for ibgp in [false, true] {
        let n = Negotiated {
            ibgp,
            peer_as: if ibgp { 65100 } else { 65001 },
            ..neg(FamilySet::BOTH, false, true)
        };
        let mut rib = AdjRibOut::new(65100);
        rib.set_routes(vec![r("2001:db8:1::1/128", "2001:db8:100::3", &attrs)]);
        rib.session_up(&n);
        let ups: Vec<Update> = rib
            .poll_updates()
            .into_iter()
            .filter(|u| u.end_of_rib_family().is_none())
            .collect();
        assert_eq!(ups.len(), 1);
        let bytes = Message::Update(ups[0].clone()).to_bytes(&n.send_context());
        assert!(
            bytes.as_ref().is_ok_and(|b| b.len() <= 4096),
            "ibgp {ibgp}: {:?}",
            bytes.map(|b| b.len())
        );
    }
}
