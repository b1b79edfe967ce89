//! The daemon's decisions, as pure code: what the protocol cores are to a
//! session, this is to the daemon. The runtime hands in what happened
//! ([`Input`]) and the time ([`Now`]), and carries out what comes back
//! ([`Effect`]); the one deadline it keeps is [`Core::poll_at`].
//!
//! The core owns everything that decides: the loaded config and labels,
//! the Node object's labels and OpenELB's objects, the global settings,
//! the selected peers and the plan each was given, the host and VIP
//! checks' state, drain, stop and restart, reloads. It reads no file,
//! socket or clock, and starts nothing: the runtime owns the sockets,
//! tasks, threads and timers, and knows a peer only by its [`Key`].
//! `tests/daemon.rs` replays scripted inputs through it.
mod checks;
#[cfg(feature = "kube")]
pub mod cluster;
#[cfg(feature = "bfd")]
pub mod guard;
#[cfg(feature = "l2")]
mod l2;
mod plan;
mod stop;

use crate::config::{Config, ConfigError, PeerConfig};
use crate::global::{Global, GlobalError};
use crate::labels::Labels;
use crate::plan::{PeerPlan, Vips};
use leafvip_bgp::session::SessionConfig;
use leafvip_bgp::wire::Prefix;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Instant, SystemTime};
use tracing::{error, info};

pub use stop::{Ctl, Drain};

/// A session's identity: the peer's address and port.
pub type Key = (IpAddr, u16);

/// The moment an input is handled: the monotonic time, the wall clock
/// (for what status shows as dates), and how many sessions are
/// Established (the peers' tasks count them).
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub at: Instant,
    pub wall: SystemTime,
    pub established: usize,
    /// How many layer-2 VIPs this host answers for (the speaker counts).
    pub l2_owned: usize,
}

/// Everything a plan is made from, loaded and checked.
pub struct Loaded {
    pub cfg: Config,
    pub labels: Labels,
    pub vips: Vips,
}

/// What happened.
pub enum Input {
    /// A reload is asked for (SIGHUP, the labels file changed).
    Reload(&'static str),
    /// The load it started is done. `host_ipv4` is the host's first
    /// global IPv4 address now, the router ID when nothing names one.
    Loaded {
        result: Box<Result<Loaded, ConfigError>>,
        host_ipv4: Option<Ipv4Addr>,
    },
    /// A `[[host]]` passes its check (true) or fails it.
    Host(String, bool),
    /// A checked `[[vip]]` passes its check or fails it.
    Vip(Prefix, bool),
    /// The control socket asks.
    Control(Ctl),
    /// SIGTERM or SIGINT.
    Stop,
    /// [`Core::poll_at`] has come.
    Timer,
    /// The periodic tick.
    Tick,
    /// What the cluster thread saw. `host_ipv4` (the default router ID)
    /// is read, and taken, only with labels and the BgpConf, which are
    /// what resolve the router ID again.
    #[cfg(feature = "kube")]
    Cluster {
        event: cluster::KubeEvent,
        host_ipv4: Option<Ipv4Addr>,
    },
    /// Layer-2 mode took this Service address over (cluster mode).
    #[cfg(all(feature = "kube", feature = "l2"))]
    L2Took(std::net::IpAddr),
}

/// What to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start a session task for a newly selected peer.
    Start {
        plan: Box<PeerPlan>,
        session: Box<SessionConfig>,
    },
    /// A running session's new plan (VIPs, hosts, drain, BFD timers):
    /// the session stays up.
    Plan(Box<PeerPlan>),
    /// Close a session with a Cease; its task ends on its own.
    Close {
        peer: Key,
        subcode: u8,
        message: &'static str,
    },
    /// A peer's BFD session changes while its BGP session stays, or goes.
    Bfd(IpAddr, BfdChange),
    /// Listen on these addresses and on no other.
    Listen(Vec<SocketAddr>),
    /// The listeners take the MD5 keys of [`Core::all_peers`].
    Rekey,
    /// (Re)start the host checks of [`Core::host_checks`].
    HostChecks,
    /// (Re)start the VIP checks of [`Core::vip_checks`].
    VipChecks,
    /// Load the config on a thread and answer with [`Input::Loaded`].
    Load,
    /// A load applied: the labels file read is the current one.
    Reloaded,
    /// Tell systemd.
    Notify(Notify),
    /// [`Core::shown`] changed.
    Show,
    /// Stop: withdraw and close every session with a Cease, BFD
    /// AdminDown, then exit.
    Shutdown,
    /// Exit for a restart without a NOTIFICATION: the marker for the next
    /// process names the VIPs whose check is down; BFD AdminDown.
    Restart { down: Vec<Prefix> },
    /// A Warning Event on an OpenELB object.
    #[cfg(feature = "kube")]
    Event(cluster::EventCmd),
    /// Layer-2 mode: the VIPs to hold, and how.
    #[cfg(feature = "l2")]
    L2(Vec<crate::l2::speaker::Want>),
    /// The BgpPeer each object-made peer came from, for status writes.
    #[cfg(feature = "kube")]
    StatusNames(BTreeMap<IpAddr, String>),
}

