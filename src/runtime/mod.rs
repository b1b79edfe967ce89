//! The runtime: one smol-style executor on the main thread (a task per
//! peer, the listener, signals, the labels-file watch), beside two threads
//! of its own: BFD's (`bfd_hub.rs`, ppoll) and, with `kube`, the cluster
//! thread's current-thread tokio runtime (`kube/`), which talks to the
//! executor over channels. Everything it decides, it asks the pure core or
//! [`crate::plan`].
pub mod addrs;
mod alloc;
#[cfg(feature = "bfd")]
mod bfd;
#[cfg(feature = "bfd")]
mod bfd_hub;
pub mod board;
pub mod busy;
mod clock;
#[cfg(feature = "kube")]
mod cluster;
pub mod control;
mod daemon_bfd;
pub mod drain;
mod health;
#[cfg(feature = "metrics")]
mod http;
#[cfg(feature = "kube")]
mod kube;
pub mod listen;
pub mod marker;
#[cfg(feature = "metrics")]
mod metrics;
mod notify;
pub mod peer;
pub mod sockopt;
mod throttle;
mod vip_checks;
mod vip_probe;

use crate::config::{Config, ConfigError, PeerConfig};
use crate::global::{Global, GlobalError};
use crate::labels::Labels;
use crate::plan::{PeerPlan, Plan};
use async_executor::{LocalExecutor, Task};
use async_io::{Async, Timer};
use async_signal::{Signal, Signals};
use board::Board;
use clock::Clock;
use futures_lite::{future, StreamExt};
use leafvip_bgp::wire::cease;
use listen::{sock_opts, Listeners};
use peer::{Cmd, PeerTask};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;
use tracing::{error, info, warn};

/// The first and the longest pause after a failed accept.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(2));

/// How often the labels file is checked for changes (a stat, no reads).
const LABELS_POLL: Duration = Duration::from_secs(2);

type Key = (IpAddr, u16);

struct Handle {
    tx: async_channel::Sender<Cmd>,
    plan: PeerPlan,
    /// The global settings its session was made with.
    local: (u32, std::net::Ipv4Addr, u16),
    task: Task<()>,
}

