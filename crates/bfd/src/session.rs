//! One BFD session in asynchronous mode (RFC 5880 6.8), single hop (RFC
//! 5881): events and the time go in, packets to send and state changes
//! come out, and [`Session::poll_at`] says when to call back.
//!
//! The RFC's variables keep their names in the comments (bfd.SessionState
//! and so on). Three choices the RFC leaves open:
//! - Before Up, the Desired Min TX sent is at least one second (6.8.3
//!   requires it), so a session that is down costs one packet a second.
//!   Going Up starts a Poll Sequence to the configured interval.
//! - Parameter changes start a Poll Sequence only while Up; before Up they
//!   apply at once, since no one relies on the timing yet. A change during
//!   a Poll Sequence waits for its Final, then polls again.
//! - While a Poll Sequence runs, the transmit interval is the smaller of
//!   the old and new Desired Min TX, and the detection time uses the larger
//!   of the old and new Required Min RX: a decrease of the first and an
//!   increase of the second may take effect at once, the other ways must
//!   wait for the Final (6.8.3).
use crate::packet::{DecodeError, Diag, Packet, State, LEN};
use crate::time::Instant;

/// Desired Min TX floor while the session is not Up (RFC 5880 6.8.3).
pub const SLOW_TX: u32 = 1_000_000;

/// The TTL or hop limit that single-hop BFD sends and requires (RFC 5881
/// 5): a packet with less came from further than the link.
pub const TTL: u8 = 255;

/// What the local system asks for. Intervals are microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// bfd.DesiredMinTxInterval once Up.
    pub desired_min_tx: u32,
    /// bfd.RequiredMinRxInterval.
    pub required_min_rx: u32,
    /// bfd.DetectMult.
    pub detect_mult: u8,
    /// The Passive role (6.1): send nothing until the peer has sent.
    pub passive: bool,
}

#[derive(Debug)]
pub enum Event<'a> {
    /// A datagram from the peer's address, with the TTL (IPv4) or hop
    /// limit (IPv6) it arrived with.
    Received { bytes: &'a [u8], ttl: u8 },
    /// A deadline from `poll_at` has passed.
    Timer,
    /// Take the session AdminDown (Diag 7), as before a planned stop: the
    /// peer then knows not to treat the silence as a failure (RFC 5882
    /// 3.2).
    AdminDown,
    /// Leave AdminDown for Down.
    AdminUp,
    /// New timers or role; applied through a Poll Sequence while Up.
    Configure(Config),
    /// The caller is awake anyway (another session's packet or timer):
    /// send the periodic packet now if its window is open, that is, if 75 %
    /// of the interval has passed since the last one. Still within 6.8.7,
    /// and the caller's wake-ups then serve several sessions at once.
    Awake,
}

/// Why a received packet was dropped. BFD answers none of them (6.8.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discard {
    Decode(DecodeError),
    /// Arrived with a TTL or hop limit below 255 (RFC 5881 5).
    Ttl(u8),
    /// Your Discriminator names another session (6.8.6: MUST discard).
    YourDiscriminator(u32),
    /// Up, the packet's My Discriminator is not the one learnt: a blind
    /// spoofer cannot know it, so it cannot take the session down (BIRD
    /// makes the same check).
    MyDiscriminator(u32),
    /// The local session is AdminDown.
    AdminDown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this packet to the peer, port 3784, TTL 255.
    Send([u8; LEN]),
    /// bfd.SessionState changed; `diag` says why when it left Up.
    StateChange {
        from: State,
        to: State,
        diag: Diag,
    },
    /// A Poll Sequence ended: the intervals now in force.
    TimersApplied {
        tx: u32,
        detect_time: u64,
    },
    Discarded(Discard),
}

/// Counters for status and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub packets_in: u64,
    pub packets_out: u64,
    pub discarded: u64,
    /// Times the session went Up, and left Up.
    pub ups: u64,
    pub downs: u64,
}

/// The intervals a packet advertises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timers {
    tx: u32,
    rx: u32,
}

