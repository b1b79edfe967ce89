//! Two speakers wired back to back through their frames: who answers ARP
//! and NDP, the announcement burst, a drain and a stop.
use super::*;
use crate::config::l2::L2Config;
use crate::l2::frames::Mac;
use std::net::{Ipv4Addr, Ipv6Addr};

fn link(n: u8) -> Link {
    Link {
        index: 2,
        name: "eth0".into(),
        mac: [2, 0, 0, 0, 0, n],
        v4: vec![(Ipv4Addr::new(198, 51, 100, n), 24)],
        v6: vec![("2001:db8::1".parse::<Ipv6Addr>().unwrap(), 64)],
        link_local: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(n))),
    }
}

fn cfg(priority: u8) -> L2Config {
    L2Config {
        interface: "eth0".into(),
        vrid: 10,
        priority,
        interval: 10,
        preempt: true,
        preempt_delay: Duration::ZERO,
        garp_count: 3,
        garp_interval: Duration::from_millis(100),
        garp_refresh: None,
        down_priority: None,
    }
}

/// The MAC a frame was sent from.
fn source(frame: &[u8]) -> Option<Mac> {
    frame.get(6..12)?.try_into().ok()
}

const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10));
const V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10));

fn wants(priority: u8, hold: Option<Hold>) -> Vec<Want> {
    [V4, V6]
        .map(|vip| Want {
            vip,
            cfg: cfg(priority),
            hold: hold.unwrap_or(Hold::Run(priority)),
            service: String::new(),
            owners: None,
        })
        .to_vec()
}

/// Two hosts on one segment; every frame one sends the other hears at
/// the same instant. Returns what went on the wire, by sender.
struct Lan {
    hosts: [Speaker; 2],
    links: [Link; 2],
    now: u64,
    wire: Vec<(usize, Vec<u8>)>,
    /// A host stopped (SIGSTOP): it hears nothing and its timers wait.
    frozen: Option<usize>,
}

impl Lan {
    fn new(p0: u8, p1: u8) -> Lan {
        let mut lan = Lan {
            hosts: [Speaker::default(), Speaker::default()],
            links: [link(1), link(2)],
            now: 0,
            wire: Vec::new(),
            frozen: None,
        };
        lan.set(0, wants(p0, None));
        lan.set(1, wants(p1, None));
        lan
    }

    fn at(&self) -> Instant {
        Instant::from_micros(self.now)
    }

    fn set(&mut self, i: usize, w: Vec<Want>) {
        let out = self.hosts[i].set(self.at(), &self.links[i..=i], &w);
        self.deliver(i, out);
    }

    fn deliver(&mut self, from: usize, out: Vec<Send>) {
        for s in out {
            self.wire.push((from, s.frame.clone()));
            let to = 1 - from;
            if self.frozen == Some(to) {
                continue;
            }
            let back = self.hosts[to].frame(self.at(), 2, &s.frame);
            self.deliver(to, back);
        }
    }

    /// Runs the timers up to `until` microseconds.
    fn run(&mut self, until: u64) {
        loop {
            let frozen = self.frozen;
            let next = (0..2)
                .filter(|i| Some(*i) != frozen)
                .filter_map(|i| self.hosts[i].poll_at())
                .min();
            match next {
                Some(t) if t.as_micros() <= until => {
                    self.now = self.now.max(t.as_micros());
                    for i in (0..2).filter(|i| Some(*i) != frozen) {
                        let out = self.hosts[i].timer(self.at());
                        self.deliver(i, out);
                    }
                }
                _ => break,
            }
        }
        self.now = until;
    }

    /// Which hosts answer an ARP request and a Neighbor Solicitation for
    /// the VIPs, by the MAC of the replies.
    fn answering(&mut self) -> (Vec<Mac>, Vec<Mac>) {
        let client: Mac = [2, 0, 0, 0, 0, 99];
        let arp = {
            let mut b = frames::gratuitous_arp(client, Ipv4Addr::new(198, 51, 100, 99));
            // Make it a request for the VIP from the client.
            b[38..42].copy_from_slice(&[198, 51, 100, 10]);
            b
        };
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let ns = ns_for(V6, client);
        for h in 0..2 {
            for s in self.hosts[h].frame(self.at(), 2, &arp) {
                v4.push(source(&s.frame).unwrap());
            }
            for s in self.hosts[h].frame(self.at(), 2, &ns) {
                v6.push(source(&s.frame).unwrap());
            }
        }
        (v4, v6)
    }
}

