//! Planned stops and restarts against real routers, in namespaces: a leaf
//! (BIRD 2, or FRR's bgpd) with two hosts on its LAN announcing the same
//! VIP, so that the leaf spreads it over both by ECMP.
//!
//! - Drain (RFC 8326): `leafvip drain` re-announces with GRACEFUL_SHUTDOWN;
//!   the leaf's policy (a BIRD import filter, an FRR route-map, as the
//!   README shows) lowers LOCAL_PREF, and the drained host leaves the ECMP
//!   set while its session stays up. `undrain` brings it back; SIGTERM
//!   drains for `drain_time`, then closes with a Cease.
//! - Restart (RFC 4724): `leafvip restart` exits without a NOTIFICATION;
//!   the leaf keeps the host in its FIB through the gap, and the next
//!   process (Restart State bit set) takes the routes over. A naive stop
//!   (`drain_time = 0`) withdraws at once, for contrast.
mod support;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use support::bird::Bird;
use support::frr::Frr;
use support::{can_run, sh, wait_for, Lab};

const T: Duration = Duration::from_secs(30);
const VIP: &str = "192.0.2.200/32";
const H1: &str = "198.51.100.3";
const H2: &str = "198.51.100.4";
const BOTH: [&str; 2] = [H1, H2];

/// The leaf's policy for RFC 8326: a route with GRACEFUL_SHUTDOWN gets
/// LOCAL_PREF 0, so it loses to any other path.
const BIRD_GSHUT: &str =
    "filter gshut { if (65535, 0) ~ bgp_community then bgp_local_pref = 0; accept; }\n";

fn bird_config(ibgp_h2: bool) -> String {
    let mut c = format!(
        "router id 198.51.100.1;\nprotocol device {{}}\n\
         protocol kernel k4 {{ ipv4 {{ export all; }}; merge paths on; }}\n{BIRD_GSHUT}"
    );
    for (name, addr) in [("h1", H1), ("h2", H2)] {
        let asn = if ibgp_h2 && name == "h2" {
            65100
        } else {
            65001
        };
        c.push_str(&format!(
            "protocol bgp {name} {{ local as {asn}; neighbor {addr} as 65100; connect retry time 1; \
             error wait time 1, 2; ipv4 {{ import filter gshut; export none; }}; }}\n"
        ));
    }
    c
}

fn leafvip_config(addr: &str, leaf_as: u32, extra: &str) -> String {
    format!(
        "[bgp]\nasn = 65100\nrouter_id = \"{addr}\"\n{extra}\n[[peer]]\naddress = \"198.51.100.1\"\nasn = {leaf_as}\n\
         connect_retry = 1\n[[vip]]\nprefix = \"{VIP}\"\n"
    )
}

/// The leaf's LAN with two hosts.
fn lan(lab: &mut Lab) -> (String, [String; 2]) {
    let leaf = lab.ns("leaf");
    sh(&format!(
        "ip -n {leaf} link add br0 type bridge && ip -n {leaf} link set br0 up && \
         ip -n {leaf} addr add 198.51.100.1/24 dev br0 && \
         ip netns exec {leaf} sysctl -qw net.ipv4.fib_multipath_hash_policy=1"
    ));
    let hosts = [H1, H2].map(|a| {
        let n = if a == H1 { "h1" } else { "h2" };
        let ns = lab.ns(n);
        lab.link(&leaf, n, &[], &ns, "eth0", &[&format!("{a}/24")]);
        sh(&format!("ip -n {leaf} link set {n} master br0"));
        ns
    });
    (leaf, hosts)
}

fn wait_fib(bird: &Bird, want: &[&str]) -> Duration {
    let t = Instant::now();
    wait_for(
        T,
        &format!("{VIP} via {want:?} in the leaf's FIB"),
        || (bird.fib(VIP) == want).then_some(()),
        || bird.route(VIP),
    );
    t.elapsed()
}

