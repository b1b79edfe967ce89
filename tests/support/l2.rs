//! The layer-2 lab: a bridge (`sw`, multicast snooping off) with a
//! client (`c`, 198.51.100.100, 2001:db8:2::100) and hosts, each with a
//! fixed MAC (02:00:00:00:00:NN), the VIPs on `lo` with `arp_ignore=1`
//! and `arp_announce=2`, and `echo.py` on port 8080 naming the host. The
//! hosts run leafvip or keepalived 2.2.7 at 100 ms adverts, one IPv4 and
//! one IPv6 VIP on VRID 10. What tests look at is what the client sees:
//! the MACs that answer its ARP requests and Neighbor Solicitations
//! (tcpdump), and the host a new TCP connection reaches.
use super::{sh, sh_ok, wait_for, Lab};
use std::collections::BTreeSet;
use std::time::Duration;

pub const VIP4: &str = "198.51.100.10";
pub const VIP6: &str = "2001:db8:2::10";

pub struct L2Lab {
    pub lab: Lab,
    pub client: String,
    ns: Vec<(String, String)>,
}

pub fn mac(n: u8) -> String {
    format!("02:00:00:00:00:{n:02x}")
}

/// A leafvip host's config at this priority; `extra` goes into each VIP.
pub fn leafvip_config(priority: u8, extra: &str) -> String {
    let vip = |prefix: &str| {
        format!(
            "[[vip]]\nprefix = \"{prefix}\"\nmode = \"l2\"\ninterface = \"eth0\"\nvrid = 10\n\
             priority = {priority}\nadvert_interval = \"100ms\"\ngarp_count = 3\n{extra}\n"
        )
    };
    let http = match cfg!(feature = "metrics") {
        true => "[control]\nhttp = \"127.0.0.1:9179\"\n\n",
        false => "",
    };
    format!(
        "[bgp]\ndrain_time = 2\n\n{http}{}{}",
        vip(&format!("{VIP4}/32")),
        vip(&format!("{VIP6}/128"))
    )
}

/// keepalived's config for a host at this priority: both VIPs, VRRPv3,
/// 100 ms adverts, its defaults otherwise.
pub fn keepalived_config(host: &str, priority: u8) -> String {
    let inst = |name: &str, vip: &str| {
        format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 10\n  \
             priority {priority}\n  advert_int 0.1\n  virtual_ipaddress {{\n    {vip}\n  }}\n}}\n"
        )
    };
    format!(
        "global_defs {{\n  router_id {host}\n  vrrp_version 3\n}}\n{}{}",
        inst("v4", &format!("{VIP4}/32")),
        inst("v6", &format!("{VIP6}/128"))
    )
}

impl L2Lab {
    /// The segment, the hosts' addresses and services; nothing started.
    /// Host `hN` or `kN` has MAC number N and addresses .N and ::N; an
    /// `hN` (for leafvip) has the VIPs on lo.
    pub fn new(hosts: &[&str]) -> L2Lab {
        let mut lab = Lab::new("l2");
        let sw = lab.ns("sw");
        sh(&format!(
            "ip -n {sw} link add br0 type bridge mcast_snooping 0 && ip -n {sw} link set br0 up"
        ));
        let mut ns = Vec::new();
        let named = hosts
            .iter()
            .map(|h| (h[1..].parse::<u8>().expect("hN or kN"), *h));
        for (n, name) in std::iter::once((100u8, "c")).chain(named) {
            let x = lab.ns(name);
            // No duplicate address detection: VRRP for IPv6 speaks from
            // the link-local address, which must not be tentative.
            sh(&format!(
                "ip netns exec {x} sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0"
            ));
            let (a4, a6) = (
                format!("198.51.100.{n}/24"),
                format!("2001:db8:2::{n:x}/64"),
            );
            lab.link(&x, "eth0", &[], &sw, &format!("p-{name}"), &[]);
            // The MAC first: a link going down drops its IPv6 addresses.
            sh(&format!(
                "ip -n {x} link set eth0 down && ip -n {x} link set eth0 address {} && ip -n {x} link set eth0 up && \
                 ip -n {x} addr add {a4} dev eth0 && ip -n {x} addr add {a6} dev eth0 nodad && \
                 ip -n {sw} link set p-{name} master br0",
                mac(n)
            ));
            // Hosts, not routers: nothing a host cannot take is forwarded.
            sh(&format!(
                "ip netns exec {x} sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0"
            ));
            if name.starts_with('h') {
                // leafvip's hosts accept the VIPs from lo; arp_ignore keeps
                // the kernel from answering for them (ARCHITECTURE.md).
                // keepalived's (kN) are set up as keepalived's users do: it
                // puts the VIP on the interface itself.
                sh(&format!(
                    "ip -n {x} addr add {VIP4}/32 dev lo && ip -n {x} addr add {VIP6}/128 dev lo && \
                     ip netns exec {x} sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2"
                ));
            }
            if name != "c" {
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/echo.py");
                lab.spawn(
                    &x,
                    &["python3", script, name, "::", "8080"],
                    &format!("echo-{name}"),
                    &[],
                );
            }
            ns.push((name.to_string(), x));
        }
        let client = ns[0].1.clone();
        L2Lab { lab, client, ns }
    }

    pub fn ns(&self, name: &str) -> String {
        self.ns.iter().find(|(n, _)| n == name).unwrap().1.clone()
    }