#[derive(Debug)]
pub struct Session {
    cfg: Config,
    /// bfd.LocalDiscr.
    local_disc: u32,
    /// bfd.SessionState and bfd.LocalDiag.
    state: State,
    diag: Diag,
    /// bfd.RemoteSessionState, bfd.RemoteDiscr, bfd.RemoteMinRxInterval,
    /// bfd.RemoteDemandMode, and the peer's Desired Min TX and Detect Mult.
    remote_state: State,
    remote_disc: u32,
    remote_min_rx: u32,
    remote_demand: bool,
    remote_tx: u32,
    remote_mult: u8,
    /// What we advertise, and, during a Poll Sequence, what was in force
    /// before it.
    adv: Timers,
    old: Option<Timers>,
    polling: bool,
    /// The config changed during a Poll Sequence: poll again after it.
    repoll: bool,
    last_rx: Option<Instant>,
    next_tx: Option<Instant>,
    /// When the last periodic packet left (Finals do not count).
    last_tx: Option<Instant>,
    since: Instant,
    rng: u64,
    /// A Down peer named a discriminator we never had (see `check`): a
    /// passive session stops waiting and speaks first.
    prompted: bool,
    stats: Stats,
}

impl Session {
    /// A session in Down. `local_disc` must be non-zero and unique among
    /// the caller's sessions; `seed` drives the transmit jitter.
    pub fn new(cfg: Config, local_disc: u32, seed: u64, now: Instant) -> Session {
        let mut s = Session {
            cfg,
            local_disc: local_disc.max(1),
            state: State::Down,
            diag: Diag::None,
            remote_state: State::Down,
            remote_disc: 0,
            remote_min_rx: 1,
            remote_demand: false,
            remote_tx: 0,
            remote_mult: 0,
            adv: slow(&cfg),
            old: None,
            polling: false,
            repoll: false,
            last_rx: None,
            next_tx: None,
            last_tx: None,
            since: now,
            rng: seed | 1,
            prompted: false,
            stats: Stats::default(),
        };
        s.schedule(now);
        s
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn diag(&self) -> Diag {
        self.diag
    }

    pub fn remote_state(&self) -> State {
        self.remote_state
    }

    pub fn local_disc(&self) -> u32 {
        self.local_disc
    }

    pub fn remote_disc(&self) -> u32 {
        self.remote_disc
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// When the state last changed.
    pub fn since(&self) -> Instant {
        self.since
    }

    /// Whether a Poll Sequence is waiting for its Final.
    pub fn polling(&self) -> bool {
        self.polling
    }

    /// Whether the session's client (BGP) should treat the path as failed:
    /// anything but Up, unless the peer said it took BFD down on purpose
    /// (AdminDown, RFC 5882 3.2).
    pub fn path_down(&self) -> bool {
        self.state != State::Up && self.remote_state != State::AdminDown
    }

    /// The interval between our periodic packets before jitter (6.8.7):
    /// the larger of our Desired Min TX in force and the peer's Required
    /// Min RX.
    pub fn tx_interval(&self) -> u32 {
        let tx = self.old.map_or(self.adv.tx, |o| o.tx.min(self.adv.tx));
        tx.max(self.remote_min_rx)
    }

    /// The Detection Time (6.8.4): the peer's Detect Mult times the larger
    /// of our Required Min RX in force and its Desired Min TX. Zero until
    /// the peer has sent.
    pub fn detect_time(&self) -> u64 {
        let rx = self.old.map_or(self.adv.rx, |o| o.rx.max(self.adv.rx));
        u64::from(self.remote_mult) * u64::from(rx.max(self.remote_tx))
    }

    /// When to call back with [`Event::Timer`].
    pub fn poll_at(&self) -> Option<Instant> {
        let detect = self.last_rx.map(|t| t + self.detect_time());
        match (self.next_tx, detect) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_event(&mut self, now: Instant, event: Event<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Received { bytes, ttl } => self.on_packet(now, bytes, ttl, &mut out),
            Event::Timer => self.on_timer(now, &mut out),
            Event::AdminDown => {
                if self.state != State::AdminDown {
                    self.set_state(now, State::AdminDown, Diag::AdministrativelyDown, &mut out);
                    self.send(false, &mut out);
                    self.schedule(now);
                }
            }
            Event::AdminUp => {
                if self.state == State::AdminDown {
                    self.set_state(now, State::Down, Diag::None, &mut out);
                    self.schedule(now);
                }
            }
            Event::Configure(cfg) => self.configure(now, cfg, &mut out),
            Event::Awake => {
                let open = self
                    .last_tx
                    .is_none_or(|t| now >= t + u64::from(self.tx_interval()) * 3 / 4);
                if self.next_tx.is_some() && open {
                    self.next_tx = Some(now);
                    self.on_timer(now, &mut out);
                }
            }
        }
        out
    }

    fn on_packet(&mut self, now: Instant, bytes: &[u8], ttl: u8, out: &mut Vec<Action>) {
        let p = match self.check(bytes, ttl) {
            Ok(p) => p,
            Err(d) => {
                self.stats.discarded += 1;
                self.prompt(now, &d, bytes);
                out.push(Action::Discarded(d));
                return;
            }
        };
        self.stats.packets_in += 1;
        self.remote_disc = p.my_disc;
        self.remote_state = p.state;
        self.remote_demand = p.demand;
        self.remote_min_rx = p.required_min_rx;
        self.remote_tx = p.desired_min_tx;
        self.remote_mult = p.detect_mult;
        self.last_rx = Some(now);
        if self.state == State::AdminDown {
            self.stats.discarded += 1;
            out.push(Action::Discarded(Discard::AdminDown));
            return;
        }
        match (self.state, p.state) {
            (State::Init | State::Up, State::AdminDown) => {
                self.set_state(now, State::Down, Diag::NeighborSignaledSessionDown, out)
            }
            (State::Down, State::Down) => self.set_state(now, State::Init, Diag::None, out),
            (State::Down, State::Init) | (State::Init, State::Init | State::Up) => {
                self.set_state(now, State::Up, Diag::None, out)
            }
            (State::Up, State::Down) => {
                self.set_state(now, State::Down, Diag::NeighborSignaledSessionDown, out)
            }
            _ => {}
        }
        // After the state: a Poll Sequence that going Down ended needs no
        // Final, and a new one started here must carry the new state.
        if p.fin && self.polling {
            self.end_poll(now, out);
        }
        if p.poll {
            // 6.8.7: the Final goes out at once, whatever the schedule.
            self.send_final(out);
        }
        self.schedule(now);
    }

    /// The checks of RFC 5881 5 and 6.8.6 that this session makes.
    fn check(&self, bytes: &[u8], ttl: u8) -> Result<Packet, Discard> {
        if ttl != TTL {
            return Err(Discard::Ttl(ttl));
        }
        let p = Packet::decode(bytes).map_err(Discard::Decode)?;
        if p.your_disc != 0 && p.your_disc != self.local_disc {
            return Err(Discard::YourDiscriminator(p.your_disc));
        }
        if self.state == State::Up && p.my_disc != self.remote_disc {
            return Err(Discard::MyDiscriminator(p.my_disc));
        }
        Ok(p)
    }

    /// A discarded packet that is no input to the state machine may still
    /// tell a passive session that somebody is there. FRR's bfdd, Down,
    /// keeps naming the discriminator of a session that is gone (ours
    /// before a restart) and never sends Your Discriminator 0, so a passive
    /// side that only waited would stay silent forever. Such a packet,
    /// while we are Down, makes us speak first: a Down packet with Your
    /// Discriminator 0, which the peer answers by the book. A spoofed one
    /// gains an attacker nothing: a Down session sends Down packets.
    fn prompt(&mut self, now: Instant, d: &Discard, bytes: &[u8]) {
        let stale_down = matches!(d, Discard::YourDiscriminator(_))
            && self.state == State::Down
            && Packet::decode(bytes)
                .is_ok_and(|p| matches!(p.state, State::Down | State::AdminDown));
        if stale_down && self.cfg.passive && !self.prompted && self.remote_disc == 0 {
            self.prompted = true;
            self.next_tx = None;
            self.schedule(now);
        }
    }

    fn on_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        if let Some(t) = self.last_rx {
            if t + self.detect_time() <= now {
                // 6.8.4 and 6.8.1: the peer is gone; forget it.
                if matches!(self.state, State::Init | State::Up) {
                    self.set_state(now, State::Down, Diag::ControlDetectionTimeExpired, out);
                }
                self.last_rx = None;
                self.remote_disc = 0;
                // A peer that said AdminDown and fell silent (FRR's bfdd
                // sends one such packet) stays AdminDown: its silence is
                // no failure either (RFC 5882 3.2).
                if self.remote_state != State::AdminDown {
                    self.remote_state = State::Down;
                }
                self.remote_min_rx = 1;
                self.remote_demand = false;
                self.schedule(now);
            }
        }
        if self.next_tx.is_some_and(|t| t <= now) {
            self.next_tx = None;
            if self.may_send() {
                self.send(self.polling, out);
                self.last_tx = Some(now);
            }
            self.schedule(now);
        }
    }

    fn configure(&mut self, now: Instant, cfg: Config, out: &mut Vec<Action>) {
        self.cfg = cfg;
        if self.state != State::Up {
            self.adv = slow(&cfg);
        } else if self.polling {
            self.repoll = true;
        } else {
            self.start_poll(out);
        }
        self.schedule(now);
    }

    /// Advertises the configured intervals with Poll set, if they differ
    /// from what is in force (6.5).
    fn start_poll(&mut self, out: &mut Vec<Action>) {
        let want = Timers {
            tx: self.cfg.desired_min_tx,
            rx: self.cfg.required_min_rx,
        };
        if want == self.adv {
            return;
        }
        self.old = Some(self.adv);
        self.adv = want;
        self.polling = true;
        if self.may_send() {
            self.send(true, out);
        }
    }

    fn end_poll(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.old = None;
        self.polling = false;
        out.push(Action::TimersApplied {
            tx: self.tx_interval(),
            detect_time: self.detect_time(),
        });
        if std::mem::take(&mut self.repoll) && self.state == State::Up {
            self.start_poll(out);
        }
        self.schedule(now);
    }

    fn set_state(&mut self, now: Instant, to: State, diag: Diag, out: &mut Vec<Action>) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.diag = diag;
        self.since = now;
        out.push(Action::StateChange { from, to, diag });
        if to == State::Up {
            self.stats.ups += 1;
            self.start_poll(out);
        } else if from == State::Up {
            self.stats.downs += 1;
            self.adv = slow(&self.cfg);
            self.old = None;
            self.polling = false;
            self.repoll = false;
        }
    }

