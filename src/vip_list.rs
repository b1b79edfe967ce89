//! The VIP list every peer plans from, kept small: a VIP is its prefix and
//! two indices, into a table of the (few) distinct next hops and one of
//! the (few) distinct attribute sets. 28 bytes a VIP instead of 48, which
//! at 100k VIPs is 2 MB of a daemon that aims to stay under 10 MiB.
//!
//! Sorted by prefix: status finds a VIP by binary search and pages through
//! them in order, and duplicates sit side by side.
use crate::config::{NextHopSpec, VipConfig};
use crate::vip_check::DownAction;
use leafvip_bgp::rib_out::RouteAttrs;
use leafvip_bgp::wire::community;
use leafvip_bgp::wire::Prefix;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    prefix: Prefix,
    hop: u32,
    attrs: u32,
}

/// A next hop as the table keeps it: the spec, and for `hosts` the only
/// hosts that may carry this VIP (a `Local` Service's nodes with ready
/// endpoints, in cluster mode); None means every host the peer reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hop {
    pub spec: NextHopSpec,
    /// Sorted host names.
    pub only: Option<Arc<[String]>>,
    /// Its check is down and the VIP withdrawn: kept in the list (status
    /// still describes it), offered to no peer.
    pub withdrawn: bool,
}

impl From<NextHopSpec> for Hop {
    fn from(spec: NextHopSpec) -> Hop {
        Hop {
            spec,
            only: None,
            withdrawn: false,
        }
    }
}

/// The list, shared (not copied) by the daemon and every peer task.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VipList {
    entries: Vec<Entry>,
    hops: Vec<Hop>,
    attrs: Vec<Arc<RouteAttrs>>,
    /// Each attribute set as a drain sends it ([`drained`]), made with the
    /// list: a drain changes no entry, only which table a peer reads.
    drained: Vec<Arc<RouteAttrs>>,
}

/// What a draining speaker sends (RFC 8326): the GRACEFUL_SHUTDOWN
/// community added, and LOCAL_PREF 0 (sent to internal peers only).
pub fn drained(a: &RouteAttrs) -> RouteAttrs {
    let mut d = a.clone();
    if !d.communities.contains(&community::GRACEFUL_SHUTDOWN) {
        d.communities.push(community::GRACEFUL_SHUTDOWN);
    }
    d.local_pref = Some(0);
    d
}

pub type Vips = Arc<VipList>;

impl VipList {
    /// This list and `extra` (addresses of LoadBalancer Services, with
    /// default attributes); a prefix already here keeps its settings.
    pub fn with_extra(&self, extra: &[(Prefix, Hop)]) -> VipList {
        let mut b = Builder::with_capacity(self.entries.len() + extra.len());
        b.list.hops = self.hops.clone();
        b.list.attrs = self.attrs.clone();
        if b.list.attrs.is_empty() {
            b.list.attrs.push(Arc::new(RouteAttrs::default()));
        }
        b.list.entries.extend_from_slice(&self.entries);
        for (p, h) in extra.iter().filter(|(p, _)| self.get(p).is_none()) {
            // A node set is a rack speaker's Local Service's own: the scan
            // that interns the config's few next hops would be quadratic.
            let hop = match h.only {
                None => b.hop(h.clone()),
                Some(_) => {
                    b.list.hops.push(h.clone());
                    (b.list.hops.len() - 1) as u32
                }
            };
            b.list.entries.push(Entry {
                prefix: *p,
                hop,
                attrs: 0,
            });
        }
        let e = &mut b.list.entries;
        e.sort_unstable_by_key(|e| e.prefix);
        e.dedup_by_key(|e| e.prefix);
        b.list.fill_drained();
        b.list
    }

