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
use super::service::Svc;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The label that takes a node out of external load balancers.
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeState {
    pub ready: bool,
    pub excluded: bool,
}

/// A Node object's readiness (its Ready condition) and exclusion label.
pub fn node_state(node: &Value) -> NodeState {
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    NodeState {
        ready,
        excluded: !node["metadata"]["labels"][EXCLUDE_LABEL].is_null(),
    }
}

/// An EndpointSlice, pruned: the Service it belongs to (`namespace/name`)
/// and whether it has an endpoint on `node` that may take traffic.
pub fn slice_here(slice: &Value, node: &str) -> Option<(String, bool)> {
    let svc = slice["metadata"]["labels"]["kubernetes.io/service-name"].as_str()?;
    let ns = slice["metadata"]["namespace"].as_str().unwrap_or("default");
    let usable = slice["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["nodeName"].as_str() == Some(node))
        .any(|e| {
            let c = &e["conditions"];
            // A missing `ready` means ready (discovery.k8s.io/v1).
            c["ready"].as_bool().unwrap_or(true)
                || (c["serving"].as_bool() == Some(true)
                    && c["terminating"].as_bool() == Some(true))
        });
    Some((format!("{ns}/{svc}"), usable))
}

/// What this node announces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announce {
    pub addrs: Vec<IpAddr>,
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
        let why = if !node.ready {
            Some("this node is not Ready")
        } else if node.excluded {
            Some("this node is labelled node.kubernetes.io/exclude-from-external-load-balancers")
        } else if s.local && !here.contains(&s.key) {
            Some("externalTrafficPolicy Local and no ready endpoint on this node")
        } else {
            None
        };
        match why {
            Some(w) => out.not.push((s.key.clone(), w.to_string())),
            None => out.addrs.extend(&s.current),
        }
    }
    out.addrs.sort();
    out.addrs.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert_eq!(a.addrs, ["192.0.2.1".parse::<IpAddr>().unwrap()]);
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
        let slice = |ready: Option<bool>, serving: bool, terminating: bool| {
            json!({"metadata": {"namespace": "a", "labels": {"kubernetes.io/service-name": "l"}},
                   "endpoints": [{"nodeName": "n2", "conditions": {"ready": true}},
                                 {"nodeName": "n1", "conditions": {"ready": ready, "serving": serving,
                                                                    "terminating": terminating}}]})
        };
        assert_eq!(
            slice_here(&slice(Some(true), true, false), "n1"),
            Some(("a/l".into(), true))
        );
        let usable = |r, sv, t, n| slice_here(&slice(r, sv, t), n).unwrap().1;
        assert!(usable(None, false, false, "n1"), "no ready field: ready");
        assert!(!usable(Some(false), false, false, "n1"));
        assert!(
            usable(Some(false), true, true, "n1"),
            "terminating but serving"
        );
        assert!(!usable(Some(true), true, false, "n3"), "no endpoint on n3");
        let n = json!({"metadata": {"labels": {EXCLUDE_LABEL: ""}},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(
            node_state(&n),
            NodeState {
                ready: true,
                excluded: true
            }
        );
        assert!(!node_state(&json!({})).ready);
    }
}
