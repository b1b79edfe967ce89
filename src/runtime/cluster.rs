//! The shell's side of cluster mode (feature `kube`): it starts the
//! cluster thread ([`super::kube`]), whose events the core decides on
//! ([`crate::daemon::cluster`]), carries the core's Warning Events to it,
//! and writes the state of this node's sessions back into each BgpPeer's
//! `status.nodesPeerStatus[<node>]` ([`super::kube::KubeCmd`]).
use super::board::{Board, Vip};
use super::kube::{self, EventCmd, KubeCmd, KubeEvent};
use crate::daemon::Core;
use async_executor::LocalExecutor;
use async_io::Timer;
use futures_lite::StreamExt;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;
use std::time::SystemTime;

/// How often this node's sessions are compared with what it last wrote.
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// The way to the cluster thread's writes.
#[derive(Default)]
pub struct Link {
    writes: Option<async_channel::Sender<KubeCmd>>,
    /// The BgpPeer each object-made peer came from, for status writes.
    pub names: Rc<RefCell<BTreeMap<IpAddr, String>>>,
    /// The BgpPeers that hold an entry of this node's.
    written: Rc<RefCell<BTreeSet<String>>>,
}

impl Link {
    /// A Warning Event the core asks for.
    pub fn event(&self, e: EventCmd) {
        if let Some(tx) = &self.writes {
            let _ = tx.try_send(KubeCmd::Event(e));
        }
    }

    /// On shutdown: this node's entries leave the BgpPeers' status (its
    /// sessions are closing), waiting at most `wait` for the writes.
    pub async fn withdraw_status(&self, node: &str, wait: Duration) {
        let Some(tx) = self.writes.clone() else {
            return;
        };
        let objects = std::mem::take(&mut *self.written.borrow_mut());
        for object in objects {
            let _ = tx.try_send(KubeCmd::PeerStatus {
                object,
                node: node.to_string(),
                status: None,
            });
        }
        let (done, flushed) = async_channel::bounded(1);
        if tx.try_send(KubeCmd::Flush(done)).is_ok() {
            futures_lite::future::or(
                async {
                    let _ = flushed.recv().await;
                },
                async {
                    Timer::after(wait).await;
                },
            )
            .await;
        }
    }
}

/// Starts the cluster thread if `[kubernetes]` asks for anything, and
/// the task that writes this node's session state back; `link` is then
/// the way to its writes.
pub(super) fn start(
    core: &Core,
    clock: super::clock::Clock,
    board: &Rc<RefCell<Board>>,
    ex: &LocalExecutor<'static>,
    link: &mut Link,
) -> Result<Option<async_channel::Receiver<KubeEvent>>, super::StartError> {
    let Some(k) = core
        .config()
        .kubernetes
        .clone()
        .filter(|k| k.node_labels || k.peers_from_crds || k.services)
    else {
        return Ok(None);
    };
    let what = kube::Watch {
        node_labels: k.node_labels,
        peers: k.peers_from_crds,
        services: k
            .services
            .then(|| (k.lease_namespace.clone(), k.service_hosts)),
    };
    let node = core.node().to_string();
    let (rx, tx) =
        kube::start(node.clone(), what, k.kubeconfig).map_err(super::StartError::Cluster)?;
    if k.peers_from_crds {
        let task = write_status(
            clock,
            board.clone(),
            link.names.clone(),
            link.written.clone(),
            node,
            tx.clone(),
        );
        ex.spawn(task).detach();
    }
    link.writes = Some(tx);
    Ok(Some(rx))
}

/// This node's entry for one session, in OpenELB's shape (GoBGP's peer
/// state: upper-case state names, counters as strings).
fn node_peer_status(p: &crate::status::PeerStatus, local_as: u32, wall: SystemTime) -> Value {
    let now = k8s_openapi::jiff::Timestamp::try_from(wall).unwrap_or_default();
    let ago = |secs: u64| {
        now.checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(secs as i64))
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    let (uptime, downtime) = match p.uptime_secs {
        Some(up) => (Some(ago(up)), None),
        None => (None, Some(ago(p.state_secs))),
    };
    json!({
        "peerState": {
            "neighborAddress": p.peer.ip().to_string(),
            "peerAs": p.asn,
            "localAs": local_as,
            "sessionState": p.state.to_string().to_uppercase(),
            "routerId": p.router_id,
            "description": p.description,
            "messages": {
                "received": {"total": p.messages_in.to_string(), "update": p.updates_in.to_string()},
                "sent": {"total": p.messages_out.to_string(), "update": p.updates_out.to_string()},
            },
        },
        "timersState": {
            "negotiatedHoldTime": p.hold_time.map(|h| h.to_string()),
            "keepaliveInterval": p.keepalive.map(|k| k.to_string()),
            "uptime": uptime,
            "downtime": downtime,
        },
    })
}

/// What a change of makes a new write: not the counters, which move all
/// the time, nor the times, which follow from the state.
fn shape(v: &Value) -> (Value, Value, Value) {
    (
        v["peerState"]["sessionState"].clone(),
        v["peerState"]["routerId"].clone(),
        v["timersState"]["negotiatedHoldTime"].clone(),
    )
}

/// Every [`STATUS_EVERY`], this node's sessions with object-made peers,
/// compared with what was last written; what changed is written, and the
/// entries of peers no longer this node's are removed.
async fn write_status(
    clock: super::clock::Clock,
    board: Rc<RefCell<Board>>,
    names: Rc<RefCell<BTreeMap<IpAddr, String>>>,
    written: Rc<RefCell<BTreeSet<String>>>,
    node: String,
    tx: async_channel::Sender<KubeCmd>,
) {
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    let mut tick = Timer::interval(STATUS_EVERY);
    while tick.next().await.is_some() {
        let st = Board::status(&board, Vip::Nothing).await;
        let names = names.borrow().clone();
        let mut now = BTreeMap::new();
        for p in &st.peers {
            if let Some(object) = names.get(&p.peer.ip()) {
                now.insert(object.clone(), node_peer_status(p, st.asn, clock.wall()));
            }
        }
        let gone: Vec<String> = last
            .keys()
            .filter(|o| !now.contains_key(*o))
            .cloned()
            .collect();
        for object in gone {
            let cmd = KubeCmd::PeerStatus {
                object: object.clone(),
                node: node.clone(),
                status: None,
            };
            if tx.try_send(cmd).is_ok() {
                written.borrow_mut().remove(&object);
                last.remove(&object);
            }
        }
        for (object, v) in now {
            if last.get(&object).map(shape) == Some(shape(&v)) {
                continue;
            }
            let cmd = KubeCmd::PeerStatus {
                object: object.clone(),
                node: node.clone(),
                status: Some(v.clone()),
            };
            if tx.try_send(cmd).is_ok() {
                written.borrow_mut().insert(object.clone());
                last.insert(object, v);
            }
        }
    }
}
