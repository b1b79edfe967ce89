//! NOTIFICATION (RFC 4271 §4.5), its codes in words, and the shutdown
//! communication of RFC 8203/9003.
use super::reader::Reader;
use super::DecodeError;
use crate::prelude::*;

/// Error codes (RFC 4271 §4.5, RFC 7313 for ROUTE-REFRESH).
pub mod code {
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN: u8 = 2;
    pub const UPDATE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH: u8 = 7;
}

/// Cease subcodes (RFC 4486, RFC 8538).
pub mod cease {
    pub const MAX_PREFIXES: u8 = 1;
    pub const ADMIN_SHUTDOWN: u8 = 2;
    pub const PEER_DECONFIGURED: u8 = 3;
    pub const ADMIN_RESET: u8 = 4;
    pub const CONNECTION_REJECTED: u8 = 5;
    pub const OTHER_CONFIG_CHANGE: u8 = 6;
    pub const COLLISION_RESOLUTION: u8 = 7;
    pub const OUT_OF_RESOURCES: u8 = 8;
    pub const HARD_RESET: u8 = 9;
    pub const BFD_DOWN: u8 = 10;
}

/// RFC 9003 raised the shutdown communication limit from 128 to 255 bytes.
pub const MAX_SHUTDOWN_MESSAGE: usize = 255;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(code: u8, subcode: u8, data: Vec<u8>) -> Self {
        Notification {
            code,
            subcode,
            data,
        }
    }

    /// Cease with a shutdown communication. Only Administrative Shutdown and
    /// Administrative Reset carry one; the text is cut at a character
    /// boundary to fit 255 bytes.
    pub fn cease(subcode: u8, message: &str) -> Self {
        let mut data = Vec::new();
        if matches!(subcode, cease::ADMIN_SHUTDOWN | cease::ADMIN_RESET) && !message.is_empty() {
            let mut end = message.len().min(MAX_SHUTDOWN_MESSAGE);
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            data.push(end as u8);
            data.extend_from_slice(&message.as_bytes()[..end]);
        }
        Notification::new(code::CEASE, subcode, data)
    }

    pub(crate) fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let code = r.u8().ok_or(DecodeError::MalformedNotification)?;
        let subcode = r.u8().ok_or(DecodeError::MalformedNotification)?;
        Ok(Notification::new(code, subcode, r.rest().to_vec()))
    }

    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.code);
        out.push(self.subcode);
        out.extend_from_slice(&self.data);
    }

    /// The RFC 8203 shutdown communication, if this is a Cease that carries
    /// a well-formed one.
    pub fn shutdown_message(&self) -> Option<&str> {
        if self.code != code::CEASE
            || !matches!(self.subcode, cease::ADMIN_SHUTDOWN | cease::ADMIN_RESET)
        {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..len as usize)?;
        core::str::from_utf8(text).ok()
    }

    /// "Code / subcode" in the words of the RFCs, for logs and status.
    pub fn error_name(&self) -> &'static str {
        name(self.code, self.subcode)
    }
}

impl Notification {
    /// The data of the NOTIFICATIONs an operator meets when bringing a
    /// session up, in words: what an AS, a version, a capability or an
    /// attribute the peer objected to was.
    fn data_in_words(&self) -> Option<alloc::string::String> {
        use alloc::format;
        let d = &self.data[..];
        match (self.code, self.subcode, d.len()) {
            (code::OPEN, 1, 2) => Some(format!(
                "the peer speaks BGP version {}",
                u16::from_be_bytes([d[0], d[1]])
            )),
            (code::OPEN, 2, 2) => Some(format!("AS {}", u16::from_be_bytes([d[0], d[1]]))),
            (code::OPEN, 2, 4) => Some(format!(
                "AS {}",
                u32::from_be_bytes([d[0], d[1], d[2], d[3]])
            )),
            (code::OPEN, 3, 4) => Some(format!(
                "BGP Identifier {}.{}.{}.{}",
                d[0], d[1], d[2], d[3]
            )),
            (code::OPEN, 7, n) if n >= 2 => {
                // Capabilities, each code, length, value.
                let mut codes = alloc::vec::Vec::new();
                let mut rest = d;
                while let [c, l, tail @ ..] = rest {
                    codes.push(format!("{c}"));
                    rest = tail.get(usize::from(*l)..).unwrap_or(&[]);
                }
                Some(format!("capability codes {}", codes.join(", ")))
            }
            (code::UPDATE, 2..=10, n) if n >= 2 => Some(format!(
                "attribute type {} ({n} bytes of it returned)",
                d[1]
            )),
            _ => None,
        }
    }
}

impl core::fmt::Display for Notification {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({}/{})", self.error_name(), self.code, self.subcode)?;
        if let Some(msg) = self.shutdown_message() {
            write!(f, ": {msg:?}")?;
        } else if let Some(words) = self.data_in_words() {
            write!(f, ": {words}")?;
        } else if !self.data.is_empty() {
            f.write_str(", data ")?;
            for b in self.data.iter().take(32) {
                write!(f, "{b:02x}")?;
            }
            if self.data.len() > 32 {
                f.write_str("…")?;
            }
        }
        Ok(())
    }
}

