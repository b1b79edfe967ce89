//! Which Service addresses this node announces, and why not the others.
//! Pure: the Services (their status addresses), this node's state and
//! where its endpoints are in; addresses and reasons out.
//!
//! - `externalTrafficPolicy: Cluster`: every Ready node announces.
//! - `Local`: only a node with an endpoint of the Service that is ready,
//!   or still serving while it terminates (so a rollout's old pod keeps
//!   its route until it is gone).
//! - A node that is not Ready, or labelled
//!   `node.kubernetes.io/exclude-from-external-load-balancers`, announces
//!   nothing.
//!
//! A rack speaker (`service_next_hop = "hosts"`) applies the same rules to
//! every Node at once: each address goes out with the nodes that may
//! carry it as next hops, and the plan sends each leaf its own rack's.
use super::object::{EndpointSlice, Node};
use super::service::Svc;
use crate::labels::Labels;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// The label that takes a node out of external load balancers.
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
/// The label that names an EndpointSlice's Service, set by the
/// EndpointSlice controller when it creates the slice and never changed.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeState {
    pub ready: bool,
    pub excluded: bool,
}

impl NodeState {
    /// Why a node in this state carries no Service traffic, if it does not.
    fn why_not(self) -> Option<&'static str> {
        if !self.ready {
            Some("not Ready")
        } else if self.excluded {
            Some("labelled node.kubernetes.io/exclude-from-external-load-balancers")
        } else {
            None
        }
    }
}

/// A Node, pruned to what a rack speaker announces it by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub state: NodeState,
    /// Its first InternalIP of each family.
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
    pub labels: Labels,
}

/// A Node object as [`NodeInfo`].
pub fn node_info(node: &Node) -> NodeInfo {
    let ips = || node.internal_ips.iter().copied();
    NodeInfo {
        state: node_state(node),
        v4: ips().find_map(|a| match a {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }),
        v6: ips().find_map(|a| match a {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        }),
        labels: node.meta.labels.clone(),
    }
}

/// A Node object's readiness (its Ready condition) and exclusion label.
pub fn node_state(node: &Node) -> NodeState {
    NodeState {
        ready: node.ready,
        excluded: node.meta.labels.contains_key(EXCLUDE_LABEL),
    }
}

/// An EndpointSlice, pruned: the nodes with an endpoint that may take
/// traffic, sorted; only `only` when given (a node that speaks for itself
/// needs no other). Empty for a slice of no Service (no
/// `kubernetes.io/service-name` label).
pub fn slice_nodes(slice: &EndpointSlice, only: Option<&str>) -> Vec<String> {
    if !slice.meta.labels.contains_key(SERVICE_NAME_LABEL) {
        return Vec::new();
    }
    let mut nodes: Vec<String> = slice
        .endpoints
        .iter()
        .filter(|e| e.ready || (e.serving && e.terminating))
        .map(|e| e.node.as_str())
        .filter(|n| !n.is_empty() && only.is_none_or(|o| o == *n))
        .map(str::to_string)
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes.shrink_to_fit();
    nodes
}

/// The nodes that may carry an address, sorted; None: every one the
/// speaker knows (all of them are eligible).
pub type Only = Option<Arc<[String]>>;

/// What this node announces, in the order of the Services (the VIP list
/// sorts them and drops repeats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announce {
    /// For a node that speaks for itself, `only` is always None.
    pub addrs: Vec<(IpAddr, Only)>,
    /// Services with an address that this node does not announce, and why.
    pub not: Vec<(String, String)>,
}

