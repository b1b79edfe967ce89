//! BFD (feature `bfd`) against real routers in namespaces: BIRD 2 (its BFD
//! protocol guarding its BGP sessions, `bfd on`) and FRR's bfdd (on its
//! own, beside bgpd: without zebra bgpd cannot ask bfdd for sessions).
//! One rack: the leaf at 198.51.100.1 and 2001:db8:100::1, the host at .3
//! and ::3, one leafvip session per family, each guarded by BFD at
//! 100 ms × 3. Both roles: the router active and leafvip passive, then the
//! other way round. What is asserted is what the router holds (its BFD
//! session, its BGP session, the VIP in its FIB), and for the router's own
//! failures, what leafvip did.
//!
//! - Up and down: leafvip frozen (SIGSTOP) brings the router's BFD Down and
//!   the VIPs out of its FIB in far less than the 90 s hold time; resumed,
//!   it comes back, and stays, with no further flap.
//! - Timers: a change on either side goes through a Poll Sequence: the
//!   other side takes the new intervals, and neither BFD nor BGP flaps.
//! - Peer down: the router's BFD frozen makes leafvip tear BGP down; the
//!   router's BFD shut down on purpose (AdminDown) does not.
#![cfg(feature = "bfd")]
// Both families side by side: index i is the family in every table.
#![allow(clippy::needless_range_loop)]
mod support;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use support::bfdd::{peer_block, Bfdd};
use support::bird::{leaf_config, Bird};
use support::frr::Frr;
use support::{can_run, rack, sh_ok, wait_for, Lab};

const T: Duration = Duration::from_secs(30);
/// Far below the 90 s hold time: only BFD can act this fast.
const FAST: Duration = Duration::from_secs(3);
const LEAF: [&str; 2] = ["198.51.100.1", "2001:db8:100::1"];
const HOST: [&str; 2] = ["198.51.100.3", "2001:db8:100::3"];
const VIP: [&str; 2] = ["192.0.2.200/32", "2001:db8:200::200/128"];
const FAMILY: [&str; 2] = ["ipv4-unicast", "ipv6-unicast"];
const BFD_100: &str = r#"min_rx = "100ms", min_tx = "100ms", multiplier = 3"#;

fn leafvip_config(bfd: &str) -> String {
    let mut c = "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n".to_string();
    for i in 0..2 {
        c.push_str(&format!(
            "[[peer]]\naddress = \"{}\"\nasn = 65001\nconnect_retry = 1\nfamilies = [\"{}\"]\n\
             bfd = {{ {bfd} }}\n",
            LEAF[i], FAMILY[i]
        ));
    }
    for v in VIP {
        c.push_str(&format!("[[vip]]\nprefix = \"{v}\"\n"));
    }
    c
}

fn bird_config(timers: &str, passive: bool) -> String {
    let passive = if passive { "yes" } else { "no" };
    let mut c = leaf_config(
        "198.51.100.1",
        65001,
        &[
            ("h4", HOST[0], 65100, "bfd on;"),
            ("h6", HOST[1], 65100, "bfd on;"),
        ],
    );
    c.push_str(&format!(
        "protocol bfd {{ interface \"*\" {{ {timers} multiplier 3; passive {passive}; }}; }}\n"
    ));
    c
}

const BIRD_100: &str = "min rx interval 100 ms; min tx interval 100 ms;";

/// leafvip's status for the peer of family `i`.
fn peer_status(lab: &Lab, i: usize) -> serde_json::Value {
    let s = lab.status_json("leafvip");
    let addr = if i == 0 {
        format!("{}:179", LEAF[0])
    } else {
        format!("[{}]:179", LEAF[1])
    };
    s["peers"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["peer"] == addr.as_str()).cloned())
        .unwrap_or_default()
}

fn bgp_up(lab: &Lab, i: usize) -> bool {
    peer_status(lab, i)["state"] == "Established"
}