/// A BFD change for a peer whose BGP session is not restarted.
#[derive(Debug, Clone, PartialEq)]
pub enum BfdChange {
    /// New timers, through a Poll Sequence.
    Configure(crate::bfd_config::BfdConfig),
    /// BFD added to a running session, which it does not hold.
    Add {
        cfg: crate::bfd_config::BfdConfig,
        local: Option<IpAddr>,
        seed: u64,
    },
    /// BFD removed (AdminDown); a running session is released.
    Remove,
}

/// What systemd hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notify {
    Status(String),
    Reloading,
    Ready(String),
    Stopping,
}

/// What the status socket and the metrics show of the core's state.
#[derive(Debug, Default, Clone)]
pub struct Shown {
    /// Node, AS, router ID, version, drain, checks, cluster; peers and
    /// VIPs are filled per question.
    pub base: crate::status::Status,
    /// The same shared list the peers plan from: no copy per VIP.
    pub vips: Option<Vips>,
    /// `[[host]]`s passing their checks, of all.
    pub hosts_up: (usize, usize),
    /// Configured peers whose node_selector does not match, and why.
    pub unselected: Vec<crate::status::Unselected>,
    /// When the last reload finished, and why it ran or why it failed.
    pub last_reload: Option<(SystemTime, Result<String, String>)>,
    /// Each checked `[[vip]]`'s state, as status shows it.
    pub checks: Vec<(Prefix, &'static str)>,
}

/// A selected peer: its plan, and the global settings its session was
/// made with.
struct Selected {
    plan: PeerPlan,
    local: (u32, Ipv4Addr, u16),
}

pub struct Core {
    cfg: Config,
    node: String,
    /// Local AS, router ID, GR time and listen addresses, from `[bgp]` and
    /// (cluster mode) the BgpConf; none while something is missing.
    global: Result<Global, GlobalError>,
    host_ipv4: Option<Ipv4Addr>,
    /// Makes each process's session seeds its own.
    pid: u32,
    peers: BTreeMap<Key, Selected>,
    /// `[[host]]`s passing their check now.
    healthy: BTreeSet<String>,
    /// `[[vip]]`s with a check, and those passing it now.
    vip_checked: Vec<Prefix>,
    vip_up: Vec<Prefix>,
    /// The VIP list of the last load, and the one the peers plan from
    /// (with Service addresses and checks applied).
    vips: Vips,
    vips_now: Option<Vips>,
    /// The labels of the last load (inline and file), and the Node
    /// object's (cluster mode), which they override on a shared key.
    base_labels: Labels,
    node_labels: Labels,
    /// Peers from OpenELB's BgpPeer objects (cluster mode).
    crd_peers: Vec<PeerConfig>,
    /// LoadBalancer Service addresses this node announces (cluster mode),
    /// beside the configured VIPs.
    service_vips: Vec<(Prefix, crate::vip_list::Hop)>,
    /// A rack speaker's Ready Nodes, the next hops of its Services.
    service_hosts: Vec<crate::hosts::HostConfig>,
    /// A load under way: why; and a request that came in meanwhile.
    loading: Option<&'static str>,
    again: Option<&'static str>,
    /// Draining (RFC 8326): in maintenance, or before a stop.
    drain: Option<Drain>,
    /// Sessions opened before this set the Restart State bit: the process
    /// follows a restart (RFC 4724).
    restarted_until: Option<Instant>,
    /// When a draining stop or restart ends, and whether it is a restart.
    stop_at: Option<Instant>,
    restarting: bool,
    last_status: String,
    shown: Shown,
    /// What layer-2 mode was last told.
    #[cfg(feature = "l2")]
    l2_told: Vec<crate::l2::speaker::Want>,
    /// Layer-2 Service addresses this node offers to answer for (cluster
    /// mode), beside the configured `mode = "l2"` VIPs.
    #[cfg(all(feature = "kube", feature = "l2"))]
    service_l2: Vec<crate::lb::layer2::L2Addr>,
    /// The nodes that may own them, to name the owner.
    #[cfg(all(feature = "kube", feature = "l2"))]
    l2_owners: Option<std::sync::Arc<crate::lb::owners::Owners>>,
    /// When each Service address's last take-over Event went out.
    #[cfg(all(feature = "kube", feature = "l2"))]
    l2_events: BTreeMap<std::net::IpAddr, Instant>,
    #[cfg(feature = "kube")]
    cluster: cluster::State,
    out: Vec<Effect>,
}

/// How a core starts: the first load, and the facts of the process.
pub struct Start {
    pub loaded: Loaded,
    pub host_ipv4: Option<Ipv4Addr>,
    pub pid: u32,
    /// After a restart: the VIPs whose check was down then.
    pub restarted: Option<Vec<Prefix>>,
}

impl Core {
    /// A core for a first load; [`Core::start`] gives its first effects.
    pub fn new(now: Instant, s: Start) -> Core {
        let Loaded { cfg, labels, vips } = s.loaded;
        let node = cfg.node_name();
        let global = crate::global::resolve(&cfg.bgp, None, &labels, s.host_ipv4);
        let gr_time = global
            .as_ref()
            .map_or(crate::config::DEFAULT_RESTART_TIME, |g| g.graceful_restart);
        let mut shown = Shown::default();
        shown.base.version = env!("CARGO_PKG_VERSION").into();
        shown.base.node = node.clone();
        let mut core = Core {
            cfg,
            node,
            global: Err(GlobalError::NoAsn),
            host_ipv4: s.host_ipv4,
            pid: s.pid,
            peers: BTreeMap::new(),
            healthy: BTreeSet::new(),
            vip_checked: Vec::new(),
            vip_up: Vec::new(),
            vips,
            vips_now: None,
            base_labels: labels,
            node_labels: Labels::new(),
            crd_peers: Vec::new(),
            service_vips: Vec::new(),
            service_hosts: Vec::new(),
            loading: None,
            again: None,
            drain: None,
            restarted_until: s
                .restarted
                .as_ref()
                .map(|_| now + std::time::Duration::from_secs(u64::from(gr_time))),
            stop_at: None,
            restarting: false,
            last_status: String::new(),
            shown,
            #[cfg(feature = "l2")]
            l2_told: Vec::new(),
            #[cfg(all(feature = "kube", feature = "l2"))]
            service_l2: Vec::new(),
            #[cfg(all(feature = "kube", feature = "l2"))]
            l2_owners: None,
            #[cfg(all(feature = "kube", feature = "l2"))]
            l2_events: BTreeMap::new(),
            #[cfg(feature = "kube")]
            cluster: Default::default(),
            out: Vec::new(),
        };
        core.set_global(global);
        core.start_vip_checks(s.restarted.as_deref());
        core
    }

