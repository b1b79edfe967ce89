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
use support::bird::Bird;
use support::{can_run, sh, sh_ok, wait_for, Lab};

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

struct Host {
    name: &'static str,
    rack: &'static str,
    v4: &'static str,
    v6: &'static str,
}

const HOSTS: [Host; 3] = [
    Host {
        name: "master1",
        rack: "leaf1",
        v4: "198.51.100.3",
        v6: "2001:db8:100::3",
    },
    Host {
        name: "worker1",
        rack: "leaf1",
        v4: "198.51.100.4",
        v6: "2001:db8:100::4",
    },
    Host {
        name: "worker2",
        rack: "leaf2",
        v4: "198.51.100.130",
        v6: "2001:db8:200::130",
    },
];

struct Leaf {
    name: &'static str,
    asn: u32,
    /// Gateway addresses on the rack LAN.
    gw4: &'static str,
    gw6: &'static str,
    /// The leaf's and the spine's ends of their link.
    up4: &'static str,
    up6: &'static str,
    sp4: &'static str,
    sp6: &'static str,
}

const LEAVES: [Leaf; 2] = [
    Leaf {
        name: "leaf1",
        asn: 65001,
        gw4: "198.51.100.1",
        gw6: "2001:db8:100::1",
        up4: "203.0.113.18",
        up6: "2001:db8:11::2",
        sp4: "203.0.113.17",
        sp6: "2001:db8:11::1",
    },
    Leaf {
        name: "leaf2",
        asn: 65002,
        gw4: "198.51.100.129",
        gw6: "2001:db8:200::1",
        up4: "203.0.113.22",
        up6: "2001:db8:12::2",
        sp4: "203.0.113.21",
        sp6: "2001:db8:12::1",
    },
];

/// ECMP that spreads flows: hash on addresses and ports (policy 3, fields
/// 0x0037) with a different seed per router, or every hop reuses the same
/// flow hash and traffic polarizes.
fn router_sysctls(ns: &str, seed: u32) {
    sh(&format!(
        "ip netns exec {ns} sysctl -qw net.ipv4.fib_multipath_hash_policy=3 net.ipv4.fib_multipath_hash_fields=0x0037 \
         net.ipv6.fib_multipath_hash_policy=3 net.ipv6.fib_multipath_hash_fields=0x0037 net.ipv4.fib_multipath_hash_seed={seed}"
    ));
}

fn bird_router(router_id: &str, asn: u32, neighbors: &[(&str, &str, u32, &str)]) -> String {
    let mut c = format!(
        "router id {router_id};\nprotocol device {{}}\nprotocol direct {{ ipv4; ipv6; }}\n\
         protocol kernel k4 {{ ipv4 {{ export all; }}; merge paths on; }}\n\
         protocol kernel k6 {{ ipv6 {{ export all; }}; merge paths on; }}\n"
    );
    for (name, addr, peer_as, extra) in neighbors {
        c.push_str(&format!(
            "protocol bgp {name} {{ local as {asn}; neighbor {addr} as {peer_as}; connect retry time 1; {extra}\n  \
             ipv4 {{ import all; export where source = RTS_BGP; add paths rx; }};\n  \
             ipv6 {{ import all; export where source = RTS_BGP; add paths rx; }};\n}}\n"
        ));
    }
    c
}

struct Fabric {
    lab: Lab,
    spine: Bird,
    leaves: Vec<Bird>,
    client: String,
}