/// A Neighbor Solicitation for `vip` from 2001:db8::99, as a host sends.
fn ns_for(vip: IpAddr, mac: Mac) -> Vec<u8> {
    let IpAddr::V6(vip) = vip else { unreachable!() };
    let src = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99);
    let dst = frames::solicited_node(vip);
    let mut payload = Vec::new();
    payload.extend_from_slice(&vip.octets());
    payload.extend_from_slice(&[1, 1]);
    payload.extend_from_slice(&mac);
    let b = etherparse::PacketBuilder::ethernet2(mac, [0x33, 0x33, 0xff, 0, 0, 0x10])
        .ipv6(src.octets(), dst.octets(), 255)
        .icmpv6(etherparse::Icmpv6Type::Unknown {
            type_u8: 135,
            code_u8: 0,
            bytes5to8: [0; 4],
        });
    let mut out = Vec::new();
    b.write(&mut out, &payload).unwrap();
    out
}

#[test]
fn the_higher_priority_answers_alone_in_both_families() {
    let mut lan = Lan::new(150, 100);
    assert_eq!(
        lan.answering(),
        (vec![], vec![]),
        "no one before the election"
    );
    lan.run(1_000_000);
    assert_eq!(lan.answering(), (vec![link(1).mac], vec![link(1).mac]));
    assert_eq!(lan.hosts[0].owned(), 2);
    assert_eq!(lan.hosts[1].owned(), 0);
    let shown = lan.hosts[1].shown();
    assert_eq!(shown[0].state, State::Backup);
    assert_eq!(shown[0].owner, Some("198.51.100.1".parse().unwrap()));
    assert_eq!(shown[1].owner, Some("fe80::1".parse().unwrap()));
    // Announced: the burst of three per VIP, from the owner only.
    let announced = lan
        .wire
        .iter()
        .filter(|(_, f)| {
            matches!(frames::hear(f), Ok(Heard::Asked(_)))
                || f[12..14] == [0x86, 0xdd] && f[20] == 58
        })
        .count();
    assert_eq!(announced, 6, "3 gratuitous ARPs and 3 unsolicited NAs");
    assert!(lan
        .wire
        .iter()
        .filter(|(_, f)| f[12..14] == [0x08, 0x06])
        .all(|(h, _)| *h == 0));
}

#[test]
fn a_drain_hands_over_without_a_gap_and_comes_back_only_as_last_resort() {
    let mut lan = Lan::new(150, 100);
    lan.run(1_000_000);
    lan.set(0, wants(150, Some(Hold::Drain)));
    // Until the backup has taken over, the old owner still answers.
    assert_eq!(lan.answering().0, vec![link(1).mac]);
    lan.run(1_100_000);
    assert_eq!(lan.answering(), (vec![link(2).mac], vec![link(2).mac]));
    assert_eq!(lan.hosts[0].shown()[0].state, State::Backup);
    assert_eq!(lan.hosts[0].shown()[0].priority, 1);
    // Undrained, it preempts again.
    lan.set(0, wants(150, None));
    lan.run(2_000_000);
    assert_eq!(lan.answering(), (vec![link(1).mac], vec![link(1).mac]));
}

#[test]
fn a_stop_hands_over_and_a_lone_host_keeps_answering() {
    let mut lan = Lan::new(150, 100);
    lan.run(1_000_000);
    lan.set(0, wants(150, Some(Hold::Out)));
    lan.run(1_100_000);
    assert_eq!(lan.answering().0, vec![link(2).mac]);
    assert_eq!(lan.hosts[0].owned(), 0);
    // Host 1 alone, told to give up: no one to hand to, so it answers on.
    lan.set(1, wants(100, Some(Hold::Out)));
    lan.run(3_000_000);
    assert_eq!(lan.answering().0, vec![link(2).mac]);
}

#[test]
fn malformed_frames_are_counted_not_answered() {
    let mut s = Speaker::default();
    s.set(Instant::from_micros(0), &[link(1)], &wants(255, None));
    assert_eq!(s.owned(), 2);
    let mut ns = ns_for(V6, [2, 0, 0, 0, 0, 99]);
    ns[21] = 64; // hop limit
    assert!(s.frame(Instant::from_micros(1), 2, &ns).is_empty());
    let mut short_arp = vec![0xff; 12];
    short_arp.extend_from_slice(&[0x08, 0x06, 0, 1, 8]);
    assert!(s.frame(Instant::from_micros(1), 2, &short_arp).is_empty());
    // A VRRP advert with TTL 1, as if routed.
    let ad = Advert {
        vrid: 10,
        priority: 200,
        interval: 10,
        addrs: vec![V4],
    };
    let src: IpAddr = "198.51.100.7".parse().unwrap();
    let msg = ad.encode(src, IpAddr::V4(frames::VRRP_V4));
    let mut f = frames::vrrp_frame([2, 0, 0, 0, 0, 7], src, &msg);
    f[22] = 1;
    // (the IPv4 header checksum is not ours to check: the TTL is)
    assert!(s.frame(Instant::from_micros(2), 2, &f).is_empty());
    assert_eq!(s.counters.malformed_ndp, 1);
    assert_eq!(s.counters.malformed_arp, 1);
    assert_eq!(s.counters.malformed_vrrp, 1);
    assert_eq!(s.owned(), 2, "a routed advert takes nothing over");
    // Another router's advert with other addresses is counted as foreign.
    let other = Advert {
        addrs: vec!["198.51.100.11".parse().unwrap()],
        priority: 1,
        ..ad
    };
    let msg = other.encode(src, IpAddr::V4(frames::VRRP_V4));
    s.frame(
        Instant::from_micros(3),
        2,
        &frames::vrrp_frame([2, 0, 0, 0, 0, 7], src, &msg),
    );
    assert_eq!(s.shown()[0].foreign, 1);
}

