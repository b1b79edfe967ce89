//! LoadBalancer Services on the cluster thread (feature `kube`): watches
//! Services, Eips, EndpointSlices, Namespaces and this node's Node (every
//! Node for a rack speaker, `service_next_hop = "hosts"`), keeps
//! of each only what `crate::lb` reads, tells the loop which Service
//! addresses this node announces, and, on the agent that holds the Lease,
//! allocates (`alloc.rs`); what it keeps is `store.rs`.
//!
//! Everything runs as futures of the thread's one task, so the state is
//! an `Rc<RefCell<_>>`, never borrowed across an await. A change to it
//! wakes the decider through a one-slot channel: a burst of watch events
//! makes one pass.
use super::api::{self, KubeEvent, ServicesView};
use super::backoff::Backoff;
use super::store::{Ref, Shared, State, ALL, EIPS, NAMESPACES, NODE, SERVICES, SLICES};
use super::write::KubeCmd;
use crate::lb::announce;
use crate::lb::pool::{self, Pool};
use crate::lb::service;
use crate::status::SERVICES_SHOWN;
use futures_lite::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

/// How one kind is kept: its key, what to store, what to drop.
struct Keep {
    what: &'static str,
    bit: u8,
    upsert: fn(&mut State, &DynamicObject),
    remove: fn(&mut State, &DynamicObject),
    keys: fn(&State) -> Vec<String>,
    key: fn(&DynamicObject) -> String,
    drop_key: fn(&mut State, &str),
}

fn ns_key(o: &DynamicObject) -> String {
    format!(
        "{}/{}",
        o.metadata.namespace.as_deref().unwrap_or("default"),
        o.metadata.name.as_deref().unwrap_or_default()
    )
}

/// An EndpointSlice's key: `<service> <namespace>/<name>`, so that one
/// Service's slices sort together. The Service comes from the
/// `kubernetes.io/service-name` label, which the EndpointSlice controller
/// sets when it creates the slice and never changes.
fn slice_key(o: &DynamicObject) -> String {
    let ns = o.metadata.namespace.as_deref().unwrap_or("default");
    let svc = o
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/service-name"))
        .map_or("", String::as_str);
    format!("{ns}/{svc} {}", ns_key(o))
}

fn name_key(o: &DynamicObject) -> String {
    o.metadata.name.clone().unwrap_or_default()
}

/// The object as the pure readers take it, with the metadata they read
/// (name, namespace, uid, creation time, labels, annotations). Built by
/// hand: serializing ObjectMeta to a Value would link a second copy of its
/// serializer for nothing.
fn json(o: &DynamicObject) -> Value {
    let m = &o.metadata;
    let mut v = o.data.clone();
    v["metadata"] = serde_json::json!({
        "name": m.name,
        "namespace": m.namespace,
        "uid": m.uid,
        "creationTimestamp": m.creation_timestamp.as_ref().map(|t| t.0.to_string()),
        "labels": m.labels,
        "annotations": m.annotations,
    });
    v
}

const KEEP_SERVICES: Keep = Keep {
    what: "Service",
    bit: SERVICES,
    upsert: |st, o| match service::svc(&json(o)) {
        Some(s) => {
            let version = o.metadata.resource_version.clone().unwrap_or_default();
            st.services.insert(s.key.clone(), (s, version));
        }
        None => {
            st.services.remove(&ns_key(o));
        }
    },
    remove: |st, o| {
        st.services.remove(&ns_key(o));
    },
    keys: |st| st.services.keys().cloned().collect(),
    key: ns_key,
    drop_key: |st, k| {
        st.services.remove(k);
    },
};

const KEEP_EIPS: Keep = Keep {
    what: "Eip",
    bit: EIPS,
    upsert: |st, o| {
        let name = name_key(o);
        // DynamicObject keeps metadata apart from the rest.
        let ann = serde_json::to_value(&o.metadata.annotations).unwrap_or_default();
        let created = o
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(String::new(), |t| t.0.to_string());
        let p = pool::eip(&name, &ann, &o.data["spec"]).map(|p| Pool { created, ..p });
        st.eips
            .insert(name, (p, Ref::of(o), o.data["status"].clone()));
    },
    remove: |st, o| {
        st.eips.remove(&name_key(o));
    },
    keys: |st| st.eips.keys().cloned().collect(),
    key: name_key,
    drop_key: |st, k| {
        st.eips.remove(k);
    },
};

