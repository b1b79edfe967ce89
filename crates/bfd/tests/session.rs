//! The session state machine, scripted packet by packet against RFC 5880
//! 6.8: the three-way handshake, the Poll Sequence both ways, detection,
//! the Passive role, AdminDown and the discard rules.
use leafvip_bfd::packet::{DecodeError, Packet};
use leafvip_bfd::session::{Action, Config, Discard, Event, SLOW_TX};
use leafvip_bfd::{Diag, Instant, Session, State};

const MS: u64 = 1000;

fn cfg(passive: bool) -> Config {
    Config {
        desired_min_tx: 100_000,
        required_min_rx: 100_000,
        detect_mult: 3,
        passive,
    }
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// A packet from the peer, whose discriminator is 7.
fn peer(state: State, your: u32) -> Packet {
    Packet {
        diag: Diag::None,
        state,
        poll: false,
        fin: false,
        cpi: false,
        demand: false,
        detect_mult: 3,
        my_disc: 7,
        your_disc: your,
        desired_min_tx: 100_000,
        required_min_rx: 100_000,
        required_min_echo_rx: 0,
    }
}

fn recv(s: &mut Session, ms: u64, p: Packet) -> Vec<Action> {
    let b = p.encode();
    s.handle_event(
        at(ms),
        Event::Received {
            bytes: &b,
            ttl: 255,
        },
    )
}

/// Raw bytes from the peer's address, with this TTL.
fn raw(s: &mut Session, ms: u64, bytes: &[u8], ttl: u8) -> Vec<Action> {
    s.handle_event(at(ms), Event::Received { bytes, ttl })
}

fn sent(acts: &[Action]) -> Vec<Packet> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Send(b) => Some(Packet::decode(b).unwrap()),
            _ => None,
        })
        .collect()
}

fn changes(acts: &[Action]) -> Vec<(State, State, Diag)> {
    acts.iter()
        .filter_map(|a| match a {
            Action::StateChange { from, to, diag } => Some((*from, *to, *diag)),
            _ => None,
        })
        .collect()
}

/// The peer's Final, Up: it ends our Poll Sequence.
fn final_at(s: &mut Session, ms: u64) -> Vec<Action> {
    recv(
        s,
        ms,
        Packet {
            fin: true,
            ..peer(State::Up, 42)
        },
    )
}

/// A session brought Up by the peer's Down then Up, at 0 and 10 ms.
fn up() -> (Session, Vec<Action>) {
    let mut s = Session::new(cfg(false), 42, 1, at(0));
    recv(&mut s, 0, peer(State::Down, 0));
    let acts = recv(&mut s, 10, peer(State::Up, 42));
    (s, acts)
}

#[test]
fn an_active_session_speaks_first_slowly_and_comes_up_in_three_steps() {
    let mut s = Session::new(cfg(false), 42, 1, at(0));
    assert_eq!(s.poll_at(), Some(at(0)));
    let p = sent(&s.handle_event(at(0), Event::Timer));
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].state, p[0].my_disc, p[0].your_disc),
        (State::Down, 42, 0)
    );
    assert_eq!(
        p[0].desired_min_tx, SLOW_TX,
        "6.8.3: at least 1 s before Up"
    );
    assert_eq!(p[0].required_min_rx, 100_000);
    // Periodic at the slow rate, jittered to 75-100 %.
    let next = s.poll_at().unwrap();
    assert!(next >= at(750) && next <= at(1000), "{next:?}");

    let acts = recv(&mut s, 100, peer(State::Down, 0));
    assert_eq!(changes(&acts), [(State::Down, State::Init, Diag::None)]);
    let acts = recv(&mut s, 200, peer(State::Up, 42));
    assert_eq!(changes(&acts), [(State::Init, State::Up, Diag::None)]);
    // Up starts a Poll Sequence to the configured 100 ms, sent at once.
    let p = sent(&acts);
    assert_eq!(p.len(), 1);
    assert!(p[0].poll && !p[0].fin);
    assert_eq!(
        (p[0].state, p[0].your_disc, p[0].desired_min_tx),
        (State::Up, 7, 100_000)
    );
    assert!(s.polling());
    let acts = final_at(&mut s, 210);
    assert!(!s.polling());
    assert!(acts.contains(&Action::TimersApplied {
        tx: 100_000,
        detect_time: 300_000
    }));
    assert_eq!(s.stats().ups, 1);
}