    /// 6.8.7: nothing before the peer has spoken in the Passive role,
    /// nothing when it asks for none (Required Min RX 0), and no periodic
    /// packets once it runs Demand mode with both sides Up.
    fn may_send(&self) -> bool {
        let passive_wait = self.cfg.passive && self.remote_disc == 0 && !self.prompted;
        let demand = self.remote_demand
            && self.state == State::Up
            && self.remote_state == State::Up
            && !self.polling;
        !passive_wait && self.remote_min_rx != 0 && !demand
    }

    /// Arms the next periodic packet if none is due, and brings it forward
    /// if the interval shrank below what is scheduled.
    fn schedule(&mut self, now: Instant) {
        if !self.may_send() {
            self.next_tx = None;
            return;
        }
        let interval = u64::from(self.tx_interval());
        self.next_tx = match self.next_tx {
            None if self.stats.packets_out == 0 => Some(now),
            Some(t) if t <= now + interval => Some(t),
            _ => Some(now + self.jitter(interval)),
        };
    }

    /// 6.8.7: each interval shortened by 0 to 25 % at random, or by 10 to
    /// 25 % with a Detect Mult of 1.
    fn jitter(&mut self, interval: u64) -> u64 {
        // xorshift64*: enough to keep sessions from beating in step.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33;
        let percent = if self.cfg.detect_mult == 1 {
            75 + r % 16
        } else {
            75 + r % 26
        };
        interval * percent / 100
    }

    fn packet(&self, poll: bool, fin: bool) -> Packet {
        Packet {
            diag: self.diag,
            state: self.state,
            poll,
            fin,
            cpi: false,
            demand: false,
            detect_mult: self.cfg.detect_mult,
            my_disc: self.local_disc,
            your_disc: self.remote_disc,
            desired_min_tx: self.adv.tx,
            required_min_rx: self.adv.rx,
            required_min_echo_rx: 0,
        }
    }

    fn send(&mut self, poll: bool, out: &mut Vec<Action>) {
        self.stats.packets_out += 1;
        out.push(Action::Send(self.packet(poll, false).encode()));
    }

    /// A Final never carries Poll (6.8.7), and answers even when periodic
    /// packets are not due or not wanted.
    fn send_final(&mut self, out: &mut Vec<Action>) {
        self.stats.packets_out += 1;
        out.push(Action::Send(self.packet(false, true).encode()));
    }
}

/// What to advertise while not Up: the configured intervals, with TX no
/// faster than one a second.
fn slow(cfg: &Config) -> Timers {
    Timers {
        tx: cfg.desired_min_tx.max(SLOW_TX),
        rx: cfg.required_min_rx,
    }
}