    /// The first effects: checks, sessions, the status. The runtime binds
    /// the first listeners itself, as a failure there stops the start.
    pub fn start(&mut self, now: Now) -> Vec<Effect> {
        self.out.push(Effect::HostChecks);
        self.out.push(Effect::VipChecks);
        self.replan(now);
        self.report_status(now);
        self.finish()
    }

    /// Handles one input; returns what to do, in order.
    pub fn apply(&mut self, now: Now, input: Input) -> Vec<Effect> {
        match input {
            Input::Reload(why) => self.request_reload(why),
            Input::Loaded { result, host_ipv4 } => self.loaded(now, *result, host_ipv4),
            Input::Host(name, up) => self.health_changed(now, name, up),
            Input::Vip(prefix, up) => self.vip_changed(now, prefix, up),
            Input::Control(c) => self.control(now, c),
            Input::Stop => self.stop_requested(now),
            Input::Timer => self.timer(now),
            Input::Tick => self.report_status(now),
            #[cfg(feature = "kube")]
            Input::Cluster { event, host_ipv4 } => {
                if event.resolves_router_id() {
                    self.host_ipv4 = host_ipv4;
                }
                self.cluster_event(now, event)
            }
            #[cfg(all(feature = "kube", feature = "l2"))]
            Input::L2Took(vip) => {
                self.l2_took(now, vip);
            }
        }
        self.finish()
    }

