//! Graceful Restart (RFC 4724) with BIRD as the helper. When leafvip dies
//! without a NOTIFICATION (a crash, or systemd's watchdog kill), the leaf
//! keeps its routes, in its RIB and its kernel FIB, until leafvip is back
//! and has sent End-of-RIB: traffic to the VIP keeps flowing. With
//! `graceful_restart = 0` the same crash withdraws them at once.
mod support;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use support::bird::{leaf1, Bird};
use support::{can_run, rack, wait_for, Lab};

const T: Duration = Duration::from_secs(30);
const VIP: &str = "192.0.2.200/32";

fn config(gr: &str) -> String {
    format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n{gr}\n\n[[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\n\n\
         [[vip]]\nprefix = \"{VIP}\"\n"
    )
}

fn held(bird: &Bird) -> bool {
    bird.next_hops(VIP) == ["198.51.100.3"] && bird.fib(VIP) == ["198.51.100.3"]
}

/// Starts the rack with `gr` in [bgp], waits for the route in BIRD's FIB,
/// then kills leafvip with SIGKILL and waits for BIRD to see the session go.
/// Returns the lab, BIRD, and the host's namespace.
fn crash(tag: &str, gr: &str) -> Option<(Lab, Bird, String)> {
    if !can_run(&["bird", "birdc"]) {
        return None;
    }
    let mut lab = Lab::new(tag);
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "");
    let lv = lab.leafvip(&host, "leafvip", &config(gr));
    wait_for(
        T,
        "the VIP in BIRD's RIB and FIB",
        || held(&bird).then_some(()),
        || bird.route(VIP),
    );
    lab.proc(lv).signal(Signal::SIGKILL);
    wait_for(
        T,
        "BIRD to see the session drop",
        || (!bird.established("h1")).then_some(()),
        || bird.cmd("show protocols all h1").unwrap_or_default(),
    );
    Some((lab, bird, host))
}

#[test]
fn a_crash_keeps_the_routes_until_leafvip_is_back() {
    let Some((mut lab, bird, host)) = crash("grkeep", "") else {
        return;
    };
    // Three seconds after the crash the leaf still forwards to the host.
    let gone = Instant::now();
    while gone.elapsed() < Duration::from_secs(3) {
        assert!(
            held(&bird),
            "route lost {:?} after the crash: {}",
            gone.elapsed(),
            bird.route(VIP)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let proto = bird.cmd("show protocols all h1").unwrap_or_default();
    assert!(
        proto.contains("Neighbor graceful restart active"),
        "BIRD is not holding the routes for a graceful restart: {proto}"
    );
    lab.leafvip(&host, "leafvip-again", &config(""));
    wait_for(
        T,
        "the session back",
        || bird.established("h1").then_some(()),
        || lab.log("leafvip-again"),
    );
    // After End-of-RIB the restart is over and the route is fresh again.
    wait_for(
        T,
        "BIRD to end the graceful restart with the route in place",
        || {
            let p = bird.cmd("show protocols all h1").unwrap_or_default();
            (held(&bird) && !p.contains("graceful restart active")).then_some(())
        },
        || bird.cmd("show protocols all h1").unwrap_or_default(),
    );
}

#[test]
fn without_graceful_restart_a_crash_withdraws_at_once() {
    let Some((_lab, bird, _)) = crash("grnone", "graceful_restart = 0") else {
        return;
    };
    wait_for(
        Duration::from_secs(3),
        "the route withdrawn from RIB and FIB",
        || (bird.next_hops(VIP).is_empty() && bird.fib(VIP).is_empty()).then_some(()),
        || bird.route(VIP),
    );
}

/// `[bgp]` applies on reload: a new Graceful Restart time restarts the
/// session with Cease/Other Configuration Change, and BIRD sees the new
/// time in the OPEN; a reload that leaves `[bgp]` alone restarts nothing.
#[test]
fn a_reload_applies_bgp_settings() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("grreload");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "");
    let lv = lab.leafvip(&host, "leafvip", &config("graceful_restart = 120"));
    wait_for(
        T,
        "the route",
        || held(&bird).then_some(()),
        || bird.route(VIP),
    );
    let caps = || bird.cmd("show protocols all h1").unwrap_or_default();
    assert!(caps().contains("Restart time: 120"), "{}", caps());
    let since = bird.up_since("h1");
    lab.write("leafvip.toml", &config("graceful_restart = 120\n# touched"));
    lab.proc(lv).signal(Signal::SIGHUP);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        bird.up_since("h1"),
        since,
        "an unchanged [bgp] restarts nothing"
    );
    lab.write("leafvip.toml", &config("graceful_restart = 77"));
    lab.proc(lv).signal(Signal::SIGHUP);
    wait_for(
        T,
        "the session again, with the new Restart time",
        || (bird.established("h1") && caps().contains("Restart time: 77")).then_some(()),
        || caps() + &lab.log("leafvip"),
    );
    assert!(
        lab.log("leafvip").contains("Other Configuration Change"),
        "{}",
        lab.log("leafvip")
    );
}
