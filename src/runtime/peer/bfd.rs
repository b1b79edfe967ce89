//! A peer task's side of BFD (feature `bfd`): the hub's verdicts, as the
//! core's [`Guard`] steps, turned into BGP events, and the BFD line of the
//! peer's status.
use crate::bfd_status::BfdStatus;
use crate::daemon::guard::{Guard, Step};
use crate::runtime::bfd_hub::{Hub, Verdict};
use leafvip_bgp::session::{Action, Event};
use leafvip_bgp::Instant;
use tracing::{info, warn};

impl super::PeerTask {
    /// Puts the BGP session under `hub`'s BFD session for this peer;
    /// `held` when BFD is not Up yet, so that BGP does not start.
    pub fn guarded(mut self, hub: Hub, held: bool) -> Self {
        self.bfd = Some(hub);
        self.held = held;
        self
    }

    pub(super) async fn bfd_verdict(&mut self, now: Instant, v: Verdict) -> Vec<Action> {
        let mut guard = Guard { held: self.held };
        let step = guard.verdict(self.bfd.is_some(), v);
        self.held = guard.held;
        match step {
            Some(Step::Start) => {
                info!(peer = %self.addr, "BFD is up: starting the BGP session");
                self.peer.handle_event(now, Event::Start)
            }
            Some(Step::Down) => {
                warn!(peer = %self.addr, "BFD went down: closing the BGP session until it is back");
                let bfd_down = leafvip_bgp::wire::cease::BFD_DOWN;
                self.stop_second(now, bfd_down, "BFD down").await;
                self.peer.handle_event(now, Event::BfdDown)
            }
            None => Vec::new(),
        }
    }

    /// BFD was removed from this peer's config: nothing holds BGP now.
    pub(super) fn unguard(&mut self) {
        self.bfd = None;
    }

    pub(super) fn bfd_status(&self) -> Option<BfdStatus> {
        self.bfd.as_ref()?.status(self.addr.ip(), self.held)
    }
}