fn wait_fib(bird: &Bird, lab: &Lab) {
    for i in 0..2 {
        wait_for(
            T,
            &format!("{} via {} in BIRD's FIB", VIP[i], HOST[i]),
            || (bird.fib(VIP[i]) == [HOST[i]]).then_some(()),
            || {
                format!(
                    "{}\n{}",
                    bird.cmd("show bfd sessions").unwrap_or_default(),
                    lab.log("leafvip")
                )
            },
        );
    }
}

/// Freezes the router's BFD (SIGSTOP) and waits for leafvip to close
/// both BGP sessions on BFD Down, far sooner than any hold timer.
fn freeze_router(lab: &mut Lab, proc: usize, who: &str) {
    let t0 = Instant::now();
    lab.proc(proc).signal(Signal::SIGSTOP);
    for i in 0..2 {
        wait_for(
            FAST,
            "leafvip to close BGP on BFD Down",
            || {
                let p = peer_status(lab, i);
                (p["state"] != "Established" && p["bfd"]["state"] == "down").then_some(())
            },
            || peer_status(lab, i).to_string(),
        );
    }
    eprintln!(
        "{who} frozen: leafvip closed both sessions in {:?}",
        t0.elapsed()
    );
}

/// Waits for leafvip to take the router's new timers (receive 300 ms,
/// transmit 200 ms, × 3) on both sessions: TX 300 ms, detection 600 ms.
fn wait_router_timers(lab: &Lab, who: &str) {
    for i in 0..2 {
        wait_for(
            T,
            &format!("leafvip to take {who} new timers"),
            || {
                let b = &peer_status(lab, i)["bfd"];
                (b["tx_interval_us"] == 300_000 && b["detect_time_us"] == 600_000).then_some(())
            },
            || peer_status(lab, i).to_string(),
        );
    }
}

fn bird_bfd(bird: &Bird, i: usize) -> support::bird::BfdRow {
    bird.bfd_session(HOST[i]).expect("BIRD's BFD session")
}

#[test]
fn bird_active_leafvip_passive_freeze_resume_and_router_timers() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("bfdb1");
    let (leaf, host) = rack(&mut lab);
    let bird = Bird::start(&mut lab, &leaf, "bird", &bird_config(BIRD_100, false));
    let lv = lab.leafvip(
        &host,
        "leafvip",
        &leafvip_config(&format!("{BFD_100}, passive = true")),
    );
    wait_fib(&bird, &lab);
    for i in 0..2 {
        let b = bird_bfd(&bird, i);
        assert_eq!(
            (b.state.as_str(), b.interval.as_str(), b.timeout.as_str()),
            ("Up", "0.100", "0.300")
        );
    }

    // Frozen: BIRD's BFD goes Down and takes BGP and the VIPs with it.
    let t0 = Instant::now();
    lab.proc(lv).signal(Signal::SIGSTOP);
    wait_for(
        FAST,
        "BIRD to drop both VIPs",
        || (0..2).all(|i| bird.fib(VIP[i]).is_empty()).then_some(()),
        || bird.cmd("show bfd sessions").unwrap_or_default(),
    );
    let gone = t0.elapsed();
    for i in 0..2 {
        assert_ne!(bird_bfd(&bird, i).state, "Up");
    }
    eprintln!("leafvip frozen: VIPs out of BIRD's FIB in {gone:?}");

    // Resumed: back once, then steady.
    lab.proc(lv).signal(Signal::SIGCONT);
    wait_fib(&bird, &lab);
    let since: Vec<_> = ["h4", "h6"]
        .iter()
        .map(|p| bird.up_since(p).expect("up"))
        .collect();
    let bfd_since: Vec<_> = (0..2).map(|i| bird_bfd(&bird, i).since).collect();
    let ups: Vec<_> = (0..2)
        .map(|i| peer_status(&lab, i)["bfd"]["ups"].as_u64())
        .collect();

    // BIRD changes its timers: leafvip takes them through the Poll
    // Sequence, the session stays Up and BGP stays Established.
    let conf = bird_config("min rx interval 300 ms; min tx interval 200 ms;", false);
    std::fs::write(&bird.conf, conf).unwrap();
    bird.cmd("configure").expect("birdc configure");
    wait_router_timers(&lab, "BIRD's");
    std::thread::sleep(Duration::from_secs(3));
    for (i, p) in ["h4", "h6"].iter().enumerate() {
        assert_eq!(
            bird.up_since(p).as_ref(),
            Some(&since[i]),
            "BGP {p} flapped"
        );
        assert_eq!(bird_bfd(&bird, i).since, bfd_since[i], "BFD {p} flapped");
        assert_eq!(peer_status(&lab, i)["bfd"]["ups"].as_u64(), ups[i]);
        assert!(bgp_up(&lab, i));
    }
}

