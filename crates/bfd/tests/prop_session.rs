//! Property tests of the session state machine, two ways:
//! - two real sessions joined by a simulated link, with random timers,
//!   roles, delays and timer changes: they come Up, stay Up through every
//!   Poll Sequence, settle on the negotiated intervals, and one side's
//!   silence brings the other Down within its Detection Time, never
//!   before;
//! - one session fed arbitrary bytes, TTLs and events: it never panics,
//!   every packet it sends decodes, none carries both Poll and Final, and
//!   every state change is one RFC 5880 6.8.6 allows.
use leafvip_bfd::packet::Packet;
use leafvip_bfd::session::{Action, Config, Event};
use leafvip_bfd::{Client, Diag, Instant, Session, State, Verdict};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn config() -> impl Strategy<Value = Config> {
    (
        prop::sample::select(vec![10_000u32, 50_000, 100_000, 300_000, 1_000_000]),
        prop::sample::select(vec![10_000u32, 50_000, 100_000, 300_000, 1_000_000]),
        1u8..=5,
        any::<bool>(),
    )
        .prop_map(|(tx, rx, mult, passive)| Config {
            desired_min_tx: tx,
            required_min_rx: rx,
            detect_mult: mult,
            passive,
        })
}

/// Two sessions and the packets in flight between them, keyed by arrival
/// time (microseconds) and a sequence number.
struct Link {
    s: [Session; 2],
    flight: BTreeMap<(u64, u64), (usize, [u8; 24])>,
    seq: u64,
    delay_us: u64,
    /// A frozen side neither sends nor runs its timers.
    frozen: [bool; 2],
    downs: Vec<(usize, u64, Diag)>,
    last_rx: [u64; 2],
    awake: bool,
}

impl Link {
    fn new(a: Config, b: Config, seed: u64, delay_us: u64, awake: bool) -> Link {
        Link {
            s: [
                Session::new(a, 1, seed, Instant::ZERO),
                Session::new(b, 2, seed ^ 0x9e37, Instant::ZERO),
            ],
            flight: BTreeMap::new(),
            seq: 0,
            delay_us,
            frozen: [false; 2],
            downs: Vec::new(),
            last_rx: [0; 2],
            awake,
        }
    }

    fn apply(&mut self, side: usize, now: u64, acts: Vec<Action>) {
        for a in acts {
            match a {
                Action::Send(b) => {
                    self.seq += 1;
                    self.flight
                        .insert((now + self.delay_us, self.seq), (1 - side, b));
                }
                Action::StateChange { from, to, diag } => {
                    if from == State::Up {
                        self.downs.push((side, now, diag));
                    }
                    let _ = to;
                }
                _ => {}
            }
        }
    }

    /// Runs until `until` microseconds.
    fn run(&mut self, until: u64) {
        loop {
            let mut next: Option<(u64, Option<usize>)> =
                self.flight.keys().next().map(|k| (k.0, None));
            for i in 0..2 {
                if self.frozen[i] {
                    continue;
                }
                if let Some(t) = self.s[i].poll_at() {
                    let t = t.as_micros();
                    if next.is_none_or(|(n, _)| t < n) {
                        next = Some((t, Some(i)));
                    }
                }
            }
            let Some((t, who)) = next else { return };
            if t > until {
                return;
            }
            match who {
                Some(i) => {
                    let acts = self.s[i].handle_event(Instant::from_micros(t), Event::Timer);
                    self.apply(i, t, acts);
                }
                None => {
                    let key = *self.flight.keys().next().unwrap();
                    let (to, b) = self.flight.remove(&key).unwrap();
                    if self.frozen[to] || self.frozen[1 - to] {
                        continue;
                    }
                    self.last_rx[to] = t;
                    let acts = self.s[to].handle_event(
                        Instant::from_micros(t),
                        Event::Received {
                            bytes: &b,
                            ttl: 255,
                        },
                    );
                    self.apply(to, t, acts);
                }
            }
            // As leafvip's BFD thread does: every wake-up offers each
            // session the chance to send inside its window.
            if self.awake {
                for j in 0..2 {
                    if !self.frozen[j] {
                        let acts = self.s[j].handle_event(Instant::from_micros(t), Event::Awake);
                        self.apply(j, t, acts);
                    }
                }
            }
        }
    }

