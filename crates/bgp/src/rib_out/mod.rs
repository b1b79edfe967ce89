//! The Adj-RIB-Out of one peer: the routes we want it to hold, what it has
//! been sent, and the UPDATEs that close the gap.
//!
//! "Sent" is emptied when the session goes down, so the replay after a
//! reconnect and the resend on ROUTE-REFRESH are the same diff as any
//! other change. Routes are grouped by identical attributes and packed up
//! to the negotiated message size; End-of-RIB follows the initial sync.
mod originate;
mod pack;
pub mod path_id;

pub use originate::{next_hop_fits, Originator, DEFAULT_LOCAL_PREF};

use crate::session::Negotiated;
use crate::wire::{Family, FamilySet, LargeCommunity, Nlri, Prefix, Update};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

/// Per-route attributes that the configuration controls.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteAttrs {
    pub med: Option<u32>,
    /// Sent to internal peers only; default [`DEFAULT_LOCAL_PREF`].
    pub local_pref: Option<u32>,
    pub communities: Vec<u32>,
    pub large_communities: Vec<LargeCommunity>,
    /// IPv6 link-local next hop sent beside the global one (RFC 2545).
    pub link_local: Option<Ipv6Addr>,
}

/// One path we want the peer to have.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub prefix: Prefix,
    pub next_hop: IpAddr,
    pub attrs: Arc<RouteAttrs>,
}

/// A path as the peer holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentPath {
    pub next_hop: IpAddr,
    pub attrs: Arc<RouteAttrs>,
}

#[derive(Clone, Debug)]
struct View {
    orig: Originator,
    families: FamilySet,
    max_len: usize,
}

#[derive(Debug)]
pub struct AdjRibOut {
    local_as: u32,
    desired: BTreeMap<Prefix, BTreeMap<IpAddr, Arc<RouteAttrs>>>,
    /// Keyed by (prefix, path id); the id is 0 without ADD-PATH.
    sent: BTreeMap<(Prefix, u32), SentPath>,
    dirty: BTreeSet<Prefix>,
    full_sync: bool,
    view: Option<View>,
    pending_eor: FamilySet,
}

impl AdjRibOut {
    pub fn new(local_as: u32) -> Self {
        AdjRibOut {
            local_as,
            desired: BTreeMap::new(),
            sent: BTreeMap::new(),
            dirty: BTreeSet::new(),
            full_sync: false,
            view: None,
            pending_eor: FamilySet::EMPTY,
        }
    }

    /// Replaces the whole desired set; only prefixes that changed are
    /// queued.
    pub fn set_routes(&mut self, routes: impl IntoIterator<Item = Route>) {
        let mut next: BTreeMap<Prefix, BTreeMap<IpAddr, Arc<RouteAttrs>>> = BTreeMap::new();
        for r in routes {
            next.entry(r.prefix)
                .or_default()
                .insert(r.next_hop, r.attrs);
        }
        for (p, paths) in &next {
            if self.desired.get(p) != Some(paths) {
                self.dirty.insert(*p);
            }
        }
        for p in self.desired.keys() {
            if !next.contains_key(p) {
                self.dirty.insert(*p);
            }
        }
        self.desired = next;
    }

    pub fn insert(&mut self, route: Route) {
        let paths = self.desired.entry(route.prefix).or_default();
        if paths.get(&route.next_hop) != Some(&route.attrs) {
            paths.insert(route.next_hop, route.attrs);
            self.dirty.insert(route.prefix);
        }
    }

    pub fn remove(&mut self, prefix: &Prefix, next_hop: IpAddr) -> bool {
        let Some(paths) = self.desired.get_mut(prefix) else {
            return false;
        };
        let removed = paths.remove(&next_hop).is_some();
        if paths.is_empty() {
            self.desired.remove(prefix);
        }
        if removed {
            self.dirty.insert(*prefix);
        }
        removed
    }

