//! What a peer task logs and counts of the core's actions that do no I/O:
//! state changes, sessions up and down, NOTIFICATIONs, UPDATE verdicts.
//! Shared by the session's own connection and a collision's second one.
use super::peer::PeerTask;
use leafvip_bgp::session::Action;
use leafvip_bgp::wire::{FamilySet, Revision};
use tracing::{debug, info, warn};

impl PeerTask {
    pub(super) fn note(&mut self, a: Action) {
        match a {
            Action::StateChange { from, to } => debug!(peer = %self.addr, "{from} -> {to}"),
            Action::Established(n) => {
                self.established.set(self.established.get() + 1);
                info!(
                    peer = %self.addr, asn = n.peer_as, families = %n.families, add_path = %n.add_path_send,
                    hold = n.hold_time, "session established"
                );
                let wanted: FamilySet = self
                    .peer
                    .session()
                    .config()
                    .add_path_send
                    .intersect(n.families);
                // One line, and not a warning: one path per prefix is
                // all a peer without ADD-PATH needs while a VIP has one
                // next hop; `status` counts what is held back.
                let without: Vec<String> = wanted
                    .iter()
                    .filter(|f| !n.add_path_send.contains(*f))
                    .map(|f| f.to_string())
                    .collect();
                if !without.is_empty() {
                    info!(peer = %self.addr, families = %without.join(","), "peer did not negotiate ADD-PATH receive: one path per prefix");
                }
            }
            Action::Down {
                reason,
                was_up: true,
            } => {
                self.established
                    .set(self.established.get().saturating_sub(1));
                warn!(peer = %self.addr, "session down: {reason}");
                self.history.last_error = Some(reason.to_string());
            }
            Action::Down {
                reason,
                was_up: false,
            } => {
                debug!(peer = %self.addr, "attempt failed: {reason}");
                self.history.last_error = Some(reason.to_string());
            }
            Action::NotificationSent(n) => {
                warn!(peer = %self.addr, "sent NOTIFICATION {n}");
                self.history.notification(true, &n);
            }
            Action::NotificationReceived(n) => {
                warn!(peer = %self.addr, "received NOTIFICATION {n}");
                self.history.notification(false, &n);
            }
            Action::UpdateReceived { verdict, .. } if verdict.action() != Revision::Accept => {
                // A peer can send these at line rate: one line per 10 s
                // for each way of handling them.
                let kind = usize::from(verdict.action() != Revision::TreatAsWithdraw);
                if let Some(more) = self.malformed_log[kind].hit(std::time::Instant::now()) {
                    warn!(peer = %self.addr, more, "malformed UPDATE handled by {:?} (RFC 7606): {:?}", verdict.action(), verdict.problems);
                }
            }
            Action::UpdateReceived { .. } => {}
            Action::RouteRefresh(rr) => {
                debug!(peer = %self.addr, family = %rr.family, "route refresh requested")
            }
            Action::NotSent(e) => {
                self.history.not_sent += 1;
                // A table can repeat this per UPDATE: one line per 10 s.
                if let Some(more) = self.not_sent_log.hit(std::time::Instant::now()) {
                    warn!(peer = %self.addr, more, "a message was not sent: {e}");
                }
            }
            Action::Connect | Action::Send(_) | Action::Disconnect | Action::Reject => {}
        }
    }
}
