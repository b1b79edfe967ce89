//! The pure decision: given the config, the node's labels and the local
//! addresses, which peers this node talks to and which routes each gets.
//! `leafvip check` prints it and the daemon applies it, so the two cannot
//! disagree.
use crate::config::{Config, NextHopSpec, PeerConfig, VipConfig};
use crate::hosts::HostConfig;
use crate::labels::Labels;
use leafvip_bgp::rib_out::Route;
use leafvip_bgp::session::{GracefulRestartConfig, SessionConfig};
use leafvip_bgp::wire::{Family, FamilySet, Prefix};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

/// This host's addresses as seen from one peer: the source address of the
/// session's family, and a global address of the other family on the same
/// interface (for the other family's VIPs over MP-BGP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalAddrs {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
    /// Prefix lengths of the connected subnets those addresses are on
    /// (0 = unknown): hosts there are reachable from the peer too.
    pub v4_plen: u8,
    pub v6_plen: u8,
}

impl LocalAddrs {
    /// Whether `a` is on the connected subnet toward the peer.
    pub fn on_link(&self, a: IpAddr) -> bool {
        let same = |x: u128, y: u128, bits: u32, plen: u8| {
            plen != 0 && {
                let shift = bits - u32::from(plen);
                x.checked_shr(shift).unwrap_or(0) == y.checked_shr(shift).unwrap_or(0)
            }
        };
        match (a, self.v4, self.v6) {
            (IpAddr::V4(a), Some(l), _) => {
                same(u32::from(a).into(), u32::from(l).into(), 32, self.v4_plen)
            }
            (IpAddr::V6(a), _, Some(l)) => same(a.into(), l.into(), 128, self.v6_plen),
            _ => false,
        }
    }
}

pub use crate::vip_list::{VipPlan, Vips};

/// An iterator that knows its length in advance.
struct Counted<I> {
    left: usize,
    inner: I,
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let x = self.inner.next()?;
        self.left = self.left.saturating_sub(1);
        Some(x)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Inline VIPs and file ones, as a list (tests and tools; the daemon
/// reads the file straight into its list, `vips_file::read`).
pub fn vip_plans<'a>(
    inline: impl Iterator<Item = &'a VipConfig>,
    file: Vec<(Prefix, NextHopSpec)>,
) -> Vips {
    let inline: Vec<&VipConfig> = inline.collect();
    let mut b = crate::vip_list::Builder::with_capacity(inline.len() + file.len());
    for v in inline {
        b.push_config(v);
    }
    for (p, h) in file {
        b.push(p, h);
    }
    // The config refused duplicates already.
    Arc::new(b.finish().unwrap_or_default())
}

/// A `[[host]]` this peer can reach, healthy now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedHost {
    pub name: String,
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<std::net::Ipv6Addr>,
}

impl ProxiedHost {
    fn addr(&self, family: Family) -> Option<IpAddr> {
        if family == Family::IPV4_UNICAST {
            self.v4.map(IpAddr::V4)
        } else {
            self.v6.map(IpAddr::V6)
        }
    }
}

