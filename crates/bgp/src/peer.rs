//! One peer as the runtime sees it: the session FSM and the Adj-RIB-Out,
//! wired so that Established starts the sync, Down forgets what was sent,
//! ROUTE-REFRESH resends, and route changes flow out as UPDATEs.
use crate::prelude::*;
use crate::rib_out::{AdjRibOut, Route};
use crate::session::{collision, Action, Event, Session, SessionConfig, State};
use crate::time::Instant;
use crate::wire::Message;

/// Prefixes of the initial sync per batch: about 40 KB of UPDATEs.
pub const BATCH: usize = 8192;

/// What to do with a connection the peer opened to us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Take it as the session's connection (feed `Event::Accepted`).
    Accept,
    /// Run it beside ours as a second [`Session::accepting`] until
    /// [`Peer::collision`] decides: ours is past Connect (RFC 4271 §6.8),
    /// or Established with a peer that announced Graceful Restart, whose
    /// OPEN on a new connection means it restarted (RFC 4724 §4.2). A bare
    /// TCP connection from the peer's address proves nothing, so ours stays
    /// until that OPEN.
    Second,
    /// Close it: Established without Graceful Restart keeps the existing
    /// connection (§6.8), and a stopped peer takes none.
    Refuse,
}

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

    /// How to treat a connection the peer just opened.
    pub fn incoming(&self) -> Incoming {
        let s = &self.session;
        if s.can_accept() {
            return Incoming::Accept;
        }
        match s.state() {
            State::OpenSent | State::OpenConfirm if s.initiated_locally() => Incoming::Second,
            State::Established if self.restart_allowed() => Incoming::Second,
            _ => Incoming::Refuse,
        }
    }

    /// Resolves a collision between this peer's session and `second` once
    /// the peer's BGP Identifier is known. The loser is fed
    /// `OpenCollisionDump` (Cease 6/7) and its actions come back: for the
    /// second connection with `Loser::Second`, for our old one with
    /// `Loser::First`, in which case `second` has become this peer's
    /// session. If our connection was already gone (Idle, Connect or
    /// Active), a live `second` simply takes over, with no actions.
    pub fn collision(
        &mut self,
        now: Instant,
        second: &mut Option<Session>,
    ) -> Option<(collision::Loser, Vec<Action>)> {
        let s = second.as_ref()?;
        if self.session.can_accept() && s.state() >= State::OpenSent {
            self.adopt(second.take()?);
            return Some((collision::Loser::First, Vec::new()));
        }
        if self.session.state() == State::Established && self.restart_allowed() {
            // Ours stays until the new connection brings an OPEN: then the
            // peer restarted (RFC 4724 §4.2), its old connection is dead
            // to it, so it is closed without a NOTIFICATION and the new
            // one carries the session.
            s.remote_open()?;
            let mut old = self.adopt(second.take()?);
            return Some((
                collision::Loser::First,
                old.handle_event(now, Event::ConnectionFailed),
            ));
        }
        let loser = collision::resolve(&self.session, s)?;
        let acts = match loser {
            collision::Loser::Second => second.take()?.handle_event(now, Event::CollisionDump),
            collision::Loser::First => {
                let mut old = self.adopt(second.take()?);
                old.handle_event(now, Event::CollisionDump)
            }
        };
        Some((loser, acts))
    }

    /// Whether the peer announced Graceful Restart on the session that is
    /// up, so that a new connection with an OPEN may replace it.
    fn restart_allowed(&self) -> bool {
        self.session
            .negotiated()
            .is_some_and(|n| n.peer_graceful_restart.is_some())
    }

    /// Makes `s` this peer's session and returns the old one. The peer
    /// holds nothing from a connection that is not Established, so the
    /// table starts over; if `s` came up in the read that decided, the
    /// initial sync starts now.
    fn adopt(&mut self, s: Session) -> Session {
        let old = core::mem::replace(&mut self.session, s);
        self.rib.session_down();
        if self.session.state() == State::Established {
            if let Some(neg) = self.session.negotiated().cloned() {
                self.rib.session_up(&neg);
            }
        }
        old
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.session.poll_at()
    }

    /// Feeds one event. UPDATEs never come out of here, only out of
    /// [`Peer::pump`]: what the peer sends (a ROUTE-REFRESH, a KEEPALIVE
    /// during the sync) must not make us queue more than its socket takes,
    /// or a peer that sends and does not read grows our memory at will.
    pub fn handle_event(&mut self, now: Instant, event: Event<'_>) -> Vec<Action> {
        let out = self.session.handle_event(now, event);
        for a in &out {
            match a {
                Action::Established(neg) => self.rib.session_up(neg),
                Action::Down { .. } => self.rib.session_down(),
                Action::RouteRefresh(rr) => self.rib.route_refresh(rr.family),
                _ => {}
            }
        }
        out
    }

    /// Replaces the routes this peer should hold. The UPDATEs follow from
    /// [`Peer::pump`].
    pub fn set_routes(&mut self, _now: Instant, routes: impl IntoIterator<Item = Route>) {
        self.rib.set_routes(routes);
    }

    /// Whether UPDATEs are waiting; the runtime calls [`Peer::pump`]
    /// whenever its send buffer has room.
    pub fn wants_to_send(&self) -> bool {
        self.session.state() == State::Established && self.rib.has_pending()
    }

    /// The next batch of UPDATEs: at most [`BATCH`] prefixes of the
    /// initial sync, of a ROUTE-REFRESH re-send and of changes, so a large
    /// table never sits in memory twice and the caller's send buffer
    /// bounds what is queued.
    pub fn pump(&mut self, now: Instant) -> Vec<Action> {
        if !self.wants_to_send() {
            return Vec::new();
        }
        let batch = self.rib.poll_batch(BATCH);
        let msgs: Vec<Message> = batch.into_iter().map(Message::Update).collect();
        self.session.handle_event(now, Event::Send(&msgs))
    }
}
