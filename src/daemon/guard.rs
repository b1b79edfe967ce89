//! A BGP session under its BFD session (feature `bfd`): what a peer's
//! task does on the verdicts of its BFD client ([`leafvip_bfd::Client`],
//! RFC 5882's edge detection and AdminDown rule). BGP starts once BFD is
//! Up; a failure closes it (Cease "BFD Down", RFC 9384) and holds it until
//! BFD is Up again. The task carries the steps out on its session.
use leafvip_bfd::Verdict;

/// What the BGP session does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Start: BFD is Up (again), or no longer guards it.
    Start,
    /// Close with Cease "BFD Down" and hold.
    Down,
}

/// Whether a BGP session waits for BFD now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guard {
    pub held: bool,
}

impl Guard {
    /// A verdict of the BFD client; `guarded` is false once BFD was
    /// removed from the peer, when only a release still counts.
    pub fn verdict(&mut self, guarded: bool, v: Verdict) -> Option<Step> {
        match v {
            Verdict::Release if self.held => {
                self.held = false;
                Some(Step::Start)
            }
            Verdict::Hold if !self.held && guarded => {
                self.held = true;
                Some(Step::Down)
            }
            _ => None,
        }
    }
}
