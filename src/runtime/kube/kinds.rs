//! The five kinds the cluster thread keeps for `crate::lb`, each as a
//! [`Kind`]: how its objects are keyed, and what of each the [`State`]
//! keeps. One watch loop (`lb::keep`) serves them all through `&dyn
//! Kind`, so the watcher's code is linked once, not once per kind.
use super::store::{Ref, State, EIPS, NAMESPACES, NODE, SERVICES, SLICES};
use crate::lb::announce;
use crate::lb::object::{EipStatus, EndpointSlice, Meta, Node, Service};
use crate::lb::pool;
use crate::lb::service;
use kube::api::DynamicObject;
use std::collections::{BTreeMap, BTreeSet};

/// An object's metadata as `crate::lb` reads it.
pub fn meta(o: &DynamicObject) -> Meta {
    let m = &o.metadata;
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    Meta {
        name: s(&m.name),
        namespace: s(&m.namespace),
        uid: s(&m.uid),
        version: s(&m.resource_version),
        created: m
            .creation_timestamp
            .as_ref()
            .map_or(String::new(), |t| t.0.to_string()),
        labels: m.labels.clone().unwrap_or_default(),
        annotations: m.annotations.clone().unwrap_or_default(),
    }
}

/// One watched kind.
pub trait Kind: Sync {
    /// Its name, for errors.
    fn what(&self) -> &'static str;
    /// Its bit in [`State::synced`].
    fn bit(&self) -> u8;
    /// The key its objects are kept under.
    fn key(&self, m: &Meta) -> String;
    /// Keeps what `crate::lb` reads of an object under `key`, or forgets
    /// the key when the object has nothing for it.
    fn put(&self, st: &mut State, key: String, m: Meta, body: &serde_json::Value);
    /// What the state keeps of this kind.
    fn kept<'a>(&self, st: &'a mut State) -> &'a mut dyn Kept;
}

/// What the state keeps of one kind: a map by key. Two methods, each
/// linked once per kind; what is built on them ([`keep_only`]) once.
pub trait Kept {
    fn forget(&mut self, key: &str);
    fn keys(&self) -> Vec<String>;
}

impl<V> Kept for BTreeMap<String, V> {
    fn forget(&mut self, key: &str) {
        self.remove(key);
    }

    fn keys(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

/// After a relist: forgets every key the list did not have.
pub fn keep_only(kept: &mut dyn Kept, seen: &BTreeSet<String>) {
    for gone in kept.keys().into_iter().filter(|k| !seen.contains(k)) {
        kept.forget(&gone);
    }
}

/// `namespace/name`.
fn ns_key(m: &Meta) -> String {
    format!("{}/{}", m.namespace_or_default(), m.name)
}

pub struct Services;
pub struct Eips;
pub struct Slices;
pub struct Nodes;
pub struct Namespaces;

impl Kind for Services {
    fn what(&self) -> &'static str {
        "Service"
    }
    fn bit(&self) -> u8 {
        SERVICES
    }
    fn key(&self, m: &Meta) -> String {
        ns_key(m)
    }
    fn put(&self, st: &mut State, key: String, m: Meta, body: &serde_json::Value) {
        let version = m.version.clone();
        let o = Service::read(m, body);
        // Only LoadBalancer Services are kept.
        match service::svc(&o) {
            Some(s) => st.services.insert(key, (s, version)),
            None => st.services.remove(&key),
        };
    }
    fn kept<'a>(&self, st: &'a mut State) -> &'a mut dyn Kept {
        &mut st.services
    }
}

impl Kind for Eips {
    fn what(&self) -> &'static str {
        "Eip"
    }
    fn bit(&self) -> u8 {
        EIPS
    }
    fn key(&self, m: &Meta) -> String {
        m.name.clone()
    }
    fn put(&self, st: &mut State, key: String, m: Meta, body: &serde_json::Value) {
        let status = EipStatus::read(&body["status"]);
        let p = pool::eip(&m, &body["spec"]);
        st.eips.insert(key, (p, Ref::of(&m), status));
    }
    fn kept<'a>(&self, st: &'a mut State) -> &'a mut dyn Kept {
        &mut st.eips
    }
}

impl Kind for Slices {
    fn what(&self) -> &'static str {
        "EndpointSlice"
    }
    fn bit(&self) -> u8 {
        SLICES
    }
    /// `<service> <namespace>/<name>`, so that one Service's slices sort
    /// together (`State::usable`).
    fn key(&self, m: &Meta) -> String {
        let svc = m
            .labels
            .get(announce::SERVICE_NAME_LABEL)
            .map_or("", String::as_str);
        format!("{}/{svc} {}", m.namespace_or_default(), ns_key(m))
    }
    fn put(&self, st: &mut State, key: String, m: Meta, body: &serde_json::Value) {
        let o = EndpointSlice::read(m, body);
        // Most of a big cluster's slices have no endpoint here: only
        // those with one are kept.
        match announce::slice_nodes(&o, (!st.hosts).then_some(st.node.as_str())) {
            nodes if !nodes.is_empty() => st.slices.insert(key, nodes),
            _ => st.slices.remove(&key),
        };
    }
    fn kept<'a>(&self, st: &'a mut State) -> &'a mut dyn Kept {
        &mut st.slices
    }
}

impl Kind for Nodes {
    fn what(&self) -> &'static str {
        "Node"
    }
    fn bit(&self) -> u8 {
        NODE
    }
    fn key(&self, m: &Meta) -> String {
        m.name.clone()
    }
    fn put(&self, st: &mut State, key: String, m: Meta, body: &serde_json::Value) {
        let o = Node::read(m, body);
        let mut n = announce::node_info(&o);
        if !st.hosts && key != st.node {
            n.labels.clear();
        }
        st.nodes.insert(key, n);
    }
    fn kept<'a>(&self, st: &'a mut State) -> &'a mut dyn Kept {
        &mut st.nodes
    }
}

impl Kind for Namespaces {
    fn what(&self) -> &'static str {
        "Namespace"
    }
    fn bit(&self) -> u8 {
        NAMESPACES
    }
    fn key(&self, m: &Meta) -> String {
        m.name.clone()
    }
    /// Only the labels, which are metadata.
    fn put(&self, st: &mut State, key: String, m: Meta, _: &serde_json::Value) {
        st.namespaces.insert(key, m.labels);
    }
    fn kept<'a>(&self, st: &'a mut State) -> &'a mut dyn Kept {
        &mut st.namespaces
    }
}
