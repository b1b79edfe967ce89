//! The metrics endpoint, scraped with curl while leafvip peers with BIRD:
//! what it reports matches what the router holds, and readiness follows
//! the session.
#![cfg(feature = "metrics")]
mod support;
use std::time::Duration;
use support::bird::leaf1;
use support::{can_run, rack, wait_for, Lab};

const T: Duration = Duration::from_secs(20);

/// (HTTP status, body) of a GET from inside `ns`.
fn get(ns: &str, url: &str) -> (u16, String) {
    support::curl(ns, "GET", url, 5)
}

fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn metrics_and_readiness_follow_the_session() {
    if !can_run(&["bird", "birdc", "curl"]) {
        return;
    }
    let mut lab = Lab::new("metrics");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "");
    let cfg = "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\n[control]\nhttp = \"127.0.0.1:9179\"\n\n\
               [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\n\n\
               [[vip]]\nprefix = \"192.0.2.200/32\"\n[[vip]]\nprefix = \"2001:db8:1::200/128\"\n";
    lab.leafvip(&host, "leafvip", cfg);
    let base = "http://127.0.0.1:9179";
    wait_for(
        T,
        "the endpoint to answer",
        || (get(&host, &format!("{base}/healthz")).0 == 200).then_some(()),
        || lab.log("leafvip"),
    );
    wait_for(
        T,
        "both VIPs at BIRD",
        || (bird.next_hops("2001:db8:1::200/128") == ["2001:db8:100::3"]).then_some(()),
        || bird.route("2001:db8:1::200/128"),
    );
    let peer = "{peer=\"198.51.100.1:179\"}";
    let m = wait_for(
        T,
        "metrics to show the session up with both families",
        || {
            let (code, m) = get(&host, &format!("{base}/metrics"));
            let v6 = value(
                &m,
                "leafvip_bgp_announced_prefixes{peer=\"198.51.100.1:179\",family=\"ipv6-unicast\"}",
            );
            (code == 200 && v6 == Some(1.0)).then_some(m)
        },
        || get(&host, &format!("{base}/metrics")).1,
    );
    assert_eq!(
        value(&m, &format!("leafvip_bgp_session_up{peer}")),
        Some(1.0)
    );
    assert!(value(&m, &format!("leafvip_bgp_updates_sent_total{peer}")).unwrap() >= 1.0);
    assert_eq!(
        value(
            &m,
            "leafvip_bgp_announced_prefixes{peer=\"198.51.100.1:179\",family=\"ipv4-unicast\"}"
        ),
        Some(1.0)
    );
    // Aggregates, never a series per VIP.
    assert_eq!(value(&m, "leafvip_vips"), Some(2.0), "{m}");
    assert!(!m.contains("vip=\""), "a per-VIP series: {m}");
    assert!(m.contains("leafvip_build_info{version=\""), "{m}");
    assert_eq!(get(&host, &format!("{base}/readyz")).0, 200);
    assert_eq!(get(&host, &format!("{base}/nothing")).0, 404);
    // Only GET and HEAD.
    assert_eq!(
        support::curl(&host, "POST", &format!("{base}/metrics"), 5).0,
        405
    );

    // The router goes away: readiness drops and a NOTIFICATION is counted.
    bird.cmd("disable h1").unwrap();
    wait_for(
        T,
        "readyz to fail without a session",
        || (get(&host, &format!("{base}/readyz")).0 == 503).then_some(()),
        || get(&host, &format!("{base}/metrics")).1,
    );
    let (_, m) = get(&host, &format!("{base}/metrics"));
    assert_eq!(
        value(&m, &format!("leafvip_bgp_session_up{peer}")),
        Some(0.0)
    );
    assert_eq!(
        value(
            &m,
            "leafvip_bgp_notifications_total{peer=\"198.51.100.1:179\",direction=\"received\",code=\"6\"}"
        ),
        Some(1.0),
        "{m}"
    );
}

fn threads(pid: i32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:")?.trim().parse().ok())
        .unwrap()
}

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmHWM:")?
                .trim()
                .trim_end_matches(" kB")
                .trim()
                .parse()
                .ok()
        })
        .unwrap()
}

/// 300 slow, silent or non-reading connections and a 600 KiB header line:
/// no thread is added, the probes and a scrape still answer, the header is
/// refused without being buffered, and a hold-3 session never flaps.
#[test]
fn hostile_clients_cost_no_threads_and_block_nobody() {
    if !can_run(&["bird", "birdc", "curl", "python3"]) {
        return;
    }
    let mut lab = Lab::new("mhostile");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "");
    let cfg = "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\n[control]\nhttp = \"127.0.0.1:9179\"\n\n\
               [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nhold_time = 3\n\n\
               [[vip]]\nprefix = \"192.0.2.200/32\"\n";
    let lv = lab.leafvip(&host, "leafvip", cfg);
    let base = "http://127.0.0.1:9179";
    wait_for(
        T,
        "the session and the endpoint",
        || (bird.established("h1") && get(&host, &format!("{base}/readyz")).0 == 200).then_some(()),
        || lab.log("leafvip"),
    );
    let pid = lab.proc(lv).pid();
    let before = threads(pid);
    let hwm_before = rss_kib(pid);
    let bad = lab.spawn(
        &host,
        &[
            "python3",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/slowhttp.py"),
            "127.0.0.1",
            "9179",
            "300",
            "8",
        ],
        "slowhttp",
        &[],
    );
    wait_for(
        T,
        "the hostile clients in place",
        || lab.log("slowhttp").contains("holding").then_some(()),
        || lab.log("slowhttp"),
    );
    let seen = lab.log("slowhttp");
    eprintln!("{seen}");
    assert!(seen.contains("opened 300"), "{seen}");
    assert!(
        seen.contains("big header: HTTP/1.1 431") || seen.contains("big header: closed"),
        "a 600 KiB header line was not refused: {seen}"
    );
    // With all of them held: probes and a scrape answer, no thread more.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let (code, body) = get(&host, &format!("{base}{path}"));
        assert_eq!(code, 200, "{path}: {body}");
    }
    assert_eq!(threads(pid), before, "threads with 300 hostile connections");
    let grown = rss_kib(pid).saturating_sub(hwm_before);
    assert!(
        grown < 4096,
        "peak RSS grew {grown} KiB under the hostile clients"
    );
    lab.proc(bad).wait_exit(T).expect("slowhttp ends");
    assert!(bird.established("h1"), "the hold-3 session dropped");
    let log = lab.log("leafvip");
    assert!(!log.contains("session down"), "a session flapped: {log}");
}