const KEEP_SLICES: Keep = Keep {
    what: "EndpointSlice",
    bit: SLICES,
    upsert: |st, o| match announce::slice_nodes(&json(o), (!st.hosts).then_some(st.node.as_str())) {
        nodes if !nodes.is_empty() => {
            st.slices.insert(slice_key(o), nodes);
        }
        _ => {
            st.slices.remove(&slice_key(o));
        }
    },
    remove: |st, o| {
        st.slices.remove(&slice_key(o));
    },
    keys: |st| st.slices.keys().cloned().collect(),
    key: slice_key,
    drop_key: |st, k| {
        st.slices.remove(k);
    },
};

const KEEP_NODE: Keep = Keep {
    what: "Node",
    bit: NODE,
    upsert: |st, o| {
        st.nodes.insert(name_key(o), announce::node_info(&json(o)));
    },
    remove: |st, o| {
        st.nodes.remove(&name_key(o));
    },
    keys: |st| st.nodes.keys().cloned().collect(),
    key: name_key,
    drop_key: |st, k| {
        st.nodes.remove(k);
    },
};

const KEEP_NAMESPACES: Keep = Keep {
    what: "Namespace",
    bit: NAMESPACES,
    upsert: |st, o| {
        let l = o.metadata.labels.clone().unwrap_or_default();
        st.namespaces.insert(name_key(o), l.into_iter().collect());
    },
    remove: |st, o| {
        st.namespaces.remove(&name_key(o));
    },
    keys: |st| st.namespaces.keys().cloned().collect(),
    key: name_key,
    drop_key: |st, k| {
        st.namespaces.remove(k);
    },
};

