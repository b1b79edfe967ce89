//! OPEN message (RFC 4271 §4.2) with Capabilities optional parameters
//! (RFC 5492) and the extended parameter length of RFC 9072.
use super::capability::Capability;
use super::reader::{patch_u16, Reader};
use super::DecodeError;
use crate::prelude::*;
use core::net::Ipv4Addr;

/// RFC 6793: the 2-octet stand-in for a 4-octet AS.
pub const AS_TRANS: u16 = 23456;
const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072: a non-extended length of 255 followed by this type marks the
/// extended format.
const PARAM_EXTENDED: u8 = 255;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    pub version: u8,
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    /// Each entry is one Capabilities optional parameter. Some speakers put
    /// every capability in its own parameter, others all in one; keeping
    /// the grouping lets a decoded OPEN re-encode to the same bytes.
    pub params: Vec<Vec<Capability>>,
    /// Encode the parameters in the RFC 9072 extended format even if they
    /// would fit the classic one (it is used anyway when they do not).
    pub extended_params: bool,
}

impl Open {
    /// An OPEN from `asn`, putting AS_TRANS in My AS when the AS needs four
    /// octets, with all capabilities in one parameter.
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, caps: Vec<Capability>) -> Self {
        Open {
            version: 4,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            params: if caps.is_empty() {
                Vec::new()
            } else {
                vec![caps]
            },
            extended_params: false,
        }
    }

    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.params.iter().flatten()
    }

    /// The speaker's AS: the 4-octet AS capability when present, else My AS.
    pub fn asn(&self) -> u32 {
        self.capabilities()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    pub(crate) fn parse(body: &[u8]) -> Result<Open, DecodeError> {
        let mut r = Reader::new(body);
        let bad = DecodeError::MalformedOpen;
        let version = r.u8().ok_or(bad.clone())?;
        if version != 4 {
            return Err(DecodeError::UnsupportedVersion { version });
        }
        let my_as = r.u16().ok_or(bad.clone())?;
        let hold_time = r.u16().ok_or(bad.clone())?;
        let bgp_id = Ipv4Addr::from(r.array::<4>().ok_or(bad.clone())?);
        let mut opt_len = usize::from(r.u8().ok_or(bad.clone())?);
        let mut extended = false;
        if opt_len == 255 && r.clone().u8() == Some(PARAM_EXTENDED) {
            r.u8();
            opt_len = usize::from(r.u16().ok_or(bad.clone())?);
            extended = true;
        }
        if r.remaining() != opt_len {
            return Err(bad);
        }
        let mut params = Vec::new();
        while !r.is_empty() {
            let kind = r.u8().ok_or(bad.clone())?;
            let len = if extended {
                r.u16()
            } else {
                r.u8().map(u16::from)
            }
            .ok_or(bad.clone())?;
            let value = r.take(usize::from(len)).ok_or(bad.clone())?;
            if kind != PARAM_CAPABILITIES {
                return Err(DecodeError::UnsupportedOptionalParameter { kind });
            }
            let mut caps = Vec::new();
            let mut cr = Reader::new(value);
            while !cr.is_empty() {
                let code = cr.u8().ok_or(bad.clone())?;
                let len = cr.u8().ok_or(bad.clone())?;
                let v = cr.take(usize::from(len)).ok_or(bad.clone())?;
                caps.push(Capability::parse(code, v)?);
            }
            params.push(caps);
        }
        Ok(Open {
            version,
            my_as,
            hold_time,
            bgp_id,
            params,
            extended_params: extended,
        })
    }

    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.version);
        out.extend_from_slice(&self.my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.to_be_bytes());
        out.extend_from_slice(&self.bgp_id.octets());
        // Encode each parameter's capabilities once, then pick the format.
        let encoded: Vec<Vec<u8>> = self
            .params
            .iter()
            .map(|caps| {
                let mut v = Vec::new();
                for c in caps {
                    c.emit(&mut v);
                }
                v
            })
            .collect();
        let classic: usize = encoded.iter().map(|v| 2 + v.len()).sum();
        let extended =
            self.extended_params || classic > 255 || encoded.iter().any(|v| v.len() > 255);
        if extended {
            out.extend_from_slice(&[255, PARAM_EXTENDED, 0, 0]);
            let start = out.len();
            for v in &encoded {
                out.push(PARAM_CAPABILITIES);
                out.extend_from_slice(&(v.len() as u16).to_be_bytes());
                out.extend_from_slice(v);
            }
            let len = (out.len() - start).min(usize::from(u16::MAX)) as u16;
            patch_u16(out, start - 2, len);
        } else {
            out.push(classic as u8);
            for v in &encoded {
                out.push(PARAM_CAPABILITIES);
                out.push(v.len() as u8);
                out.extend_from_slice(v);
            }
        }
    }
}
