//! The RFC 4271 §8 finite state machine for one BGP connection.
//!
//! [`Session::handle_event`] takes the current time and one [`Event`] and
//! returns the [`Action`]s the caller must carry out (connect, send these
//! bytes, close); [`Session::poll_at`] says when to call back with
//! [`Event::Timer`]. The session never touches a socket or a clock.
//!
//! Deviations from the RFC's FSM, on purpose:
//! - Every failure goes to Idle and the automatic restart waits on the
//!   IdleHoldTimer (the RFC's DampPeerOscillations option, §8.1.1) with
//!   exponential backoff and jitter. The RFC's "Active with ConnectRetryTimer
//!   running" path is the same wait by another name.
//! - ConnectRetryTimer bounds how long one connection attempt may hang.
//! - Collision detection (§6.8) compares two sessions, so it lives in
//!   [`collision`] and is applied by whoever owns both connections, which
//!   then feeds the loser [`Event::CollisionDump`].
//! - DelayOpen is not implemented.
use crate::prelude::*;
pub mod collision;
pub mod negotiate;
mod states;
pub mod timers;

use crate::time::Instant;
use crate::wire::Family;
use crate::wire::{
    cease, Context, FamilySet, Message, Notification, Open, RouteRefresh, TooLong, Verdict,
};
use core::fmt;
use core::net::Ipv4Addr;
use core::time::Duration;

pub use negotiate::Negotiated;
pub use timers::{Backoff, Timers};

/// RFC 4271 §8.2.2 suggests 4 minutes for the hold timer while OpenSent.
pub const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);
/// A session that stayed up this long resets the reconnect backoff, so a
/// peer that accepts and then drops us at once still gets slower retries.
pub const STABLE_AFTER: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GracefulRestartConfig {
    pub restart_time: u16,
    /// F bit: our routes stay valid while we restart (true for leafvip: the
    /// VIPs live on the host, not in the daemon).
    pub forwarding: bool,
    /// R bit: we are coming back from a restart.
    pub restarting: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    pub local_as: u32,
    /// 0 accepts any AS (for a listener that learns it from the OPEN).
    pub remote_as: u32,
    pub bgp_id: Ipv4Addr,
    /// Proposed hold time in seconds: 0, or 3 and more.
    pub hold_time: u16,
    /// Keepalive interval; default a third of the negotiated hold time.
    pub keepalive: Option<Duration>,
    /// How long one TCP connection attempt may take.
    pub connect_timeout: Duration,
    /// First reconnect delay; it doubles per failure up to `retry_max`.
    pub connect_retry: Duration,
    pub retry_max: Duration,
    /// Never connect; wait for the peer (RFC 4271 PassiveTcpEstablishment).
    pub passive: bool,
    pub families: FamilySet,
    /// Families for which we offer ADD-PATH send.
    pub add_path_send: FamilySet,
    /// Paths per prefix sent when ADD-PATH is negotiated.
    pub add_path_send_max: usize,
    pub graceful_restart: Option<GracefulRestartConfig>,
    pub extended_messages: bool,
    /// Seed for the backoff jitter.
    pub seed: u64,
}

