//! The only async code: one smol-style executor on the main thread, a task
//! per peer, the listener, signals and the labels-file watch. Everything it
//! decides, it asks the pure core or [`crate::plan`].
pub mod addrs;
mod alloc;
pub mod board;
pub mod control;
mod health;
#[cfg(feature = "metrics")]
mod metrics;
mod notify;
pub mod peer;
mod peer_status;
pub mod sockopt;

use crate::config::{Config, ConfigError, NextHopSpec, PeerConfig};
use crate::labels::Labels;
use crate::plan::{PeerPlan, Plan};
use async_executor::{LocalExecutor, Task};
use async_io::{Async, Timer};
use async_signal::{Signal, Signals};
use board::{Board, VipInfo};
use futures_lite::{future, StreamExt};
use leafvip_bgp::wire::cease;
use peer::{Clock, Cmd, PeerTask};
use sockopt::SockOpts;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;
use tracing::{error, info, warn};

/// How often the labels file is checked for changes (a stat, no reads).
const LABELS_POLL: Duration = Duration::from_secs(2);

type Key = (IpAddr, u16);

struct Handle {
    tx: async_channel::Sender<Cmd>,
    plan: PeerPlan,
    task: Task<()>,
}

struct Daemon<'a> {
    ex: &'a LocalExecutor<'static>,
    path: PathBuf,
    cfg: Config,
    node: String,
    router_id: std::net::Ipv4Addr,
    clock: Clock,
    peers: BTreeMap<Key, Handle>,
    labels_stamp: Option<FileStamp>,
    /// `[[host]]`s passing their check now, and the checks themselves.
    healthy: std::collections::BTreeSet<String>,
    checks: Vec<Task<()>>,
    health_tx: async_channel::Sender<health::Change>,
    /// What the current plan was made from, to re-plan on health changes.
    inputs: Option<(Labels, crate::plan::Vips)>,
    /// Sessions in Established, kept by the peer tasks (one thread, so a
    /// Cell is enough), and the last STATUS sent to systemd.
    established: std::rc::Rc<std::cell::Cell<usize>>,
    last_status: String,
    /// What the status socket and the metrics endpoint read.
    board: Rc<RefCell<Board>>,
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

/// The socket options for a peer, reading its MD5 key file.
pub fn sock_opts(p: &PeerConfig, local_as: u32) -> Result<SockOpts, String> {
    let md5_key = match &p.password_file {
        Some(f) => {
            let key = std::fs::read_to_string(f)
                .map_err(|e| format!("{}: cannot read: {e}", f.display()))?;
            let key = key.trim_end_matches(['\n', '\r']).as_bytes().to_vec();
            if key.is_empty() || key.len() > 80 {
                return Err(format!("{}: a TCP MD5 key is 1 to 80 bytes", f.display()));
            }
            Some(key)
        }
        None => None,
    };
    let (ttl, min_ttl) = match (p.ttl_security, p.ebgp_multihop) {
        (Some(hops), _) => (Some(255), Some(255 - hops + 1)),
        (None, Some(ttl)) => (Some(ttl), None),
        // Direct eBGP uses TTL 1, as BIRD, FRR and GoBGP do by default.
        (None, None) if p.asn != local_as => (Some(1), None),
        (None, None) => (None, None),
    };
    Ok(SockOpts {
        local: p.local_address,
        ttl,
        min_ttl,
        md5_key,
    })
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
    let vips = crate::plan::vip_plans(cfg.vips(), cfg.file_vips()?);
    // Key files are checked here so that a bad one fails the load/reload.
    for p in cfg.peers() {
        sock_opts(p, cfg.bgp.asn).map_err(|problem| ConfigError {
            file: path.display().to_string(),
            line: 0,
            problem,
        })?;
    }
    Ok(Loaded { cfg, labels, vips })
}

