//! The PorterLB guide's multi-router topology, end to end in namespaces:
//! a spine and two leaves (BIRD 2, routes in each kernel FIB with ECMP), a
//! client behind the spine, master1 and worker1 under leaf1 and worker2
//! under leaf2, each host with the VIP on lo and a TCP responder that
//! answers with its name. Asserted on the routers' FIBs and on what the
//! client's connections reach, for both speaker layouts, for the guide's
//! "before" (one speaker under leaf1 only), IPv4 and IPv6.
mod support;
use std::collections::BTreeSet;
use std::time::Duration;
use support::fabric::{build, Host, HOSTS, LEAVES};
use support::{can_run, wait_for};

const T: Duration = Duration::from_secs(30);
const VIP4: &str = "192.0.2.200";
const VIP6: &str = "2001:db8:1::200";

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// Every host runs leafvip with next_hop = "self".
    EveryHost,
    /// master1 speaks for rack leaf1, worker2 for rack leaf2, next_hop = "hosts".
    PerRack,
    /// The guide's "before": one speaker, under leaf1, for the whole cluster.
    OnlyLeaf1,
    /// PerRack with an HA pair in leaf1: master1 and worker1 both speak.
    PerRackHa,
}

fn leafvip_config(h: &Host, layout: Layout) -> String {
    let (leaf_as, gw4) = LEAVES
        .iter()
        .find(|l| l.name == h.rack)
        .map(|l| (l.asn, l.gw4))
        .unwrap();
    let mut c = format!(
        "[bgp]\nasn = 65100\nrouter_id = \"{}\"\n[node]\nname = \"{}\"\nlabels = {{ rack = \"{}\" }}\n\
         [[peer]]\naddress = \"{gw4}\"\nasn = {leaf_as}\nnode_selector = {{ match_labels = {{ rack = \"{}\" }} }}\n",
        h.v4, h.name, h.rack, h.rack
    );
    let next_hop = if layout == Layout::EveryHost {
        "self"
    } else {
        "hosts"
    };
    if layout != Layout::EveryHost {
        for o in &HOSTS {
            // In the "before" layout the lone speaker knows only its own rack's
            // hosts, as PorterLB did: worker2 is unreachable from leaf1.
            c.push_str(&format!(
                "[[host]]\nname = \"{}\"\naddress = \"{}\"\naddress6 = \"{}\"\nlabels = {{ rack = \"{}\" }}\n\
                 check = {{ tcp = \"{}:8080\", interval = \"500ms\", rise = 1, fall = 2 }}\n",
                o.name, o.v4, o.v6, o.rack, o.v4
            ));
        }
    }
    c.push_str(&format!("[[vip]]\nprefix = \"{VIP4}/32\"\nnext_hop = \"{next_hop}\"\n[[vip]]\nprefix = \"{VIP6}/128\"\nnext_hop = \"{next_hop}\"\n"));
    c
}

fn run(layout: Layout, tag: &str) {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let mut f = build(tag, &[&format!("{VIP4}/32"), &format!("{VIP6}/128")]);
    let speakers: Vec<&Host> = match layout {
        Layout::EveryHost => HOSTS.iter().collect(),
        Layout::PerRack => vec![&HOSTS[0], &HOSTS[2]],
        Layout::OnlyLeaf1 => vec![&HOSTS[0]],
        Layout::PerRackHa => vec![&HOSTS[0], &HOSTS[1], &HOSTS[2]],
    };
    for h in &speakers {
        let ns = format!("{}-{}", f.lab.id, h.name);
        f.lab.leafvip(
            &ns,
            &format!("leafvip-{}", h.name),
            &leafvip_config(h, layout),
        );
    }
    let leaf1: Vec<String> = vec!["198.51.100.3".into(), "198.51.100.4".into()];
    let leaf1_v6: Vec<String> = vec!["2001:db8:100::3".into(), "2001:db8:100::4".into()];
    let (l1, l2, spine) = (&f.leaves[0], &f.leaves[1], &f.spine);
    wait_for(
        T,
        "leaf1 FIB: the VIP via master1 and worker1",
        || {
            (l1.fib(&format!("{VIP4}/32")) == leaf1 && l1.fib(&format!("{VIP6}/128")) == leaf1_v6)
                .then_some(())
        },
        || {
            format!(
                "{:?} {:?}",
                l1.fib(&format!("{VIP4}/32")),
                l1.route(&format!("{VIP4}/32"))
            )
        },
    );
    if layout == Layout::OnlyLeaf1 {
        wait_for(
            T,
            "spine FIB: the VIP via leaf1 only",
            || (spine.fib(&format!("{VIP4}/32")) == ["203.0.113.18"]).then_some(()),
            || format!("{:?}", spine.fib(&format!("{VIP4}/32"))),
        );
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            !l2.fib(&format!("{VIP4}/32"))
                .contains(&"198.51.100.130".to_string()),
            "nobody under leaf2 announces: leaf2 only knows the VIP via the spine"
        );
        assert_eq!(
            spine.fib(&format!("{VIP4}/32")),
            ["203.0.113.18"],
            "a single path at the spine"
        );
        let got = f.reached(VIP4, 8080, 60);
        assert!(
            !got.contains("worker2") && got.contains("master1") && got.contains("worker1"),
            "before: {got:?}"
        );
        return;
    }
    wait_for(
        T,
        "leaf2 FIB: the VIP via worker2",
        || {
            (l2.fib(&format!("{VIP4}/32")) == ["198.51.100.130"]
                && l2.fib(&format!("{VIP6}/128")) == ["2001:db8:200::130"])
            .then_some(())
        },
        || format!("{:?}", l2.fib(&format!("{VIP4}/32"))),
    );
    wait_for(
        T,
        "spine FIB: the VIP via both leaves",
        || {
            (spine.fib(&format!("{VIP4}/32")) == ["203.0.113.18", "203.0.113.22"]
                && spine.fib(&format!("{VIP6}/128")).len() == 2)
                .then_some(())
        },
        || {
            format!(
                "{:?} {:?}",
                spine.fib(&format!("{VIP4}/32")),
                spine.route(&format!("{VIP4}/32"))
            )
        },
    );
    assert!(
        !l1.route(&format!("{VIP4}/32")).contains("198.51.100.130"),
        "worker2 never offered to leaf1"
    );
    let all: BTreeSet<String> = HOSTS.iter().map(|h| h.name.to_string()).collect();
    let got = f.reached(VIP4, 8080, 90);
    assert_eq!(
        got, all,
        "IPv4 connections from the client reach every host"
    );
    let got6 = f.reached(VIP6, 8081, 90);
    assert_eq!(
        got6, all,
        "IPv6 connections from the client reach every host"
    );
}

#[test]
fn every_host_a_speaker() {
    run(Layout::EveryHost, "every");
}

#[test]
fn one_speaker_per_rack() {
    run(Layout::PerRack, "perrack");
}

#[test]
fn one_speaker_per_rack_with_an_ha_pair() {
    run(Layout::PerRackHa, "ha");
}

#[test]
fn before_one_speaker_under_leaf1() {
    run(Layout::OnlyLeaf1, "before");
}
