//! Faults against real peers: a router restart, a frozen router, a peer
//! that sends malformed UPDATEs, and TCP MD5. Assertions are on what the
//! router (or scripted peer) sees.
mod support;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use support::bird::{leaf1, leaf_config, Bird};
use support::{can_run, rack, sh_ok, wait_for, Lab};

const T: Duration = Duration::from_secs(30);

fn config(peer_extra: &str) -> String {
    format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\n[[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\n{peer_extra}\n\n\
         [[vip]]\nprefix = \"192.0.2.200/32\"\n[[vip]]\nprefix = \"2001:db8:1::200/128\"\n"
    )
}

fn routes_present(bird: &Bird) -> bool {
    bird.next_hops("192.0.2.200/32") == ["198.51.100.3"]
        && bird.next_hops("2001:db8:1::200/128") == ["2001:db8:100::3"]
}

#[test]
fn router_restart_brings_every_route_back() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("restart");
    let (leaf, host) = rack(&mut lab);
    let conf = leaf_config("198.51.100.1", 65001, &[("h1", "198.51.100.3", 65100, "")]);
    let bird = Bird::start(&mut lab, &leaf, "bird", &conf);
    lab.leafvip(&host, "leafvip", &config(""));
    wait_for(
        T,
        "routes at BIRD",
        || routes_present(&bird).then_some(()),
        || bird.route("192.0.2.200/32"),
    );
    // The router goes away for a few seconds, then comes back empty.
    lab.proc(bird.proc).stop();
    std::thread::sleep(Duration::from_secs(3));
    let bird = Bird::start(&mut lab, &leaf, "bird2", &conf);
    let back = Instant::now();
    wait_for(
        T,
        "routes back after the restart",
        || routes_present(&bird).then_some(()),
        || lab.log("leafvip"),
    );
    assert!(
        bird.fib("192.0.2.200/32") == ["198.51.100.3"] || {
            std::thread::sleep(Duration::from_secs(1));
            bird.fib("192.0.2.200/32") == ["198.51.100.3"]
        }
    );
    let log = lab.log("leafvip");
    assert!(
        log.contains("attempt failed"),
        "reconnect attempts while the router was gone"
    );
    eprintln!("routes back {:?} after the router returned", back.elapsed());
}

#[test]
fn frozen_router_expires_the_hold_timer_and_recovers() {
    if !can_run(&["bird", "birdc", "ss"]) {
        return;
    }
    let mut lab = Lab::new("freeze");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "");
    lab.leafvip(&host, "leafvip", &config("hold_time = 3"));
    wait_for(
        T,
        "routes at BIRD",
        || routes_present(&bird).then_some(()),
        || bird.route("192.0.2.200/32"),
    );
    let established = || {
        sh_ok(&format!(
            "ip netns exec {host} ss -Htn state established dst 198.51.100.1"
        ))
        .unwrap_or_default()
    };
    assert!(!established().trim().is_empty());
    lab.proc(bird.proc).signal(Signal::SIGSTOP);
    let frozen = Instant::now();
    // Within the 3 s hold time (plus scheduling slack) leafvip gives up.
    wait_for(
        Duration::from_secs(5),
        "leafvip to close the session",
        || established().trim().is_empty().then_some(()),
        established,
    );
    let detected = frozen.elapsed();
    assert!(
        detected <= Duration::from_millis(4500),
        "hold timer enforced in {detected:?}"
    );
    lab.proc(bird.proc).signal(Signal::SIGCONT);
    wait_for(
        T,
        "BIRD to read the Hold Timer Expired NOTIFICATION",
        || {
            bird.cmd("show protocols all h1")
                .filter(|o| o.contains("Hold timer expired"))
                .map(|_| ())
        },
        || bird.cmd("show protocols all h1").unwrap_or_default(),
    );
    wait_for(
        T,
        "routes back after SIGCONT",
        || (bird.established("h1") && routes_present(&bird)).then_some(()),
        || lab.log("leafvip"),
    );
}

