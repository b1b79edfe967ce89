//! leafvip against real routers (BIRD 2, GoBGP) in network namespaces.
//! Every assertion is on the router's own view: its RIB through birdc or
//! the gobgp CLI, and the namespace's kernel FIB.
mod support;
use nix::sys::signal::Signal;
use std::time::Duration;
use support::bird::{leaf1, leaf_config, Bird};
use support::gobgp::{self, GoBgp};
use support::{can_run, pcap_count, rack, wait_for, Lab};

const T: Duration = Duration::from_secs(20);

fn host_config(lab: &Lab, peers: &str, vips: &[&str]) -> String {
    let mut c = format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\n[node]\nname = \"master1\"\nlabels_file = \"{}\"\n\n{peers}\n",
        lab.path("labels").display()
    );
    for v in vips {
        c.push_str(&format!("[[vip]]\nprefix = \"{v}\"\n"));
    }
    c
}

const LEAF1_PEER: &str = "[[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nnode_selector = { match_labels = { rack = \"leaf1\" } }\n";
const EXTRA_PEER: &str = "[[peer]]\naddress = \"203.0.113.1\"\nasn = 65002\nnode_selector = { match_expressions = [{ key = \"extra\", operator = \"Exists\" }] }\n";

#[test]
fn bird_learns_vips_with_the_host_next_hop_and_follows_labels_and_reloads() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("bird");
    let (leaf, host) = rack(&mut lab);
    // A second router on another link, for the peer the labels select later.
    let other = support::other_router(&mut lab, &host);
    let bird = leaf1(&mut lab, &leaf, "");
    let extra = Bird::start(
        &mut lab,
        &other,
        "extra",
        &leaf_config(
            "203.0.113.1",
            65002,
            &[("extra", "203.0.113.3", 65100, "passive on;")],
        ),
    );
    let (_, pcap) = lab.capture(
        &host,
        "eth1",
        "syn",
        "tcp[tcpflags] & tcp-syn != 0 and dst host 203.0.113.1",
    );
    lab.write("labels", "# rack of this host\nrack=leaf1\n");
    let cfg = host_config(
        &lab,
        &format!("{LEAF1_PEER}\n{EXTRA_PEER}"),
        &["192.0.2.200/32", "2001:db8:1::200/128"],
    );
    let lv = lab.leafvip(&host, "leafvip", &cfg);

    wait_for(
        T,
        "session h1 Established",
        || bird.established("h1").then_some(()),
        || bird.cmd("show protocols all h1").unwrap_or_default(),
    );
    let v4 = wait_for(
        T,
        "IPv4 VIP at BIRD",
        || Some(bird.next_hops("192.0.2.200/32")).filter(|v| !v.is_empty()),
        || bird.route("192.0.2.200/32"),
    );
    assert_eq!(v4, vec!["198.51.100.3"]);
    let v6 = wait_for(
        T,
        "IPv6 VIP at BIRD",
        || Some(bird.next_hops("2001:db8:1::200/128")).filter(|v| !v.is_empty()),
        || bird.route("2001:db8:1::200/128"),
    );
    assert_eq!(v6, vec!["2001:db8:100::3"]);
    wait_for(
        T,
        "VIPs in the leaf's kernel FIB",
        || {
            (bird.fib("192.0.2.200/32") == ["198.51.100.3"]
                && bird.fib("2001:db8:1::200/128") == ["2001:db8:100::3"])
            .then_some(())
        },
        || {
            format!(
                "{:?} {:?}",
                bird.fib("192.0.2.200/32"),
                bird.fib("2001:db8:1::200/128")
            )
        },
    );

    // The peer whose selector does not match was never contacted.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        pcap_count(&pcap, "dst host 203.0.113.1"),
        0,
        "no SYN to a peer that is not selected"
    );
    assert!(!extra.established("extra"));

    // A labels-file change, no signal: the extra peer starts matching.
    lab.write("labels", "rack=leaf1\nextra=yes\n");
    wait_for(
        T,
        "extra Established after the labels change",
        || extra.established("extra").then_some(()),
        || lab.log("leafvip"),
    );
    wait_for(
        T,
        "the capture to see the SYN",
        || (pcap_count(&pcap, "dst host 203.0.113.1") > 0).then_some(()),
        String::new,
    );
    assert!(bird.established("h1"), "the unchanged session stayed up");

    // A reload that removes the IPv6 VIP withdraws it at the router.
    let v4_only = host_config(
        &lab,
        &format!("{LEAF1_PEER}\n{EXTRA_PEER}"),
        &["192.0.2.200/32"],
    );
    lab.write("leafvip.toml", &v4_only);
    lab.proc(lv).signal(Signal::SIGHUP);
    wait_for(
        T,
        "IPv6 VIP withdrawn",
        || {
            bird.next_hops("2001:db8:1::200/128")
                .is_empty()
                .then_some(())
        },
        || bird.route("2001:db8:1::200/128"),
    );
    assert_eq!(bird.next_hops("192.0.2.200/32"), vec!["198.51.100.3"]);
    assert_eq!(
        extra.next_hops("192.0.2.200/32"),
        vec!["203.0.113.3"],
        "next hop self on the other link"
    );
    assert!(extra.next_hops("2001:db8:1::200/128").is_empty());

    // A reload that fails validation keeps everything as it was.
    lab.write("leafvip.toml", "[bgp]\nasn = \"not a number\"\n");
    lab.proc(lv).signal(Signal::SIGHUP);
    wait_for(
        T,
        "the failed reload logged",
        || lab.log("leafvip").contains("reload failed").then_some(()),
        || lab.log("leafvip"),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(bird.established("h1") && extra.established("extra"));
    assert_eq!(bird.next_hops("192.0.2.200/32").len(), 1);
    assert!(
        lab.log("leafvip").contains("leafvip.toml:2"),
        "the error names file and line"
    );

    // The labels change while the config is broken: that reload fails too,
    // and is retried on every tick, quietly, until the config is fixed
    // (no signal), when the change finally applies.
    lab.write("labels", "rack=leaf1\n");
    std::thread::sleep(Duration::from_secs(5));
    assert!(extra.established("extra"), "nothing applied while broken");
    lab.write("leafvip.toml", &v4_only);
    wait_for(
        T,
        "the retried labels reload to drop the extra peer",
        || (!extra.established("extra")).then_some(()),
        || lab.log("leafvip"),
    );
    let log = lab.log("leafvip");
    let failed = log
        .lines()
        .filter(|l| l.contains("reload failed, keeping"))
        .count();
    assert_eq!(
        failed, 1,
        "one line for the same failure, however often retried:\n{log}"
    );
    assert!(bird.established("h1"));

    // SIGTERM: Cease/Administrative Shutdown with a message, then exit 0.
    let status = lab.proc(lv).stop().expect("exited");
    assert!(status.success(), "{status:?}");
    let h1 = bird.cmd("show protocols all h1").unwrap();
    assert!(h1.contains("Administrative shutdown"), "{h1}");
    assert!(
        bird.next_hops("192.0.2.200/32").is_empty(),
        "routes gone with the session"
    );
}