    /// This list with the VIPs whose check is down withdrawn or degraded.
    /// A copy, O(VIPs); each down VIP is found by binary search.
    pub fn with_down(&self, down: &[(Prefix, &DownAction)]) -> VipList {
        let mut l = VipList {
            entries: self.entries.clone(),
            hops: self.hops.clone(),
            attrs: self.attrs.clone(),
            drained: Vec::new(),
        };
        for (p, action) in down {
            let Ok(i) = l.entries.binary_search_by(|e| e.prefix.cmp(p)) else {
                continue;
            };
            let e = &mut l.entries[i];
            match action {
                DownAction::Withdraw => {
                    let mut h = l.hops[e.hop as usize].clone();
                    h.withdrawn = true;
                    e.hop = match l.hops.iter().position(|x| *x == h) {
                        Some(i) => i as u32,
                        None => {
                            l.hops.push(h);
                            (l.hops.len() - 1) as u32
                        }
                    };
                }
                DownAction::Degrade { med, communities } => {
                    let mut a = RouteAttrs::clone(&l.attrs[e.attrs as usize]);
                    if med.is_some() {
                        a.med = *med;
                    }
                    for c in communities {
                        if !a.communities.contains(&c.0) {
                            a.communities.push(c.0);
                        }
                    }
                    e.attrs = match l.attrs.iter().position(|x| **x == a) {
                        Some(i) => i as u32,
                        None => {
                            l.attrs.push(Arc::new(a));
                            (l.attrs.len() - 1) as u32
                        }
                    };
                }
            }
        }
        l.fill_drained();
        l
    }

    fn fill_drained(&mut self) {
        self.drained = self.attrs.iter().map(|a| Arc::new(drained(a))).collect();
    }
}

/// One VIP as the plan reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VipPlan<'a> {
    pub prefix: Prefix,
    pub next_hop: NextHopSpec,
    /// For `hosts`: the only hosts that may carry it (None: all).
    pub only: Option<&'a [String]>,
    /// Its check is down: no peer is offered it.
    pub withdrawn: bool,
    pub attrs: &'a Arc<RouteAttrs>,
    /// The same, as a drain sends them.
    pub drained: &'a Arc<RouteAttrs>,
}

impl VipList {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn plan(&self, e: &Entry) -> VipPlan<'_> {
        let hop = &self.hops[e.hop as usize];
        VipPlan {
            prefix: e.prefix,
            next_hop: hop.spec,
            only: hop.only.as_deref(),
            withdrawn: hop.withdrawn,
            attrs: &self.attrs[e.attrs as usize],
            drained: &self.drained[e.attrs as usize],
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = VipPlan<'_>> + '_ {
        self.entries.iter().map(|e| self.plan(e))
    }

    /// The VIP of `p`, by binary search.
    pub fn get(&self, p: &Prefix) -> Option<VipPlan<'_>> {
        let i = self.entries.binary_search_by(|e| e.prefix.cmp(p)).ok()?;
        Some(self.plan(&self.entries[i]))
    }

    /// The prefix at position `i` of the sorted list.
    pub fn prefix(&self, i: usize) -> Prefix {
        self.entries[i].prefix
    }

    /// How many VIPs sort at or before `p`: where a page after `p` starts.
    pub fn count_through(&self, p: &Prefix) -> usize {
        self.entries.partition_point(|e| e.prefix <= *p)
    }
}

/// A duplicate prefix found while building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate(pub Prefix);

/// Builds a list; next hops and attribute sets are interned as they come.
#[derive(Debug)]
pub struct Builder {
    list: VipList,
}

impl Builder {
    /// `n`: how many VIPs will come, so that the list is allocated once.
    pub fn with_capacity(n: usize) -> Self {
        Builder {
            list: VipList {
                entries: Vec::with_capacity(n),
                hops: Vec::new(),
                attrs: vec![Arc::new(RouteAttrs::default())],
                drained: Vec::new(),
            },
        }
    }

    fn hop(&mut self, h: Hop) -> u32 {
        let hops = &mut self.list.hops;
        // Few distinct next hops: a scan beats a map here.
        match hops.iter().rposition(|x| *x == h) {
            Some(i) => i as u32,
            None => {
                hops.push(h);
                (hops.len() - 1) as u32
            }
        }
    }

