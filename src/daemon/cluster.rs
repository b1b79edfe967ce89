//! Cluster mode (feature `kube`) in the core: what the cluster thread saw
//! becomes labels, peers, Service addresses and global settings here, and
//! a problem with an object becomes a Warning Event on it.
//!
//! An object that fails validation changes nothing else: it is left out
//! (a BgpPeer) or the last good one stays (the BgpConf), and its problem
//! goes to the log and into a Warning Event on it, once per problem.
use super::{Core, Effect, Now};
use crate::config::{NextHopSpec, PeerConfig};
use crate::global::ClusterConf;
use crate::labels::Labels;
use crate::vip_list::Hop;
use leafvip_bgp::wire::Prefix;
use std::collections::{BTreeMap, BTreeSet};
use tracing::{error, info, warn};

/// LoadBalancer Services as this node sees them (`crate::lb::announce`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServicesView {
    /// The addresses this node announces, each with the only Nodes that
    /// may carry it when it names them (a rack speaker's Local Services).
    pub addrs: Vec<(std::net::IpAddr, crate::lb::announce::Only)>,
    /// A rack speaker's next hops: the Ready Nodes, not excluded.
    pub hosts: Option<Vec<crate::hosts::HostConfig>>,
    /// Services of ours with an address, and the first of them.
    pub total: usize,
    pub lines: Vec<crate::status::ServiceLine>,
    pub pools: Vec<crate::status::PoolLine>,
    pub leader: bool,
    pub allocations: u64,
    /// The layer-2 addresses this node offers to answer for.
    #[cfg(feature = "l2")]
    pub l2: Vec<crate::lb::layer2::L2Addr>,
    /// The nodes that may own them, to name the owner in `status`; None
    /// while no Eip is layer2.
    #[cfg(feature = "l2")]
    pub l2_owners: Option<std::sync::Arc<crate::lb::owners::Owners>>,
}

/// One OpenELB object as the core needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub name: String,
    /// For the Events written about it: every node names an Event about
    /// one version of one object alike, so the cluster gets one.
    pub uid: String,
    pub version: String,
    pub spec: serde_json::Value,
}

/// What the cluster thread tells the core.
#[derive(Debug, Clone, PartialEq)]
pub enum KubeEvent {
    /// The Node object's labels (empty when the object is gone).
    Labels(Labels),
    /// Every BgpPeer object, after each change.
    Peers(Vec<Object>),
    /// The BgpConf named `default`; None when there is none.
    Conf(Option<Object>),
    /// The Service addresses this node announces, and the Services with
    /// an address it does not announce, with why (`crate::lb::announce`).
    Services(Box<ServicesView>),
    /// A list or watch failed; the watcher retries with backoff.
    Error(String),
}

impl KubeEvent {
    /// Whether the core resolves the router ID again after it (with the
    /// host's address, which the runtime reads for these alone).
    pub fn resolves_router_id(&self) -> bool {
        matches!(self, KubeEvent::Labels(_) | KubeEvent::Conf(_))
    }
}

/// A Warning Event to write about an object (a BgpPeer, BgpConf, Eip or
/// Service).
#[derive(Debug, Clone, PartialEq)]
pub struct EventCmd {
    pub kind: &'static str,
    /// Empty for cluster-scoped objects (their Events go to `default`).
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The object's resourceVersion the problem was found in.
    pub version: String,
    pub reason: &'static str,
    pub message: String,
    /// The reporting node; empty for the allocator.
    pub node: String,
}

