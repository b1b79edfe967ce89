//! Message handling, one handler per state (RFC 4271 §8.2.2).
use super::negotiate::negotiate;
use super::{Action, Reason, Session, State};
use crate::prelude::*;
use crate::time::Instant;
use crate::wire::{self, error_code, DecodeError, Message, Notification};

/// FSM error subcodes (RFC 6608): unexpected message in this state.
fn fsm_error(state: State) -> Notification {
    let sub = match state {
        State::OpenSent => 1,
        State::OpenConfirm => 2,
        State::Established => 3,
        _ => 0,
    };
    Notification::new(error_code::FSM, sub, Vec::new())
}

impl Session {
    pub(super) fn on_bytes(&mut self, now: Instant, bytes: &[u8], out: &mut Vec<Action>) {
        if self.state < State::OpenSent {
            return; // no connection this session knows of
        }
        self.rx.extend_from_slice(bytes);
        let mut pos = 0;
        while self.state >= State::OpenSent {
            let ctx = self.receive_context();
            let rest = &self.rx[pos..];
            let len = match wire::next_message_len(rest, &ctx) {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(e) => {
                    self.decode_error(now, e, out);
                    return;
                }
            };
            let parsed = Message::parse(&rest[..len], &ctx);
            pos += len;
            self.stats.messages_in += 1;
            match parsed {
                Ok(msg) => self.on_message(now, msg, out),
                Err(e) => {
                    self.decode_error(now, e, out);
                    return;
                }
            }
        }
        if self.state >= State::OpenSent {
            self.rx.drain(..pos);
        }
    }

    /// BGPHeaderErr (21), BGPOpenMsgErr (22), UpdateMsgErr (28): answer
    /// with the NOTIFICATION the error maps to, then drop the session.
    fn decode_error(&mut self, now: Instant, e: DecodeError, out: &mut Vec<Action>) {
        match e.notification() {
            Some(n) => {
                self.notify(n.clone(), out);
                self.go_idle(now, Reason::NotificationSent(n), out);
            }
            None => {
                out.push(Action::Disconnect);
                self.go_idle(now, Reason::ConnectionLost, out);
            }
        }
    }

    fn on_message(&mut self, now: Instant, msg: Message, out: &mut Vec<Action>) {
        if let Message::Notification(n) = msg {
            // NotifMsg (25) / NotifMsgVerErr (24): in every state, drop.
            out.push(Action::NotificationReceived(n.clone()));
            out.push(Action::Disconnect);
            self.go_idle(now, Reason::NotificationReceived(n), out);
            return;
        }
        match self.state {
            State::OpenSent => self.in_open_sent(now, msg, out),
            State::OpenConfirm => self.in_open_confirm(now, msg, out),
            State::Established => self.in_established(now, msg, out),
            _ => {}
        }
    }

    fn unexpected(&mut self, now: Instant, out: &mut Vec<Action>) {
        let n = fsm_error(self.state);
        self.notify(n.clone(), out);
        self.go_idle(now, Reason::NotificationSent(n), out);
    }

    fn in_open_sent(&mut self, now: Instant, msg: Message, out: &mut Vec<Action>) {
        let Message::Open(open) = msg else {
            return self.unexpected(now, out);
        };
        // BGPOpen (19): validate, then KEEPALIVE and OpenConfirm.
        match negotiate(&self.cfg, &self.local_open, &open) {
            Ok(neg) => {
                self.negotiated = Some(neg);
                self.remote_open = Some(open);
                let ctx = self.receive_context();
                self.send(&Message::Keepalive, &ctx, out);
                self.restart_hold(now);
                self.restart_keepalive(now);
                self.set_state(State::OpenConfirm, out);
            }
            Err(n) => {
                self.notify(n.clone(), out);
                self.go_idle(now, Reason::NotificationSent(n), out);
            }
        }
    }

    fn in_open_confirm(&mut self, now: Instant, msg: Message, out: &mut Vec<Action>) {
        let Message::Keepalive = msg else {
            return self.unexpected(now, out);
        };
        // KeepAliveMsg (26): the session is up.
        self.restart_hold(now);
        self.established_at = Some(now);
        self.set_state(State::Established, out);
        if let Some(n) = &self.negotiated {
            out.push(Action::Established(Box::new(n.clone())));
        }
    }

    fn in_established(&mut self, now: Instant, msg: Message, out: &mut Vec<Action>) {
        let Some(neg) = self.negotiated.as_ref() else {
            return;
        };
        match msg {
            Message::Keepalive => self.restart_hold(now),
            Message::Update(u) => {
                // UpdateMsg (27); the RFC 7606 verdict only matters to us as
                // a count, since leafvip installs nothing it receives.
                let verdict = u.review(neg.ibgp, neg.peer_as);
                let reset = verdict.action() == crate::wire::Revision::SessionReset;
                out.push(Action::UpdateReceived {
                    verdict,
                    announced: u.announced().count(),
                    withdrawn: u.withdrawals().count(),
                    end_of_rib: u.end_of_rib_family(),
                });
                self.stats.updates_in += 1;
                if reset {
                    // RFC 7606 §5.2: UPDATE Message Error / Malformed
                    // Attribute List.
                    let n = Notification::new(error_code::UPDATE, 1, Vec::new());
                    self.notify(n.clone(), out);
                    return self.go_idle(now, Reason::NotificationSent(n), out);
                }
                self.restart_hold(now);
            }
            Message::RouteRefresh(rr) => {
                // RFC 2918 §4: ignore families we did not advertise, and
                // RFC 7313 BoRR/EoRR markers, which ask for nothing.
                if rr.subtype == 0 && neg.route_refresh && neg.families.contains(rr.family) {
                    out.push(Action::RouteRefresh(rr));
                }
                self.restart_hold(now);
            }
            Message::Open(_) | Message::Notification(_) => self.unexpected(now, out),
        }
    }
}
