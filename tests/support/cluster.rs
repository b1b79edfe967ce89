//! LoadBalancer Services in the two-rack fabric (`fabric.rs`): the fake
//! API server holds a Node per host (rack label, Ready, InternalIPs), a
//! BgpConf (AS 65100) and a BgpPeer per leaf, selected by rack; leafvip
//! runs in cluster mode on every host. Helpers read the objects' status
//! and the routers' FIBs.
use super::bird::Bird;
use super::fabric::{build, Fabric, HOSTS, LEAVES};
use super::wait_for;
use kube_test_server::Server;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const T: Duration = Duration::from_secs(30);

/// Who speaks BGP, and for whom.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Speakers {
    /// Every node peers with its leaf and announces itself.
    EveryNode,
    /// master1 and worker2 (labelled `speaker: "yes"`) peer for their racks
    /// and announce the rack's Ready nodes (`service_next_hop = "hosts"`);
    /// worker1 runs the agent but peers with nobody.
    PerRack,
}

pub struct Cluster {
    pub f: Fabric,
    pub api: Server,
    /// The leafvip process of each host, in HOSTS order.
    pub daemons: Vec<usize>,
}

/// A Ready Node of the fabric, in its rack.
pub fn node(name: &str) -> Value {
    let h = HOSTS.iter().find(|h| h.name == name).unwrap();
    let mut labels = json!({"rack": h.rack});
    if name == "master1" || name == "worker2" {
        labels["speaker"] = json!("yes");
    }
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "labels": labels},
           "status": {"conditions": [{"type": "Ready", "status": "True"}],
                      "addresses": [{"type": "InternalIP", "address": h.v4},
                                    {"type": "InternalIP", "address": h.v6},
                                    {"type": "Hostname", "address": name}]}})
}

pub fn eip(name: &str, address: &str, default: bool) -> Value {
    let mut e = json!({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "Eip",
                       "metadata": {"name": name}, "spec": {"address": address}});
    if default {
        e["metadata"]["annotations"] = json!({"eip.openelb.kubesphere.io/is-default-eip": "true"});
    }
    e
}