#[test]
fn down_then_init_from_the_peer_goes_straight_up() {
    let mut s = Session::new(cfg(false), 42, 1, at(0));
    recv(&mut s, 0, peer(State::Down, 0));
    let acts = recv(&mut s, 5, peer(State::Init, 42));
    assert_eq!(changes(&acts), [(State::Init, State::Up, Diag::None)]);
    let mut s = Session::new(cfg(false), 42, 1, at(0));
    let acts = recv(&mut s, 5, peer(State::Init, 42));
    assert_eq!(changes(&acts), [(State::Down, State::Up, Diag::None)]);
}

#[test]
fn a_poll_from_the_peer_is_answered_at_once_with_a_final_alone() {
    let (mut s, _) = up();
    let before = s.poll_at();
    let acts = recv(
        &mut s,
        20,
        Packet {
            poll: true,
            desired_min_tx: 300_000,
            required_min_rx: 50_000,
            ..peer(State::Up, 42)
        },
    );
    let p = sent(&acts);
    assert_eq!(p.len(), 1);
    assert!(p[0].fin && !p[0].poll, "a Final never carries Poll");
    assert_eq!(p[0].state, State::Up);
    // The peer's new values apply at once on our side: it now wants our
    // packets no faster than 50 ms (we still send at our own 100 ms in
    // force, below), and sends its own every 300 ms.
    assert_eq!(s.detect_time(), 3 * 300_000);
    assert!(s.poll_at() <= before.map(|t| t + 100 * MS));
}

#[test]
fn our_poll_keeps_the_slower_detection_until_the_final() {
    let (mut s, _) = up();
    final_at(&mut s, 20);
    assert!(!s.polling());
    assert_eq!(s.detect_time(), 300_000);
    // Faster receive, slower send.
    let new = Config {
        desired_min_tx: 300_000,
        required_min_rx: 50_000,
        ..cfg(false)
    };
    let acts = s.handle_event(at(30), Event::Configure(new));
    let p = sent(&acts);
    assert_eq!(p.len(), 1);
    assert!(p[0].poll);
    assert_eq!(
        (p[0].desired_min_tx, p[0].required_min_rx),
        (300_000, 50_000)
    );
    // Until the Final: still 100 ms out, and detection from the old
    // (larger) receive interval.
    assert_eq!(s.tx_interval(), 100_000);
    assert_eq!(s.detect_time(), 300_000);
    // Every periodic packet carries Poll meanwhile.
    let t = s.poll_at().unwrap();
    let p = sent(&s.handle_event(t, Event::Timer));
    assert!(p.iter().all(|p| p.poll && !p.fin) && !p.is_empty());
    let acts = final_at(&mut s, 150);
    assert_eq!(s.tx_interval(), 300_000);
    assert_eq!(
        s.detect_time(),
        300_000,
        "3 x max(50 ms, the peer's 100 ms)"
    );
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::TimersApplied { tx: 300_000, .. })));
    assert!(changes(&acts).is_empty(), "no flap");
}

#[test]
fn a_change_during_a_poll_polls_again_after_the_final() {
    let (mut s, _) = up();
    let second = Config {
        desired_min_tx: 200_000,
        ..cfg(false)
    };
    assert!(s.polling());
    assert!(sent(&s.handle_event(at(15), Event::Configure(second))).is_empty());
    let acts = final_at(&mut s, 20);
    let p = sent(&acts);
    assert_eq!(p.len(), 1);
    assert!(p[0].poll);
    assert_eq!(p[0].desired_min_tx, 200_000);
    assert!(s.polling());
}

#[test]
fn silence_for_the_detection_time_brings_the_session_down() {
    let (mut s, _) = up();
    final_at(&mut s, 20);
    let mut t = at(20);
    let mut acts = Vec::new();
    while changes(&acts).is_empty() {
        t = s.poll_at().unwrap();
        acts = s.handle_event(t, Event::Timer);
    }
    assert_eq!(t, at(20 + 300), "3 x 100 ms after the last packet");
    assert_eq!(
        changes(&acts),
        [(State::Up, State::Down, Diag::ControlDetectionTimeExpired)]
    );
    assert_eq!(s.remote_disc(), 0, "6.8.1: forgotten");
    assert!(s.path_down());
    assert_eq!(s.stats().downs, 1);
    // Back to one packet a second, Your Discriminator 0, Diag 1.
    let t = s.poll_at().unwrap();
    let p = sent(&s.handle_event(t, Event::Timer));
    assert_eq!(p[0].desired_min_tx, SLOW_TX);
    assert_eq!(
        (p[0].your_disc, p[0].diag),
        (0, Diag::ControlDetectionTimeExpired)
    );
}

