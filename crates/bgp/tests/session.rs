//! Whole sessions between two in-memory peers: establishment, timers,
//! OPEN validation, errors, shutdown, refresh and reconnect.
mod common;
use common::pair::Pair;
use common::{hex, MARKER};
use leafvip_bgp::rib_out::{Route, RouteAttrs};
use leafvip_bgp::session::{
    collision, Action, Event, GracefulRestartConfig, Reason, Session, SessionConfig, State,
};
use leafvip_bgp::wire::*;
use leafvip_bgp::Instant;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

fn speaker() -> SessionConfig {
    SessionConfig::new(65100, 65001, Ipv4Addr::new(198, 51, 100, 3))
}

fn router() -> SessionConfig {
    SessionConfig {
        passive: true,
        ..SessionConfig::new(65001, 65100, Ipv4Addr::new(198, 51, 100, 2))
    }
}

fn route(p: &str, nh: &str) -> Route {
    Route {
        prefix: p.parse().unwrap(),
        next_hop: nh.parse().unwrap(),
        attrs: Arc::new(RouteAttrs::default()),
    }
}

fn up(a: SessionConfig, b: SessionConfig) -> Pair {
    let mut p = Pair::new(a, b);
    p.start();
    assert_eq!(p.a.session().state(), State::Established, "{:?}", p.a_log);
    assert_eq!(p.b.session().state(), State::Established);
    p
}

/// Replays what side A sent onto an empty table: (family, prefix, path id) -> next hop.
fn table(p: &Pair) -> BTreeMap<(Family, Prefix, Option<u32>), IpAddr> {
    let ctx = p.a.session().negotiated().unwrap().send_context();
    let mut t = BTreeMap::new();
    for m in p.sent_by_a(&ctx) {
        let Message::Update(u) = m else { continue };
        for (f, n) in u.withdrawals() {
            t.remove(&(f, n.prefix, n.path_id));
        }
        let nh = match (
            u.attribute(attr_code::NEXT_HOP),
            u.attribute(attr_code::MP_REACH_NLRI),
        ) {
            (_, Some(AttrValue::MpReach(m))) => match m.next_hop {
                MpNextHop::V6 { global, .. } => IpAddr::V6(global),
                MpNextHop::V4(a) => IpAddr::V4(a),
                _ => panic!("odd next hop"),
            },
            (Some(AttrValue::NextHop(a)), _) => IpAddr::V4(*a),
            _ => continue,
        };
        for (f, n) in u.announced() {
            t.insert((f, n.prefix, n.path_id), nh);
        }
    }
    t
}

#[test]
fn ebgp_session_establishes_and_negotiates() {
    let p = up(speaker(), router());
    let n = p.a.session().negotiated().unwrap();
    assert_eq!(n.peer_as, 65001);
    assert!(!n.ibgp && n.four_octet_as && n.extended_messages && n.route_refresh);
    assert_eq!(n.families, FamilySet::BOTH);
    assert_eq!(n.hold_time, 90);
    assert_eq!(n.keepalive, Some(Duration::from_secs(30)));
    assert!(p.a.session().initiated_locally());
    assert!(!p.b.session().initiated_locally());
    assert!(p.a_log.iter().any(|x| matches!(x, Action::Established(_))));
}

