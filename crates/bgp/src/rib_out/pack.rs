//! Packing routes into as few UPDATEs as the negotiated size allows, as
//! they come: a run of NLRI is cut into an UPDATE as soon as it fills one,
//! so a large initial sync never holds its routes twice.
use super::originate::Originator;
use super::RouteAttrs;
use crate::prelude::*;
use crate::wire::{AttrValue, Family, MpUnreach, Nlri, PathAttribute, Update, HEADER_LEN};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::net::IpAddr;

/// Header, Withdrawn Routes Length and Total Path Attribute Length.
const FIXED: usize = HEADER_LEN + 4;
/// MP_UNREACH_NLRI's attribute header (extended length) and AFI/SAFI.
const MP_UNREACH_FIXED: usize = 4 + 3;

struct Run {
    /// The attributes shared by the run (`None`: the next hop cannot be
    /// expressed for the family, so nothing is sent).
    template: Option<Vec<PathAttribute>>,
    budget: usize,
    used: usize,
    nlri: Vec<Nlri>,
}

pub(super) struct Packer<'a> {
    o: &'a Originator,
    max: usize,
    /// Full UPDATEs cut so far; withdrawals go out before announcements.
    out_withdrawals: Vec<Update>,
    out_announcements: Vec<Update>,
    withdrawals: BTreeMap<Family, Run>,
    groups: BTreeMap<(Family, IpAddr, Arc<RouteAttrs>), Run>,
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

fn withdrawal(family: Family, nlri: Vec<Nlri>) -> Update {
    if family == Family::IPV4_UNICAST {
        Update {
            withdrawn: nlri,
            ..Update::default()
        }
    } else {
        let mp = MpUnreach {
            family,
            withdrawn: nlri,
        };
        Update {
            attributes: vec![PathAttribute::new(AttrValue::MpUnreach(mp))],
            ..Update::default()
        }
    }
}

fn announcement(family: Family, template: &[PathAttribute], nlri: Vec<Nlri>) -> Update {
    let mut attributes = template.to_vec();
    if family == Family::IPV4_UNICAST {
        return Update {
            attributes,
            nlri,
            ..Update::default()
        };
    }
    if let Some(AttrValue::MpReach(m)) = attributes.first_mut().map(|a| &mut a.value) {
        m.nlri = nlri;
    }
    Update {
        attributes,
        ..Update::default()
    }
}

impl<'a> Packer<'a> {
    pub(super) fn new(o: &'a Originator, max: usize) -> Self {
        Packer {
            o,
            max,
            out_withdrawals: Vec::new(),
            out_announcements: Vec::new(),
            withdrawals: BTreeMap::new(),
            groups: BTreeMap::new(),
        }
    }

    pub(super) fn withdraw(&mut self, family: Family, n: Nlri) {
        let l = n.wire_len(self.o.ctx.add_path.contains(family));
        let max = self.max;
        let run = self.withdrawals.entry(family).or_insert_with(|| {
            let budget = if family == Family::IPV4_UNICAST {
                max - FIXED
            } else {
                max - FIXED - MP_UNREACH_FIXED
            };
            Run {
                template: Some(Vec::new()),
                budget,
                used: 0,
                nlri: Vec::new(),
            }
        });
        if !run.nlri.is_empty() && run.used + l > run.budget {
            let full = core::mem::take(&mut run.nlri);
            run.used = 0;
            self.out_withdrawals.push(withdrawal(family, full));
        }
        run.used += l;
        run.nlri.push(n);
    }

    pub(super) fn announce(
        &mut self,
        family: Family,
        next_hop: IpAddr,
        attrs: Arc<RouteAttrs>,
        n: Nlri,
    ) {
        let l = n.wire_len(self.o.ctx.add_path.contains(family));
        let (o, max) = (self.o, self.max);
        let run = self
            .groups
            .entry((family, next_hop, attrs))
            .or_insert_with_key(|(_, _, attrs)| {
                let template = o.attributes(family, next_hop, attrs.link_local, attrs, Vec::new());
                // +1: MP_REACH_NLRI may need the extended length once NLRI are in.
                let budget = template.as_ref().map_or(0, |t| {
                    max.saturating_sub(FIXED + encoded_len(t, o) + 1).max(1)
                });
                Run {
                    template,
                    budget,
                    used: 0,
                    nlri: Vec::new(),
                }
            });
        let Some(template) = &run.template else {
            return;
        };
        if !run.nlri.is_empty() && run.used + l > run.budget {
            let full = core::mem::take(&mut run.nlri);
            run.used = 0;
            self.out_announcements
                .push(announcement(family, template, full));
        }
        run.used += l;
        run.nlri.push(n);
    }

    /// Withdrawals first, then announcements, each family and group in order.
    pub(super) fn finish(self) -> Vec<Update> {
        let mut out = self.out_withdrawals;
        for (family, run) in self.withdrawals {
            if !run.nlri.is_empty() {
                out.push(withdrawal(family, run.nlri));
            }
        }
        out.extend(self.out_announcements);
        for ((family, _, _), run) in self.groups {
            if let (Some(t), false) = (&run.template, run.nlri.is_empty()) {
                out.push(announcement(family, t, run.nlri));
            }
        }
        out
    }
}
