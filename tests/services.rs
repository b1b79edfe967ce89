//! LoadBalancer Services (feature `kube`) against the fake API server, in
//! namespaces: a leaf (BIRD, ECMP into its FIB) with three nodes on its
//! LAN, each running leafvip and a responder behind the Service address,
//! and a client behind the leaf. Asserted on the leaf's routes and FIB, on
//! the objects' status, and on which nodes the client's connections reach.
#![cfg(feature = "kube")]
mod support;
use kube_test_server::Server;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::bird::{leaf_config, Bird};
use support::{can_run, sh, wait_for, Lab};

const T: Duration = Duration::from_secs(30);
const NODES: [(&str, &str, &str); 3] = [
    ("node-1", "198.51.100.3", "2001:db8:100::3"),
    ("node-2", "198.51.100.4", "2001:db8:100::4"),
    ("node-3", "198.51.100.5", "2001:db8:100::5"),
];

struct Cluster {
    lab: Lab,
    api: Server,
    bird: Bird,
    client: String,
    hosts: Vec<String>,
    daemons: Vec<usize>,
}

fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "labels": {"rack": "leaf1"}},
           "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
}

fn eip(name: &str, address: &str, default: bool) -> Value {
    let mut e = json!({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "Eip",
                       "metadata": {"name": name}, "spec": {"address": address}});
    if default {
        e["metadata"]["annotations"] = json!({"eip.openelb.kubesphere.io/is-default-eip": "true"});
    }
    e
}

fn service(name: &str, local: bool, extra: Value) -> Value {
    let mut s = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default",
                     "annotations": {"lb.kubesphere.io/v1alpha1": "openelb"}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 8080}],
                 "externalTrafficPolicy": if local { "Local" } else { "Cluster" }}});
    if let Some(m) = extra.as_object() {
        for (k, v) in m {
            match k.as_str() {
                "annotations" => {
                    for (a, x) in v.as_object().unwrap() {
                        s["metadata"]["annotations"][a] = x.clone();
                    }
                }
                _ => s["spec"][k] = v.clone(),
            }
        }
    }
    s
}

fn slice(service: &str, nodes: &[&str]) -> Value {
    let endpoints: Vec<Value> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"addresses": [format!("10.0.0.{}", i + 1)], "nodeName": n,
                             "conditions": {"ready": true, "serving": true, "terminating": false}})
        })
        .collect();
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("{service}-abc"), "namespace": "default",
                        "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4", "endpoints": endpoints})
}

