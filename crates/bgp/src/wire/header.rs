//! The fixed 19-byte message header (RFC 4271 §4.1) as a zero-copy view.
use super::DecodeError;
use crate::prelude::*;

pub const HEADER_LEN: usize = 19;
pub const MARKER: [u8; 16] = [0xff; 16];
/// RFC 4271 limit; also the limit for OPEN and KEEPALIVE even when RFC 8654
/// Extended Messages is negotiated.
pub const MAX_LEN: usize = 4096;
pub const MAX_EXTENDED_LEN: usize = 65535;

pub mod kind {
    pub const OPEN: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const NOTIFICATION: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ROUTE_REFRESH: u8 = 5;
}

/// A view over the first bytes of a message. `check` validates it once;
/// the accessors only read what `new_checked` proved is there.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    buf: &'a [u8],
}

impl<'a> Header<'a> {
    /// `None` if fewer than 19 bytes are available yet.
    pub fn new_checked(buf: &'a [u8]) -> Option<Self> {
        (buf.len() >= HEADER_LEN).then_some(Header { buf })
    }

    pub fn marker_ok(&self) -> bool {
        self.buf[..16] == MARKER
    }

    pub fn length(&self) -> u16 {
        u16::from_be_bytes([self.buf[16], self.buf[17]])
    }

    pub fn kind(&self) -> u8 {
        self.buf[18]
    }

    /// Validates marker, type and length against the type's limits (RFC
    /// 4271 §6.1) and the session's maximum (`max_len`).
    pub fn check(&self, max_len: usize) -> Result<(), DecodeError> {
        if !self.marker_ok() {
            return Err(DecodeError::NotSynchronized);
        }
        let length = self.length();
        let len = usize::from(length);
        let bad = DecodeError::BadLength { length };
        let (min, max) = match self.kind() {
            kind::OPEN => (29, MAX_LEN),
            kind::UPDATE => (23, max_len),
            kind::NOTIFICATION => (21, max_len),
            kind::KEEPALIVE => (19, 19),
            // RFC 7313 gives a wrong-sized ROUTE-REFRESH its own error, so
            // only the absolute bounds are checked here.
            kind::ROUTE_REFRESH => (HEADER_LEN, max_len),
            other => return Err(DecodeError::BadType { kind: other }),
        };
        if len < min || len > max {
            return Err(bad);
        }
        Ok(())
    }
}

/// Writes a header with a zero length, to be patched by [`finish`].
pub(crate) fn start(out: &mut Vec<u8>, kind: u8) -> usize {
    let pos = out.len();
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&[0, 0, kind]);
    pos
}

/// Patches the length field of the message that starts at `pos`.
pub(crate) fn finish(out: &mut [u8], pos: usize) -> usize {
    let len = out.len() - pos;
    let field = u16::try_from(len).unwrap_or(u16::MAX);
    super::reader::patch_u16(out, pos + 16, field);
    len
}
