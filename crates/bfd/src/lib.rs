//! leafvip's BFD core (RFC 5880 asynchronous mode, encapsulated as RFC
//! 5881 single-hop: UDP 3784, TTL 255), in the style of `leafvip-bgp`:
//! pure code that never touches a socket or a clock. Bytes go in and
//! come out; the session state machine (next) takes the time as an
//! argument and returns deadlines.
//!
//! This first part is the control packet codec ([`packet`]): a
//! [`packet::Packet`] decoded from bytes with the reception checks of RFC
//! 5880 6.8.6 that need no session, and encoded back.
#![forbid(unsafe_code)]

pub mod packet;