impl Daemon<'_> {
    fn reconcile(&mut self, plan: Plan) {
        let wanted: BTreeMap<Key, PeerPlan> = plan
            .selected()
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
            }
        }
        for (k, p) in wanted {
            match self.peers.get_mut(&k) {
                Some(h) if h.plan.peer == p.peer => {
                    if h.plan != p {
                        h.plan = p.clone();
                        let _ = h.tx.try_send(Cmd::Plan(Box::new(p)));
                    }
                }
                Some(_) => {
                    if let Some(h) = self.peers.remove(&k) {
                        info!(peer = %k.0, "peer settings changed: restarting its session");
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
        let opts = match sock_opts(&p.peer, self.cfg.bgp.asn) {
            Ok(o) => o,
            Err(e) => {
                error!(peer = %k.0, "{e}");
                return;
            }
        };
        let session = p.session_config(
            self.cfg.bgp.asn,
            self.router_id,
            self.cfg.bgp.graceful_restart,
            seed(&p.peer),
        );
        let (tx, rx) = async_channel::unbounded();
        info!(peer = %k.0, asn = p.peer.asn, "peer selected: starting session");
        let task = self.ex.spawn(
            PeerTask::new(
                p.clone(),
                session,
                opts,
                self.clock,
                self.established.clone(),
            )
            .run(rx),
        );
        self.peers.insert(k, Handle { tx, plan: p, task });
    }

    /// The STATUS line systemd shows; sent only when it changes.
    fn report_status(&mut self) {
        let s = format!(
            "{}/{} sessions established, {} VIPs",
            self.established.get(),
            self.peers.len(),
            self.inputs.as_ref().map_or(0, |(_, v)| v.len())
        );
        if s != self.last_status {
            notify::status(&s);
            self.last_status = s;
        }
    }

    fn reload(&mut self, why: &str) {
        notify::reloading();
        self.reload_inner(why);
        notify::ready(&self.last_status);
    }

    fn reload_inner(&mut self, why: &str) {
        match load(&self.path) {
            Ok(Loaded { cfg, labels, vips }) => {
                if cfg.bgp != self.cfg.bgp {
                    warn!("changes to [bgp] take effect on restart");
                }
                if cfg.control != self.cfg.control {
                    warn!("changes to [control] take effect on restart");
                }
                let keep_bgp = self.cfg.bgp.clone();
                let keep_control = self.cfg.control.clone();
                self.cfg = cfg;
                self.cfg.bgp = keep_bgp;
                self.cfg.control = keep_control;
                self.labels_stamp = self.cfg.node.labels_file.as_deref().map(stamp);
                self.start_checks();
                self.inputs = Some((labels, vips));
                self.replan();
                info!(reason = why, selected = self.peers.len(), "reloaded");
                alloc::trim();
            }
            Err(e) => error!("reload failed, keeping the running configuration: {e}"),
        }
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
        let healthy = &self.healthy;
        let plan = Plan::new(&self.cfg, self.node.clone(), labels, vips, &|h| {
            healthy.contains(h)
        });
        self.reconcile(plan);
        self.post();
    }

    /// Brings the board up to date with the peers and VIPs.
    fn post(&mut self) {
        let hosts: Vec<&str> = self.cfg.hosts().map(|h| h.name.as_str()).collect();
        let up = hosts.iter().filter(|h| self.healthy.contains(**h)).count();
        let mut b = self.board.borrow_mut();
        b.peers = self.peers.values().map(|h| h.tx.clone()).collect();
        b.vips = self.inputs.as_ref().map_or(Vec::new(), |(_, vips)| {
            vips.iter()
                .map(|v| VipInfo {
                    prefix: v.prefix.to_string(),
                    next_hop: match v.next_hop {
                        NextHopSpec::SelfAddress => "self".into(),
                        NextHopSpec::Hosts => "hosts".into(),
                        NextHopSpec::Address(a) => a.to_string(),
                    },
                    health: (v.next_hop == NextHopSpec::Hosts)
                        .then(|| format!("{up}/{} hosts up", hosts.len())),
                })
                .collect()
        });
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
            None => warn!(from = %ip, "refused connection: not a configured, selected peer"),
        }
    }

    async fn shutdown(&mut self) {
        notify::stopping();
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
    }
}

fn listener(addr: SocketAddr, cfg: &Config) -> std::io::Result<Async<TcpListener>> {
    let s = sockopt::new_tcp(&addr)?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(false)?;
    }
    for p in cfg.peers() {
        if let Ok(SockOpts {
            md5_key: Some(k), ..
        }) = sock_opts(p, cfg.bgp.asn)
        {
            let peer = match (addr, p.address) {
                (SocketAddr::V6(_), IpAddr::V4(a)) => IpAddr::V6(a.to_ipv6_mapped()),
                (_, a) => a,
            };
            sockopt::set_md5(&s, peer, &k)?;
        }
    }
    s.bind(&addr.into())?;
    s.listen(64)?;
    Async::new(TcpListener::from(s))
}

