//! BGP-4 wire formats: every message leafvip sends or must understand.
//!
//! Each message type has a `Repr`-style struct with `parse` and `emit` that
//! mirror each other: what `parse` returns, `emit` writes back to the same
//! bytes (flags, attribute order and parameter grouping included), which is
//! what the byte-vector tests check against captures from real routers.
//! Parsing never panics; errors that must reset the session are
//! [`DecodeError`]s carrying their NOTIFICATION, and the milder RFC 7606
//! outcomes come from [`Update::review`].
use crate::prelude::*;
mod aspath;
mod attribute;
mod capability;
mod error;
mod family;
mod header;
mod mp;
mod notification;
mod open;
mod prefix;
mod reader;
mod revise;
mod route_refresh;
mod update;

pub use aspath::{AsPath, Segment, SegmentType};
pub use attribute::{
    code as attr_code, community, flag as attr_flag, Aggregator, AttrValue, LargeCommunity, Origin,
    PathAttribute,
};
pub use capability::{
    code as cap_code, AddPathEntry, AddPathMode, Capability, GrFamily, GracefulRestart,
};
pub use error::{DecodeError, TooLong};
pub use family::{Family, FamilySet, AFI_IPV4, AFI_IPV6, SAFI_UNICAST};
pub use header::{kind, Header, HEADER_LEN, MAX_EXTENDED_LEN, MAX_LEN};
pub use mp::{MpNextHop, MpReach, MpUnreach};
pub use notification::{cease, code as error_code, Notification};
pub use open::{Open, AS_TRANS};
pub use prefix::{Nlri, Prefix, PrefixParseError};
pub use revise::{Problem, Revision, Verdict};
pub use route_refresh::RouteRefresh;
pub use update::Update;

/// What the negotiated session changes about the encoding. Directional:
/// for decoding, `add_path` is the set of families in which the peer sends
/// path identifiers; for encoding, those in which we do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    pub four_octet_as: bool,
    pub add_path: FamilySet,
    pub extended_messages: bool,
}

impl Context {
    pub fn max_message_len(&self) -> usize {
        if self.extended_messages {
            MAX_EXTENDED_LEN
        } else {
            MAX_LEN
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

impl Message {
    pub fn kind(&self) -> u8 {
        match self {
            Message::Open(_) => kind::OPEN,
            Message::Update(_) => kind::UPDATE,
            Message::Notification(_) => kind::NOTIFICATION,
            Message::Keepalive => kind::KEEPALIVE,
            Message::RouteRefresh(_) => kind::ROUTE_REFRESH,
        }
    }

    /// Parses exactly one whole message (header included).
    pub fn parse(buf: &[u8], ctx: &Context) -> Result<Message, DecodeError> {
        let header = Header::new_checked(buf).ok_or(DecodeError::BadLength {
            length: u16::try_from(buf.len()).unwrap_or(u16::MAX),
        })?;
        header.check(ctx.max_message_len())?;
        if usize::from(header.length()) != buf.len() {
            return Err(DecodeError::BadLength {
                length: header.length(),
            });
        }
        let body = &buf[HEADER_LEN..];
        Ok(match header.kind() {
            kind::OPEN => Message::Open(Open::parse(body)?),
            kind::UPDATE => Message::Update(Update::parse(body, ctx)?),
            kind::NOTIFICATION => Message::Notification(Notification::parse(body)?),
            kind::KEEPALIVE => Message::Keepalive,
            kind::ROUTE_REFRESH => Message::RouteRefresh(RouteRefresh::parse(body, buf)?),
            other => return Err(DecodeError::BadType { kind: other }),
        })
    }

    /// Appends the encoded message to `out`. On error `out` is left as it
    /// was, so a caller can split the content and try again.
    pub fn emit(&self, ctx: &Context, out: &mut Vec<u8>) -> Result<usize, TooLong> {
        let pos = header::start(out, self.kind());
        match self {
            Message::Open(m) => m.emit(out),
            Message::Update(m) => m.emit_body(ctx, out),
            Message::Notification(m) => m.emit(out),
            Message::Keepalive => {}
            Message::RouteRefresh(m) => m.emit(out),
        }
        let limit = match self {
            Message::Open(_) | Message::Keepalive => MAX_LEN,
            _ => ctx.max_message_len(),
        };
        let len = out.len() - pos;
        if len > limit {
            out.truncate(pos);
            return Err(TooLong { length: len, limit });
        }
        Ok(header::finish(out, pos))
    }

    pub fn to_bytes(&self, ctx: &Context) -> Result<Vec<u8>, TooLong> {
        let mut out = Vec::new();
        self.emit(ctx, &mut out)?;
        Ok(out)
    }
}

/// Framing for a byte stream: the length of the next whole message in
/// `buf`, `Ok(None)` if more bytes are needed, or the header error.
pub fn next_message_len(buf: &[u8], ctx: &Context) -> Result<Option<usize>, DecodeError> {
    let Some(header) = Header::new_checked(buf) else {
        return Ok(None);
    };
    header.check(ctx.max_message_len())?;
    let len = usize::from(header.length());
    Ok((buf.len() >= len).then_some(len))
}