#[test]
fn gobgp_learns_vips_with_the_host_next_hop() {
    if !can_run(&["gobgpd", "gobgp"]) {
        return;
    }
    let mut lab = Lab::new("gobgp");
    let (leaf, host) = rack(&mut lab);
    let g = GoBgp::start(
        &mut lab,
        &leaf,
        "gobgpd",
        &gobgp::config("198.51.100.1", 65001, &[("198.51.100.3", 65100)]),
    );
    lab.write("labels", "rack=leaf1\n");
    let lv = lab.leafvip(
        &host,
        "leafvip",
        &host_config(
            &lab,
            LEAF1_PEER,
            &["192.0.2.200/32", "192.0.2.201/32", "2001:db8:1::200/128"],
        ),
    );
    wait_for(
        T,
        "GoBGP neighbor established",
        || g.established("198.51.100.3").then_some(()),
        || g.cli("neighbor 198.51.100.3").unwrap_or_default(),
    );
    for (p, nh) in [
        ("192.0.2.200/32", "198.51.100.3"),
        ("192.0.2.201/32", "198.51.100.3"),
        ("2001:db8:1::200/128", "2001:db8:100::3"),
    ] {
        let got = wait_for(
            T,
            p,
            || Some(g.next_hops(p)).filter(|v| !v.is_empty()),
            || {
                g.cli("global rib -a ipv4").unwrap_or_default()
                    + &g.cli("global rib -a ipv6").unwrap_or_default()
            },
        );
        assert_eq!(got, vec![nh], "{p}");
    }
    let n = g.cli("neighbor 198.51.100.3").unwrap();
    assert!(
        n.to_lowercase().contains("add-path"),
        "ADD-PATH negotiated: {n}"
    );
    // A reload that drops a VIP withdraws it at GoBGP; the others stay.
    lab.write(
        "leafvip.toml",
        &host_config(&lab, LEAF1_PEER, &["192.0.2.200/32", "2001:db8:1::200/128"]),
    );
    lab.proc(lv).signal(Signal::SIGHUP);
    wait_for(
        T,
        "192.0.2.201/32 withdrawn at GoBGP",
        || g.next_hops("192.0.2.201/32").is_empty().then_some(()),
        || g.cli("global rib -a ipv4").unwrap_or_default(),
    );
    assert_eq!(g.next_hops("192.0.2.200/32"), vec!["198.51.100.3"]);
    // Labels that stop matching close the session: the routes leave GoBGP.
    lab.write("labels", "rack=leaf9\n");
    wait_for(
        T,
        "the deselected session closed",
        || (!g.established("198.51.100.3")).then_some(()),
        || lab.log("leafvip"),
    );
    wait_for(
        T,
        "routes gone",
        || g.next_hops("192.0.2.200/32").is_empty().then_some(()),
        || g.cli("global rib -a ipv4").unwrap_or_default(),
    );
    assert!(lab.log("leafvip").contains("peer no longer selected"));
}

