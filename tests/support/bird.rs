//! BIRD 2 as a leaf router in a lab namespace.
use super::{sh_ok, Lab};
use std::path::PathBuf;

pub struct Bird {
    pub ns: String,
    pub ctl: PathBuf,
    pub conf: PathBuf,
    pub proc: usize,
}

/// A leaf: AS `asn`, kernel export with ECMP merging, and one BGP
/// protocol per `(name, neighbor, neighbor AS, extra lines)`.
pub fn leaf_config(router_id: &str, asn: u32, peers: &[(&str, &str, u32, &str)]) -> String {
    let mut c = format!(
        "router id {router_id};\n\
         protocol device {{}}\n\
         protocol kernel k4 {{ ipv4 {{ export all; }}; merge paths on; }}\n\
         protocol kernel k6 {{ ipv6 {{ export all; }}; merge paths on; }}\n"
    );
    for (name, neighbor, peer_as, extra) in peers {
        let local = if extra.contains("local ") {
            String::new()
        } else {
            format!("local as {asn};")
        };
        c.push_str(&format!(
            "protocol bgp {name} {{\n  {local}\n  neighbor {neighbor} as {peer_as};\n  connect retry time 1;\n  error wait time 1, 2;\n  {extra}\n  \
             ipv4 {{ import all; export none; add paths rx; }};\n  ipv6 {{ import all; export none; add paths rx; }};\n}}\n"
        ));
    }
    c
}

/// BFD at `ms` milliseconds × 3 on both sides when `on`, else nothing:
/// BIRD's `protocol bfd`, what turns it on in a `protocol bgp`, and
/// leafvip's `bfd = { … }` peer line.
pub fn bfd_parts(on: bool, ms: u32) -> (String, &'static str, String) {
    if !on {
        return (String::new(), "", String::new());
    }
    (
        format!(
            "protocol bfd {{ interface \"*\" {{ min rx interval {ms} ms; min tx interval {ms} ms; }}; }}\n"
        ),
        "bfd on;",
        format!("bfd = {{ min_rx = \"{ms}ms\", min_tx = \"{ms}ms\", multiplier = 3 }}\n"),
    )
}

/// BIRD's Since column. BIRD turns its monotonic clock into wall time
/// each time it prints, so one session's Since can read a millisecond
/// apart from one call to the next (seen in CI: .483, then .484): two
/// readings within 20 ms are the same session, since a new one takes at
/// least the 1 s connect retry.
#[derive(Clone, Debug)]
pub struct Since {
    pub text: String,
    ms: Option<i64>,
}

impl Since {
    fn new(s: &str) -> Since {
        let ms = (|| {
            let (hms, frac) = s.split_once('.')?;
            let mut p = hms.split(':').map(|x| x.parse::<i64>().ok());
            let (h, m, sec) = (p.next()??, p.next()??, p.next()??);
            Some(((h * 60 + m) * 60 + sec) * 1000 + frac.parse::<i64>().ok()?)
        })();
        Since {
            text: s.to_string(),
            ms,
        }
    }
}

impl PartialEq for Since {
    fn eq(&self, o: &Since) -> bool {
        match (self.ms, o.ms) {
            (Some(a), Some(b)) => (a - b).abs() <= 20,
            _ => self.text == o.text,
        }
    }
}

impl std::fmt::Display for Since {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Clone, Debug)]
pub struct BfdRow {
    pub state: String,
    pub since: Since,
    pub interval: String,
    pub timeout: String,
}

impl Bird {
    pub fn start(lab: &mut Lab, ns: &str, name: &str, config: &str) -> Bird {
        let conf = lab.write(&format!("{name}.conf"), config);
        let ctl = lab.path(&format!("{name}.ctl"));
        let proc = lab.spawn(
            ns,
            &[
                "bird",
                "-f",
                "-c",
                conf.to_str().unwrap(),
                "-s",
                ctl.to_str().unwrap(),
            ],
            name,
            &[],
        );
        let b = Bird {
            ns: ns.to_string(),
            ctl,
            conf,
            proc,
        };
        super::wait_for(
            std::time::Duration::from_secs(10),
            "BIRD to start",
            || b.cmd("show status"),
            || lab.log(name),
        );
        b
    }

    pub fn cmd(&self, c: &str) -> Option<String> {
        sh_ok(&format!("birdc -s {} {c}", self.ctl.display()))
    }

    /// When the protocol came up ("up" and BIRD's Since column), or None
    /// when it is not up: the rest of birdc's output may change under load,
    /// this changes only with a flap.
    pub fn up_since(&self, proto: &str) -> Option<Since> {
        let out = self.cmd(&format!("show protocols {proto}"))?;
        let row: Vec<&str> = out
            .lines()
            .find(|l| l.starts_with(&format!("{proto} ")))?
            .split_whitespace()
            .collect();
        (row.get(3) == Some(&"up")).then(|| row.get(4).map(|s| Since::new(s)))?
    }

    /// BIRD's row for `addr` in `show bfd sessions`: state, Since, and the
    /// Interval (TX in force) and Timeout (detection time) in seconds.
    pub fn bfd_session(&self, addr: &str) -> Option<BfdRow> {
        let out = self.cmd("show bfd sessions")?;
        let row: Vec<&str> = out
            .lines()
            .find(|l| l.starts_with(&format!("{addr} ")))?
            .split_whitespace()
            .collect();
        Some(BfdRow {
            state: row.get(2)?.to_string(),
            since: Since::new(row.get(3)?),
            interval: row.get(4)?.to_string(),
            timeout: row.get(5)?.to_string(),
        })
    }

    pub fn established(&self, proto: &str) -> bool {
        self.cmd(&format!("show protocols {proto}"))
            .is_some_and(|o| o.contains("Established"))
    }

    /// `show route for PREFIX all` in the given table ("master4"/"master6").
    pub fn route(&self, prefix: &str) -> String {
        let table = if prefix.contains(':') {
            "master6"
        } else {
            "master4"
        };
        self.cmd(&format!("show route for {prefix} table {table} all"))
            .unwrap_or_default()
    }

    /// The BGP next hops BIRD holds for `prefix`.
    pub fn next_hops(&self, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .route(prefix)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("BGP.next_hop: "))
            .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
            .collect();
        v.sort();
        v
    }

    /// The next hops of `prefix` in the namespace's kernel FIB.
    pub fn fib(&self, prefix: &str) -> Vec<String> {
        let fam = if prefix.contains(':') { "-6" } else { "-4" };
        let out =
            sh_ok(&format!("ip {fam} -n {} route show {prefix}", self.ns)).unwrap_or_default();
        let mut v: Vec<String> = out
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == "via")
            .map(|w| w[1].to_string())
            .collect();
        v.sort();
        v
    }
}

/// The usual leaf of the rack: BIRD on 198.51.100.1, AS 65001, one session
/// `h1` to the host at 198.51.100.3 (AS 65100) with `extra` lines.
pub fn leaf1(lab: &mut Lab, ns: &str, extra: &str) -> Bird {
    Bird::start(
        lab,
        ns,
        "bird",
        &leaf_config(
            "198.51.100.1",
            65001,
            &[("h1", "198.51.100.3", 65100, extra)],
        ),
    )
}
