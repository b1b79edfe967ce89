//! LoadBalancer Services (feature `kube`) against the fake API server, in
//! the two-rack fabric (`support/fabric.rs`: BIRD spine and leaves, ECMP
//! into their FIBs, master1 and worker1 under leaf1, worker2 under leaf2,
//! a responder on each, a client behind the spine). Asserted on the
//! routers' FIBs, on the objects' status, and on which hosts the client's
//! connections reach. The Lease's tests are in `services_lease.rs`.
#![cfg(feature = "kube")]
mod support;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Instant;
use support::cluster::{cluster, eip, node, service, slice, Cluster, Speakers, T};
use support::fabric::HOSTS;
use support::{can_run, wait_for};

const LEAF1: &[&str] = &["198.51.100.3", "198.51.100.4"];
const LEAF2: &[&str] = &["198.51.100.130"];
const BOTH_LEAVES: &[&str] = &["203.0.113.18", "203.0.113.22"];
const VIA_SPINE1: &[&str] = &["203.0.113.17"];
const VIA_SPINE2: &[&str] = &["203.0.113.21"];

fn all_hosts() -> BTreeSet<String> {
    HOSTS.iter().map(|h| h.name.to_string()).collect()
}

/// BIRD's up-since of every speaker's session: unchanged means no reset.
fn sessions(c: &Cluster, s: Speakers) -> Vec<Option<support::bird::Since>> {
    c.speakers(s)
        .into_iter()
        .map(|h| c.leaf_of(h).up_since(h))
        .collect()
}

