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

/// Why a VIP carries no next hop of its own to a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsent {
    /// The peer's families exclude the VIP's.
    Family(Family),
    NoIpv4,
    NoIpv6,
}

impl std::fmt::Display for Unsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsent::Family(family) => write!(f, "the peer's families exclude {family}"),
            Unsent::NoIpv4 => f.write_str("no IPv4 address on the interface toward this peer"),
            Unsent::NoIpv6 => {
                f.write_str("no global IPv6 address on the interface toward this peer")
            }
        }
    }
}

impl VipPlan<'_> {
    /// The next hop this VIP carries to `peer`, or why it is not sent;
    /// `Ok(None)` for `next_hop = "hosts"`, whose next hops are the peer's
    /// proxied hosts.
    pub fn resolve(&self, peer: &PeerConfig, local: &LocalAddrs) -> Result<Option<IpAddr>, Unsent> {
        let family = self.prefix.family();
        if !peer.families.iter().any(|f| f.0 == family) {
            return Err(Unsent::Family(family));
        }
        let one = match (self.next_hop, family) {
            (NextHopSpec::Hosts, _) => return Ok(None),
            (NextHopSpec::Address(a), _) => Ok(a),
            (NextHopSpec::SelfAddress, Family::IPV4_UNICAST) => {
                local.v4.map(IpAddr::V4).ok_or(Unsent::NoIpv4)
            }
            (NextHopSpec::SelfAddress, _) => local.v6.map(IpAddr::V6).ok_or(Unsent::NoIpv6),
        };
        one.map(Some)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPlan {
    pub peer: PeerConfig,
    /// Why the node selector did not match, if it did not.
    pub selected: Result<(), crate::labels::Mismatch>,
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
mod host_tests;
#[cfg(test)]
mod tests;
