//! `leafvip status` against a live daemon peering with BIRD: the table and
//! the JSON agree with what the router holds, NOTIFICATIONs are counted and
//! named, and the socket keeps other users out.
mod support;
use nix::sys::signal::Signal;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;
use support::bird::{leaf1, leaf_config, Bird};
use support::{can_run, rack, wait_for, Lab};

const T: Duration = Duration::from_secs(20);

fn status(lab: &Lab, json: bool) -> (bool, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leafvip"));
    c.args(["status", "-s", lab.path("leafvip.sock").to_str().unwrap()]);
    if json {
        c.arg("--json");
    }
    let o = c.output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The JSON status, or None while the daemon is not answering yet.
fn try_json(lab: &Lab) -> Option<serde_json::Value> {
    let (ok, out, _) = status(lab, true);
    ok.then(|| serde_json::from_str(&out).ok()).flatten()
}

fn json(lab: &Lab) -> serde_json::Value {
    let (ok, out, err) = status(lab, true);
    assert!(ok, "status --json failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn status_shows_sessions_vips_and_notifications_as_the_router_sees_them() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("status");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "");
    lab.write("labels", "rack=leaf1\n");
    let cfg = format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\n[node]\nname = \"master1\"\nlabels_file = \"{}\"\n\n\
         [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\ndescription = \"leaf1\"\nfamilies = [\"ipv4-unicast\"]\n\n\
         [[vip]]\nprefix = \"192.0.2.200/32\"\n[[vip]]\nprefix = \"192.0.2.201/32\"\n[[vip]]\nprefix = \"2001:db8:1::200/128\"\n",
        lab.path("labels").display()
    );
    let lv = lab.leafvip(&host, "leafvip", &cfg);
    wait_for(
        T,
        "both VIPs at BIRD",
        || (bird.next_hops("192.0.2.201/32") == ["198.51.100.3"]).then_some(()),
        || bird.route("192.0.2.201/32"),
    );

    // The socket is the daemon's alone.
    let sock = lab.path("leafvip.sock");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode {mode:o}");

    let j = wait_for(
        T,
        "status to report both VIPs sent",
        || {
            let j = json(&lab);
            (j["peers"][0]["prefixes_sent"][0]["count"] == 2).then_some(j)
        },
        || status(&lab, false).1,
    );
    let p = &j["peers"][0];
    assert_eq!(j["node"], "master1");
    assert_eq!(p["peer"], "198.51.100.1:179");
    assert_eq!(p["asn"], 65001);
    assert_eq!(p["description"], "leaf1");
    assert_eq!(p["state"], "Established");
    assert!(p["uptime_secs"].is_u64());
    let caps: Vec<&str> = p["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        caps.contains(&"ipv4-unicast") && caps.contains(&"4-octet AS"),
        "{caps:?}"
    );
    assert!(p["messages_in"].as_u64().unwrap() >= 2, "{p}");
    assert!(p["updates_out"].as_u64().unwrap() >= 1, "{p}");
    // Every VIP, with what this peer holds; the IPv6 one is not offered on
    // an IPv4-only session, and says why.
    let vips = j["vips"].as_array().unwrap();
    assert_eq!(vips.len(), 3);
    for v in &vips[..2] {
        assert_eq!(v["announced"], true, "{v}");
        assert_eq!(v["peers"][0]["state"], "announced", "{v}");
        let hop = v["peers"][0]["sent"][0].as_str().unwrap();
        let prefix = v["prefix"].as_str().unwrap();
        assert_eq!(bird.next_hops(prefix), vec![hop.to_string()]);
    }
    assert_eq!(vips[2]["announced"], false);
    assert_eq!(vips[2]["peers"][0]["state"], "not offered");
    assert!(vips[2]["peers"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("families exclude ipv6-unicast"));

    // The table carries the same facts.
    let (ok, text, _) = status(&lab, false);
    assert!(ok);
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("198.51.100.1:179"))
        .unwrap_or_else(|| panic!("no peer row: {text}"))
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["198.51.100.1:179", "65001", "Established"]);
    assert_eq!(row[4], "2", "sent column: {text}");
    assert!(text.contains("description:        leaf1"), "{text}");
    eprintln!("{text}");

    // BIRD resets the session: the NOTIFICATION is named and counted.
    bird.cmd("restart h1").unwrap();
    let j = wait_for(
        T,
        "the Cease in status",
        || {
            let j = json(&lab);
            j["peers"][0]["last_notification"]
                .as_str()
                .is_some_and(|n| n.starts_with("received Cease"))
                .then_some(j)
        },
        || status(&lab, false).1,
    );
    let n = &j["peers"][0]["notifications"][0];
    assert_eq!(
        (n["direction"].as_str(), n["code"].as_u64()),
        (Some("received"), Some(6))
    );
    assert!(n["count"].as_u64().unwrap() >= 1);

    // Another user is refused with a clear message.
    let o = Command::new(env!("CARGO_BIN_EXE_leafvip"))
        .args(["status", "-s", sock.to_str().unwrap()])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("permission denied"), "{err}");

    // SIGTERM removes the socket.
    lab.proc(lv).signal(Signal::SIGTERM);
    assert!(lab.proc(lv).wait_exit(Duration::from_secs(10)).is_some());
    assert!(!sock.exists());
    let (ok, _, err) = status(&lab, false);
    assert!(!ok && err.contains("no leafvip daemon"), "{err}");
}