#[test]
fn a_peer_going_down_or_admin_down_takes_us_down() {
    let (mut s, _) = up();
    let acts = recv(&mut s, 20, peer(State::Down, 42));
    assert_eq!(
        changes(&acts),
        [(State::Up, State::Down, Diag::NeighborSignaledSessionDown)]
    );
    assert!(s.path_down());

    let (mut s, _) = up();
    let acts = recv(
        &mut s,
        20,
        Packet {
            diag: Diag::AdministrativelyDown,
            ..peer(State::AdminDown, 42)
        },
    );
    assert_eq!(
        changes(&acts),
        [(State::Up, State::Down, Diag::NeighborSignaledSessionDown)]
    );
    assert!(!s.path_down(), "RFC 5882 3.2: AdminDown is not a failure");
    // Nor is the silence after it (FRR's bfdd sends one AdminDown, then
    // nothing), past the detection time.
    let t = s.poll_at().unwrap();
    s.handle_event(at(1000), Event::Timer);
    assert!(t <= at(1000));
    assert_eq!(s.remote_state(), State::AdminDown);
    assert!(!s.path_down());
}

#[test]
fn admin_down_is_sent_and_received_packets_are_dropped() {
    let (mut s, _) = up();
    let acts = s.handle_event(at(20), Event::AdminDown);
    let p = sent(&acts);
    assert_eq!(
        (p[0].state, p[0].diag),
        (State::AdminDown, Diag::AdministrativelyDown)
    );
    let acts = recv(&mut s, 30, peer(State::Up, 42));
    assert!(acts.contains(&Action::Discarded(Discard::AdminDown)));
    assert_eq!(s.state(), State::AdminDown);
    let acts = s.handle_event(at(40), Event::AdminUp);
    assert_eq!(
        changes(&acts),
        [(State::AdminDown, State::Down, Diag::None)]
    );
}

#[test]
fn the_passive_role_waits_for_the_peer_and_stops_when_it_is_gone() {
    let mut s = Session::new(cfg(true), 42, 1, at(0));
    assert_eq!(s.poll_at(), None, "nothing to send, nothing to detect");
    let acts = recv(&mut s, 500, peer(State::Down, 0));
    assert_eq!(s.state(), State::Init);
    assert!(sent(&acts).is_empty());
    assert_eq!(s.poll_at(), Some(at(500)), "answers at once");
    let p = sent(&s.handle_event(at(500), Event::Timer));
    assert_eq!((p[0].state, p[0].your_disc), (State::Init, 7));
    // The peer vanishes: Init times out, and the passive side falls silent.
    while s.remote_disc() != 0 {
        let t = s.poll_at().unwrap();
        s.handle_event(t, Event::Timer);
    }
    assert_eq!(s.state(), State::Down);
    assert_eq!(s.poll_at(), None);
}

#[test]
fn a_peer_that_wants_no_packets_gets_none_but_finals() {
    let (mut s, _) = up();
    let acts = recv(
        &mut s,
        20,
        Packet {
            required_min_rx: 0,
            fin: true,
            ..peer(State::Up, 42)
        },
    );
    assert!(sent(&acts).is_empty());
    let t = s.poll_at().unwrap();
    assert!(sent(&s.handle_event(t, Event::Timer)).is_empty());
    let acts = recv(
        &mut s,
        30,
        Packet {
            required_min_rx: 0,
            poll: true,
            ..peer(State::Up, 42)
        },
    );
    let p = sent(&acts);
    assert_eq!(p.len(), 1);
    assert!(p[0].fin);
}

#[test]
fn bad_ttl_foreign_discriminators_and_bad_packets_are_discarded() {
    let mut s = Session::new(cfg(false), 42, 1, at(0));
    let b = peer(State::Down, 0).encode();
    let acts = raw(&mut s, 0, &b, 254);
    assert_eq!(acts, [Action::Discarded(Discard::Ttl(254))]);
    let b = peer(State::Up, 43).encode();
    let acts = raw(&mut s, 0, &b, 255);
    assert_eq!(acts, [Action::Discarded(Discard::YourDiscriminator(43))]);
    let acts = raw(&mut s, 0, &b[..20], 255);
    assert_eq!(
        acts,
        [Action::Discarded(Discard::Decode(DecodeError::Short {
            got: 20
        }))]
    );
    assert_eq!(s.state(), State::Down);
    assert_eq!(s.stats().discarded, 3);
    assert_eq!(s.stats().packets_in, 0);
}