struct Daemon<'a> {
    ex: &'a LocalExecutor<'static>,
    path: PathBuf,
    cfg: Config,
    node: String,
    /// Local AS, router ID, GR time and listen addresses, from `[bgp]` and
    /// (cluster mode) the BgpConf; none while something is missing.
    global: Result<Global, GlobalError>,
    listeners: Listeners,
    clock: Clock,
    peers: BTreeMap<Key, Handle>,
    labels_stamp: Option<FileStamp>,
    /// `[[host]]`s passing their check now, and the checks themselves.
    healthy: std::collections::BTreeSet<String>,
    checks: Vec<Task<()>>,
    health_tx: async_channel::Sender<health::Change>,
    /// `[[vip]]`s with a check, those passing it now, and the checks.
    vip_checked: Vec<leafvip_bgp::wire::Prefix>,
    vip_up: Vec<leafvip_bgp::wire::Prefix>,
    vip_tasks: Vec<Task<()>>,
    vip_tx: async_channel::Sender<vip_probe::Change>,
    /// What the current plan was made from, to re-plan on health changes.
    inputs: Option<(Labels, crate::plan::Vips)>,
    /// Sessions in Established, kept by the peer tasks (one thread, so a
    /// Cell is enough), and the last STATUS sent to systemd.
    established: std::rc::Rc<std::cell::Cell<usize>>,
    last_status: String,
    /// What the status socket and the metrics endpoint read.
    board: Rc<RefCell<Board>>,
    /// A load under way on its thread: why, and the labels file's stamp
    /// when it started; and a request that came in meanwhile.
    loading: Option<(&'static str, Option<FileStamp>)>,
    again: Option<&'static str>,
    loaded_tx: async_channel::Sender<Result<Loaded, ConfigError>>,
    refused_log: throttle::Throttle,
    accept_log: throttle::Throttle,
    /// After a failed accept: the pause, and when the listener is used again.
    accept_backoff: Duration,
    accept_resume: Option<std::time::Instant>,
    /// The labels of the last load (inline and file), and the Node
    /// object's (cluster mode), which they override on a shared key.
    base_labels: Labels,
    node_labels: Labels,
    /// Peers from OpenELB's BgpPeer objects (cluster mode).
    crd_peers: Vec<PeerConfig>,
    /// LoadBalancer Service addresses this node announces (cluster mode),
    /// beside the configured VIPs, and the list the peers plan from.
    service_vips: Vec<(leafvip_bgp::wire::Prefix, crate::vip_list::Hop)>,
    /// A rack speaker's Ready Nodes, the next hops of its Services.
    service_hosts: Vec<crate::hosts::HostConfig>,
    vips_now: Option<crate::plan::Vips>,
    /// Draining (RFC 8326): in maintenance, or before a stop.
    drain: Option<drain::Drain>,
    /// Sessions opened before this set the Restart State bit: the process
    /// follows a restart (RFC 4724).
    restarted_until: Option<std::time::Instant>,
    /// A restart that drains first (BFD peers): when to exit for it.
    restart_at: Option<std::time::Instant>,
    #[cfg(feature = "kube")]
    cluster: cluster::ClusterState,
    /// Every BFD session, on one thread of its own (`bfd_hub.rs`).
    #[cfg(feature = "bfd")]
    bfd: bfd_hub::Hub,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp(Option<(std::time::SystemTime, u64, u64)>);

fn stamp(path: &Path) -> FileStamp {
    use std::os::unix::fs::MetadataExt;
    FileStamp(std::fs::metadata(path).ok().map(|m| {
        (
            m.modified().unwrap_or(std::time::UNIX_EPOCH),
            m.len(),
            m.ino(),
        )
    }))
}

/// Whether two configs of a peer make the same BGP session: everything
/// but the BFD settings, which change in place.
fn same_session(a: &PeerConfig, b: &PeerConfig) -> bool {
    PeerConfig {
        bfd: None,
        ..a.clone()
    } == PeerConfig {
        bfd: None,
        ..b.clone()
    }
}

fn seed(p: &PeerConfig) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in p
        .address
        .to_string()
        .bytes()
        .chain(std::process::id().to_le_bytes())
    {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Everything a plan is made from, loaded and checked.
pub struct Loaded {
    pub cfg: Config,
    pub labels: Labels,
    pub vips: crate::plan::Vips,
}

/// Loads config, labels and VIP file, or says what is wrong and where.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let cfg = Config::load(path)?;
    let labels = cfg.labels()?;
    let vips = std::sync::Arc::new(cfg.vip_list()?);
    Ok(Loaded { cfg, labels, vips })
}

impl Daemon<'_> {
    fn reconcile(&mut self, plan: Plan) {
        // Without a local AS or router ID no session can be made.
        let local = self.global.as_ref().ok().map(Global::session_key);
        let wanted: BTreeMap<Key, PeerPlan> = plan
            .selected()
            .filter(|_| local.is_some())
            .map(|p| ((p.peer.address, p.peer.port), p.clone()))
            .collect();
        let gone: Vec<Key> = self
            .peers
            .keys()
            .filter(|k| !wanted.contains_key(k))
            .copied()
            .collect();
        for k in gone {
            if let Some(h) = self.peers.remove(&k) {
                info!(peer = %k.0, "peer no longer selected: closing");
                let _ = h.tx.try_send(Cmd::Stop {
                    subcode: cease::PEER_DECONFIGURED,
                    message: "peer no longer selected".into(),
                });
                h.task.detach();
                self.bfd_gone(&h.plan.peer);
            }
        }
        for (k, p) in wanted {
            match self.peers.get_mut(&k) {
                // BFD settings alone change in the running task, through
                // a Poll Sequence: no BGP flap.
                Some(h) if same_session(&h.plan.peer, &p.peer) && Some(h.local) == local => {
                    if h.plan != p {
                        let old = std::mem::replace(&mut h.plan, p.clone());
                        let tx = h.tx.clone();
                        let _ = h.tx.try_send(Cmd::Plan(Box::new(p.clone())));
                        self.bfd_changed(&old.peer, &p.peer, seed(&p.peer), &tx);
                    }
                }
                Some(_) => {
                    if let Some(h) = self.peers.remove(&k) {
                        info!(peer = %k.0, "peer settings changed: restarting its session");
                        if p.peer.bfd.is_none() {
                            self.bfd_gone(&h.plan.peer);
                        }
                        let _ = h.tx.try_send(Cmd::Stop {
                            subcode: cease::OTHER_CONFIG_CHANGE,
                            message: "configuration changed".into(),
                        });
                        h.task.detach();
                    }
                    self.spawn(k, p);
                }
                None => self.spawn(k, p),
            }
        }
    }

    fn spawn(&mut self, k: Key, p: PeerPlan) {
        let Ok(g) = &self.global else { return };
        let local = g.session_key();
        let opts = sock_opts(&p.peer, g.asn);
        let mut session = p.session_config(g.asn, g.router_id, g.graceful_restart, seed(&p.peer));
        if let Some(gr) = session.graceful_restart.as_mut() {
            gr.restarting = self
                .restarted_until
                .is_some_and(|t| std::time::Instant::now() < t);
        }
        let (tx, rx) = async_channel::unbounded();
        info!(peer = %k.0, asn = p.peer.asn, "peer selected: starting session");
        let task = PeerTask::new(
            p.clone(),
            session,
            opts,
            self.clock,
            self.established.clone(),
            self.board.borrow().busy.clone(),
        );
        let task = self.guard(task, &p.peer, seed(&p.peer), &tx);
        let task = self.ex.spawn(task.run(rx));
        self.peers.insert(
            k,
            Handle {
                tx,
                plan: p,
                local,
                task,
            },
        );
    }

    /// The STATUS line systemd shows; sent only when it changes.
    fn report_status(&mut self) {
        let s = format!(
            "{}/{} sessions established, {} VIPs{}",
            self.established.get(),
            self.peers.len(),
            self.vips_now.as_ref().map_or(0, |v| v.len()),
            match self.drain {
                Some(drain::Drain::Maintenance(_)) => ", draining (maintenance)",
                Some(drain::Drain::Stopping(_)) => ", draining before stop",
                None => "",
            }
        );
        if s != self.last_status {
            notify::status(&s);
            self.last_status = s;
        }
    }

    /// Starts a load on a thread of its own: reading and checking 100k
    /// VIPs takes far longer than a hold timer may wait on the loop. A
    /// request while one is under way is remembered, not queued, so any
    /// number of SIGHUPs in a burst make at most one more load.
    fn request_reload(&mut self, why: &'static str) {
        if self.loading.is_some() {
            self.again = Some(why);
            return;
        }
        notify::reloading();
        let labels = self.cfg.node.labels_file.as_deref().map(stamp);
        self.loading = Some((why, labels));
        let (path, tx) = (self.path.clone(), self.loaded_tx.clone());
        let spawned = std::thread::Builder::new()
            .name("leafvip-load".into())
            .spawn(move || {
                let _ = tx.send_blocking(load(&path));
            });
        if let Err(e) = spawned {
            // Out of threads: load here rather than not at all.
            warn!("cannot start a loader thread ({e}): loading on the event loop");
            let _ = self.loaded_tx.try_send(load(&self.path));
        }
    }

    /// Applies a finished load, or keeps the running state if it failed.
    fn loaded(&mut self, result: Result<Loaded, ConfigError>) {
        let Some((why, stamp_before)) = self.loading.take() else {
            return;
        };
        let at = std::time::SystemTime::now();
        match result {
            Ok(l) => {
                self.apply(why, l);
                // Taken before the load: a change during it is seen again.
                self.labels_stamp = stamp_before;
                self.board.borrow_mut().last_reload = Some((at, Ok(why.to_string())));
            }
            Err(e) => {
                let e = e.to_string();
                // A labels file that stays broken is retried on every tick
                // (its stamp is left behind), but said once.
                let same =
                    matches!(&self.board.borrow().last_reload, Some((_, Err(last))) if *last == e);
                if !same {
                    error!(
                        reason = why,
                        "reload failed, keeping the running configuration: {e}"
                    );
                } else {
                    tracing::debug!("reload failed again: {e}");
                }
                self.board.borrow_mut().last_reload = Some((at, Err(e)));
            }
        }
        notify::ready(&self.last_status);
        if let Some(why) = self.again.take() {
            self.request_reload(why);
        }
    }

    fn apply(&mut self, why: &str, loaded: Loaded) {
        let Loaded { cfg, labels, vips } = loaded;
        if cfg.control != self.cfg.control {
            warn!("changes to [control] take effect on restart");
        }
        let keep_control = self.cfg.control.clone();
        self.cfg = cfg;
        self.cfg.control = keep_control;
        self.start_checks();
        self.start_vip_checks(None);
        self.base_labels = labels;
        self.inputs = Some((self.labels(), vips));
        self.refresh_global();
        self.replan();
        info!(reason = why, selected = self.peers.len(), "reloaded");
        alloc::trim();
    }

    /// The Node object's labels under the config's own.
    fn labels(&self) -> Labels {
        let mut l = self.node_labels.clone();
        l.extend(self.base_labels.clone());
        l
    }

    /// Works out the global settings again (after a reload, a BgpConf or
    /// label change): rebinds the listeners if their addresses changed,
    /// and the next replan restarts the sessions whose OPEN would change.
    fn refresh_global(&mut self) {
        #[cfg(feature = "kube")]
        let conf = self.cluster.conf.as_ref();
        #[cfg(not(feature = "kube"))]
        let conf = None;
        let labels = self.labels();
        let g = crate::global::resolve(&self.cfg.bgp, conf, &labels, addrs::first_global_ipv4());
        if g == self.global {
            return;
        }
        match &g {
            Ok(g) => {
                info!(asn = g.asn, router_id = %g.router_id, graceful_restart = g.graceful_restart,
                      listen = ?g.listen, "global BGP settings");
                for (a, e) in self.listeners.set(&g.listen) {
                    error!("listen on {a}: {e}");
                }
            }
            Err(e) => warn!("no sessions: {e}"),
        }
        {
            let mut b = self.board.borrow_mut();
            b.base.asn = g.as_ref().map_or(0, |g| g.asn);
            b.base.router_id = g
                .as_ref()
                .map_or(String::new(), |g| g.router_id.to_string());
            b.base.waiting = g.as_ref().err().map(ToString::to_string);
        }
        self.global = g;
    }

    /// (Re)starts the health checks; hosts keep their state across reloads.
    fn start_checks(&mut self) {
        self.checks.clear(); // dropping a task cancels it
        let names: std::collections::BTreeSet<String> =
            self.cfg.hosts().map(|h| h.name.clone()).collect();
        self.healthy.retain(|n| names.contains(n));
        for h in self.cfg.hosts() {
            if let Some(c) = &h.check {
                let was = self.healthy.contains(&h.name);
                self.checks.push(self.ex.spawn(health::run(
                    h.name.clone(),
                    c.clone(),
                    was,
                    self.health_tx.clone(),
                )));
            }
        }
    }

    fn replan(&mut self) {
        let Some((labels, vips)) = self.inputs.clone() else {
            return;
        };
        // Service addresses beside the configured VIPs; a configured VIP
        // keeps its own settings.
        let vips = match self.service_vips.is_empty() {
            true => vips,
            false => std::sync::Arc::new(vips.with_extra(&self.service_vips)),
        };
        let down = self.down_map();
        let vips = match down.is_empty() {
            true => vips,
            false => std::sync::Arc::new(vips.with_down(&down)),
        };
        self.vips_now = Some(vips.clone());
        if let Err(e) = self
            .listeners
            .rekey(self.cfg.peers().chain(&self.crd_peers))
        {
            error!("listener MD5 keys: {e}");
        }
        let healthy = &self.healthy;
        let plan = Plan::with_peers(
            &self.cfg,
            (&self.crd_peers, &self.service_hosts),
            self.node.clone(),
            labels,
            vips,
            &|h| healthy.contains(h),
        )
        .drained(self.drain.is_some());
        self.board.borrow_mut().unselected = plan
            .peers
            .iter()
            .filter_map(|p| {
                let why = p.selected.as_ref().err()?;
                Some(crate::status::Unselected {
                    peer: SocketAddr::new(p.peer.address, p.peer.port).to_string(),
                    asn: p.peer.asn,
                    reason: why.clone(),
                })
            })
            .collect();
        self.reconcile(plan);
        self.post();
    }

    /// Brings the board up to date with the peers and VIPs.
    fn post(&mut self) {
        let hosts = self.cfg.hosts().count();
        let up = self
            .cfg
            .hosts()
            .filter(|h| self.healthy.contains(&h.name))
            .count();
        let mut b = self.board.borrow_mut();
        b.peers = self.peers.values().map(|h| h.tx.clone()).collect();
        b.vips = self.vips_now.clone();
        b.hosts_up = (up, hosts);
    }

    fn health_changed(&mut self, (name, up): health::Change) {
        if up {
            info!(host = %name, "host passes its check: announcing it");
            self.healthy.insert(name);
        } else {
            warn!(host = %name, "host fails its check: withdrawing it");
            self.healthy.remove(&name);
        }
        self.replan();
    }

    fn dispatch(&mut self, stream: TcpStream, from: SocketAddr) {
        let ip = from.ip().to_canonical();
        match self.peers.values().find(|h| h.plan.peer.address == ip) {
            Some(h) => {
                let _ = h.tx.try_send(Cmd::Incoming(stream));
            }
            None => {
                self.board.borrow_mut().counters.refused += 1;
                if let Some(more) = self.refused_log.hit(std::time::Instant::now()) {
                    warn!(from = %ip, more, "refused connection: not a configured, selected peer");
                }
            }
        }
    }

    /// Counts a failed accept and says how long to leave the listener
    /// alone: out of descriptors, accept fails at once for as long as the
    /// connection waits in the backlog, and retrying at once spins.
    fn accept_failed(&mut self, e: &std::io::Error) {
        self.board.borrow_mut().counters.accept_errors += 1;
        self.accept_backoff = (self.accept_backoff * 2).clamp(ACCEPT_BACKOFF.0, ACCEPT_BACKOFF.1);
        if let Some(more) = self.accept_log.hit(std::time::Instant::now()) {
            warn!(
                more,
                pause_ms = self.accept_backoff.as_millis() as u64,
                "accept: {e}"
            );
        }
        self.accept_resume = Some(std::time::Instant::now() + self.accept_backoff);
    }

    async fn shutdown(&mut self) {
        notify::stopping();
        #[cfg(feature = "kube")]
        self.withdraw_status(Duration::from_secs(1)).await;
        for h in self.peers.values() {
            let _ = h.tx.try_send(Cmd::Stop {
                subcode: cease::ADMIN_SHUTDOWN,
                message: "leafvip shutting down".into(),
            });
        }
        let tasks: Vec<Task<()>> = std::mem::take(&mut self.peers)
            .into_values()
            .map(|h| h.task)
            .collect();
        let all = async {
            for t in tasks {
                t.await;
            }
        };
        future::or(all, async {
            Timer::after(Duration::from_secs(3)).await;
        })
        .await;
        // After the Ceases, so that the routers hear why BGP closed.
        self.bfd_admin_down();
    }
}

