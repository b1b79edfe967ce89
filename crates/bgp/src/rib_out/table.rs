//! The desired paths of one peer, sorted by (prefix, next hop), 28 bytes a
//! path. A path is its prefix and two indices: next hops and attribute
//! sets repeat across a table (one next hop for every VIP of a host, one
//! attribute set for a whole VIP file), so each is kept once and a path
//! points at it. Stored whole, a path cost 48 bytes: at 100k routes the
//! difference is 2 MB of a daemon that aims to stay under 10 MiB.
use super::{Route, RouteAttrs};
use crate::prelude::*;
use crate::wire::Prefix;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::cmp::Ordering;
use core::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    prefix: Prefix,
    hop: u32,
    attrs: u32,
}

#[derive(Debug, Default)]
pub(super) struct Table {
    /// Sorted by (prefix, next hop), keys unique.
    rows: Vec<Row>,
    hops: Vec<IpAddr>,
    attrs: Vec<Arc<RouteAttrs>>,
    hop_index: BTreeMap<IpAddr, u32>,
    /// By the Arc's address: sets come shared from the caller, and `attrs`
    /// keeps each alive, so an address names one set for the table's life.
    attrs_index: BTreeMap<usize, u32>,
    /// The next hop and attribute set interned last.
    last: (Option<u32>, Option<u32>),
}

impl Table {
    fn intern_hop(&mut self, h: IpAddr) -> u32 {
        // Routes come in runs of one next hop: the last one first.
        if let Some(i) = self.last.0.filter(|i| self.hops[*i as usize] == h) {
            return i;
        }
        let next = self.hops.len() as u32;
        let i = *self.hop_index.entry(h).or_insert(next);
        if i == next {
            self.hops.push(h);
        }
        self.last.0 = Some(i);
        i
    }

    fn intern_attrs(&mut self, a: Arc<RouteAttrs>) -> u32 {
        if let Some(i) = self
            .last
            .1
            .filter(|i| Arc::ptr_eq(&self.attrs[*i as usize], &a))
        {
            return i;
        }
        let next = self.attrs.len() as u32;
        let i = *self
            .attrs_index
            .entry(Arc::as_ptr(&a) as usize)
            .or_insert(next);
        if i == next {
            self.attrs.push(a);
        }
        self.last.1 = Some(i);
        i
    }

    fn row(&mut self, r: Route) -> Row {
        Row {
            prefix: r.prefix,
            hop: self.intern_hop(r.next_hop),
            attrs: self.intern_attrs(r.attrs),
        }
    }

    fn key_of(&self, r: &Row) -> (Prefix, IpAddr) {
        (r.prefix, self.hops[r.hop as usize])
    }

    /// A table of `routes`, allocated once for the `size_hint` it gives;
    /// of two routes with the same prefix and next hop, one is kept.
    pub fn collect(routes: impl Iterator<Item = Route>) -> Table {
        let mut t = Table::default();
        t.rows.reserve_exact(routes.size_hint().1.unwrap_or(0));
        for r in routes {
            let row = t.row(r);
            t.rows.push(row);
        }
        // In place: a stable sort would borrow a buffer as large as the table.
        let mut rows = core::mem::take(&mut t.rows);
        rows.sort_unstable_by_key(|r| t.key_of(r));
        rows.dedup_by(|later, first| later.prefix == first.prefix && later.hop == first.hop);
        rows.shrink_to_fit();
        t.rows = rows;
        t
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn prefix(&self, i: usize) -> Prefix {
        self.rows[i].prefix
    }

    pub fn key(&self, i: usize) -> (Prefix, IpAddr) {
        self.key_of(&self.rows[i])
    }

    pub fn attrs(&self, i: usize) -> &Arc<RouteAttrs> {
        &self.attrs[self.rows[i].attrs as usize]
    }

    /// The first row of `p` or of the prefixes after it.
    pub fn start_of(&self, p: &Prefix) -> usize {
        self.rows.partition_point(|r| r.prefix < *p)
    }

    /// The paths of `p`, lowest next hop first.
    pub fn paths_of(&self, p: &Prefix) -> impl Iterator<Item = (IpAddr, Arc<RouteAttrs>)> + '_ {
        let p = *p;
        self.rows[self.start_of(&p)..]
            .iter()
            .take_while(move |r| r.prefix == p)
            .map(|r| {
                (
                    self.hops[r.hop as usize],
                    self.attrs[r.attrs as usize].clone(),
                )
            })
    }

    /// Where `key` is, or where it would go.
    pub fn find(&self, key: &(Prefix, IpAddr)) -> Result<usize, usize> {
        self.rows.binary_search_by(|r| self.key_of(r).cmp(key))
    }

    pub fn set_attrs(&mut self, i: usize, a: Arc<RouteAttrs>) {
        let at = self.intern_attrs(a);
        self.rows[i].attrs = at;
    }

    /// Inserts at `i`, which `find` gave for the route's key.
    pub fn insert(&mut self, i: usize, r: Route) {
        let row = self.row(r);
        self.rows.insert(i, row);
    }

    pub fn remove(&mut self, i: usize) {
        self.rows.remove(i);
    }

    /// Compares row `i` here with row `j` of `other` by key, and whether
    /// their attributes differ.
    pub fn compare(&self, i: usize, other: &Table, j: usize) -> (Ordering, bool) {
        let order = self.key(i).cmp(&other.key(j));
        (
            order,
            order == Ordering::Equal && self.attrs(i) != other.attrs(j),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_costs_28_bytes_and_hops_and_attributes_are_shared() {
        assert_eq!(core::mem::size_of::<Row>(), 28);
        let plain = Arc::new(RouteAttrs::default());
        let route = |p: &str, nh: &str| Route {
            prefix: p.parse().unwrap(),
            next_hop: nh.parse().unwrap(),
            attrs: plain.clone(),
        };
        let t = Table::collect(
            vec![
                route("192.0.2.2/32", "198.51.100.3"),
                route("192.0.2.1/32", "198.51.100.9"),
                route("192.0.2.1/32", "198.51.100.3"),
                route("192.0.2.1/32", "198.51.100.3"),
            ]
            .into_iter(),
        );
        assert_eq!((t.len(), t.hops.len(), t.attrs.len()), (3, 2, 1));
        let keys: Vec<(Prefix, IpAddr)> = (0..t.len()).map(|i| t.key(i)).collect();
        let want: Vec<(Prefix, IpAddr)> = [
            ("192.0.2.1/32", "198.51.100.3"),
            ("192.0.2.1/32", "198.51.100.9"),
            ("192.0.2.2/32", "198.51.100.3"),
        ]
        .iter()
        .map(|(p, h)| (p.parse().unwrap(), h.parse().unwrap()))
        .collect();
        assert_eq!(keys, want, "sorted by prefix, then next hop address");
    }
}
