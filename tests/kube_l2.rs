//! Layer-2 Eips in cluster mode, in the lab of `support/l2.rs`: three
//! nodes on one segment, each running leafvip against the fake API
//! server, which holds their Nodes, two `protocol: layer2` Eips (one by
//! interface name, one by `can_reach:`) and a dual-stack Service. What is
//! asserted is what the client sees: which MAC answers its ARP and NDP,
//! and which node its connections reach, also with the API server down.
#![cfg(all(feature = "kube", feature = "l2"))]
mod support;

use kube_test_server::Server;
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use support::l2::{mac, under_load, L2Lab, VIP4, VIP6};
use support::{can_run, wait_for};

const HOSTS: [&str; 3] = ["h1", "h2", "h3"];

fn node(name: &str) -> Value {
    let n: u8 = name[1..].parse().unwrap();
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name},
           "status": {"conditions": [{"type": "Ready", "status": "True"}],
                      "addresses": [{"type": "InternalIP", "address": format!("198.51.100.{n}")},
                                    {"type": "InternalIP", "address": format!("2001:db8:2::{n:x}")}]}})
}

fn eip(name: &str, address: &str, interface: &str) -> Value {
    json!({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "Eip",
           "metadata": {"name": name,
                        "annotations": {"eip.openelb.kubesphere.io/is-default-eip": "true"}},
           "spec": {"address": address, "protocol": "layer2", "interface": interface}})
}

fn service(local: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "namespace": "default",
                        "annotations": {"lb.kubesphere.io/v1alpha1": "openelb"}},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 8080}],
                    "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"],
                    "externalTrafficPolicy": if local { "Local" } else { "Cluster" }}})
}

fn start(l: &mut L2Lab, api: &Server, host: &str) -> usize {
    let ns = l.ns(host);
    let server = api.also_in_netns(&ns);
    let kubeconfig = l.lab.path(&format!("kubeconfig-{host}"));
    server.write_kubeconfig(&kubeconfig);
    let cfg = format!(
        "[node]\nname = \"{host}\"\n[kubernetes]\nkubeconfig = \"{}\"\n[bgp]\ndrain_time = 2\n",
        kubeconfig.display()
    );
    l.lab.leafvip(&ns, host, &cfg)
}

/// The host a new connection to `vip` reaches, once it is none of `not`.
fn owner(l: &L2Lab, vip: &str, not: &[&str]) -> String {
    wait_for(
        Duration::from_secs(20),
        &format!("a node to answer for {vip}, not {not:?}"),
        || l.reached(vip).filter(|h| !not.contains(&h.as_str())),
        || format!("{:?}", l.reached(vip)),
    )
}

/// Both VIPs' owners (each address has its own election).
fn owners(l: &L2Lab, not: &[&str]) -> [String; 2] {
    [owner(l, VIP4, not), owner(l, VIP6, not)]
}

fn monotonic() -> f64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9
}

fn n(h: &str) -> u8 {
    h[1..].parse().unwrap()
}

/// Waits until exactly these hosts' MACs answer ARP for VIP4 and NDP for
/// VIP6.
fn alone(l: &mut L2Lab, o: &[String; 2], what: &str) {
    let want = |h: &str| -> BTreeSet<String> { [mac(n(h))].into() };
    let mut last = Default::default();
    for _ in 0..10 {
        last = l.answering();
        if last.0 == want(&o[0]) && last.1 == want(&o[1]) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "{what}: want {o:?} alone, saw ARP {:?} NDP {:?}",
        last.0, last.1
    );
}

/// Waits for the Event that says `node` answers for `vip`.
fn wait_assigned(api: &Server, node: &str, vip: &str) {
    let want = format!("announcing {vip} from node \"{node}\" with protocol \"layer2\"");
    wait_for(
        Duration::from_secs(20),
        &format!("the Event: {want}"),
        || {
            api.list("v1", "Event", "default")
                .iter()
                .find(|e| {
                    e["involvedObject"]["name"] == "web"
                        && e["reason"] == "nodeAssigned"
                        && e["type"] == "Normal"
                        && e["message"] == want.as_str()
                })
                .map(|_| ())
        },
        || format!("{:?}", api.list("v1", "Event", "default")),
    );
}

/// `leafvip status --json`'s layer-2 rows of a host: (VIP, state, service).
fn rows(l: &L2Lab, host: &str) -> Vec<(String, String, String)> {
    rows_named(l, host)
        .into_iter()
        .map(|(v, s, svc, _)| (v, s, svc))
        .collect()
}

/// The same rows with the owner's node as the host names it.
fn rows_named(l: &L2Lab, host: &str) -> Vec<(String, String, String, String)> {
    let st = l.lab.status_json(host);
    st["l2"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            (s("vip"), s("state"), s("service"), s("node"))
        })
        .collect()
}