enum Wake {
    Watchdog,
    Health(health::Change),
    Signal(Option<Signal>),
    Accepted(std::io::Result<(Async<TcpStream>, SocketAddr)>),
    Loaded(Box<Result<Loaded, ConfigError>>),
    #[cfg(feature = "kube")]
    Cluster(kube::KubeEvent),
    Control(drain::Ctl),
    VipCheck(vip_probe::Change),
    /// The drain before a stop is over.
    Stop,
    Tick,
}

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Stopped: the routes withdrawn, every session closed with a Cease.
    Stopped,
    /// For a restart: the sessions dropped without a NOTIFICATION, so the
    /// peers keep the routes until the next process sends them again.
    Restart,
}

#[cfg(feature = "kube")]
fn unix(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs the daemon until SIGTERM or SIGINT (after a drain), or until the
/// control socket asks for a restart. `socket` overrides the config's
/// control socket.
pub fn run(path: &Path, socket: Option<PathBuf>) -> Result<Exit, String> {
    alloc::tune();
    notify::open();
    let Loaded { cfg, labels, vips } = load(path).map_err(|e| e.to_string())?;
    let node = cfg.node_name();
    // On a plain host everything is in the file, so what is missing is an
    // error now; in cluster mode the BgpConf may still bring it.
    let global = crate::global::resolve(&cfg.bgp, None, &labels, addrs::first_global_ipv4());
    if cfg.kubernetes.is_none() {
        global.as_ref().map_err(ToString::to_string)?;
    }
    let mut signals = Signals::new([Signal::Hup, Signal::Term, Signal::Int])
        .map_err(|e| format!("signals: {e}"))?;
    let mut listeners = Listeners::default();
    if let Ok(g) = &global {
        if let Some((a, e)) = listeners.set(&g.listen).into_iter().next() {
            return Err(format!("listen on {a}: {e}"));
        }
    }
    let socket = socket
        .or_else(|| cfg.control.socket.clone())
        .unwrap_or_else(|| control::DEFAULT_SOCKET.into());
    let control = match socket.as_os_str().is_empty() {
        true => None,
        false => Some(
            control::bind(&socket)
                .map_err(|e| format!("control socket {}: {e}", socket.display()))?,
        ),
    };
    let _socket_file = control
        .as_ref()
        .map(|_| control::SocketFile(socket.clone()));
    if control.is_some() {
        if let Err(e) = marker::directory_safe(&socket) {
            warn!("control socket: {e}; restarts will not be hitless");
        }
    }
    let gr_time = global
        .as_ref()
        .map_or(crate::config::DEFAULT_RESTART_TIME, |g| g.graceful_restart);
    // After a restart: the VIPs whose check was down then.
    let restarted = match control.is_some() && gr_time > 0 {
        true => drain::restarted(&socket, gr_time),
        false => None,
    };
    let marker_socket = control.as_ref().map(|_| socket.clone());
    let board = Rc::new(RefCell::new(Board {
        base: crate::status::Status {
            version: env!("CARGO_PKG_VERSION").into(),
            node: node.clone(),
            asn: global.as_ref().map_or(0, |g| g.asn),
            router_id: global
                .as_ref()
                .map_or(String::new(), |g| g.router_id.to_string()),
            waiting: global.as_ref().err().map(ToString::to_string),
            ..Default::default()
        },
        started: Some(std::time::Instant::now()),
        ..Default::default()
    }));
    let ex: LocalExecutor<'static> = LocalExecutor::new();
    let (health_tx, health_rx) = async_channel::unbounded();
    let (vip_tx, vip_rx) = async_channel::unbounded();
    let (loaded_tx, loaded_rx) = async_channel::bounded(1);
    let clock = Clock(std::time::Instant::now());
    let mut d = Daemon {
        ex: &ex,
        path: path.to_path_buf(),
        labels_stamp: cfg.node.labels_file.as_deref().map(stamp),
        cfg,
        node,
        global,
        listeners,
        clock,
        peers: BTreeMap::new(),
        healthy: std::collections::BTreeSet::new(),
        checks: Vec::new(),
        health_tx,
        inputs: Some((labels.clone(), vips)),
        established: board.borrow().established.clone(),
        last_status: String::new(),
        board: board.clone(),
        loading: None,
        again: None,
        loaded_tx,
        refused_log: Default::default(),
        accept_log: Default::default(),
        accept_backoff: Duration::ZERO,
        accept_resume: None,
        base_labels: labels,
        node_labels: Labels::new(),
        crd_peers: Vec::new(),
        service_vips: Vec::new(),
        service_hosts: Vec::new(),
        vips_now: None,
        drain: None,
        restart_at: None,
        restarted_until: restarted
            .as_ref()
            .map(|_| std::time::Instant::now() + Duration::from_secs(u64::from(gr_time))),
        vip_checked: Default::default(),
        vip_up: Default::default(),
        vip_tasks: Vec::new(),
        vip_tx,
        #[cfg(feature = "kube")]
        cluster: Default::default(),
        #[cfg(feature = "bfd")]
        bfd: bfd_hub::Hub::new(clock),
    };
    match &d.global {
        Ok(g) => info!(node = %d.node, asn = g.asn, router_id = %g.router_id,
                       version = env!("CARGO_PKG_VERSION"), "leafvip starting"),
        Err(e) => info!(node = %d.node, version = env!("CARGO_PKG_VERSION"),
                        "leafvip starting; waiting for the cluster: {e}"),
    }
    if restarted.is_some() {
        info!("this start follows a restart: the Restart State bit is set");
    }
    d.start_checks();
    d.start_vip_checks(restarted.as_deref());
    d.replan();
    let (ctl_tx, ctl_rx) = async_channel::unbounded();
    if let Some(l) = control {
        ex.spawn(control::serve(l, board.clone(), ctl_tx)).detach();
    }
    #[cfg(feature = "metrics")]
    if let Some(a) = d.cfg.control.http {
        metrics::start(a, board.clone(), &ex).map_err(|e| format!("control.http {a}: {e}"))?;
    }
    board.borrow_mut().ready = true;
    alloc::trim();
    // Config loaded, listener bound, sessions starting: ready.
    d.report_status();
    notify::ready(&d.last_status);
    // Cluster mode: the Node object's labels, BgpPeers and BgpConf, from
    // a thread of its own.
    #[cfg(feature = "kube")]
    let cluster = d.start_cluster()?;
    let watchdog = notify::watchdog_interval();
    let busy = board.borrow().busy.clone();
    // async-io's block_on drives the reactor on this thread.
    let exit = async_io::block_on(ex.run(async {
        let mut tick = Timer::interval(LABELS_POLL);
        // When a draining stop withdraws and closes.
        let mut stop_at: Option<std::time::Instant> = None;
        // Armed once, outside the loop: a timer made anew on every pass
        // would be pushed back by whatever else wakes the loop (the labels
        // tick comes every 2 s) and, with WatchdogSec above that, never fire.
        let mut pet = match watchdog {
            Some(every) => Timer::interval(every),
            None => Timer::never(),
        };
        loop {
            let sig = async { Wake::Signal(signals.next().await.and_then(Result::ok)) };
            let resume = d.accept_resume;
            let listeners = &d.listeners;
            let acc = async {
                if let Some(t) = resume {
                    Timer::at(t).await;
                }
                Wake::Accepted(listeners.accept().await)
            };
            let t = async {
                tick.next().await;
                Wake::Tick
            };
            let h = async {
                match health_rx.recv().await {
                    Ok(c) => Wake::Health(c),
                    Err(_) => future::pending().await,
                }
            };
            let l = async {
                match loaded_rx.recv().await {
                    Ok(r) => Wake::Loaded(Box::new(r)),
                    Err(_) => future::pending().await,
                }
            };
            let w = async {
                pet.next().await;
                Wake::Watchdog
            };
            let k = async {
                #[cfg(feature = "kube")]
                if let Some(rx) = &cluster {
                    if let Ok(ev) = rx.recv().await {
                        return Wake::Cluster(ev);
                    }
                }
                future::pending().await
            };
            let c = async {
                future::or(
                    async {
                        match ctl_rx.recv().await {
                            Ok(c) => Wake::Control(c),
                            Err(_) => future::pending().await,
                        }
                    },
                    async {
                        match vip_rx.recv().await {
                            Ok(c) => Wake::VipCheck(c),
                            Err(_) => future::pending().await,
                        }
                    },
                )
                .await
            };
            let s = async {
                match stop_at {
                    Some(at) => {
                        Timer::at(at).await;
                        Wake::Stop
                    }
                    None => future::pending().await,
                }
            };
            let others = future::or(
                future::or(h, future::or(l, k)),
                future::or(future::or(acc, t), future::or(c, s)),
            );
            let wake = future::or(future::or(w, sig), others).await;
            let started = std::time::Instant::now();
            match wake {
                // Sent from this loop, so a loop that hangs stops sending.
                Wake::Watchdog => notify::watchdog(),
                Wake::Health(c) => d.health_changed(c),
                Wake::Signal(Some(Signal::Hup)) => d.request_reload("SIGHUP"),
                Wake::Loaded(r) => d.loaded(*r),
                #[cfg(feature = "kube")]
                Wake::Cluster(ev) => d.cluster_event(ev),
                Wake::Signal(_) => match d.stop_requested() {
                    Some(at) => stop_at = Some(at),
                    None => {
                        info!("shutting down");
                        d.shutdown().await;
                        return Exit::Stopped;
                    }
                },
                Wake::Stop if d.restart_at.is_some() => {
                    d.write_marker(marker_socket.as_deref());
                    d.bfd_admin_down();
                    return Exit::Restart;
                }
                Wake::Stop => {
                    info!("drained: shutting down");
                    d.shutdown().await;
                    return Exit::Stopped;
                }
                Wake::VipCheck(c) => d.vip_changed(c),
                Wake::Control(c) => {
                    if d.control(c, marker_socket.as_deref()) {
                        d.bfd_admin_down();
                        return Exit::Restart;
                    }
                    if d.restart_at.is_some() {
                        stop_at = d.restart_at;
                    }
                }
                Wake::Accepted(Ok((s, from))) => {
                    d.accept_backoff = Duration::ZERO;
                    d.accept_resume = None;
                    match s.into_inner() {
                        Ok(s) => d.dispatch(s, from),
                        Err(e) => warn!("accept: {e}"),
                    }
                }
                Wake::Accepted(Err(e)) => d.accept_failed(&e),
                Wake::Tick => {
                    d.report_status();
                    alloc::trim_slack();
                    let idle = d.loading.is_none();
                    if let Some(f) = d.cfg.node.labels_file.as_deref().filter(|_| idle) {
                        if Some(stamp(f)) != d.labels_stamp {
                            d.request_reload("labels file changed");
                        }
                    }
                }
            }
            busy.record(started, "the daemon's event");
        }
    }));
    Ok(exit)
}