#[test]
fn a_thawed_master_takes_the_neighbours_back() {
    let mut lan = Lan::new(150, 100);
    lan.run(1_000_000);
    lan.frozen = Some(0);
    lan.run(2_000_000);
    // The backup took over while the master was frozen; the neighbours
    // now send to it.
    assert_eq!(lan.hosts[1].owned(), 2);
    lan.frozen = None;
    let before = lan.wire.len();
    lan.run(2_300_000);
    assert_eq!(lan.answering(), (vec![link(1).mac], vec![link(1).mac]));
    // It announced itself again (gratuitous ARP and NA), or the
    // neighbours would stay with the host that gave the VIPs up.
    let again = lan.wire[before..]
        .iter()
        .filter(|(h, f)| *h == 0 && (f[12..14] == [0x08, 0x06] || f.get(54) == Some(&136)))
        .count();
    assert!(again >= 2, "{again} announcements");
}

/// A Service address (cluster mode) taken over is reported once, for
/// the Event on its Service; a configured VIP never is.
#[test]
fn take_overs_of_service_addresses_are_reported_once() {
    let mut lan = Lan::new(150, 100);
    lan.run(1_000_000);
    assert!(lan.hosts[0].took().is_empty(), "a configured VIP");
    let svc = |p: u8| -> Vec<Want> {
        wants(p, None)
            .into_iter()
            .map(|w| Want {
                service: "default/web".into(),
                ..w
            })
            .collect()
    };
    lan.set(0, svc(150));
    lan.set(1, svc(100));
    assert!(lan.hosts[1].took().is_empty(), "a backup took nothing");
    // Host 0 drains: host 1 takes both over, once.
    lan.set(
        0,
        wants(150, Some(Hold::Drain))
            .into_iter()
            .map(|w| Want {
                service: "default/web".into(),
                ..w
            })
            .collect(),
    );
    lan.run(1_200_000);
    assert_eq!(lan.hosts[1].took(), [V4, V6]);
    assert!(lan.hosts[1].took().is_empty());
}

/// With the cluster's directory of nodes, every host names the owner's
/// node: itself when it owns the VIP; a backup the master's, for IPv4 by
/// its address and for IPv6 (heard from a link-local address) by its
/// priority. After a drain the names follow the new owner.
#[test]
fn every_host_names_the_owners_node() {
    use crate::lb::announce::{NodeInfo, NodeState};
    use crate::lb::layer2::priority;
    // Node names whose election priorities are the hosts' 150 and 100.
    let named = |p: u8| {
        (0..100_000)
            .map(|i| format!("n{i}"))
            .find(|n| priority(n, V6) == p)
            .unwrap()
    };
    let (a, b) = (named(150), named(100));
    let node = |n: u8| NodeInfo {
        state: NodeState {
            ready: true,
            excluded: false,
        },
        v4: Some(Ipv4Addr::new(198, 51, 100, n)),
        ..Default::default()
    };
    let nodes = [(a.clone(), node(1)), (b.clone(), node(2))].into();
    let with = |me: &str, p: u8, hold: Option<Hold>| -> Vec<Want> {
        let owners = Some(Arc::new(Owners::new(me, &nodes)));
        wants(p, hold)
            .into_iter()
            .map(|w| Want {
                owners: owners.clone(),
                ..w
            })
            .collect()
    };
    let mut lan = Lan::new(150, 100);
    assert_eq!(lan.hosts[1].shown()[0].node, None, "no directory, no name");
    lan.set(0, with(&a, 150, None));
    lan.set(1, with(&b, 100, None));
    lan.run(1_000_000);
    let names =
        |h: &Speaker| -> Vec<Option<String>> { h.shown().into_iter().map(|s| s.node).collect() };
    let both = |n: &String| vec![Some(n.clone()), Some(n.clone())];
    assert_eq!(names(&lan.hosts[0]), both(&a));
    assert_eq!(names(&lan.hosts[1]), both(&a));
    lan.set(0, with(&a, 150, Some(Hold::Drain)));
    lan.run(1_100_000);
    assert_eq!(names(&lan.hosts[0]), both(&b));
    assert_eq!(names(&lan.hosts[1]), both(&b));
}
