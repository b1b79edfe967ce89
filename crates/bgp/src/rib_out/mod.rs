//! The Adj-RIB-Out of one peer: the routes we want it to hold, and the
//! UPDATEs that bring the peer from what it has to that.
//!
//! What the peer holds is not stored beside what we want: after every poll
//! the two are equal, so only the prefixes changed since the last poll keep
//! their old paths (`previous`). That halves the memory of a large table.
//! A reconnect replays everything (the peer holds nothing), ROUTE-REFRESH
//! resends a family, and both fall out of the same diff. Routes are grouped
//! by identical attributes and packed up to the negotiated message size;
//! End-of-RIB follows the initial sync.
use crate::prelude::*;
mod originate;
mod pack;
pub mod path_id;
mod route;
mod table;
mod walk;

pub use originate::{next_hop_fits, Originator, DEFAULT_LOCAL_PREF};
pub use route::{Route, RouteAttrs, SentPath};
use walk::{differing, Refresh, Replacing, FIRST};

use crate::session::Negotiated;
use crate::wire::{Family, FamilySet, Nlri, Prefix, Update};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::net::IpAddr;

#[derive(Clone, Debug)]
struct View {
    orig: Originator,
    families: FamilySet,
    max_len: usize,
    /// Paths per prefix with ADD-PATH (the lowest next hops win).
    max_paths: usize,
}

type Paths = Vec<(IpAddr, Arc<RouteAttrs>)>;
/// Sorted by key, keys unique. A sorted vector rather than a map (nodes,
/// slack and a build buffer), 28 bytes a path (`table.rs`); the diff walks
/// it in order anyway.
type Desired = table::Table;

#[derive(Debug)]
pub struct AdjRibOut {
    local_as: u32,
    /// Flat rather than nested per prefix: most prefixes have one path,
    /// and a collection per prefix would cost more than the path itself.
    desired: Desired,
    /// Prefixes changed since the last poll, with the paths the peer holds.
    previous: BTreeMap<Prefix, Paths>,
    /// Initial sync in progress: prefixes from this one on have not been
    /// sent yet. It advances batch by batch; End-of-RIB follows the last.
    sync: Option<Prefix>,
    /// A ROUTE-REFRESH re-send under way, and the families asked for again
    /// while it runs: any number of requests cost at most one more pass.
    refresh: Option<Refresh>,
    again: FamilySet,
    /// A whole new set replacing the old one, walked a batch per poll:
    /// from `cursor` on the peer still holds `old` (unless `previous`
    /// says otherwise). Diffing 100k VIPs against 100k others at once took
    /// ~300 ms of one event (issue 20); a batch takes a few.
    replacing: Option<Replacing>,
    view: Option<View>,
    max_paths: usize,
    /// Paths the peer holds, and desired paths held back, per family
    /// (IPv4, IPv6): kept as the table changes, so that status and metrics
    /// cost nothing per route.
    held: [usize; 2],
    suppressed: [usize; 2],
}

/// The index of a prefix's family in the per-family counters.
fn fam(p: &Prefix) -> usize {
    usize::from(matches!(p, Prefix::V6 { .. }))
}

fn paths_of<'a>(
    desired: &'a Desired,
    prefix: &Prefix,
) -> impl Iterator<Item = (IpAddr, Arc<RouteAttrs>)> + 'a {
    desired.paths_of(prefix)
}

/// What the peer should hold for `prefix` given its paths, sorted by next
/// hop: (path id, next hop, attrs).
fn target(
    v: &View,
    prefix: &Prefix,
    paths: impl Iterator<Item = (IpAddr, Arc<RouteAttrs>)>,
) -> Vec<(u32, IpAddr, Arc<RouteAttrs>)> {
    let family = prefix.family();
    if !v.families.contains(family) {
        return Vec::new();
    }
    let usable = paths.filter(|(nh, _)| next_hop_fits(prefix, *nh));
    if v.orig.ctx.add_path.contains(family) {
        let usable: Paths = usable.take(v.max_paths).collect();
        let hops: Vec<IpAddr> = usable.iter().map(|(nh, _)| *nh).collect();
        path_id::assign(&hops)
            .into_iter()
            .zip(usable)
            .map(|(id, (nh, a))| (id, nh, a))
            .collect()
    } else {
        // One path: the lowest next hop, the same choice on every speaker
        // that has the same set.
        usable.take(1).map(|(nh, a)| (0, nh, a)).collect()
    }
}

