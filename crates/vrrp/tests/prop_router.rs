//! Three routers on a simulated segment, through the real codec: whatever
//! is done to them (killed, frozen and resumed, cut off and healed,
//! stopped for good, handed over, their priority lowered), once the last
//! thing done is a few Master_Down_Intervals past, exactly one running,
//! connected router answers for the addresses, and goes on being the only
//! one; with preemption it is the best of them.
use leafvip_vrrp::packet::{Advert, GROUP_V4, GROUP_V6, TTL};
use leafvip_vrrp::{Action, Config, Event, Instant, Router, State};
use proptest::prelude::*;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy)]
enum Trouble {
    /// The process is gone: it neither sends nor answers again.
    Kill,
    /// SIGSTOP for this many microseconds: what is sent to it meanwhile is
    /// lost, and its timers fire late, all at once.
    Freeze(u64),
    /// Its link is down for this long: it goes on, alone.
    Cut(u64),
    /// `leafvip drain`: it hands over, then stops.
    Resign,
    /// A failing check lowers its priority.
    Lower(u8),
}

struct Node {
    r: Router,
    killed: bool,
    frozen_until: Option<u64>,
    cut_until: Option<u64>,
}

impl Node {
    fn running(&self, now: u64) -> bool {
        !self.killed && self.frozen_until.is_none_or(|t| now >= t)
    }

    fn linked(&self, now: u64) -> bool {
        self.cut_until.is_none_or(|t| now >= t)
    }
}

struct Segment {
    nodes: Vec<Node>,
    /// (when, from, bytes): on the wire, with the sender's address.
    wire: Vec<(u64, usize, Vec<u8>)>,
    latency: u64,
    now: u64,
    v6: bool,
    /// Packets sent so far: a storm (two routers answering each other
    /// for ever) fails the test instead of hanging it.
    sent: u64,
    /// State changes so far, by router.
    changes: Vec<u64>,
}

/// More packets than three routers send in the longest script at the
/// shortest interval, with room: only a storm reaches it.
const STORM: u64 = 200_000;

impl Segment {
    /// Routers of these configs on one segment, none started yet.
    fn new(configs: impl Iterator<Item = Config>, latency: u64, v6: bool) -> Segment {
        let nodes: Vec<Node> = configs
            .map(|c| Node {
                r: Router::new(c),
                killed: false,
                frozen_until: None,
                cut_until: None,
            })
            .collect();
        Segment {
            changes: vec![0; nodes.len()],
            nodes,
            wire: Vec::new(),
            latency,
            now: 0,
            v6,
            sent: 0,
        }
    }

    fn group(&self) -> IpAddr {
        match self.v6 {
            true => GROUP_V6.into(),
            false => GROUP_V4.into(),
        }
    }

    fn act(&mut self, i: usize, actions: Vec<Action>) {
        for a in actions {
            if let Action::StateChange { .. } = a {
                self.changes[i] += 1;
            }
            if let Action::Send(ad) = a {
                self.sent += 1;
                assert!(
                    self.sent < STORM,
                    "a storm: {} packets by {} us",
                    self.sent,
                    self.now
                );
                if self.nodes[i].linked(self.now) {
                    let src = self.nodes[i].r.config().primary;
                    let b = ad.encode(src, self.group());
                    self.wire.push((self.now + self.latency, i, b));
                }
            }
        }
    }

    fn handle(&mut self, i: usize, ev: Event) {
        let now = Instant::from_micros(self.now);
        let out = self.nodes[i].r.handle(now, ev);
        self.act(i, out);
    }

    /// Runs until `end`, event by event.
    fn run(&mut self, end: u64) {
        loop {
            let timers = self.nodes.iter().filter(|n| !n.killed).filter_map(|n| {
                let t = n.r.poll_at()?.as_micros();
                Some(n.frozen_until.map_or(t, |f| t.max(f)))
            });
            let packets = self.wire.iter().map(|(t, _, _)| *t);
            let Some(next) = timers.chain(packets).min() else {
                break;
            };
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) =
                self.wire.drain(..).partition(|(t, _, _)| *t <= now);
            self.wire = later;
            for (_, from, b) in due {
                let src = self.nodes[from].r.config().primary;
                for to in 0..self.nodes.len() {
                    let n = &self.nodes[to];
                    if to == from || !n.running(now) || !n.linked(now) {
                        continue;
                    }
                    let advert = Advert::decode(src, self.group(), TTL, &b).unwrap();
                    self.handle(to, Event::Received { from: src, advert });
                }
            }
            for i in 0..self.nodes.len() {
                let n = &self.nodes[i];
                if n.running(now) && n.r.poll_at().is_some_and(|t| t.as_micros() <= now) {
                    self.handle(i, Event::Timer);
                }
            }
        }
        self.now = self.now.max(end);
    }

    /// The routers that answer for the addresses and can be heard.
    fn owners(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                let n = &self.nodes[i];
                n.running(self.now) && n.linked(self.now) && n.r.owns()
            })
            .collect()
    }
}

fn config(i: usize, priority: u8, interval: u16, preempt: bool, delay: u64, v6: bool) -> Config {
    let (primary, vip): (IpAddr, IpAddr) = match v6 {
        true => (
            format!("fe80::{}", i + 1).parse().unwrap(),
            "2001:db8::10".parse().unwrap(),
        ),
        false => (
            format!("198.51.100.{}", i + 1).parse().unwrap(),
            "192.0.2.10".parse().unwrap(),
        ),
    };
    Config {
        vrid: 51,
        priority,
        interval,
        preempt,
        preempt_delay: delay,
        primary,
        addrs: vec![vip],
    }
}