#[derive(Default)]
pub struct State {
    /// The last valid BgpConf `default`; None when there is none.
    pub conf: Option<ClusterConf>,
    log: crate::throttle::Throttle,
    /// Per object, the problem last reported, so that an object is
    /// reported again only when its problem changes.
    reported: BTreeMap<(&'static str, String), String>,
    /// Unused fields already logged, per object and path.
    unused: BTreeSet<(String, String)>,
}

fn unix(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Core {
    /// Re-plans at once, as a labels-file change does; sessions that
    /// still match stay up.
    pub(super) fn cluster_event(&mut self, now: Now, ev: KubeEvent) {
        if !matches!(ev, KubeEvent::Error(_)) {
            let c = self.shown.base.cluster.get_or_insert_with(Default::default);
            c.events += 1;
            c.last_event_unix = unix(now.wall);
            c.connected = true;
        }
        self.out.push(Effect::Show);
        match ev {
            KubeEvent::Labels(l) => {
                if l == self.node_labels {
                    return;
                }
                info!(labels = ?l, "the Node object's labels changed: re-planning");
                self.node_labels = l;
                // spec.asPerRack follows the rack label.
                self.refresh_global();
                self.replan(now);
            }
            KubeEvent::Peers(objects) => {
                let n = objects.len();
                self.crd_peers = self.peers_from_objects(objects);
                self.note_objects(Some(n));
                self.replan(now);
            }
            KubeEvent::Services(view) => self.services(now, *view),
            KubeEvent::Conf(o) => {
                self.conf_from_object(o);
                self.note_objects(None);
                self.refresh_global();
                self.replan(now);
            }
            KubeEvent::Error(e) => {
                let c = self.shown.base.cluster.get_or_insert_with(Default::default);
                c.connected = false;
                c.errors += 1;
                c.last_error = Some(crate::quote::clip(&e));
                if let Some(more) = self.cluster.log.hit(now.at) {
                    warn!(more, "cluster: {e}; keeping the last known state");
                }
            }
        }
    }

    fn services(&mut self, now: Now, view: ServicesView) {
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
        let hosts = view.hosts.unwrap_or_default();
        #[cfg(not(feature = "l2"))]
        let l2_changed = false;
        #[cfg(feature = "l2")]
        let l2_changed = view.l2 != self.service_l2 || view.l2_owners != self.l2_owners;
        #[cfg(feature = "l2")]
        {
            self.service_l2 = view.l2;
            self.l2_owners = view.l2_owners;
        }
        let changed = vips != self.service_vips || hosts != self.service_hosts || l2_changed;
        let c = self.shown.base.cluster.get_or_insert_with(Default::default);
        c.service_addresses = vips.len();
        c.services_total = view.total;
        c.services = view.lines;
        c.pools = view.pools;
        c.leader = view.leader;
        c.allocations = view.allocations;
        c.announce_changes += u64::from(changed);
        if changed {
            info!(
                addresses = vips.len(),
                "Service addresses to announce changed"
            );
            self.service_vips = vips;
            self.service_hosts = hosts;
            self.replan(now);
        }
    }

    /// Puts the objects' state on show (`peers`: how many BgpPeers there
    /// are, None to keep the count).
    fn note_objects(&mut self, peers: Option<usize>) {
        let c = self.shown.base.cluster.get_or_insert_with(Default::default);
        if let Some(n) = peers {
            c.bgp_peers = n;
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
                    true => Err(crate::openelb::ObjectError {
                        kind: "BgpPeer",
                        name: o.name.clone(),
                        problem: format!(
                            "spec.conf.neighborAddress {}: configured already \
                             (in the config or another BgpPeer)",
                            p.address
                        ),
                    }),
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
        self.out.push(Effect::StatusNames(names));
        out
    }

    /// Logs a problem with an object and asks for a Warning Event on it,
    /// once for each problem it has.
    fn report(&mut self, kind: &'static str, o: &Object, why: String) {
        let key = (kind, o.name.clone());
        if self.cluster.reported.get(&key) == Some(&why) {
            return;
        }
        error!("{why}");
        self.out.push(Effect::Event(EventCmd {
            kind,
            namespace: String::new(),
            name: o.name.clone(),
            uid: o.uid.clone(),
            version: o.version.clone(),
            reason: "InvalidSpec",
            message: why.clone(),
            node: self.node.clone(),
        }));
        self.cluster.reported.insert(key, why);
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
