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
    let kubeconfig = lab.path("kubeconfig");
    api.write_kubeconfig(&kubeconfig);
    let cfg = format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n[node]\nname = \"node-1\"\n\
         [kubernetes]\nkubeconfig = \"{}\"\n\n\
         [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nconnect_retry = 1\nnode_selector = {{ match_labels = {{ rack = \"leaf1\" }} }}\n\n\
         [[peer]]\naddress = \"203.0.113.1\"\nasn = 65002\nconnect_retry = 1\nnode_selector = {{ match_labels = {{ rack = \"leaf2\" }} }}\n\n\
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

    // API trouble: a dropped watch, 500s, the server down for a while. The
    // session and the route stay exactly as they are.
    let since = extra.up_since("extra").expect("extra up");
    api.drop_watches();
    api.fail_next(3, 500);
    api.set_down(true);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        extra.up_since("extra"),
        Some(since),
        "no flap while the API is down"
    );
    assert_eq!(extra.next_hops("192.0.2.200/32"), ["203.0.113.3"]);
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

/// Peers from OpenELB's BgpPeer objects, as they are: this node (rack
/// leaf1) peers with leaf1 only; an invalid object is logged with its field
/// and leaves the others alone; deleting an object gives Cease/Peer
/// De-configured.
#[test]
fn bgp_peers_come_from_openelb_objects() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("kubepeers");
    let (leaf, host) = rack(&mut lab);
    let other = support::other_router(&mut lab, &host);
    let bird = leaf1(&mut lab, &leaf, "");
    let extra = Bird::start(
        &mut lab,
        &other,
        "extra",
        &leaf_config("203.0.113.1", 65002, &[("extra", "203.0.113.3", 65100, "")]),
    );
    let api = Server::start_in_netns(&host);
    api.put(node("node-1", "leaf1"));
    api.put(bgp_peer("leaf1", "198.51.100.1", 65001, "leaf1", "90"));
    api.put(bgp_peer("leaf2", "203.0.113.1", 65002, "leaf2", "90"));
    api.put(bgp_peer("broken", "203.0.113.99", 65003, "leaf1", "2"));
    let kubeconfig = lab.path("kubeconfig");
    api.write_kubeconfig(&kubeconfig);
    let cfg = format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n[node]\nname = \"node-1\"\n\
         [kubernetes]\nkubeconfig = \"{}\"\n\n[[vip]]\nprefix = \"192.0.2.200/32\"\n",
        kubeconfig.display()
    );
    lab.leafvip(&host, "leafvip", &cfg);
    wait_for(
        T,
        "the session to leaf1 from its BgpPeer",
        || {
            (bird.established("h1") && bird.next_hops("192.0.2.200/32") == ["198.51.100.3"])
                .then_some(())
        },
        || lab.log("leafvip"),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !extra.established("extra"),
        "leaf2's BgpPeer selects rack leaf2 only"
    );
    let log = lab.log("leafvip");
    assert!(
        log.contains("BgpPeer broken: spec.timers.config.holdTime \"2\": must be 0 or at least 3"),
        "{log}"
    );
    assert!(api
        .requests()
        .iter()
        .any(|r| r.starts_with("GET /apis/network.kubesphere.io/v1alpha2/bgppeers")));

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
}
