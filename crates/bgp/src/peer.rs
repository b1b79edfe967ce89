//! One peer as the runtime sees it: the session FSM and the Adj-RIB-Out,
//! wired so that Established starts the sync, Down forgets what was sent,
//! ROUTE-REFRESH resends, and route changes flow out as UPDATEs.
use crate::rib_out::{AdjRibOut, Route};
use crate::session::{Action, Event, Session, SessionConfig, State};
use crate::time::Instant;
use crate::wire::Message;

/// Prefixes of the initial sync per batch: about 40 KB of UPDATEs.
pub const BATCH: usize = 8192;

#[derive(Debug)]
pub struct Peer {
    session: Session,
    rib: AdjRibOut,
}

impl Peer {
    pub fn new(cfg: SessionConfig) -> Self {
        let rib = AdjRibOut::new(cfg.local_as).with_max_paths(cfg.add_path_send_max);
        Peer {
            session: Session::new(cfg),
            rib,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn rib(&self) -> &AdjRibOut {
        &self.rib
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.session.poll_at()
    }

    pub fn handle_event(&mut self, now: Instant, event: Event<'_>) -> Vec<Action> {
        let mut out = self.session.handle_event(now, event);
        for a in &out {
            match a {
                Action::Established(neg) => self.rib.session_up(neg),
                Action::Down { .. } => self.rib.session_down(),
                Action::RouteRefresh(rr) => self.rib.route_refresh(rr.family),
                _ => {}
            }
        }
        self.flush(now, &mut out);
        out
    }

    /// Replaces the routes this peer should hold.
    pub fn set_routes(
        &mut self,
        now: Instant,
        routes: impl IntoIterator<Item = Route>,
    ) -> Vec<Action> {
        self.rib.set_routes(routes);
        let mut out = Vec::new();
        self.flush(now, &mut out);
        out
    }

    /// Whether UPDATEs are waiting; the runtime calls [`Peer::pump`] when
    /// its send buffer has drained.
    pub fn wants_to_send(&self) -> bool {
        self.session.state() == State::Established && self.rib.has_pending()
    }

    /// The next batch of UPDATEs, at most [`BATCH`] prefixes of the initial
    /// sync, so a large table never sits in memory twice.
    pub fn pump(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.flush(now, &mut out);
        out
    }

    fn flush(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.wants_to_send() {
            return;
        }
        let batch = self.rib.poll_batch(BATCH);
        let msgs: Vec<Message> = batch.into_iter().map(Message::Update).collect();
        out.extend(self.session.handle_event(now, Event::Send(&msgs)));
    }
}
