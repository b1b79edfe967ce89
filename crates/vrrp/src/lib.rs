//! leafvip's VRRPv3 core (RFC 5798, IPv4 and IPv6), in the style of
//! `leafvip-bgp` and `leafvip-bfd`: pure code that never touches a socket
//! or a clock. Received advertisements and the time go in; advertisements
//! to send, the moments to take or give up the addresses, and the next
//! deadline come out.
//!
//! - [`packet`]: the ADVERTISEMENT codec, its checksum over the IP
//!   pseudo-header, and the reception checks of RFC 5798 7.1 that need no
//!   router (TTL or hop limit 255, version, type, length, checksum).
//! - [`router`]: one virtual router's state machine (RFC 5798 6.4):
//!   Initialize, Backup and Master, with preemption, keepalived's preempt
//!   delay, and a planned hand-over that keeps the addresses answered
//!   until another router has taken them.
//! - [`time`]: the caller's clock, in microseconds.
//!
//! Names from the RFC sit beside ours: `Master_Down_Interval` is
//! [`router::Router::master_down_interval`], `Skew_Time`
//! [`router::Router::skew_time`].
#![forbid(unsafe_code)]

pub mod packet;
pub mod router;
pub mod time;

pub use packet::{Advert, DecodeError};
pub use router::{Action, Config, Event, Router, State};
pub use time::Instant;
