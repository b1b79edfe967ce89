//! Cluster mode (feature `kube`) against the fake API server: the node's
//! labels come from its own Node object and follow it live, in the rack
//! layout with BIRD as the leaves. `kubectl label` moves the session from
//! one leaf to the other within 2 s, the process is never restarted, and
//! API trouble changes nothing.
#![cfg(feature = "kube")]
mod support;
use kube_test_server::Server;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};
use support::bird::{leaf1, leaf_config, Bird};
use support::{can_run, rack, wait_for, Lab};

const T: Duration = Duration::from_secs(20);

fn node(name: &str, rack: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"rack": rack}}})
}

fn bgp_conf(spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "BgpConf",
           "metadata": {"name": "default"}, "spec": spec})
}

/// The Kubernetes way, nothing BGP in the file: the BgpConf gives the AS
/// (the router ID left empty: the node's address), two BgpPeers select a
/// rack each, and the Node's label picks this node's rack, live.
#[test]
fn node_labels_follow_the_node_object_live() {
    if !can_run(&["bird", "birdc", "kubectl"]) {
        return;
    }
    let mut lab = Lab::new("kubelab");
    let (leaf, host) = rack(&mut lab);
    let other = support::other_router(&mut lab, &host);
    let bird = leaf1(&mut lab, &leaf, "");
    let extra = Bird::start(
        &mut lab,
        &other,
        "extra",
        &leaf_config("203.0.113.1", 65002, &[("extra", "203.0.113.3", 65100, "")]),
    );
    // The API server where the daemon runs: on the host namespace's loopback.
    let api = Server::start_in_netns(&host);
    api.put(node("node-1", "leaf1"));
    api.put(node("node-2", "leaf2"));
    api.put(bgp_conf(json!({"as": 65100, "routerId": ""})));
    api.put(bgp_peer("leaf1", "198.51.100.1", 65001, "leaf1", "90"));
    api.put(bgp_peer("leaf2", "203.0.113.1", 65002, "leaf2", "90"));
    let kubeconfig = lab.path("kubeconfig");
    api.write_kubeconfig(&kubeconfig);
    let cfg = format!(
        "[node]\nname = \"node-1\"\n[kubernetes]\nkubeconfig = \"{}\"\n\n\
         [[vip]]\nprefix = \"192.0.2.200/32\"\n",
        kubeconfig.display()
    );
    let lv = lab.leafvip(&host, "leafvip", &cfg);
    wait_for(
        T,
        "the session to leaf1 only",
        || {
            (bird.established("h1") && bird.next_hops("192.0.2.200/32") == ["198.51.100.3"])
                .then_some(())
        },
        || lab.log("leafvip"),
    );
    assert!(!extra.established("extra"));
    let status = lab.status_json("leafvip");
    assert_eq!(status["asn"], 65100, "the AS from the BgpConf: {status}");
    let rid = status["router_id"].as_str().unwrap().to_string();
    assert!(
        ["198.51.100.3", "203.0.113.3"].contains(&rid.as_str()),
        "an empty spec.routerId is the node's address: {rid}"
    );
    // The watch is on node-1 alone.
    assert!(
        api.requests()
            .iter()
            .any(|r| r.contains("watch=") && r.contains("fieldSelector=metadata.name=node-1")),
        "{:#?}",
        api.requests()
    );
    let pid = lab.proc(lv).pid();

    // The node moves racks: kubectl, as an operator would.
    let o = Command::new("ip")
        .args(["netns", "exec", &host, "kubectl", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["label", "node", "node-1", "rack=leaf2", "--overwrite"])
        .env("HOME", lab.path(""))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let moved = Instant::now();
    wait_for(
        T,
        "the session to move to leaf2",
        || (extra.established("extra") && !bird.established("h1")).then_some(()),
        || lab.log("leafvip"),
    );
    eprintln!("label change to the new session: {:?}", moved.elapsed());
    // Settled: the route is there (BIRD's Since moves again as the
    // session's channels come up, a moment after Established).
    wait_for(
        T,
        "the route at leaf2",
        || (extra.next_hops("192.0.2.200/32") == ["203.0.113.3"]).then_some(()),
        || lab.log("leafvip"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let h1 = bird.cmd("show protocols all h1").unwrap();
    assert!(
        h1.contains("Peer de-configured"),
        "Cease/Peer De-configured at leaf1: {h1}"
    );
    assert_eq!(lab.proc(lv).pid(), pid, "never restarted");
    assert!(
        lab.proc(lv).child.try_wait().unwrap().is_none(),
        "still running"
    );

    // API trouble: a dropped watch, a 410 after compaction, 500s, 429s,
    // then the server down for 30 s. The session and the route stay as they are.
    let since = extra.up_since("extra").expect("extra up");
    api.compact();
    api.drop_watches();
    std::thread::sleep(Duration::from_secs(1));
    api.fail_next(3, 500);
    api.drop_watches();
    std::thread::sleep(Duration::from_secs(1));
    api.fail_next(3, 429);
    api.drop_watches();
    std::thread::sleep(Duration::from_secs(1));
    api.set_down(true);
    std::thread::sleep(Duration::from_secs(30));
    assert_eq!(
        extra.up_since("extra"),
        Some(since),
        "no flap through a 410, 500s, 429s and 30 s down"
    );
    assert_eq!(extra.next_hops("192.0.2.200/32"), ["203.0.113.3"]);
    assert!(!bird.established("h1"));
    let status = lab.status_json("leafvip");
    assert_eq!(status["cluster"]["connected"], false, "{status}");
    // An edit while it was down is applied once it is back.
    api.put(node("node-1", "leaf1"));
    api.set_down(false);
    wait_for(
        T,
        "the edit made while down to apply",
        || (bird.established("h1") && !extra.established("extra")).then_some(()),
        || lab.log("leafvip"),
    );
}

fn bgp_peer(name: &str, addr: &str, asn: u32, rack: &str, hold: &str) -> serde_json::Value {
    json!({
        "apiVersion": "network.kubesphere.io/v1alpha2", "kind": "BgpPeer",
        "metadata": {"name": name},
        "spec": {
            "conf": {"neighborAddress": addr, "peerAs": asn},
            "timers": {"config": {"holdTime": hold, "connectRetry": "1"}},
            "nodeSelector": {"matchLabels": {"rack": rack}}
        }
    })
}

fn events_about(api: &Server, name: &str) -> Vec<String> {
    api.list("v1", "Event", "default")
        .into_iter()
        .filter(|e| e["involvedObject"]["name"] == name)
        .map(|e| format!("{} {}", e["reason"], e["message"]))
        .collect()
}

/// Peers from OpenELB's BgpPeer objects, as they are: this node (rack
/// leaf1) peers with leaf1 over TCP MD5 from `spec.conf.authPassword`, and
/// with a v1alpha1-shaped object that selects every node; an invalid
/// object is logged and gets an Event naming its field, and leaves the
/// others alone, and so does an invalid BgpConf edit; an unused field is
/// logged once; deleting an object gives Cease/Peer De-configured.
#[test]
fn bgp_peers_come_from_openelb_objects() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("kubepeers");
    let (leaf, host) = rack(&mut lab);
    let other = support::other_router(&mut lab, &host);
    let bird = leaf1(&mut lab, &leaf, "password \"s3cret\";");
    let extra = Bird::start(
        &mut lab,
        &other,
        "extra",
        &leaf_config("203.0.113.1", 65002, &[("extra", "203.0.113.3", 65100, "")]),
    );
    let api = Server::start_in_netns(&host);
    api.put(node("node-1", "leaf1"));
    api.put(bgp_conf(
        json!({"as": 65100, "asPerRack": {"r9": 65109}, "routerId": "198.51.100.3",
                            "listenPort": 17900, "listenAddresses": ["198.51.100.3"],
                            "gracefulRestart": {"enabled": true, "restartTime": 77}}),
    ));
    let mut keyed = bgp_peer("leaf1", "198.51.100.1", 65001, "leaf1", "90");
    keyed["spec"]["conf"]["authPassword"] = json!("s3cret");
    keyed["spec"]["conf"]["localAs"] = json!(65100);
    api.put(keyed);
    api.put(json!({
        "apiVersion": "network.kubesphere.io/v1alpha1", "kind": "BgpPeer",
        "metadata": {"name": "old-style"},
        "spec": {"config": {"neighborAddress": "203.0.113.1", "peerAs": 65002},
                 "usingPortForward": false}
    }));
    api.put(bgp_peer("broken", "203.0.113.99", 65003, "leaf1", "2"));
    let kubeconfig = lab.path("kubeconfig");
    api.write_kubeconfig(&kubeconfig);
    let cfg = format!(
        "[node]\nname = \"node-1\"\n\
         [kubernetes]\nkubeconfig = \"{}\"\n\n[[vip]]\nprefix = \"192.0.2.200/32\"\n",
        kubeconfig.display()
    );
    lab.leafvip(&host, "leafvip", &cfg);
    wait_for(
        T,
        "the MD5 session to leaf1 and the v1alpha1 peer",
        || {
            (bird.established("h1")
                && extra.established("extra")
                && bird.next_hops("192.0.2.200/32") == ["198.51.100.3"])
            .then_some(())
        },
        || lab.log("leafvip"),
    );
    let h1 = bird.cmd("show protocols all h1").unwrap();
    assert!(
        h1.contains("Restart time: 77"),
        "spec.gracefulRestart from the BgpConf in the OPEN: {h1}"
    );
    let listening = support::sh(&format!("ip netns exec {host} ss -Hltn"));
    assert!(
        listening.contains("198.51.100.3:17900"),
        "the BgpConf's listenPort on its listenAddresses: {listening}"
    );
    let log = lab.log("leafvip");
    assert!(
        log.contains("BgpPeer broken: spec.timers.config.holdTime \"2\": must be 0 or at least 3"),
        "{log}"
    );
    wait_for(
        T,
        "a Warning Event on the broken BgpPeer",
        || {
            let e = events_about(&api, "broken");
            e.iter()
                .any(|e| e.contains("InvalidSpec") && e.contains("spec.timers.config.holdTime"))
                .then_some(())
        },
        || format!("{:#?}", api.list("v1", "Event", "default")),
    );
    assert_eq!(events_about(&api, "broken").len(), 1, "once per problem");
    assert_eq!(
        log.matches("spec.conf.localAs is not used by leafvip")
            .count(),
        1,
        "an unused field is logged once: {log}"
    );
    let status = lab.status_json("leafvip");
    assert_eq!(status["cluster"]["bgp_peers"], 3, "{status}");
    assert_eq!(status["cluster"]["bgp_peers_used"], 2, "{status}");
    assert!(status["cluster"]["invalid"][0]
        .as_str()
        .unwrap()
        .contains("BgpPeer broken"));

    // A bad edit of the BgpConf: an Event, and the last good one stays
    // (asPerRack with it).
    let since = bird.up_since("h1").expect("h1 up");
    api.put(bgp_conf(json!({"as": 23456, "asPerRack": {"r9": 65109}})));
    wait_for(
        T,
        "a Warning Event on the BgpConf",
        || {
            events_about(&api, "default")
                .iter()
                .any(|e| e.contains("spec.as 23456: reserved"))
                .then_some(())
        },
        || lab.log("leafvip"),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        bird.up_since("h1"),
        Some(since),
        "no flap for a bad BgpConf"
    );
    assert_eq!(lab.status_json("leafvip")["asn"], 65100);

    // The object goes: so does the session, with Cease/Peer De-configured.
    api.delete("network.kubesphere.io/v1alpha2", "BgpPeer", "", "leaf1");
    wait_for(
        T,
        "Cease/Peer De-configured at leaf1",
        || {
            bird.cmd("show protocols all h1")
                .filter(|o| o.contains("Peer de-configured"))
                .map(|_| ())
        },
        || lab.log("leafvip"),
    );
    assert!(
        bird.next_hops("192.0.2.200/32").is_empty(),
        "the route is withdrawn"
    );
    assert!(extra.established("extra"), "the other peer is unaffected");

    // The node's OpenELB rack label picks spec.asPerRack's AS, live: the
    // session restarts with AS 65109, which this leaf, expecting 65100,
    // refuses.
    let mut racked = node("node-1", "leaf1");
    racked["metadata"]["labels"]["openelb.kubesphere.io/rack"] = json!("r9");
    api.put(racked);
    wait_for(
        T,
        "the OPEN with spec.asPerRack's AS at BIRD",
        || {
            extra
                .cmd("show protocols all extra")
                .filter(|o| o.contains("Bad peer AS") && !extra.established("extra"))
                .map(|_| ())
        },
        || extra.cmd("show protocols all extra").unwrap_or_default() + &lab.log("leafvip"),
    );
    assert_eq!(lab.status_json("leafvip")["asn"], 65109);
}

/// Two nodes, one BgpPeer that selects both: each writes its own entry of
/// `status.nodesPeerStatus`, and neither write ever loses the other's,
/// through session flaps that make both write at once and conflicts the
/// API server answers with 409.
#[test]
fn nodes_peer_status_is_written_for_two_nodes_without_lost_updates() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("kubestat");
    let (leaf, host) = rack(&mut lab);
    // A second node under the same leaf, on a link of its own, reaching
    // the leaf's address that the BgpPeer names.
    let host2 = lab.ns("host2");
    lab.link(
        &leaf,
        "eth1",
        &["203.0.113.65/26"],
        &host2,
        "eth0",
        &["203.0.113.66/26"],
    );
    support::sh(&format!(
        "ip -n {host2} route add 198.51.100.1/32 via 203.0.113.65"
    ));
    let bird = Bird::start(
        &mut lab,
        &leaf,
        "bird",
        &leaf_config(
            "198.51.100.1",
            65001,
            &[
                ("h1", "198.51.100.3", 65100, ""),
                ("h2", "203.0.113.66", 65100, ""),
            ],
        ),
    );
    let api = Server::start_in_netns(&host);
    let api2 = api.also_in_netns(&host2);
    api.put(node("node-1", "leaf1"));
    api.put(node("node-2", "leaf1"));
    api.put(bgp_conf(json!({"as": 65100})));
    api.put(bgp_peer("leaf1", "198.51.100.1", 65001, "leaf1", "90"));
    api.put(bgp_peer("broken", "203.0.113.99", 65003, "leaf1", "1"));
    let mut daemons = Vec::new();
    for (i, (ns, server)) in [(&host, &api), (&host2, &api2)].into_iter().enumerate() {
        let name = format!("node-{}", i + 1);
        let kubeconfig = lab.path(&format!("kubeconfig-{name}"));
        server.write_kubeconfig(&kubeconfig);
        let cfg = format!(
            "[node]\nname = \"{name}\"\n[kubernetes]\nkubeconfig = \"{}\"\n\n\
             [[vip]]\nprefix = \"192.0.2.200/32\"\n",
            kubeconfig.display()
        );
        daemons.push(lab.leafvip(ns, &name, &cfg));
    }
    let states = || {
        let o = api.get("network.kubesphere.io/v1alpha2", "BgpPeer", "", "leaf1")?;
        let s = &o["status"]["nodesPeerStatus"];
        Some(["node-1", "node-2"].map(|n| {
            s[n]["peerState"]["sessionState"]
                .as_str()
                .unwrap_or("")
                .to_string()
        }))
    };
    let both = |want: &str| {
        wait_for(
            T,
            &format!("both nodes' entries {want}"),
            || states().filter(|s| s.iter().all(|x| x == want)).map(|_| ()),
            || format!("{:?}\n{}", states(), lab.log("node-2")),
        )
    };
    both("ESTABLISHED");
    let mut hops = bird.next_hops("192.0.2.200/32");
    hops.sort();
    assert_eq!(
        hops,
        ["198.51.100.3", "203.0.113.66"],
        "both nodes announce"
    );
    let o = api
        .get("network.kubesphere.io/v1alpha2", "BgpPeer", "", "leaf1")
        .unwrap();
    let e = &o["status"]["nodesPeerStatus"]["node-2"]["peerState"];
    assert_eq!(
        (e["neighborAddress"].as_str(), e["peerAs"].as_u64()),
        (Some("198.51.100.1"), Some(65001))
    );
    assert_eq!(e["routerId"], "198.51.100.1", "{o}");
    // Both sessions drop and come back at once, three times: each time
    // both nodes write within the same moment; some writes meet a 409.
    for round in 0..3 {
        bird.cmd("disable h1").unwrap();
        bird.cmd("disable h2").unwrap();
        wait_for(
            T,
            "both entries down",
            || {
                states()
                    .filter(|s| s.iter().all(|x| x != "ESTABLISHED" && !x.is_empty()))
                    .map(|_| ())
            },
            || format!("{:?}", states()),
        );
        if round == 1 {
            api.fail_next(2, 409);
        }
        bird.cmd("enable h1").unwrap();
        bird.cmd("enable h2").unwrap();
        both("ESTABLISHED");
    }
    // Both nodes found the broken object: the cluster has one Event.
    assert!(lab
        .log("node-2")
        .contains("BgpPeer broken: spec.timers.config.holdTime"));
    assert!(lab
        .log("node-1")
        .contains("BgpPeer broken: spec.timers.config.holdTime"));
    assert_eq!(
        events_about(&api, "broken").len(),
        1,
        "{:#?}",
        api.list("v1", "Event", "default")
    );
    // A node that stops takes its entry out; the other's stays.
    lab.proc(daemons[1])
        .signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        lab.proc(daemons[1]).wait_exit(T).is_some(),
        "node-2 stopped"
    );
    let o = api
        .get("network.kubesphere.io/v1alpha2", "BgpPeer", "", "leaf1")
        .unwrap();
    let entries = &o["status"]["nodesPeerStatus"];
    assert!(entries["node-2"].is_null(), "{entries}");
    assert_eq!(
        entries["node-1"]["peerState"]["sessionState"],
        "ESTABLISHED"
    );
}