impl VipPlan<'_> {
    /// The next hop this VIP carries to `peer`, or why it is not sent;
    /// `Ok(None)` for `next_hop = "hosts"`, whose next hops are the peer's
    /// proxied hosts.
    pub fn resolve(&self, peer: &PeerConfig, local: &LocalAddrs) -> Result<Option<IpAddr>, String> {
        let family = self.prefix.family();
        if !peer.families.iter().any(|f| f.0 == family) {
            return Err(format!("the peer's families exclude {family}"));
        }
        let one = match (self.next_hop, family) {
            (NextHopSpec::Hosts, _) => return Ok(None),
            (NextHopSpec::Address(a), _) => Ok(a),
            (NextHopSpec::SelfAddress, Family::IPV4_UNICAST) => local
                .v4
                .map(IpAddr::V4)
                .ok_or_else(|| "no IPv4 address on the interface toward this peer".to_string()),
            (NextHopSpec::SelfAddress, _) => local.v6.map(IpAddr::V6).ok_or_else(|| {
                "no global IPv6 address on the interface toward this peer".to_string()
            }),
        };
        one.map(Some)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPlan {
    pub peer: PeerConfig,
    /// Why the node selector did not match, if it did not.
    pub selected: Result<(), String>,
    /// Shared by every peer and by the daemon: one copy of a long list.
    pub vips: Vips,
    /// Healthy `[[host]]`s whose labels match this peer's node_selector:
    /// the next hops of `next_hop = "hosts"` VIPs. A host of another rack
    /// is never offered to this peer, which could not reach it.
    pub hosts: Vec<ProxiedHost>,
    /// The other healthy hosts: offered only if they sit on the connected
    /// subnet toward the peer (known once the session's addresses are).
    pub others: Vec<ProxiedHost>,
    /// Draining (RFC 8326): every route carries GRACEFUL_SHUTDOWN, and
    /// LOCAL_PREF 0 toward internal peers.
    pub drain: bool,
}

impl PeerPlan {
    /// The proxied next hops of `family` this peer can reach.
    pub fn host_hops<'a>(
        &'a self,
        family: Family,
        local: &'a LocalAddrs,
    ) -> impl Iterator<Item = (IpAddr, &'a str)> + 'a {
        let rack = self
            .hosts
            .iter()
            .filter_map(move |h| h.addr(family).map(|a| (a, h.name.as_str())));
        let link = self.others.iter().filter_map(move |h| {
            h.addr(family)
                .filter(|a| local.on_link(*a))
                .map(|a| (a, h.name.as_str()))
        });
        rack.chain(link)
    }
}

impl PeerPlan {
    /// The routes to announce, given the addresses the session sees.
    /// Lazy, so that a long VIP list is never copied into a second list,
    /// and counted first, so that the Adj-RIB-Out that collects them
    /// allocates its table once: growing it by doubling held the old and
    /// the new buffer at once, 9 MB at 100k routes.
    pub fn routes<'a>(&'a self, local: &'a LocalAddrs) -> impl Iterator<Item = Route> + 'a {
        let all = move || self.vips.iter().flat_map(move |v| self.routes_of(v, local));
        Counted {
            left: all().count(),
            inner: all(),
        }
    }

    /// The paths one VIP offers this peer.
    pub fn routes_of<'a>(
        &'a self,
        v: VipPlan<'a>,
        local: &'a LocalAddrs,
    ) -> impl Iterator<Item = Route> + 'a {
        let (one, proxied) = match v.resolve(&self.peer, local) {
            _ if v.withdrawn => (None, false),
            Ok(Some(a)) => (Some(a), false),
            Ok(None) => (None, true),
            Err(_) => (None, false),
        };
        let family = v.prefix.family();
        let attrs = if self.drain { v.drained } else { v.attrs };
        let hops = self
            .host_hops(family, local)
            .filter(move |(_, name)| {
                proxied
                    && v.only
                        .is_none_or(|o| o.binary_search_by(|x| x.as_str().cmp(name)).is_ok())
            })
            .map(|(a, _)| a);
        one.into_iter().chain(hops).map(move |next_hop| Route {
            prefix: v.prefix,
            next_hop,
            attrs: attrs.clone(),
        })
    }

    /// One VIP of this plan by prefix.
    pub fn vip(&self, p: &Prefix) -> Option<VipPlan<'_>> {
        self.vips.get(p)
    }

    pub fn session_config(
        &self,
        local_as: u32,
        router_id: Ipv4Addr,
        gr_time: u16,
        seed: u64,
    ) -> SessionConfig {
        let p = &self.peer;
        let families: FamilySet = p.families.iter().map(|f| f.0).collect();
        let mut c = SessionConfig::new(local_as, p.asn, router_id);
        c.hold_time = p.hold_time;
        c.keepalive = p.keepalive.map(|k| Duration::from_secs(u64::from(k)));
        if let Some(r) = p.connect_retry {
            c.connect_retry = Duration::from_secs(u64::from(r.max(1)));
        }
        c.passive = p.passive;
        c.families = families;
        c.add_path_send_max = usize::from(p.add_paths_send_max.max(1));
        c.add_path_send = if p.add_paths_send_max > 1 {
            families
        } else {
            FamilySet::EMPTY
        };
        c.graceful_restart = (gr_time > 0).then_some(GracefulRestartConfig {
            restart_time: gr_time,
            forwarding: true,
            restarting: false,
        });
        c.seed = seed;
        c
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub node: String,
    pub labels: Labels,
    pub peers: Vec<PeerPlan>,
}

fn proxied(
    cfg: &Config,
    extra: &[HostConfig],
    healthy: &dyn Fn(&str) -> bool,
    keep: impl Fn(&HostConfig) -> bool,
) -> Vec<ProxiedHost> {
    cfg.hosts()
        .chain(extra)
        .filter(|h| keep(h))
        .filter(|h| h.check.is_none() || healthy(&h.name))
        .map(|h| ProxiedHost {
            name: h.name.clone(),
            v4: h.address,
            v6: h.address6,
        })
        .collect()
}