#[test]
fn routes_flow_with_end_of_rib_and_incremental_changes() {
    let mut p = up(speaker(), router());
    p.a.set_routes(
        p.now,
        vec![
            route("192.0.2.200/32", "198.51.100.3"),
            route("2001:db8::200/128", "2001:db8::3"),
        ],
    );
    p.run(true, vec![]);
    let t = table(&p);
    assert_eq!(t.len(), 2);
    assert_eq!(
        t[&(
            Family::IPV4_UNICAST,
            "192.0.2.200/32".parse().unwrap(),
            None
        )],
        "198.51.100.3".parse::<IpAddr>().unwrap()
    );
    // End-of-RIB for both families after the initial sync.
    let ctx = p.a.session().negotiated().unwrap().send_context();
    let eors: Vec<Family> = p
        .sent_by_a(&ctx)
        .iter()
        .filter_map(|m| match m {
            Message::Update(u) => u.end_of_rib_family(),
            _ => None,
        })
        .collect();
    assert_eq!(eors, vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    // The router saw both and counted them.
    let got: usize = p
        .b_log
        .iter()
        .map(|x| match x {
            Action::UpdateReceived { announced, .. } => *announced,
            _ => 0,
        })
        .sum();
    assert_eq!(got, 2);
    // Remove one: a withdrawal goes out.
    p.a.set_routes(p.now, vec![route("2001:db8::200/128", "2001:db8::3")]);
    p.run(true, vec![]);
    assert_eq!(table(&p).len(), 1);
}

#[test]
fn keepalives_keep_the_session_up_and_silence_expires_the_hold_timer() {
    let mut p = up(speaker(), router());
    p.advance_to(Instant::from_secs(1000));
    assert_eq!(
        p.a.session().state(),
        State::Established,
        "keepalives flowed both ways"
    );
    let ka = p
        .a_log
        .iter()
        .filter(|x| matches!(x, Action::Send(b) if b.len() == 19))
        .count();
    assert!(ka >= 1000 / 30, "about one keepalive every 30 s, got {ka}");

    // Cut the wire silently (a frozen router): A's hold timer fires within 90 s.
    p.linked = false;
    let cut = p.now;
    p.advance_to(cut + Duration::from_secs(89));
    assert_eq!(p.a.session().state(), State::Established);
    p.advance_to(cut + Duration::from_secs(91));
    assert!(p.a_log.iter().any(|x| matches!(
        x,
        Action::Down {
            reason: Reason::HoldTimerExpired,
            was_up: true
        }
    )));
    assert!(p
        .a_log
        .iter()
        .any(|x| matches!(x, Action::NotificationSent(n) if n.code == 4)));
}

#[test]
fn reconnect_with_backoff_replays_every_route() {
    let mut p = up(speaker(), router());
    p.a.set_routes(
        p.now,
        (1..=50u32).map(|i| route(&format!("192.0.2.{i}/32"), "198.51.100.3")),
    );
    p.run(true, vec![]);
    assert_eq!(p.a.rib().sent().len(), 50);
    // The router restarts: it drops the connection and is gone for a while.
    let x = p.b.handle_event(
        p.now,
        Event::Stop {
            subcode: cease::ADMIN_RESET,
            message: "restart",
        },
    );
    p.run(false, x);
    assert_eq!(p.a.session().state(), State::Idle);
    assert!(p.a.rib().sent().is_empty(), "sent state forgotten on down");
    // While it is away, A's attempts fail and the delays grow.
    let mut attempts = Vec::new();
    for _ in 0..4 {
        let at = p.a.poll_at().expect("restart armed");
        attempts.push(at);
        p.advance_to(at);
    }
    let gaps: Vec<u64> = attempts
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis() as u64)
        .collect();
    assert!(
        gaps.windows(2).all(|g| g[1] > g[0]),
        "backoff grows: {gaps:?}"
    );
    // The router comes back; the next attempt succeeds and replays all.
    p.a_log.clear();
    let x = p.b.handle_event(p.now, Event::Start);
    p.run(false, x);
    p.advance_to(p.now + Duration::from_secs(300));
    assert_eq!(p.a.session().state(), State::Established);
    assert_eq!(table(&p).len(), 50, "everything announced again");
}

#[test]
fn route_refresh_resends_the_family() {
    let mut p = up(speaker(), router());
    p.a.set_routes(
        p.now,
        vec![
            route("192.0.2.1/32", "198.51.100.3"),
            route("2001:db8::1/128", "2001:db8::3"),
        ],
    );
    p.run(true, vec![]);
    p.a_log.clear();
    let rr = hex(&format!("{MARKER} 0017 05 0001 00 01"));
    let x = p.a.handle_event(p.now, Event::Received(&rr));
    p.run(true, x);
    let ups: Vec<Update> = p.updates_sent_by_a();
    assert_eq!(ups.len(), 1, "only IPv4 resent, no End-of-RIB: {ups:?}");
    assert_eq!(ups[0].nlri.len(), 1);
}