/// An Eip and a Service: an address is allocated, written to both
/// statuses, and each leaf routes it to its Ready nodes, the spine to
/// both leaves; a client reaches every node. A node that is not Ready
/// leaves its leaf's FIB. Deleting the Service withdraws the route and
/// frees the address; one that asks for an address outside its pool gets
/// an Event and changes nothing. No session resets through any of it.
#[test]
fn services_get_addresses_that_route_to_every_node() {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let c = cluster("lbsvc", Speakers::EveryNode);
    c.api.put(eip("pool", "192.0.2.128/29", true));
    c.eips_seen(&["pool"]);
    c.api.put(service("web", false, json!({})));
    let ips = c.allocated("web", 1);
    assert_eq!(ips, ["192.0.2.128"]);
    let e = c
        .api
        .get("network.kubesphere.io/v1alpha2", "Eip", "", "pool")
        .unwrap();
    assert_eq!(e["status"]["used"]["192.0.2.128"], "default/web", "{e}");
    assert_eq!(
        (
            e["status"]["usage"].as_u64(),
            e["status"]["poolSize"].as_u64()
        ),
        (Some(1), Some(8))
    );
    assert_eq!(e["status"]["firstIP"], "192.0.2.128");
    let p = "192.0.2.128/32";
    c.wait_fibs(p, [LEAF1, LEAF2, BOTH_LEAVES]);
    // Service changes go out as UPDATEs: no session resets, to the end.
    let up = sessions(&c, Speakers::EveryNode);
    c.vip_on_hosts("192.0.2.128");
    // Each node's status says what it announces, and from which pool.
    let st = c.f.lab.status_json("master1");
    let line = &st["cluster"]["services"][0];
    assert_eq!(
        (
            &line["service"],
            &line["pool"],
            &line["policy"],
            &line["announced"]
        ),
        (
            &json!("default/web"),
            &json!("pool"),
            &json!("Cluster"),
            &json!(true)
        ),
        "{st}"
    );
    assert_eq!(st["cluster"]["pools"][0]["used"], 1);
    if cfg!(feature = "metrics") {
        let (code, m) = support::curl(
            &c.host_ns("master1"),
            "GET",
            "http://127.0.0.1:9179/metrics",
            5,
        );
        assert_eq!(code, 200);
        for want in [
            "leafvip_service_addresses_announced 1",
            "leafvip_pool_addresses_used{pool=\"pool\"} 1",
            "leafvip_pool_addresses{pool=\"pool\"} 8",
        ] {
            assert!(m.contains(want), "{want}: {m}");
        }
    }
    assert_eq!(c.reached("192.0.2.128"), all_hosts(), "every node answers");

    // A node that is not Ready stops announcing: leaf2 then routes to the
    // spine, and the spine to leaf1 only.
    let mut down = node("worker2");
    down["status"]["conditions"][0]["status"] = json!("False");
    c.api.put(down);
    c.wait_fibs(p, [LEAF1, VIA_SPINE2, &["203.0.113.18"]]);
    c.api.put(node("worker2"));
    c.wait_fibs(p, [LEAF1, LEAF2, BOTH_LEAVES]);

    // Outside its pool: an Event, and nothing else changes.
    c.api.put(service(
        "odd",
        false,
        json!({"annotations": {"eip.openelb.kubesphere.io/v1alpha1": "198.51.100.77"}}),
    ));
    c.event("odd", "198.51.100.77 is not in any pool");
    assert!(c.status_ips("odd").is_empty());
    assert_eq!(c.status_ips("web"), ["192.0.2.128"]);

    // An Eip that overlaps an older one, which OpenELB's webhook would
    // refuse: a Warning Event (InvalidSpec) names both, a Service that
    // names it gets no address, and no address is in two Eips' status.
    c.api.put(eip("pool2", "192.0.2.128-192.0.2.131", false));
    wait_for(
        T,
        "an InvalidSpec Event on Eip pool2 naming pool",
        || {
            c.api
                .list("v1", "Event", "default")
                .iter()
                .any(|e| {
                    e["involvedObject"]["kind"] == "Eip"
                        && e["involvedObject"]["name"] == "pool2"
                        && e["reason"] == "InvalidSpec"
                        && e["message"].as_str().unwrap_or("").contains(
                            "192.0.2.128-192.0.2.131 overlaps Eip pool (192.0.2.128-192.0.2.135)",
                        )
                })
                .then_some(())
        },
        || c.logs(),
    );
    c.api.put(service(
        "in2",
        false,
        json!({"annotations": {"eip.openelb.kubesphere.io/v1alpha2": "pool2"}}),
    ));
    c.event(
        "in2",
        "pool pool2 overlaps the older Eip pool and serves nothing",
    );
    assert!(c.status_ips("in2").is_empty());
    let e2 = c
        .api
        .get("network.kubesphere.io/v1alpha2", "Eip", "", "pool2")
        .unwrap();
    assert!(
        e2["status"]["used"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "{e2}"
    );
    let e = c
        .api
        .get("network.kubesphere.io/v1alpha2", "Eip", "", "pool")
        .unwrap();
    assert_eq!(e["status"]["used"]["192.0.2.128"], "default/web", "{e}");
    c.api.delete("v1", "Service", "default", "in2");
    c.api
        .delete("network.kubesphere.io/v1alpha2", "Eip", "", "pool2");

    // Deleted: the route goes and the address is free again.
    c.api.delete("v1", "Service", "default", "web");
    c.wait_fibs(p, [&[], &[], &[]]);
    wait_for(
        T,
        "the address freed in the Eip",
        || {
            let e = c
                .api
                .get("network.kubesphere.io/v1alpha2", "Eip", "", "pool")?;
            (e["status"]["usage"] == 0).then_some(())
        },
        || c.logs(),
    );
    c.api.put(service("next", false, json!({})));
    assert_eq!(
        c.allocated("next", 1),
        ["192.0.2.128"],
        "the freed address is given again"
    );
    assert_eq!(
        sessions(&c, Speakers::EveryNode),
        up,
        "no session reset by any Service change"
    );
}

/// externalTrafficPolicy Local: the routers' FIBs follow the Service's
/// endpoints, 3 nodes to 1 and back (timed from the EndpointSlice change
/// to the leaves' FIBs); a dual-stack Service is routed over both
/// families.
#[test]
fn local_services_follow_their_endpoints_and_dual_stack_routes_both() {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let c = cluster("lblocal", Speakers::EveryNode);
    c.api.put(eip("v4", "192.0.2.136/29", true));
    c.api.put(eip("v6", "2001:db8:1::/120", true));
    c.eips_seen(&["v4", "v6"]);
    c.api.put(slice("loc", &["master1", "worker1", "worker2"]));
    c.api.put(service("loc", true, json!({})));
    let ip = c.allocated("loc", 1).remove(0);
    let p = format!("{ip}/32");
    c.wait_fibs(&p, [LEAF1, LEAF2, BOTH_LEAVES]);
    let t = Instant::now();
    c.api.put(slice("loc", &["worker1"]));
    c.wait_fibs(&p, [&["198.51.100.4"], VIA_SPINE2, &["203.0.113.18"]]);
    eprintln!(
        "EndpointSlice 3 -> 1 nodes to every FIB (leaves and spine): {:?}",
        t.elapsed()
    );
    let st = c.f.lab.status_json("master1");
    let line = &st["cluster"]["services"][0];
    assert_eq!(line["announced"], false, "{st}");
    assert!(
        line["why"]
            .as_str()
            .unwrap()
            .contains("no ready endpoint on this node"),
        "{st}"
    );
    let t = Instant::now();
    c.api.put(slice("loc", &["master1", "worker1", "worker2"]));
    c.wait_fibs(&p, [LEAF1, LEAF2, BOTH_LEAVES]);
    eprintln!("EndpointSlice 1 -> 3 nodes to every FIB: {:?}", t.elapsed());

    c.api.put(service(
        "dual",
        false,
        json!({"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]}),
    ));
    let ips = c.allocated("dual", 2);
    assert!(
        ips[0].starts_with("192.0.2.") && ips[1].starts_with("2001:db8:1::"),
        "{ips:?}"
    );
    c.wait_fibs(&format!("{}/32", ips[0]), [LEAF1, LEAF2, BOTH_LEAVES]);
    c.wait_fibs(
        &format!("{}/128", ips[1]),
        [
            &["2001:db8:100::3", "2001:db8:100::4"],
            &["2001:db8:200::130"],
            &["2001:db8:11::2", "2001:db8:12::2"],
        ],
    );
    c.vip_on_hosts(&ips[1]);
    assert_eq!(c.reached(&ips[1]), all_hosts(), "the IPv6 address answers");
}

/// The rack-speaker layout: master1 speaks for leaf1 and worker2 for
/// leaf2 (`service_next_hop = "hosts"`); worker1 peers with nobody, yet
/// leaf1 routes to it through master1's session. Each leaf gets only its
/// own rack's Ready nodes; a node that goes not Ready leaves, a Local
/// Service goes to its endpoints' nodes only; no session resets.
#[test]
fn rack_speakers_announce_their_racks_ready_nodes() {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let c = cluster("lbrack", Speakers::PerRack);
    assert!(
        !c.leaf_of("worker1").established("worker1"),
        "worker1 does not speak"
    );
    c.api.put(eip("pool", "192.0.2.144/29", true));
    c.api.put(eip("v6", "2001:db8:2::/120", true));
    c.eips_seen(&["pool", "v6"]);
    c.api.put(service(
        "web",
        false,
        json!({"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]}),
    ));
    let ips = c.allocated("web", 2);
    let (p4, p6) = (format!("{}/32", ips[0]), format!("{}/128", ips[1]));
    c.wait_fibs(&p4, [LEAF1, LEAF2, BOTH_LEAVES]);
    c.wait_fibs(
        &p6,
        [
            &["2001:db8:100::3", "2001:db8:100::4"],
            &["2001:db8:200::130"],
            &["2001:db8:11::2", "2001:db8:12::2"],
        ],
    );
    let route = c.f.leaves[0].route(&p4);
    assert!(
        !route.contains("198.51.100.130"),
        "worker2 is never offered to leaf1: {route}"
    );
    let up = sessions(&c, Speakers::PerRack);
    c.vip_on_hosts(&ips[0]);
    c.vip_on_hosts(&ips[1]);
    assert_eq!(c.reached(&ips[0]), all_hosts(), "every node answers");
    assert_eq!(c.reached(&ips[1]), all_hosts(), "over IPv6 too");

    // worker1 not Ready: master1 withdraws its path only.
    let mut down = node("worker1");
    down["status"]["conditions"][0]["status"] = json!("False");
    c.api.put(down);
    c.wait_fibs(&p4, [&["198.51.100.3"], LEAF2, BOTH_LEAVES]);
    c.api.put(node("worker1"));
    c.wait_fibs(&p4, [LEAF1, LEAF2, BOTH_LEAVES]);

    // A Local Service with endpoints on worker1 only: leaf1 routes it to
    // worker1, leaf2 only through the spine.
    c.api.put(slice("loc", &["worker1"]));
    c.api.put(service("loc", true, json!({})));
    let loc = format!("{}/32", c.allocated("loc", 1)[0]);
    c.wait_fibs(&loc, [&["198.51.100.4"], VIA_SPINE2, &["203.0.113.18"]]);
    let t = Instant::now();
    c.api.put(slice("loc", &["worker1", "worker2"]));
    c.wait_fibs(&loc, [&["198.51.100.4"], LEAF2, BOTH_LEAVES]);
    eprintln!(
        "rack speakers: EndpointSlice change to every FIB: {:?}",
        t.elapsed()
    );
    c.api.put(slice("loc", &["worker2"]));
    c.wait_fibs(&loc, [VIA_SPINE1, LEAF2, &["203.0.113.22"]]);
    let st = c.f.lab.status_json("master1");
    let lines = st["cluster"]["services"].as_array().unwrap();
    assert!(
        lines.iter().all(|l| l["announced"] == true),
        "a rack speaker announces every Service with a Ready endpoint node: {st}"
    );
    assert_eq!(sessions(&c, Speakers::PerRack), up, "no session reset");
}

/// The pools and a dual-stack Service created in the same instant, as one
/// `kubectl apply` of a manifest holding all three does: the Service gets
/// both addresses, whichever object the allocator hears of first.
#[test]
fn a_service_created_with_its_pools_gets_both_addresses() {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let c = cluster("lbrace", Speakers::EveryNode);
    c.api.put(service(
        "dual",
        false,
        json!({"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]}),
    ));
    c.api.put(eip("v4", "192.0.2.136/29", true));
    c.api.put(eip("v6", "2001:db8:1::/120", true));
    let ips = c.allocated("dual", 2);
    assert!(
        ips[0].starts_with("192.0.2.") && ips[1].starts_with("2001:db8:1::"),
        "{ips:?}"
    );
}