enum Wake {
    Watchdog,
    Health(health::Change),
    Signal(Option<Signal>),
    Accepted(std::io::Result<(Async<TcpStream>, SocketAddr)>),
    Tick,
}

/// Runs the daemon until SIGTERM or SIGINT. `socket` overrides the
/// config's control socket.
pub fn run(path: &Path, socket: Option<PathBuf>) -> Result<(), String> {
    alloc::tune();
    let Loaded { cfg, labels, vips } = load(path).map_err(|e| e.to_string())?;
    let node = cfg.node.name.clone().unwrap_or_else(addrs::hostname);
    let router_id = cfg
        .bgp
        .router_id
        .or_else(addrs::first_global_ipv4)
        .ok_or("no global IPv4 address on this host: set bgp.router_id")?;
    let mut signals = Signals::new([Signal::Hup, Signal::Term, Signal::Int])
        .map_err(|e| format!("signals: {e}"))?;
    let listen = match cfg.bgp.listen {
        Some(a) => Some(listener(a, &cfg).map_err(|e| format!("listen on {a}: {e}"))?),
        None => None,
    };
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
    let board = Rc::new(RefCell::new(Board {
        base: crate::status::Status {
            version: env!("CARGO_PKG_VERSION").into(),
            node: node.clone(),
            asn: cfg.bgp.asn,
            router_id: router_id.to_string(),
            ..Default::default()
        },
        started: Some(std::time::Instant::now()),
        ..Default::default()
    }));
    let ex: LocalExecutor<'static> = LocalExecutor::new();
    let (health_tx, health_rx) = async_channel::unbounded();
    let mut d = Daemon {
        ex: &ex,
        path: path.to_path_buf(),
        labels_stamp: cfg.node.labels_file.as_deref().map(stamp),
        cfg,
        node,
        router_id,
        clock: Clock(std::time::Instant::now()),
        peers: BTreeMap::new(),
        healthy: std::collections::BTreeSet::new(),
        checks: Vec::new(),
        health_tx,
        inputs: Some((labels, vips)),
        established: std::rc::Rc::new(std::cell::Cell::new(0)),
        last_status: String::new(),
        board: board.clone(),
    };
    info!(node = %d.node, asn = d.cfg.bgp.asn, router_id = %router_id, version = env!("CARGO_PKG_VERSION"), "leafvip starting");
    d.start_checks();
    d.replan();
    if let Some(l) = control {
        ex.spawn(control::serve(l, board.clone())).detach();
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
    let watchdog = notify::watchdog_interval();
    // async-io's block_on drives the reactor on this thread: no helper thread.
    async_io::block_on(ex.run(async {
        let mut tick = Timer::interval(LABELS_POLL);
        // Armed once, outside the loop: a timer made anew on every pass
        // would be pushed back by whatever else wakes the loop (the labels
        // tick comes every 2 s) and, with WatchdogSec above that, never fire.
        let mut pet = match watchdog {
            Some(every) => Timer::interval(every),
            None => Timer::never(),
        };
        loop {
            let sig = async { Wake::Signal(signals.next().await.and_then(Result::ok)) };
            let acc = async {
                match &listen {
                    Some(l) => Wake::Accepted(l.accept().await),
                    None => future::pending().await,
                }
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
            let w = async {
                pet.next().await;
                Wake::Watchdog
            };
            match future::or(future::or(w, future::or(h, sig)), future::or(acc, t)).await {
                // Sent from this loop, so a loop that hangs stops sending.
                Wake::Watchdog => notify::watchdog(),
                Wake::Health(c) => d.health_changed(c),
                Wake::Signal(Some(Signal::Hup)) => d.reload("SIGHUP"),
                Wake::Signal(_) => {
                    info!("shutting down");
                    d.shutdown().await;
                    return;
                }
                Wake::Accepted(Ok((s, from))) => match s.into_inner() {
                    Ok(s) => d.dispatch(s, from),
                    Err(e) => warn!("accept: {e}"),
                },
                Wake::Accepted(Err(e)) => warn!("accept: {e}"),
                Wake::Tick => {
                    d.report_status();
                    alloc::trim_slack();
                    if let Some(f) = d.cfg.node.labels_file.clone() {
                        let now = Some(stamp(&f));
                        if now != d.labels_stamp {
                            d.reload("labels file changed");
                            d.labels_stamp = now;
                        }
                    }
                }
            }
        }
    }));
    Ok(())
}