/// The leaf, three nodes, a client, the API server, and leafvip on each node.
fn cluster(tag: &str) -> Option<Cluster> {
    if !can_run(&["bird", "birdc", "python3"]) {
        return None;
    }
    let mut lab = Lab::new(tag);
    let leaf = lab.ns("leaf");
    let client = lab.ns("client");
    sh(&format!(
        "ip -n {leaf} link add br0 type bridge && ip -n {leaf} link set br0 up && \
         ip -n {leaf} addr add 198.51.100.1/24 dev br0 && ip -n {leaf} addr add 2001:db8:100::1/64 dev br0 nodad && \
         ip netns exec {leaf} sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
         net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1"
    ));
    lab.link(
        &leaf,
        "c0",
        &["203.0.113.1/30", "2001:db8:300::1/64"],
        &client,
        "eth0",
        &["203.0.113.2/30", "2001:db8:300::2/64"],
    );
    sh(&format!(
        "ip -n {client} route add default via 203.0.113.1 && ip -n {client} -6 route add default via 2001:db8:300::1"
    ));
    let mut hosts = Vec::new();
    for (i, (name, v4, v6)) in NODES.iter().enumerate() {
        let ns = lab.ns(&format!("h{}", i + 1));
        lab.link(
            &leaf,
            &format!("h{i}"),
            &[],
            &ns,
            "eth0",
            &[&format!("{v4}/24"), &format!("{v6}/64")],
        );
        sh(&format!(
            "ip -n {leaf} link set h{i} master br0 && ip -n {ns} route add default via 198.51.100.1 && \
             ip -n {ns} -6 route add default via 2001:db8:100::1"
        ));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/responder.py");
        lab.spawn(
            &ns,
            &["python3", script, name, "0.0.0.0", "8080"],
            &format!("{name}-r4"),
            &[],
        );
        lab.spawn(
            &ns,
            &["python3", script, name, "::", "8081"],
            &format!("{name}-r6"),
            &[],
        );
        hosts.push(ns);
    }
    let peers: Vec<(String, &str, u32, &str)> = NODES
        .iter()
        .enumerate()
        .map(|(i, (_, v4, _))| (format!("h{}", i + 1), *v4, 65100, ""))
        .collect();
    let peers: Vec<(&str, &str, u32, &str)> = peers
        .iter()
        .map(|(a, b, c, d)| (a.as_str(), *b, *c, *d))
        .collect();
    let bird = Bird::start(
        &mut lab,
        &leaf,
        "bird",
        &leaf_config("198.51.100.1", 65001, &peers),
    );
    let api = Server::start_in_netns(&hosts[0]);
    for (name, _, _) in NODES {
        api.put(node(name));
    }
    api.put(
        json!({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "BgpConf",
                   "metadata": {"name": "default"}, "spec": {"as": 65100}}),
    );
    api.put(
        json!({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "BgpPeer",
        "metadata": {"name": "leaf1"},
        "spec": {"conf": {"neighborAddress": "198.51.100.1", "peerAs": 65001},
                 "timers": {"config": {"connectRetry": "1"}},
                 "afiSafis": [{"config": {"family": {"afi": "AFI_IP", "safi": "SAFI_UNICAST"}}},
                              {"config": {"family": {"afi": "AFI_IP6", "safi": "SAFI_UNICAST"}}}],
                 "nodeSelector": {"matchLabels": {"rack": "leaf1"}}}}),
    );
    let mut daemons = Vec::new();
    for (i, (name, _, _)) in NODES.iter().enumerate() {
        let server = if i == 0 {
            api.clone()
        } else {
            api.also_in_netns(&hosts[i])
        };
        let kubeconfig = lab.path(&format!("kubeconfig-{name}"));
        server.write_kubeconfig(&kubeconfig);
        let cfg = format!(
            "[node]\nname = \"{name}\"\n[kubernetes]\nkubeconfig = \"{}\"\n{}",
            kubeconfig.display(),
            // One node serves metrics, in a build that has them.
            if i == 0 && cfg!(feature = "metrics") {
                "[control]\nhttp = \"127.0.0.1:9179\"\n"
            } else {
                ""
            }
        );
        daemons.push(lab.leafvip(&hosts[i], name, &cfg));
    }
    let c = Cluster {
        lab,
        api,
        bird,
        client,
        hosts,
        daemons,
    };
    for i in 1..=3 {
        let h = format!("h{i}");
        wait_for(
            T,
            &format!("session {h}"),
            || c.bird.established(&h).then_some(()),
            || c.lab.log(&format!("node-{i}")),
        );
    }
    Some(c)
}

