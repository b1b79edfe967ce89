//! One task per peer: carries the core's actions to a socket and feeds the
//! socket, the timers and the daemon's commands back in as events.
#[cfg(feature = "bfd")]
mod bfd;
mod collision;
mod note;
mod status;

use super::addrs;
use super::clock::Clock;
use super::sockopt::{self, SockOpts};
use crate::plan::{LocalAddrs, PeerPlan};
use async_io::{Async, Timer};
use futures_lite::future;
use leafvip_bgp::peer::{Incoming, Peer};
use leafvip_bgp::session::{Action, Event, SessionConfig, State};
use leafvip_bgp::Instant;
use status::History;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::time::Duration;
use tracing::{debug, warn};

/// Ask the core for more UPDATEs once fewer bytes than this are queued.
const PUMP_BELOW: usize = 64 * 1024;

/// What one wake-up may read from a peer before the task yields: four
/// reads of the stack buffer. A peer that streams at line rate never lets
/// its socket run dry, and reading until it did held the loop for seconds
/// while every other session's hold timer ran (issue 20).
const READ_BUDGET: usize = 64 * 1024;

/// Queued for the peer above this, we stop waiting for what it sends
/// (ROUTE-REFRESH, KEEPALIVEs can only make more to send, and it is not
/// taking what there is); the socket's own buffer then pushes back on it.
/// Timers still read, within the budget, so that its KEEPALIVEs count
/// while a large batch drains. UPDATEs are pumped only below
/// [`PUMP_BELOW`], so a peer that reads stays under this.
const QUEUE_HIGH: usize = 256 * 1024;

/// A peer that takes none of a non-empty queue for this long, or its hold
/// time if longer, is closed (Cease, Out of Resources): it reads none of
/// our KEEPALIVEs either, so to it the session is dead already.
const SEND_STALL: Duration = Duration::from_secs(30);

pub enum Cmd {
    /// New VIPs or next hops; the session itself is unchanged.
    Plan(Box<PeerPlan>),
    /// An incoming connection from this peer's address.
    Incoming(TcpStream),
    /// Close with a Cease of this subcode and message, then end the task.
    Stop { subcode: u8, message: String },
    /// Answer with a snapshot for `leafvip status` and the metrics, with
    /// per-VIP detail for these prefixes only.
    Status {
        reply: async_channel::Sender<crate::status::PeerStatus>,
        detail: std::sync::Arc<[leafvip_bgp::wire::Prefix]>,
    },
    /// The BFD session guarding this one changed (`bfd_hub.rs`).
    #[cfg(feature = "bfd")]
    Bfd(super::bfd_hub::Verdict),
    /// BFD was added to a running session (which it does not hold).
    #[cfg(feature = "bfd")]
    Guard(super::bfd_hub::Hub),
    /// BFD was removed from the peer's config: release the session.
    #[cfg(feature = "bfd")]
    Unguard,
}

pub(super) struct Conn {
    pub(super) stream: Async<TcpStream>,
    pub(super) out: Vec<u8>,
    /// When the peer last took bytes of the queue, or the queue last
    /// filled from empty: a non-empty queue untouched since is stalled.
    progress: std::time::Instant,
}

impl Conn {
    pub(super) fn new(stream: Async<TcpStream>) -> Self {
        Conn {
            stream,
            out: Vec::new(),
            progress: std::time::Instant::now(),
        }
    }

    /// Queues bytes for the peer.
    pub(super) fn queue(&mut self, bytes: &[u8]) {
        if self.out.is_empty() {
            self.progress = std::time::Instant::now();
        }
        self.out.extend_from_slice(bytes);
    }

    /// When a queue the peer is not taking counts as stalled.
    fn stalls_at(&self, bound: Duration) -> Option<std::time::Instant> {
        (!self.out.is_empty()).then(|| self.progress + bound)
    }

    /// One read: `Some(0)` at the end of the connection, `None` when
    /// nothing more is there for now.
    pub(super) fn read_into(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            match self.stream.get_ref().read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes what the socket takes now; the rest waits for writability.
    /// On an error the queue is dropped: the connection is gone.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.stream.get_ref().write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                    self.progress = std::time::Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.out = Vec::new();
                    return Err(e);
                }
            }
        }
        // A drained queue gives back what a large sync grew it to.
        if self.out.capacity() > PUMP_BELOW {
            self.out = Vec::new();
        }
        Ok(())
    }

    /// Closes after giving queued bytes (a NOTIFICATION) up to a second
    /// to leave.
    pub(super) async fn close(mut self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while self.flush().is_ok() && !self.out.is_empty() && std::time::Instant::now() < deadline {
            let w = async {
                let _ = self.stream.writable().await;
            };
            future::or(w, async {
                Timer::at(deadline).await;
            })
            .await;
        }
        let _ = self.stream.get_ref().shutdown(std::net::Shutdown::Both);
    }
}