    /// Every desired path.
    pub fn desired(&self) -> impl Iterator<Item = Route> + '_ {
        self.desired.iter().flat_map(|(p, paths)| {
            paths.iter().map(|(nh, a)| Route {
                prefix: *p,
                next_hop: *nh,
                attrs: a.clone(),
            })
        })
    }

    /// What the peer has been sent, keyed by (prefix, path id).
    pub fn sent(&self) -> &BTreeMap<(Prefix, u32), SentPath> {
        &self.sent
    }

    pub fn sent_count(&self, family: Family) -> usize {
        self.sent
            .keys()
            .filter(|(p, _)| p.family() == family)
            .count()
    }

    /// Desired paths not sent because the peer takes one path per prefix.
    pub fn suppressed(&self) -> usize {
        let Some(v) = &self.view else { return 0 };
        self.desired
            .iter()
            .filter(|(p, _)| {
                v.families.contains(p.family()) && !v.orig.ctx.add_path.contains(p.family())
            })
            .map(|(p, paths)| {
                paths
                    .keys()
                    .filter(|nh| next_hop_fits(p, **nh))
                    .count()
                    .saturating_sub(1)
            })
            .sum()
    }

    /// The session reached Established: start the initial sync.
    pub fn session_up(&mut self, neg: &Negotiated) {
        self.view = Some(View {
            orig: Originator {
                local_as: self.local_as,
                ibgp: neg.ibgp,
                ctx: neg.send_context(),
            },
            families: neg.families,
            max_len: neg.send_context().max_message_len(),
        });
        self.sent.clear();
        self.dirty.clear();
        self.full_sync = true;
        self.pending_eor = neg.families;
    }

    /// The session is gone; the peer dropped everything we sent.
    pub fn session_down(&mut self) {
        self.view = None;
        self.sent.clear();
        self.dirty.clear();
        self.full_sync = false;
        self.pending_eor = FamilySet::EMPTY;
    }

    /// ROUTE-REFRESH (RFC 2918): send the family's routes again.
    pub fn route_refresh(&mut self, family: Family) {
        if self.view.is_none() {
            return;
        }
        self.sent.retain(|(p, _), _| p.family() != family);
        let prefixes = self
            .desired
            .keys()
            .filter(|p| p.family() == family)
            .copied();
        self.dirty.extend(prefixes);
    }

    pub fn has_pending(&self) -> bool {
        self.view.is_some() && (self.full_sync || !self.dirty.is_empty())
    }

    /// What the peer should hold for `prefix`: (path id, next hop, attrs).
    fn target(&self, v: &View, prefix: &Prefix) -> Vec<(u32, IpAddr, Arc<RouteAttrs>)> {
        let family = prefix.family();
        let Some(paths) = self
            .desired
            .get(prefix)
            .filter(|_| v.families.contains(family))
        else {
            return Vec::new();
        };
        let usable: Vec<(&IpAddr, &Arc<RouteAttrs>)> = paths
            .iter()
            .filter(|(nh, _)| next_hop_fits(prefix, **nh))
            .collect();
        if v.orig.ctx.add_path.contains(family) {
            let hops: Vec<IpAddr> = usable.iter().map(|(nh, _)| **nh).collect();
            let ids = path_id::assign(&hops);
            ids.into_iter()
                .zip(usable)
                .map(|(id, (nh, a))| (id, *nh, a.clone()))
                .collect()
        } else {
            // One path: the lowest next hop, the same choice on every
            // speaker that has the same set.
            usable
                .first()
                .map(|(nh, a)| vec![(0, **nh, (*a).clone())])
                .unwrap_or_default()
        }
    }

    /// The UPDATEs that bring the peer from what it has to what we want.
    pub fn poll_updates(&mut self) -> Vec<Update> {
        let Some(v) = self.view.clone() else {
            return Vec::new();
        };
        let prefixes: Vec<Prefix> = if self.full_sync {
            let mut all: BTreeSet<Prefix> = self.desired.keys().copied().collect();
            all.extend(self.sent.keys().map(|(p, _)| *p));
            all.extend(core::mem::take(&mut self.dirty));
            all.into_iter().collect()
        } else {
            core::mem::take(&mut self.dirty).into_iter().collect()
        };
        let mut withdrawn: BTreeMap<Family, Vec<Nlri>> = BTreeMap::new();
        let mut groups: BTreeMap<(Family, IpAddr, Arc<RouteAttrs>), Vec<Nlri>> = BTreeMap::new();
        for p in prefixes {
            let family = p.family();
            let ap = v.orig.ctx.add_path.contains(family);
            let nlri = |id: u32| Nlri {
                path_id: ap.then_some(id),
                prefix: p,
            };
            let target = self.target(&v, &p);
            let stale: Vec<u32> = self
                .sent
                .range((p, 0)..=(p, u32::MAX))
                .map(|((_, id), _)| *id)
                .filter(|id| !target.iter().any(|(t, _, _)| t == id))
                .collect();
            for id in stale {
                self.sent.remove(&(p, id));
                withdrawn.entry(family).or_default().push(nlri(id));
            }
            for (id, nh, attrs) in target {
                let want = SentPath {
                    next_hop: nh,
                    attrs: attrs.clone(),
                };
                if self.sent.get(&(p, id)) != Some(&want) {
                    self.sent.insert((p, id), want);
                    groups
                        .entry((family, nh, attrs))
                        .or_default()
                        .push(nlri(id));
                }
            }
        }
        let mut out = Vec::new();
        for (family, nlri) in withdrawn {
            pack::withdrawals(family, nlri, &v.orig, v.max_len, &mut out);
        }
        for ((family, nh, attrs), nlri) in groups {
            pack::announcements(family, nh, &attrs, nlri, &v.orig, v.max_len, &mut out);
        }
        if self.full_sync {
            self.full_sync = false;
            for f in self.pending_eor.iter() {
                out.push(Update::end_of_rib(f));
            }
            self.pending_eor = FamilySet::EMPTY;
        }
        out
    }
}
