use super::*;

const CFG: &str = r#"
[bgp]
asn = 65100
[[peer]]
address = "198.51.100.2"
asn = 65001
description = "leaf1"
node_selector = { match_labels = { rack = "leaf1" } }
[[peer]]
address = "203.0.113.2"
asn = 65002
node_selector = { match_labels = { rack = "leaf2" } }
[[peer]]
address = "192.0.2.1"
asn = 65003
families = ["ipv4-unicast"]
[[vip]]
prefix = "192.0.2.200/32"
[[vip]]
prefix = "2001:db8:1::200/128"
"#;

fn labels(rack: &str) -> Labels {
    [("rack".to_string(), rack.to_string())]
        .into_iter()
        .collect()
}

#[test]
fn selects_by_labels_and_explains() {
    let cfg = Config::parse("t", CFG).unwrap();
    let plan = Plan::new(
        &cfg,
        "master1".into(),
        labels("leaf1"),
        vip_plans(cfg.vips(), Vec::new()),
        &|_| true,
    );
    let sel: Vec<String> = plan
        .selected()
        .map(|p| p.peer.address.to_string())
        .collect();
    assert_eq!(
        sel,
        vec!["198.51.100.2", "192.0.2.1"],
        "no selector = every node"
    );
    let local = LocalAddrs {
        v4: Some("198.51.100.3".parse().unwrap()),
        ..LocalAddrs::default()
    };
    let text = plan.report(|_| local).to_string();
    assert!(text.contains("peer 198.51.100.2 AS65001 (leaf1): selected\n  vip 192.0.2.200/32 next hop 198.51.100.3\n"), "{text}");
    assert!(
        text.contains("vip 2001:db8:1::200/128 not sent: no global IPv6 address"),
        "{text}"
    );
    assert!(
        text.contains(
            "peer 203.0.113.2 AS65002: not selected: match_labels rack=leaf2: node has rack=leaf1"
        ),
        "{text}"
    );
    assert!(
        text.contains("not sent: the peer's families exclude ipv6-unicast"),
        "{text}"
    );
}

#[test]
fn routes_follow_the_session_addresses() {
    let cfg = Config::parse("t", CFG).unwrap();
    let plan = Plan::new(
        &cfg,
        "n".into(),
        labels("leaf1"),
        vip_plans(cfg.vips(), Vec::new()),
        &|_| true,
    );
    let p = &plan.peers[0];
    let both = LocalAddrs {
        v4: Some("198.51.100.3".parse().unwrap()),
        v6: Some("2001:db8::3".parse().unwrap()),
        ..LocalAddrs::default()
    };
    let r: Vec<Route> = p.routes(&both).collect();
    assert_eq!(r.len(), 2);
    assert_eq!(r[1].next_hop, "2001:db8::3".parse::<IpAddr>().unwrap());
    let sc = p.session_config(65100, "198.51.100.3".parse().unwrap(), 120, 7);
    assert_eq!(
        (sc.remote_as, sc.hold_time, sc.families),
        (65001, 90, FamilySet::BOTH)
    );
    assert_eq!(sc.add_path_send, FamilySet::BOTH);
}
