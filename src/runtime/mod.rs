//! The runtime: one smol-style executor on the main thread (a task per
//! peer, the listener, signals, the labels-file watch), beside two threads
//! of its own: BFD's (`bfd_hub.rs`, ppoll) and, with `kube`, the cluster
//! thread's current-thread tokio runtime (`kube/`), which talks to the
//! executor over channels. It decides nothing: one loop selects over the
//! wake sources and hands each to the pure core ([`crate::daemon`]) through
//! the shell (`shell.rs`), which carries out the effects.
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
#[cfg(feature = "l2")]
pub mod l2;
pub mod listen;
pub mod marker;
#[cfg(feature = "metrics")]
mod metrics;
mod notify;
pub mod peer;
mod shell;
pub mod sockopt;
mod vip_probe;

use crate::daemon::{Core, Input, Start};
use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use async_signal::{Signal, Signals};
use board::Board;
use clock::Clock;
use futures_lite::{future, StreamExt};
use listen::Listeners;
use shell::Shell;
use std::cell::RefCell;
use std::future::Future;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;
use tracing::{info, warn};

pub use crate::daemon::Loaded;
pub use shell::load;

/// How often the labels file is checked for changes (a stat, no reads).
const LABELS_POLL: Duration = Duration::from_secs(2);

enum Wake {
    Watchdog,
    /// From a check, a load or the control socket.
    Input(Input),
    Signal(Option<Signal>),
    Accepted(std::io::Result<(Async<TcpStream>, SocketAddr)>),
    #[cfg(feature = "kube")]
    Cluster(kube::KubeEvent),
    /// The core's deadline.
    Timer,
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

/// Why the daemon could not start; nothing was announced.
#[derive(Debug)]
pub enum StartError {
    Config(crate::config::ConfigError),
    /// A plain host's config lacks the local AS or the router ID.
    Global(crate::global::GlobalError),
    Signals(std::io::Error),
    Listen(SocketAddr, std::io::Error),
    ControlSocket(PathBuf, std::io::Error),
    /// `[control] http`.
    Http(SocketAddr, std::io::Error),
    /// The cluster thread or its runtime.
    Cluster(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "{e}"),
            StartError::Global(e) => write!(f, "{e}"),
            StartError::Signals(e) => write!(f, "signals: {e}"),
            StartError::Listen(a, e) => write!(f, "listen on {a}: {e}"),
            StartError::ControlSocket(p, e) => write!(f, "control socket {}: {e}", p.display()),
            StartError::Http(a, e) => write!(f, "control.http {a}: {e}"),
            StartError::Cluster(e) => write!(f, "cluster thread: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Waits on a channel; a closed one never wakes.
async fn recv<T>(rx: &async_channel::Receiver<T>) -> T {
    match rx.recv().await {
        Ok(v) => v,
        Err(_) => future::pending().await,
    }
}

/// A wake source of the loop.
type Source<'a> = Pin<Box<dyn Future<Output = Wake> + 'a>>;

/// The first source to be ready, polled in order: one loop over dynamic
/// calls rather than a tree of `or`s, whose nested types cost the static
/// binary a copy of code per level.
async fn first(mut sources: Vec<Source<'_>>) -> Wake {
    future::poll_fn(|cx| {
        for s in &mut sources {
            if let Poll::Ready(w) = s.as_mut().poll(cx) {
                return Poll::Ready(w);
            }
        }
        Poll::Pending
    })
    .await
}

/// The pair a thread of ours (BFD, layer 2) waits on beside its sockets:
/// a byte written to the first wakes its `ppoll` on the second. Both
/// non-blocking.
#[cfg(any(feature = "bfd", feature = "l2"))]
fn wake_pair() -> std::io::Result<(
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixStream,
)> {
    let (a, b) = std::os::unix::net::UnixStream::pair()?;
    a.set_nonblocking(true)?;
    b.set_nonblocking(true)?;
    Ok((a, b))
}

/// Runs the daemon until SIGTERM or SIGINT (after a drain), or until the
/// control socket asks for a restart. `socket` overrides the config's
/// control socket.
pub fn run(path: &Path, socket: Option<PathBuf>) -> Result<Exit, StartError> {
    alloc::tune();
    notify::open();
    let loaded = load(path).map_err(StartError::Config)?;
    let host_ipv4 = addrs::first_global_ipv4();
    // On a plain host everything is in the file, so what is missing is an
    // error now; in cluster mode the BgpConf may still bring it.
    let global = crate::global::resolve(&loaded.cfg.bgp, None, &loaded.labels, host_ipv4);
    // A host of layer-2 VIPs alone has no peer, and needs no AS.
    if loaded.cfg.kubernetes.is_none() && !loaded.cfg.peers.is_empty() {
        global.clone().map_err(StartError::Global)?;
    }
    let mut signals =
        Signals::new([Signal::Hup, Signal::Term, Signal::Int]).map_err(StartError::Signals)?;
    let mut listeners = Listeners::default();
    if let Ok(g) = &global {
        if let Some((a, e)) = listeners.set(&g.listen).into_iter().next() {
            return Err(StartError::Listen(a, e));
        }
    }
    let socket = socket
        .or_else(|| loaded.cfg.control.socket.clone())
        .unwrap_or_else(|| control::DEFAULT_SOCKET.into());
    let control = match socket.as_os_str().is_empty() {
        true => None,
        false => {
            Some(control::bind(&socket).map_err(|e| StartError::ControlSocket(socket.clone(), e))?)
        }
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
    let board = Rc::new(RefCell::new(Board {
        started: Some(std::time::Instant::now()),
        ..Default::default()
    }));
    let ex: LocalExecutor<'static> = LocalExecutor::new();
    // Host and VIP checks, loads and the control socket: the core's inputs.
    let (inputs_tx, inputs) = async_channel::unbounded();
    let clock = Clock(std::time::Instant::now());
    let after_restart = restarted.is_some();
    let start = Start {
        loaded,
        host_ipv4,
        pid: std::process::id(),
        restarted,
    };
    let marker_socket = control.as_ref().map(|_| socket.clone());
    let mut d = Shell::new(
        &ex,
        path.to_path_buf(),
        Core::new(std::time::Instant::now(), start),
        clock,
        listeners,
        board.clone(),
        inputs_tx.clone(),
        marker_socket,
    );
    #[cfg(feature = "l2")]
    {
        board.borrow_mut().l2 = Some(d.l2.clone());
    }
    #[cfg(all(feature = "kube", feature = "l2"))]
    d.l2.tell(inputs_tx.clone());
    match d.core.global() {
        Ok(g) => info!(node = %d.core.node(), asn = g.asn, router_id = %g.router_id,
                       version = env!("CARGO_PKG_VERSION"), "leafvip starting"),
        Err(_) if d.core.config().kubernetes.is_none() => info!(node = %d.core.node(),
                        version = env!("CARGO_PKG_VERSION"), "leafvip starting, with no BGP peer"),
        Err(e) => info!(node = %d.core.node(), version = env!("CARGO_PKG_VERSION"),
                        "leafvip starting; waiting for the cluster: {e}"),
    }
    if after_restart {
        info!("this start follows a restart: the Restart State bit is set");
    }
    let effects = d.core.start(d.now());
    // Nothing at the start stops or restarts.
    let _ = d.perform(effects);
    if let Some(l) = control {
        ex.spawn(control::serve(l, board.clone(), inputs_tx))
            .detach();
    }
    #[cfg(feature = "metrics")]
    if let Some(a) = d.core.config().control.http {
        metrics::start(a, board.clone(), &ex).map_err(|e| StartError::Http(a, e))?;
    }
    board.borrow_mut().ready = true;
    alloc::trim();
    // Config loaded, listener bound, sessions starting: ready.
    notify::ready(d.core.status_line());
    // Cluster mode: the Node object's labels, BgpPeers and BgpConf, from
    // a thread of its own.
    #[cfg(feature = "kube")]
    let cluster = cluster::start(&d.core, d.clock, &board, &ex, &mut d.cluster)?;
    let watchdog = notify::watchdog_interval();
    let busy = board.borrow().busy.clone();
    // async-io's block_on drives the reactor on this thread.
    let exit = async_io::block_on(ex.run(async {
        let mut tick = Timer::interval(LABELS_POLL);
        // Armed once, outside the loop: a timer made anew on every pass
        // would be pushed back by whatever else wakes the loop (the labels
        // tick comes every 2 s) and, with WatchdogSec above that, never fire.
        let mut pet = match watchdog {
            Some(every) => Timer::interval(every),
            None => Timer::never(),
        };
        loop {
            let (resume, deadline) = (d.accept_resume, d.core.poll_at());
            let listeners = &d.listeners;
            // One select over every wake source, in this order.
            #[cfg(feature = "kube")]
            let cluster = &cluster;
            let sources: Vec<Source<'_>> = vec![
                Box::pin(async {
                    pet.next().await;
                    Wake::Watchdog
                }),
                Box::pin(async { Wake::Signal(signals.next().await.and_then(Result::ok)) }),
                Box::pin(async { Wake::Input(recv(&inputs).await) }),
                Box::pin(async {
                    #[cfg(feature = "kube")]
                    if let Some(rx) = cluster {
                        return Wake::Cluster(recv(rx).await);
                    }
                    future::pending().await
                }),
                Box::pin(async {
                    if let Some(t) = resume {
                        Timer::at(t).await;
                    }
                    Wake::Accepted(listeners.accept().await)
                }),
                Box::pin(async {
                    tick.next().await;
                    Wake::Tick
                }),
                Box::pin(async {
                    match deadline {
                        Some(at) => Timer::at(at).await,
                        None => future::pending().await,
                    };
                    Wake::Timer
                }),
            ];
            let wake = first(sources).await;
            let started = std::time::Instant::now();
            let input = match wake {
                // Sent from this loop, so a loop that hangs stops sending.
                Wake::Watchdog => {
                    notify::watchdog();
                    None
                }
                Wake::Input(i) => Some(i),
                Wake::Signal(Some(Signal::Hup)) => Some(Input::Reload("SIGHUP")),
                Wake::Signal(_) => Some(Input::Stop),
                #[cfg(feature = "kube")]
                Wake::Cluster(event) => Some(Input::Cluster {
                    // Only labels and the BgpConf resolve the router ID
                    // again; the rest (Service views at every change)
                    // need no walk of the interfaces.
                    host_ipv4: match event.resolves_router_id() {
                        true => addrs::first_global_ipv4(),
                        false => None,
                    },
                    event,
                }),
                Wake::Timer => Some(Input::Timer),
                Wake::Accepted(Ok((s, from))) => {
                    d.accepted();
                    match s.into_inner() {
                        Ok(s) => d.dispatch(s, from),
                        Err(e) => warn!("accept: {e}"),
                    }
                    None
                }
                Wake::Accepted(Err(e)) => {
                    d.accept_failed(&e);
                    None
                }
                Wake::Tick => {
                    alloc::trim_slack();
                    if let Some(exit) = d.feed(Input::Tick).await {
                        return exit;
                    }
                    d.labels_changed()
                        .then_some(Input::Reload("labels file changed"))
                }
            };
            if let Some(input) = input {
                if let Some(exit) = d.feed(input).await {
                    return exit;
                }
            }
            busy.record(started, "the daemon's event");
        }
    }));
    Ok(exit)
}