impl Plan {
    /// `healthy` says which checked `[[host]]`s pass their check now.
    pub fn new(
        cfg: &Config,
        node: String,
        labels: Labels,
        vips: Vips,
        healthy: &dyn Fn(&str) -> bool,
    ) -> Plan {
        Plan::with_peers(cfg, (&[], &[]), node, labels, vips, healthy)
    }

    /// The same with peers and hosts from elsewhere beside the config's
    /// `[[peer]]` and `[[host]]` tables: in cluster mode, OpenELB's BgpPeer
    /// objects, and the Ready Nodes a rack speaker announces.
    pub fn with_peers(
        cfg: &Config,
        (extra, hosts): (&[PeerConfig], &[HostConfig]),
        node: String,
        labels: Labels,
        vips: Vips,
        healthy: &dyn Fn(&str) -> bool,
    ) -> Plan {
        let peers = cfg
            .peers()
            .chain(extra)
            .map(|p| PeerPlan {
                peer: p.clone(),
                selected: p
                    .node_selector
                    .as_ref()
                    .map_or(Ok(()), |s| s.matches(&labels)),
                vips: vips.clone(),
                hosts: proxied(cfg, hosts, healthy, |h| {
                    p.node_selector
                        .as_ref()
                        .is_none_or(|s| s.matches(&h.labels).is_ok())
                }),
                others: proxied(cfg, hosts, healthy, |h| {
                    p.node_selector
                        .as_ref()
                        .is_some_and(|s| s.matches(&h.labels).is_err())
                }),
                drain: false,
            })
            .collect();
        Plan {
            node,
            labels,
            peers,
        }
    }

    /// The same plan, every peer draining or not.
    pub fn drained(mut self, on: bool) -> Plan {
        for p in &mut self.peers {
            p.drain = on;
        }
        self
    }

    pub fn selected(&self) -> impl Iterator<Item = &PeerPlan> {
        self.peers.iter().filter(|p| p.selected.is_ok())
    }

    /// The report `leafvip check` prints, with each selected peer's local
    /// addresses supplied by `addrs`.
    pub fn report(&self, addrs: impl Fn(&PeerConfig) -> LocalAddrs) -> Report<'_> {
        let local = self.peers.iter().map(|p| addrs(&p.peer)).collect();
        Report { plan: self, local }
    }
}

