//! The session FSM under arbitrary event scripts: each input byte picks an
//! event; "bytes" events take a length-prefixed slice of the input. Checks
//! the same invariants as the property test, at fuzzer speed.
#![no_main]
use leafvip_bgp::peer::Peer;
use leafvip_bgp::rib_out::{Route, RouteAttrs};
use leafvip_bgp::session::{Event, SessionConfig, State};
use leafvip_bgp::wire::{cease, Capability, Context, Family, Message, Open, Prefix};
use leafvip_bgp::Instant;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Some((&cfg_byte, mut rest)) = data.split_first() else { return };
    let mut cfg = SessionConfig::new(65100, 65001, Ipv4Addr::new(198, 51, 100, 3));
    cfg.passive = cfg_byte & 1 != 0;
    cfg.hold_time = [0, 3, 9, 90][usize::from(cfg_byte >> 1 & 3)];
    let mut peer = Peer::new(cfg);
    let open = Message::Open(Open::new(
        65001,
        u16::from(cfg_byte >> 3),
        Ipv4Addr::new(198, 51, 100, 2),
        vec![Capability::Multiprotocol(Family::IPV4_UNICAST), Capability::FourOctetAs(65001)],
    ))
    .to_bytes(&Context::default())
    .unwrap();
    let keepalive = Message::Keepalive.to_bytes(&Context::default()).unwrap();
    let mut now = Instant::ZERO;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let actions = match op % 12 {
            0 => peer.handle_event(now, Event::Start),
            1 => peer.handle_event(now, Event::Stop { subcode: cease::ADMIN_SHUTDOWN, message: "fuzz" }),
            2 => {
                now = now + Duration::from_millis(u64::from(op) * 101);
                let mut v = Vec::new();
                while let Some(d) = peer.poll_at().filter(|d| *d <= now) {
                    v.extend(peer.handle_event(d, Event::Timer));
                    assert_ne!(peer.poll_at(), Some(d), "timer fired twice");
                }
                v
            }
            3 => peer.handle_event(now, Event::Connected),
            4 => peer.handle_event(now, Event::Accepted),
            5 => peer.handle_event(now, Event::ConnectionFailed),
            6 => peer.handle_event(now, Event::Received(&open)),
            7 => peer.handle_event(now, Event::Received(&keepalive)),
            8 => peer.handle_event(now, Event::CollisionDump),
            9 => {
                let n = rest.first().map_or(0, |b| usize::from(*b));
                let routes: Vec<Route> = (0..n as u32)
                    .map(|i| Route {
                        prefix: Prefix::host(IpAddr::V4(Ipv4Addr::from(0xc000_0200 + i))),
                        next_hop: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 3)),
                        attrs: Arc::new(RouteAttrs::default()),
                    })
                    .collect();
                peer.set_routes(now, routes);
                peer.pump(now)
            }
            _ => {
                let n = rest.first().map_or(0, |b| usize::from(*b)).min(rest.len().saturating_sub(1));
                let chunk = rest.get(1..1 + n).unwrap_or(&[]);
                rest = rest.get(1 + n..).unwrap_or(&[]);
                peer.handle_event(now, Event::Received(chunk))
            }
        };
        drop(actions);
        let s = peer.session();
        assert_eq!(s.state() == State::Established, s.established_at().is_some());
        if s.state() != State::Established {
            assert!(peer.rib().sent().is_empty(), "nothing counts as sent while down");
        }
    }
});
