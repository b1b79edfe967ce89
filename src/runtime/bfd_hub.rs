//! Every BFD session of the daemon (feature `bfd`), on a thread of its
//! own (`leafvip-bfd`), as BIRD runs its BFD: the receive sockets, one
//! deadline for all sessions, and the send sockets, driven by one `ppoll`.
//! - A busy event loop (a 100k-VIP reload, a large initial sync) never
//!   delays a BFD packet, so it cannot cause a false failure.
//! - A packet costs a `recvmsg` or a `send`, and a wake-up serves every
//!   session whose send window is open (`Event::Awake`). Run as a task
//!   on the async executor it took ~16 system calls a packet and 10
//!   sessions at 100 ms cost 1.3 % of a core; on this thread, 0.42 %
//!   against BIRD's 1.07 % in the same run (`bench/bfd.sh`, README).
//!
//! Peer tasks hear from it only when their path changes ([`Verdict`],
//! over their command channel). When that is, RFC 5882 leaves to the
//! implementation: ours is pure and property-tested in the core
//! ([`leafvip_bfd::client`]); this file only does the I/O. What the peer
//! task does with a verdict:
//! - A BGP session with BFD configured does not start (no connection made
//!   or accepted) until BFD is Up, like FRR's `bfd strict`: a host whose
//!   link forwards nothing must not announce VIPs. A peer without `bfd`
//!   is never held, and one peer's BFD holds no other peer.
//! - BFD leaving Up tears the BGP session down at once (Cease 10, "BFD
//!   Down", RFC 9384); it starts again when BFD is back Up. The peer's
//!   AdminDown is no such fall (RFC 5882 3.2).
use super::bfd::{self, Datagram};
use super::clock::Clock;
use crate::bfd_config::BfdConfig;
use crate::bfd_status::BfdStatus;
use leafvip_bfd::session::{Action, Event};
pub use leafvip_bfd::Verdict;
use leafvip_bfd::{Client, Diag, Instant, Session, State};
use nix::poll::{PollFd, PollFlags};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};
use tracing::{debug, error, info, warn};

/// How a BGP session hears its verdicts: the hub knows nothing of peer
/// tasks, only whom to tell. Called on the BFD thread; it must not block.
pub type Notify = Box<dyn Fn(Verdict) + Send>;

/// A handle on the daemon's BFD sessions; clones share them.
#[derive(Clone)]
pub struct Hub(Arc<Shared>);

struct Shared {
    inner: Mutex<Inner>,
    /// Written to wake the thread when sessions are added or changed.
    wake: Mutex<Option<UnixStream>>,
}

struct Inner {
    clock: Clock,
    sessions: HashMap<IpAddr, Entry>,
    started: bool,
    /// Why the thread could not listen, shown in every BFD status.
    error: Option<String>,
}

struct Entry {
    session: Session,
    sock: Result<UdpSocket, String>,
    local: Option<IpAddr>,
    /// The BGP session's side of it: verdicts on changes only.
    client: Client,
    notify: Notify,
    send_log: crate::throttle::Throttle,
}

/// A random, non-zero discriminator that no session of ours has. Random
/// from the kernel, not sequential: with a guessable one a blind spoofer
/// could name our session (RFC 5880 6.8.1 asks for uniqueness, and
/// 6.8.6's discard rule is only as strong as the value is unknown).
fn fresh_discriminator(taken: impl Fn(u32) -> bool) -> u32 {
    loop {
        let d = random_u32();
        if d != 0 && !taken(d) {
            return d;
        }
    }
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    // getrandom(2) on the kernel's pool; it cannot block once the pool
    // is initialised, which it is long before a daemon starts.
    // SAFETY: `b` is a valid, writable 4-byte buffer.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n == 4 {
        u32::from_ne_bytes(b)
    } else {
        // No getrandom (an old kernel, a seccomp filter): the clock's
        // nanoseconds and the PID, still not sequential.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        t ^ std::process::id().rotate_left(16)
    }
}