    /// When to hand in [`Input::Timer`]: the end of a draining stop or
    /// restart.
    pub fn poll_at(&self) -> Option<Instant> {
        self.stop_at
    }

    /// The effects so far, with one [`Effect::Show`] at the end if any
    /// was asked for.
    fn finish(&mut self) -> Vec<Effect> {
        let mut out = std::mem::take(&mut self.out);
        let before = out.len();
        out.retain(|e| !matches!(e, Effect::Show));
        if out.len() != before {
            out.push(Effect::Show);
        }
        out
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn global(&self) -> Result<&Global, &GlobalError> {
        self.global.as_ref()
    }

    pub fn shown(&self) -> &Shown {
        &self.shown
    }

    /// Whether a load is under way.
    pub fn loading(&self) -> bool {
        self.loading.is_some()
    }

    /// Every peer the listeners may hear from: the config's and the
    /// objects'.
    pub fn all_peers(&self) -> impl Iterator<Item = &PeerConfig> {
        self.cfg.peers().chain(&self.crd_peers)
    }

    /// The selected peer with this address, for a connection it opened.
    pub fn selected(&self, ip: IpAddr) -> Option<Key> {
        self.peers.keys().find(|k| k.0 == ip).copied()
    }

    /// The selected peers, in order.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.peers.keys().copied()
    }

    /// The global settings anew (after a load, a BgpConf or a label
    /// change); a change of the listen addresses rebinds, and the next
    /// replan restarts the sessions whose OPEN would change.
    fn refresh_global(&mut self) {
        #[cfg(feature = "kube")]
        let conf = self.cluster.conf.as_ref();
        #[cfg(not(feature = "kube"))]
        let conf = None;
        let labels = self.labels();
        let g = crate::global::resolve(&self.cfg.bgp, conf, &labels, self.host_ipv4);
        if g == self.global {
            return;
        }
        match &g {
            Ok(g) => {
                info!(asn = g.asn, router_id = %g.router_id, graceful_restart = g.graceful_restart,
                      listen = ?g.listen, "global BGP settings");
                self.out.push(Effect::Listen(g.listen.clone()));
            }
            Err(e) => tracing::warn!("no sessions: {e}"),
        }
        self.set_global(g);
    }

