//! Connection collision detection (RFC 4271 §6.8).
//!
//! When both ends connect at once there are two sessions for one peer. Once
//! the remote BGP Identifier is known (an OPEN arrived on one of them), the
//! connection opened by the side with the higher Identifier survives. A
//! connection that reaches a peer already Established is the one closed.
use super::{Session, State};

/// Which of two sessions to feed `Event::CollisionDump`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loser {
    First,
    Second,
}

/// `None` while there is nothing to resolve yet (neither side has the
/// peer's OPEN, or one of them is already gone).
pub fn resolve(a: &Session, b: &Session) -> Option<Loser> {
    let live = |s: &Session| s.state() >= State::OpenSent;
    if !live(a) || !live(b) {
        return None;
    }
    if a.state() == State::Established {
        return Some(Loser::Second);
    }
    if b.state() == State::Established {
        return Some(Loser::First);
    }
    let remote_id = a
        .remote_open()
        .or(b.remote_open())
        .map(|o| u32::from(o.bgp_id))?;
    let local_id = u32::from(a.config().bgp_id);
    // Keep the connection initiated by the higher Identifier.
    let keep_local = local_id > remote_id;
    let a_wins = a.initiated_locally() == keep_local;
    Some(if a_wins { Loser::Second } else { Loser::First })
}