impl AdjRibOut {
    pub fn new(local_as: u32) -> Self {
        AdjRibOut {
            local_as,
            desired: Desired::default(),
            previous: BTreeMap::new(),
            sync: None,
            refresh: None,
            again: FamilySet::EMPTY,
            replacing: None,
            view: None,
            max_paths: usize::MAX,
            held: [0; 2],
            suppressed: [0; 2],
        }
    }

    /// Desired paths of `p` that the peer may not have: beyond one when it
    /// has no ADD-PATH for the family, beyond the maximum when it has.
    fn suppressed_of(&self, p: &Prefix) -> usize {
        let Some(v) = &self.view else { return 0 };
        if !v.families.contains(p.family()) {
            return 0;
        }
        let usable = paths_of(&self.desired, p)
            .filter(|(nh, _)| next_hop_fits(p, *nh))
            .count();
        let cap = if v.orig.ctx.add_path.contains(p.family()) {
            v.max_paths
        } else {
            1
        };
        usable.saturating_sub(cap)
    }

    /// Runs a change of `p`'s desired paths, keeping the suppressed count.
    fn change(&mut self, p: Prefix, f: impl FnOnce(&mut Desired)) {
        let before = self.suppressed_of(&p);
        f(&mut self.desired);
        let after = self.suppressed_of(&p);
        self.suppressed[fam(&p)] = self.suppressed[fam(&p)] + after - before;
    }

    /// Counts every prefix anew: when the view (and with it the caps) changes.
    /// One walk of the sorted table, no lookups: a replacement calls it
    /// on 100k VIPs within one event.
    fn count_suppressed(&mut self) {
        self.suppressed = [0; 2];
        let Some(v) = &self.view else { return };
        let mut i = 0;
        while i < self.desired.len() {
            let p = self.desired.prefix(i);
            let mut usable = 0;
            while i < self.desired.len() && self.desired.prefix(i) == p {
                usable += usize::from(next_hop_fits(&p, self.desired.key(i).1));
                i += 1;
            }
            if v.families.contains(p.family()) {
                let cap = if v.orig.ctx.add_path.contains(p.family()) {
                    v.max_paths
                } else {
                    1
                };
                self.suppressed[fam(&p)] += usable.saturating_sub(cap);
            }
        }
    }

    /// Caps the paths per prefix sent with ADD-PATH (at least one).
    pub fn with_max_paths(mut self, n: usize) -> Self {
        self.max_paths = n.max(1);
        self
    }

    /// Remembers what the peer holds for `p` before its first change since
    /// the last poll. Nothing to remember while down or before the sync.
    fn stage(&mut self, p: Prefix) {
        let unsent = self.sync.is_some_and(|c| p >= c);
        if self.view.is_some() && !unsent && !self.previous.contains_key(&p) {
            let old: Paths = self.table_held(&p).paths_of(&p).collect();
            self.previous.insert(p, old);
        }
    }

    /// The table whose paths the peer holds for `p` (`previous` aside):
    /// the old one past a replacement's cursor, else the desired one.
    fn table_held(&self, p: &Prefix) -> &Desired {
        match &self.replacing {
            Some(r) if r.holds_old(p) => &r.old,
            _ => &self.desired,
        }
    }

    /// Stages what is left of a replacement under way at once, the way a
    /// change is staged: for a second replacement before the first is
    /// walked (rare), and for one that meets the initial sync.
    fn finish_replacing(&mut self) {
        let Some(r) = self.replacing.take() else {
            return;
        };
        let mut changed = differing(&r.old, &self.desired, r.cursor);
        changed.retain(|p| r.done.binary_search(p).is_err());
        self.replacing = Some(r);
        for p in changed {
            self.stage(p);
        }
        self.replacing = None;
    }