/// An OpenELB Service; `extra` holds spec fields and `annotations`.
pub fn service(name: &str, local: bool, extra: Value) -> Value {
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

/// The Service's one EndpointSlice, with a ready endpoint on each node.
pub fn slice(service: &str, nodes: &[&str]) -> Value {
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

/// The fabric, the API server with its objects, and leafvip on every host;
/// returns once every speaker's session is up at its leaf.
pub fn cluster(tag: &str, speakers: Speakers) -> Cluster {
    let f = build(tag, &[]);
    let hosts: Vec<String> = HOSTS.iter().map(|h| f.host_ns(h.name)).collect();
    let api = Server::start_in_netns(&hosts[0]);
    for h in &HOSTS {
        api.put(node(h.name));
    }
    api.put(
        json!({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "BgpConf",
               "metadata": {"name": "default"}, "spec": {"as": 65100}}),
    );
    for l in &LEAVES {
        let mut sel = json!({"rack": l.name});
        if speakers == Speakers::PerRack {
            sel["speaker"] = json!("yes");
        }
        api.put(json!({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "BgpPeer",
            "metadata": {"name": l.name},
            "spec": {"conf": {"neighborAddress": l.gw4, "peerAs": l.asn},
                     "timers": {"config": {"connectRetry": "1"}},
                     "afiSafis": [{"config": {"family": {"afi": "AFI_IP", "safi": "SAFI_UNICAST"}}},
                                  {"config": {"family": {"afi": "AFI_IP6", "safi": "SAFI_UNICAST"}}}],
                     "nodeSelector": {"matchLabels": sel}}}));
    }
    let mut c = Cluster {
        f,
        api,
        daemons: Vec::new(),
    };
    for (i, h) in HOSTS.iter().enumerate() {
        let server = if i == 0 {
            c.api.clone()
        } else {
            c.api.also_in_netns(&hosts[i])
        };
        let kubeconfig = c.f.lab.path(&format!("kubeconfig-{}", h.name));
        server.write_kubeconfig(&kubeconfig);
        let cfg = format!(
            "[node]\nname = \"{}\"\n[kubernetes]\nkubeconfig = \"{}\"\nservice_next_hop = \"{}\"\n{}",
            h.name,
            kubeconfig.display(),
            match speakers {
                Speakers::EveryNode => "self",
                Speakers::PerRack => "hosts",
            },
            // One node serves metrics, in a build that has them.
            if i == 0 && cfg!(feature = "metrics") {
                "[control]\nhttp = \"127.0.0.1:9179\"\n"
            } else {
                ""
            }
        );
        let d = c.f.lab.leafvip(&hosts[i], h.name, &cfg);
        c.daemons.push(d);
    }
    for h in c.speakers(speakers) {
        let leaf = c.leaf_of(h);
        wait_for(
            T,
            &format!("session {h}"),
            || leaf.established(h).then_some(()),
            || c.f.lab.log(h),
        );
    }
    c
}

impl Cluster {
    pub fn speakers(&self, s: Speakers) -> Vec<&'static str> {
        match s {
            Speakers::EveryNode => HOSTS.iter().map(|h| h.name).collect(),
            Speakers::PerRack => vec!["master1", "worker2"],
        }
    }

    /// The BIRD leaf of a host's rack.
    pub fn leaf_of(&self, host: &str) -> &Bird {
        let rack = HOSTS.iter().find(|h| h.name == host).unwrap().rack;
        &self.f.leaves[LEAVES.iter().position(|l| l.name == rack).unwrap()]
    }

    pub fn host_ns(&self, name: &str) -> String {
        self.f.host_ns(name)
    }

    pub fn status_ips(&self, name: &str) -> Vec<String> {
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
    pub fn allocated(&self, name: &str, n: usize) -> Vec<String> {
        wait_for(
            T,
            &format!("{name} allocated"),
            || {
                let ips = self.status_ips(name);
                (ips.len() == n).then_some(ips)
            },
            || self.logs(),
        )
    }

    /// Waits until the allocator has written each Eip's status (its pool
    /// size): it has seen the pool. Most tests create their Services after
    /// this, so that the first allocation is the one they time;
    /// `services.rs::a_service_created_with_its_pools_gets_both_addresses`
    /// creates them together.
    pub fn eips_seen(&self, names: &[&str]) {
        for n in names {
            wait_for(
                T,
                &format!("Eip {n} seen by the allocator"),
                || {
                    let e = self
                        .api
                        .get("network.kubesphere.io/v1alpha2", "Eip", "", n)?;
                    e["status"]["poolSize"].as_u64().map(|_| ())
                },
                || self.logs(),
            );
        }
    }

    pub fn logs(&self) -> String {
        HOSTS.iter().map(|h| self.f.lab.log(h.name)).collect()
    }

    /// Waits until each router's FIB holds exactly these next hops for
    /// `prefix` (leaf1, leaf2, spine; leaves' hops toward the spine are
    /// 203.0.113.17/21, the spine's toward the leaves 203.0.113.18/22).
    /// Returns how long that took.
    pub fn wait_fibs(&self, prefix: &str, want: [&[&str]; 3]) -> Duration {
        let t = Instant::now();
        let routers = [&self.f.leaves[0], &self.f.leaves[1], &self.f.spine];
        wait_for(
            T,
            &format!("{prefix} via {want:?}"),
            || {
                routers
                    .iter()
                    .zip(want)
                    .all(|(r, w)| r.fib(prefix) == w)
                    .then_some(())
            },
            || {
                let fibs: Vec<Vec<String>> = routers.iter().map(|r| r.fib(prefix)).collect();
                format!(
                    "{fibs:?}\n{}\n{}",
                    self.f.leaves[0].route(prefix),
                    self.f.lab.status_json("master1")["cluster"]
                )
            },
        );
        t.elapsed()
    }

    /// Puts the address on every host's lo, where the responders answer.
    pub fn vip_on_hosts(&self, ip: &str) {
        let len = if ip.contains(':') { 128 } else { 32 };
        for h in &HOSTS {
            super::sh(&format!(
                "ip -n {} addr add {ip}/{len} dev lo",
                self.host_ns(h.name)
            ));
        }
    }

    /// Which hosts 90 connections from the client reach.
    pub fn reached(&self, ip: &str) -> std::collections::BTreeSet<String> {
        // The IPv6 responders listen on 8081: [::]:8080 would take IPv4 too.
        let port = if ip.contains(':') { 8081 } else { 8080 };
        self.f.reached(ip, port, 90)
    }

    /// Waits for an Event about the Service whose message holds `text`.
    pub fn event(&self, service: &str, text: &str) {
        wait_for(
            T,
            &format!("an Event on {service}: {text}"),
            || {
                self.api
                    .list("v1", "Event", "default")
                    .iter()
                    .any(|e| {
                        e["involvedObject"]["name"] == service
                            && e["message"].as_str().unwrap_or("").contains(text)
                    })
                    .then_some(())
            },
            || self.logs(),
        );
    }
}