/// Drain and undrain move the host out of the leaf's ECMP set and back,
/// its session up throughout; SIGTERM drains for drain_time, then stops
/// with a Cease.
#[test]
fn bird_drain_moves_traffic_and_a_stop_drains_first() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("drbird");
    let (leaf, [h1, h2]) = lan(&mut lab);
    let bird = Bird::start(&mut lab, &leaf, "bird", &bird_config(false));
    let d1 = lab.leafvip_at(
        &h1,
        "h1",
        "h1",
        &leafvip_config(H1, 65001, "drain_time = 3"),
    );
    lab.leafvip_at(&h2, "h2", "h2", &leafvip_config(H2, 65001, ""));
    wait_fib(&bird, &BOTH);
    let up = bird.up_since("h1");

    let told = lab.ctl("h1", "drain");
    assert!(told.contains("draining"), "{told}");
    let t = wait_fib(&bird, &[H2]);
    eprintln!("drain to the host out of the leaf's FIB: {t:?}");
    let route = bird.route(VIP);
    assert!(
        route.contains("(65535,0)"),
        "GRACEFUL_SHUTDOWN on h1's path: {route}"
    );
    let st = lab.status_json("h1");
    assert!(
        st["draining"]
            .as_str()
            .unwrap_or("")
            .contains("maintenance"),
        "{st}"
    );
    lab.ctl("h1", "undrain");
    wait_fib(&bird, &BOTH);
    assert!(lab.status_json("h1")["draining"].is_null());
    assert_eq!(bird.up_since("h1"), up, "no session reset by drain/undrain");

    // A stop drains first: h1 leaves the FIB while its session is still
    // up, and only after drain_time does the Cease come.
    let stop = Instant::now();
    lab.proc(d1).signal(Signal::SIGTERM);
    wait_fib(&bird, &[H2]);
    assert!(bird.established("h1"), "still up while draining");
    let left = stop.elapsed();
    wait_for(
        T,
        "the Cease after the drain",
        || (!bird.established("h1")).then_some(()),
        || lab.log("h1"),
    );
    let closed = stop.elapsed();
    eprintln!("SIGTERM: out of the FIB after {left:?}, session closed after {closed:?}");
    assert!(
        closed >= Duration::from_secs(3) && closed < Duration::from_secs(6),
        "closed after drain_time (3 s): {closed:?}"
    );
    let proto = bird.cmd("show protocols all h1").unwrap_or_default();
    assert!(proto.contains("Administrative shutdown"), "{proto}");
    assert_eq!(
        lab.proc(d1)
            .wait_exit(Duration::from_secs(5))
            .and_then(|s| s.code()),
        Some(0)
    );
}

/// To an internal peer the drain also sets LOCAL_PREF 0 (RFC 8326 3).
#[test]
fn ibgp_drain_sends_local_pref_0() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("dribgp");
    let (leaf, [_h1, h2]) = lan(&mut lab);
    let bird = Bird::start(&mut lab, &leaf, "bird", &bird_config(true));
    lab.leafvip_at(&h2, "h2", "h2", &leafvip_config(H2, 65100, ""));
    // Without an IGP BIRD cannot resolve an iBGP next hop for its FIB:
    // the attributes are what this test reads.
    wait_for(
        T,
        "the iBGP route at BIRD",
        || {
            bird.route(VIP)
                .contains("BGP.local_pref: 100")
                .then_some(())
        },
        || bird.route(VIP),
    );
    lab.ctl("h2", "drain");
    wait_for(
        T,
        "LOCAL_PREF 0 and GRACEFUL_SHUTDOWN from the iBGP host",
        || {
            let r = bird.route(VIP);
            (r.contains("BGP.local_pref: 0") && r.contains("(65535,0)")).then_some(())
        },
        || bird.route(VIP),
    );
}