/// A peer that floods ROUTE-REFRESH gets no UPDATE out of the messages
/// themselves (only `pump` makes them, as the socket drains), and any
/// number of requests costs at most two passes over the table: the one
/// under way and one more for what was asked during it.
#[test]
fn a_route_refresh_flood_costs_at_most_two_passes() {
    let mut p = up(speaker(), router());
    p.a.set_routes(
        p.now,
        (1..=100u32).map(|i| route(&format!("192.0.2.{i}/32"), "198.51.100.3")),
    );
    p.run(true, vec![]);
    let one = hex(&format!("{MARKER} 0017 05 0001 00 01"));
    let flood: Vec<u8> = one
        .iter()
        .copied()
        .cycle()
        .take(one.len() * 10_000)
        .collect();
    for _ in 0..3 {
        let x = p.a.handle_event(p.now, Event::Received(&flood));
        assert!(
            x.iter().all(|a| !matches!(a, Action::Send(_))),
            "no UPDATE straight out of a received message"
        );
    }
    p.a_log.clear();
    let mut pumps = 0;
    while p.a.wants_to_send() {
        let x = p.a.pump(p.now);
        p.deliver(true, x);
        pumps += 1;
    }
    let announced: usize = p.updates_sent_by_a().iter().map(|u| u.nlri.len()).sum();
    assert_eq!(announced, 200, "30,000 requests: the pass, then one more");
    assert!(pumps <= 2, "{pumps} pumps for 100 routes");
    assert_eq!(table(&p).len(), 100);
}

