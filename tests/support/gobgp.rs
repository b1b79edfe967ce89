//! GoBGP as a leaf router in a lab namespace.
use super::{sh_ok, Lab};

pub struct GoBgp {
    pub ns: String,
    pub api: String,
    pub proc: usize,
}

/// Global AS and router ID, one neighbor per `(address, AS)`, both
/// families with ADD-PATH receive.
pub fn config(router_id: &str, asn: u32, neighbors: &[(&str, u32)]) -> String {
    let mut c =
        format!("[global.config]\n  as = {asn}\n  router-id = \"{router_id}\"\n  port = 179\n");
    for (addr, peer_as) in neighbors {
        c.push_str(&format!(
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{addr}\"\n    peer-as = {peer_as}\n  \
             [neighbors.timers.config]\n    connect-retry = 1\n"
        ));
        for fam in ["ipv4-unicast", "ipv6-unicast"] {
            c.push_str(&format!(
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{fam}\"\n    \
                 [neighbors.afi-safis.add-paths.config]\n      receive = true\n"
            ));
        }
    }
    c
}

impl GoBgp {
    pub fn start(lab: &mut Lab, ns: &str, name: &str, config: &str) -> GoBgp {
        let conf = lab.write(&format!("{name}.toml"), config);
        let api = "127.0.0.1:50051".to_string();
        let proc = lab.spawn(
            ns,
            &[
                "gobgpd",
                "-f",
                conf.to_str().unwrap(),
                "-t",
                "toml",
                "--api-hosts",
                &api,
                "--log-plain",
            ],
            name,
            &[],
        );
        let g = GoBgp {
            ns: ns.to_string(),
            api,
            proc,
        };
        super::wait_for(
            std::time::Duration::from_secs(10),
            "gobgpd to start",
            || g.cli("global"),
            || lab.log(name),
        );
        g
    }

    pub fn cli(&self, args: &str) -> Option<String> {
        let (host, port) = self.api.split_once(':').unwrap();
        sh_ok(&format!(
            "ip netns exec {} gobgp -u {host} -p {port} {args}",
            self.ns
        ))
    }

    pub fn established(&self, neighbor: &str) -> bool {
        self.cli(&format!("neighbor {neighbor}"))
            .is_some_and(|o| o.to_lowercase().contains("bgp state = established"))
    }

    /// Next hops GoBGP holds for `prefix` (from `global rib`).
    pub fn next_hops(&self, prefix: &str) -> Vec<String> {
        let fam = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        let out = self
            .cli(&format!("global rib -a {fam} {prefix}"))
            .unwrap_or_default();
        let mut v: Vec<String> = out
            .lines()
            .filter(|l| l.contains(prefix.split('/').next().unwrap()))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let i = f.iter().position(|w| w.contains('/'))?;
                f.get(i + 1).map(|s| s.to_string())
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }
}
