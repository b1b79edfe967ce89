//! UPDATE message (RFC 4271 §4.3) and End-of-RIB (RFC 4724 §2).
use super::attribute::{code, AttrValue, PathAttribute};
use super::family::{Family, AFI_IPV4};
use super::mp::MpUnreach;
use super::prefix::{parse_nlri, Nlri};
use super::reader::{patch_u16, Reader};
use super::{Context, DecodeError};
use crate::prelude::*;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// IPv4 unicast routes withdrawn in the classic field.
    pub withdrawn: Vec<Nlri>,
    pub attributes: Vec<PathAttribute>,
    /// IPv4 unicast routes announced in the classic field.
    pub nlri: Vec<Nlri>,
    /// Path-attribute bytes that could not be framed (an attribute header
    /// or length running past Total Path Attribute Length). RFC 7606 §4
    /// makes that treat-as-withdraw; the bytes are kept so nothing is lost.
    pub unframed: Vec<u8>,
}

impl Update {
    /// The End-of-RIB marker: an empty UPDATE for IPv4 unicast, an UPDATE
    /// with only an empty MP_UNREACH_NLRI for any other family.
    pub fn end_of_rib(family: Family) -> Update {
        if family == Family::IPV4_UNICAST {
            return Update::default();
        }
        Update {
            attributes: vec![PathAttribute::new(AttrValue::MpUnreach(MpUnreach {
                family,
                withdrawn: Vec::new(),
            }))],
            ..Update::default()
        }
    }

    /// The family this UPDATE marks End-of-RIB for, if it is one.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() || !self.unframed.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some(Family::IPV4_UNICAST),
            [PathAttribute {
                value: AttrValue::MpUnreach(m),
                ..
            }] if m.withdrawn.is_empty() => Some(m.family),
            [PathAttribute {
                value:
                    AttrValue::Unknown {
                        code: code::MP_UNREACH_NLRI,
                        data,
                    },
                ..
            }] if data.len() == 3 => {
                Some(Family::new(u16::from_be_bytes([data[0], data[1]]), data[2]))
            }
            _ => None,
        }
    }

    pub fn attribute(&self, c: u8) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .map(|a| &a.value)
            .find(|v| v.code() == c)
    }

    /// Every announced route with its family, classic and MP alike.
    pub fn announced(&self) -> impl Iterator<Item = (Family, &Nlri)> {
        let mp = self.attributes.iter().filter_map(|a| match &a.value {
            AttrValue::MpReach(m) => Some(m),
            _ => None,
        });
        self.nlri
            .iter()
            .map(|n| (Family::IPV4_UNICAST, n))
            .chain(mp.flat_map(|m| m.nlri.iter().map(move |n| (m.family, n))))
    }

    /// Every withdrawn route with its family, classic and MP alike.
    pub fn withdrawals(&self) -> impl Iterator<Item = (Family, &Nlri)> {
        let mp = self.attributes.iter().filter_map(|a| match &a.value {
            AttrValue::MpUnreach(m) => Some(m),
            _ => None,
        });
        self.withdrawn
            .iter()
            .map(|n| (Family::IPV4_UNICAST, n))
            .chain(mp.flat_map(|m| m.withdrawn.iter().map(move |n| (m.family, n))))
    }

    pub(crate) fn parse(body: &[u8], ctx: &Context) -> Result<Update, DecodeError> {
        let mut r = Reader::new(body);
        let list = DecodeError::MalformedAttributeList;
        let wlen = r.u16().ok_or(list.clone())?;
        let wbuf = r.take(usize::from(wlen)).ok_or(list.clone())?;
        let alen = r.u16().ok_or(list.clone())?;
        let abuf = r.take(usize::from(alen)).ok_or(list.clone())?;
        let ap4 = ctx.add_path.contains(Family::IPV4_UNICAST);
        let withdrawn =
            parse_nlri(wbuf, AFI_IPV4, ap4).map_err(|()| DecodeError::InvalidNetworkField)?;
        let nlri =
            parse_nlri(r.rest(), AFI_IPV4, ap4).map_err(|()| DecodeError::InvalidNetworkField)?;

        let mut attributes = Vec::new();
        let mut unframed = Vec::new();
        let mut seen_mp = [false; 2];
        let mut ar = Reader::new(abuf);
        while !ar.is_empty() {
            let before = ar.clone();
            let header = (ar.u8(), ar.u8());
            let (Some(flags), Some(c)) = header else {
                unframed = before.clone().rest().to_vec();
                break;
            };
            let ext = flags & super::attribute::flag::EXTENDED_LENGTH != 0;
            let len = if ext {
                ar.u16()
            } else {
                ar.u8().map(u16::from)
            };
            let value = len.and_then(|l| ar.take(usize::from(l)));
            let Some(value) = value else {
                // RFC 7606 §4: treat-as-withdraw, unless what overran is an MP
                // attribute whose NLRI we then could not even withdraw.
                if c == code::MP_REACH_NLRI || c == code::MP_UNREACH_NLRI {
                    return Err(list);
                }
                unframed = before.clone().rest().to_vec();
                break;
            };
            let raw_len = before.remaining() - ar.remaining();
            let raw = before.clone().take(raw_len).unwrap_or_default();
            if c == code::MP_REACH_NLRI || c == code::MP_UNREACH_NLRI {
                let i = usize::from(c == code::MP_UNREACH_NLRI);
                if seen_mp[i] {
                    return Err(list); // RFC 7606 §3 g
                }
                seen_mp[i] = true;
            }
            attributes.push(PathAttribute::parse(flags, c, value, raw, ctx)?);
        }
        Ok(Update {
            withdrawn,
            attributes,
            nlri,
            unframed,
        })
    }

    pub(crate) fn emit_body(&self, ctx: &Context, out: &mut Vec<u8>) {
        let ap4 = ctx.add_path.contains(Family::IPV4_UNICAST);
        let wpos = out.len();
        out.extend_from_slice(&[0, 0]);
        for n in &self.withdrawn {
            n.emit(ap4, out);
        }
        let wlen = out.len() - wpos - 2;
        patch_u16(out, wpos, wlen.min(usize::from(u16::MAX)) as u16);
        let apos = out.len();
        out.extend_from_slice(&[0, 0]);
        for a in &self.attributes {
            a.emit(ctx, out);
        }
        out.extend_from_slice(&self.unframed);
        let alen = out.len() - apos - 2;
        patch_u16(out, apos, alen.min(usize::from(u16::MAX)) as u16);
        for n in &self.nlri {
            n.emit(ap4, out);
        }
    }
}