impl SessionConfig {
    pub fn new(local_as: u32, remote_as: u32, bgp_id: Ipv4Addr) -> Self {
        SessionConfig {
            local_as,
            remote_as,
            bgp_id,
            hold_time: 90,
            keepalive: None,
            connect_timeout: Duration::from_secs(10),
            connect_retry: Duration::from_secs(2),
            retry_max: Duration::from_secs(120),
            passive: false,
            families: FamilySet::BOTH,
            add_path_send: FamilySet::EMPTY,
            add_path_send_max: usize::MAX,
            graceful_restart: None,
            extended_messages: true,
            seed: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Inputs, with the RFC 4271 §8.1 event each one stands for.
#[derive(Debug)]
pub enum Event<'a> {
    /// ManualStart (Event 1), or ManualStart_with_PassiveTcpEstablishment
    /// (Event 4) when the config says passive.
    Start,
    /// ManualStop (Event 2): Cease with this subcode (Administrative
    /// Shutdown, Peer De-configured, …) and shutdown communication.
    Stop { subcode: u8, message: &'a str },
    /// A deadline from `poll_at` has passed: ConnectRetryTimer_Expires
    /// (Event 9), HoldTimer_Expires (10), KeepaliveTimer_Expires (11),
    /// IdleHoldTimer_Expires (13).
    Timer,
    /// Tcp_CR_Acked (Event 17): our outgoing connection is up.
    Connected,
    /// TcpConnectionConfirmed (Event 16): an incoming connection from the
    /// peer was accepted for this session.
    Accepted,
    /// TcpConnectionFails (Event 18): the attempt failed or the connection
    /// closed.
    ConnectionFailed,
    /// Bytes read from the connection. Framed and decoded here into
    /// BGPOpen (19), BGPHeaderErr (21), BGPOpenMsgErr (22),
    /// NotifMsgVerErr (24), NotifMsg (25), KeepAliveMsg (26),
    /// UpdateMsg (27), UpdateMsgErr (28), and ROUTE-REFRESH.
    Received(&'a [u8]),
    /// OpenCollisionDump (Event 23).
    CollisionDump,
    /// Messages to send while Established (UPDATEs, ROUTE-REFRESH).
    Send(&'a [Message]),
    /// The BFD session that protects this one went Down (RFC 5882 4.1):
    /// Cease "BFD Down" (RFC 9384) if a connection is open, and no
    /// restart until `Start`, which the caller sends once BFD is Up.
    BfdDown,
    /// The peer has read nothing of what we queued for it for as long as
    /// the caller allows (it stopped reading while it goes on sending):
    /// Cease "Out of Resources" (RFC 4486), and the automatic restart
    /// with backoff, as after any failure.
    SendStalled,
}

/// Why a session went down (or an attempt failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    Stopped,
    ConnectFailed,
    ConnectTimeout,
    ConnectionLost,
    HoldTimerExpired,
    BfdDown,
    SendStalled,
    Collision,
    NotificationSent(Notification),
    NotificationReceived(Notification),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Stopped => f.write_str("stopped"),
            Reason::ConnectFailed => f.write_str("connection attempt failed"),
            Reason::ConnectTimeout => f.write_str("connection attempt timed out"),
            Reason::ConnectionLost => f.write_str("connection closed"),
            Reason::HoldTimerExpired => f.write_str("hold timer expired"),
            Reason::BfdDown => f.write_str("BFD session down"),
            Reason::SendStalled => f.write_str("the peer stopped reading what we send"),
            Reason::Collision => f.write_str("connection collision resolved against this one"),
            Reason::NotificationSent(n) => write!(f, "sent NOTIFICATION {n}"),
            Reason::NotificationReceived(n) => write!(f, "received NOTIFICATION {n}"),
        }
    }
}

/// Outputs. The caller performs them in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer, abandoning any attempt underway.
    Connect,
    /// Write these bytes (one whole message).
    Send(Vec<u8>),
    /// Close the connection after the queued bytes are written.
    Disconnect,
    /// Refuse the incoming connection just offered with `Accepted`.
    Reject,
    StateChange {
        from: State,
        to: State,
    },
    Established(Box<Negotiated>),
    /// The session left Established, or an attempt failed; `was_up` says
    /// which, so that logs can tell a flap from a retry.
    Down {
        reason: Reason,
        was_up: bool,
    },
    NotificationReceived(Notification),
    NotificationSent(Notification),
    /// An UPDATE arrived; leafvip only announces, so it keeps the verdict.
    UpdateReceived {
        verdict: Verdict,
        announced: usize,
        withdrawn: usize,
        end_of_rib: Option<Family>,
    },
    /// The peer asked for our routes again (RFC 2918).
    RouteRefresh(RouteRefresh),
    /// A message could not be encoded within the negotiated size and was
    /// not sent: never silent, though the config check keeps VIPs' own
    /// attributes small enough that it should not happen.
    NotSent(TooLong),
}

/// Message counters, in and out, for status and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub messages_in: u64,
    pub messages_out: u64,
    pub updates_in: u64,
    pub updates_out: u64,
}

#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    local_open: Open,
    state: State,
    /// Whether the automatic restart is enabled (between Start and Stop).
    admin_up: bool,
    initiated_locally: bool,
    timers: Timers,
    backoff: Backoff,
    rx: Vec<u8>,
    remote_open: Option<Open>,
    negotiated: Option<Negotiated>,
    established_at: Option<Instant>,
    stats: Stats,
}