#[test]
fn bird_passive_leafvip_active_our_timers_and_a_frozen_router() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("bfdb2");
    let (leaf, host) = rack(&mut lab);
    let bird = Bird::start(&mut lab, &leaf, "bird", &bird_config(BIRD_100, true));
    lab.leafvip(&host, "leafvip", &leafvip_config(BFD_100));
    wait_fib(&bird, &lab);
    let since: Vec<_> = ["h4", "h6"]
        .iter()
        .map(|p| bird.up_since(p).expect("up"))
        .collect();
    let bfd_since: Vec<_> = (0..2).map(|i| bird_bfd(&bird, i).since).collect();

    // leafvip's timers change on SIGHUP: BIRD sends every 250 ms and
    // gives leafvip 4 × 150 ms, with no flap of BFD or BGP.
    let cfg = leafvip_config(r#"min_rx = "250ms", min_tx = "150ms", multiplier = 4"#);
    lab.write("leafvip.toml", &cfg);
    let pid = lab.proc(lab.last_index("leafvip")).pid();
    sh_ok(&format!("kill -HUP {pid}")).expect("SIGHUP");
    for i in 0..2 {
        wait_for(
            T,
            "BIRD to take leafvip's new timers",
            || {
                let b = bird_bfd(&bird, i);
                (b.interval == "0.250" && b.timeout == "0.600").then_some(())
            },
            || format!("{:?}", bird.bfd_session(HOST[i])),
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    for (i, p) in ["h4", "h6"].iter().enumerate() {
        assert_eq!(
            bird.up_since(p).as_ref(),
            Some(&since[i]),
            "BGP {p} flapped"
        );
        assert_eq!(bird_bfd(&bird, i).since, bfd_since[i], "BFD {p} flapped");
    }

    // BIRD frozen: leafvip's BFD goes Down and it closes both sessions,
    // long before any hold timer.
    freeze_router(&mut lab, bird.proc, "BIRD");
    let p = peer_status(&lab, 0);
    assert_eq!(p["last_error"], "BFD session down", "{p}");
    assert_eq!(p["bfd"]["diag"], "control detection time expired");
    assert_eq!(p["bfd"]["holding_bgp"], true);
    lab.proc(bird.proc).signal(Signal::SIGCONT);
    wait_fib(&bird, &lab);
}

fn bfdd_peers(lines: &str) -> Vec<String> {
    (0..2)
        .map(|i| peer_block(HOST[i], LEAF[i], lines))
        .collect()
}

const BFDD_100: &str = "  receive-interval 100\n  transmit-interval 100\n  detect-multiplier 3\n";

fn frr_bgp() -> String {
    let mut c = support::frr::config("198.51.100.1", 65001, &[(HOST[0], 65100), (HOST[1], 65100)]);
    c.push_str(&format!(
        " address-family ipv6 unicast\n  neighbor {} activate\n exit-address-family\n",
        HOST[1]
    ));
    c
}

fn frr_rack(lab: &mut Lab, bfdd_lines: &str) -> (Bfdd, Frr, String) {
    let (leaf, host) = rack(lab);
    let bfdd = Bfdd::start(lab, &leaf, "bfdd", &bfdd_peers(bfdd_lines));
    let frr = Frr::start(
        lab,
        &leaf,
        "bgpd",
        "198.51.100.1,2001:db8:100::1",
        &frr_bgp(),
    );
    (bfdd, frr, host)
}

fn wait_bfdd_up(bfdd: &Bfdd, lab: &Lab) {
    for i in 0..2 {
        wait_for(
            T,
            &format!("bfdd's session with {} up", HOST[i]),
            || (bfdd.status(HOST[i]) == "up").then_some(()),
            || format!("{}\n{}", bfdd.peer(HOST[i]), lab.log("leafvip")),
        );
    }
}

fn wait_bgp(frr: &Frr, lab: &Lab) {
    for i in 0..2 {
        wait_for(
            T,
            "BGP established both ways",
            || (frr.established(HOST[i]) && bgp_up(lab, i)).then_some(()),
            || peer_status(lab, i).to_string(),
        );
    }
}

#[test]
fn frr_bfdd_active_leafvip_passive_freeze_resume_and_router_timers() {
    if !can_run(&["vtysh", "/usr/lib/frr/bfdd", "/usr/lib/frr/bgpd"]) {
        return;
    }
    let mut lab = Lab::new("bfdf1");
    let (bfdd, frr, host) = frr_rack(&mut lab, BFDD_100);
    let lv = lab.leafvip(
        &host,
        "leafvip",
        &leafvip_config(&format!("{BFD_100}, passive = true")),
    );
    wait_bfdd_up(&bfdd, &lab);
    wait_bgp(&frr, &lab);

    let t0 = Instant::now();
    lab.proc(lv).signal(Signal::SIGSTOP);
    for i in 0..2 {
        wait_for(
            FAST,
            "bfdd to see leafvip down",
            || (bfdd.status(HOST[i]) == "down").then_some(()),
            || bfdd.peer(HOST[i]).to_string(),
        );
    }
    eprintln!("leafvip frozen: bfdd down in {:?}", t0.elapsed());
    assert_eq!(
        bfdd.peer(HOST[0])["diagnostic"],
        "control detection time expired"
    );
    lab.proc(lv).signal(Signal::SIGCONT);
    wait_bfdd_up(&bfdd, &lab);
    wait_bgp(&frr, &lab);
    let ups: Vec<u64> = (0..2).map(|i| bfdd.up_events(HOST[i])).collect();
    let uptime: Vec<u64> = (0..2)
        .map(|i| peer_status(&lab, i)["uptime_secs"].as_u64().unwrap())
        .collect();

    // bfdd's new timers reach leafvip through its Poll Sequence.
    for i in 0..2 {
        bfdd.configure(
            HOST[i],
            LEAF[i],
            &["receive-interval 300", "transmit-interval 200"],
        );
    }
    wait_router_timers(&lab, "bfdd's");
    std::thread::sleep(Duration::from_secs(3));
    for i in 0..2 {
        assert_eq!(bfdd.up_events(HOST[i]), ups[i], "BFD flapped");
        assert_eq!(bfdd.status(HOST[i]), "up");
        let p = peer_status(&lab, i);
        assert!(
            p["uptime_secs"].as_u64().unwrap() >= uptime[i] + 3,
            "BGP flapped: {p}"
        );
    }
}

#[test]
fn frr_bfdd_passive_leafvip_active_our_timers_and_a_frozen_router() {
    if !can_run(&["vtysh", "/usr/lib/frr/bfdd", "/usr/lib/frr/bgpd"]) {
        return;
    }
    let mut lab = Lab::new("bfdf2");
    let (bfdd, frr, host) = frr_rack(&mut lab, &format!("{BFDD_100}  passive-mode\n"));
    lab.leafvip(&host, "leafvip", &leafvip_config(BFD_100));
    wait_bfdd_up(&bfdd, &lab);
    wait_bgp(&frr, &lab);
    let ups: Vec<u64> = (0..2).map(|i| bfdd.up_events(HOST[i])).collect();

    let cfg = leafvip_config(r#"min_rx = "250ms", min_tx = "150ms", multiplier = 4"#);
    lab.write("leafvip.toml", &cfg);
    let pid = lab.proc(lab.last_index("leafvip")).pid();
    sh_ok(&format!("kill -HUP {pid}")).expect("SIGHUP");
    for i in 0..2 {
        wait_for(
            T,
            "bfdd to take leafvip's new timers",
            || {
                let p = bfdd.peer(HOST[i]);
                (p["remote-receive-interval"] == 250
                    && p["remote-transmit-interval"] == 150
                    && p["remote-detect-multiplier"] == 4)
                    .then_some(())
            },
            || bfdd.peer(HOST[i]).to_string(),
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    for i in 0..2 {
        assert_eq!(bfdd.up_events(HOST[i]), ups[i], "BFD flapped");
        assert!(frr.established(HOST[i]) && bgp_up(&lab, i));
    }

    // bfdd shut down on purpose: one AdminDown, then silence. Neither is a
    // failure (RFC 5882 3.2): BGP stays up past the detection time, and
    // stays up while BFD comes back.
    let uptime = peer_status(&lab, 0)["uptime_secs"].as_u64().unwrap();
    bfdd.configure(HOST[0], LEAF[0], &["shutdown"]);
    wait_for(
        T,
        "leafvip to hear AdminDown",
        || (peer_status(&lab, 0)["bfd"]["remote_state"] == "admin-down").then_some(()),
        || peer_status(&lab, 0).to_string(),
    );
    std::thread::sleep(Duration::from_secs(2));
    let p = peer_status(&lab, 0);
    assert_eq!(p["state"], "Established", "{p}\n{}", lab.log("leafvip"));
    assert_eq!(p["bfd"]["state"], "down", "{p}");
    assert_eq!(p["bfd"]["holding_bgp"], false, "{p}");
    bfdd.configure(HOST[0], LEAF[0], &["no shutdown"]);
    wait_for(
        T,
        "BFD back up after bfdd's no shutdown",
        || (peer_status(&lab, 0)["bfd"]["state"] == "up").then_some(()),
        || peer_status(&lab, 0).to_string(),
    );
    let p = peer_status(&lab, 0);
    assert_eq!(p["state"], "Established", "{p}");
    assert!(
        p["uptime_secs"].as_u64().unwrap() >= uptime + 2,
        "BGP flapped: {p}"
    );

    // bfdd frozen: leafvip closes BGP, whose hold timer is 90 s.
    freeze_router(&mut lab, bfdd.proc, "bfdd");
    // bgpd heard why (RFC 9384 Cease 10).
    let n = frr
        .cmd(&format!("show bgp neighbor {} json", HOST[0]))
        .unwrap_or_default();
    assert!(n.contains("BFD Down") || n.contains("Cease/BFD"), "{n}");
    lab.proc(bfdd.proc).signal(Signal::SIGCONT);
    wait_bfdd_up(&bfdd, &lab);
    wait_bgp(&frr, &lab);
}

/// `leafvip restart` with BFD. The old process's AdminDown is no failure
/// by RFC 5882 3.2, yet BIRD 2.0.12 takes BGP down on it and drops the
/// routes, so Graceful Restart alone would lose traffic. A restart with
/// BFD therefore drains first (`drain_time`): BIRD's GRACEFUL_SHUTDOWN
/// policy (LOCAL_PREF 0) moves the VIP to h2 while h1's session is still
/// up, then h1 exits (75) and its successor takes the VIP back. At no
/// point is the VIP without a next hop in BIRD's FIB.
#[test]
fn a_restart_with_bfd_drains_first_and_bird_always_has_a_next_hop() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    const H: [&str; 2] = ["198.51.100.3", "198.51.100.4"];
    let mut lab = Lab::new("bfdrst");
    let leaf = lab.ns("leaf");
    sh_ok(&format!(
        "ip -n {leaf} link add br0 type bridge && ip -n {leaf} link set br0 up && \
         ip -n {leaf} addr add 198.51.100.1/24 dev br0"
    ))
    .expect("bridge");
    let hosts = H.map(|a| {
        let n = if a == H[0] { "h1" } else { "h2" };
        let ns = lab.ns(n);
        lab.link(&leaf, n, &[], &ns, "eth0", &[&format!("{a}/24")]);
        sh_ok(&format!("ip -n {leaf} link set {n} master br0")).expect("port");
        ns
    });
    let mut conf = format!(
        "router id 198.51.100.1;\nprotocol device {{}}\n\
         protocol kernel k4 {{ ipv4 {{ export all; }}; merge paths on; }}\n\
         filter gshut {{ if (65535, 0) ~ bgp_community then bgp_local_pref = 0; accept; }}\n\
         protocol bfd {{ interface \"*\" {{ {BIRD_100} multiplier 3; }}; }}\n"
    );
    for (n, a) in [("h1", H[0]), ("h2", H[1])] {
        conf.push_str(&format!(
            "protocol bgp {n} {{ local as 65001; neighbor {a} as 65100; connect retry time 1; \
             error wait time 1, 2; bfd on; ipv4 {{ import filter gshut; export none; }}; }}\n"
        ));
    }
    let bird = Bird::start(&mut lab, &leaf, "bird", &conf);
    let cfg = |a: &str| {
        format!(
            "[bgp]\nasn = 65100\nrouter_id = \"{a}\"\ndrain_time = 2\n[[peer]]\naddress = \"198.51.100.1\"\n\
             asn = 65001\nconnect_retry = 1\nfamilies = [\"ipv4-unicast\"]\nbfd = {{ {BFD_100} }}\n\
             [[vip]]\nprefix = \"{}\"\n",
            VIP[0]
        )
    };
    let h1 = lab.leafvip_at(&hosts[0], "h1", "h1", &cfg(H[0]));
    lab.leafvip_at(&hosts[1], "h2", "h2", &cfg(H[1]));
    let both = || {
        wait_for(
            T,
            "the VIP via h1 and h2",
            || (bird.fib(VIP[0]) == H).then_some(()),
            || bird.cmd("show route all").unwrap_or_default(),
        )
    };
    both();

    let told = lab.ctl("h1", "restart");
    assert!(told.contains("restart"), "{told}");
    let t0 = Instant::now();
    let mut h1_left_at = None;
    let exited_at = loop {
        let fib = bird.fib(VIP[0]);
        assert!(fib.contains(&H[1].to_string()), "the VIP lost h2: {fib:?}");
        if h1_left_at.is_none() && !fib.contains(&H[0].to_string()) {
            h1_left_at = Some(t0.elapsed());
            assert!(
                bird.established("h1"),
                "h1 left the FIB by draining, its session up"
            );
        }
        if let Ok(Some(s)) = lab.proc(h1).child.try_wait() {
            assert_eq!(s.code(), Some(75));
            break t0.elapsed();
        }
        assert!(t0.elapsed() < T, "h1 did not exit for the restart");
        std::thread::sleep(Duration::from_millis(20));
    };
    let left = h1_left_at.expect("h1 drained before it exited");
    assert!(
        left < exited_at,
        "drained at {left:?}, exited at {exited_at:?}"
    );
    eprintln!("restart with BFD: h1 drained in {left:?}, exited at {exited_at:?}");
    let gap = Instant::now();
    while gap.elapsed() < Duration::from_secs(1) {
        assert_eq!(
            bird.fib(VIP[0]),
            [H[1]],
            "h2 carries the VIP through the gap"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    lab.leafvip_at(&hosts[0], "h1-again", "h1", &cfg(H[0]));
    both();
}