#[test]
fn listener_takes_selected_peers_only_and_gtsm_interoperates() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("listen");
    let (leaf, host) = rack(&mut lab);
    let other = support::other_router(&mut lab, &host);
    // The leaf connects to us (we are passive) with GTSM on both sides.
    let bird = leaf1(&mut lab, &leaf, "ttl security on;");
    // A router leafvip has no peer entry for, trying to connect.
    let stranger = Bird::start(
        &mut lab,
        &other,
        "stranger",
        &leaf_config(
            "203.0.113.1",
            65002,
            &[("stranger", "203.0.113.3", 65100, "")],
        ),
    );
    lab.write("labels", "rack=leaf1\n");
    let peer =
        "[[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\npassive = true\nttl_security = 1\n";
    let cfg = host_config(&lab, peer, &["192.0.2.200/32"]).replacen(
        "router_id = \"198.51.100.3\"\n",
        "router_id = \"198.51.100.3\"\nlisten = \"[::]:179\"\n",
        1,
    );
    lab.leafvip(&host, "leafvip", &cfg);
    let v4 = wait_for(
        T,
        "the VIP over the passive, GTSM-protected session",
        || Some(bird.next_hops("192.0.2.200/32")).filter(|v| !v.is_empty()),
        || lab.log("leafvip"),
    );
    assert_eq!(v4, vec!["198.51.100.3"]);
    wait_for(
        T,
        "the stranger refused",
        || {
            lab.log("leafvip")
                .contains("refused connection")
                .then_some(())
        },
        || lab.log("leafvip"),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !stranger.established("stranger"),
        "a router that is not a configured peer never gets a session"
    );
    assert!(stranger.next_hops("192.0.2.200/32").is_empty());
}