    /// leafvip on host `host`, logging (and its socket) as `name`.
    pub fn start_leafvip(&mut self, host: &str, name: &str, priority: u8) -> usize {
        let ns = self.ns(host);
        self.lab.leafvip(&ns, name, &leafvip_config(priority, ""))
    }

    /// keepalived on host `host` at `priority`, logging as `keepalived-HOST`.
    pub fn start_keepalived(&mut self, host: &str, priority: u8) -> usize {
        self.start_keepalived_with(host, &keepalived_config(host, priority))
    }

    /// keepalived on host `host` with this config.
    pub fn start_keepalived_with(&mut self, host: &str, config: &str) -> usize {
        let ns = self.ns(host);
        let conf = self.lab.write(&format!("keepalived-{host}.conf"), config);
        let pid = self.lab.path(&format!("keepalived-{host}.pid"));
        let vpid = self.lab.path(&format!("keepalived-{host}-vrrp.pid"));
        self.lab.spawn(
            &ns,
            &[
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
                conf.to_str().unwrap(),
                "-p",
                pid.to_str().unwrap(),
                "-r",
                vpid.to_str().unwrap(),
            ],
            &format!("keepalived-{host}"),
            &[],
        )
    }

    /// The host whose service a new connection to `vip` reaches.
    pub fn reached(&self, vip: &str) -> Option<String> {
        let out = sh_ok(&format!(
            "ip netns exec {} timeout 1 bash -c 'exec 3<>/dev/tcp/{vip}/8080; head -1 <&3'",
            self.client
        ))?;
        let name = out.trim().to_string();
        (!name.is_empty()).then_some(name)
    }

    pub fn wait_reached(&self, vip: &str, host: &str) {
        wait_for(
            Duration::from_secs(10),
            &format!("{vip} to reach {host}"),
            || (self.reached(vip).as_deref() == Some(host)).then_some(()),
            || format!("{:?}", self.reached(vip)),
        );
    }

    /// The MACs that answer the client's ARP request for VIP4 and its
    /// Neighbor Solicitation for VIP6, from a capture on the client.
    pub fn answering(&mut self) -> (BTreeSet<String>, BTreeSet<String>) {
        let c = self.client.clone();
        let (i, pcap) = self.lab.capture(&c, "eth0", "answers", "arp or icmp6");
        let _ = sh_ok(&format!(
            "ip netns exec {c} arping -q -c 2 -W 0.1 -i eth0 {VIP4}"
        ));
        let _ = sh_ok(&format!(
            "ip netns exec {c} ndisc6 -q -m -r 2 -w 300 {VIP6} eth0"
        ));
        std::thread::sleep(Duration::from_millis(300));
        self.lab.proc(i).stop();
        let text = sh(&format!("tcpdump -e -n -r {} 2>/dev/null", pcap.display()));
        let to_client = format!("> {},", mac(100));
        let mut v4 = BTreeSet::new();
        let mut v6 = BTreeSet::new();
        for line in text.lines().filter(|l| l.contains(&to_client)) {
            let src = line.split_whitespace().nth(1).unwrap_or("").to_string();
            if line.contains(&format!("Reply {VIP4} is-at")) {
                v4.insert(src);
            } else if line.contains(&format!("neighbor advertisement, tgt is {VIP6}")) {
                v6.insert(src);
            }
        }
        (v4, v6)
    }

    /// Waits until exactly the host with MAC number `n` answers for both
    /// VIPs.
    pub fn wait_alone(&mut self, n: u8, what: &str) {
        let want: BTreeSet<String> = [mac(n)].into();
        let mut last = (BTreeSet::new(), BTreeSet::new());
        for _ in 0..10 {
            last = self.answering();
            if last.0 == want && last.1 == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{what}: want only {} answering, saw ARP {:?} NDP {:?}",
            mac(n),
            last.0,
            last.1
        );
    }

    /// Whether the VIP is on `host`'s eth0, where keepalived puts it.
    pub fn on_interface(&self, host: &str) -> bool {
        let ns = self.ns(host);
        sh(&format!("ip -n {ns} addr show dev eth0")).contains(VIP4)
    }
}

/// Short requests from the client (`support/load.py`, 100 a second, each
/// a new connection that must bring the host's name within 1 s) and
/// `flows` long flows to both VIPs, while `event` runs; `load.py`'s
/// answer for each.
pub fn under_load(
    l: &mut L2Lab,
    secs: u32,
    flows: u32,
    event: impl FnOnce(&mut L2Lab),
) -> Vec<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/load.py");
    let loads: Vec<_> = [VIP4, VIP6]
        .iter()
        .map(|vip| {
            let ready = l.lab.path(&format!("ready-{}", vip.len()));
            let client = l.client.clone();
            let vip = vip.to_string();
            let t = std::thread::spawn({
                let ready = ready.clone();
                move || {
                    std::process::Command::new("ip")
                        .args(["netns", "exec", &client, "python3", script, &vip, "8080"])
                        .args([secs.to_string(), "100".into(), flows.to_string()])
                        .arg(&ready)
                        .output()
                        .expect("load.py")
                }
            });
            (ready, t)
        })
        .collect();
    for (ready, _) in &loads {
        wait_for(
            Duration::from_secs(10),
            "the load",
            || ready.exists().then_some(()),
            String::new,
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    event(l);
    loads
        .into_iter()
        .map(|(_, t)| {
            let o = t.join().unwrap();
            serde_json::from_slice(&o.stdout)
                .unwrap_or_else(|e| panic!("load.py: {e}: {}", String::from_utf8_lossy(&o.stderr)))
        })
        .collect()
}