/// Waits until every node takes part for both addresses and the one of
/// highest priority holds each: the node that starts first takes an
/// address, and the highest preempts it after its 2 s preempt delay.
fn wait_settled(l: &L2Lab) {
    let best_holds = || {
        let all: Vec<Value> = HOSTS.iter().map(|h| l.lab.status_json(h)).collect();
        for vip in [VIP4, VIP6] {
            let rows: Vec<(u64, bool)> = all
                .iter()
                .filter_map(|st| {
                    let v = st["l2"].as_array()?.iter().find(|v| v["vip"] == vip)?;
                    Some((v["priority"].as_u64()?, v["state"] == "master"))
                })
                .collect();
            let best = rows.iter().max_by_key(|r| r.0)?;
            if rows.len() < HOSTS.len() || !best.1 {
                return None;
            }
        }
        Some(())
    };
    wait_for(
        Duration::from_secs(20),
        "the highest priority to hold each address",
        best_holds,
        String::new,
    );
}

/// Every host of `hosts` names the owner of each address in its status:
/// `o[0]` for VIP4 (heard by its InternalIP), `o[1]` for VIP6 (heard from
/// a link-local address, named by its priority).
fn all_name(l: &L2Lab, hosts: &[&str], o: &[String; 2], what: &str) {
    for h in hosts {
        wait_for(
            Duration::from_secs(10),
            &format!("{h} to name the owners ({what})"),
            || {
                let r = rows_named(l, h);
                let named = |vip: &str, n: &str| r.iter().any(|x| x.0 == vip && x.3 == n);
                (named(VIP4, &o[0]) && named(VIP6, &o[1])).then_some(())
            },
            || format!("{:?}, owners {o:?}", rows_named(l, h)),
        );
    }
}