/// `here`: the Services with a usable endpoint on this node.
pub fn announce<'a>(
    services: impl IntoIterator<Item = &'a Svc>,
    node: NodeState,
    here: &BTreeSet<String>,
) -> Announce {
    let mut out = Announce::default();
    for s in services
        .into_iter()
        .filter(|s| s.ours && !s.current.is_empty())
    {
        let why = match node.why_not() {
            Some(w) => Some(format!("this node is {w}")),
            None if s.local && !here.contains(&s.key) => {
                Some("externalTrafficPolicy Local and no ready endpoint on this node".into())
            }
            None => None,
        };
        match why {
            Some(w) => out.not.push((s.key.clone(), w)),
            None => out.addrs.extend(s.current.iter().map(|a| (*a, None))),
        }
    }
    out
}

/// Whether a rack speaker may name this Node as a next hop.
pub fn eligible(n: &NodeInfo) -> bool {
    n.state.why_not().is_none() && (n.v4.is_some() || n.v6.is_some())
}

/// What a rack speaker announces: each Service address with the nodes
/// that may carry it. `nodes`: every Node; `usable(service)`: the nodes
/// with an endpoint of it that may take traffic, sorted.
pub fn announce_hosts<'a>(
    services: impl IntoIterator<Item = &'a Svc>,
    nodes: &BTreeMap<String, NodeInfo>,
    usable: &dyn Fn(&str) -> Vec<String>,
) -> Announce {
    let none = !nodes.values().any(eligible);
    let mut out = Announce::default();
    for s in services
        .into_iter()
        .filter(|s| s.ours && !s.current.is_empty())
    {
        let only: Only = s.local.then(|| {
            let mut set = usable(&s.key);
            set.retain(|n| nodes.get(n).is_some_and(eligible));
            set.into()
        });
        let why = if none {
            Some("no Node is Ready and not excluded, with an InternalIP")
        } else if only.as_ref().is_some_and(|o| o.is_empty()) {
            Some("externalTrafficPolicy Local and no ready endpoint on a Ready node")
        } else {
            None
        };
        match why {
            Some(w) => out.not.push((s.key.clone(), w.to_string())),
            None => out
                .addrs
                .extend(s.current.iter().map(|a| (*a, only.clone()))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::object::tests::meta;
    use serde_json::json;

    fn node(o: serde_json::Value) -> Node {
        Node::read(meta(&o), &o)
    }

    fn svc(key: &str, ip: &str, local: bool) -> Svc {
        Svc {
            key: key.into(),
            namespace: "a".into(),
            uid: String::new(),
            created: String::new(),
            ours: true,
            v4: true,
            v6: false,
            pools: vec![],
            requested: vec![],
            current: vec![ip.parse().unwrap()],
            claimed: vec![],
            local,
        }
    }

    #[test]
    fn cluster_everywhere_ready_local_where_its_endpoints_are() {
        let s = [
            svc("a/c", "192.0.2.1", false),
            svc("a/l", "192.0.2.2", true),
        ];
        let ready = NodeState {
            ready: true,
            excluded: false,
        };
        let none = BTreeSet::new();
        let a = announce(&s, ready, &none);
        assert_eq!(a.addrs, [("192.0.2.1".parse::<IpAddr>().unwrap(), None)]);
        assert_eq!(a.not[0].0, "a/l");
        let here: BTreeSet<String> = ["a/l".to_string()].into();
        assert_eq!(announce(&s, ready, &here).addrs.len(), 2);
        let down = announce(
            &s,
            NodeState {
                ready: false,
                excluded: false,
            },
            &here,
        );
        assert!(down.addrs.is_empty() && down.not.len() == 2);
        let out = announce(
            &s,
            NodeState {
                ready: true,
                excluded: true,
            },
            &here,
        );
        assert!(out.addrs.is_empty());
    }

    #[test]
    fn slices_and_nodes_read_pruned() {
        let slice = |ready: Option<bool>, serving: bool, terminating: bool| -> EndpointSlice {
            let mut c = json!({"serving": serving, "terminating": terminating});
            if let Some(r) = ready {
                c["ready"] = json!(r);
            }
            let o = json!({"metadata": {"namespace": "a", "labels": {"kubernetes.io/service-name": "l"}},
                   "endpoints": [{"nodeName": "n2", "conditions": {"ready": true}},
                                 {"nodeName": "n1", "conditions": c}]});
            EndpointSlice::read(meta(&o), &o)
        };
        assert_eq!(
            slice_nodes(&slice(Some(true), true, false), None),
            ["n1", "n2"]
        );
        let usable = |r, sv, t, n| !slice_nodes(&slice(r, sv, t), Some(n)).is_empty();
        assert!(usable(None, false, false, "n1"), "no ready field: ready");
        assert!(!usable(Some(false), false, false, "n1"));
        assert!(
            usable(Some(false), true, true, "n1"),
            "terminating but serving"
        );
        assert!(!usable(Some(true), true, false, "n3"), "no endpoint on n3");
        let n = node(json!({"metadata": {"labels": {EXCLUDE_LABEL: ""}},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
        assert_eq!(
            node_state(&n),
            NodeState {
                ready: true,
                excluded: true
            }
        );
        assert!(!node_state(&node(json!({}))).ready);
        let n = node(json!({"metadata": {"labels": {"rack": "leaf1"}},
                       "status": {"addresses": [{"type": "Hostname", "address": "n1"},
                                                {"type": "InternalIP", "address": "2001:db8::3"},
                                                {"type": "InternalIP", "address": "198.51.100.3"},
                                                {"type": "InternalIP", "address": "198.51.100.9"}]}}));
        let i = node_info(&n);
        assert_eq!(
            (i.v4, i.v6, i.labels["rack"].as_str()),
            (
                Some("198.51.100.3".parse().unwrap()),
                Some("2001:db8::3".parse().unwrap()),
                "leaf1"
            )
        );
    }

    /// A rack speaker: Cluster goes to every eligible node, Local to its
    /// endpoints' eligible nodes; not Ready, excluded or address-less
    /// nodes carry nothing.
    #[test]
    fn a_rack_speaker_announces_each_address_with_its_nodes() {
        let node = |ready: bool, excluded: bool, v4: Option<&str>| NodeInfo {
            state: NodeState { ready, excluded },
            v4: v4.map(|a| a.parse().unwrap()),
            v6: None,
            labels: Labels::new(),
        };
        let nodes: BTreeMap<String, NodeInfo> = [
            ("n1", node(true, false, Some("198.51.100.3"))),
            ("n2", node(true, false, Some("198.51.100.4"))),
            ("n3", node(false, false, Some("198.51.100.5"))),
            ("n4", node(true, true, Some("198.51.100.6"))),
            ("n5", node(true, false, None)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let s = [
            svc("a/c", "192.0.2.1", false),
            svc("a/l", "192.0.2.2", true),
            svc("a/m", "192.0.2.3", true),
            svc("a/z", "192.0.2.4", true),
        ];
        let usable = |s: &str| -> Vec<String> {
            let n: &[&str] = match s {
                "a/l" => &["n2", "n3", "n4", "n5"],
                "a/m" => &["n2"],
                "a/z" => &["n3"],
                _ => &[],
            };
            n.iter().map(|x| x.to_string()).collect()
        };
        let a = announce_hosts(&s, &nodes, &usable);
        let got: Vec<(String, Option<Vec<String>>)> = a
            .addrs
            .iter()
            .map(|(ip, o)| (ip.to_string(), o.as_ref().map(|o| o.to_vec())))
            .collect();
        let n2 = Some(vec!["n2".to_string()]);
        assert_eq!(
            got,
            [
                ("192.0.2.1".into(), None),
                ("192.0.2.2".into(), n2.clone()),
                ("192.0.2.3".into(), n2)
            ]
        );
        assert_eq!(a.not.len(), 1);
        assert!(a.not[0].1.contains("no ready endpoint on a Ready node"));
        let none = BTreeMap::new();
        let a = announce_hosts(&s[..1], &none, &usable);
        assert!(a.addrs.is_empty() && a.not[0].1.contains("no Node is Ready"));
    }
}
