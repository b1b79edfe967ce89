//! Path attributes (RFC 4271 §4.3 and §5, RFC 1997, RFC 4360, RFC 4760,
//! RFC 6793, RFC 8092): typed values, flags, parse and emit.
use super::aspath::AsPath;
use super::mp::{MpParse, MpReach, MpUnreach};
use super::reader::{patch_u16, Reader};
use super::{Context, DecodeError};
use crate::prelude::*;
use core::net::Ipv4Addr;

pub mod flag {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

pub mod code {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MED: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const LARGE_COMMUNITIES: u8 = 32;
}

/// Well-known communities (RFC 1997, RFC 8326).
pub mod community {
    pub const GRACEFUL_SHUTDOWN: u32 = 0xffff_0000;
    pub const NO_EXPORT: u32 = 0xffff_ff01;
    pub const NO_ADVERTISE: u32 = 0xffff_ff02;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LargeCommunity {
    pub global: u32,
    pub local1: u32,
    pub local2: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub addr: Ipv4Addr,
}

/// Typed attribute values. Known attributes whose value breaks its rules
/// become [`AttrValue::Malformed`] so that the message still parses and RFC
/// 7606 can decide between treat-as-withdraw and attribute discard.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttrValue {
    Origin(Origin),
    AsPath(AsPath),
    NextHop(Ipv4Addr),
    Med(u32),
    LocalPref(u32),
    AtomicAggregate,
    Aggregator(Aggregator),
    Communities(Vec<u32>),
    OriginatorId(Ipv4Addr),
    ClusterList(Vec<u32>),
    MpReach(MpReach),
    MpUnreach(MpUnreach),
    ExtendedCommunities(Vec<[u8; 8]>),
    As4Path(AsPath),
    As4Aggregator(Aggregator),
    LargeCommunities(Vec<LargeCommunity>),
    /// An optional attribute we do not interpret (or an MP attribute of a
    /// family we do not speak), kept byte for byte.
    Unknown {
        code: u8,
        data: Vec<u8>,
    },
    /// A known attribute whose value is malformed.
    Malformed {
        code: u8,
        data: Vec<u8>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PathAttribute {
    pub flags: u8,
    pub value: AttrValue,
}

/// (optional, transitive) for each known attribute code.
pub(crate) fn expected_category(c: u8) -> Option<(bool, bool)> {
    use code::*;
    Some(match c {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => (false, true),
        MED | ORIGINATOR_ID | CLUSTER_LIST | MP_REACH_NLRI | MP_UNREACH_NLRI => (true, false),
        AGGREGATOR | COMMUNITIES | EXTENDED_COMMUNITIES | AS4_PATH | AS4_AGGREGATOR
        | LARGE_COMMUNITIES => (true, true),
        _ => return None,
    })
}

impl PathAttribute {
    /// An attribute with the flags RFC 4271 prescribes for its type.
    pub fn new(value: AttrValue) -> Self {
        let (opt, trans) = expected_category(value.code()).unwrap_or((true, true));
        let mut flags = 0;
        if opt {
            flags |= flag::OPTIONAL;
        }
        if trans {
            flags |= flag::TRANSITIVE;
        }
        PathAttribute { flags, value }
    }

    pub fn code(&self) -> u8 {
        self.value.code()
    }

    /// Whether the Optional/Transitive/Partial bits fit the type (RFC 4271
    /// §6.3; RFC 7606 §3 c): well-known and optional non-transitive
    /// attributes never carry Partial.
    pub fn flags_ok(&self) -> bool {
        let Some((opt, trans)) = expected_category(self.code()) else {
            return true;
        };
        let o = self.flags & flag::OPTIONAL != 0;
        let t = self.flags & flag::TRANSITIVE != 0;
        let p = self.flags & flag::PARTIAL != 0;
        o == opt && t == trans && (!p || (opt && trans))
    }

    /// Parses one attribute's value. Only MP attributes can fail the whole
    /// message; everything else degrades to `Malformed` or `Unknown`.
    pub(crate) fn parse(
        flags: u8,
        c: u8,
        v: &[u8],
        raw: &[u8],
        ctx: &Context,
    ) -> Result<Self, DecodeError> {
        use code::*;
        let mut r = Reader::new(v);
        let n = v.len();
        let value = match c {
            ORIGIN if n == 1 => match v[0] {
                0 => Some(AttrValue::Origin(Origin::Igp)),
                1 => Some(AttrValue::Origin(Origin::Egp)),
                2 => Some(AttrValue::Origin(Origin::Incomplete)),
                _ => None,
            },
            AS_PATH => AsPath::parse(v, ctx.four_octet_as).map(AttrValue::AsPath),
            AS4_PATH => AsPath::parse(v, true).map(AttrValue::As4Path),
            NEXT_HOP if n == 4 => r.array::<4>().map(|a| AttrValue::NextHop(a.into())),
            MED if n == 4 => r.u32().map(AttrValue::Med),
            LOCAL_PREF if n == 4 => r.u32().map(AttrValue::LocalPref),
            ORIGINATOR_ID if n == 4 => r.array::<4>().map(|a| AttrValue::OriginatorId(a.into())),
            ATOMIC_AGGREGATE if n == 0 => Some(AttrValue::AtomicAggregate),
            AGGREGATOR if n == if ctx.four_octet_as { 8 } else { 6 } => {
                let asn = if ctx.four_octet_as {
                    r.u32()
                } else {
                    r.u16().map(u32::from)
                };
                match (asn, r.array::<4>()) {
                    (Some(asn), Some(a)) => Some(AttrValue::Aggregator(Aggregator {
                        asn,
                        addr: a.into(),
                    })),
                    _ => None,
                }
            }
            AS4_AGGREGATOR if n == 8 => match (r.u32(), r.array::<4>()) {
                (Some(asn), Some(a)) => Some(AttrValue::As4Aggregator(Aggregator {
                    asn,
                    addr: a.into(),
                })),
                _ => None,
            },
            COMMUNITIES if n % 4 == 0 => Some(AttrValue::Communities(words(v))),
            CLUSTER_LIST if n % 4 == 0 => Some(AttrValue::ClusterList(words(v))),
            EXTENDED_COMMUNITIES if n % 8 == 0 => Some(AttrValue::ExtendedCommunities(
                v.chunks_exact(8)
                    .map(|c| c.try_into().unwrap_or([0; 8]))
                    .collect(),
            )),
            LARGE_COMMUNITIES if n % 12 == 0 => Some(AttrValue::LargeCommunities(
                words(v)
                    .chunks_exact(3)
                    .map(|w| LargeCommunity {
                        global: w[0],
                        local1: w[1],
                        local2: w[2],
                    })
                    .collect(),
            )),
            MP_REACH_NLRI => match MpReach::parse(v, ctx) {
                MpParse::Parsed(m) => Some(AttrValue::MpReach(m)),
                MpParse::Foreign => Some(AttrValue::Unknown {
                    code: c,
                    data: v.to_vec(),
                }),
                MpParse::Broken => {
                    return Err(DecodeError::MalformedMpAttribute {
                        attribute: raw.to_vec(),
                    })
                }
            },
            MP_UNREACH_NLRI => match MpUnreach::parse(v, ctx) {
                MpParse::Parsed(m) => Some(AttrValue::MpUnreach(m)),
                MpParse::Foreign => Some(AttrValue::Unknown {
                    code: c,
                    data: v.to_vec(),
                }),
                MpParse::Broken => {
                    return Err(DecodeError::MalformedMpAttribute {
                        attribute: raw.to_vec(),
                    })
                }
            },
            _ if expected_category(c).is_none() => {
                if flags & flag::OPTIONAL == 0 {
                    return Err(DecodeError::UnrecognizedWellKnown {
                        attribute: raw.to_vec(),
                    });
                }
                Some(AttrValue::Unknown {
                    code: c,
                    data: v.to_vec(),
                })
            }
            _ => None,
        };
        let value = value.unwrap_or_else(|| AttrValue::Malformed {
            code: c,
            data: v.to_vec(),
        });
        Ok(PathAttribute { flags, value })
    }

    /// Writes flags, type, length and value. The Extended Length bit is
    /// kept if set and added when the value needs it.
    pub(crate) fn emit(&self, ctx: &Context, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[self.flags | flag::EXTENDED_LENGTH, self.code(), 0, 0]);
        self.value.emit(ctx, out);
        let len = out.len() - start - 4;
        if len <= 255 && self.flags & flag::EXTENDED_LENGTH == 0 {
            out[start] = self.flags;
            out[start + 2] = len as u8;
            out.copy_within(start + 4.., start + 3);
            out.pop();
        } else {
            patch_u16(out, start + 2, len.min(usize::from(u16::MAX)) as u16);
        }
    }
}

fn words(v: &[u8]) -> Vec<u32> {
    v.chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl AttrValue {
    pub fn code(&self) -> u8 {
        use code::*;
        match self {
            AttrValue::Origin(_) => ORIGIN,
            AttrValue::AsPath(_) => AS_PATH,
            AttrValue::NextHop(_) => NEXT_HOP,
            AttrValue::Med(_) => MED,
            AttrValue::LocalPref(_) => LOCAL_PREF,
            AttrValue::AtomicAggregate => ATOMIC_AGGREGATE,
            AttrValue::Aggregator(_) => AGGREGATOR,
            AttrValue::Communities(_) => COMMUNITIES,
            AttrValue::OriginatorId(_) => ORIGINATOR_ID,
            AttrValue::ClusterList(_) => CLUSTER_LIST,
            AttrValue::MpReach(_) => MP_REACH_NLRI,
            AttrValue::MpUnreach(_) => MP_UNREACH_NLRI,
            AttrValue::ExtendedCommunities(_) => EXTENDED_COMMUNITIES,
            AttrValue::As4Path(_) => AS4_PATH,
            AttrValue::As4Aggregator(_) => AS4_AGGREGATOR,
            AttrValue::LargeCommunities(_) => LARGE_COMMUNITIES,
            AttrValue::Unknown { code, .. } | AttrValue::Malformed { code, .. } => *code,
        }
    }

    fn emit(&self, ctx: &Context, out: &mut Vec<u8>) {
        match self {
            AttrValue::Origin(o) => out.push(*o as u8),
            AttrValue::AsPath(p) => p.emit(ctx.four_octet_as, out),
            AttrValue::As4Path(p) => p.emit(true, out),
            AttrValue::NextHop(a) | AttrValue::OriginatorId(a) => {
                out.extend_from_slice(&a.octets())
            }
            AttrValue::Med(v) | AttrValue::LocalPref(v) => out.extend_from_slice(&v.to_be_bytes()),
            AttrValue::AtomicAggregate => {}
            AttrValue::Aggregator(a) => {
                if ctx.four_octet_as {
                    out.extend_from_slice(&a.asn.to_be_bytes());
                } else {
                    let asn = u16::try_from(a.asn).unwrap_or(super::open::AS_TRANS);
                    out.extend_from_slice(&asn.to_be_bytes());
                }
                out.extend_from_slice(&a.addr.octets());
            }
            AttrValue::As4Aggregator(a) => {
                out.extend_from_slice(&a.asn.to_be_bytes());
                out.extend_from_slice(&a.addr.octets());
            }
            AttrValue::Communities(v) | AttrValue::ClusterList(v) => {
                for w in v {
                    out.extend_from_slice(&w.to_be_bytes());
                }
            }
            AttrValue::ExtendedCommunities(v) => {
                for c in v {
                    out.extend_from_slice(c);
                }
            }
            AttrValue::LargeCommunities(v) => {
                for c in v {
                    for w in [c.global, c.local1, c.local2] {
                        out.extend_from_slice(&w.to_be_bytes());
                    }
                }
            }
            AttrValue::MpReach(m) => m.emit(ctx, out),
            AttrValue::MpUnreach(m) => m.emit(ctx, out),
            AttrValue::Unknown { data, .. } | AttrValue::Malformed { data, .. } => {
                out.extend_from_slice(data)
            }
        }
    }
}
