use super::*;

const CFG: &str = r#"
[bgp]
asn = 65100
[[peer]]
address = "198.51.100.1"
asn = 65001
node_selector = { match_labels = { rack = "leaf1" } }
[[host]]
name = "master1"
address = "198.51.100.3"
labels = { rack = "leaf1" }
[[host]]
name = "worker1"
address = "198.51.100.4"
address6 = "2001:db8:100::4"
labels = { rack = "leaf1" }
check = { tcp = "198.51.100.4:8080", interval = "1s", rise = 2, fall = 2 }
[[host]]
name = "worker2"
address = "203.0.113.4"
labels = { rack = "leaf2" }
[[vip]]
prefix = "192.0.2.200/32"
next_hop = "hosts"
[[vip]]
prefix = "2001:db8:1::200/128"
next_hop = "hosts"
"#;

fn plan(healthy: bool) -> Plan {
    let cfg = Config::parse("t", CFG).unwrap();
    let labels: Labels = [("rack".to_string(), "leaf1".to_string())]
        .into_iter()
        .collect();
    Plan::new(
        &cfg,
        "master1".into(),
        labels,
        vip_plans(cfg.vips(), Vec::new()),
        &|_| healthy,
    )
}

#[test]
fn hosts_of_the_peers_rack_only_and_healthy_only() {
    let p = plan(true);
    let routes: Vec<String> = p.peers[0]
        .routes(&LocalAddrs::default())
        .map(|r| format!("{} {}", r.prefix, r.next_hop))
        .collect();
    assert_eq!(
        routes,
        [
            "192.0.2.200/32 198.51.100.3",
            "192.0.2.200/32 198.51.100.4",
            "2001:db8:1::200/128 2001:db8:100::4"
        ]
    );
    let text = p.report(|_| LocalAddrs::default()).to_string();
    assert!(text.contains("vip 192.0.2.200/32 next hops 198.51.100.3 (master1), 198.51.100.4 (worker1); more than one needs ADD-PATH"), "{text}");
    assert!(
        !text.contains("203.0.113.4"),
        "worker2 is in another rack: {text}"
    );
    // worker1 fails its check: only master1 is left, and no IPv6 host.
    let p = plan(false);
    let routes: Vec<String> = p.peers[0]
        .routes(&LocalAddrs::default())
        .map(|r| r.next_hop.to_string())
        .collect();
    assert_eq!(routes, ["198.51.100.3"]);
    let text = p.report(|_| LocalAddrs::default()).to_string();
    assert!(
        text.contains(
            "vip 2001:db8:1::200/128 not sent: no healthy [[host]] with a ipv6-unicast address"
        ),
        "{text}"
    );
}

#[test]
fn hosts_on_the_peers_subnet_are_reachable_too() {
    let p = plan(true);
    // worker2 (203.0.113.4) is in another rack by its labels, but sits on
    // the connected subnet of a session sourced from 203.0.113.3/24.
    let on_link = LocalAddrs {
        v4: Some("203.0.113.3".parse().unwrap()),
        v4_plen: 24,
        ..LocalAddrs::default()
    };
    let hops: Vec<String> = p.peers[0]
        .routes(&on_link)
        .filter(|r| r.next_hop.is_ipv4())
        .map(|r| r.next_hop.to_string())
        .collect();
    assert_eq!(hops, ["198.51.100.3", "198.51.100.4", "203.0.113.4"]);
    let other_net = LocalAddrs {
        v4: Some("198.51.100.3".parse().unwrap()),
        v4_plen: 25,
        ..LocalAddrs::default()
    };
    assert_eq!(
        p.peers[0].routes(&other_net).count(),
        3,
        "198.51.100.3/25 does not hold 203.0.113.4: master1, worker1, and worker1's IPv6"
    );
    assert!(
        !other_net.on_link("203.0.113.4".parse().unwrap())
            && other_net.on_link("198.51.100.100".parse().unwrap())
    );
}

/// Cluster mode's rack speaker: Nodes come as hosts beside the
/// config's, and a `Local` Service's address goes only to its nodes.
#[test]
fn cluster_nodes_are_hosts_and_a_vip_may_name_its_only_hosts() {
    let cfg = Config::parse("t", "[bgp]\nasn = 65100\n[[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nnode_selector = { match_labels = { rack = \"leaf1\" } }\n").unwrap();
    let node = |name: &str, a: &str, rack: &str| HostConfig {
        name: name.into(),
        address: Some(a.parse().unwrap()),
        address6: None,
        labels: [("rack".to_string(), rack.to_string())]
            .into_iter()
            .collect(),
        check: None,
    };
    let nodes = [
        node("n1", "198.51.100.3", "leaf1"),
        node("n2", "198.51.100.4", "leaf1"),
        node("n3", "198.51.100.130", "leaf2"),
    ];
    let all = crate::vip_list::Hop::from(NextHopSpec::Hosts);
    let only_n2 = crate::vip_list::Hop {
        spec: NextHopSpec::Hosts,
        only: Some(vec!["n2".to_string(), "n3".to_string()].into()),
        withdrawn: false,
    };
    let vips = Arc::new(crate::vip_list::VipList::default().with_extra(&[
        ("192.0.2.1/32".parse().unwrap(), all),
        ("192.0.2.2/32".parse().unwrap(), only_n2),
    ]));
    let labels: Labels = [("rack".to_string(), "leaf1".to_string())]
        .into_iter()
        .collect();
    let p = Plan::with_peers(&cfg, (&[], &nodes), "n1".into(), labels, vips, &|_| false);
    let routes: Vec<String> = p.peers[0]
        .routes(&LocalAddrs::default())
        .map(|r| format!("{} {}", r.prefix, r.next_hop))
        .collect();
    assert_eq!(
        routes,
        [
            "192.0.2.1/32 198.51.100.3",
            "192.0.2.1/32 198.51.100.4",
            "192.0.2.2/32 198.51.100.4"
        ],
        "n3 is in another rack; an unchecked host needs no health"
    );
}

#[test]
fn host_errors_name_their_line() {
    let e = Config::parse(
        "t",
        &CFG.replace(
            "name = \"worker2\"\naddress = \"203.0.113.4\"",
            "name = \"worker2\"",
        ),
    )
    .unwrap_err();
    assert!(e.to_string().contains("host worker2: needs address"), "{e}");
    let e = Config::parse("t", &CFG.replace("interval = \"1s\"", "interval = \"1h\"")).unwrap_err();
    assert!(
        e.to_string().starts_with("t:17:") && e.problem.contains("duration"),
        "{e}"
    );
    let e = Config::parse(
        "t",
        &CFG.replace("name = \"worker2\"", "name = \"worker1\""),
    )
    .unwrap_err();
    assert!(e.problem.contains("configured twice"), "{e}");
}
