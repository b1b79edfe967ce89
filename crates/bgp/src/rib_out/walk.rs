//! The walks over a table that stream rather than build: a whole new set
//! diffed against the old one a batch at a time ([`Replacing`]), and a
//! ROUTE-REFRESH resend ([`Refresh`]).
use super::Desired;
use crate::prelude::*;
use crate::wire::{Family, FamilySet, Prefix};
use core::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug)]
pub(super) struct Replacing {
    pub old: Desired,
    pub cursor: Prefix,
    /// Prefixes past the cursor whose change since was sent on its own
    /// (a staged change): the peer holds their desired paths already.
    /// Sorted; few (what changed during one walk).
    pub done: Vec<Prefix>,
}

impl Replacing {
    /// Whether the peer holds `p`'s paths from the old table.
    pub fn holds_old(&self, p: &Prefix) -> bool {
        *p >= self.cursor && self.done.binary_search(p).is_err()
    }

    pub fn mark_done(&mut self, p: Prefix) {
        if let Err(i) = self.done.binary_search(&p) {
            self.done.insert(i, p);
        }
    }
}

/// The lowest prefix: where walks start.
pub(super) const FIRST: Prefix = Prefix::V4 {
    addr: Ipv4Addr::UNSPECIFIED,
    len: 0,
};

/// A ROUTE-REFRESH re-send (RFC 2918): it walks the table from `cursor`,
/// a batch per poll like the initial sync, streaming the table rather
/// than building it whole, and announces the prefixes of `families`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Refresh {
    pub cursor: Prefix,
    pub families: FamilySet,
}

impl Refresh {
    pub fn new(families: FamilySet) -> Refresh {
        let cursor = if families.contains(Family::IPV4_UNICAST) {
            FIRST
        } else {
            Prefix::V6 {
                addr: Ipv6Addr::UNSPECIFIED,
                len: 0,
            }
        };
        Refresh { cursor, families }
    }
}

/// The prefixes from `from` on whose paths differ between two tables, in
/// order: one walk of both.
pub(super) fn differing(old: &Desired, new: &Desired, from: Prefix) -> Vec<Prefix> {
    use core::cmp::Ordering::*;
    let mut changed: Vec<Prefix> = Vec::new();
    let (mut i, mut j) = (old.start_of(&from), new.start_of(&from));
    while i < old.len() || j < new.len() {
        let (p, order) = if j == new.len() {
            (Some(old.prefix(i)), Less)
        } else if i == old.len() {
            (Some(new.prefix(j)), Greater)
        } else {
            match old.compare(i, new, j) {
                (Less, _) => (Some(old.prefix(i)), Less),
                (Greater, _) => (Some(new.prefix(j)), Greater),
                (Equal, differ) => (differ.then(|| old.prefix(i)), Equal),
            }
        };
        if order != Greater {
            i += 1;
        }
        if order != Less {
            j += 1;
        }
        if let Some(p) = p {
            if changed.last() != Some(&p) {
                changed.push(p);
            }
        }
    }
    changed
}
