//! RFC 7606 "Revised Error Handling for BGP UPDATE Messages": given a parsed
//! UPDATE, decide whether it is fine, needs some attributes discarded, or
//! must be treated as a withdrawal of everything it announces. Errors that
//! demand a session reset never get this far: the parser returns them.
use super::attribute::{code, AttrValue};
use super::update::Update;
use super::Family;
use crate::prelude::*;

/// The RFC 7606 approaches, mildest first, so that `max` picks the one to
/// apply when several attributes are broken (§3 last paragraph).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Revision {
    Accept,
    AttributeDiscard,
    TreatAsWithdraw,
    /// §5.2: treat-as-withdraw was called for, but the UPDATE carries no
    /// reachable NLRI (no NLRI field, no MP_REACH_NLRI) for it to act on:
    /// the session is reset with UPDATE Message Error / Malformed
    /// Attribute List, as BIRD and FRR do.
    SessionReset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The attribute type involved (0 for message-level problems).
    pub attribute: u8,
    /// The UPDATE Message Error subcode RFC 4271 would have sent.
    pub subcode: u8,
    pub action: Revision,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub problems: Vec<Problem>,
}

impl Verdict {
    pub fn action(&self) -> Revision {
        self.problems
            .iter()
            .map(|p| p.action)
            .max()
            .unwrap_or(Revision::Accept)
    }

    fn add(&mut self, attribute: u8, subcode: u8, action: Revision) {
        self.problems.push(Problem {
            attribute,
            subcode,
            action,
        });
    }
}

const MALFORMED_LIST: u8 = 1;
const MISSING_WELL_KNOWN: u8 = 3;
const FLAGS_ERROR: u8 = 4;
const LENGTH_ERROR: u8 = 5;
const INVALID_ORIGIN: u8 = 6;
const INVALID_NEXT_HOP: u8 = 8;
const OPTIONAL_ATTR_ERROR: u8 = 9;
const MALFORMED_AS_PATH: u8 = 11;

impl Update {
    /// Classifies this UPDATE as received from a peer; `ibgp` matters for
    /// LOCAL_PREF (§7.5) and the AS_PATH checks (§7.2).
    pub fn review(&self, ibgp: bool, peer_as: u32) -> Verdict {
        use Revision::*;
        let mut v = Verdict::default();
        if !self.unframed.is_empty() {
            v.add(0, MALFORMED_LIST, TreatAsWithdraw);
        }
        let mut seen = [false; 256];
        for a in &self.attributes {
            let c = a.code();
            if seen[usize::from(c)] {
                // §3 g: keep the first, discard the rest (MP duplicates
                // were already a session reset in the parser).
                v.add(c, MALFORMED_LIST, AttributeDiscard);
                continue;
            }
            seen[usize::from(c)] = true;
            if !a.flags_ok() {
                v.add(c, FLAGS_ERROR, TreatAsWithdraw);
                continue;
            }
            match &a.value {
                AttrValue::Malformed { code: mc, .. } => {
                    let (sub, action) = match *mc {
                        code::ORIGIN => (INVALID_ORIGIN, TreatAsWithdraw),
                        code::AS_PATH => (MALFORMED_AS_PATH, TreatAsWithdraw),
                        code::NEXT_HOP | code::MED => (LENGTH_ERROR, TreatAsWithdraw),
                        code::LOCAL_PREF if !ibgp => (LENGTH_ERROR, AttributeDiscard),
                        code::LOCAL_PREF => (LENGTH_ERROR, TreatAsWithdraw),
                        code::ATOMIC_AGGREGATE | code::AGGREGATOR => {
                            (LENGTH_ERROR, AttributeDiscard)
                        }
                        // RFC 6793 §6 / RFC 7606 §7.7: AS4 attributes are discarded.
                        code::AS4_PATH | code::AS4_AGGREGATOR => {
                            (OPTIONAL_ATTR_ERROR, AttributeDiscard)
                        }
                        _ => (OPTIONAL_ATTR_ERROR, TreatAsWithdraw),
                    };
                    v.add(*mc, sub, action);
                }
                AttrValue::LocalPref(_) if !ibgp => {
                    // §7.5: LOCAL_PREF from an external peer is discarded.
                    v.add(c, OPTIONAL_ATTR_ERROR, AttributeDiscard);
                }
                AttrValue::AsPath(p) if !ibgp => {
                    // §7.2: confederation segments or a first AS that is not
                    // the peer's mean the path cannot be trusted.
                    let confed = p.segments.iter().any(|s| {
                        matches!(
                            s.kind,
                            super::aspath::SegmentType::ConfedSequence
                                | super::aspath::SegmentType::ConfedSet
                        )
                    });
                    let has_routes = self.announced().next().is_some();
                    let first_ok = p.first_as().is_some_and(|f| {
                        f == peer_as || (f == u32::from(super::open::AS_TRANS) && peer_as > 0xffff)
                    });
                    if confed || (has_routes && !first_ok && peer_as != 0) {
                        v.add(c, MALFORMED_AS_PATH, TreatAsWithdraw);
                    }
                }
                AttrValue::MpReach(m) => {
                    if matches!(m.next_hop, super::mp::MpNextHop::Other(_)) {
                        v.add(c, OPTIONAL_ATTR_ERROR, TreatAsWithdraw);
                    }
                }
                _ => {}
            }
        }
        // §3 d: missing well-known mandatory attributes. NEXT_HOP is only
        // mandatory for classic IPv4 NLRI (RFC 4760 §3).
        let has_nlri = !self.nlri.is_empty();
        let has_mp_reach = self.announced().any(|(f, _)| f != Family::IPV4_UNICAST)
            || seen[usize::from(code::MP_REACH_NLRI)];
        if has_nlri || has_mp_reach {
            let mut mandatory = vec![code::ORIGIN, code::AS_PATH];
            if has_nlri {
                mandatory.push(code::NEXT_HOP);
            }
            if ibgp {
                mandatory.push(code::LOCAL_PREF);
            }
            for m in mandatory {
                if !seen[usize::from(m)] {
                    v.add(m, MISSING_WELL_KNOWN, TreatAsWithdraw);
                }
            }
        }
        if let Some(AttrValue::NextHop(nh)) = self.attribute(code::NEXT_HOP) {
            if has_nlri && (nh.is_unspecified() || nh.is_broadcast() || nh.is_multicast()) {
                v.add(code::NEXT_HOP, INVALID_NEXT_HOP, TreatAsWithdraw);
            }
        }
        // §5.2: nothing reachable to treat as withdrawn.
        if v.action() == TreatAsWithdraw && !has_nlri && !seen[usize::from(code::MP_REACH_NLRI)] {
            v.add(0, MALFORMED_LIST, SessionReset);
        }
        v
    }
}
