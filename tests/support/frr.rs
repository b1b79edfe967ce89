//! FRR's bgpd as a leaf router in a lab namespace: run on its own, without
//! zebra (`-Z`) or kernel routes (`-n`), and asked through vtysh on a vty
//! socket in the lab's directory.
use super::{sh_ok, Lab};
use std::path::PathBuf;

pub struct Frr {
    pub ns: String,
    /// The directory of bgpd's vty socket.
    pub vty: PathBuf,
    pub proc: usize,
}

/// `router bgp ASN` with one neighbor per `(address, AS)`, dialling on a
/// 1 s connect timer, IPv4 unicast with ADD-PATH receive and ECMP.
pub fn config(router_id: &str, asn: u32, neighbors: &[(&str, u32)]) -> String {
    let mut c = format!(
        "frr defaults datacenter\nhostname leaf\nrouter bgp {asn}\n bgp router-id {router_id}\n \
         no bgp ebgp-requires-policy\n"
    );
    for (addr, peer_as) in neighbors {
        c.push_str(&format!(
            " neighbor {addr} remote-as {peer_as}\n neighbor {addr} timers connect 1\n"
        ));
    }
    c.push_str(" address-family ipv4 unicast\n  maximum-paths 16\n exit-address-family\n");
    c
}

impl Frr {
    pub fn start(lab: &mut Lab, ns: &str, name: &str, listen: &str, config: &str) -> Frr {
        let conf = lab.write(&format!("{name}.conf"), config);
        let vty = lab.path(&format!("{name}-vty"));
        std::fs::create_dir_all(&vty).unwrap();
        let pid = vty.join("bgpd.pid");
        let mut args = vec![
            "/usr/lib/frr/bgpd",
            "-f",
            conf.to_str().unwrap(),
            "-i",
            pid.to_str().unwrap(),
            "-Z",
            "-S",
            "-n",
            "--vty_socket",
            vty.to_str().unwrap(),
            "-P",
            "0",
            "--log",
            "stdout",
        ];
        // `listen`: one address, or several separated by commas.
        for a in listen.split(',') {
            args.extend(["-l", a]);
        }
        let proc = lab.spawn(ns, &args, name, &[]);
        let f = Frr {
            ns: ns.to_string(),
            vty,
            proc,
        };
        super::wait_for(
            std::time::Duration::from_secs(10),
            "bgpd to start",
            || f.cmd("show bgp summary"),
            || lab.log(name),
        );
        f
    }

    pub fn cmd(&self, c: &str) -> Option<String> {
        sh_ok(&format!(
            "ip netns exec {} vtysh --vty_socket {} -c '{c}'",
            self.ns,
            self.vty.display()
        ))
    }

    pub fn established(&self, neighbor: &str) -> bool {
        self.cmd(&format!("show bgp neighbor {neighbor}"))
            .is_some_and(|o| o.contains("BGP state = Established"))
    }

    /// The next hops of the paths bgpd holds for `prefix`, sorted.
    pub fn next_hops(&self, prefix: &str) -> Vec<String> {
        let out = self
            .cmd(&format!("show bgp ipv4 unicast {prefix} json"))
            .unwrap_or_default();
        let j: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        let mut v: Vec<String> = j["paths"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| p["nexthops"][0]["ip"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}
