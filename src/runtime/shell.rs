//! The shell around the pure core ([`crate::daemon`]): it owns the
//! sockets, tasks, threads and systemd, hands the core what happened and
//! carries out the [`Effect`]s that come back. It decides nothing the
//! core could.
use super::board::Board;
use super::clock::Clock;
use super::listen::{sock_opts, Listeners};
use super::peer::{Cmd, PeerTask};
use super::{addrs, alloc, health, marker, notify, vip_probe, Exit};
use crate::config::ConfigError;
use crate::daemon::{Core, Effect, Input, Key, Loaded, Notify, Now};
use async_executor::{LocalExecutor, Task};
use async_io::Timer;
use futures_lite::future;
use leafvip_bgp::wire::cease;
use std::cell::RefCell;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tracing::{error, warn};

/// The first and the longest pause after a failed accept.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(2));

/// How long a stop leaves the routers to read the Ceases before BFD's
/// AdminDown.
const CEASE_BEFORE_ADMIN_DOWN: Duration = Duration::from_millis(200);

/// A running session task.
struct Handle {
    tx: async_channel::Sender<Cmd>,
    task: Task<()>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileStamp(Option<(std::time::SystemTime, u64, u64)>);

pub(super) fn stamp(path: &Path) -> FileStamp {
    use std::os::unix::fs::MetadataExt;
    FileStamp(std::fs::metadata(path).ok().map(|m| {
        (
            m.modified().unwrap_or(std::time::UNIX_EPOCH),
            m.len(),
            m.ino(),
        )
    }))
}

/// Loads config, labels and VIP file, or says what is wrong and where.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let cfg = crate::config::Config::load(path)?;
    let labels = cfg.labels()?;
    let vips = std::sync::Arc::new(cfg.vip_list()?);
    Ok(Loaded { cfg, labels, vips })
}

/// A finished load, as the core hears it.
fn loaded(path: &Path) -> Input {
    Input::Loaded {
        result: Box::new(load(path)),
        host_ipv4: addrs::first_global_ipv4(),
    }
}

pub(super) struct Shell<'a> {
    pub ex: &'a LocalExecutor<'static>,
    pub path: PathBuf,
    pub core: Core,
    pub clock: Clock,
    pub listeners: Listeners,
    /// The running sessions, in no order (the core's keys have one).
    handles: Vec<(Key, Handle)>,
    checks: Vec<Task<()>>,
    /// Where the checks, the loader and the control socket send the
    /// core's inputs.
    pub inputs: async_channel::Sender<Input>,
    vip_tasks: Vec<Task<()>>,
    /// What the status socket and the metrics endpoint read.
    pub board: Rc<RefCell<Board>>,
    /// The labels file's stamp as last loaded, and as the load under way
    /// found it when it started.
    pub labels_stamp: Option<FileStamp>,
    load_stamp: Option<FileStamp>,
    refused_log: crate::throttle::Throttle,
    accept_log: crate::throttle::Throttle,
    /// After a failed accept: the pause, and when the listener is used again.
    accept_backoff: Duration,
    pub accept_resume: Option<Instant>,
    /// The control socket, beside which a restart leaves its marker.
    pub marker_socket: Option<PathBuf>,
    #[cfg(feature = "kube")]
    pub cluster: super::cluster::Link,
    /// Every BFD session, on one thread of its own (`bfd_hub.rs`).
    #[cfg(feature = "bfd")]
    pub bfd: super::bfd_hub::Hub,
    /// Layer-2 mode's speaker, on a thread of its own (`runtime/l2`).
    #[cfg(feature = "l2")]
    pub l2: super::l2::Hub,
}