fn build(tag: &str) -> Fabric {
    let mut lab = Lab::new(tag);
    let spine_ns = lab.ns("spine");
    let client = lab.ns("client");
    router_sysctls(&spine_ns, 1);
    lab.link(
        &spine_ns,
        "c0",
        &["203.0.113.1/28", "2001:db8:c::1/64"],
        &client,
        "eth0",
        &["203.0.113.2/28", "2001:db8:c::2/64"],
    );
    sh(&format!("ip -n {client} route add default via 203.0.113.1 && ip -n {client} -6 route add default via 2001:db8:c::1"));
    let mut spine_peers = Vec::new();
    let mut leaves = Vec::new();
    for (
        i,
        Leaf {
            name: leaf,
            asn,
            gw4,
            gw6,
            up4,
            up6,
            sp4,
            sp6,
        },
    ) in LEAVES.iter().enumerate()
    {
        let ns = lab.ns(leaf);
        router_sysctls(&ns, 100 + i as u32);
        lab.link(
            &spine_ns,
            &format!("l{i}"),
            &[&format!("{sp4}/30"), &format!("{sp6}/64")],
            &ns,
            "uplink",
            &[&format!("{up4}/30"), &format!("{up6}/64")],
        );
        sh(&format!(
            "ip -n {ns} route add default via {sp4} && ip -n {ns} -6 route add default via {sp6}"
        ));
        sh(&format!(
            "ip -n {ns} link add br0 type bridge && ip -n {ns} link set br0 up"
        ));
        sh(&format!(
            "ip -n {ns} addr add {gw4}/25 dev br0 && ip -n {ns} addr add {gw6}/64 dev br0 nodad"
        ));
        spine_peers.push((*leaf, *up4, *asn));
        let mut neigh: Vec<(String, String, u32, String)> =
            vec![("spine".into(), sp4.to_string(), 65000, String::new())];
        for h in HOSTS.iter().filter(|h| h.rack == *leaf) {
            neigh.push((h.name.into(), h.v4.into(), 65100, String::new()));
        }
        let n: Vec<(&str, &str, u32, &str)> = neigh
            .iter()
            .map(|(a, b, c, d)| (a.as_str(), b.as_str(), *c, d.as_str()))
            .collect();
        leaves.push((ns, bird_router(gw4, *asn, &n)));
    }
    let sn: Vec<(&str, &str, u32, &str)> = spine_peers
        .iter()
        .map(|(n, a, s)| (*n, *a, *s, ""))
        .collect();
    let spine = Bird::start(
        &mut lab,
        &spine_ns,
        "spine",
        &bird_router("203.0.113.1", 65000, &sn),
    );
    let leaves = leaves
        .into_iter()
        .enumerate()
        .map(|(i, (ns, conf))| Bird::start(&mut lab, &ns, LEAVES[i].name, &conf))
        .collect();
    // Hosts: rack LAN, default route to the leaf, VIP on lo, responder.
    for (i, h) in HOSTS.iter().enumerate() {
        let ns = lab.ns(h.name);
        let leaf_ns = format!("{}-{}", lab.id, h.rack);
        let (gw4, gw6) = LEAVES
            .iter()
            .find(|l| l.name == h.rack)
            .map(|l| (l.gw4, l.gw6))
            .unwrap();
        lab.link(
            &leaf_ns,
            &format!("h{i}"),
            &[],
            &ns,
            "eth0",
            &[&format!("{}/25", h.v4), &format!("{}/64", h.v6)],
        );
        sh(&format!("ip -n {leaf_ns} link set h{i} master br0"));
        sh(&format!(
            "ip -n {ns} route add default via {gw4} && ip -n {ns} -6 route add default via {gw6}"
        ));
        sh(&format!(
            "ip -n {ns} addr add {VIP4}/32 dev lo && ip -n {ns} addr add {VIP6}/128 dev lo"
        ));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/responder.py");
        lab.spawn(
            &ns,
            &["python3", script, h.name, "0.0.0.0", "8080"],
            &format!("{}-r4", h.name),
            &[],
        );
        lab.spawn(
            &ns,
            &["python3", script, h.name, "::", "8081"],
            &format!("{}-r6", h.name),
            &[],
        );
    }
    Fabric {
        lab,
        spine,
        leaves,
        client,
    }
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

/// Which hosts `n` connections from the client reach.
fn reached(f: &Fabric, vip: &str, port: u16, n: usize) -> BTreeSet<String> {
    let py = format!(
        "import socket\nfor i in range({n}):\n  s=socket.create_connection(('{vip}',{port}),timeout=2)\n  print(s.recv(64).decode().strip())\n  s.close()"
    );
    let out = sh_ok(&format!("ip netns exec {} python3 -c \"{py}\"", f.client)).unwrap_or_default();
    out.lines().map(str::to_string).collect()
}

fn run(layout: Layout, tag: &str) {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let mut f = build(tag);
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
        let got = reached(&f, VIP4, 8080, 60);
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
    let got = reached(&f, VIP4, 8080, 90);
    assert_eq!(
        got, all,
        "IPv4 connections from the client reach every host"
    );
    let got6 = reached(&f, VIP6, 8081, 90);
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
