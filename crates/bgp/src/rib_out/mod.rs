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
    /// Flat rather than nested per prefix: most prefixes have one path,
    /// and a map per prefix would cost more than the path itself.
    desired: BTreeMap<(Prefix, IpAddr), Arc<RouteAttrs>>,
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
        let next: BTreeMap<(Prefix, IpAddr), Arc<RouteAttrs>> = routes
            .into_iter()
            .map(|r| ((r.prefix, r.next_hop), r.attrs))
            .collect();
        // Walk both sorted maps once; a prefix with any difference is dirty.
        let (mut a, mut b) = (self.desired.iter().peekable(), next.iter().peekable());
        loop {
            let changed = match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some((ka, _)), None) => Some(ka.0),
                (None, Some((kb, _))) => Some(kb.0),
                (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                    core::cmp::Ordering::Less => Some(ka.0),
                    core::cmp::Ordering::Greater => Some(kb.0),
                    core::cmp::Ordering::Equal => (va != vb).then_some(ka.0),
                },
            };
            let order = match (a.peek(), b.peek()) {
                (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
                (Some(_), None) => core::cmp::Ordering::Less,
                _ => core::cmp::Ordering::Greater,
            };
            if order != core::cmp::Ordering::Greater {
                a.next();
            }
            if order != core::cmp::Ordering::Less {
                b.next();
            }
            if let Some(p) = changed {
                self.dirty.insert(p);
            }
        }
        self.desired = next;
    }

    pub fn insert(&mut self, route: Route) {
        let key = (route.prefix, route.next_hop);
        if self.desired.get(&key) != Some(&route.attrs) {
            self.desired.insert(key, route.attrs);
            self.dirty.insert(route.prefix);
        }
    }

    pub fn remove(&mut self, prefix: &Prefix, next_hop: IpAddr) -> bool {
        let removed = self.desired.remove(&(*prefix, next_hop)).is_some();
        if removed {
            self.dirty.insert(*prefix);
        }
        removed
    }

    /// Every desired path.
    pub fn desired(&self) -> impl Iterator<Item = Route> + '_ {
        self.desired.iter().map(|((p, nh), a)| Route {
            prefix: *p,
            next_hop: *nh,
            attrs: a.clone(),
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
        let mut per_prefix: BTreeMap<Prefix, usize> = BTreeMap::new();
        for (p, nh) in self.desired.keys() {
            let one_path = !v.orig.ctx.add_path.contains(p.family());
            if v.families.contains(p.family()) && one_path && next_hop_fits(p, *nh) {
                *per_prefix.entry(*p).or_default() += 1;
            }
        }
        per_prefix.values().map(|n| n - 1).sum()
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
            .map(|(p, _)| *p)
            .filter(|p| p.family() == family);
        self.dirty.extend(prefixes);
    }

    pub fn has_pending(&self) -> bool {
        self.view.is_some() && (self.full_sync || !self.dirty.is_empty())
    }

    /// The UPDATEs that bring the peer from what it has to what we want.
    pub fn poll_updates(&mut self) -> Vec<Update> {
        let Some(v) = self.view.clone() else {
            return Vec::new();
        };
        let mut withdrawn: BTreeMap<Family, Vec<Nlri>> = BTreeMap::new();
        let mut groups: BTreeMap<(Family, IpAddr, Arc<RouteAttrs>), Vec<Nlri>> = BTreeMap::new();
        let dirty = core::mem::take(&mut self.dirty);
        if self.full_sync {
            // "Sent" was emptied when the session came up, so the initial
            // sync is every desired prefix, walked in place (no copy of a
            // 100k-entry key set).
            let mut last = None;
            for (p, _) in self.desired.keys() {
                if last != Some(*p) {
                    last = Some(*p);
                    diff_prefix(
                        &self.desired,
                        &mut self.sent,
                        &v,
                        *p,
                        &mut withdrawn,
                        &mut groups,
                    );
                }
            }
        } else {
            for p in dirty {
                diff_prefix(
                    &self.desired,
                    &mut self.sent,
                    &v,
                    p,
                    &mut withdrawn,
                    &mut groups,
                );
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

fn paths_of<'a>(
    desired: &'a BTreeMap<(Prefix, IpAddr), Arc<RouteAttrs>>,
    prefix: &Prefix,
) -> impl Iterator<Item = (&'a IpAddr, &'a Arc<RouteAttrs>)> {
    let lo = (*prefix, IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let hi = (*prefix, IpAddr::V6(std::net::Ipv6Addr::from(u128::MAX)));
    desired.range(lo..=hi).map(|((_, nh), a)| (nh, a))
}

/// What the peer should hold for `prefix`: (path id, next hop, attrs).
fn target(
    desired: &BTreeMap<(Prefix, IpAddr), Arc<RouteAttrs>>,
    v: &View,
    prefix: &Prefix,
) -> Vec<(u32, IpAddr, Arc<RouteAttrs>)> {
    let family = prefix.family();
    if !v.families.contains(family) {
        return Vec::new();
    }
    let usable: Vec<(&IpAddr, &Arc<RouteAttrs>)> = paths_of(desired, prefix)
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
        // One path: the lowest next hop, the same choice on every speaker
        // that has the same set.
        usable
            .first()
            .map(|(nh, a)| vec![(0, **nh, (*a).clone())])
            .unwrap_or_default()
    }
}

/// Compares one prefix's target with what was sent, queueing withdrawals
/// and announcements and recording the announcements as sent.
fn diff_prefix(
    desired: &BTreeMap<(Prefix, IpAddr), Arc<RouteAttrs>>,
    sent: &mut BTreeMap<(Prefix, u32), SentPath>,
    v: &View,
    p: Prefix,
    withdrawn: &mut BTreeMap<Family, Vec<Nlri>>,
    groups: &mut BTreeMap<(Family, IpAddr, Arc<RouteAttrs>), Vec<Nlri>>,
) {
    let family = p.family();
    let ap = v.orig.ctx.add_path.contains(family);
    let nlri = |id: u32| Nlri {
        path_id: ap.then_some(id),
        prefix: p,
    };
    let target = target(desired, v, &p);
    let stale: Vec<u32> = sent
        .range((p, 0)..=(p, u32::MAX))
        .map(|((_, id), _)| *id)
        .filter(|id| !target.iter().any(|(t, _, _)| t == id))
        .collect();
    for id in stale {
        sent.remove(&(p, id));
        withdrawn.entry(family).or_default().push(nlri(id));
    }
    for (id, nh, attrs) in target {
        let want = SentPath {
            next_hop: nh,
            attrs: attrs.clone(),
        };
        if sent.get(&(p, id)) != Some(&want) {
            sent.insert((p, id), want);
            groups
                .entry((family, nh, attrs))
                .or_default()
                .push(nlri(id));
        }
    }
}