fn api(
    client: &Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

/// Keeps one kind in the state: a relist replaces what it held, each
/// event updates it, and every change wakes the decider.
async fn keep(
    api: Api<DynamicObject>,
    config: watcher::Config,
    k: Keep,
    st: Shared,
    wake: async_channel::Sender<()>,
    tx: async_channel::Sender<KubeEvent>,
) {
    let mut events = std::pin::pin!(watcher(api, config));
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut pause = Backoff::new();
    while let Some(ev) = events.next().await {
        let mut failed = false;
        match ev {
            Ok(watcher::Event::Init) => seen.clear(),
            Ok(watcher::Event::InitApply(o)) => {
                seen.insert((k.key)(&o));
                (k.upsert)(&mut st.borrow_mut(), &o);
            }
            Ok(watcher::Event::InitDone) => {
                let mut s = st.borrow_mut();
                for gone in (k.keys)(&s).into_iter().filter(|x| !seen.contains(x)) {
                    (k.drop_key)(&mut s, &gone);
                }
                s.synced |= k.bit;
            }
            Ok(watcher::Event::Apply(o)) => (k.upsert)(&mut st.borrow_mut(), &o),
            Ok(watcher::Event::Delete(o)) => (k.remove)(&mut st.borrow_mut(), &o),
            Err(e) => {
                failed = true;
                if tx
                    .send(KubeEvent::Error(format!("{}: {e}", k.what)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        let _ = wake.try_send(());
        pause.after(failed).await;
    }
}

/// What to run: the watches, the announcer, and the Lease and allocator.
pub async fn run(
    client: Client,
    node: String,
    (lease_namespace, hosts): (String, bool),
    tx: async_channel::Sender<KubeEvent>,
    writes: async_channel::Sender<KubeCmd>,
) {
    let st: Shared = Rc::new(RefCell::new(State {
        node: node.clone(),
        hosts,
        ..Default::default()
    }));
    let (wake, woken) = async_channel::bounded(1);
    let c = &client;
    let all = watcher::Config::default();
    let mut tasks: Vec<api::Task<'_>> = vec![
        Box::pin(keep(
            api(c, "", "v1", "Service", "services"),
            all.clone(),
            KEEP_SERVICES,
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
        Box::pin(keep(
            api(c, "network.kubesphere.io", api::VERSION, "Eip", "eips"),
            all.clone(),
            KEEP_EIPS,
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
        Box::pin(keep(
            api(
                c,
                "discovery.k8s.io",
                "v1",
                "EndpointSlice",
                "endpointslices",
            ),
            all.clone(),
            KEEP_SLICES,
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
        Box::pin(keep(
            api(c, "", "v1", "Node", "nodes"),
            match hosts {
                true => all.clone(),
                false => all.clone().fields(&format!("metadata.name={node}")),
            },
            KEEP_NODE,
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
        Box::pin(keep(
            api(c, "", "v1", "Namespace", "namespaces"),
            all,
            KEEP_NAMESPACES,
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
    ];
    tasks.push(Box::pin(super::alloc::lead(
        client.clone(),
        lease_namespace,
        node.clone(),
        st.clone(),
        wake.clone(),
    )));
    tasks.push(Box::pin(decide(client.clone(), st, woken, tx, writes)));
    api::join_all(tasks).await;
}

/// What this node announces, and the Services with an address (the
/// first [`SERVICES_SHOWN`] of them described: the view is kept and sent
/// whole, and a line per Service at 5,000 is a megabyte).
fn view(s: &State, allocations: u64) -> ServicesView {
    let svcs = || s.services.values().map(|(v, _)| v);
    let a = match s.hosts {
        true => announce::announce_hosts(svcs(), &s.nodes, &|k| s.usable(k)),
        false => announce::announce(
            svcs(),
            s.nodes.get(&s.node).map(|n| n.state).unwrap_or_default(),
            &s.here(),
        ),
    };
    let why: BTreeMap<&str, &str> = a
        .not
        .iter()
        .map(|(k, w)| (k.as_str(), w.as_str()))
        .collect();
    let ranges: Vec<(&String, &crate::lb::pool::Range)> = s
        .eips
        .iter()
        .filter_map(|(n, (p, _, _))| Some((n, &p.as_ref().ok()?.range)))
        .collect();
    let with_address = || svcs().filter(|v| v.ours && !v.current.is_empty());
    let lines = with_address()
        .take(SERVICES_SHOWN)
        .map(|v| {
            let w = why.get(v.key.as_str()).map(|w| w.to_string());
            crate::status::ServiceLine {
                service: v.key.clone(),
                addresses: v.current.iter().map(ToString::to_string).collect(),
                pool: ranges
                    .iter()
                    .find(|(_, r)| r.contains(v.current[0]))
                    .map_or(String::new(), |(n, _)| n.to_string()),
                policy: if v.local { "Local" } else { "Cluster" }.into(),
                announced: w.is_none(),
                why: w,
            }
        })
        .collect();
    let pools = s
        .eips
        .iter()
        .map(|(n, (_, _, status))| crate::status::PoolLine {
            pool: n.clone(),
            used: status["usage"].as_u64().unwrap_or(0),
            size: status["poolSize"].as_u64().unwrap_or(0),
        })
        .collect();
    // What a rack speaker may name as next hops: the eligible Nodes.
    let hosts = s.hosts.then(|| {
        s.nodes
            .iter()
            .filter(|(_, n)| n.state.ready && !n.state.excluded)
            .map(|(name, n)| crate::hosts::HostConfig {
                name: name.clone(),
                address: n.v4,
                address6: n.v6,
                labels: n.labels.clone(),
                check: None,
            })
            .collect()
    });
    ServicesView {
        addrs: a.addrs,
        hosts,
        total: with_address().count(),
        lines,
        pools,
        leader: s.leader,
        allocations,
    }
}

/// On every wake: what this node announces goes to the loop when it
/// changes; the leader allocates.
/// What one pass of the decider does.
#[derive(Debug, PartialEq, Eq)]
struct Step {
    /// Send the loop the view: the lists it is made of are complete (a
    /// partial list would withdraw what the rest holds), and it changed.
    tell: bool,
    /// Allocate: every list is complete (Eips and Namespaces too, or an
    /// address could be given twice) and this agent holds the Lease.
    allocate: bool,
}

fn step(synced: u8, leader: bool, last: Option<&ServicesView>, now: &ServicesView) -> Step {
    let ready = SERVICES | SLICES | NODE;
    Step {
        tell: synced & ready == ready && last != Some(now),
        allocate: synced == ALL && leader,
    }
}

async fn decide(
    client: Client,
    st: Shared,
    woken: async_channel::Receiver<()>,
    tx: async_channel::Sender<KubeEvent>,
    writes: async_channel::Sender<KubeCmd>,
) {
    let mut last: Option<ServicesView> = None;
    let mut alloc = super::alloc::Allocator::new(client, writes);
    while woken.recv().await.is_ok() {
        let (now, step) = {
            let s = st.borrow();
            let now = view(&s, alloc.allocations);
            let step = step(s.synced, s.leader, last.as_ref(), &now);
            (now, step)
        };
        if step.tell {
            let ev = KubeEvent::Services(Box::new(now.clone()));
            if tx.send(ev).await.is_err() {
                return;
            }
            last = Some(now);
        }
        if step.allocate {
            // After a conflict, pass again as soon as a watch brings the
            // newer version (usually within milliseconds), or after 200 ms
            // (a few tries; any later watch event wakes a pass anyway).
            for _ in 0..5 {
                if !alloc.pass(&st).await {
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), woken.recv()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests;
