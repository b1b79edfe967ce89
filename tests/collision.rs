//! Connection collisions (RFC 4271 §6.8), forced deterministically by a
//! scripted peer that dials leafvip while leafvip's own connection to it
//! waits in OpenSent, with both orders of BGP Identifiers; and against
//! BIRD dialling actively while leafvip does too.
mod support;
use std::time::Duration;
use support::bird::leaf1;
use support::frr::{self, Frr};
use support::{can_run, rack, wait_for, Lab};

const T: Duration = Duration::from_secs(30);

fn config() -> String {
    "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\nlisten = \"198.51.100.3:179\"\n\n\
     [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nfamilies = [\"ipv4-unicast\"]\nconnect_retry = 1\n\n\
     [[vip]]\nprefix = \"192.0.2.200/32\"\n"
        .to_string()
}

/// Runs the collider with `bgp_id`; returns what each connection carried.
fn collide(name: &str, bgp_id: &str) -> (String, String) {
    let mut lab = Lab::new(name);
    let (leaf, host) = rack(&mut lab);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/collider.py");
    let peer = lab.spawn(
        &leaf,
        &["python3", script, "198.51.100.1", "198.51.100.3", bgp_id],
        "collider",
        &[],
    );
    std::thread::sleep(Duration::from_millis(300));
    lab.leafvip(&host, "leafvip", &config());
    let status = lab.proc(peer).wait_exit(T).expect("the collider finishes");
    let out = lab.log("collider");
    assert!(status.success() && out.contains("done"), "{out}");
    (out, lab.log("leafvip"))
}

#[test]
fn the_higher_identifier_keeps_its_connection() {
    if !can_run(&["python3"]) {
        return;
    }
    // The peer's identifier is higher: its connection (B) stays, ours (A)
    // gets Cease 6/7, and the routes flow over B.
    let (out, log) = collide("collhi", "203.0.113.9");
    assert!(out.contains("A notification 6 7"), "{out}\n{log}");
    assert!(out.contains("B update"), "{out}\n{log}");
    assert!(!out.contains("B notification"), "{out}\n{log}");
    assert!(log.contains("keeping the peer's"), "{log}");

    // Ours is higher: the peer's connection (B) gets Cease 6/7 and ours
    // carries the session.
    let (out, log) = collide("colllo", "198.51.100.1");
    assert!(out.contains("B notification 6 7"), "{out}\n{log}");
    assert!(out.contains("A update"), "{out}\n{log}");
    assert!(!out.contains("A notification"), "{out}\n{log}");
    assert!(log.contains("keeping ours"), "{log}");
}

/// BIRD dials too (not passive), as leafvip does, and its listener is
/// open: however the two attempts cross, one session comes up, carries the
/// route and stays, after each of three restarts.
#[test]
fn both_sides_dialling_converge_with_bird() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("collbird");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "");
    lab.leafvip(&host, "leafvip", &config());
    for round in 0..3 {
        wait_for(
            T,
            "one session carrying the route",
            || {
                (bird.established("h1") && bird.next_hops("192.0.2.200/32") == ["198.51.100.3"])
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
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            bird.established("h1"),
            "round {round}: the session did not stay up"
        );
        bird.cmd("restart h1").unwrap();
    }
}

/// The same with FRR's bgpd dialling actively: one session, the route, and
/// again after each of three `clear bgp`.
#[test]
fn both_sides_dialling_converge_with_frr() {
    if !can_run(&["vtysh", "/usr/lib/frr/bgpd"]) {
        return;
    }
    let mut lab = Lab::new("collfrr");
    let (leaf, host) = rack(&mut lab);
    let conf = frr::config("198.51.100.1", 65001, &[("198.51.100.3", 65100)]);
    let frr = Frr::start(&mut lab, &leaf, "frr", "198.51.100.1", &conf);
    lab.leafvip(&host, "leafvip", &config());
    for round in 0..3 {
        wait_for(
            T,
            "one session carrying the route",
            || {
                (frr.established("198.51.100.3")
                    && frr.next_hops("192.0.2.200/32") == ["198.51.100.3"])
                .then_some(())
            },
            || {
                format!(
                    "{}\n{}",
                    frr.cmd("show bgp summary").unwrap_or_default(),
                    lab.log("leafvip")
                )
            },
        );
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            frr.established("198.51.100.3"),
            "round {round}: the session did not stay up"
        );
        frr.cmd("clear bgp 198.51.100.3").unwrap();
    }
}