impl Hub {
    pub fn new(clock: Clock) -> Hub {
        Hub(Arc::new(Shared {
            inner: Mutex::new(Inner {
                clock,
                sessions: HashMap::new(),
                started: false,
                error: None,
            }),
            wake: Mutex::new(None),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic on the BFD thread aborts the process (panic = "abort"),
        // so a poisoned lock only happens in tests; its data is whole.
        self.0.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        if let Some(w) = self
            .0
            .wake
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = (&*w).write(&[0]);
        }
    }

    /// Guards a BGP session (told through `notify`) with a BFD session to
    /// `peer`, or
    /// hands it the one that runs already (a BGP session restarted for a
    /// config change keeps its BFD session). Returns whether the path is
    /// down, that is, whether BGP must wait. The first call binds UDP
    /// 3784 and starts the thread; if that fails, the error is logged,
    /// BFD never comes Up and the status says why.
    pub fn add(
        &self,
        cfg: &BfdConfig,
        peer: IpAddr,
        local: Option<IpAddr>,
        seed: u64,
        notify: Notify,
    ) -> bool {
        self.start();
        let peer = peer.to_canonical();
        let down = {
            let mut inner = self.lock();
            let now = inner.clock.micros();
            if let Some(e) = inner.sessions.get_mut(&peer).filter(|e| e.local == local) {
                e.notify = notify;
                e.handle(peer, now, Event::Configure(cfg.session_config()));
                e.client.path_down()
            } else {
                let disc = fresh_discriminator(|d| {
                    inner.sessions.values().any(|e| e.session.local_disc() == d)
                });
                let sock = bfd::sender(peer, local, seed).map_err(|e| {
                    warn!(%peer, "BFD: cannot open the send socket: {e}");
                    e.to_string()
                });
                let e = Entry {
                    session: Session::new(cfg.session_config(), disc, seed, now),
                    sock,
                    local,
                    client: Client::new(),
                    notify,
                    send_log: Default::default(),
                };
                inner.sessions.insert(peer, e);
                true
            }
        };
        self.wake();
        down
    }

    /// New timers: a Poll Sequence, no flap.
    pub fn configure(&self, peer: IpAddr, cfg: &BfdConfig) {
        {
            let mut inner = self.lock();
            let now = inner.clock.micros();
            let peer = peer.to_canonical();
            if let Some(e) = inner.sessions.get_mut(&peer) {
                e.handle(peer, now, Event::Configure(cfg.session_config()));
            }
        }
        self.wake();
    }

    /// Ends the session to `peer` with an AdminDown, so that the peer
    /// does not read the silence as a failure (RFC 5882 3.2).
    pub fn remove(&self, peer: IpAddr) {
        let mut inner = self.lock();
        let now = inner.clock.micros();
        let peer = peer.to_canonical();
        if let Some(mut e) = inner.sessions.remove(&peer) {
            e.admin_down(peer, now);
        }
    }

    /// AdminDown on every session, before the process stops or restarts;
    /// the BGP sessions hear nothing of it (a restart keeps them).
    pub fn admin_down_all(&self) {
        let mut inner = self.lock();
        let now = inner.clock.micros();
        for (peer, e) in inner.sessions.iter_mut() {
            e.admin_down(*peer, now);
        }
    }

    pub fn status(&self, peer: IpAddr, holding_bgp: bool) -> Option<BfdStatus> {
        let inner = self.lock();
        let now = inner.clock.micros();
        let e = inner.sessions.get(&peer.to_canonical())?;
        let mut s = e.status(now, holding_bgp);
        if s.error.is_none() {
            s.error.clone_from(&inner.error);
        }
        Some(s)
    }

    fn start(&self) {
        if std::mem::replace(&mut self.lock().started, true) {
            return;
        }
        let socks = match bfd::Sockets::bind() {
            Ok(s) => s,
            Err(e) => {
                error!("BFD: cannot listen: {e}");
                self.lock().error = Some(format!("cannot listen: {e}"));
                return;
            }
        };
        let (w, r) = match super::wake_pair() {
            Ok(p) => p,
            Err(e) => {
                error!("BFD: cannot make the wake-up pair: {e}");
                self.lock().error = Some(format!("cannot start: {e}"));
                return;
            }
        };
        *self.0.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
        let hub = self.clone();
        let spawned = std::thread::Builder::new()
            .name("leafvip-bfd".into())
            // It holds a few buffers on the stack: keep its RSS small.
            .stack_size(64 * 1024)
            .spawn(move || hub.run(socks, r));
        if let Err(e) = spawned {
            error!("BFD: cannot start its thread: {e}");
            self.lock().error = Some(format!("cannot start: {e}"));
        }
    }

    /// The thread: wait for a packet, a wake-up or the earliest deadline;
    /// then read everything waiting and run every due timer.
    fn run(self, socks: bfd::Sockets, mut wake: UnixStream) {
        loop {
            let timeout = {
                let inner = self.lock();
                let now = inner.clock.micros();
                let next = inner
                    .sessions
                    .values()
                    .filter_map(|e| e.session.poll_at())
                    .min();
                next.map(|t| std::time::Duration::from_micros(t - now))
            };
            // The wake-up pair first, then the sockets (one or two).
            let mut fds = [PollFd::new(wake.as_fd(), PollFlags::POLLIN); 3];
            for (f, s) in fds[1..].iter_mut().zip(&socks.socks) {
                *f = PollFd::new(s.as_fd(), PollFlags::POLLIN);
            }
            let n = 1 + socks.socks.len();
            let ts = timeout.map(nix::sys::time::TimeSpec::from_duration);
            if let Err(e) = nix::poll::ppoll(&mut fds[..n], ts, None) {
                if e != nix::errno::Errno::EINTR {
                    error!("BFD: ppoll: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
            let mut ready = [false; 3];
            for (r, f) in ready.iter_mut().zip(&fds[..n]) {
                *r = f.revents().is_some_and(|r| !r.is_empty());
            }
            if ready[0] {
                let mut b = [0u8; 64];
                while matches!(wake.read(&mut b), Ok(n) if n > 0) {}
            }
            let mut inner = self.lock();
            let now = inner.clock.micros();
            // One datagram a socket: poll is level-triggered, so more
            // waiting wake it again at once, and no read ends in EAGAIN.
            for i in (0..socks.socks.len()).filter(|i| ready[i + 1]) {
                if let Some((from, d)) = socks.recv(i) {
                    inner.received(now, from, &d);
                }
            }
            // Due timers, then every session whose send window is open
            // goes out on this same wake-up: about half the wake-ups of
            // one per packet.
            for (peer, e) in inner.sessions.iter_mut() {
                let ev = match e.session.poll_at() {
                    Some(t) if t <= now => Event::Timer,
                    _ => Event::Awake,
                };
                e.handle(*peer, now, ev);
            }
        }
    }
}

impl Inner {
    fn received(&mut self, now: Instant, from: IpAddr, d: &Datagram) {
        let from = from.to_canonical();
        match self.sessions.get_mut(&from) {
            Some(e) => e.handle(
                from,
                now,
                Event::Received {
                    bytes: d.bytes(),
                    ttl: d.ttl,
                },
            ),
            None => debug!(%from, "BFD packet from an address with no BFD session"),
        }
    }
}

impl Entry {
    fn handle(&mut self, peer: IpAddr, now: Instant, ev: Event<'_>) {
        for a in self.session.handle_event(now, ev) {
            match a {
                Action::Send(b) => self.send(peer, &b),
                Action::StateChange { from, to, diag } => {
                    let remote = name(self.session.remote_state());
                    if to == State::Up || from == State::Up {
                        info!(%peer, "BFD {} -> {} ({}, remote {remote})", name(from), name(to), diag_name(diag));
                    } else {
                        debug!(%peer, "BFD {} -> {}", name(from), name(to));
                    }
                }
                Action::TimersApplied { tx, detect_time } => {
                    debug!(%peer, tx_us = tx, detect_us = detect_time, "BFD timers applied");
                }
                Action::Discarded(why) => debug!(%peer, "BFD packet discarded: {why:?}"),
            }
        }
        if let Some(v) = self.client.observe(&self.session) {
            (self.notify)(v);
        }
    }

    fn send(&mut self, peer: IpAddr, b: &[u8]) {
        let Ok(s) = &self.sock else { return };
        // Connected UDP: an ICMP unreachable from an earlier packet comes
        // back here as ECONNREFUSED; the session's timers judge the peer.
        if let Err(e) = s.send(b) {
            if let Some(more) = self.send_log.hit(std::time::Instant::now()) {
                debug!(%peer, more, "BFD send: {e}");
            }
        }
    }

    /// Takes the session AdminDown and sends its packet, with no verdict:
    /// the session is being dropped, or the process is going away.
    fn admin_down(&mut self, peer: IpAddr, now: Instant) {
        for a in self.session.handle_event(now, Event::AdminDown) {
            if let Action::Send(b) = a {
                self.send(peer, &b);
            }
        }
    }

    fn status(&self, now: Instant, holding_bgp: bool) -> BfdStatus {
        let s = &self.session;
        let st = s.stats();
        BfdStatus {
            state: name(s.state()),
            remote_state: name(s.remote_state()),
            diag: diag_name(s.diag()),
            state_secs: (now - s.since()) / 1_000_000,
            local_discriminator: s.local_disc(),
            remote_discriminator: s.remote_disc(),
            tx_interval_us: s.tx_interval(),
            detect_time_us: s.detect_time(),
            holding_bgp,
            ups: st.ups,
            downs: st.downs,
            packets_in: st.packets_in,
            packets_out: st.packets_out,
            discarded: st.discarded,
            error: self.sock.as_ref().err().cloned(),
        }
    }
}

pub fn name(s: State) -> &'static str {
    match s {
        State::AdminDown => "admin-down",
        State::Down => "down",
        State::Init => "init",
        State::Up => "up",
    }
}

pub fn diag_name(d: Diag) -> &'static str {
    match d {
        Diag::None => "none",
        Diag::ControlDetectionTimeExpired => "control detection time expired",
        Diag::EchoFunctionFailed => "echo function failed",
        Diag::NeighborSignaledSessionDown => "neighbor signaled session down",
        Diag::ForwardingPlaneReset => "forwarding plane reset",
        Diag::PathDown => "path down",
        Diag::ConcatenatedPathDown => "concatenated path down",
        Diag::AdministrativelyDown => "administratively down",
        Diag::ReverseConcatenatedPathDown => "reverse concatenated path down",
        Diag::Reserved(_) => "reserved",
    }
}
