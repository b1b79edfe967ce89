//! Decoding errors that end the session, each mapped to the NOTIFICATION
//! that RFC 4271 §6 (as revised by RFC 7606) says to send.
//!
//! Errors that RFC 7606 downgrades to treat-as-withdraw or attribute
//! discard are *not* here: they do not stop a message from parsing and are
//! reported by [`super::update::Update::review`] instead.
use super::notification::{code, Notification};
use crate::prelude::*;
use core::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// 1/1: the marker is not all ones.
    NotSynchronized,
    /// 1/2: the length field is out of range for the message type.
    BadLength { length: u16 },
    /// 1/3: an unknown message type.
    BadType { kind: u8 },
    /// 2/1: a BGP version other than 4.
    UnsupportedVersion { version: u8 },
    /// 2/0: the OPEN body does not add up (lengths, truncated fields).
    MalformedOpen,
    /// 2/0: a capability we know has the wrong length for its code.
    MalformedCapability { code: u8 },
    /// 2/4: an optional parameter other than Capabilities.
    UnsupportedOptionalParameter { kind: u8 },
    /// 3/1: the UPDATE's length fields do not add up, or MP_REACH_NLRI /
    /// MP_UNREACH_NLRI appears twice (RFC 7606 §3 g).
    MalformedAttributeList,
    /// 3/2: an attribute flagged well-known whose type we do not know.
    UnrecognizedWellKnown { attribute: Vec<u8> },
    /// 3/9: MP_REACH_NLRI or MP_UNREACH_NLRI cannot be parsed, so its NLRI
    /// cannot even be withdrawn (RFC 7606 §5.3: session reset).
    MalformedMpAttribute { attribute: Vec<u8> },
    /// 3/10: the withdrawn routes or NLRI fields cannot be parsed.
    InvalidNetworkField,
    /// 7/1: a ROUTE-REFRESH of the wrong length; data is the whole message.
    RouteRefreshLength { message: Vec<u8> },
    /// A NOTIFICATION too short to read. RFC 4271 forbids answering a
    /// NOTIFICATION with one, so this only closes the connection.
    MalformedNotification,
}

impl DecodeError {
    /// The NOTIFICATION to send before closing, if any.
    pub fn notification(&self) -> Option<Notification> {
        use DecodeError::*;
        let (c, sub, data) = match self {
            NotSynchronized => (code::MESSAGE_HEADER, 1, Vec::new()),
            BadLength { length } => (code::MESSAGE_HEADER, 2, length.to_be_bytes().to_vec()),
            BadType { kind } => (code::MESSAGE_HEADER, 3, vec![*kind]),
            UnsupportedVersion { .. } => (code::OPEN, 1, 4u16.to_be_bytes().to_vec()),
            MalformedOpen => (code::OPEN, 0, Vec::new()),
            MalformedCapability { code } => (code::OPEN, 0, vec![*code]),
            UnsupportedOptionalParameter { .. } => (code::OPEN, 4, Vec::new()),
            MalformedAttributeList => (code::UPDATE, 1, Vec::new()),
            UnrecognizedWellKnown { attribute } => (code::UPDATE, 2, attribute.clone()),
            MalformedMpAttribute { attribute } => (code::UPDATE, 9, attribute.clone()),
            InvalidNetworkField => (code::UPDATE, 10, Vec::new()),
            RouteRefreshLength { message } => (code::ROUTE_REFRESH, 1, message.clone()),
            MalformedNotification => return None,
        };
        Some(Notification::new(c, sub, data))
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnsupportedOptionalParameter { kind } => {
                write!(f, "unsupported optional parameter type {kind}")
            }
            DecodeError::BadType { kind } => write!(f, "bad message type {kind}"),
            DecodeError::BadLength { length } => write!(f, "bad message length {length}"),
            DecodeError::UnsupportedVersion { version } => {
                write!(f, "unsupported BGP version {version}")
            }
            DecodeError::MalformedCapability { code } => {
                write!(f, "malformed capability {code}")
            }
            DecodeError::MalformedNotification => f.write_str("malformed NOTIFICATION"),
            other => match other.notification() {
                Some(n) => f.write_str(n.error_name()),
                None => f.write_str("malformed message"),
            },
        }
    }
}

impl core::error::Error for DecodeError {}

/// Encoding can only fail one way: the message does not fit the size limit
/// the session negotiated (4096, or 65535 with RFC 8654).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong {
    pub length: usize,
    pub limit: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "message of {} bytes exceeds the {} byte limit",
            self.length, self.limit
        )
    }
}

impl core::error::Error for TooLong {}