#[test]
fn wrong_peer_as_is_refused_with_bad_peer_as() {
    let mut b = router();
    b.remote_as = 65999;
    let mut p = Pair::new(speaker(), b);
    p.start();
    assert_ne!(p.a.session().state(), State::Established);
    let got = p
        .a_log
        .iter()
        .find_map(|x| match x {
            Action::NotificationReceived(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!((got.code, got.subcode), (2, 2));
    assert!(p.a_log.iter().any(|x| matches!(
        x,
        Action::Down {
            reason: Reason::NotificationReceived(_),
            was_up: false
        }
    )));
}

fn open_bytes(hold: u16, id: [u8; 4], asn: u16) -> Vec<u8> {
    let open = Open::new(u32::from(asn), hold, Ipv4Addr::from(id), vec![]);
    Message::Open(open).to_bytes(&Context::default()).unwrap()
}

fn opensent() -> (Session, Instant) {
    let mut s = Session::new(speaker());
    let t = Instant::from_secs(1);
    assert_eq!(s.handle_event(t, Event::Start)[0], Action::Connect);
    s.handle_event(t, Event::Connected);
    assert_eq!(s.state(), State::OpenSent);
    (s, t)
}

fn sent_notification(actions: &[Action]) -> (u8, u8) {
    actions
        .iter()
        .find_map(|x| match x {
            Action::NotificationSent(n) => Some((n.code, n.subcode)),
            _ => None,
        })
        .expect("a NOTIFICATION")
}

#[test]
fn open_validation() {
    let (mut s, t) = opensent();
    assert_eq!(
        sent_notification(
            &s.handle_event(t, Event::Received(&open_bytes(2, [198, 51, 100, 2], 65001)))
        ),
        (2, 6)
    );
    let (mut s, t) = opensent();
    assert_eq!(
        sent_notification(
            &s.handle_event(t, Event::Received(&open_bytes(90, [0, 0, 0, 0], 65001)))
        ),
        (2, 3)
    );
    let (mut s, t) = opensent();
    assert_eq!(
        sent_notification(&s.handle_event(
            t,
            Event::Received(&open_bytes(90, [198, 51, 100, 2], 65002))
        )),
        (2, 2)
    );
    let (mut s, t) = opensent();
    let v3 = hex(&format!("{MARKER} 001d 01 03 fde9 005a c6336402 00"));
    assert_eq!(
        sent_notification(&s.handle_event(t, Event::Received(&v3))),
        (2, 1)
    );
    // Hold time 0 is fine and means no keepalives at all.
    let (mut s, t) = opensent();
    s.handle_event(t, Event::Received(&open_bytes(0, [198, 51, 100, 2], 65001)));
    assert_eq!(s.state(), State::OpenConfirm);
    assert_eq!(s.negotiated().unwrap().keepalive, None);
    s.handle_event(t, Event::Received(&hex(&format!("{MARKER} 0013 04"))));
    assert_eq!(s.state(), State::Established);
    assert_eq!(s.poll_at(), None, "no timers with hold time 0");
}

#[test]
fn unexpected_messages_get_fsm_errors() {
    let (mut s, t) = opensent();
    assert_eq!(
        sent_notification(&s.handle_event(t, Event::Received(&hex(&format!("{MARKER} 0013 04"))))),
        (5, 1)
    );
    let (mut s, t) = opensent();
    s.handle_event(
        t,
        Event::Received(&open_bytes(90, [198, 51, 100, 2], 65001)),
    );
    let upd = hex(&format!("{MARKER} 0017 02 0000 0000"));
    assert_eq!(
        sent_notification(&s.handle_event(t, Event::Received(&upd))),
        (5, 2)
    );
}

#[test]
fn malformed_updates_in_established() {
    let mut p = up(speaker(), router());
    // Treat-as-withdraw (bad ORIGIN): the session stays up.
    let taw = hex(&format!(
        "{MARKER} 002d 02 0000 0011 40 01 01 07 40 02 00 40 03 04 c6336402 c0 63 00 20 c00002c8"
    ));
    let x = p.a.handle_event(p.now, Event::Received(&taw));
    assert!(x.iter().any(|a| matches!(a, Action::UpdateReceived { verdict, .. } if verdict.action() == Revision::TreatAsWithdraw)), "{x:?}");
    assert_eq!(p.a.session().state(), State::Established);
    // The same problem with no NLRI to withdraw resets it (RFC 7606 §5.2).
    let mut q = up(speaker(), router());
    let bare = hex(&format!(
        "{MARKER} 0024 02 0000 000d 40 01 01 07 40 02 00 40 03 04 c6336402"
    ));
    let x = q.a.handle_event(q.now, Event::Received(&bare));
    assert_eq!(sent_notification(&x), (3, 1));
    assert_eq!(q.a.session().state(), State::Idle);
    // A broken attribute list resets it with 3/1.
    let broken = hex(&format!("{MARKER} 0017 02 0009 0000"));
    let x = p.a.handle_event(p.now, Event::Received(&broken));
    assert_eq!(sent_notification(&x), (3, 1));
    assert_eq!(p.a.session().state(), State::Idle);
}

#[test]
fn split_and_coalesced_reads_frame_correctly() {
    let (mut s, t) = opensent();
    let mut stream = open_bytes(90, [198, 51, 100, 2], 65001);
    stream.extend(hex(&format!("{MARKER} 0013 04")));
    for chunk in stream.chunks(7) {
        s.handle_event(t, Event::Received(chunk));
    }
    assert_eq!(s.state(), State::Established);
}

/// A peer that stopped reading what we send is closed with Cease "Out of
/// Resources" (RFC 4486), and the session restarts on its own afterwards,
/// as after any failure (not a ManualStop).
#[test]
fn a_peer_that_stopped_reading_gets_out_of_resources_and_a_restart() {
    let mut p = up(speaker(), router());
    let x = p.a.handle_event(p.now, Event::SendStalled);
    assert_eq!(sent_notification(&x), (6, cease::OUT_OF_RESOURCES));
    assert!(x.contains(&Action::Down {
        reason: Reason::SendStalled,
        was_up: true
    }));
    assert!(x.contains(&Action::Disconnect));
    assert_eq!(p.a.session().state(), State::Idle);
    let again = p.a.poll_at().expect("an automatic restart is armed");
    let x = p.a.handle_event(again, Event::Timer);
    assert!(x.contains(&Action::Connect), "{x:?}");
}

#[test]
fn stop_sends_cease_with_the_shutdown_message() {
    let mut p = up(speaker(), router());
    let x = p.a.handle_event(
        p.now,
        Event::Stop {
            subcode: cease::ADMIN_SHUTDOWN,
            message: "leafvip stopping",
        },
    );
    p.run(true, x);
    let n = p
        .b_log
        .iter()
        .find_map(|x| match x {
            Action::NotificationReceived(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(n.shutdown_message(), Some("leafvip stopping"));
    assert_eq!(p.a.session().state(), State::Idle);
    assert_eq!(p.a.poll_at(), None, "no restart after a stop");
}

/// RFC 5882 4.1: BFD Down tears the session down at once, with Cease
/// "BFD Down" (RFC 9384), withdraws what was sent (the Adj-RIB-Out
/// forgets it), and nothing restarts, nor is a connection accepted, until
/// the caller sends Start again.
#[test]
fn bfd_down_ceases_at_once_and_holds_the_session_until_start() {
    let mut p = up(speaker(), router());
    p.a.set_routes(p.now, [route("203.0.113.10/32", "198.51.100.3")]);
    let x = p.a.handle_event(p.now, Event::BfdDown);
    assert!(x.contains(&Action::Down {
        reason: Reason::BfdDown,
        was_up: true
    }));
    assert_eq!(sent_notification(&x), (6, cease::BFD_DOWN));
    assert!(x.contains(&Action::Disconnect));
    assert_eq!(p.a.session().state(), State::Idle);
    assert_eq!(p.a.poll_at(), None, "no restart while BFD is down");
    assert!(!p.a.session().can_accept());
    let x = p.a.handle_event(p.now, Event::Start);
    assert!(x.contains(&Action::Connect));
}

#[test]
fn passive_session_never_connects() {
    let mut s = Session::new(router());
    let x = s.handle_event(Instant::ZERO, Event::Start);
    assert!(!x.contains(&Action::Connect));
    assert_eq!(s.state(), State::Active);
    assert!(s.can_accept());
    let x = s.handle_event(Instant::ZERO, Event::ConnectionFailed);
    assert!(x.is_empty() || !x.contains(&Action::Connect));
}

#[test]
fn connect_timeout_and_refusals_back_off() {
    let mut s = Session::new(speaker());
    s.handle_event(Instant::ZERO, Event::Start);
    let deadline = s.poll_at().unwrap();
    assert_eq!(deadline, Instant::from_secs(10), "connect timeout");
    let x = s.handle_event(deadline, Event::Timer);
    assert!(x.iter().any(|a| matches!(
        a,
        Action::Down {
            reason: Reason::ConnectTimeout,
            ..
        }
    )));
    let retry = s.poll_at().unwrap();
    assert!(retry > deadline && retry <= deadline + Duration::from_secs(2));
    assert_eq!(
        s.handle_event(retry, Event::Timer),
        vec![
            Action::Connect,
            Action::StateChange {
                from: State::Idle,
                to: State::Connect
            }
        ]
    );
    // An incoming connection in Idle is rejected once stopped.
    s.handle_event(
        retry,
        Event::Stop {
            subcode: cease::ADMIN_SHUTDOWN,
            message: "",
        },
    );
    assert_eq!(s.handle_event(retry, Event::Accepted), vec![Action::Reject]);
}

#[test]
fn collision_keeps_the_connection_of_the_higher_identifier() {
    // Local 198.51.100.3 > remote 198.51.100.2: our outgoing one wins.
    let mut outgoing = Session::new(speaker());
    let mut incoming = Session::new(SessionConfig {
        passive: true,
        ..speaker()
    });
    let t = Instant::ZERO;
    outgoing.handle_event(t, Event::Start);
    outgoing.handle_event(t, Event::Connected);
    incoming.handle_event(t, Event::Start);
    incoming.handle_event(t, Event::Accepted);
    assert_eq!(
        collision::resolve(&outgoing, &incoming),
        None,
        "no remote id yet"
    );
    incoming.handle_event(
        t,
        Event::Received(&open_bytes(90, [198, 51, 100, 2], 65001)),
    );
    assert_eq!(
        collision::resolve(&outgoing, &incoming),
        Some(collision::Loser::Second)
    );
    let x = incoming.handle_event(t, Event::CollisionDump);
    assert_eq!(sent_notification(&x), (6, 7));
    // With a higher remote id, the peer's connection wins instead.
    incoming = Session::new(SessionConfig {
        passive: true,
        ..speaker()
    });
    incoming.handle_event(t, Event::Start);
    incoming.handle_event(t, Event::Accepted);
    incoming.handle_event(t, Event::Received(&open_bytes(90, [203, 0, 113, 9], 65001)));
    assert_eq!(
        collision::resolve(&outgoing, &incoming),
        Some(collision::Loser::First)
    );
}

#[test]
fn ibgp_gets_local_pref_and_an_empty_path() {
    let a = SessionConfig {
        remote_as: 65100,
        ..speaker()
    };
    let b = SessionConfig {
        remote_as: 65100,
        local_as: 65100,
        ..router()
    };
    let mut p = up(a, b);
    assert!(p.a.session().negotiated().unwrap().ibgp);
    p.a.set_routes(p.now, vec![route("192.0.2.9/32", "198.51.100.9")]);
    p.run(true, vec![]);
    let ctx = p.a.session().negotiated().unwrap().send_context();
    let u = p
        .sent_by_a(&ctx)
        .into_iter()
        .find_map(|m| match m {
            Message::Update(u) if !u.nlri.is_empty() => Some(u),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        u.attribute(attr_code::AS_PATH),
        Some(&AttrValue::AsPath(AsPath::default()))
    );
    assert_eq!(
        u.attribute(attr_code::LOCAL_PREF),
        Some(&AttrValue::LocalPref(100))
    );
    assert_eq!(
        u.attribute(attr_code::NEXT_HOP),
        Some(&AttrValue::NextHop(Ipv4Addr::new(198, 51, 100, 9))),
        "third-party next hop as given"
    );
}

#[test]
fn routes_set_before_the_session_go_out_before_end_of_rib() {
    let mut p = Pair::new(speaker(), router());
    let routes: Vec<Route> = (1..=20u32)
        .map(|i| route(&format!("192.0.2.{i}/32"), "198.51.100.3"))
        .collect();
    p.a.set_routes(p.now, routes);
    assert!(!p.a.wants_to_send(), "nothing to send while down");
    p.start();
    let ups: Vec<Update> = p.updates_sent_by_a();
    let eor = ups
        .iter()
        .position(|u| u.end_of_rib_family() == Some(Family::IPV4_UNICAST))
        .expect("End-of-RIB");
    let announced: usize = ups[..eor].iter().map(|u| u.nlri.len()).sum();
    assert_eq!(announced, 20, "the whole table precedes End-of-RIB");
}

#[test]
fn a_large_table_goes_out_in_batches() {
    let mut p = up(speaker(), router());
    let n = leafvip_bgp::peer::BATCH as u32 * 2 + 5;
    let routes = (0..n).map(|i| Route {
        prefix: Prefix::host(IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i))),
        next_hop: "198.51.100.3".parse().unwrap(),
        attrs: Arc::new(RouteAttrs::default()),
    });
    p.a.set_routes(p.now, routes);
    let first = p.a.pump(p.now);
    p.deliver(true, first);
    assert!(p.a.wants_to_send(), "only one batch per call");
    let mut rounds = 1;
    while p.a.wants_to_send() {
        let x = p.a.pump(p.now);
        p.deliver(true, x);
        rounds += 1;
    }
    assert_eq!(rounds, 3);
    assert_eq!(table(&p).len(), n as usize);
}

#[test]
fn peer_runs_the_peers_connection_beside_its_own_and_keeps_the_higher_identifier() {
    use leafvip_bgp::peer::{Incoming, Peer};
    let t = Instant::from_secs(1);
    for (remote, ours_wins) in [([203, 0, 113, 9], false), ([198, 51, 100, 2], true)] {
        let mut p = Peer::new(speaker());
        p.handle_event(t, Event::Start);
        assert_eq!(
            p.incoming(),
            Incoming::Accept,
            "before dialling, simply accept"
        );
        p.handle_event(t, Event::Connected);
        assert_eq!(p.incoming(), Incoming::Second, "ours is in OpenSent");
        let mut second = Some(Session::accepting(speaker()));
        let s = second.as_mut().unwrap();
        assert!(s
            .handle_event(t, Event::Accepted)
            .iter()
            .any(|a| matches!(a, Action::Send(_))));
        assert!(p.collision(t, &mut second).is_none(), "no identifier yet");
        second
            .as_mut()
            .unwrap()
            .handle_event(t, Event::Received(&open_bytes(90, remote, 65001)));
        let (loser, acts) = p.collision(t, &mut second).expect("decided");
        assert!(second.is_none());
        assert_eq!(sent_notification(&acts), (6, 7));
        if ours_wins {
            assert_eq!(loser, collision::Loser::Second);
            assert!(p.session().initiated_locally());
            assert_eq!(p.session().state(), State::OpenSent);
        } else {
            assert_eq!(loser, collision::Loser::First);
            assert!(
                !p.session().initiated_locally(),
                "the peer's connection is ours now"
            );
            assert_eq!(p.session().state(), State::OpenConfirm);
            // It restarts actively later: it was not configured passive.
            assert!(!p.session().config().passive);
        }
    }
}

#[test]
fn an_established_peer_refuses_new_connections_unless_it_restarted() {
    use leafvip_bgp::peer::Incoming;
    let p = up(speaker(), router());
    assert_eq!(p.a.incoming(), Incoming::Refuse);
    let gr = Some(GracefulRestartConfig {
        restart_time: 120,
        forwarding: false,
        restarting: false,
    });
    let mut p = up(
        speaker(),
        SessionConfig {
            graceful_restart: gr,
            ..router()
        },
    );
    // A connection from a peer that announced GR runs beside ours; only
    // an OPEN on it means the peer restarted (RFC 4724 §4.2).
    assert_eq!(p.a.incoming(), Incoming::Second);
    let t = p.now;
    let mut second = Some(Session::accepting(speaker()));
    second.as_mut().unwrap().handle_event(t, Event::Accepted);
    assert!(
        p.a.collision(t, &mut second).is_none(),
        "no OPEN yet: ours stays"
    );
    assert_eq!(p.a.session().state(), State::Established);
    second.as_mut().unwrap().handle_event(
        t,
        Event::Received(&open_bytes(90, [198, 51, 100, 2], 65001)),
    );
    let (loser, acts) = p.a.collision(t, &mut second).expect("the peer restarted");
    assert_eq!(loser, collision::Loser::First);
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Down { was_up: true, .. })),
        "{acts:?}"
    );
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::NotificationSent(_))),
        "no Cease to a restarted peer"
    );
    assert_eq!(
        p.a.session().state(),
        State::OpenConfirm,
        "the new connection carries on"
    );
}

/// A route whose attributes alone exceed a 4,096-byte UPDATE (on a session
/// without RFC 8654) cannot be sent: the core says so with `NotSent`
/// instead of dropping it silently. (The config keeps a VIP's communities
/// small enough that this does not happen; this is the last line.)
#[test]
fn an_update_too_large_for_the_session_is_reported_not_dropped() {
    let mut p = up(
        SessionConfig {
            extended_messages: false,
            ..speaker()
        },
        router(),
    );
    let attrs = Arc::new(RouteAttrs {
        communities: (0..1100).collect(),
        ..RouteAttrs::default()
    });
    let big = Route {
        prefix: "192.0.2.1/32".parse().unwrap(),
        next_hop: "198.51.100.3".parse().unwrap(),
        attrs,
    };
    p.a.set_routes(p.now, vec![big]);
    let mut all = Vec::new();
    let mut more = p.a.pump(p.now);
    while !more.is_empty() {
        all.append(&mut more);
        more = p.a.pump(p.now);
    }
    assert!(
        all.iter()
            .any(|a| matches!(a, Action::NotSent(t) if t.limit == 4096 && t.length > 4096)),
        "{all:?}"
    );
}
