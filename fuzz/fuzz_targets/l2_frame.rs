//! Frames from the segment in layer-2 mode: reading never panics,
//! answering what was read never panics either, and a speaker that owns
//! two VIPs takes any frame (VRRP included) without panicking, answers
//! only for its own VIPs, and names whatever master it then hears
//! (`lb::owners`) without panicking.
#![no_main]
use leafvip::config::l2::L2Config;
use leafvip::l2::frames::{self, Asked};
use leafvip::l2::links::Link;
use leafvip::l2::speaker::{Hold, Speaker, Want};
use leafvip::lb::announce::{NodeInfo, NodeState};
use leafvip::lb::owners::Owners;
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

const OURS: frames::Mac = [0x02, 0, 0x5e, 0, 1, 1];

fn speaker() -> Speaker {
    let link = Link {
        index: 2,
        name: "eth0".into(),
        mac: OURS,
        v4: vec![("198.51.100.1".parse().unwrap(), 24)],
        v6: vec![("2001:db8::1".parse().unwrap(), 64)],
        link_local: Some("fe80::1".parse().unwrap()),
    };
    let node = |n: u8| NodeInfo {
        state: NodeState {
            ready: true,
            excluded: false,
        },
        v4: Some([198, 51, 100, n].into()),
        ..Default::default()
    };
    let nodes = (1..=20).map(|n| (format!("n{n}"), node(n))).collect();
    let owners = Arc::new(Owners::new("n1", &nodes));
    let want = |vip: &str| Want {
        vip: vip.parse().unwrap(),
        cfg: L2Config {
            interface: "eth0".into(),
            vrid: 10,
            priority: 255,
            interval: 10,
            preempt: true,
            preempt_delay: Duration::ZERO,
            garp_count: 1,
            garp_interval: Duration::from_millis(100),
            garp_refresh: None,
            down_priority: None,
        },
        hold: Hold::Run(255),
        service: String::new(),
        owners: Some(owners.clone()),
    };
    let mut s = Speaker::default();
    s.set(
        leafvip_vrrp::Instant::from_micros(0),
        &[link],
        &[want("198.51.100.10"), want("2001:db8::10")],
    );
    s
}

fuzz_target!(|data: &[u8]| {
    match frames::read(data) {
        Ok(Asked::Arp { mac, ip, target }) => {
            let r = frames::arp_reply(OURS, target, (mac, ip));
            assert!(frames::read(&r).is_err(), "a reply asks nothing");
        }
        Ok(Asked::Solicit { mac, ip, target }) => {
            let r = frames::advertise(OURS, target, Some((mac, ip)));
            assert!(frames::read(&r).is_err(), "an advertisement asks nothing");
        }
        Err(_) => {}
    }
    let mut s = speaker();
    let out = s.frame(leafvip_vrrp::Instant::from_micros(1), 2, data);
    if let Ok(Asked::Arp { target, .. }) = frames::read(data) {
        if !out.is_empty() {
            assert_eq!(IpAddr::V4(target), "198.51.100.10".parse::<IpAddr>().unwrap());
        }
    }
    // A master at a Node's address is named as that node, us included.
    for v in s.shown() {
        if let Some(IpAddr::V4(a)) = v.owner {
            let [a, b, c, d] = a.octets();
            if [a, b, c] == [198, 51, 100] && (1..=20).contains(&d) {
                assert_eq!(v.node, Some(format!("n{d}")), "{v:?}");
            }
        }
    }
});
