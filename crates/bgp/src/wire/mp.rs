//! MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760) for IPv4/IPv6 unicast.
use super::family::Family;
use super::prefix::{parse_nlri, Nlri};
use super::reader::Reader;
use super::Context;
use crate::prelude::*;
use core::net::{Ipv4Addr, Ipv6Addr};

/// The next hop inside MP_REACH_NLRI. IPv6 may carry a link-local address
/// after the global one (RFC 2545 §3); IPv4 NLRI may have an IPv6 next hop
/// (RFC 8950), which is why this is not tied to the family.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MpNextHop {
    V4(Ipv4Addr),
    V6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
    /// A length that fits no address (RFC 7606: treat-as-withdraw).
    Other(Vec<u8>),
}

impl MpNextHop {
    fn parse(bytes: &[u8]) -> MpNextHop {
        let mut r = Reader::new(bytes);
        match bytes.len() {
            4 => r.array::<4>().map(|a| MpNextHop::V4(a.into())),
            16 => r.array::<16>().map(|a| MpNextHop::V6 {
                global: a.into(),
                link_local: None,
            }),
            32 => match (r.array::<16>(), r.array::<16>()) {
                (Some(g), Some(l)) => Some(MpNextHop::V6 {
                    global: g.into(),
                    link_local: Some(l.into()),
                }),
                _ => None,
            },
            _ => None,
        }
        .unwrap_or_else(|| MpNextHop::Other(bytes.to_vec()))
    }

    fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(0);
        match self {
            MpNextHop::V4(a) => out.extend_from_slice(&a.octets()),
            MpNextHop::V6 { global, link_local } => {
                out.extend_from_slice(&global.octets());
                if let Some(ll) = link_local {
                    out.extend_from_slice(&ll.octets());
                }
            }
            MpNextHop::Other(b) => out.extend_from_slice(&b[..b.len().min(255)]),
        }
        out[start] = (out.len() - start - 1) as u8;
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MpReach {
    pub family: Family,
    pub next_hop: MpNextHop,
    pub nlri: Vec<Nlri>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    pub family: Family,
    pub withdrawn: Vec<Nlri>,
}

/// What parsing an MP attribute found.
pub(crate) enum MpParse<T> {
    Parsed(T),
    /// A family whose NLRI we cannot parse: kept raw and ignored.
    Foreign,
    /// Unparseable: the session must be reset.
    Broken,
}

impl MpReach {
    pub(crate) fn parse(value: &[u8], ctx: &Context) -> MpParse<MpReach> {
        let mut r = Reader::new(value);
        let (Some(afi), Some(safi), Some(nh_len)) = (r.u16(), r.u8(), r.u8()) else {
            return MpParse::Broken;
        };
        let family = Family::new(afi, safi);
        let Some(nh) = r.take(usize::from(nh_len)) else {
            return MpParse::Broken;
        };
        // The reserved octet (formerly the SNPA count) must be there.
        if r.u8().is_none() {
            return MpParse::Broken;
        }
        if !family.is_supported() {
            return MpParse::Foreign;
        }
        match parse_nlri(r.rest(), afi, ctx.add_path.contains(family)) {
            Ok(nlri) => MpParse::Parsed(MpReach {
                family,
                next_hop: MpNextHop::parse(nh),
                nlri,
            }),
            Err(()) => MpParse::Broken,
        }
    }

    pub(crate) fn emit(&self, ctx: &Context, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.family.afi.to_be_bytes());
        out.push(self.family.safi);
        self.next_hop.emit(out);
        out.push(0);
        let ap = ctx.add_path.contains(self.family);
        for n in &self.nlri {
            n.emit(ap, out);
        }
    }
}

impl MpUnreach {
    pub(crate) fn parse(value: &[u8], ctx: &Context) -> MpParse<MpUnreach> {
        let mut r = Reader::new(value);
        let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
            return MpParse::Broken;
        };
        let family = Family::new(afi, safi);
        if !family.is_supported() {
            return MpParse::Foreign;
        }
        match parse_nlri(r.rest(), afi, ctx.add_path.contains(family)) {
            Ok(withdrawn) => MpParse::Parsed(MpUnreach { family, withdrawn }),
            Err(()) => MpParse::Broken,
        }
    }

    pub(crate) fn emit(&self, ctx: &Context, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.family.afi.to_be_bytes());
        out.push(self.family.safi);
        let ap = ctx.add_path.contains(self.family);
        for n in &self.withdrawn {
            n.emit(ap, out);
        }
    }
}