    fn set_global(&mut self, g: Result<Global, GlobalError>) {
        let b = &mut self.shown.base;
        b.asn = g.as_ref().map_or(0, |g| g.asn);
        b.router_id = g
            .as_ref()
            .map_or(String::new(), |g| g.router_id.to_string());
        b.waiting = g.as_ref().err().map(ToString::to_string);
        self.global = g;
        self.out.push(Effect::Show);
    }

    /// The Node object's labels under the config's own.
    fn labels(&self) -> Labels {
        let mut l = self.node_labels.clone();
        l.extend(self.base_labels.clone());
        l
    }

    /// The STATUS line systemd shows; said only when it changes.
    fn report_status(&mut self, now: Now) {
        let s = format!(
            "{}/{} sessions established, {} VIPs{}",
            now.established,
            self.peers.len(),
            self.vips_now.as_ref().map_or(0, |v| v.len()),
            match self.drain {
                Some(Drain::Maintenance(_)) => ", draining (maintenance)",
                Some(Drain::Stopping(_)) => ", draining before stop",
                None => "",
            }
        );
        if s != self.last_status {
            self.last_status = s.clone();
            self.out.push(Effect::Notify(Notify::Status(s)));
        }
    }

    /// The last STATUS line, which READY=1 repeats.
    pub fn status_line(&self) -> &str {
        &self.last_status
    }

    /// Asks for a load. One under way makes the request wait, not queue:
    /// any number of SIGHUPs in a burst make at most one more load.
    fn request_reload(&mut self, why: &'static str) {
        if self.loading.is_some() {
            self.again = Some(why);
            return;
        }
        self.loading = Some(why);
        self.out.push(Effect::Notify(Notify::Reloading));
        self.out.push(Effect::Load);
    }

    /// Applies a finished load, or keeps the running state if it failed.
    fn loaded(
        &mut self,
        now: Now,
        result: Result<Loaded, ConfigError>,
        host_ipv4: Option<Ipv4Addr>,
    ) {
        let Some(why) = self.loading.take() else {
            return;
        };
        match result {
            Ok(l) => {
                self.host_ipv4 = host_ipv4;
                self.apply_load(now, why, l);
                self.out.push(Effect::Reloaded);
                self.shown.last_reload = Some((now.wall, Ok(why.to_string())));
            }
            Err(e) => {
                let e = e.to_string();
                // A labels file that stays broken is retried on every tick
                // (its stamp is left behind), but said once.
                let same = matches!(&self.shown.last_reload, Some((_, Err(last))) if *last == e);
                if !same {
                    error!(
                        reason = why,
                        "reload failed, keeping the running configuration: {e}"
                    );
                } else {
                    tracing::debug!("reload failed again: {e}");
                }
                self.shown.last_reload = Some((now.wall, Err(e)));
            }
        }
        self.out.push(Effect::Show);
        self.out
            .push(Effect::Notify(Notify::Ready(self.last_status.clone())));
        if let Some(why) = self.again.take() {
            self.request_reload(why);
        }
    }

    fn apply_load(&mut self, now: Now, why: &str, loaded: Loaded) {
        let Loaded { cfg, labels, vips } = loaded;
        if cfg.control != self.cfg.control {
            tracing::warn!("changes to [control] take effect on restart");
        }
        let keep_control = self.cfg.control.clone();
        self.cfg = cfg;
        self.cfg.control = keep_control;
        self.start_checks();
        self.start_vip_checks(None);
        self.base_labels = labels;
        self.vips = vips;
        self.refresh_global();
        self.replan(now);
        info!(reason = why, selected = self.peers.len(), "reloaded");
    }

    /// A session seed of this process for a peer.
    fn seed(&self, p: &PeerConfig) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in p.address.to_string().bytes().chain(self.pid.to_le_bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        h
    }
}