fn name(c: u8, sub: u8) -> &'static str {
    match (c, sub) {
        (code::MESSAGE_HEADER, 1) => "Message Header Error / Connection Not Synchronized",
        (code::MESSAGE_HEADER, 2) => "Message Header Error / Bad Message Length",
        (code::MESSAGE_HEADER, 3) => "Message Header Error / Bad Message Type",
        (code::MESSAGE_HEADER, _) => "Message Header Error",
        (code::OPEN, 1) => "OPEN Message Error / Unsupported Version Number",
        (code::OPEN, 2) => "OPEN Message Error / Bad Peer AS",
        (code::OPEN, 3) => "OPEN Message Error / Bad BGP Identifier",
        (code::OPEN, 4) => "OPEN Message Error / Unsupported Optional Parameter",
        (code::OPEN, 6) => "OPEN Message Error / Unacceptable Hold Time",
        (code::OPEN, 7) => "OPEN Message Error / Unsupported Capability",
        (code::OPEN, 11) => "OPEN Message Error / Role Mismatch",
        (code::OPEN, _) => "OPEN Message Error",
        (code::UPDATE, 1) => "UPDATE Message Error / Malformed Attribute List",
        (code::UPDATE, 2) => "UPDATE Message Error / Unrecognized Well-known Attribute",
        (code::UPDATE, 3) => "UPDATE Message Error / Missing Well-known Attribute",
        (code::UPDATE, 4) => "UPDATE Message Error / Attribute Flags Error",
        (code::UPDATE, 5) => "UPDATE Message Error / Attribute Length Error",
        (code::UPDATE, 6) => "UPDATE Message Error / Invalid ORIGIN Attribute",
        (code::UPDATE, 8) => "UPDATE Message Error / Invalid NEXT_HOP Attribute",
        (code::UPDATE, 9) => "UPDATE Message Error / Optional Attribute Error",
        (code::UPDATE, 10) => "UPDATE Message Error / Invalid Network Field",
        (code::UPDATE, 11) => "UPDATE Message Error / Malformed AS_PATH",
        (code::UPDATE, _) => "UPDATE Message Error",
        (code::HOLD_TIMER_EXPIRED, _) => "Hold Timer Expired",
        (code::FSM, 1) => "Finite State Machine Error / Unexpected Message in OpenSent",
        (code::FSM, 2) => "Finite State Machine Error / Unexpected Message in OpenConfirm",
        (code::FSM, 3) => "Finite State Machine Error / Unexpected Message in Established",
        (code::FSM, _) => "Finite State Machine Error",
        (code::CEASE, cease::MAX_PREFIXES) => "Cease / Maximum Number of Prefixes Reached",
        (code::CEASE, cease::ADMIN_SHUTDOWN) => "Cease / Administrative Shutdown",
        (code::CEASE, cease::PEER_DECONFIGURED) => "Cease / Peer De-configured",
        (code::CEASE, cease::ADMIN_RESET) => "Cease / Administrative Reset",
        (code::CEASE, cease::CONNECTION_REJECTED) => "Cease / Connection Rejected",
        (code::CEASE, cease::OTHER_CONFIG_CHANGE) => "Cease / Other Configuration Change",
        (code::CEASE, cease::COLLISION_RESOLUTION) => "Cease / Connection Collision Resolution",
        (code::CEASE, cease::OUT_OF_RESOURCES) => "Cease / Out of Resources",
        (code::CEASE, cease::HARD_RESET) => "Cease / Hard Reset",
        (code::CEASE, cease::BFD_DOWN) => "Cease / BFD Down",
        (code::CEASE, _) => "Cease",
        (code::ROUTE_REFRESH, 1) => "ROUTE-REFRESH Message Error / Invalid Message Length",
        (code::ROUTE_REFRESH, _) => "ROUTE-REFRESH Message Error",
        _ => "Unknown error code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_message_is_cut_at_a_char_boundary() {
        let long = "é".repeat(200); // 400 bytes
        let n = Notification::cease(cease::ADMIN_SHUTDOWN, &long);
        assert_eq!(n.data[0] as usize, 254);
        assert_eq!(n.shutdown_message().unwrap().chars().count(), 127);
    }

    #[test]
    fn shutdown_message_length_overrun_is_not_text() {
        let n = Notification::new(code::CEASE, cease::ADMIN_SHUTDOWN, vec![9, b'h', b'i']);
        assert_eq!(n.shutdown_message(), None);
        assert!(n.to_string().contains("Administrative Shutdown"));
    }

    #[test]
    fn other_cease_subcodes_carry_no_text() {
        let n = Notification::cease(cease::PEER_DECONFIGURED, "ignored");
        assert!(n.data.is_empty());
        assert_eq!(n.to_string(), "Cease / Peer De-configured (6/3)");
    }
}