#[test]
fn malformed_updates_get_rfc7606_handling() {
    if !can_run(&["python3"]) {
        return;
    }
    let mut lab = Lab::new("malformed");
    let (leaf, host) = rack(&mut lab);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/fakepeer.py");
    let peer = lab.spawn(&leaf, &["python3", script, "198.51.100.1"], "fakepeer", &[]);
    std::thread::sleep(Duration::from_millis(500));
    lab.leafvip(&host, "leafvip", &config("families = [\"ipv4-unicast\"]"));
    let status = lab
        .proc(peer)
        .wait_exit(T)
        .expect("the scripted peer finishes");
    let out = lab.log("fakepeer");
    assert!(status.success(), "{out}");
    assert!(out.contains("established"), "{out}");
    assert!(
        out.contains("after-7606 quiet"),
        "treat-as-withdraw and attribute discard keep the session: {out}"
    );
    assert!(
        out.contains("after-broken notification 3 1"),
        "a broken attribute list gets UPDATE/Malformed Attribute List: {out}"
    );
    let log = lab.log("leafvip");
    assert!(
        log.contains("TreatAsWithdraw") && log.contains("AttributeDiscard"),
        "{log}"
    );
    // Counted, beside the (rate-limited) log lines.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_leafvip"))
        .args([
            "status",
            "--json",
            "-s",
            lab.path("leafvip.sock").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        j["peers"][0]["updates_malformed"].as_u64().unwrap() >= 3,
        "{j}"
    );
}

#[test]
fn md5_right_key_establishes_and_wrong_key_never_does() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("md5");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "password \"lv-secret\";");
    let key = lab.write("key", "not-the-secret\n");
    let cfg = config(&format!(
        "password_file = \"{}\"\nconnect_retry = 1",
        key.display()
    ));
    let lv = lab.leafvip(&host, "wrong", &cfg);
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        !bird.established("h1"),
        "a wrong MD5 key must never establish"
    );
    assert!(bird.next_hops("192.0.2.200/32").is_empty());
    lab.proc(lv).stop();
    lab.write("key", "lv-secret\n");
    lab.leafvip(&host, "right", &cfg);
    wait_for(
        T,
        "Established with the right key",
        || (bird.established("h1") && routes_present(&bird)).then_some(()),
        || lab.log("right"),
    );
}

/// A rotated key takes effect on reload: BIRD gets a new password, the key
/// file gets the same, one SIGHUP, and the session comes back with it, on
/// the outgoing connection and through the re-keyed listener alike.
#[test]
fn md5_key_rotation_works_on_reload() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("md5rot");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "password \"first-key\";");
    let key = lab.write("key", "first-key\n");
    let cfg = config(&format!(
        "password_file = \"{}\"\nconnect_retry = 1",
        key.display()
    ))
    .replace("[bgp]\n", "[bgp]\nlisten = \"198.51.100.3:179\"\n");
    let lv = lab.leafvip(&host, "leafvip", &cfg);
    wait_for(
        T,
        "Established with the first key",
        || (bird.established("h1") && routes_present(&bird)).then_some(()),
        || lab.log("leafvip"),
    );
    // The router moves to the new key; the old one can no longer work.
    let conf = std::fs::read_to_string(&bird.conf).unwrap();
    std::fs::write(&bird.conf, conf.replace("first-key", "second-key")).unwrap();
    bird.cmd("configure").unwrap();
    lab.write("key", "second-key\n");
    lab.proc(lv).signal(Signal::SIGHUP);
    wait_for(
        T,
        "Established again with the second key",
        || {
            (bird.established("h1")
                && routes_present(&bird)
                && lab.log("leafvip").contains("peer settings changed"))
            .then_some(())
        },
        || {
            format!(
                "{}\n{}",
                bird.cmd("show protocols all h1").unwrap_or_default(),
                lab.log("leafvip")
            )
        },
    );
}

fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat
        .rsplit_once(") ")
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Out of descriptors, accept fails for as long as connections wait in
/// the backlog: the listener pauses with backoff instead of spinning, the
/// failures are counted and logged once, and the session that is already
/// up stays up. With descriptors back, the waiting connections are taken.
#[test]
fn accept_errors_back_off_instead_of_spinning() {
    if !can_run(&["bird", "birdc", "prlimit", "python3"]) {
        return;
    }
    let mut lab = Lab::new("emfile");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "");
    let cfg =
        config("connect_retry = 1").replace("[bgp]\n", "[bgp]\nlisten = \"198.51.100.3:179\"\n");
    let lv = lab.leafvip(&host, "leafvip", &cfg);
    wait_for(
        T,
        "the session",
        || (bird.established("h1") && routes_present(&bird)).then_some(()),
        || lab.log("leafvip"),
    );
    let pid = lab.proc(lv).pid();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    // Below what is open, so that no accept can succeed; the soft limit
    // only, since a hard one could not be raised again.
    let limit = format!("--nofile={}:", open - 1);
    support::sh(&format!("prlimit --pid {pid} {limit}"));
    // Connections from an address that is no peer, held open meanwhile.
    support::sh(&format!("ip -n {leaf} addr add 198.51.100.7/24 dev eth0"));
    let flood = lab.spawn(
        &leaf,
        &[
            "python3",
            "-c",
            "import socket,time\ncs=[socket.create_connection(('198.51.100.3',179),timeout=5,source_address=('198.51.100.7',0)) for _ in range(20)]\nprint('open',flush=True)\ntime.sleep(8)",
        ],
        "flood",
        &[],
    );
    wait_for(
        T,
        "the flood",
        || lab.log("flood").contains("open").then_some(()),
        || lab.log("flood"),
    );
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(pid) - t0;
    let hz = 100; // USER_HZ on Linux
    assert!(
        used * 1000 / hz < 1000,
        "{used} ticks in 3 s: the accept loop spins"
    );
    let log = lab.log("leafvip");
    let lines = log.lines().filter(|l| l.contains("accept:")).count();
    assert!(
        (1..=2).contains(&lines),
        "{lines} accept lines in 3 s:\n{log}"
    );
    assert!(
        bird.established("h1"),
        "the session dropped: {}\n{}",
        bird.cmd("show protocols all h1").unwrap_or_default(),
        lab.log("leafvip")
    );
    // Descriptors back: the waiting connections are taken (and refused as
    // no peer), and both kinds are counted.
    support::sh(&format!("prlimit --pid {pid} --nofile=1024:"));
    let sock = lab.path("leafvip.sock");
    let counts = wait_for(
        T,
        "the waiting connections refused",
        || {
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_leafvip"))
                .args(["status", "--json", "-s", sock.to_str().unwrap()])
                .output()
                .ok()?;
            let j: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
            let refused = j["refused_connections"].as_u64()?;
            (refused >= 20).then(|| (refused, j["accept_errors"].as_u64().unwrap_or(0)))
        },
        || lab.log("leafvip"),
    );
    assert!(counts.1 >= 1, "accept errors not counted: {counts:?}");
    let log = lab.log("leafvip");
    let refused_lines = log
        .lines()
        .filter(|l| l.contains("refused connection"))
        .count();
    assert_eq!(refused_lines, 1, "20 refusals, one line:\n{log}");
    // Bare connections from the peer's own address (BIRD announces
    // Graceful Restart): they wait beside the session, which stays up
    // until one of them brings an OPEN.
    let from_peer = lab.spawn(
        &leaf,
        &[
            "python3",
            "-c",
            "import socket,time\ncs=[socket.create_connection(('198.51.100.3',179),timeout=5,source_address=('198.51.100.1',0)) for _ in range(5)]\nprint('open',flush=True)\ntime.sleep(5)",
        ],
        "from-peer",
        &[],
    );
    wait_for(
        T,
        "the bare connections",
        || lab.log("from-peer").contains("open").then_some(()),
        || lab.log("from-peer"),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        bird.established("h1"),
        "a bare connection dropped the session: {}",
        lab.log("leafvip")
    );
    assert!(lab
        .log("leafvip")
        .contains("running both until an OPEN decides"));
    lab.proc(from_peer).stop();
    lab.proc(flood).stop();
}