impl<'a> Shell<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ex: &'a LocalExecutor<'static>,
        path: PathBuf,
        core: Core,
        clock: Clock,
        listeners: Listeners,
        board: Rc<RefCell<Board>>,
        inputs: async_channel::Sender<Input>,
        marker_socket: Option<PathBuf>,
    ) -> Self {
        let labels_stamp = core.config().node.labels_file.as_deref().map(stamp);
        Shell {
            ex,
            path,
            core,
            clock,
            listeners,
            handles: Vec::new(),
            checks: Vec::new(),
            inputs,
            vip_tasks: Vec::new(),
            board,
            labels_stamp,
            load_stamp: None,
            refused_log: Default::default(),
            accept_log: Default::default(),
            accept_backoff: Duration::ZERO,
            accept_resume: None,
            marker_socket,
            #[cfg(feature = "kube")]
            cluster: Default::default(),
            #[cfg(feature = "bfd")]
            bfd: super::bfd_hub::Hub::new(clock),
            #[cfg(feature = "l2")]
            l2: super::l2::Hub::new(clock),
        }
    }

    /// This moment, as the core reads it.
    pub fn now(&self) -> Now {
        Now {
            at: self.clock.instant(),
            wall: self.clock.wall(),
            established: self.board.borrow().established.get(),
            #[cfg(feature = "l2")]
            l2_owned: self.l2.owned(),
            #[cfg(not(feature = "l2"))]
            l2_owned: 0,
        }
    }

    /// Hands the core an input and carries out what it says; Some when
    /// the daemon ends.
    pub async fn feed(&mut self, input: Input) -> Option<Exit> {
        let effects = self.core.apply(self.now(), input);
        let exit = self.perform(effects);
        if exit == Some(Exit::Stopped) {
            self.shutdown().await;
        }
        exit
    }

    /// Carries out the effects; Some when the daemon ends, after
    /// [`Shell::shutdown`] for a stop.
    pub fn perform(&mut self, effects: Vec<Effect>) -> Option<Exit> {
        for e in effects {
            match e {
                Effect::Start { plan, session } => self.spawn(*plan, *session),
                Effect::Plan(p) => {
                    if let Some(tx) = self.tx((p.peer.address, p.peer.port)) {
                        let _ = tx.try_send(Cmd::Plan(p));
                    }
                }
                Effect::Close {
                    peer,
                    subcode,
                    message,
                } => {
                    if let Some(i) = self.handles.iter().position(|(k, _)| *k == peer) {
                        let (_, h) = self.handles.swap_remove(i);
                        let _ = h.tx.try_send(Cmd::Stop {
                            subcode,
                            message: message.into(),
                        });
                        h.task.detach();
                    }
                }
                Effect::Bfd(peer, change) => self.bfd_change(peer, change),
                Effect::Listen(addrs) => {
                    for (a, e) in self.listeners.set(&addrs) {
                        error!("listen on {a}: {e}");
                    }
                }
                Effect::Rekey => {
                    if let Err(e) = self.listeners.rekey(self.core.all_peers()) {
                        error!("listener MD5 keys: {e}");
                    }
                }
                Effect::HostChecks => self.start_checks(),
                Effect::VipChecks => self.start_vip_checks(),
                Effect::Load => self.start_load(),
                Effect::Reloaded => {
                    // Taken before the load: a change during it is seen again.
                    self.labels_stamp = self.load_stamp.take();
                    alloc::trim();
                }
                Effect::Notify(n) => match n {
                    Notify::Status(s) => notify::status(&s),
                    Notify::Reloading => notify::reloading(),
                    Notify::Ready(s) => notify::ready(&s),
                    Notify::Stopping => notify::stopping(),
                },
                Effect::Show => {
                    let mut b = self.board.borrow_mut();
                    b.shown = self.core.shown().clone();
                    b.peers = self
                        .core
                        .keys()
                        .filter_map(|k| self.tx(k))
                        .cloned()
                        .collect();
                }
                Effect::Shutdown => return Some(Exit::Stopped),
                Effect::Restart { down } => {
                    if let Some(s) = &self.marker_socket {
                        if let Err(e) = marker::write(s, down) {
                            warn!("restart marker: {e}; the next process will not set the Restart State bit");
                        }
                    }
                    notify::stopping();
                    self.farewell();
                    return Some(Exit::Restart);
                }
                #[cfg(feature = "kube")]
                Effect::Event(e) => self.cluster.event(e),
                #[cfg(feature = "kube")]
                Effect::StatusNames(names) => *self.cluster.names.borrow_mut() = names,
                #[cfg(feature = "l2")]
                Effect::L2(wants) => self.l2.set(&wants),
            }
        }
        None
    }

    fn spawn(&mut self, plan: crate::plan::PeerPlan, session: leafvip_bgp::session::SessionConfig) {
        let key = (plan.peer.address, plan.peer.port);
        let opts = sock_opts(&plan.peer, session.local_as);
        let seed = session.seed;
        let (tx, rx) = async_channel::unbounded();
        let (established, busy) = {
            let b = self.board.borrow();
            (b.established.clone(), b.busy.clone())
        };
        let peer = plan.peer.clone();
        let task = PeerTask::new(plan, session, opts, self.clock, established, busy);
        let task = self.guard(task, &peer, seed, &tx);
        let task = self.ex.spawn(task.run(rx));
        self.handles.push((key, Handle { tx, task }));
    }

    /// (Re)starts the host checks; dropping a task cancels it.
    fn start_checks(&mut self) {
        self.checks.clear();
        for (name, c, was) in self.core.host_checks() {
            let run = health::run(name.to_string(), c.clone(), was, self.inputs.clone());
            self.checks.push(self.ex.spawn(run));
        }
    }

    fn start_vip_checks(&mut self) {
        self.vip_tasks.clear();
        for (prefix, c, up) in self.core.vip_checks() {
            let run = vip_probe::run(prefix, c.clone(), up, self.inputs.clone());
            self.vip_tasks.push(self.ex.spawn(run));
        }
    }

    /// Starts a load on a thread of its own: reading and checking 100k
    /// VIPs takes far longer than a hold timer may wait on the loop.
    fn start_load(&mut self) {
        self.load_stamp = self.core.config().node.labels_file.as_deref().map(stamp);
        let (path, tx) = (self.path.clone(), self.inputs.clone());
        let spawned = std::thread::Builder::new()
            .name("leafvip-load".into())
            .spawn(move || {
                let _ = tx.send_blocking(loaded(&path));
            });
        if let Err(e) = spawned {
            // Out of threads: load here rather than not at all.
            warn!("cannot start a loader thread ({e}): loading on the event loop");
            let _ = self.inputs.try_send(loaded(&self.path));
        }
    }

    /// The command channel of a running session.
    fn tx(&self, peer: Key) -> Option<&async_channel::Sender<Cmd>> {
        let (_, h) = self.handles.iter().find(|(k, _)| *k == peer)?;
        Some(&h.tx)
    }

    /// The command channel of the running session with this peer.
    #[cfg(feature = "bfd")]
    pub(super) fn tx_of(&self, peer: std::net::IpAddr) -> Option<async_channel::Sender<Cmd>> {
        self.tx(self.core.selected(peer)?).cloned()
    }

    /// Whether the labels file changed since it was loaded (none under way).
    pub fn labels_changed(&self) -> bool {
        let file = self.core.config().node.labels_file.as_deref();
        match file.filter(|_| !self.core.loading()) {
            Some(f) => Some(stamp(f)) != self.labels_stamp,
            None => false,
        }
    }

    /// A connection from a peer goes to its task; any other is refused.
    pub fn dispatch(&mut self, stream: TcpStream, from: SocketAddr) {
        let ip = from.ip().to_canonical();
        match self.core.selected(ip).and_then(|k| self.tx(k)) {
            Some(tx) => {
                let _ = tx.try_send(Cmd::Incoming(stream));
            }
            None => {
                self.board.borrow_mut().counters.refused += 1;
                if let Some(more) = self.refused_log.hit(Instant::now()) {
                    warn!(from = %ip, more, "refused connection: not a configured, selected peer");
                }
            }
        }
    }

    pub fn accepted(&mut self) {
        self.accept_backoff = Duration::ZERO;
        self.accept_resume = None;
    }

    /// Counts a failed accept and says how long to leave the listener
    /// alone: out of descriptors, accept fails at once for as long as the
    /// connection waits in the backlog, and retrying at once spins.
    pub fn accept_failed(&mut self, e: &std::io::Error) {
        self.board.borrow_mut().counters.accept_errors += 1;
        self.accept_backoff = (self.accept_backoff * 2).clamp(ACCEPT_BACKOFF.0, ACCEPT_BACKOFF.1);
        if let Some(more) = self.accept_log.hit(Instant::now()) {
            warn!(
                more,
                pause_ms = self.accept_backoff.as_millis() as u64,
                "accept: {e}"
            );
        }
        self.accept_resume = Some(Instant::now() + self.accept_backoff);
    }

    async fn shutdown(&mut self) {
        notify::stopping();
        #[cfg(feature = "kube")]
        self.cluster
            .withdraw_status(self.core.node(), Duration::from_secs(1))
            .await;
        for (_, h) in &self.handles {
            let _ = h.tx.try_send(Cmd::Stop {
                subcode: cease::ADMIN_SHUTDOWN,
                message: "leafvip shutting down".into(),
            });
        }
        let tasks: Vec<Task<()>> = std::mem::take(&mut self.handles)
            .into_iter()
            .map(|(_, h)| h.task)
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
        // After the Ceases, so that the routers hear why BGP closed, and a
        // beat later: sent together, the Cease on TCP and the AdminDown on
        // UDP reach a router within a millisecond, and BIRD acted on
        // whichever its loop read first (the AdminDown in 1 stop in 5
        // under qemu, `tests/qemu.sh`), closing BGP for "BFD down".
        if self.core.all_peers().any(|p| p.bfd.is_some()) {
            Timer::after(CEASE_BEFORE_ADMIN_DOWN).await;
        }
        self.farewell();
    }

    /// Before the process stops or restarts: BFD AdminDown, and VRRP
    /// priority 0 from any VIP this host still answers for, so that no
    /// neighbour waits out a timer.
    fn farewell(&self) {
        self.bfd_admin_down();
        #[cfg(feature = "l2")]
        self.l2.shutdown();
    }
}