    fn configure(&mut self, side: usize, now: u64, c: Config) {
        let acts = self.s[side].handle_event(Instant::from_micros(now), Event::Configure(c));
        self.apply(side, now, acts);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn two_sessions_come_up_survive_timer_changes_and_detect_silence(
        a in config(), b in config(),
        changes in prop::collection::vec((0usize..2, config()), 0..4),
        seed in any::<u64>(),
        delay_us in 0u64..2_000,
        freeze in 0usize..2,
        awake in any::<bool>(),
    ) {
        // Two passive sides never speak: that pairing is a config error.
        let b = if a.passive && b.passive { Config { passive: false, ..b } } else { b };
        let mut l = Link::new(a, b, seed, delay_us, awake);
        l.run(5_000_000);
        prop_assert_eq!(l.s[0].state(), State::Up);
        prop_assert_eq!(l.s[1].state(), State::Up);

        let mut t = 5_000_000;
        let mut cfgs = [a, b];
        for (side, c) in changes {
            // The role is not a timer: keep it, so one side stays active.
            let c = Config { passive: cfgs[side].passive, ..c };
            cfgs[side] = c;
            l.configure(side, t, c);
            t += 3_000_000;
            l.run(t);
        }
        l.run(t + 10_000_000);
        t += 10_000_000;
        prop_assert!(l.downs.is_empty(), "a flap: {:?}", l.downs);
        for i in 0..2 {
            prop_assert!(!l.s[i].polling(), "side {} still polling", i);
            let want = cfgs[i].desired_min_tx.max(cfgs[1 - i].required_min_rx);
            prop_assert_eq!(l.s[i].tx_interval(), want);
            let detect = u64::from(cfgs[1 - i].detect_mult)
                * u64::from(cfgs[i].required_min_rx.max(cfgs[1 - i].desired_min_tx));
            prop_assert_eq!(l.s[i].detect_time(), detect);
        }

        // Freeze one side: the other goes Down with Diag 1, no earlier
        // than its Detection Time after the last packet it got, and no
        // later than that plus the clock step of this simulation (none).
        let other = 1 - freeze;
        let detect = l.s[other].detect_time();
        l.frozen[freeze] = true;
        l.run(t + detect + 1);
        let last = l.last_rx[other];
        prop_assert_eq!(l.downs.len(), 1);
        let (side, at, diag) = l.downs[0];
        prop_assert_eq!(side, other);
        prop_assert_eq!(diag, Diag::ControlDetectionTimeExpired);
        prop_assert_eq!(at, last + detect);
    }
}

#[derive(Debug, Clone)]
enum Input {
    Bytes(Vec<u8>, u8),
    Packet(u8, u8, u8, u32, u32, u32, u32),
    Timer,
    AdminDown,
    AdminUp,
    Awake,
    Configure(Config),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        (prop::collection::vec(any::<u8>(), 0..40), any::<u8>())
            .prop_map(|(b, t)| Input::Bytes(b, t)),
        (
            0u8..4,
            any::<u8>(),
            0u8..4,
            1u32..4,
            0u32..4,
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(|(s, f, m, my, your, tx, rx)| Input::Packet(s, f, m, my, your, tx, rx)),
        Just(Input::Timer),
        Just(Input::Timer),
        Just(Input::AdminDown),
        Just(Input::AdminUp),
        Just(Input::Awake),
        config().prop_map(Input::Configure),
    ]
}

/// Hands `i` to the session at `now` (a Timer at its deadline, moving
/// `now` there) and returns its actions.
fn feed(s: &mut Session, now: &mut u64, i: Input) -> Vec<Action> {
    let t = Instant::from_micros(*now);
    match i {
        Input::Bytes(b, ttl) => s.handle_event(t, Event::Received { bytes: &b, ttl }),
        Input::Packet(state, flags, mult, my, your, tx, rx) => {
            let mut b = [0u8; 24];
            b[0] = 0x20;
            b[1] = (state << 6) | (flags & 0x3a);
            b[2] = mult;
            b[3] = 24;
            b[4..8].copy_from_slice(&my.to_be_bytes());
            let your = if your == 1 { 42 } else { your };
            b[8..12].copy_from_slice(&your.to_be_bytes());
            b[12..16].copy_from_slice(&tx.to_be_bytes());
            b[16..20].copy_from_slice(&rx.to_be_bytes());
            s.handle_event(
                t,
                Event::Received {
                    bytes: &b,
                    ttl: 255,
                },
            )
        }
        Input::Timer => match s.poll_at() {
            Some(p) if p.as_micros() >= *now => {
                *now = p.as_micros();
                s.handle_event(p, Event::Timer)
            }
            _ => s.handle_event(t, Event::Timer),
        },
        Input::AdminDown => s.handle_event(t, Event::AdminDown),
        Input::AdminUp => s.handle_event(t, Event::AdminUp),
        Input::Awake => s.handle_event(t, Event::Awake),
        Input::Configure(c) => s.handle_event(t, Event::Configure(c)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The client policy (RFC 5882) over whatever the real state machine
    /// does: a Hold only ever follows a Release; an Up session never
    /// leaves its client held; every fall from Up holds it, unless the
    /// peer said AdminDown (3.2), and nothing else does.
    #[test]
    fn the_client_is_held_exactly_on_a_fall_from_up(
        c in config(),
        inputs in prop::collection::vec((input(), 0u64..2_000_000), 0..60),
    ) {
        let mut s = Session::new(c, 42, 7, Instant::ZERO);
        let mut client = Client::new();
        let mut held = true;
        let mut now = 0u64;
        for (i, step) in inputs {
            now += step;
            let before = s.state();
            feed(&mut s, &mut now, i);
            let v = client.observe(&s);
            // A fall from Up that the peer did not ask for.
            let failed = before == State::Up && s.state() != State::Up
                && s.remote_state() != State::AdminDown;
            match v {
                // A Release may repeat: the peer's AdminDown releases, and
                // so does Up after it; a running client ignores it.
                Some(Verdict::Release) => held = false,
                Some(Verdict::Hold) => {
                    prop_assert!(!held, "a Hold while held");
                    prop_assert!(failed, "a Hold from {:?} to {:?}, peer {:?}", before, s.state(), s.remote_state());
                    held = true;
                }
                None => prop_assert!(!failed, "no Hold on a fall from Up to {:?}", s.state()),
            }
            if s.state() == State::Up {
                prop_assert!(!held, "Up, and the client still held");
            }
            prop_assert_eq!(client.path_down(), s.path_down());
        }
    }
}

fn allowed(from: State, to: State) -> bool {
    use State::*;
    matches!(
        (from, to),
        (Down, Init | Up | AdminDown)
            | (Init, Up | Down | AdminDown)
            | (Up, Down | AdminDown)
            | (AdminDown, Down)
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_input_keeps_the_session_within_the_rfc(
        c in config(),
        inputs in prop::collection::vec((input(), 0u64..2_000_000), 0..60),
    ) {
        let mut s = Session::new(c, 42, 7, Instant::ZERO);
        let mut now = 0u64;
        for (i, step) in inputs {
            now += step;
            let acts = feed(&mut s, &mut now, i);
            for a in acts {
                match a {
                    Action::Send(b) => {
                        let p = Packet::decode(&b);
                        prop_assert!(p.is_ok(), "sent an undecodable packet: {:?}", p);
                        let p = p.unwrap();
                        prop_assert!(!(p.poll && p.fin));
                        prop_assert_eq!(p.my_disc, 42);
                        prop_assert_eq!(p.state, s.state());
                        if p.state != State::Up {
                            prop_assert!(p.desired_min_tx >= 1_000_000);
                        }
                    }
                    Action::StateChange { from, to, .. } => {
                        prop_assert!(allowed(from, to), "{:?} -> {:?}", from, to);
                    }
                    _ => {}
                }
            }
            if let Some(p) = s.poll_at() {
                // A deadline in the past is called back at once; it must
                // not be one that a Timer at that instant leaves in place.
                if p.as_micros() <= now {
                    s.handle_event(Instant::from_micros(now), Event::Timer);
                    let q = s.poll_at();
                    prop_assert!(q.is_none_or(|q| q.as_micros() > now), "{:?} at {}", q, now);
                }
            }
        }
    }
}
