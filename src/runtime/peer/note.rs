//! What a peer task logs and counts of the core's actions that do no I/O:
//! state changes, sessions up and down, NOTIFICATIONs, UPDATE verdicts.
//! Shared by the session's own connection and a collision's second one.
use super::PeerTask;
use leafvip_bgp::session::{Action, Reason};
use leafvip_bgp::wire::{FamilySet, Revision};
use tracing::{debug, info, warn};

impl PeerTask {
    pub(super) fn note(&mut self, a: Action) {
        match a {
            Action::StateChange { from, to } => {
                self.history.state_since = Some(self.clock.now());
                debug!(peer = %self.addr, "{from} -> {to}")
            }
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
                let why = self.explain(&reason);
                warn!(peer = %self.addr, "session down: {why}");
                self.history.last_error = Some(why);
            }
            Action::Down {
                reason,
                was_up: false,
            } => {
                let why = self.explain(&reason);
                debug!(peer = %self.addr, "attempt failed: {why}");
                self.history.last_error = Some(why);
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
                self.history.malformed += 1;
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

    /// A reason as an operator needs it: with the OS's word on a failed
    /// connect or read, and for a SYN that got no answer while a TCP MD5
    /// password is set, the likeliest cause (Linux drops segments whose
    /// signature does not match, silently).
    fn explain(&mut self, reason: &Reason) -> String {
        let os = self.history.os_error.take();
        match (reason, os) {
            (Reason::ConnectTimeout, _) if self.opts.md5_key.is_some() => format!(
                "{reason}: no answer to our SYN; a TCP MD5 password is set: check it is the same on both sides"
            ),
            (Reason::ConnectTimeout, _) => {
                format!("{reason}: no answer to our SYN (the peer is down or filtered)")
            }
            (_, Some(os)) => format!("{reason}: {os}"),
            _ => reason.to_string(),
        }
    }
}