fn leafvip(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_leafvip"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// With more VIPs than a summary lists, `status` stays a summary built
/// from counters, one VIP is asked for by prefix, and `status vips` pages
/// through all of them, each exactly once, as BIRD holds them.
#[test]
fn large_lists_are_paged_and_one_vip_is_asked_for_by_prefix() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("stpage");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "");
    let list: String = (0..=255)
        .flat_map(|i| [format!("192.0.2.{i}/32\n"), format!("203.0.113.{i}/32\n")])
        .collect();
    lab.write("vips", &list);
    let cfg = format!(
        "vips_file = \"{}\"\n[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\n\
         [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nfamilies = [\"ipv4-unicast\"]\n",
        lab.path("vips").display()
    );
    lab.leafvip(&host, "leafvip", &cfg);
    wait_for(
        T,
        "the last VIP at BIRD",
        || (bird.next_hops("203.0.113.255/32") == ["198.51.100.3"]).then_some(()),
        || lab.log("leafvip"),
    );
    let sock = lab.path("leafvip.sock");
    let sock = sock.to_str().unwrap();
    let j = wait_for(
        T,
        "all 512 VIPs sent",
        || {
            let j = json(&lab);
            (j["peers"][0]["prefixes_sent"][0]["count"] == 512).then_some(j)
        },
        || status(&lab, false).1,
    );
    assert_eq!(j["vip_count"], 512);
    assert_eq!(
        j["vips"].as_array().unwrap().len(),
        0,
        "a summary lists no VIPs"
    );
    let (_, text, _) = status(&lab, false);
    assert!(
        text.contains("512 VIPs: `leafvip status vip PREFIX`"),
        "{text}"
    );

    // One VIP, as BIRD holds it; an unknown prefix is an empty answer.
    let (ok, one, err) = leafvip(&["status", "-s", sock, "vip", "203.0.113.77/32", "--json"]);
    assert!(ok, "{err}");
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    let v = &one["vips"][0];
    assert_eq!(v["prefix"], "203.0.113.77/32");
    assert_eq!(v["peers"][0]["state"], "announced");
    let hop = v["peers"][0]["sent"][0].as_str().unwrap().to_string();
    assert_eq!(bird.next_hops("203.0.113.77/32"), vec![hop]);
    let (ok, none, _) = leafvip(&["status", "-s", sock, "vip", "198.51.100.77/32", "--json"]);
    assert!(ok);
    let none: serde_json::Value = serde_json::from_str(&none).unwrap();
    assert_eq!(none["vips"].as_array().unwrap().len(), 0);

    // Every VIP in pages of 100: one JSON object a line, in order, once.
    let (ok, lines, err) = leafvip(&["status", "-s", sock, "vips", "--json", "--page", "100"]);
    assert!(ok, "{err}");
    let prefixes: Vec<String> = lines
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_eq!(v["announced"], true, "{l}");
            v["prefix"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(prefixes.len(), 512);
    let mut sorted = prefixes.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 512, "a VIP twice");
    // The table: one header, a row per VIP.
    let (ok, table, _) = leafvip(&["status", "-s", sock, "vips", "--page", "100"]);
    assert!(ok);
    assert_eq!(table.matches("\nVIP ").count(), 1, "{table}");
    let rows = table
        .lines()
        .filter(|l| l.starts_with("192.0.2.") || l.starts_with("203.0.113."))
        .count();
    assert_eq!(rows, 512);
    // A closed pipe ends the CLI quietly.
    let piped = Command::new("sh")
        .args(["-c", &format!("\"$0\" status -s {sock} vips | head -1",)])
        .arg(env!("CARGO_BIN_EXE_leafvip"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&piped.stderr).is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );

    // A config that no longer parses still finds the daemon's socket.
    let broken = lab.write(
        "broken.toml",
        &format!("[control]\nsocket = \"{sock}\"\n[bgp]\nasn = \"not a number\"\n"),
    );
    let (ok, text, err) = leafvip(&["status", "-c", broken.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(err.contains("note:") && err.contains("`asn`"), "{err}");
    assert!(text.contains("Established"), "{text}");
}

/// What a newcomer bringing up a first session meets, explained by
/// `status`: a peer that is not there (the OS's "connection refused"), a
/// wrong AS (the NOTIFICATION's AS in words), a peer this node does not
/// select (the failing term), and, once up, the connection, the
/// neighbor's router id and the timers.
#[test]
fn status_explains_refused_connections_wrong_as_and_unselected_peers() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("stexpl");
    let (leaf, host) = rack(&mut lab);
    lab.write("labels", "rack=leaf1\n");
    let cfg = format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n[node]\nlabels_file = \"{}\"\n\n\
         [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nconnect_retry = 1\nfamilies = [\"ipv4-unicast\"]\n\n\
         [[peer]]\naddress = \"203.0.113.1\"\nasn = 65002\nnode_selector = {{ match_labels = {{ rack = \"leaf2\" }} }}\n\n\
         [[vip]]\nprefix = \"192.0.2.200/32\"\n",
        lab.path("labels").display()
    );
    lab.leafvip(&host, "leafvip", &cfg);
    // Nothing listens at the router yet.
    let j = wait_for(
        T,
        "a refused connection in status",
        || {
            let j = try_json(&lab)?;
            j["peers"][0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("Connection refused"))
                .then_some(j)
        },
        || status(&lab, false).1,
    );
    let p = &j["peers"][0];
    assert!(
        p["state_secs"].is_u64() && p.get("uptime_secs").is_none(),
        "{p}"
    );
    let u = &j["unselected"][0];
    assert_eq!(u["peer"], "203.0.113.1:179");
    assert_eq!(u["reason"], "match_labels rack=leaf2: node has rack=leaf1");
    let (_, text, _) = status(&lab, false);
    assert!(
        text.contains(
            "not selected on this node:\n    203.0.113.1:179 AS 65002: match_labels rack=leaf2"
        ),
        "{text}"
    );

    // The router expects another AS: its NOTIFICATION names the AS it got.
    let bird = Bird::start(
        &mut lab,
        &leaf,
        "bird",
        &leaf_config("198.51.100.1", 65001, &[("h1", "198.51.100.3", 65099, "")]),
    );
    wait_for(
        T,
        "Bad Peer AS in words",
        || {
            try_json(&lab)?["peers"][0]["last_notification"]
                .as_str()
                .filter(|n| n.contains("Bad Peer AS (2/2): AS 65100"))
                .map(|_| ())
        },
        || status(&lab, false).1,
    );

    // Fixed: the session, its connection, the router id and the timers.
    std::fs::write(
        &bird.conf,
        leaf_config("198.51.100.1", 65001, &[("h1", "198.51.100.3", 65100, "")]),
    )
    .unwrap();
    bird.cmd("configure").unwrap();
    let j = wait_for(
        T,
        "the session up",
        || {
            let j = try_json(&lab)?;
            (j["peers"][0]["state"] == "Established").then_some(j)
        },
        || status(&lab, false).1,
    );
    let p = &j["peers"][0];
    assert_eq!(p["router_id"], "198.51.100.1");
    assert_eq!(p["remote"], "198.51.100.1:179");
    assert!(
        p["local"].as_str().unwrap().starts_with("198.51.100.3:"),
        "{p}"
    );
    assert_eq!(
        (p["hold_time"].as_u64(), p["keepalive"].as_u64()),
        (Some(90), Some(30))
    );
    let (_, text, _) = status(&lab, false);
    assert!(
        text.contains("-> 198.51.100.1:179, router id 198.51.100.1"),
        "{text}"
    );
    assert!(
        text.contains("timers:             hold 90 s, keepalive 30 s"),
        "{text}"
    );
}

/// A TCP MD5 password that the router does not share: our SYN gets no
/// answer, and status says to check the password on both sides.
#[test]
fn status_hints_at_md5_when_a_syn_goes_unanswered() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("stmd5");
    let (leaf, host) = rack(&mut lab);
    let _bird = leaf1(&mut lab, &leaf, "");
    let key = lab.write("key", "not-shared\n");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\n\
         [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nconnect_retry = 1\npassword_file = \"{}\"\n",
        key.display()
    );
    lab.leafvip(&host, "leafvip", &cfg);
    wait_for(
        Duration::from_secs(40),
        "the MD5 hint",
        || {
            try_json(&lab)?["peers"][0]["last_error"]
                .as_str()
                .filter(|e| {
                    e.contains("a TCP MD5 password is set: check it is the same on both sides")
                })
                .map(|_| ())
        },
        || status(&lab, false).1,
    );
}
