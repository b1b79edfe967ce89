//! Layer-2 mode against the real kernel and keepalived 2.2.7, in the
//! lab of `support/l2.rs`: two leafvip hosts (priorities 150 and 100) and
//! a keepalived host (50) through kills, freezes, returns, drains, stops
//! and restarts, asserting on the MACs the client hears and the host its
//! connections reach.
#![cfg(feature = "l2")]
mod support;

use nix::sys::signal::Signal;
use std::time::Duration;
use support::l2::{keepalived_config, leafvip_config, under_load, L2Lab, VIP4, VIP6};
use support::{can_run, wait_for};

#[test]
fn one_owner_with_keepalived_through_kill_freeze_and_drain() {
    if !can_run(&["keepalived", "arping", "ndisc6", "python3"]) {
        return;
    }
    let mut l = L2Lab::new(&["h1", "h2", "k3"]);
    let h1 = l.start_leafvip("h1", "h1", 150);
    let h2 = l.start_leafvip("h2", "h2", 100);
    let _k3 = l.start_keepalived("k3", 50);
    // Steady state: the highest priority answers alone, in both families,
    // and a connection to the VIP reaches its service.
    l.wait_reached(VIP4, "h1");
    l.wait_reached(VIP6, "h1");
    l.wait_alone(1, "steady state");
    assert!(!l.on_interface("k3"), "keepalived at 50 stays a backup");

    // The owner killed: the next leafvip takes over; the dead host's
    // kernel does not answer (the VIP is on lo, arp_ignore).
    l.lab.proc(h1).signal(Signal::SIGKILL);
    l.wait_reached(VIP4, "h2");
    l.wait_reached(VIP6, "h2");
    l.wait_alone(2, "after the owner was killed");
    // The new owner's metrics say so.
    #[cfg(feature = "metrics")]
    {
        let (code, m) = support::curl(&l.ns("h2"), "GET", "http://127.0.0.1:9179/metrics", 2);
        assert_eq!(code, 200);
        for vip in [VIP4, VIP6] {
            let line =
                format!("leafvip_l2_master{{vip=\"{vip}\",interface=\"eth0\",vrid=\"10\"}} 1");
            assert!(m.lines().any(|l| l == line), "missing {line} in\n{m}");
        }
        assert!(
            m.contains("leafvip_l2_frames_total{kind=\"arp_answered\"}"),
            "{m}"
        );
    }

    // The new owner frozen: keepalived takes over; thawed, leafvip at 100
    // advertises at once and keepalived gives the VIPs back (and removes
    // them from its interface): one MAC again, never two.
    l.lab.proc(h2).signal(Signal::SIGSTOP);
    l.wait_reached(VIP4, "k3");
    l.wait_alone(3, "keepalived holding while h2 is frozen");
    l.lab.proc(h2).signal(Signal::SIGCONT);
    l.wait_reached(VIP4, "h2");
    l.wait_reached(VIP6, "h2");
    l.wait_alone(2, "after the freeze");
    wait_for(
        Duration::from_secs(5),
        "keepalived to drop the VIP from its interface",
        || (!l.on_interface("k3")).then_some(()),
        || "still there".into(),
    );

    // The killed host back at 150: it preempts.
    let h1 = l.start_leafvip("h1", "h1-again", 150);
    l.wait_reached(VIP4, "h1");
    l.wait_alone(1, "after h1 came back");

    // A planned drain hands over; status shows it.
    l.lab.ctl("h1-again", "drain");
    l.wait_reached(VIP4, "h2");
    l.wait_reached(VIP6, "h2");
    l.wait_alone(2, "after leafvip drain");
    let st = l.lab.status_json("h1-again");
    let vips = st["l2"].as_array().expect("status l2");
    assert_eq!(vips.len(), 2, "{st}");
    for v in vips {
        assert_eq!(v["state"], "backup", "{v}");
        assert_eq!(v["priority"], 1, "{v}");
        // The master heard: h2's address, or for IPv6 its link-local one
        // (EUI-64 of 02:00:00:00:00:02).
        let h2 = if v["vip"] == VIP4 {
            "198.51.100.2"
        } else {
            "fe80::ff:fe00:2"
        };
        assert_eq!(v["owner"], h2, "{v}");
        assert!(v["transitions"].as_u64().unwrap() >= 3, "{v}");
    }
    l.lab.ctl("h1-again", "undrain");
    l.wait_reached(VIP4, "h1");
    l.wait_alone(1, "after leafvip undrain");
    let _ = h1;
}