    /// Replaces the whole desired set; only prefixes that changed are
    /// sent. Once synced, the old set is kept and the two are walked a
    /// batch per poll, so no single call diffs a whole table.
    pub fn set_routes(&mut self, routes: impl IntoIterator<Item = Route>) {
        let next = Desired::collect(routes.into_iter());
        if self.view.is_none() {
            self.desired = next;
            return;
        }
        self.finish_replacing();
        if self.sync.is_some() {
            // Prefixes the sync has not reached go out from the new set;
            // the ones it has are staged now.
            let changed = differing(&self.desired, &next, FIRST);
            for p in changed {
                self.stage(p);
            }
            self.desired = next;
        } else {
            let old = core::mem::replace(&mut self.desired, next);
            self.replacing = Some(Replacing {
                old,
                cursor: FIRST,
                done: Vec::new(),
            });
        }
        self.count_suppressed();
    }

    pub fn insert(&mut self, route: Route) {
        let key = (route.prefix, route.next_hop);
        match self.desired.find(&key) {
            Ok(i) if *self.desired.attrs(i) == route.attrs => {}
            Ok(i) => {
                self.stage(route.prefix);
                self.desired.set_attrs(i, route.attrs);
            }
            Err(i) => {
                self.stage(route.prefix);
                self.change(route.prefix, |d| d.insert(i, route));
            }
        }
    }

    pub fn remove(&mut self, prefix: &Prefix, next_hop: IpAddr) -> bool {
        let key = (*prefix, next_hop);
        let Ok(i) = self.desired.find(&key) else {
            return false;
        };
        self.stage(*prefix);
        self.change(*prefix, |d| {
            d.remove(i);
        });
        true
    }