pub struct Report<'a> {
    plan: &'a Plan,
    local: Vec<LocalAddrs>,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.plan;
        writeln!(f, "node {}", p.node)?;
        let labels: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(
            f,
            "labels {}",
            if labels.is_empty() {
                "(none)".into()
            } else {
                labels.join(" ")
            }
        )?;
        for (peer, local) in p.peers.iter().zip(&self.local) {
            let c = &peer.peer;
            let desc = c
                .description
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            match &peer.selected {
                Err(why) => {
                    writeln!(
                        f,
                        "peer {} AS{}{desc}: not selected: {why}",
                        c.address, c.asn
                    )?;
                    continue;
                }
                Ok(()) => writeln!(f, "peer {} AS{}{desc}: selected", c.address, c.asn)?,
            }
            if c.add_paths_send_max <= 1 {
                writeln!(f, "  ADD-PATH not offered: one path per prefix")?;
            }
            for v in peer.vips.iter() {
                match v.resolve(c, local) {
                    Ok(Some(nh)) => writeln!(f, "  vip {} next hop {nh}", v.prefix)?,
                    Ok(None) => {
                        let family = v.prefix.family();
                        let hops: Vec<String> = peer
                            .host_hops(family, local)
                            .map(|(a, n)| format!("{a} ({n})"))
                            .collect();
                        if hops.is_empty() {
                            writeln!(f, "  vip {} not sent: no healthy [[host]] with a {family} address matches this peer's node_selector or is on its subnet", v.prefix)?;
                        } else {
                            let note = if hops.len() > 1 {
                                "; more than one needs ADD-PATH at the peer"
                            } else {
                                ""
                            };
                            writeln!(f, "  vip {} next hops {}{note}", v.prefix, hops.join(", "))?;
                        }
                    }
                    Err(why) => writeln!(f, "  vip {} not sent: {why}", v.prefix)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
[bgp]
asn = 65100
[[peer]]
address = "198.51.100.2"
asn = 65001
description = "leaf1"
node_selector = { match_labels = { rack = "leaf1" } }
[[peer]]
address = "203.0.113.2"
asn = 65002
node_selector = { match_labels = { rack = "leaf2" } }
[[peer]]
address = "192.0.2.1"
asn = 65003
families = ["ipv4-unicast"]
[[vip]]
prefix = "192.0.2.200/32"
[[vip]]
prefix = "2001:db8:1::200/128"
"#;

    fn labels(rack: &str) -> Labels {
        [("rack".to_string(), rack.to_string())]
            .into_iter()
            .collect()
    }

    #[test]
    fn selects_by_labels_and_explains() {
        let cfg = Config::parse("t", CFG).unwrap();
        let plan = Plan::new(
            &cfg,
            "master1".into(),
            labels("leaf1"),
            vip_plans(cfg.vips(), Vec::new()),
            &|_| true,
        );
        let sel: Vec<String> = plan
            .selected()
            .map(|p| p.peer.address.to_string())
            .collect();
        assert_eq!(
            sel,
            vec!["198.51.100.2", "192.0.2.1"],
            "no selector = every node"
        );
        let local = LocalAddrs {
            v4: Some("198.51.100.3".parse().unwrap()),
            ..LocalAddrs::default()
        };
        let text = plan.report(|_| local).to_string();
        assert!(text.contains("peer 198.51.100.2 AS65001 (leaf1): selected\n  vip 192.0.2.200/32 next hop 198.51.100.3\n"), "{text}");
        assert!(
            text.contains("vip 2001:db8:1::200/128 not sent: no global IPv6 address"),
            "{text}"
        );
        assert!(text.contains("peer 203.0.113.2 AS65002: not selected: match_labels rack=leaf2: node has rack=leaf1"), "{text}");
        assert!(
            text.contains("not sent: the peer's families exclude ipv6-unicast"),
            "{text}"
        );
    }

    #[test]
    fn routes_follow_the_session_addresses() {
        let cfg = Config::parse("t", CFG).unwrap();
        let plan = Plan::new(
            &cfg,
            "n".into(),
            labels("leaf1"),
            vip_plans(cfg.vips(), Vec::new()),
            &|_| true,
        );
        let p = &plan.peers[0];
        let both = LocalAddrs {
            v4: Some("198.51.100.3".parse().unwrap()),
            v6: Some("2001:db8::3".parse().unwrap()),
            ..LocalAddrs::default()
        };
        let r: Vec<Route> = p.routes(&both).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].next_hop, "2001:db8::3".parse::<IpAddr>().unwrap());
        let sc = p.session_config(65100, "198.51.100.3".parse().unwrap(), 120, 7);
        assert_eq!(
            (sc.remote_as, sc.hold_time, sc.families),
            (65001, 90, FamilySet::BOTH)
        );
        assert_eq!(sc.add_path_send, FamilySet::BOTH);
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;

    const CFG: &str = r#"
[bgp]
asn = 65100
[[peer]]
address = "198.51.100.1"
asn = 65001
node_selector = { match_labels = { rack = "leaf1" } }
[[host]]
name = "master1"
address = "198.51.100.3"
labels = { rack = "leaf1" }
[[host]]
name = "worker1"
address = "198.51.100.4"
address6 = "2001:db8:100::4"
labels = { rack = "leaf1" }
check = { tcp = "198.51.100.4:8080", interval = "1s", rise = 2, fall = 2 }
[[host]]
name = "worker2"
address = "203.0.113.4"
labels = { rack = "leaf2" }
[[vip]]
prefix = "192.0.2.200/32"
next_hop = "hosts"
[[vip]]
prefix = "2001:db8:1::200/128"
next_hop = "hosts"
"#;

    fn plan(healthy: bool) -> Plan {
        let cfg = Config::parse("t", CFG).unwrap();
        let labels: Labels = [("rack".to_string(), "leaf1".to_string())]
            .into_iter()
            .collect();
        Plan::new(
            &cfg,
            "master1".into(),
            labels,
            vip_plans(cfg.vips(), Vec::new()),
            &|_| healthy,
        )
    }

    #[test]
    fn hosts_of_the_peers_rack_only_and_healthy_only() {
        let p = plan(true);
        let routes: Vec<String> = p.peers[0]
            .routes(&LocalAddrs::default())
            .map(|r| format!("{} {}", r.prefix, r.next_hop))
            .collect();
        assert_eq!(
            routes,
            [
                "192.0.2.200/32 198.51.100.3",
                "192.0.2.200/32 198.51.100.4",
                "2001:db8:1::200/128 2001:db8:100::4"
            ]
        );
        let text = p.report(|_| LocalAddrs::default()).to_string();
        assert!(text.contains("vip 192.0.2.200/32 next hops 198.51.100.3 (master1), 198.51.100.4 (worker1); more than one needs ADD-PATH"), "{text}");
        assert!(
            !text.contains("203.0.113.4"),
            "worker2 is in another rack: {text}"
        );
        // worker1 fails its check: only master1 is left, and no IPv6 host.
        let p = plan(false);
        let routes: Vec<String> = p.peers[0]
            .routes(&LocalAddrs::default())
            .map(|r| r.next_hop.to_string())
            .collect();
        assert_eq!(routes, ["198.51.100.3"]);
        let text = p.report(|_| LocalAddrs::default()).to_string();
        assert!(
            text.contains(
                "vip 2001:db8:1::200/128 not sent: no healthy [[host]] with a ipv6-unicast address"
            ),
            "{text}"
        );
    }

    #[test]
    fn hosts_on_the_peers_subnet_are_reachable_too() {
        let p = plan(true);
        // worker2 (203.0.113.4) is in another rack by its labels, but sits on
        // the connected subnet of a session sourced from 203.0.113.3/24.
        let on_link = LocalAddrs {
            v4: Some("203.0.113.3".parse().unwrap()),
            v4_plen: 24,
            ..LocalAddrs::default()
        };
        let hops: Vec<String> = p.peers[0]
            .routes(&on_link)
            .filter(|r| r.next_hop.is_ipv4())
            .map(|r| r.next_hop.to_string())
            .collect();
        assert_eq!(hops, ["198.51.100.3", "198.51.100.4", "203.0.113.4"]);
        let other_net = LocalAddrs {
            v4: Some("198.51.100.3".parse().unwrap()),
            v4_plen: 25,
            ..LocalAddrs::default()
        };
        assert_eq!(
            p.peers[0].routes(&other_net).count(),
            3,
            "198.51.100.3/25 does not hold 203.0.113.4: master1, worker1, and worker1's IPv6"
        );
        assert!(
            !other_net.on_link("203.0.113.4".parse().unwrap())
                && other_net.on_link("198.51.100.100".parse().unwrap())
        );
    }

    /// Cluster mode's rack speaker: Nodes come as hosts beside the
    /// config's, and a `Local` Service's address goes only to its nodes.
    #[test]
    fn cluster_nodes_are_hosts_and_a_vip_may_name_its_only_hosts() {
        let cfg = Config::parse("t", "[bgp]\nasn = 65100\n[[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nnode_selector = { match_labels = { rack = \"leaf1\" } }\n").unwrap();
        let node = |name: &str, a: &str, rack: &str| HostConfig {
            name: name.into(),
            address: Some(a.parse().unwrap()),
            address6: None,
            labels: [("rack".to_string(), rack.to_string())]
                .into_iter()
                .collect(),
            check: None,
        };
        let nodes = [
            node("n1", "198.51.100.3", "leaf1"),
            node("n2", "198.51.100.4", "leaf1"),
            node("n3", "198.51.100.130", "leaf2"),
        ];
        let all = crate::vip_list::Hop::from(NextHopSpec::Hosts);
        let only_n2 = crate::vip_list::Hop {
            spec: NextHopSpec::Hosts,
            only: Some(vec!["n2".to_string(), "n3".to_string()].into()),
            withdrawn: false,
        };
        let vips = Arc::new(crate::vip_list::VipList::default().with_extra(&[
            ("192.0.2.1/32".parse().unwrap(), all),
            ("192.0.2.2/32".parse().unwrap(), only_n2),
        ]));
        let labels: Labels = [("rack".to_string(), "leaf1".to_string())]
            .into_iter()
            .collect();
        let p = Plan::with_peers(&cfg, (&[], &nodes), "n1".into(), labels, vips, &|_| false);
        let routes: Vec<String> = p.peers[0]
            .routes(&LocalAddrs::default())
            .map(|r| format!("{} {}", r.prefix, r.next_hop))
            .collect();
        assert_eq!(
            routes,
            [
                "192.0.2.1/32 198.51.100.3",
                "192.0.2.1/32 198.51.100.4",
                "192.0.2.2/32 198.51.100.4"
            ],
            "n3 is in another rack; an unchecked host needs no health"
        );
    }

    #[test]
    fn host_errors_name_their_line() {
        let e = Config::parse(
            "t",
            &CFG.replace(
                "name = \"worker2\"\naddress = \"203.0.113.4\"",
                "name = \"worker2\"",
            ),
        )
        .unwrap_err();
        assert!(e.to_string().contains("host worker2: needs address"), "{e}");
        let e =
            Config::parse("t", &CFG.replace("interval = \"1s\"", "interval = \"1h\"")).unwrap_err();
        assert!(
            e.to_string().starts_with("t:17:") && e.problem.contains("duration"),
            "{e}"
        );
        let e = Config::parse(
            "t",
            &CFG.replace("name = \"worker2\"", "name = \"worker1\""),
        )
        .unwrap_err();
        assert!(e.problem.contains("configured twice"), "{e}");
    }
}
