//! The client's side of a session (RFC 5882): what the protocol that BFD
//! guards, here a BGP session, should do when the session changes. RFC
//! 5882 leaves that to the implementation; this is ours, kept here and
//! not in the daemon so that it is pure and property-tested with the
//! state machine that drives it.
//!
//! - The path counts as down until the session first comes Up: a client
//!   that waits for BFD (like FRR's `bfd strict`) is held until then.
//! - Only a fall from Up is a failure ([`Verdict::Hold`]), so a session
//!   configured on a client already running does not tear it down while
//!   it comes up.
//! - The peer's AdminDown is no failure (RFC 5882 3.2): the session is
//!   detached, the client goes on, and a client that waits may start.
//!   Nor is the Down that the session passes through on its way back Up.
//! - Verdicts come on changes only. A Hold always follows a Release; a
//!   Release may repeat (the peer's AdminDown releases, and so does Up
//!   after it), which a running client ignores.
use crate::session::Session;
use crate::State;

/// What the client should do after its session changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The path works (again): a held client may start.
    Release,
    /// The path failed: tear the client down and hold it.
    Hold,
}

/// Edge detection over one session's states, for one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// Whether the path counted as down after the last observation.
    down: bool,
    /// Whether the session was Up then.
    was_up: bool,
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl Client {
    /// A client of a new session: its path is down until BFD is Up.
    pub const fn new() -> Client {
        Client {
            down: true,
            was_up: false,
        }
    }

    /// Whether the path counted as down at the last observation, that is,
    /// whether a client that waits for BFD must still wait.
    pub const fn path_down(&self) -> bool {
        self.down
    }

    /// Looks at the session after it handled an event; a verdict when the
    /// client must change what it does.
    pub fn observe(&mut self, session: &Session) -> Option<Verdict> {
        self.step(session.path_down(), session.state() == State::Up)
    }

    /// [`Client::observe`] on the two facts it reads: whether the
    /// session's path is down ([`Session::path_down`]: not Up, and the
    /// peer not AdminDown) and whether the session is Up.
    pub fn step(&mut self, down: bool, up: bool) -> Option<Verdict> {
        let verdict = if self.was_up && !up && down {
            Some(Verdict::Hold)
        } else if self.down && !down {
            Some(Verdict::Release)
        } else {
            None
        };
        (self.down, self.was_up) = (down, up);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_releases_a_fall_from_up_holds_and_admin_down_never_does() {
        let mut c = Client::new();
        assert!(c.path_down());
        // Init: still down, nothing to say.
        assert_eq!(c.step(true, false), None);
        assert_eq!(c.step(false, true), Some(Verdict::Release));
        assert_eq!(c.step(false, true), None);
        // Detection time expired: a fall from Up.
        assert_eq!(c.step(true, false), Some(Verdict::Hold));
        assert_eq!(c.step(true, false), None);
        assert_eq!(c.step(false, true), Some(Verdict::Release));
        // The peer's AdminDown: Down but not a path failure, no verdict;
        // nor the Down on the way back Up.
        assert_eq!(c.step(false, false), None);
        assert_eq!(c.step(false, true), None);
        assert!(!c.path_down());
    }

    #[test]
    fn the_peers_admin_down_before_up_releases_a_waiting_client() {
        let mut c = Client::new();
        assert_eq!(c.step(false, false), Some(Verdict::Release));
        assert!(!c.path_down());
    }
}