/// A planned stop and a `leafvip restart` hand the VIPs over before the
/// process goes: the new owner answers before the old one stops, so no
/// request meets a gap. keepalived fails 6 at 100 ms adverts here (issue
/// 23), dropping the VIP at once and leaving the backup its skew time.
///
/// What a move may still cost is a request whose handshake straddles the
/// instant the client's ARP or neighbour entry changes: its ACK reaches
/// the new owner, which resets it, as it resets long flows. That came to
/// one request in about one run in ten, so the test allows it, and only
/// it: a reset, at a move, at most one per move. A timeout or a refusal
/// would be a gap.
#[test]
fn planned_stop_and_restart_hand_over_without_a_gap() {
    if !can_run(&["python3"]) {
        return;
    }
    let mut l = L2Lab::new(&["h1", "h2"]);
    let h1 = l.start_leafvip("h1", "h1", 150);
    l.start_leafvip("h2", "h2", 100);
    l.wait_reached(VIP4, "h1");
    l.wait_reached(VIP6, "h1");
    let got = under_load(&mut l, 14, 0, |l| {
        let t0 = std::time::Instant::now();
        // SIGTERM: hand over, wait drain_time (2 s), exit.
        l.lab.proc(h1).signal(Signal::SIGTERM);
        l.wait_reached(VIP4, "h2");
        assert!(
            l.lab.proc(h1).wait_exit(Duration::from_secs(5)).is_some(),
            "h1 stopped"
        );
        // Back, it preempts; then `leafvip restart` and a new process 2 s
        // later, as the unit does.
        l.start_leafvip("h1", "h1-b", 150);
        l.wait_reached(VIP4, "h1");
        l.lab.ctl("h1-b", "restart");
        l.wait_reached(VIP4, "h2");
        let i = l.lab.last_index("h1-b");
        assert!(
            l.lab.proc(i).wait_exit(Duration::from_secs(5)).is_some(),
            "h1-b exited"
        );
        std::thread::sleep(Duration::from_secs(2));
        l.lab
            .leafvip_at(&l.ns("h1"), "h1-c", "h1-b", &leafvip_config(150, ""));
        l.wait_reached(VIP4, "h1");
        assert!(
            t0.elapsed() < Duration::from_secs(13),
            "every event under the load"
        );
    });
    for (fam, j) in ["IPv4", "IPv6"].iter().zip(&got) {
        let short = &j["short"];
        let total = short["total"].as_u64().unwrap();
        let moves = moves(short);
        let failed: Vec<(f64, &str)> = short["failed_at"]
            .as_array()
            .unwrap()
            .iter()
            .zip(short["failed_why"].as_array().unwrap())
            .map(|(t, why)| (t.as_f64().unwrap(), why.as_str().unwrap()))
            .collect();
        eprintln!("{fam}: {total} short requests; the answering host changed at {moves:?}; failed {failed:?}");
        assert!(total >= 1300, "{fam}: {total} requests");
        // h1 -> h2 (stop), -> h1 (back), -> h2 (restart), -> h1 (back).
        let hosts: Vec<&str> = moves.iter().map(|(_, h)| h.as_str()).collect();
        assert_eq!(hosts, ["h2", "h1", "h2", "h1"], "{fam}");
        // No gap: nothing timed out or was refused. The one failure a
        // move may cost is a request whose handshake straddled the ARP
        // entry's change, reset by the new owner, at that instant.
        for (k, (t, why)) in failed.iter().enumerate() {
            assert_eq!(
                *why, "ConnectionResetError",
                "{fam}: a failure at {t} s: {failed:?}"
            );
            let at = moves.iter().position(|(m, _)| (t - m).abs() < 0.2);
            assert!(
                at.is_some(),
                "{fam}: a reset at {t} s, at no move: {moves:?}"
            );
            let same = failed[..k]
                .iter()
                .any(|(u, _)| (u - moves[at.unwrap()].0).abs() < 0.2);
            assert!(!same, "{fam}: two resets at one move: {failed:?}");
        }
    }
}

/// When the host answering the short requests changed, and to which: the
/// start of the first request the new host answered.
fn moves(short: &serde_json::Value) -> Vec<(f64, String)> {
    let mut ok: Vec<(f64, &str)> = short["ok_at"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_f64().unwrap(), r[2].as_str().unwrap()))
        .collect();
    ok.sort_by(|a, b| a.0.total_cmp(&b.0));
    ok.windows(2)
        .filter(|w| w[0].1 != w[1].1)
        .map(|w| (w[1].0, w[1].1.to_string()))
        .collect()
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One VIP's row of `status --json`.
fn l2_row(st: &serde_json::Value, vip: &str) -> serde_json::Value {
    st["l2"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["vip"] == vip))
        .cloned()
        .unwrap_or_default()
}