/// `leafvip restart`: exit 75 with no NOTIFICATION; BIRD keeps h1 in its
/// FIB through a 2 s gap; the next process sets the Restart State bit and
/// takes the routes over. Then the naive stop, for contrast: with
/// drain_time = 0 a SIGTERM takes h1 out of the FIB at once.
#[test]
fn bird_keeps_the_routes_through_a_restart() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("drrst");
    let (leaf, [h1, h2]) = lan(&mut lab);
    let bird = Bird::start(&mut lab, &leaf, "bird", &bird_config(false));
    let cfg = leafvip_config(H1, 65001, "drain_time = 0");
    let d1 = lab.leafvip_at(&h1, "h1", "h1", &cfg);
    lab.leafvip_at(&h2, "h2", "h2", &leafvip_config(H2, 65001, ""));
    wait_fib(&bird, &BOTH);

    let told = lab.ctl("h1", "restart");
    assert!(told.contains("restart"), "{told}");
    assert_eq!(
        lab.proc(d1)
            .wait_exit(Duration::from_secs(5))
            .and_then(|s| s.code()),
        Some(75),
        "exit status 75: the unit restarts it"
    );
    assert!(
        lab.path("h1.restarting").exists(),
        "the marker for the next process"
    );
    wait_for(
        T,
        "BIRD to see the session drop",
        || (!bird.established("h1")).then_some(()),
        || bird.cmd("show protocols all h1").unwrap_or_default(),
    );
    let gap = Instant::now();
    while gap.elapsed() < Duration::from_secs(2) {
        assert_eq!(
            bird.fib(VIP),
            BOTH,
            "h1 left the FIB {:?} into the restart",
            gap.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let d1 = lab.leafvip_at(&h1, "h1-again", "h1", &cfg);
    wait_for(
        T,
        "the session back",
        || bird.established("h1").then_some(()),
        || lab.log("h1-again"),
    );
    assert!(
        lab.log("h1-again").contains("Restart State bit is set"),
        "{}",
        lab.log("h1-again")
    );
    assert!(
        !lab.path("h1.restarting").exists(),
        "the marker is used once"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(bird.fib(VIP), BOTH, "after End-of-RIB: still both");

    // The naive stop: withdrawn at once.
    let t = Instant::now();
    lab.proc(d1).signal(Signal::SIGTERM);
    let out = wait_fib(&bird, &[H2]);
    assert!(out < Duration::from_secs(2), "{:?}", t.elapsed());
}

/// FRR's bgpd as the leaf: a route-map lowers LOCAL_PREF on
/// GRACEFUL_SHUTDOWN, so the drained host leaves bgpd's multipath set;
/// a restart keeps h1's path (stale) until the next process is back.
#[test]
fn frr_honours_drain_and_keeps_the_routes_through_a_restart() {
    if !can_run(&["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let mut lab = Lab::new("drfrr");
    let (leaf, [h1, h2]) = lan(&mut lab);
    let mut conf = support::frr::config("198.51.100.1", 65001, &[(H1, 65100), (H2, 65100)]);
    conf.push_str(
        "bgp community-list standard gshut permit graceful-shutdown\n\
         route-map GSHUT permit 10\n match community gshut\n set local-preference 0\n\
         route-map GSHUT permit 20\n\
         router bgp 65001\n address-family ipv4 unicast\n  neighbor 198.51.100.3 route-map GSHUT in\n  \
         neighbor 198.51.100.4 route-map GSHUT in\n exit-address-family\n",
    );
    let frr = Frr::start(&mut lab, &leaf, "bgpd", "198.51.100.1", &conf);
    let cfg = leafvip_config(H1, 65001, "drain_time = 0");
    let d1 = lab.leafvip_at(&h1, "h1", "h1", &cfg);
    lab.leafvip_at(&h2, "h2", "h2", &leafvip_config(H2, 65001, ""));
    let selected = |frr: &Frr| -> Vec<String> {
        let out = frr
            .cmd(&format!("show bgp ipv4 unicast {VIP} json"))
            .unwrap_or_default();
        let j: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        let mut v: Vec<String> = j["paths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["multipath"] == true || p["bestpath"]["overall"] == true)
            .filter_map(|p| p["nexthops"][0]["ip"].as_str().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    let wait_sel = |want: &[&str]| {
        wait_for(
            T,
            &format!("bgpd selecting {want:?}"),
            || (selected(&frr) == want).then_some(()),
            || {
                frr.cmd(&format!("show bgp ipv4 unicast {VIP}"))
                    .unwrap_or_default()
            },
        )
    };
    wait_sel(&BOTH);
    lab.ctl("h1", "drain");
    wait_sel(&[H2]);
    assert_eq!(frr.next_hops(VIP), BOTH, "h1's path is held, not selected");
    lab.ctl("h1", "undrain");
    wait_sel(&BOTH);

    lab.ctl("h1", "restart");
    lab.proc(d1).wait_exit(Duration::from_secs(5));
    wait_for(
        T,
        "bgpd to see the session drop",
        || (!frr.established(H1)).then_some(()),
        || {
            frr.cmd(&format!("show bgp neighbor {H1}"))
                .unwrap_or_default()
        },
    );
    let gap = Instant::now();
    while gap.elapsed() < Duration::from_secs(2) {
        assert_eq!(
            selected(&frr),
            BOTH,
            "h1 left bgpd's selection {:?} into the restart",
            gap.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    lab.leafvip_at(&h1, "h1-again", "h1", &cfg);
    wait_for(
        T,
        "the session back",
        || frr.established(H1).then_some(()),
        || lab.log("h1-again"),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(selected(&frr), BOTH);
}