pub(super) type Connecting = Pin<Box<dyn Future<Output = io::Result<Async<TcpStream>>>>>;

enum Wake {
    Timer,
    Cmd(Option<Cmd>),
    Readable,
    Writable,
    Connected(io::Result<Async<TcpStream>>),
    /// The collision's second connection or its session's deadline.
    Second,
}

async fn connect(peer: SocketAddr, opts: SockOpts) -> io::Result<Async<TcpStream>> {
    let s = sockopt::outgoing(peer, &opts)?;
    match s.connect(&peer.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let stream = Async::new(TcpStream::from(s))?;
    stream.writable().await?;
    if let Some(e) = stream.get_ref().take_error()? {
        return Err(e);
    }
    Ok(stream)
}

pub struct PeerTask {
    pub(super) plan: PeerPlan,
    pub(super) opts: SockOpts,
    pub(super) peer: Peer,
    pub(super) clock: Clock,
    pub(super) conn: Option<Conn>,
    pub(super) connecting: Option<Connecting>,
    pub(super) local: LocalAddrs,
    pub(super) addr: SocketAddr,
    pub(super) history: History,
    /// Shared count of Established sessions, for systemd's STATUS.
    pub(super) established: std::rc::Rc<std::cell::Cell<usize>>,
    busy: std::rc::Rc<super::busy::Busy>,
    pub(super) not_sent_log: crate::throttle::Throttle,
    /// Malformed UPDATE lines, treat-as-withdraw and the rest apart.
    pub(super) malformed_log: [crate::throttle::Throttle; 2],
    /// The peer's own connection during a collision (RFC 4271 §6.8): its
    /// session and socket, until its OPEN decides which one stays.
    pub(super) second: Option<leafvip_bgp::session::Session>,
    pub(super) second_conn: Option<Conn>,
    /// The BFD sessions, if one guards this one, and whether BGP waits
    /// for it (`peer/bfd.rs`).
    #[cfg(feature = "bfd")]
    pub(super) bfd: Option<super::bfd_hub::Hub>,
    pub(super) held: bool,
}

impl PeerTask {
    pub fn new(
        plan: PeerPlan,
        session: SessionConfig,
        opts: SockOpts,
        clock: Clock,
        established: std::rc::Rc<std::cell::Cell<usize>>,
        busy: std::rc::Rc<super::busy::Busy>,
    ) -> Self {
        let addr = SocketAddr::new(plan.peer.address, plan.peer.port);
        PeerTask {
            plan,
            opts,
            peer: Peer::new(session),
            clock,
            conn: None,
            connecting: None,
            local: LocalAddrs::default(),
            addr,
            history: History::default(),
            established,
            busy,
            malformed_log: Default::default(),
            not_sent_log: Default::default(),
            second: None,
            second_conn: None,
            #[cfg(feature = "bfd")]
            bfd: None,
            held: false,
        }
    }

    pub async fn run(mut self, rx: async_channel::Receiver<Cmd>) {
        // With BFD, BGP starts once BFD is Up (`peer/bfd.rs`).
        let mut acts = if self.held {
            Vec::new()
        } else {
            self.peer.handle_event(self.clock.now(), Event::Start)
        };
        let mut stopping = false;
        loop {
            self.perform(std::mem::take(&mut acts)).await;
            if stopping && self.peer.session().state() == State::Idle {
                // Commands still queued (a status request that raced the
                // stop) are dropped here, so whoever waits on them hears
                // at once instead of waiting on a channel nobody reads.
                rx.close();
                while rx.try_recv().is_ok() {}
                return;
            }
            // Feed a large table in batches as the socket drains, so that
            // it never sits in memory whole and reads and timers keep going.
            let queued = self.conn.as_ref().map_or(usize::MAX, |c| c.out.len());
            if queued < PUMP_BELOW && self.peer.wants_to_send() {
                acts = self
                    .busy
                    .time("UPDATEs", || self.peer.pump(self.clock.now()));
                // A peer that reads fast would otherwise take its whole
                // table in one go while the other tasks wait.
                future::yield_now().await;
                continue;
            }
            let wake = self.wait(&rx).await;
            let now = self.clock.now();
            let started = std::time::Instant::now();
            match wake {
                Wake::Timer if self.stalls_at().is_some_and(|t| t <= started) => {
                    warn!(
                        peer = %self.addr,
                        queued = self.conn.as_ref().map_or(0, |c| c.out.len()),
                        "the peer has read nothing we sent for {} s: closing (Cease, Out of Resources)",
                        self.stall_bound().as_secs()
                    );
                    acts = self.peer.handle_event(now, Event::SendStalled);
                }
                Wake::Timer => {
                    // Whatever the peer sent is read before its hold timer
                    // is judged: a loop that fell behind must not blame the
                    // peer for KEEPALIVEs waiting in our own socket.
                    acts = self.read(now);
                    if self.peer.session().state() != State::Idle || acts.is_empty() {
                        acts.extend(self.peer.handle_event(now, Event::Timer));
                    }
                }
                Wake::Cmd(None) => stopping = true,
                Wake::Cmd(Some(Cmd::Plan(p))) => {
                    self.plan = *p;
                    self.peer.set_routes(now, self.plan.routes(&self.local));
                }
                #[cfg(feature = "bfd")]
                Wake::Cmd(Some(Cmd::Bfd(v))) => acts = self.bfd_verdict(now, v).await,
                #[cfg(feature = "bfd")]
                Wake::Cmd(Some(Cmd::Guard(hub))) => self.bfd = Some(hub),
                #[cfg(feature = "bfd")]
                Wake::Cmd(Some(Cmd::Unguard)) => {
                    self.unguard();
                    acts = self
                        .bfd_verdict(now, super::bfd_hub::Verdict::Release)
                        .await;
                }
                Wake::Cmd(Some(Cmd::Stop { subcode, message })) => {
                    stopping = true;
                    self.stop_second(now, subcode, &message).await;
                    acts = self.peer.handle_event(
                        now,
                        Event::Stop {
                            subcode,
                            message: &message,
                        },
                    );
                }
                Wake::Cmd(Some(Cmd::Incoming(stream))) => acts = self.incoming(now, stream),
                Wake::Cmd(Some(Cmd::Status { reply, detail })) => {
                    let _ = reply.try_send(self.snapshot(&detail));
                }
                Wake::Readable => acts = self.read(now),
                Wake::Second => acts = self.on_second(now),
                Wake::Writable => self.write(),
                Wake::Connected(Ok(stream)) => {
                    self.connecting = None;
                    self.use_connection(now, stream);
                    acts = self.peer.handle_event(now, Event::Connected);
                }
                Wake::Connected(Err(e)) => {
                    self.connecting = None;
                    debug!(peer = %self.addr, "connect failed: {e}");
                    self.history.os_error = Some(e.to_string());
                    acts = self.peer.handle_event(now, Event::ConnectionFailed);
                }
            }
            self.busy.record(started, "a peer's event");
        }
    }

    /// When the queue for the peer counts as stalled, if it is not empty.
    fn stalls_at(&self) -> Option<std::time::Instant> {
        self.conn.as_ref()?.stalls_at(self.stall_bound())
    }

    async fn wait(&mut self, rx: &async_channel::Receiver<Cmd>) -> Wake {
        // One timer for the core's deadline and the send stall's.
        let deadline = [
            self.peer.poll_at().map(|d| self.clock.at(d)),
            self.stalls_at(),
        ]
        .into_iter()
        .flatten()
        .min();
        let timer = async {
            match deadline {
                Some(at) => {
                    Timer::at(at).await;
                }
                None => future::pending::<()>().await,
            }
            Wake::Timer
        };
        let cmd = async { Wake::Cmd(rx.recv().await.ok()) };
        let conn = &self.conn;
        let io = async {
            match conn {
                // Back-pressure: a peer that takes nothing is not read.
                Some(c) if c.out.len() > QUEUE_HIGH => {
                    let _ = c.stream.writable().await;
                    Wake::Writable
                }
                Some(c) if !c.out.is_empty() => {
                    let r = async {
                        let _ = c.stream.readable().await;
                        Wake::Readable
                    };
                    let w = async {
                        let _ = c.stream.writable().await;
                        Wake::Writable
                    };
                    future::or(w, r).await
                }
                Some(c) => {
                    let _ = c.stream.readable().await;
                    Wake::Readable
                }
                None => future::pending().await,
            }
        };
        let connecting = &mut self.connecting;
        let con = async {
            match connecting.as_mut() {
                Some(f) => Wake::Connected(f.await),
                None => future::pending().await,
            }
        };
        let second = collision::second_wait(&self.second, &self.second_conn, self.clock);
        let mine = future::or(future::or(cmd, timer), future::or(io, con));
        future::or(mine, async {
            second.await;
            Wake::Second
        })
        .await
    }

    fn incoming(&mut self, now: Instant, stream: TcpStream) -> Vec<Action> {
        let stream = match self.prepare_incoming(stream) {
            Some(s) => s,
            None => return Vec::new(),
        };
        match self.peer.incoming() {
            Incoming::Accept => self.accept(now, stream),
            Incoming::Second if self.second.is_none() => self.start_second(now, stream),
            Incoming::Second | Incoming::Refuse => {
                debug!(peer = %self.addr, state = %self.peer.session().state(), "refusing another connection");
                Vec::new()
            }
        }
    }

    /// The socket options an incoming connection needs (TTL, GTSM; the
    /// listener already holds the MD5 key), and its async wrapper.
    fn prepare_incoming(&self, stream: TcpStream) -> Option<Async<TcpStream>> {
        let _ = sockopt::apply(
            &socket2::SockRef::from(&stream),
            self.addr.ip(),
            &SockOpts {
                md5_key: None,
                local: None,
                ..self.opts.clone()
            },
        );
        Async::new(stream)
            .map_err(|e| warn!(peer = %self.addr, "cannot use incoming connection: {e}"))
            .ok()
    }

    fn accept(&mut self, now: Instant, stream: Async<TcpStream>) -> Vec<Action> {
        self.connecting = None;
        self.use_connection(now, stream);
        self.peer.handle_event(now, Event::Accepted)
    }

    /// Takes a new connection and sets the routes with the next hops it
    /// implies, before the session comes up, so that the initial sync
    /// carries the whole table and End-of-RIB follows it.
    pub(super) fn use_connection(&mut self, now: Instant, stream: Async<TcpStream>) {
        if let Ok(l) = stream.get_ref().local_addr() {
            // A dual-stack listener reports IPv4 as ::ffff:a.b.c.d.
            self.local = addrs::around(l.ip().to_canonical());
        }
        self.conn = Some(Conn::new(stream));
        self.peer.set_routes(now, self.plan.routes(&self.local));
    }

    /// Reads what the peer sent, up to [`READ_BUDGET`]; the rest waits
    /// for the next wake-up, after the other tasks have had theirs.
    fn read(&mut self, now: Instant) -> Vec<Action> {
        let mut acts = Vec::new();
        // On the stack, shared by every peer: an idle daemon keeps no
        // per-peer receive buffer, and reads are short (KEEPALIVEs).
        let mut buf = [0u8; 16 * 1024];
        let mut budget = READ_BUDGET;
        while let Some(c) = self.conn.as_ref() {
            if budget == 0 {
                break;
            }
            match c.read_into(&mut buf) {
                Ok(None) => break,
                Ok(Some(n)) if n > 0 => {
                    budget = budget.saturating_sub(n);
                    acts.extend(self.peer.handle_event(now, Event::Received(&buf[..n])))
                }
                end => {
                    self.history.os_error = Some(match end {
                        Err(e) => {
                            debug!(peer = %self.addr, "read: {e}");
                            e.to_string()
                        }
                        _ => "the peer closed the connection".into(),
                    });
                    acts.extend(self.peer.handle_event(now, Event::ConnectionFailed));
                    self.conn = None;
                    break;
                }
            }
            if self.peer.session().state() == State::Idle {
                break;
            }
        }
        acts
    }

    /// How long a non-empty queue may go untouched: [`SEND_STALL`], or the
    /// negotiated hold time if longer.
    fn stall_bound(&self) -> Duration {
        let hold = self
            .peer
            .session()
            .negotiated()
            .map_or(0, |n| u64::from(n.hold_time));
        SEND_STALL.max(Duration::from_secs(hold))
    }

    fn write(&mut self) {
        if let Some(Err(e)) = self.conn.as_mut().map(Conn::flush) {
            debug!(peer = %self.addr, "write: {e}");
        }
    }

    async fn perform(&mut self, acts: Vec<Action>) {
        let mut queue = std::collections::VecDeque::from(acts);
        while let Some(a) = queue.pop_front() {
            match a {
                Action::Connect => {
                    self.conn = None;
                    self.connecting = Some(Box::pin(connect(self.addr, self.opts.clone())));
                }
                Action::Send(b) => {
                    if let Some(c) = self.conn.as_mut() {
                        c.queue(&b);
                    }
                }
                Action::Disconnect => {
                    self.connecting = None;
                    if let Some(c) = self.conn.take() {
                        c.close().await;
                    }
                }
                other => self.note(other),
            }
        }
        self.write();
    }
}
