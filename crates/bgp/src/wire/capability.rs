//! BGP capabilities (RFC 5492) that leafvip negotiates, plus a raw form that
//! keeps every other capability byte for byte.
use super::family::Family;
use super::reader::Reader;
use super::DecodeError;
use crate::prelude::*;

pub mod code {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const EXTENDED_MESSAGE: u8 = 6;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ADD_PATH: u8 = 69;
}

/// ADD-PATH Send/Receive field (RFC 7911 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddPathMode(pub u8);

impl AddPathMode {
    pub const RECEIVE: AddPathMode = AddPathMode(1);
    pub const SEND: AddPathMode = AddPathMode(2);
    pub const BOTH: AddPathMode = AddPathMode(3);

    pub fn receive(self) -> bool {
        self.0 & 1 != 0
    }
    pub fn send(self) -> bool {
        self.0 & 2 != 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddPathEntry {
    pub family: Family,
    pub mode: AddPathMode,
}

/// Graceful Restart capability (RFC 4724 §3): 4 flag bits (R = restarted,
/// N = RFC 8538 notification support), a 12-bit restart time, then per
/// family a flags byte whose top bit is F (forwarding state preserved).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GracefulRestart {
    pub flags: u8,
    pub restart_time: u16,
    pub families: Vec<GrFamily>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GrFamily {
    pub family: Family,
    pub flags: u8,
}

impl GracefulRestart {
    pub const RESTART_STATE: u8 = 0x8;
    pub const NOTIFICATION: u8 = 0x4;
    pub const FORWARDING: u8 = 0x80;

    pub fn restarting(&self) -> bool {
        self.flags & Self::RESTART_STATE != 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    Multiprotocol(Family),
    RouteRefresh,
    ExtendedMessage,
    GracefulRestart(GracefulRestart),
    FourOctetAs(u32),
    AddPath(Vec<AddPathEntry>),
    /// Any other capability, kept as received.
    Unknown {
        code: u8,
        data: Vec<u8>,
    },
}

impl Capability {
    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol(_) => code::MULTIPROTOCOL,
            Capability::RouteRefresh => code::ROUTE_REFRESH,
            Capability::ExtendedMessage => code::EXTENDED_MESSAGE,
            Capability::GracefulRestart(_) => code::GRACEFUL_RESTART,
            Capability::FourOctetAs(_) => code::FOUR_OCTET_AS,
            Capability::AddPath(_) => code::ADD_PATH,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Parses one capability TLV's value. A known code with a length that
    /// cannot be right is an error rather than silently unknown, because
    /// ignoring e.g. a broken 4-octet AS capability would mis-negotiate.
    pub(crate) fn parse(cap: u8, value: &[u8]) -> Result<Capability, DecodeError> {
        let bad = DecodeError::MalformedCapability { code: cap };
        let mut r = Reader::new(value);
        let parsed = match cap {
            code::MULTIPROTOCOL if value.len() == 4 => {
                let afi = r.u16().ok_or(bad.clone())?;
                let _reserved = r.u8();
                let safi = r.u8().ok_or(bad.clone())?;
                Capability::Multiprotocol(Family::new(afi, safi))
            }
            code::ROUTE_REFRESH if value.is_empty() => Capability::RouteRefresh,
            code::EXTENDED_MESSAGE if value.is_empty() => Capability::ExtendedMessage,
            code::FOUR_OCTET_AS if value.len() == 4 => {
                Capability::FourOctetAs(r.u32().ok_or(bad.clone())?)
            }
            code::ADD_PATH if !value.is_empty() && value.len() % 4 == 0 => {
                let mut entries = Vec::with_capacity(value.len() / 4);
                while let (Some(afi), Some(safi), Some(mode)) = (r.u16(), r.u8(), r.u8()) {
                    entries.push(AddPathEntry {
                        family: Family::new(afi, safi),
                        mode: AddPathMode(mode),
                    });
                }
                Capability::AddPath(entries)
            }
            code::GRACEFUL_RESTART if value.len() >= 2 && (value.len() - 2) % 4 == 0 => {
                let head = r.u16().ok_or(bad.clone())?;
                let mut families = Vec::new();
                while let (Some(afi), Some(safi), Some(flags)) = (r.u16(), r.u8(), r.u8()) {
                    families.push(GrFamily {
                        family: Family::new(afi, safi),
                        flags,
                    });
                }
                Capability::GracefulRestart(GracefulRestart {
                    flags: (head >> 12) as u8,
                    restart_time: head & 0x0fff,
                    families,
                })
            }
            code::MULTIPROTOCOL
            | code::ROUTE_REFRESH
            | code::EXTENDED_MESSAGE
            | code::FOUR_OCTET_AS
            | code::ADD_PATH
            | code::GRACEFUL_RESTART => return Err(bad),
            other => Capability::Unknown {
                code: other,
                data: value.to_vec(),
            },
        };
        Ok(parsed)
    }

    /// Writes code, length and value.
    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.code());
        let len_pos = out.len();
        out.push(0);
        match self {
            Capability::Multiprotocol(f) => {
                out.extend_from_slice(&f.afi.to_be_bytes());
                out.push(0);
                out.push(f.safi);
            }
            Capability::RouteRefresh | Capability::ExtendedMessage => {}
            Capability::FourOctetAs(asn) => out.extend_from_slice(&asn.to_be_bytes()),
            Capability::AddPath(entries) => {
                for e in entries {
                    out.extend_from_slice(&e.family.afi.to_be_bytes());
                    out.push(e.family.safi);
                    out.push(e.mode.0);
                }
            }
            Capability::GracefulRestart(gr) => {
                let head = (u16::from(gr.flags & 0xf) << 12) | (gr.restart_time & 0x0fff);
                out.extend_from_slice(&head.to_be_bytes());
                for f in &gr.families {
                    out.extend_from_slice(&f.family.afi.to_be_bytes());
                    out.push(f.family.safi);
                    out.push(f.flags);
                }
            }
            Capability::Unknown { data, .. } => out.extend_from_slice(data),
        }
        // A capability value is at most 255 bytes; callers build them from
        // bounded lists, and parse() only yields values that fit.
        out[len_pos] = (out.len() - len_pos - 1).min(255) as u8;
    }
}