#[test]
fn layer2_eips_fail_over_with_the_api_server_down_and_follow_endpoints() {
    if !can_run(&["arping", "ndisc6", "python3", "tcpdump"]) {
        return;
    }
    let mut l = L2Lab::new(&HOSTS);
    let api = Server::start_in_netns(&l.ns("h1"));
    for h in HOSTS {
        api.put(node(h));
    }
    api.put(eip("l2v4", VIP4, "eth0"));
    // The client's address: each node finds eth0 by it.
    api.put(eip("l2v6", VIP6, "can_reach:2001:db8:2::64"));
    api.put(service(false));
    let mut pids: Vec<usize> = HOSTS.iter().map(|h| start(&mut l, &api, h)).collect();

    // The allocator gives the Service both addresses, and the Eips say so
    // as OpenELB's do.
    wait_for(
        Duration::from_secs(20),
        "web allocated",
        || {
            let s = api.get("v1", "Service", "default", "web")?;
            let n = s["status"]["loadBalancer"]["ingress"].as_array()?.len();
            (n == 2).then_some(())
        },
        || format!("{:?}", api.get("v1", "Service", "default", "web")),
    );
    let e = api
        .get("network.kubesphere.io/v1alpha2", "Eip", "", "l2v4")
        .unwrap();
    assert_eq!(e["status"]["used"][VIP4], "default/web", "{e}");

    // One node answers for each address (each node's priority is a hash
    // of its name and the address), alone; its status names the Service.
    wait_settled(&l);
    let first = owners(&l, &[]);
    alone(&mut l, &first, "steady state");
    let r = rows(&l, &first[0]);
    assert!(
        r.iter()
            .any(|(v, s, svc)| v == VIP4 && s == "master" && svc == "default/web"),
        "{r:?}"
    );
    for h in HOSTS.iter().filter(|h| **h != first[0]) {
        let r = rows(&l, h);
        assert!(
            r.iter().any(|(v, s, _)| v == VIP4 && s == "backup"),
            "{h}: {r:?}"
        );
    }

    // Every node's status names the owner's node, in both families.
    all_name(&l, &HOSTS, &first, "steady state");
    // For that each agent lists every Node (a layer2 Eip exists), once:
    // its watch does not start again while the scope stays.
    let node_lists = || {
        api.requests()
            .iter()
            .filter(|r| r.contains("/api/v1/nodes?") && !r.contains("watch="))
            .filter(|r| !r.contains("fieldSelector"))
            .count()
    };
    let lists = node_lists();
    assert!((3..=6).contains(&lists), "{:#?}", api.requests());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(node_lists(), lists, "the Node watch started again");
    let text = l.lab.ctl("h1", "status");
    assert!(
        text.contains(&format!(
            "Service default/web, answered by node {}",
            first[0]
        )),
        "{text}"
    );

    // A Normal Event on the Service names the node that answers, as
    // MetalLB's `nodeAssigned` does.
    wait_assigned(&api, &first[0], VIP4);

    // The API server goes down, then VIP4's owner dies: the others replace
    // it on their own, and one answers alone for each address.
    api.set_down(true);
    std::thread::sleep(Duration::from_millis(500));
    // Under the client's load (100 new connections a second to each
    // address): the time from the kill to the first connection another
    // node answers, and the requests lost, as `KL2ROW` lines for
    // `bench/l2.sh` (a family whose owner lived loses nothing).
    let dead = first[0].clone();
    let i = HOSTS.iter().position(|h| *h == dead).unwrap();
    let mut at = 0.0;
    let loads = under_load(&mut l, 5, 0, |l| {
        at = monotonic();
        l.lab.proc(pids[i]).signal(Signal::SIGKILL);
        owner(l, VIP4, &[&dead]);
    });
    for ((j, fam), o) in loads.iter().zip(["ipv4", "ipv6"]).zip(&first) {
        let since = at - j["t0"].as_f64().unwrap();
        let first_ok = j["short"]["ok_at"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r[2] != dead.as_str() && r[1].as_f64().unwrap() >= since)
            .map(|r| r[1].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        let ms = ((first_ok - since) * 1000.0) as u64;
        let failed = j["short"]["failed"].as_u64().unwrap();
        eprintln!(
            "KL2ROW kill_api_down {fam} owner_killed={} first_ms={ms} failed={failed}",
            *o == dead
        );
        if *o == dead {
            assert!(ms < 2000, "{fam}: no other node within 2 s ({ms} ms)");
        } else {
            assert_eq!(failed, 0, "{fam}: its owner lived, yet requests failed");
        }
    }
    let second = owners(&l, &[&dead]);
    alone(&mut l, &second, "API server down, an owner killed");
    // The survivors name the new owners with the API server still down.
    let alive: Vec<&str> = HOSTS.iter().copied().filter(|h| *h != dead).collect();
    all_name(&l, &alive, &second, "API server down");

    // The API server back, the dead node's agent back: one owner each.
    // The new owner's Event, held while the API server was down, lands.
    api.set_down(false);
    wait_assigned(&api, &second[0], VIP4);
    pids[i] = start(&mut l, &api, &dead);
    std::thread::sleep(Duration::from_secs(4));
    let settled = owners(&l, &[]);
    alone(&mut l, &settled, "after the agent came back");

    // externalTrafficPolicy Local with the only ready endpoint on a node
    // that does not own VIP4: both addresses move there.
    let target = *HOSTS.iter().find(|h| **h != settled[0]).unwrap();
    api.put(
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abc", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.1"], "nodeName": target,
                       "conditions": {"ready": true, "serving": true, "terminating": false}}]}),
    );
    api.put(service(true));
    let others: Vec<&str> = HOSTS.iter().copied().filter(|h| *h != target).collect();
    let moved = [owner(&l, VIP4, &others), owner(&l, VIP6, &others)];
    alone(&mut l, &moved, "Local, its endpoint on one node");
    // An Eip whose interface a node lacks: that node says so in its
    // Service line, and answers for nothing of it.
    api.put(
        json!({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "Eip",
           "metadata": {"name": "l2bad"},
           "spec": {"address": "198.51.100.20", "protocol": "layer2", "interface": "eth9"}}),
    );
    let mut bad = service(false);
    bad["metadata"]["name"] = json!("bad");
    bad["metadata"]["annotations"]["eip.openelb.kubesphere.io/v1alpha2"] = json!("l2bad");
    bad["spec"]["ipFamilyPolicy"] = json!("SingleStack");
    bad["spec"]["ipFamilies"] = json!(["IPv4"]);
    api.put(bad);
    wait_for(
        Duration::from_secs(20),
        "h1 to say why it does not answer for default/bad",
        || {
            let st = l.lab.status_json("h1");
            let lines = st["cluster"]["services"].as_array()?.clone();
            lines
                .iter()
                .find(|x| x["service"] == "default/bad")
                .filter(|x| x.to_string().contains("interface eth9 does not exist"))
                .map(|_| ())
        },
        || l.lab.status_json("h1")["cluster"]["services"].to_string(),
    );
    assert!(rows(&l, "h1").iter().all(|(v, _, _)| v != "198.51.100.20"));
    // The others say why they do not take part.
    let st = l.lab.status_json(&settled[0]);
    let line = st["cluster"]["services"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["service"] == "default/web"))
        .map(|x| x.to_string())
        .unwrap_or_default();
    assert!(line.contains("no ready endpoint on this node"), "{line}");
    drop(pids);
}