/// FRR's bfdd, Down, keeps the discriminator of a session that is gone
/// (leafvip restarted). RFC 5880 6.8.6 says such a packet MUST be
/// discarded, and it is; but a passive session then speaks first, with
/// Your Discriminator 0, and the peer's answer brings it Up.
#[test]
fn a_down_peer_remembering_an_old_discriminator_is_prompted_not_obeyed() {
    let mut s = Session::new(cfg(true), 42, 1, at(0));
    assert_eq!(s.poll_at(), None, "passive: silent until the peer speaks");
    let acts = recv(&mut s, 0, peer(State::Down, 41));
    assert_eq!(acts, [Action::Discarded(Discard::YourDiscriminator(41))]);
    assert_eq!(s.state(), State::Down);
    let t = s.poll_at().expect("prompted to speak");
    let p = sent(&s.handle_event(t, Event::Timer));
    assert_eq!(
        (p[0].state, p[0].my_disc, p[0].your_disc),
        (State::Down, 42, 0)
    );
    let acts = recv(&mut s, 10, peer(State::Init, 42));
    assert_eq!(changes(&acts), [(State::Down, State::Up, Diag::None)]);
}

/// A blind spoofer knows the peer's address but neither discriminator. Up,
/// a Down packet naming a foreign discriminator, or Your Discriminator 0
/// with a My Discriminator that is not the peer's, changes nothing; only
/// the peer's own Down does.
#[test]
fn spoofed_down_packets_cannot_take_an_up_session_down() {
    let (mut s, _) = up();
    for your in [0, 41, 43, 0xdead_beef] {
        for my in [0, 6, 8, 0x1234_5678] {
            let p = Packet {
                my_disc: my,
                ..peer(State::Down, your)
            };
            let acts = recv(&mut s, 20, p);
            assert!(changes(&acts).is_empty(), "my {my} your {your}: {acts:?}");
            // My Discriminator 0 fails decoding (6.8.6) before the rest.
            assert!(
                matches!(acts.as_slice(), [Action::Discarded(_)]),
                "{acts:?}"
            );
        }
    }
    assert_eq!(s.state(), State::Up);
    let acts = recv(&mut s, 30, peer(State::Down, 42));
    assert_eq!(
        changes(&acts),
        [(State::Up, State::Down, Diag::NeighborSignaledSessionDown)]
    );
}

/// Once Up, the peer's My Discriminator is pinned; a restarted peer with a
/// new one is heard again only after detection took the session Down.
#[test]
fn a_new_peer_discriminator_is_learnt_only_after_down() {
    let (mut s, _) = up();
    let restarted = Packet {
        my_disc: 9,
        ..peer(State::Down, 0)
    };
    let acts = recv(&mut s, 20, restarted);
    assert_eq!(acts, [Action::Discarded(Discard::MyDiscriminator(9))]);
    let mut t = at(20);
    while s.state() == State::Up {
        t = s.poll_at().unwrap();
        s.handle_event(t, Event::Timer);
    }
    let acts = recv(&mut s, t.as_micros() / MS + 1, restarted);
    assert_eq!(changes(&acts), [(State::Down, State::Init, Diag::None)]);
    assert_eq!(s.remote_disc(), 9);
}

/// Awake sends the periodic packet early only once 75 % of the interval
/// has passed since the last one (6.8.7's lower bound), and re-arms.
#[test]
fn awake_sends_early_only_inside_the_window() {
    let (mut s, _) = up();
    final_at(&mut s, 20);
    let t = s.poll_at().unwrap();
    assert_eq!(sent(&s.handle_event(t, Event::Timer)).len(), 1);
    let last = t;
    let early = last + 74 * MS;
    assert!(sent(&s.handle_event(early, Event::Awake)).is_empty());
    let open = last + 75 * MS;
    let p = sent(&s.handle_event(open, Event::Awake));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].state, State::Up);
    let next = s.poll_at().unwrap();
    assert!(
        next >= open + 75 * MS && next <= open + 100 * MS,
        "{next:?}"
    );
    assert!(sent(&s.handle_event(open + MS, Event::Awake)).is_empty());
}

#[test]
fn a_detect_mult_of_one_jitters_to_at_most_90_percent() {
    let one = Config {
        detect_mult: 1,
        ..cfg(false)
    };
    for seed in 0..200 {
        let mut s = Session::new(one, 42, seed, at(0));
        s.handle_event(at(0), Event::Timer);
        let gap = s.poll_at().unwrap() - at(0);
        assert!((750 * MS..=900 * MS).contains(&gap), "seed {seed}: {gap}");
    }
}
