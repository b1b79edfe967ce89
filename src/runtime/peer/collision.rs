//! Connection collisions (RFC 4271 §6.8) at the edge: the peer dials us
//! while our own connection to it is past Connect. Its connection runs
//! beside ours, with a session of its own, until an OPEN tells the peer's
//! BGP Identifier; then `Peer::collision` picks the connection of the
//! higher Identifier, the other gets Cease/Connection Collision Resolution
//! (6/7), and if the peer's wins it becomes this task's connection.
//! Before, the second connection was closed with a bare FIN, and sessions
//! converged only because the peer resolved the collision itself.
use super::{Conn, PeerTask};
use crate::runtime::clock::Clock;
use async_io::{Async, Timer};
use futures_lite::future;
use leafvip_bgp::session::{collision::Loser, Action, Event, Session};
use leafvip_bgp::Instant;
use std::net::TcpStream;
use tracing::{debug, info};

/// Resolves when the second connection has something to do: bytes to
/// read, room to write what is queued, or its session's deadline.
pub(super) async fn second_wait(s: &Option<Session>, c: &Option<Conn>, clock: Clock) {
    let (Some(s), Some(c)) = (s, c) else {
        return future::pending().await;
    };
    let deadline = s.poll_at().map(|d| clock.at(d));
    let timer = async {
        match deadline {
            Some(at) => {
                Timer::at(at).await;
            }
            None => future::pending().await,
        }
    };
    let r = async {
        let _ = c.stream.readable().await;
    };
    let w = async {
        if c.out.is_empty() {
            future::pending::<()>().await;
        }
        let _ = c.stream.writable().await;
    };
    future::or(timer, future::or(r, w)).await
}

impl PeerTask {
    /// Runs the peer's connection beside ours (`Incoming::Second`).
    pub(super) fn start_second(&mut self, now: Instant, stream: Async<TcpStream>) -> Vec<Action> {
        info!(
            peer = %self.addr, ours = %self.peer.session().state(),
            "the peer opened a connection while ours is open too: running both until an OPEN decides (RFC 4271 §6.8)"
        );
        self.second = Some(Session::accepting(self.peer.session().config().clone()));
        self.second_conn = Some(Conn::new(stream));
        self.feed_second(now, Event::Accepted);
        self.resolve(now)
    }

    /// Reads, writes and times the second connection, then resolves.
    pub(super) fn on_second(&mut self, now: Instant) -> Vec<Action> {
        if let Some(Err(e)) = self.second_conn.as_mut().map(Conn::flush) {
            debug!(peer = %self.addr, "second connection: {e}");
            self.feed_second(now, Event::ConnectionFailed);
        }
        let mut buf = [0u8; 4096];
        while let Some(c) = self.second_conn.as_ref() {
            match c.read_into(&mut buf) {
                Ok(None) => break,
                Ok(Some(n)) if n > 0 => self.feed_second(now, Event::Received(&buf[..n])),
                _ => self.feed_second(now, Event::ConnectionFailed),
            }
        }
        let due = self.second.as_ref().and_then(Session::poll_at);
        if due.is_some_and(|t| t <= now) {
            self.feed_second(now, Event::Timer);
        }
        self.resolve(now)
    }

    /// Closes the second connection with the peer's own Stop (Cease).
    pub(super) async fn stop_second(&mut self, now: Instant, subcode: u8, message: &str) {
        self.feed_second(now, Event::Stop { subcode, message });
        if let Some(c) = self.second_conn.take() {
            c.close().await;
        }
        self.second = None;
    }

    fn feed_second(&mut self, now: Instant, event: Event<'_>) {
        let Some(s) = self.second.as_mut() else {
            return;
        };
        let acts = s.handle_event(now, event);
        let over = s.state() == leafvip_bgp::session::State::Idle;
        self.second_actions(acts);
        if over {
            self.drop_second();
        }
    }

    /// Carries out a second session's actions on its own connection.
    fn second_actions(&mut self, acts: Vec<Action>) {
        for a in acts {
            match a {
                Action::Send(b) => {
                    if let Some(c) = self.second_conn.as_mut() {
                        c.queue(&b);
                    }
                }
                Action::Down { reason, .. } => {
                    debug!(peer = %self.addr, "the peer's second connection ends: {reason}")
                }
                Action::Disconnect | Action::Reject | Action::Connect => {}
                other => self.note(other),
            }
        }
        if let Some(c) = self.second_conn.as_mut() {
            let _ = c.flush();
        }
    }

    /// Ends the second connection; a queued NOTIFICATION was already
    /// written (it is small, and the socket is fresh).
    fn drop_second(&mut self) {
        self.second = None;
        if let Some(mut c) = self.second_conn.take() {
            let _ = c.flush();
            let _ = c.stream.get_ref().shutdown(std::net::Shutdown::Both);
        }
    }

    /// Applies `Peer::collision` once it can decide; returns the actions
    /// for this task's (possibly new) connection.
    fn resolve(&mut self, now: Instant) -> Vec<Action> {
        let was_up = self.peer.session().state() == leafvip_bgp::session::State::Established;
        match self.peer.collision(now, &mut self.second) {
            None => Vec::new(),
            Some((Loser::Second, acts)) => {
                info!(peer = %self.addr, "connection collision: keeping ours (higher BGP Identifier), closing the peer's with Cease 6/7");
                // The session is gone; its connection goes with the Cease.
                self.second_actions(acts);
                self.drop_second();
                Vec::new()
            }
            Some((Loser::First, acts)) => {
                if was_up {
                    info!(peer = %self.addr, "the peer restarted (an OPEN on a new connection, RFC 4724 §4.2): the new connection replaces the old");
                } else {
                    info!(peer = %self.addr, "connection collision: keeping the peer's (higher BGP Identifier, or ours was gone), closing ours with Cease 6/7");
                }
                self.connecting = None;
                let mut old = self.conn.take();
                for a in acts {
                    match a {
                        Action::Send(b) => {
                            if let Some(c) = old.as_mut() {
                                c.queue(&b);
                            }
                        }
                        // Down goes to `note` too: it keeps the count of
                        // sessions up and the last error.
                        Action::Disconnect | Action::Reject | Action::Connect => {}
                        other => self.note(other),
                    }
                }
                if let Some(mut c) = old {
                    let _ = c.flush();
                    let _ = c.stream.get_ref().shutdown(std::net::Shutdown::Both);
                }
                if let Some(c) = self.second_conn.take() {
                    self.use_connection(now, c.stream);
                }
                Vec::new()
            }
        }
    }
}
