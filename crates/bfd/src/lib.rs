//! leafvip's BFD core (RFC 5880 asynchronous mode, encapsulated as RFC
//! 5881 single-hop: UDP 3784, TTL 255), in the style of `leafvip-bgp`:
//! pure code that never touches a socket or a clock. Bytes and the time go
//! in; packets to send, state changes and the next deadline come out.
//!
//! - [`packet`]: the control packet codec, with the reception checks of
//!   RFC 5880 6.8.6 that need no session.
//! - [`session`]: one session's state machine, Poll Sequence and timers.
//! - [`client`]: when the protocol BFD guards must stop or may start
//!   (RFC 5882), read from the session's states.
//! - [`time`]: the caller's clock, in microseconds.
#![forbid(unsafe_code)]

pub mod client;
pub mod packet;
pub mod session;
pub mod time;

pub use client::{Client, Verdict};
pub use packet::{Diag, State};
pub use session::{Action, Config, Event, Session};
pub use time::Instant;