fn trouble() -> impl Strategy<Value = Trouble> {
    prop_oneof![
        Just(Trouble::Kill),
        (1_000u64..5_000_000).prop_map(Trouble::Freeze),
        (1_000u64..5_000_000).prop_map(Trouble::Cut),
        Just(Trouble::Resign),
        (1u8..=254).prop_map(Trouble::Lower),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn one_owner_once_settled(
        priorities in proptest::collection::vec(1u8..=255, 3),
        interval in 1u16..=100,
        preempt in any::<bool>(),
        delay in prop_oneof![Just(0u64), 0u64..3_000_000],
        latency in 0u64..2_000,
        starts in proptest::collection::vec(0u64..1_000_000, 3),
        troubles in proptest::collection::vec((0usize..3, 0u64..4_000_000, trouble()), 0..4),
        v6 in any::<bool>(),
    ) {
        let mut seg = Segment::new(
            (0..3).map(|i| config(i, priorities[i], interval, preempt, delay, v6)),
            latency,
            v6,
        );
        let mut events: Vec<(u64, usize, Option<Trouble>)> =
            starts.iter().enumerate().map(|(i, t)| (*t, i, None)).collect();
        events.extend(troubles.iter().map(|(i, t, x)| (1_000_000 + t, *i, Some(*x))));
        events.sort_by_key(|e| e.0);
        let mut last = 0;
        for (at, i, what) in events {
            seg.run(at);
            let now = seg.now;
            if seg.nodes[i].killed {
                continue;
            }
            match what {
                None => seg.handle(i, Event::Startup),
                Some(Trouble::Kill) => seg.nodes[i].killed = true,
                Some(Trouble::Freeze(d)) => seg.nodes[i].frozen_until = Some(now + d),
                Some(Trouble::Cut(d)) => seg.nodes[i].cut_until = Some(now + d),
                Some(Trouble::Resign) => seg.handle(i, Event::Resign),
                Some(Trouble::Lower(p)) => seg.handle(i, Event::Priority(p)),
            }
            let n = &seg.nodes[i];
            last = [Some(last), Some(now), n.frozen_until, n.cut_until]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(last);
        }
        // Settled: every trouble over, then the slowest possible takeover
        // (a Master_Down_Interval is under 4 adverts) twice over, and the
        // preempt delay.
        let advert = u64::from(interval) * 10_000;
        let settle = last.max(1_000_000) + delay + 10 * advert + 3 * latency;
        seg.run(settle);
        let alive: Vec<usize> = (0..3)
            .filter(|&i| {
                let n = &seg.nodes[i];
                n.running(seg.now) && n.r.state() != State::Initialize
            })
            .collect();
        // From here on, at every moment: one owner if any router is up.
        for step in 0..20 {
            seg.run(settle + step * advert / 2 + 1);
            let owners = seg.owners();
            prop_assert_eq!(owners.len(), usize::from(!alive.is_empty()), "owners {:?}", owners);
            if preempt && delay == 0 {
                if let Some(&o) = owners.first() {
                    let best = alive
                        .iter()
                        .max_by_key(|&&i| {
                            let c = seg.nodes[i].r.config();
                            (c.priority, c.primary)
                        })
                        .unwrap();
                    let (po, pb) = (
                        seg.nodes[o].r.config().priority,
                        seg.nodes[*best].r.config().priority,
                    );
                    // A backup of equal priority does not preempt (RFC
                    // 5798 6.4.2), so only priority is compared.
                    prop_assert_eq!(po, pb);
                }
            }
        }
    }

    /// A partition heals (RFC 5798 has two masters meanwhile, one on each
    /// side): within one advert interval, plus the wire's latency, one
    /// router answers, and the healing costs one state change in all, the
    /// lower master's to Backup; nothing moves after.
    #[test]
    fn a_healed_partition_has_one_owner_within_an_interval_and_one_flap(
        priorities in proptest::collection::btree_set(1u8..=254, 3),
        interval in 1u16..=100,
        latency in 0u64..2_000,
        cut in 0usize..3,
        extra in 0u64..3_000_000,
        v6 in any::<bool>(),
    ) {
        let priorities: Vec<u8> = priorities.into_iter().collect();
        let mut seg = Segment::new(
            (0..3).map(|i| config(i, priorities[i], interval, true, 0, v6)),
            latency,
            v6,
        );
        for i in 0..3 {
            seg.handle(i, Event::Startup);
        }
        let advert = u64::from(interval) * 10_000;
        seg.run(10 * advert + 1_000_000);
        prop_assert_eq!(seg.owners().len(), 1);
        // Cut one off for longer than a Master_Down_Interval: each side
        // has its master.
        let d = 4 * advert + extra;
        seg.nodes[cut].cut_until = Some(seg.now + d);
        seg.run(seg.now + d - 1);
        let masters = (0..3).filter(|&i| seg.nodes[i].r.owns()).count();
        prop_assert_eq!(masters, 2, "a master on each side");
        let healed = seg.now + 1;
        let before = seg.changes.clone();
        seg.run(healed + advert + latency);
        prop_assert_eq!(seg.owners().len(), 1, "one owner an interval after the heal");
        for step in 1..=20 {
            seg.run(healed + advert + latency + step * advert);
            prop_assert_eq!(seg.owners().len(), 1);
        }
        let flaps: u64 = (0..3).map(|i| seg.changes[i] - before[i]).sum();
        prop_assert_eq!(flaps, 1, "state changes after the heal: {:?} -> {:?}", before, seg.changes);
    }
}
