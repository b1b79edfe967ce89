//! Property: no sequence of events panics the FSM or breaks its invariants.
mod common;
use common::strategies;
use leafvip_bgp::session::{Action, Event, Session, SessionConfig, State};
use leafvip_bgp::wire::*;
use leafvip_bgp::Instant;
use proptest::prelude::*;
use std::net::Ipv4Addr;
use std::time::Duration;

#[derive(Clone, Debug)]
enum Step {
    Start,
    Stop(u8),
    Wait(u32),
    Connected,
    Accepted,
    Failed,
    Bytes(Vec<u8>),
    /// A valid message, possibly split at `cut`.
    Msg(Message, usize),
    Dump,
    Send(Vec<Message>),
}

fn peer_open() -> Message {
    let caps = vec![
        Capability::Multiprotocol(Family::IPV4_UNICAST),
        Capability::FourOctetAs(65001),
        Capability::AddPath(vec![AddPathEntry {
            family: Family::IPV4_UNICAST,
            mode: AddPathMode::BOTH,
        }]),
    ];
    Message::Open(Open::new(65001, 9, Ipv4Addr::new(198, 51, 100, 2), caps))
}

fn step() -> impl Strategy<Value = Step> {
    let ctx = Context {
        four_octet_as: true,
        ..Context::default()
    };
    prop_oneof![
        1 => Just(Step::Start),
        1 => (1u8..=10).prop_map(Step::Stop),
        3 => (0u32..200_000).prop_map(Step::Wait),
        1 => Just(Step::Connected),
        1 => Just(Step::Accepted),
        1 => Just(Step::Failed),
        2 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Step::Bytes),
        3 => (Just(peer_open()), any::<usize>()).prop_map(|(m, c)| Step::Msg(m, c)),
        3 => (Just(Message::Keepalive), any::<usize>()).prop_map(|(m, c)| Step::Msg(m, c)),
        2 => (strategies::message(ctx), any::<usize>()).prop_map(|(m, c)| Step::Msg(m, c)),
        1 => Just(Step::Dump),
        1 => proptest::collection::vec(strategies::update(ctx).prop_map(Message::Update), 0..3).prop_map(Step::Send),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn random_events_never_panic(steps in proptest::collection::vec(step(), 1..60), passive: bool) {
        let cfg = SessionConfig { passive, ..SessionConfig::new(65100, 65001, Ipv4Addr::new(198, 51, 100, 3)) };
        let mut s = Session::new(cfg);
        let mut now = Instant::ZERO;
        for st in steps {
            let actions = match st {
                Step::Start => s.handle_event(now, Event::Start),
                Step::Stop(c) => s.handle_event(now, Event::Stop { subcode: c, message: "bye" }),
                Step::Wait(ms) => {
                    now = now + Duration::from_millis(u64::from(ms));
                    let mut all = Vec::new();
                    while let Some(d) = s.poll_at().filter(|d| *d <= now) {
                        all.extend(s.handle_event(d, Event::Timer));
                        prop_assert!(s.poll_at() != Some(d), "a timer must not fire twice at one instant");
                    }
                    all
                }
                Step::Connected => s.handle_event(now, Event::Connected),
                Step::Accepted => s.handle_event(now, Event::Accepted),
                Step::Failed => s.handle_event(now, Event::ConnectionFailed),
                Step::Bytes(b) => s.handle_event(now, Event::Received(&b)),
                Step::Msg(m, cut) => {
                    let ctx = s.negotiated().map(|n| n.receive_context()).unwrap_or_default();
                    let b = m.to_bytes(&ctx).unwrap_or_default();
                    let at = if b.is_empty() { 0 } else { cut % b.len() };
                    let mut a = s.handle_event(now, Event::Received(&b[..at]));
                    a.extend(s.handle_event(now, Event::Received(&b[at..])));
                    a
                }
                Step::Dump => s.handle_event(now, Event::CollisionDump),
                Step::Send(m) => s.handle_event(now, Event::Send(&m)),
            };
            // Invariants.
            prop_assert_eq!(s.state() == State::Established, s.established_at().is_some());
            if s.state() >= State::OpenConfirm {
                prop_assert!(s.negotiated().is_some());
            }
            if s.state() == State::Idle {
                prop_assert!(s.negotiated().is_none());
            }
            if passive {
                prop_assert!(!actions.contains(&Action::Connect), "a passive session never connects");
            }
            for a in &actions {
                if let Action::Send(b) = a {
                    // Every message sent is one whole, well-framed message.
                    let h = Header::new_checked(b).expect("a whole header");
                    prop_assert!(h.check(MAX_EXTENDED_LEN).is_ok());
                    prop_assert_eq!(usize::from(h.length()), b.len());
                }
            }
        }
    }
}