impl Session {
    pub fn new(cfg: SessionConfig) -> Self {
        let backoff = Backoff::new(cfg.connect_retry, cfg.retry_max, cfg.seed);
        Session {
            local_open: negotiate::local_open(&cfg),
            cfg,
            state: State::Idle,
            admin_up: false,
            initiated_locally: false,
            timers: Timers::default(),
            backoff,
            rx: Vec::new(),
            remote_open: None,
            negotiated: None,
            established_at: None,
            stats: Stats::default(),
        }
    }

    /// A session for a second connection that the peer opened while ours
    /// was past Connect (RFC 4271 §6.8): administratively up and waiting in
    /// Active without dialling, ready for `Accepted`. If it wins the
    /// collision it becomes the peer's session and later restarts as the
    /// configuration says (actively, unless `passive`).
    pub fn accepting(cfg: SessionConfig) -> Self {
        let mut s = Session::new(cfg);
        s.admin_up = true;
        s.state = State::Active;
        s
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The OPEN the peer sent on this connection, once received.
    pub fn remote_open(&self) -> Option<&Open> {
        self.remote_open.as_ref()
    }

    pub fn initiated_locally(&self) -> bool {
        self.initiated_locally
    }

    pub fn established_at(&self) -> Option<Instant> {
        self.established_at
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Reconnect attempts since the session was last stable.
    pub fn failed_attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// When to call back with [`Event::Timer`].
    pub fn poll_at(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Whether an incoming connection would be taken (`Accepted`) now.
    pub fn can_accept(&self) -> bool {
        self.admin_up && matches!(self.state, State::Idle | State::Connect | State::Active)
    }

    pub fn handle_event(&mut self, now: Instant, event: Event<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start => self.on_start(now, &mut out),
            Event::Stop { subcode, message } => {
                self.on_stop(subcode, message, Reason::Stopped, &mut out)
            }
            Event::BfdDown => self.on_stop(cease::BFD_DOWN, "", Reason::BfdDown, &mut out),
            Event::Timer => self.on_timer(now, &mut out),
            Event::Connected => self.on_connected(now, true, &mut out),
            Event::Accepted => self.on_connected(now, false, &mut out),
            Event::ConnectionFailed => self.on_connection_failed(now, &mut out),
            Event::Received(bytes) => self.on_bytes(now, bytes, &mut out),
            Event::CollisionDump => {
                if self.state >= State::OpenSent {
                    let n = Notification::cease(cease::COLLISION_RESOLUTION, "");
                    self.notify(n, &mut out);
                }
                self.admin_up = false;
                self.go_idle(now, Reason::Collision, &mut out);
            }
            Event::Send(msgs) => self.on_send(now, msgs, &mut out),
            Event::SendStalled => {
                if self.state >= State::OpenSent {
                    let n = Notification::cease(cease::OUT_OF_RESOURCES, "");
                    self.notify(n, &mut out);
                } else if self.state != State::Idle {
                    out.push(Action::Disconnect);
                }
                self.go_idle(now, Reason::SendStalled, &mut out);
            }
        }
        out
    }

    fn set_state(&mut self, to: State, out: &mut Vec<Action>) {
        if self.state != to {
            out.push(Action::StateChange {
                from: self.state,
                to,
            });
            self.state = to;
        }
    }

    fn send(&mut self, msg: &Message, ctx: &Context, out: &mut Vec<Action>) {
        match msg.to_bytes(ctx) {
            Ok(bytes) => {
                self.stats.messages_out += 1;
                if matches!(msg, Message::Update(_)) {
                    self.stats.updates_out += 1;
                }
                out.push(Action::Send(bytes));
            }
            Err(e) => out.push(Action::NotSent(e)),
        }
    }

    /// Sends a NOTIFICATION and asks for the connection to be closed.
    fn notify(&mut self, n: Notification, out: &mut Vec<Action>) {
        let ctx = self.receive_context();
        self.send(&Message::Notification(n.clone()), &ctx, out);
        out.push(Action::NotificationSent(n));
        out.push(Action::Disconnect);
    }

    fn receive_context(&self) -> Context {
        self.negotiated
            .as_ref()
            .map(Negotiated::receive_context)
            .unwrap_or_default()
    }

    /// Drops the connection state and, while administratively up, arms
    /// the automatic restart with the next backoff delay.
    fn go_idle(&mut self, now: Instant, reason: Reason, out: &mut Vec<Action>) {
        let was_up = self.state == State::Established;
        if let Some(at) = self.established_at.take() {
            if now.saturating_since(at) >= STABLE_AFTER {
                self.backoff.reset();
            }
        }
        if self.state != State::Idle {
            out.push(Action::Down { reason, was_up });
        }
        self.set_state(State::Idle, out);
        self.timers.clear();
        self.rx = Vec::new();
        self.remote_open = None;
        self.negotiated = None;
        if self.admin_up {
            self.timers.idle_hold = Some(now + self.backoff.next_delay());
        }
    }

    fn connect(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.timers.idle_hold = None;
        if self.cfg.passive {
            self.set_state(State::Active, out);
        } else {
            self.timers.connect_retry = Some(now + self.cfg.connect_timeout);
            out.push(Action::Connect);
            self.set_state(State::Connect, out);
        }
    }

    fn on_start(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state == State::Idle && !self.admin_up {
            self.admin_up = true;
            self.backoff.reset();
            self.connect(now, out);
        }
    }

    fn on_stop(&mut self, subcode: u8, message: &str, reason: Reason, out: &mut Vec<Action>) {
        self.admin_up = false;
        match self.state {
            State::Idle => self.timers.clear(),
            State::Connect | State::Active => out.push(Action::Disconnect),
            _ => self.notify(Notification::cease(subcode, message), out),
        }
        // Time does not matter once admin_up is false: no restart is armed.
        self.go_idle(Instant::ZERO, reason, out);
    }

    fn on_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if due(self.timers.hold) {
            self.notify(
                Notification::new(crate::wire::error_code::HOLD_TIMER_EXPIRED, 0, Vec::new()),
                out,
            );
            self.go_idle(now, Reason::HoldTimerExpired, out);
            return;
        }
        if due(self.timers.connect_retry) {
            out.push(Action::Disconnect);
            self.go_idle(now, Reason::ConnectTimeout, out);
            return;
        }
        if due(self.timers.keepalive) {
            let ctx = self.receive_context();
            self.send(&Message::Keepalive, &ctx, out);
            self.restart_keepalive(now);
        }
        if due(self.timers.idle_hold) {
            // AutomaticStart (Event 3) or its passive twin (Event 5).
            self.connect(now, out);
        }
    }

    fn restart_keepalive(&mut self, now: Instant) {
        self.timers.keepalive = self
            .negotiated
            .as_ref()
            .and_then(|n| n.keepalive)
            .map(|k| now + k);
    }

    fn restart_hold(&mut self, now: Instant) {
        self.timers.hold = match &self.negotiated {
            Some(n) if n.hold_time == 0 => None,
            Some(n) => Some(now + Duration::from_secs(u64::from(n.hold_time))),
            None => Some(now + OPEN_HOLD_TIME),
        };
    }

    fn on_connected(&mut self, now: Instant, outgoing: bool, out: &mut Vec<Action>) {
        let ok = if outgoing {
            self.state == State::Connect
        } else {
            self.can_accept()
        };
        if !ok {
            out.push(if outgoing {
                Action::Disconnect
            } else {
                Action::Reject
            });
            return;
        }
        self.initiated_locally = outgoing;
        self.timers.clear();
        let open = Message::Open(self.local_open.clone());
        self.send(&open, &Context::default(), out);
        self.restart_hold(now);
        self.set_state(State::OpenSent, out);
    }

    fn on_connection_failed(&mut self, now: Instant, out: &mut Vec<Action>) {
        let reason = match self.state {
            State::Idle => return,
            State::Connect | State::Active => Reason::ConnectFailed,
            _ => Reason::ConnectionLost,
        };
        self.go_idle(now, reason, out);
    }

    fn on_send(&mut self, now: Instant, msgs: &[Message], out: &mut Vec<Action>) {
        let Some(ctx) = self.negotiated.as_ref().map(Negotiated::send_context) else {
            return;
        };
        if self.state != State::Established {
            return;
        }
        for m in msgs {
            self.send(m, &ctx, out);
        }
        if !msgs.is_empty() {
            self.restart_keepalive(now);
        }
    }
}
