//! The loop's side of cluster mode (feature `kube`): what the cluster
//! thread ([`super::kube`]) sees becomes labels, peers and global settings
//! here, and the state of this node's sessions goes back into each
//! BgpPeer's `status.nodesPeerStatus[<node>]` ([`super::kube::KubeCmd`]).
//!
//! An object that fails validation changes nothing else: it is left out
//! (a BgpPeer) or the last good one stays (the BgpConf), and its problem
//! goes to the log and into a Warning Event on it, once per problem.
use super::board::{Board, Vip};
use super::kube::{self, EventCmd, KubeCmd, KubeEvent, Object};
use super::{throttle, unix, Daemon};
use crate::config::{NextHopSpec, PeerConfig};
use crate::global::ClusterConf;
use crate::vip_list::Hop;
use async_io::Timer;
use futures_lite::StreamExt;
use leafvip_bgp::wire::Prefix;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;
use tracing::{error, info, warn};

/// How often this node's sessions are compared with what it last wrote.
const STATUS_EVERY: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct ClusterState {
    /// The last valid BgpConf `default`; None when there is none.
    pub conf: Option<ClusterConf>,
    log: throttle::Throttle,
    writes: Option<async_channel::Sender<KubeCmd>>,
    /// Per object, the problem last reported, so that an object is
    /// reported again only when its problem changes.
    reported: BTreeMap<(&'static str, String), String>,
    /// Unused fields already logged, per object and path.
    unused: BTreeSet<(String, String)>,
    /// The BgpPeer each object-made peer came from, for status writes.
    names: Rc<RefCell<BTreeMap<IpAddr, String>>>,
    /// The BgpPeers that hold an entry of this node's.
    written: Rc<RefCell<BTreeSet<String>>>,
}

impl Daemon<'_> {
    /// Starts the cluster thread if `[kubernetes]` asks for anything, and
    /// the task that writes this node's session state back.
    pub(super) fn start_cluster(
        &mut self,
    ) -> Result<Option<async_channel::Receiver<KubeEvent>>, String> {
        let Some(k) = self
            .cfg
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
        let (rx, tx) = kube::start(self.node.clone(), what, k.kubeconfig)?;
        if k.peers_from_crds {
            let task = write_status(
                self.board.clone(),
                self.cluster.names.clone(),
                self.cluster.written.clone(),
                self.node.clone(),
                tx.clone(),
            );
            self.ex.spawn(task).detach();
        }
        self.cluster.writes = Some(tx);
        Ok(Some(rx))
    }

    /// What the cluster thread saw: re-plan at once, as a labels-file
    /// change does; sessions that still match stay up.
    pub(super) fn cluster_event(&mut self, ev: KubeEvent) {
        let now = std::time::SystemTime::now();
        if !matches!(ev, KubeEvent::Error(_)) {
            let mut b = self.board.borrow_mut();
            let c = b.base.cluster.get_or_insert_with(Default::default);
            c.events += 1;
            c.last_event_unix = unix(now);
            c.connected = true;
        }
        match ev {
            KubeEvent::Labels(l) => {
                if l == self.node_labels {
                    return;
                }
                info!(labels = ?l, "the Node object's labels changed: re-planning");
                self.node_labels = l;
                if let Some((_, vips)) = self.inputs.take() {
                    self.inputs = Some((self.labels(), vips));
                }
                // spec.asPerRack follows the rack label.
                self.refresh_global();
                self.replan();
            }
            KubeEvent::Peers(objects) => {
                let n = objects.len();
                self.crd_peers = self.peers_from_objects(objects);
                self.note_objects(n);
                self.replan();
            }
            KubeEvent::Services(view) => {
                let spec = match view.hosts {
                    Some(_) => NextHopSpec::Hosts,
                    None => NextHopSpec::SelfAddress,
                };
                let vips: Vec<(Prefix, Hop)> = view
                    .addrs
                    .iter()
                    .filter_map(|(a, only)| {
                        let p = Prefix::new(*a, if a.is_ipv4() { 32 } else { 128 })?;
                        Some((
                            p,
                            Hop {
                                spec,
                                only: only.clone(),
                                withdrawn: false,
                            },
                        ))
                    })
                    .collect();
                let hosts = view.hosts.clone().unwrap_or_default();
                let changed = vips != self.service_vips || hosts != self.service_hosts;
                {
                    let mut b = self.board.borrow_mut();
                    let c = b.base.cluster.get_or_insert_with(Default::default);
                    c.service_addresses = vips.len();
                    c.services_total = view.total;
                    c.services = view.lines.clone();
                    c.pools = view.pools.clone();
                    c.leader = view.leader;
                    c.allocations = view.allocations;
                    c.announce_changes += u64::from(changed);
                }
                if changed {
                    info!(
                        addresses = vips.len(),
                        "Service addresses to announce changed"
                    );
                    self.service_vips = vips;
                    self.service_hosts = hosts;
                    self.replan();
                }
            }
            KubeEvent::Conf(o) => {
                self.conf_from_object(o);
                self.note_objects(usize::MAX);
                self.refresh_global();
                self.replan();
            }
            KubeEvent::Error(e) => {
                let mut b = self.board.borrow_mut();
                let c = b.base.cluster.get_or_insert_with(Default::default);
                c.connected = false;
                c.errors += 1;
                c.last_error = Some(crate::quote::clip(&e));
                drop(b);
                if let Some(more) = self.cluster.log.hit(std::time::Instant::now()) {
                    warn!(more, "cluster: {e}; keeping the last known state");
                }
            }
        }
    }

    /// Puts the objects' state on the board (`peers`: how many BgpPeers
    /// there are, usize::MAX to keep the count).
    fn note_objects(&mut self, peers: usize) {
        let mut b = self.board.borrow_mut();
        let c = b.base.cluster.get_or_insert_with(Default::default);
        if peers != usize::MAX {
            c.bgp_peers = peers;
        }
        c.bgp_peers_used = self.crd_peers.len();
        c.bgp_conf = self.cluster.conf.is_some();
        c.invalid = self.cluster.reported.values().cloned().collect();
    }

    fn conf_from_object(&mut self, o: Option<Object>) {
        let Some(o) = o else {
            if self.cluster.conf.take().is_some() {
                info!("BgpConf default deleted: [bgp] and the defaults apply");
            }
            self.cluster.reported.remove(&("BgpConf", "default".into()));
            return;
        };
        match crate::openelb::bgp_conf(&o.spec) {
            Ok(c) => {
                self.log_unused(&o, crate::openelb::CONF_USED, "BgpConf");
                self.cluster.reported.remove(&("BgpConf", o.name.clone()));
                self.cluster.conf = Some(c);
            }
            Err(e) => {
                let kept = if self.cluster.conf.is_some() {
                    "the last valid one stays in force"
                } else {
                    "ignored"
                };
                self.report("BgpConf", &o, format!("{e}; {kept}"));
            }
        }
    }

    /// OpenELB BgpPeer objects as peers. One that fails validation, or
    /// whose address the config or another object already has, is left
    /// out and reported; the others are unaffected.
    fn peers_from_objects(&mut self, objects: Vec<Object>) -> Vec<PeerConfig> {
        let mut out: Vec<PeerConfig> = Vec::new();
        let mut names = BTreeMap::new();
        let mut bad = BTreeSet::new();
        for o in &objects {
            let r = crate::openelb::bgp_peer(&o.name, &o.spec).and_then(|p| {
                match self.cfg.peers().chain(&out).any(|q| q.address == p.address) {
                    true => Err(format!(
                        "BgpPeer {}: spec.conf.neighborAddress {}: configured already \
                         (in the config or another BgpPeer)",
                        o.name, p.address
                    )),
                    false => Ok(p),
                }
            });
            match r {
                Ok(p) => {
                    self.log_unused(o, crate::openelb::PEER_USED, "BgpPeer");
                    names.insert(p.address, o.name.clone());
                    out.push(p);
                }
                Err(e) => {
                    bad.insert(o.name.clone());
                    self.report("BgpPeer", o, format!("{e}; the other peers are unaffected"));
                }
            }
        }
        // Objects fixed or gone are reported again if they break again.
        self.cluster
            .reported
            .retain(|(kind, name), _| *kind != "BgpPeer" || bad.contains(name));
        *self.cluster.names.borrow_mut() = names;
        out
    }

    /// Logs a problem with an object and writes a Warning Event on it,
    /// once for each problem it has.
    fn report(&mut self, kind: &'static str, o: &Object, why: String) {
        let key = (kind, o.name.clone());
        if self.cluster.reported.get(&key) == Some(&why) {
            return;
        }
        error!("{why}");
        if let Some(tx) = &self.cluster.writes {
            let _ = tx.try_send(KubeCmd::Event(EventCmd {
                kind,
                namespace: String::new(),
                name: o.name.clone(),
                uid: o.uid.clone(),
                version: o.version.clone(),
                reason: "InvalidSpec",
                message: why.clone(),
                node: self.node.clone(),
            }));
        }
        self.cluster.reported.insert(key, why);
    }

    /// On shutdown: this node's entries leave the BgpPeers' status (its
    /// sessions are closing), waiting at most `wait` for the writes.
    pub(super) async fn withdraw_status(&mut self, wait: Duration) {
        let Some(tx) = self.cluster.writes.clone() else {
            return;
        };
        let objects = std::mem::take(&mut *self.cluster.written.borrow_mut());
        for object in objects {
            let _ = tx.try_send(KubeCmd::PeerStatus {
                object,
                node: self.node.clone(),
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

    /// Fields leafvip does not read are kept by the API server, and said
    /// once per object and field: never an error.
    fn log_unused(&mut self, o: &Object, used: &[&str], kind: &str) {
        for path in crate::openelb::unused(&o.spec, used) {
            if self.cluster.unused.insert((o.name.clone(), path.clone())) {
                info!(
                    "{kind} {}: {path} is not used by leafvip; kept, ignored",
                    o.name
                );
            }
        }
    }
}

/// This node's entry for one session, in OpenELB's shape (GoBGP's peer
/// state: upper-case state names, counters as strings).
fn node_peer_status(p: &crate::status::PeerStatus, local_as: u32) -> Value {
    let now = k8s_openapi::jiff::Timestamp::now();
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
                now.insert(object.clone(), node_peer_status(p, st.asn));
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