    /// A VIP with the default attributes (a `vips_file` line).
    pub fn push(&mut self, prefix: Prefix, next_hop: NextHopSpec) {
        let hop = self.hop(next_hop.into());
        self.list.entries.push(Entry {
            prefix,
            hop,
            attrs: 0,
        });
    }

    /// An inline `[[vip]]` with its own attributes.
    pub fn push_config(&mut self, v: &VipConfig) {
        let attrs = v.attrs();
        let at = match self.list.attrs.iter().position(|a| **a == attrs) {
            Some(i) => i,
            None => {
                self.list.attrs.push(Arc::new(attrs));
                self.list.attrs.len() - 1
            }
        };
        let hop = self.hop(v.next_hop.into());
        self.list.entries.push(Entry {
            prefix: v.prefix,
            hop,
            attrs: at as u32,
        });
    }

    /// Sorts in place (no second buffer) and refuses a prefix twice.
    pub fn finish(mut self) -> Result<VipList, Duplicate> {
        let e = &mut self.list.entries;
        e.sort_unstable_by_key(|e| e.prefix);
        if let Some(w) = e.windows(2).find(|w| w[0].prefix == w[1].prefix) {
            return Err(Duplicate(w[0].prefix));
        }
        e.shrink_to_fit();
        self.list.fill_drained();
        Ok(self.list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vip_costs_28_bytes_and_hops_are_interned() {
        assert_eq!(std::mem::size_of::<Entry>(), 28);
        let mut b = Builder::with_capacity(3);
        let hop = NextHopSpec::Address("198.51.100.9".parse().unwrap());
        for p in ["192.0.2.3/32", "192.0.2.1/32", "192.0.2.2/32"] {
            b.push(p.parse().unwrap(), hop);
        }
        let l = b.finish().unwrap();
        assert_eq!(l.hops.len(), 1);
        let got: Vec<String> = l.iter().map(|v| v.prefix.to_string()).collect();
        assert_eq!(got, ["192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32"]);
        assert_eq!(
            l.get(&"192.0.2.2/32".parse().unwrap()).unwrap().next_hop,
            hop
        );
        assert_eq!(l.count_through(&"192.0.2.2/32".parse().unwrap()), 2);
        let mut b = Builder::with_capacity(2);
        b.push("192.0.2.1/32".parse().unwrap(), hop);
        b.push("192.0.2.1/32".parse().unwrap(), NextHopSpec::SelfAddress);
        assert_eq!(b.finish(), Err(Duplicate("192.0.2.1/32".parse().unwrap())));
        let only: Hop = Hop {
            spec: NextHopSpec::Hosts,
            only: Some(vec!["n2".to_string()].into()),
            withdrawn: false,
        };
        let both = l.with_extra(&[
            (
                "192.0.2.9/32".parse().unwrap(),
                NextHopSpec::SelfAddress.into(),
            ),
            (
                "192.0.2.2/32".parse().unwrap(),
                NextHopSpec::SelfAddress.into(),
            ),
            ("192.0.2.10/32".parse().unwrap(), only.clone()),
            ("192.0.2.11/32".parse().unwrap(), only.clone()),
        ]);
        assert_eq!(both.len(), 6);
        assert_eq!(
            both.hops.len(),
            4,
            "one next hop, self, and a node set each"
        );
        let v = both.get(&"192.0.2.11/32".parse().unwrap()).unwrap();
        assert_eq!(
            (v.next_hop, v.only),
            (NextHopSpec::Hosts, Some(&["n2".to_string()][..]))
        );
        assert_eq!(
            both.get(&"192.0.2.2/32".parse().unwrap()).unwrap().next_hop,
            hop
        );
        assert_eq!(
            both.get(&"192.0.2.9/32".parse().unwrap()).unwrap().next_hop,
            NextHopSpec::SelfAddress
        );
    }
}
