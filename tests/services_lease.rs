//! The allocator's Lease (feature `kube`), in the two-rack fabric with
//! every node a speaker (`support/cluster.rs`): a killed leader, and two
//! would-be leaders racing.
#![cfg(feature = "kube")]
mod support;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::cluster::{cluster, eip, service, Speakers};
use support::fabric::HOSTS;
use support::{can_run, wait_for};

/// The allocator's Lease: kill the agent that holds it and another takes
/// it within its expiry; no address moves, and a Service created meanwhile
/// gets one. Then a leader frozen in the middle of allocating 50 new
/// Services, and thawed after another took over, gives no address twice.
#[test]
fn leader_loss_moves_no_address_and_races_give_none_twice() {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let mut c = cluster("lblead", Speakers::EveryNode);
    c.api.put(eip("pool", "192.0.2.0/25", true));
    c.eips_seen(&["pool"]);
    for i in 0..5 {
        c.api.put(service(&format!("s{i}"), false, json!({})));
    }
    let before: Vec<Vec<String>> = (0..5).map(|i| c.allocated(&format!("s{i}"), 1)).collect();
    let holder = || {
        c.api
            .get(
                "coordination.k8s.io/v1",
                "Lease",
                "leafvip-system",
                "leafvip-allocator",
            )
            .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
    };
    let first = holder().expect("a leader");
    let i = HOSTS.iter().position(|h| h.name == first).unwrap();
    c.f.lab
        .proc(c.daemons[i])
        .signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    c.api.put(service("meanwhile", false, json!({})));
    let second = wait_for(
        Duration::from_secs(40),
        "another agent to hold the Lease",
        || holder().filter(|h| *h != first),
        || c.logs(),
    );
    eprintln!(
        "Lease taken over {:?} after the kill (duration 15 s)",
        killed.elapsed()
    );
    assert!(
        killed.elapsed() < Duration::from_secs(15 + 2 + 5),
        "within the Lease's expiry and a renewal"
    );
    assert_eq!(c.allocated("meanwhile", 1).len(), 1);
    let after: Vec<Vec<String>> = (0..5).map(|i| c.status_ips(&format!("s{i}"))).collect();
    assert_eq!(before, after, "no address moved");

    // The new leader freezes while 50 Services come; a third agent takes
    // over; the frozen one thaws mid-pass with what it read before.
    let j = HOSTS.iter().position(|h| h.name == second).unwrap();
    for k in 0..50 {
        c.api.put(service(&format!("r{k}"), false, json!({})));
    }
    c.f.lab
        .proc(c.daemons[j])
        .signal(nix::sys::signal::Signal::SIGSTOP);
    wait_for(
        Duration::from_secs(40),
        "a third agent to hold the Lease",
        || holder().filter(|h| *h != second).map(|_| ()),
        || c.logs(),
    );
    c.f.lab
        .proc(c.daemons[j])
        .signal(nix::sys::signal::Signal::SIGCONT);
    let mut seen = BTreeSet::new();
    for k in 0..50 {
        for ip in c.allocated(&format!("r{k}"), 1) {
            assert!(seen.insert(ip.clone()), "{ip} given twice");
        }
    }
    std::thread::sleep(Duration::from_secs(3));
    let all: Vec<String> = (0..50)
        .flat_map(|k| c.status_ips(&format!("r{k}")))
        .collect();
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>().len(),
        50,
        "still 50 distinct addresses"
    );
}