/// A hostile neighbour (`support/l2flood.py`): 60,000 frames in at most
/// 6 s, a quarter each of ARP requests from new senders, Neighbor
/// Solicitations with bad checksums, VRRP packets of random bytes, and
/// a higher-priority advert for our VRID that is right but for its TTL.
/// The owner stays the owner (no transition on either host), answers a
/// new connection throughout, counts what it discarded, and its memory
/// does not grow with the frames.
#[test]
fn a_hostile_neighbour_neither_moves_nor_grows_the_owner() {
    if !can_run(&["arping", "ndisc6", "python3", "tcpdump"]) {
        return;
    }
    let mut l = L2Lab::new(&["h1", "h2"]);
    let h1 = l.start_leafvip("h1", "h1", 150);
    let _h2 = l.start_leafvip("h2", "h2", 100);
    l.wait_reached(VIP4, "h1");
    l.wait_reached(VIP6, "h1");
    l.wait_alone(1, "before the flood");
    let (b1, b2) = (l.lab.status_json("h1"), l.lab.status_json("h2"));
    let rss0 = rss_kib(l.lab.procs_pid(h1));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/l2flood.py");
    let c = l.client.clone();
    let f = l.lab.spawn(
        &c,
        &[
            "python3", script, "eth0", "60000", "20000", "6", "arp", "ns", "vrrp", "ttl",
        ],
        "l2flood",
        &[],
    );
    let (mut probes, mut missed) = (0, Vec::new());
    while l.lab.proc(f).child.try_wait().unwrap().is_none() {
        probes += 1;
        match l.reached(VIP4) {
            Some(h) if h == "h1" => {}
            other => missed.push(other),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent: u64 = l.lab.log("l2flood").trim().parse().unwrap_or(0);
    let (a1, a2) = (l.lab.status_json("h1"), l.lab.status_json("h2"));
    let rss1 = rss_kib(l.lab.procs_pid(h1));
    let p = |st: &serde_json::Value, k: &str| st["l2_packets"][k].as_u64().unwrap_or(0);
    let grew = |k: &str| p(&a1, k) - p(&b1, k);
    eprintln!(
        "flood: {sent} frames; h1 answered {} ARP, discarded {} NDP and {} VRRP; \
         RSS {rss0} -> {rss1} KiB; {probes} connections during it, missed {missed:?}",
        grew("arp_answered"),
        grew("malformed_ndp"),
        grew("malformed_vrrp")
    );
    assert_eq!(sent, 60_000, "the flood was cut short");
    assert!(missed.is_empty(), "connections not reaching h1: {missed:?}");
    for vip in [VIP4, VIP6] {
        let (x, y) = (l2_row(&b1, vip), l2_row(&a1, vip));
        assert_eq!(y["state"], "master", "{y}");
        assert_eq!(x["transitions"], y["transitions"], "h1 {vip}: {x} -> {y}");
        let (x, y) = (l2_row(&b2, vip), l2_row(&a2, vip));
        assert_eq!(x["transitions"], y["transitions"], "h2 {vip}: {x} -> {y}");
    }
    assert!(grew("arp_answered") > 0 && grew("malformed_ndp") > 0 && grew("malformed_vrrp") > 0);
    assert!(rss1 < rss0 + 1024, "RSS grew from {rss0} to {rss1} KiB");
    l.wait_alone(1, "after the flood");
}

/// Interop at keepalived's fastest adverts (10 ms) and with
/// `preempt_delay` in both directions: a returning higher router waits
/// its delay, counted from the lower master it hears, then takes over.
#[test]
fn keepalived_at_10ms_adverts_with_preempt_delay_both_ways() {
    if !can_run(&["keepalived", "arping", "ndisc6", "python3", "tcpdump"]) {
        return;
    }
    let fast = |p: u8| {
        leafvip_config(p, "").replace(
            "advert_interval = \"100ms\"",
            "advert_interval = \"10ms\"\npreempt_delay = \"1s\"",
        )
    };
    let kfast = |p: u8| {
        keepalived_config("k3", p).replace("advert_int 0.1", "advert_int 0.01\n  preempt_delay 1")
    };
    let mut l = L2Lab::new(&["h1", "k3"]);
    let h1ns = l.ns("h1");
    let h1 = l.lab.leafvip(&h1ns, "h1", &fast(150));
    let k3 = l.start_keepalived_with("k3", &kfast(100));
    l.wait_reached(VIP4, "h1");
    l.wait_reached(VIP6, "h1");
    l.wait_alone(1, "leafvip master, keepalived backup, 10 ms adverts");

    // leafvip killed: keepalived takes over.
    l.lab.proc(h1).signal(Signal::SIGKILL);
    l.wait_reached(VIP4, "k3");
    l.wait_reached(VIP6, "k3");
    l.wait_alone(3, "keepalived master at 10 ms");

    // leafvip back at 150: keepalived keeps the VIPs for leafvip's 1 s
    // preempt delay, then hands them over.
    let t = std::time::Instant::now();
    let _h1 = l.lab.leafvip(&h1ns, "h1-again", &fast(150));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(l.reached(VIP4).as_deref(), Some("k3"), "preempted early");
    l.wait_reached(VIP4, "h1");
    l.wait_reached(VIP6, "h1");
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    l.wait_alone(1, "leafvip preempted after its delay");

    // keepalived back at 200 with the same delay: leafvip keeps the VIPs
    // for it, then hands them over.
    l.lab.proc(k3).signal(Signal::SIGTERM);
    let _ = l.lab.proc(k3).child.wait();
    let t = std::time::Instant::now();
    let _k3 = l.start_keepalived_with("k3", &kfast(200));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        l.reached(VIP4).as_deref(),
        Some("h1"),
        "keepalived preempted early"
    );
    l.wait_reached(VIP4, "k3");
    l.wait_reached(VIP6, "k3");
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    l.wait_alone(3, "keepalived preempted after its delay");
}