    /// Every desired path.
    pub fn desired(&self) -> impl Iterator<Item = Route> + '_ {
        (0..self.desired.len()).map(|i| {
            let (prefix, next_hop) = self.desired.key(i);
            Route {
                prefix,
                next_hop,
                attrs: self.desired.attrs(i).clone(),
            }
        })
    }

    /// What the peer holds, keyed by (prefix, path id), computed on demand.
    pub fn sent(&self) -> BTreeMap<(Prefix, u32), SentPath> {
        let mut out = BTreeMap::new();
        let Some(v) = &self.view else { return out };
        // Every prefix the peer may hold something for.
        let mut prefixes: Vec<Prefix> = self.previous.keys().copied().collect();
        prefixes.extend((0..self.desired.len()).map(|i| self.desired.prefix(i)));
        if let Some(r) = &self.replacing {
            prefixes.extend((0..r.old.len()).map(|i| r.old.prefix(i)));
        }
        prefixes.sort_unstable();
        prefixes.dedup();
        for p in prefixes {
            if self.sync.is_some_and(|c| p >= c) {
                continue;
            }
            let t = match self.previous.get(&p) {
                Some(paths) => target(v, &p, paths.iter().cloned()),
                None => target(v, &p, self.table_held(&p).paths_of(&p)),
            };
            for (id, next_hop, attrs) in t {
                out.insert((p, id), SentPath { next_hop, attrs });
            }
        }
        out
    }

    /// Paths of `family` the peer holds from us; O(1).
    pub fn sent_count(&self, family: Family) -> usize {
        match family {
            Family::IPV4_UNICAST => self.held[0],
            Family::IPV6_UNICAST => self.held[1],
            _ => 0,
        }
    }

    /// Desired paths not sent: beyond one per prefix when the peer has no
    /// ADD-PATH, or beyond the configured maximum when it has; O(1).
    pub fn suppressed(&self) -> usize {
        self.suppressed[0] + self.suppressed[1]
    }

    /// What the peer holds for one prefix: (path id, next hop), sorted by
    /// next hop; O(log n), for per-VIP status.
    pub fn sent_for(&self, p: &Prefix) -> Vec<(u32, IpAddr)> {
        let Some(v) = &self.view else {
            return Vec::new();
        };
        let t = match self.previous.get(p) {
            Some(old) => target(v, p, old.iter().cloned()),
            None if self.sync.is_some_and(|c| *p >= c) => Vec::new(),
            None => target(v, p, self.table_held(p).paths_of(p)),
        };
        t.into_iter().map(|(id, nh, _)| (id, nh)).collect()
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
            max_paths: self.max_paths,
        });
        self.held = [0; 2];
        self.count_suppressed();
        self.previous.clear();
        self.refresh = None;
        self.again = FamilySet::EMPTY;
        self.replacing = None;
        self.sync = Some(FIRST);
    }

    /// The session is gone; the peer dropped everything we sent.
    pub fn session_down(&mut self) {
        self.view = None;
        self.held = [0; 2];
        self.suppressed = [0; 2];
        self.previous.clear();
        self.refresh = None;
        self.again = FamilySet::EMPTY;
        self.replacing = None;
        self.sync = None;
    }

    /// ROUTE-REFRESH (RFC 2918): send the family's routes again. Asked
    /// during a re-send, the family waits for one more pass after it:
    /// what this pass already sent went out before the request.
    pub fn route_refresh(&mut self, family: Family) {
        if self.view.is_none() {
            return;
        }
        // A re-send walks the desired table only: what a replacement has
        // not reached yet is staged first (rare: both at once).
        self.finish_replacing();
        match self.refresh {
            None => self.refresh = Some(Refresh::new(FamilySet::EMPTY.with(family))),
            Some(_) => self.again.insert(family),
        }
    }

    pub fn has_pending(&self) -> bool {
        self.view.is_some()
            && (self.sync.is_some()
                || !self.previous.is_empty()
                || self.refresh.is_some()
                || self.replacing.is_some())
    }

    /// The UPDATEs that bring the peer from what it has to what we want.
    pub fn poll_updates(&mut self) -> Vec<Update> {
        self.poll_batch(usize::MAX)
    }

    /// Like [`AdjRibOut::poll_updates`], but at most `limit` changed
    /// prefixes, `limit` prefixes of a ROUTE-REFRESH re-send and `limit`
    /// prefixes of the initial sync per call, so a large table goes out in
    /// bounded pieces as the socket drains instead of all at once in
    /// memory.
    pub fn poll_batch(&mut self, limit: usize) -> Vec<Update> {
        let Some(v) = self.view.clone() else {
            return Vec::new();
        };
        let mut pack = pack::Packer::new(&v.orig, v.max_len);
        let mut previous = core::mem::take(&mut self.previous);
        if let Some(k) = previous.keys().nth(limit).copied() {
            // Changes past the limit wait for the next poll.
            self.previous = previous.split_off(&k);
        }
        // `again`: announce every new path, changed or not (a re-send).
        let mut diff = |p: Prefix,
                        old: Vec<(u32, IpAddr, Arc<RouteAttrs>)>,
                        new: Vec<(u32, IpAddr, Arc<RouteAttrs>)>,
                        again: bool| {
            let family = p.family();
            let ap = v.orig.ctx.add_path.contains(family);
            let nlri = |id: u32| Nlri {
                path_id: ap.then_some(id),
                prefix: p,
            };
            for (id, _, _) in old
                .iter()
                .filter(|(id, _, _)| !new.iter().any(|(n, _, _)| n == id))
            {
                pack.withdraw(family, nlri(*id));
            }
            for (id, nh, attrs) in new {
                if again
                    || !old
                        .iter()
                        .any(|(o, onh, oa)| *o == id && *onh == nh && *oa == attrs)
                {
                    pack.announce(family, nh, attrs, nlri(id));
                }
            }
        };
        // Prefixes already synced that changed since.
        let mut held = self.held;
        for (p, old_paths) in previous {
            let old = target(&v, &p, old_paths.into_iter());
            let new = target(&v, &p, paths_of(&self.desired, &p));
            held[fam(&p)] = held[fam(&p)] + new.len() - old.len();
            diff(p, old, new, false);
            if let Some(r) = self.replacing.as_mut().filter(|r| p >= r.cursor) {
                r.mark_done(p);
            }
        }
        // The next piece of a replacement: old and new walked together
        // from the cursor, `limit` prefixes at most. A prefix changed
        // since (in `previous`) was diffed above from what the peer holds.
        if let Some(r) = self.replacing.take() {
            let (mut i, mut j) = (r.old.start_of(&r.cursor), self.desired.start_of(&r.cursor));
            let mut taken = 0;
            let next = loop {
                let p = match (i < r.old.len(), j < self.desired.len()) {
                    (false, false) => break None,
                    (true, false) => r.old.prefix(i),
                    (false, true) => self.desired.prefix(j),
                    (true, true) => r.old.prefix(i).min(self.desired.prefix(j)),
                };
                if taken == limit {
                    break Some(p);
                }
                taken += 1;
                while i < r.old.len() && r.old.prefix(i) == p {
                    i += 1;
                }
                while j < self.desired.len() && self.desired.prefix(j) == p {
                    j += 1;
                }
                if !r.holds_old(&p) || self.previous.contains_key(&p) {
                    continue;
                }
                let old = target(&v, &p, r.old.paths_of(&p));
                let new = target(&v, &p, paths_of(&self.desired, &p));
                held[fam(&p)] = held[fam(&p)] + new.len() - old.len();
                diff(p, old, new, false);
            };
            self.replacing = next.map(|cursor| {
                let mut done = r.done;
                done.retain(|p| *p >= cursor);
                Replacing {
                    old: r.old,
                    cursor,
                    done,
                }
            });
        }
        // The next piece of a ROUTE-REFRESH re-send. A prefix changed in
        // this poll was diffed above and is announced whole here again if
        // the pass reaches it; one the pass already passed had its change
        // diffed on top of what the pass sent. Prefixes the initial sync
        // has not reached go out with it.
        if let Some(r) = self.refresh {
            let start = self.desired.start_of(&r.cursor);
            let mut taken = 0;
            let mut next = None;
            let mut last = None;
            for i in start..self.desired.len() {
                let p = self.desired.prefix(i);
                if last == Some(p) {
                    continue;
                }
                if !r.families.contains(p.family()) && matches!(p, Prefix::V6 { .. }) {
                    break;
                }
                if taken == limit {
                    next = Some(p);
                    break;
                }
                last = Some(p);
                taken += 1;
                let synced = self.sync.is_none_or(|c| p < c);
                if synced && r.families.contains(p.family()) {
                    // A change still pending, or a replacement not there
                    // yet: diffed from what the peer holds, and the rest
                    // announced again too.
                    // A pending change keeps its entry, now saying the
                    // peer holds the desired paths: its later diff is empty.
                    let held_old = match self.previous.get_mut(&p) {
                        Some(paths) => {
                            let now: Paths = paths_of(&self.desired, &p).collect();
                            Some(target(&v, &p, core::mem::replace(paths, now).into_iter()))
                        }
                        None => match self.replacing.as_mut().filter(|x| x.holds_old(&p)) {
                            Some(x) => {
                                x.mark_done(p);
                                Some(target(&v, &p, x.old.paths_of(&p)))
                            }
                            None => None,
                        },
                    };
                    let new = target(&v, &p, paths_of(&self.desired, &p));
                    match held_old {
                        Some(old) => {
                            held[fam(&p)] = held[fam(&p)] + new.len() - old.len();
                            diff(p, old, new, true);
                        }
                        None => diff(p, Vec::new(), new, false),
                    }
                }
            }
            self.refresh = match next {
                Some(cursor) => Some(Refresh { cursor, ..r }),
                None if !self.again.is_empty() => Some(Refresh::new(core::mem::replace(
                    &mut self.again,
                    FamilySet::EMPTY,
                ))),
                None => None,
            };
        }
        // The next piece of the initial sync.
        let mut done_sync = false;
        if let Some(cursor) = self.sync {
            let start = self.desired.start_of(&cursor);
            let mut taken = 0;
            let mut next = None;
            let mut last = None;
            for i in start..self.desired.len() {
                let p = &self.desired.prefix(i);
                if last == Some(*p) {
                    continue;
                }
                if taken == limit {
                    next = Some(*p);
                    break;
                }
                last = Some(*p);
                taken += 1;
                let new = target(&v, p, paths_of(&self.desired, p));
                held[fam(p)] += new.len();
                diff(*p, Vec::new(), new, false);
            }
            self.sync = next;
            done_sync = next.is_none();
        }
        self.held = held;
        let mut out = pack.finish();
        if done_sync {
            for f in v.families.iter() {
                out.push(Update::end_of_rib(f));
            }
        }
        out
    }
}
