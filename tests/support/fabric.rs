//! The PorterLB guide's two-rack topology in namespaces, shared by the
//! tests that need it: a spine and two leaves (BIRD 2, ECMP into each
//! kernel FIB), a client behind the spine, master1 and worker1 under leaf1
//! and worker2 under leaf2, each with a TCP responder that answers with
//! its name (IPv4 on 8080, IPv6 on 8081). The leaves peer with every host
//! of their rack (AS 65100) and accept ADD-PATH.
use super::bird::Bird;
use super::{sh, sh_ok, Lab};
use std::collections::BTreeSet;

pub struct Host {
    pub name: &'static str,
    pub rack: &'static str,
    pub v4: &'static str,
    pub v6: &'static str,
}

pub const HOSTS: [Host; 3] = [
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

pub struct Leaf {
    pub name: &'static str,
    pub asn: u32,
    /// Gateway addresses on the rack LAN.
    pub gw4: &'static str,
    pub gw6: &'static str,
    /// The leaf's and the spine's ends of their link.
    pub up4: &'static str,
    pub up6: &'static str,
    pub sp4: &'static str,
    pub sp6: &'static str,
}

pub const LEAVES: [Leaf; 2] = [
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
pub fn router_sysctls(ns: &str, seed: u32) {
    sh(&format!(
        "ip netns exec {ns} sysctl -qw net.ipv4.fib_multipath_hash_policy=3 net.ipv4.fib_multipath_hash_fields=0x0037 \
         net.ipv6.fib_multipath_hash_policy=3 net.ipv6.fib_multipath_hash_fields=0x0037 net.ipv4.fib_multipath_hash_seed={seed}"
    ));
}

/// Every router honours GRACEFUL_SHUTDOWN (RFC 8326) on import, as the
/// README shows: LOCAL_PREF 0, so a drained path loses to any other.
pub fn bird_router(router_id: &str, asn: u32, neighbors: &[(&str, &str, u32, &str)]) -> String {
    let mut c = format!(
        "router id {router_id};\nprotocol device {{}}\nprotocol direct {{ ipv4; ipv6; }}\n\
         protocol kernel k4 {{ ipv4 {{ export all; }}; merge paths on; }}\n\
         protocol kernel k6 {{ ipv6 {{ export all; }}; merge paths on; }}\n\
         filter gshut {{ if (65535, 0) ~ bgp_community then bgp_local_pref = 0; accept; }}\n"
    );
    for (name, addr, peer_as, extra) in neighbors {
        c.push_str(&format!(
            "protocol bgp {name} {{ local as {asn}; neighbor {addr} as {peer_as}; connect retry time 1; {extra}\n  \
             ipv4 {{ import filter gshut; export where source = RTS_BGP; add paths rx; }};\n  \
             ipv6 {{ import filter gshut; export where source = RTS_BGP; add paths rx; }};\n}}\n"
        ));
    }
    c
}

pub struct Fabric {
    pub lab: Lab,
    pub spine: Bird,
    pub leaves: Vec<Bird>,
    pub client: String,
}

/// The fabric, with `vips` (addresses with their prefix length) on every
/// host's lo.
pub fn build(tag: &str, vips: &[&str]) -> Fabric {
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
        for v in vips {
            sh(&format!("ip -n {ns} addr add {v} dev lo"));
        }
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

impl Fabric {
    /// Which hosts `n` connections from the client to `vip` reach.
    pub fn reached(&self, vip: &str, port: u16, n: usize) -> BTreeSet<String> {
        let py = format!(
            "import socket\nfor i in range({n}):\n  s=socket.create_connection(('{vip}',{port}),timeout=2)\n  print(s.recv(64).decode().strip())\n  s.close()"
        );
        let out = sh_ok(&format!(
            "ip netns exec {} python3 -c \"{py}\"",
            self.client
        ))
        .unwrap_or_default();
        out.lines().map(str::to_string).collect()
    }

    /// The namespace of a host.
    pub fn host_ns(&self, name: &str) -> String {
        format!("{}-{name}", self.lab.id)
    }
}