impl Cluster {
    fn status_ips(&self, name: &str) -> Vec<String> {
        self.api
            .get("v1", "Service", "default", name)
            .map(|s| {
                s["status"]["loadBalancer"]["ingress"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i["ip"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for the Service's addresses (as many as `n`).
    fn allocated(&self, name: &str, n: usize) -> Vec<String> {
        wait_for(
            T,
            &format!("{name} allocated"),
            || {
                let ips = self.status_ips(name);
                (ips.len() == n).then_some(ips)
            },
            || self.lab.log("node-1") + &self.lab.log("node-2"),
        )
    }

    fn hops(&self, prefix: &str) -> Vec<String> {
        let mut h = self.bird.next_hops(prefix);
        h.sort();
        h
    }

    fn wait_hops(&self, prefix: &str, want: &[&str]) -> Duration {
        let t = Instant::now();
        wait_for(
            T,
            &format!("{prefix} via {want:?}"),
            || (self.hops(prefix) == want).then_some(()),
            || {
                format!(
                    "{:?}\n{}\n{}\n{}",
                    self.hops(prefix),
                    self.bird.cmd("show route all").unwrap_or_default(),
                    self.bird.cmd("show protocols all h1").unwrap_or_default(),
                    self.lab.status_json("node-1")["peers"]
                )
            },
        );
        t.elapsed()
    }

    /// Which nodes 60 connections from the client to `ip` reach.
    fn reached(&self, ip: &str) -> BTreeSet<String> {
        // The IPv6 responders listen on 8081: [::]:8080 would take IPv4 too.
        let port = if ip.contains(':') { 8081 } else { 8080 };
        let code = format!(
            "import socket\nfor i in range(60):\n    for t in range(3):\n        try:\n            s = socket.create_connection(('{ip}', {port}), timeout=5)\n            print(s.recv(64).decode().strip())\n            s.close()\n            break\n        except OSError as e:\n            print('error', e, file=__import__('sys').stderr)\n"
        );
        let out = sh(&format!(
            "ip netns exec {} python3 -c \"{code}\"",
            self.client
        ));
        out.lines().map(str::to_string).collect()
    }

    fn vip_on_hosts(&self, ip: &str) {
        let len = if ip.contains(':') { 128 } else { 32 };
        for h in &self.hosts {
            sh(&format!("ip -n {h} addr add {ip}/{len} dev lo"));
        }
    }
}

/// An Eip and a Service: an address is allocated, written to both
/// statuses, and the leaf routes it to every Ready node; a client reaches
/// every node. Deleting the Service withdraws the route and frees the
/// address; one that asks for an address outside its pool gets an Event
/// and changes nothing.
#[test]
fn services_get_addresses_that_route_to_every_node() {
    let Some(c) = cluster("lbsvc") else { return };
    c.api.put(eip("pool", "192.0.2.128/29", true));
    c.api.put(service("web", false, json!({})));
    let ips = c.allocated("web", 1);
    assert_eq!(ips, ["192.0.2.128"]);
    let e = c
        .api
        .get("network.kubesphere.io/v1alpha2", "Eip", "", "pool")
        .unwrap();
    assert_eq!(e["status"]["used"]["192.0.2.128"], "default/web", "{e}");
    assert_eq!(
        (
            e["status"]["usage"].as_u64(),
            e["status"]["poolSize"].as_u64()
        ),
        (Some(1), Some(8))
    );
    assert_eq!(e["status"]["firstIP"], "192.0.2.128");
    c.wait_hops(
        "192.0.2.128/32",
        &["198.51.100.3", "198.51.100.4", "198.51.100.5"],
    );
    assert_eq!(
        c.bird.fib("192.0.2.128/32").len(),
        3,
        "ECMP in the leaf's FIB"
    );
    // Service changes go out as UPDATEs: no session resets, to the end.
    let since = |c: &Cluster| -> Vec<Option<String>> {
        (1..=3).map(|i| c.bird.up_since(&format!("h{i}"))).collect()
    };
    let sessions = since(&c);
    c.vip_on_hosts("192.0.2.128");
    // Each node's status says what it announces, and from which pool.
    let st = c.lab.status_json("node-1");
    let line = &st["cluster"]["services"][0];
    assert_eq!(
        (
            &line["service"],
            &line["pool"],
            &line["policy"],
            &line["announced"]
        ),
        (
            &json!("default/web"),
            &json!("pool"),
            &json!("Cluster"),
            &json!(true)
        ),
        "{st}"
    );
    assert_eq!(st["cluster"]["pools"][0]["used"], 1);
    if cfg!(feature = "metrics") {
        let (code, m) = support::curl(&c.hosts[0], "GET", "http://127.0.0.1:9179/metrics", 5);
        assert_eq!(code, 200);
        for want in [
            "leafvip_service_addresses_announced 1",
            "leafvip_pool_addresses_used{pool=\"pool\"} 1",
            "leafvip_pool_addresses{pool=\"pool\"} 8",
        ] {
            assert!(m.contains(want), "{want}: {m}");
        }
    }
    let reached = c.reached("192.0.2.128");
    assert_eq!(
        reached,
        NODES.iter().map(|n| n.0.to_string()).collect(),
        "every node answers"
    );

    // A node that is not Ready stops announcing.
    let mut down = node("node-3");
    down["status"]["conditions"][0]["status"] = json!("False");
    c.api.put(down);
    c.wait_hops("192.0.2.128/32", &["198.51.100.3", "198.51.100.4"]);
    c.api.put(node("node-3"));
    c.wait_hops(
        "192.0.2.128/32",
        &["198.51.100.3", "198.51.100.4", "198.51.100.5"],
    );

    // Outside its pool: an Event, and nothing else changes.
    c.api.put(service(
        "odd",
        false,
        json!({"annotations": {"eip.openelb.kubesphere.io/v1alpha1": "198.51.100.77"}}),
    ));
    wait_for(
        T,
        "an Event on the Service",
        || {
            c.api
                .list("v1", "Event", "default")
                .iter()
                .any(|e| {
                    e["involvedObject"]["name"] == "odd"
                        && e["message"]
                            .as_str()
                            .unwrap_or("")
                            .contains("198.51.100.77 is not in any pool")
                })
                .then_some(())
        },
        || c.lab.log("node-1"),
    );
    assert!(c.status_ips("odd").is_empty());
    assert_eq!(c.status_ips("web"), ["192.0.2.128"]);

    // Deleted: the route goes and the address is free again.
    c.api.delete("v1", "Service", "default", "web");
    c.wait_hops("192.0.2.128/32", &[]);
    wait_for(
        T,
        "the address freed in the Eip",
        || {
            let e = c
                .api
                .get("network.kubesphere.io/v1alpha2", "Eip", "", "pool")?;
            (e["status"]["usage"] == 0).then_some(())
        },
        || c.lab.log("node-1"),
    );
    c.api.put(service("next", false, json!({})));
    assert_eq!(
        c.allocated("next", 1),
        ["192.0.2.128"],
        "the freed address is given again"
    );
    assert_eq!(
        since(&c),
        sessions,
        "no session reset by any Service change"
    );
}

/// externalTrafficPolicy Local: the leaf's next hops follow the Service's
/// endpoints, 3 nodes to 1 and back; a dual-stack Service is routed over
/// both families.
#[test]
fn local_services_follow_their_endpoints_and_dual_stack_routes_both() {
    let Some(c) = cluster("lblocal") else { return };
    c.api.put(eip("v4", "192.0.2.136/29", true));
    c.api.put(eip("v6", "2001:db8:1::/120", true));
    c.api.put(slice("loc", &["node-1", "node-2", "node-3"]));
    c.api.put(service("loc", true, json!({})));
    let ip = c.allocated("loc", 1).remove(0);
    let p = format!("{ip}/32");
    c.wait_hops(&p, &["198.51.100.3", "198.51.100.4", "198.51.100.5"]);
    c.api.put(slice("loc", &["node-2"]));
    let t = c.wait_hops(&p, &["198.51.100.4"]);
    let st = c.lab.status_json("node-1");
    let line = &st["cluster"]["services"][0];
    assert_eq!(line["announced"], false, "{st}");
    assert!(
        line["why"]
            .as_str()
            .unwrap()
            .contains("no ready endpoint on this node"),
        "{st}"
    );
    eprintln!("EndpointSlice 3 -> 1 nodes to the leaf's routes: {t:?}");
    let fib = Instant::now();
    wait_for(
        T,
        "the leaf's FIB",
        || (c.bird.fib(&p) == ["198.51.100.4"]).then_some(()),
        || c.bird.route(&p),
    );
    eprintln!("  and to its FIB: {:?} more", fib.elapsed());
    c.api.put(slice("loc", &["node-1", "node-2", "node-3"]));
    let t = c.wait_hops(&p, &["198.51.100.3", "198.51.100.4", "198.51.100.5"]);
    eprintln!("EndpointSlice 1 -> 3 nodes to the leaf's routes: {t:?}");

    c.api.put(service(
        "dual",
        false,
        json!({"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]}),
    ));
    let ips = c.allocated("dual", 2);
    assert!(
        ips[0].starts_with("192.0.2.") && ips[1].starts_with("2001:db8:1::"),
        "{ips:?}"
    );
    c.wait_hops(
        &format!("{}/32", ips[0]),
        &["198.51.100.3", "198.51.100.4", "198.51.100.5"],
    );
    c.wait_hops(
        &format!("{}/128", ips[1]),
        &["2001:db8:100::3", "2001:db8:100::4", "2001:db8:100::5"],
    );
    c.vip_on_hosts(&ips[1]);
    assert!(!c.reached(&ips[1]).is_empty(), "the IPv6 address answers");
}

/// The allocator's Lease: kill the agent that holds it and another takes
/// it within its expiry; no address moves, and a Service created meanwhile
/// gets one. Then a leader frozen in the middle of allocating 50 new
/// Services, and thawed after another took over, gives no address twice.
#[test]
fn leader_loss_moves_no_address_and_races_give_none_twice() {
    let Some(mut c) = cluster("lblead") else {
        return;
    };
    c.api.put(eip("pool", "192.0.2.0/25", true));
    for i in 0..5 {
        c.api.put(service(&format!("s{i}"), false, json!({})));
    }
    let before: Vec<Vec<String>> = (0..5).map(|i| c.allocated(&format!("s{i}"), 1)).collect();
    let holder = || {
        c.api
            .get(
                "coordination.k8s.io/v1",
                "Lease",
                "leafvip-system",
                "leafvip-allocator",
            )
            .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
    };
    let first = holder().expect("a leader");
    let i = NODES.iter().position(|n| n.0 == first).unwrap();
    c.lab
        .proc(c.daemons[i])
        .signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    c.api.put(service("meanwhile", false, json!({})));
    let second = wait_for(
        Duration::from_secs(40),
        "another agent to hold the Lease",
        || holder().filter(|h| *h != first),
        || c.lab.log("node-1") + &c.lab.log("node-2") + &c.lab.log("node-3"),
    );
    eprintln!(
        "Lease taken over {:?} after the kill (duration 15 s)",
        killed.elapsed()
    );
    assert!(
        killed.elapsed() < Duration::from_secs(15 + 2 + 5),
        "within the Lease's expiry and a renewal"
    );
    assert_eq!(c.allocated("meanwhile", 1).len(), 1);
    let after: Vec<Vec<String>> = (0..5).map(|i| c.status_ips(&format!("s{i}"))).collect();
    assert_eq!(before, after, "no address moved");

    // The new leader freezes while 50 Services come; a third agent takes
    // over; the frozen one thaws mid-pass with what it read before.
    let j = NODES.iter().position(|n| n.0 == second).unwrap();
    for k in 0..50 {
        c.api.put(service(&format!("r{k}"), false, json!({})));
    }
    c.lab
        .proc(c.daemons[j])
        .signal(nix::sys::signal::Signal::SIGSTOP);
    wait_for(
        Duration::from_secs(40),
        "a third agent to hold the Lease",
        || holder().filter(|h| *h != second).map(|_| ()),
        || c.lab.log("node-1") + &c.lab.log("node-2") + &c.lab.log("node-3"),
    );
    c.lab
        .proc(c.daemons[j])
        .signal(nix::sys::signal::Signal::SIGCONT);
    let mut seen = BTreeSet::new();
    for k in 0..50 {
        for ip in c.allocated(&format!("r{k}"), 1) {
            assert!(seen.insert(ip.clone()), "{ip} given twice");
        }
    }
    std::thread::sleep(Duration::from_secs(3));
    let all: Vec<String> = (0..50)
        .flat_map(|k| c.status_ips(&format!("r{k}")))
        .collect();
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>().len(),
        50,
        "still 50 distinct addresses"
    );
}
