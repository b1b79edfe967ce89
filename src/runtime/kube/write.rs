//! What the agent writes to the cluster (feature `kube`), on the cluster
//! thread: Warning Events on OpenELB objects that fail validation, and
//! this node's entry in each BgpPeer's `status.nodesPeerStatus`, where
//! OpenELB users' dashboards read session state.
//!
//! A status write is a JSON merge patch of this node's key alone, so two
//! nodes writing the same object never overwrite each other's entries,
//! and there is no read-modify-write to lose an update in. A write that
//! fails (the API server down, 409, 429, 5xx) is kept and retried with a
//! pause doubling up to 4 s; a newer state for the same object replaces
//! it, so an outage leaves one write per object, never a backlog.
use k8s_openapi::api::core::v1::Event;
use kube::api::{ApiResource, DynamicObject};
use kube::{Api, Client};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};

/// Events waiting while the API server is away, at most; older ones go.
const EVENTS_HELD: usize = 64;

pub use crate::daemon::cluster::EventCmd;

/// What the loop asks the cluster thread to write.
#[derive(Debug, Clone)]
pub enum KubeCmd {
    /// A Warning Event on an object.
    Event(EventCmd),
    /// Answer once what was asked before has been tried (on shutdown).
    Flush(async_channel::Sender<()>),
    /// This node's entry in a BgpPeer's `status.nodesPeerStatus`; None
    /// removes it (the peer is no longer this node's).
    PeerStatus {
        object: String,
        node: String,
        status: Option<Value>,
    },
}

/// A core/v1 Event, as a dynamic object: k8s-openapi's typed Event would
/// link its whole (de)serializer for one write.
/// FNV-1a, for Event names that every node derives alike.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.bytes().chain([0])) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// An Event's name: the object's, and a hash of the object's version and
/// the problem. Every node that finds the same problem in the same
/// version names it alike, so the first create wins and the others get
/// 409, which counts as done: one Event per problem, not one per node.
fn event_name(name: &str, uid: &str, version: &str, message: &str) -> String {
    format!("{name}.{:016x}", fnv(&[uid, version, message]))
}

fn event(c: &EventCmd) -> DynamicObject {
    let EventCmd {
        kind,
        namespace,
        name,
        uid,
        version,
        reason,
        message,
        node,
    } = c;
    let (kind, reason) = (*kind, *reason);
    let now = k8s_openapi::jiff::Timestamp::now();
    // Built as a DynamicObject, not parsed from a Value: that would link a
    // second copy of ObjectMeta's deserializer.
    let ar = ApiResource::erase::<Event>(&());
    let mut o = DynamicObject::new(&event_name(name, uid, version, message), &ar)
        .within(event_namespace(namespace));
    o.data = json!({
        "involvedObject": {
            "apiVersion": match kind {
                "Service" => "v1".to_string(),
                _ => format!("network.kubesphere.io/{}", super::api::VERSION),
            },
            "kind": kind,
            "name": name,
            "namespace": (!namespace.is_empty()).then_some(namespace),
            "uid": uid,
        },
        "reason": reason,
        "message": message,
        // A layer-2 take-over is news, not a problem.
        "type": if reason == "nodeAssigned" { "Normal" } else { "Warning" },
        "count": 1,
        "firstTimestamp": now.to_string(),
        "lastTimestamp": now.to_string(),
        "source": {"component": "leafvip", "host": node},
        "reportingComponent": "leafvip",
        "reportingInstance": node,
    });
    o
}

/// Where an Event about an object goes: its namespace, or `default`.
fn event_namespace(ns: &str) -> &str {
    if ns.is_empty() {
        "default"
    } else {
        ns
    }
}

/// Whether a failed write is worth trying again (404: the object is gone).
fn retry(e: &kube::Error) -> bool {
    !matches!(e, kube::Error::Api(s) if s.code == 404 || s.code == 422)
}

/// Writes what the loop sends until the loop goes away.
pub async fn run(client: Client, rx: async_channel::Receiver<KubeCmd>) {
    let peers = super::api::openelb_api(client.clone(), "BgpPeer", "bgppeers");
    let event_api = ApiResource::erase::<Event>(&());
    let mut status: BTreeMap<(String, String), Option<Value>> = BTreeMap::new();
    let mut held: VecDeque<DynamicObject> = VecDeque::new();
    let mut flush: Vec<async_channel::Sender<()>> = Vec::new();
    let mut pause = super::backoff::Backoff::new();
    loop {
        if status.is_empty() && held.is_empty() {
            match rx.recv().await {
                Ok(c) => take(c, &mut status, &mut held, &mut flush),
                Err(_) => return,
            }
        }
        while let Ok(c) = rx.try_recv() {
            take(c, &mut status, &mut held, &mut flush);
        }
        let mut failed = false;
        for ((object, node), s) in std::mem::take(&mut status) {
            let body = json!({"status": {"nodesPeerStatus": {&node: s}}});
            let r = super::api::patch_status(&peers, &object, &body).await;
            if let Err(e) = r {
                if retry(&e) {
                    tracing::debug!("BgpPeer {object}: status for {node}: {e}; retrying");
                    failed = true;
                    status.entry((object, node)).or_insert(s);
                }
            }
        }
        while let Some(ev) = held.pop_front() {
            let ns = ev.metadata.namespace.clone().unwrap_or_default();
            let events: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &event_api);
            if let Err(e) = super::api::create(&events, &ev).await {
                // 409: another node wrote this very Event first.
                let written = matches!(&e, kube::Error::Api(s) if s.code == 409);
                if !written && retry(&e) {
                    tracing::debug!("event: {e}; retrying");
                    failed = true;
                    held.push_front(ev);
                    break;
                }
            }
        }
        for f in flush.drain(..) {
            let _ = f.try_send(());
        }
        if failed {
            // Wait, but wake for new work: it may replace what failed.
            // A closed channel means the daemon is exiting: stop, rather
            // than find it closed again at once and spin.
            let wait = tokio::time::sleep(pause.failed());
            let closed = futures_lite::future::or(
                async {
                    wait.await;
                    false
                },
                async {
                    match rx.recv().await {
                        Ok(c) => {
                            take(c, &mut status, &mut held, &mut flush);
                            false
                        }
                        Err(_) => true,
                    }
                },
            )
            .await;
            if closed {
                return;
            }
        } else {
            pause.succeeded();
        }
    }
}

fn take(
    c: KubeCmd,
    status: &mut BTreeMap<(String, String), Option<Value>>,
    held: &mut VecDeque<DynamicObject>,
    flush: &mut Vec<async_channel::Sender<()>>,
) {
    match c {
        KubeCmd::PeerStatus {
            object,
            node,
            status: s,
        } => {
            status.insert((object, node), s);
        }
        KubeCmd::Event(e) => {
            if held.len() == EVENTS_HELD {
                held.pop_front();
            }
            held.push_back(event(&e));
        }
        KubeCmd::Flush(done) => flush.push(done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_names_one_problem_alike() {
        let a = event_name("leaf1", "u-1", "42", "spec.conf.peerAs: required");
        assert_eq!(
            a,
            event_name("leaf1", "u-1", "42", "spec.conf.peerAs: required")
        );
        assert_ne!(
            a,
            event_name("leaf1", "u-1", "43", "spec.conf.peerAs: required")
        );
        assert_ne!(a, event_name("leaf1", "u-1", "42", "another problem"));
        assert!(a.starts_with("leaf1.") && a.len() == "leaf1.".len() + 16);
    }
}
