//! Packing routes into as few UPDATEs as the negotiated size allows.
use super::originate::Originator;
use super::RouteAttrs;
use crate::wire::{AttrValue, Family, MpUnreach, Nlri, PathAttribute, Update, HEADER_LEN};
use std::net::IpAddr;

/// Header, Withdrawn Routes Length and Total Path Attribute Length.
const FIXED: usize = HEADER_LEN + 4;

/// Splits `nlri` into runs whose wire size stays within `budget` (at least
/// one entry per run, so an oversized entry cannot stall the queue).
fn chunks(nlri: Vec<Nlri>, add_path: bool, budget: usize) -> Vec<Vec<Nlri>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut used = 0;
    for n in nlri {
        let l = n.wire_len(add_path);
        if !cur.is_empty() && used + l > budget {
            out.push(core::mem::take(&mut cur));
            used = 0;
        }
        used += l;
        cur.push(n);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn encoded_len(attrs: &[PathAttribute], o: &Originator) -> usize {
    let mut scratch = Vec::with_capacity(128);
    let u = Update {
        attributes: attrs.to_vec(),
        ..Update::default()
    };
    u.emit_body(&o.ctx, &mut scratch);
    scratch.len() - 4
}

pub(super) fn withdrawals(
    family: Family,
    nlri: Vec<Nlri>,
    o: &Originator,
    max: usize,
    out: &mut Vec<Update>,
) {
    let ap = o.ctx.add_path.contains(family);
    if family == Family::IPV4_UNICAST {
        for c in chunks(nlri, ap, max - FIXED) {
            out.push(Update {
                withdrawn: c,
                ..Update::default()
            });
        }
    } else {
        // MP_UNREACH_NLRI: 4-byte attribute header, AFI and SAFI.
        for c in chunks(nlri, ap, max - FIXED - 4 - 3) {
            let mp = MpUnreach {
                family,
                withdrawn: c,
            };
            out.push(Update {
                attributes: vec![PathAttribute::new(AttrValue::MpUnreach(mp))],
                ..Update::default()
            });
        }
    }
}

pub(super) fn announcements(
    family: Family,
    next_hop: IpAddr,
    attrs: &RouteAttrs,
    nlri: Vec<Nlri>,
    o: &Originator,
    max: usize,
    out: &mut Vec<Update>,
) {
    let ap = o.ctx.add_path.contains(family);
    let Some(template) = o.attributes(family, next_hop, attrs.link_local, attrs, Vec::new()) else {
        return;
    };
    // +1: MP_REACH_NLRI may need the extended length once NLRI are in.
    let budget = max
        .saturating_sub(FIXED + encoded_len(&template, o) + 1)
        .max(1);
    for c in chunks(nlri, ap, budget) {
        let mut attributes = template.clone();
        if family == Family::IPV4_UNICAST {
            out.push(Update {
                attributes,
                nlri: c,
                ..Update::default()
            });
        } else {
            if let Some(AttrValue::MpReach(m)) = attributes.first_mut().map(|a| &mut a.value) {
                m.nlri = c;
            }
            out.push(Update {
                attributes,
                ..Update::default()
            });
        }
    }
}
