//! A peer task's BFD session (feature `bfd`): the `leafvip-bfd` core, its
//! send socket, and what its state means for the BGP session beside it.
//!
//! RFC 5882 leaves the client's reaction to the implementation; ours:
//! - A BGP session with BFD configured does not start (no connection made
//!   or accepted) until BFD is Up, like FRR's `bfd strict`: a host whose
//!   link forwards nothing must not announce VIPs. A peer without `bfd`
//!   is never held, and one peer's BFD holds no other peer.
//! - BFD leaving Up tears the BGP session down at once (Cease 10, "BFD
//!   Down", RFC 9384); it starts again when BFD is back Up.
//! - Except when the peer sent AdminDown: it turned BFD off on purpose,
//!   which is no failure (RFC 5882 3.2), so BGP goes on, and a session
//!   that waits for BFD may start.
//! - BFD configured on a session already Established does not tear it
//!   down while BFD comes up: only a fall from Up does.
use super::bfd::{self, Datagram};
use crate::bfd_config::BfdConfig;
use crate::bfd_status::BfdStatus;
use async_io::Async;
use leafvip_bfd::session::{Action, Event};
use leafvip_bfd::{Diag, Instant, Session, State};
use std::net::{IpAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use tracing::{debug, info, warn};

/// What the BGP session should do after a BFD event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Nothing,
    /// The path works (again): a held BGP session may start.
    Release,
    /// The path failed: tear BGP down and hold it.
    Hold,
}

pub struct Guard {
    session: Session,
    sock: Result<Async<UdpSocket>, String>,
    peer: IpAddr,
    /// Whether the path counted as down after the last event: verdicts
    /// are given on changes only.
    down: bool,
    send_log: super::throttle::Throttle,
}

/// Discriminators unique in this process; the first depends on the PID so
/// that a restarted daemon does not reuse its predecessor's.
static NEXT_DISC: AtomicU32 = AtomicU32::new(0);

fn discriminator() -> u32 {
    let _ = NEXT_DISC.compare_exchange(
        0,
        std::process::id().wrapping_mul(0x9e37_79b9) | 1,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    match NEXT_DISC.fetch_add(1, Ordering::Relaxed) {
        0 => NEXT_DISC.fetch_add(1, Ordering::Relaxed),
        d => d,
    }
}

impl Guard {
    pub fn new(
        cfg: &BfdConfig,
        peer: IpAddr,
        local: Option<IpAddr>,
        seed: u64,
        now: Instant,
    ) -> Self {
        let sock = bfd::sender(peer, local, seed).map_err(|e| {
            warn!(%peer, "BFD: cannot open the send socket: {e}");
            e.to_string()
        });
        Guard {
            session: Session::new(cfg.session_config(), discriminator(), seed, now),
            sock,
            peer,
            down: true,
            send_log: Default::default(),
        }
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.session.poll_at()
    }

    pub fn received(&mut self, now: Instant, d: &Datagram) -> Verdict {
        let bytes = d.bytes();
        self.handle(now, Event::Received { bytes, ttl: d.ttl })
    }

    pub fn handle(&mut self, now: Instant, ev: Event<'_>) -> Verdict {
        let acts = self.session.handle_event(now, ev);
        for a in acts {
            match a {
                Action::Send(b) => self.send(&b),
                Action::StateChange { from, to, diag } => {
                    let remote = self.session.remote_state();
                    if to == State::Up || from == State::Up {
                        info!(peer = %self.peer, "BFD {} -> {} ({}, remote {})", name(from), name(to), diag_name(diag), name(remote));
                    } else {
                        debug!(peer = %self.peer, "BFD {} -> {}", name(from), name(to));
                    }
                }
                Action::TimersApplied { tx, detect_time } => {
                    debug!(peer = %self.peer, tx_us = tx, detect_us = detect_time, "BFD timers applied");
                }
                Action::Discarded(why) => {
                    debug!(peer = %self.peer, "BFD packet discarded: {why:?}");
                }
            }
        }
        let down = self.session.path_down();
        let v = match (self.down, down) {
            (true, false) => Verdict::Release,
            (false, true) => Verdict::Hold,
            _ => Verdict::Nothing,
        };
        self.down = down;
        v
    }

    fn send(&mut self, b: &[u8]) {
        let Ok(s) = &self.sock else { return };
        // Connected UDP: an ICMP unreachable from an earlier packet comes
        // back here as ECONNREFUSED; the session's timers judge the peer.
        if let Err(e) = s.get_ref().send(b) {
            if let Some(more) = self.send_log.hit(std::time::Instant::now()) {
                debug!(peer = %self.peer, more, "BFD send: {e}");
            }
        }
    }

    pub fn status(&self, now: Instant, holding_bgp: bool) -> BfdStatus {
        let s = &self.session;
        let st = s.stats();
        BfdStatus {
            state: name(s.state()),
            remote_state: name(s.remote_state()),
            diag: diag_name(s.diag()),
            state_secs: (now - s.since()) / 1_000_000,
            local_discriminator: s.local_disc(),
            remote_discriminator: s.remote_disc(),
            tx_interval_us: s.tx_interval(),
            detect_time_us: s.detect_time(),
            holding_bgp,
            ups: st.ups,
            downs: st.downs,
            packets_in: st.packets_in,
            packets_out: st.packets_out,
            discarded: st.discarded,
            error: self.sock.as_ref().err().cloned(),
        }
    }
}

pub fn name(s: State) -> &'static str {
    match s {
        State::AdminDown => "admin-down",
        State::Down => "down",
        State::Init => "init",
        State::Up => "up",
    }
}

pub fn diag_name(d: Diag) -> &'static str {
    match d {
        Diag::None => "none",
        Diag::ControlDetectionTimeExpired => "control detection time expired",
        Diag::EchoFunctionFailed => "echo function failed",
        Diag::NeighborSignaledSessionDown => "neighbor signaled session down",
        Diag::ForwardingPlaneReset => "forwarding plane reset",
        Diag::PathDown => "path down",
        Diag::ConcatenatedPathDown => "concatenated path down",
        Diag::AdministrativelyDown => "administratively down",
        Diag::ReverseConcatenatedPathDown => "reverse concatenated path down",
        Diag::Reserved(_) => "reserved",
    }
}

/// The peer task's side: BFD events in, BGP events out.
impl super::peer::PeerTask {
    pub(super) async fn bfd_packet(
        &mut self,
        now: leafvip_bgp::Instant,
        d: &Datagram,
    ) -> Vec<leafvip_bgp::session::Action> {
        let t = self.clock.micros();
        let v = match self.bfd.as_mut() {
            Some(g) => g.received(t, d),
            None => Verdict::Nothing,
        };
        self.bfd_verdict(now, v).await
    }

    pub(super) async fn bfd_timer(
        &mut self,
        now: leafvip_bgp::Instant,
    ) -> Vec<leafvip_bgp::session::Action> {
        let t = self.clock.micros();
        let v = match self.bfd.as_mut() {
            Some(g) => g.handle(t, Event::Timer),
            None => Verdict::Nothing,
        };
        self.bfd_verdict(now, v).await
    }

    pub(super) fn bfd_admin_down(&mut self) {
        let t = self.clock.micros();
        if let Some(g) = self.bfd.as_mut() {
            g.handle(t, Event::AdminDown);
        }
    }

    /// The peer's `bfd` changed: new timers go through a Poll Sequence
    /// (no flap); a new BFD session holds nothing already running; a
    /// removed one says AdminDown and releases a held BGP session.
    pub(super) async fn bfd_reconfigured(
        &mut self,
        now: leafvip_bgp::Instant,
    ) -> Vec<leafvip_bgp::session::Action> {
        let t = self.clock.micros();
        match (self.plan.peer.bfd, self.bfd.as_mut()) {
            (Some(c), Some(g)) => {
                let v = g.handle(t, Event::Configure(c.session_config()));
                self.bfd_verdict(now, v).await
            }
            (Some(c), None) => {
                let p = &self.plan.peer;
                let seed = self.peer.session().config().seed;
                self.bfd = Some(Guard::new(&c, p.address, p.local_address, seed, t));
                Vec::new()
            }
            (None, Some(_)) => {
                self.bfd_admin_down();
                self.bfd = None;
                self.bfd_verdict(now, Verdict::Release).await
            }
            (None, None) => Vec::new(),
        }
    }

    async fn bfd_verdict(
        &mut self,
        now: leafvip_bgp::Instant,
        v: Verdict,
    ) -> Vec<leafvip_bgp::session::Action> {
        use leafvip_bgp::session::Event as Bgp;
        match v {
            Verdict::Release if self.held => {
                self.held = false;
                info!(peer = %self.addr, "BFD is up: starting the BGP session");
                self.peer.handle_event(now, Bgp::Start)
            }
            Verdict::Hold if !self.held => {
                self.held = true;
                warn!(peer = %self.addr, "BFD went down: closing the BGP session until it is back");
                let msg = "BFD down";
                self.stop_second(now, leafvip_bgp::wire::cease::BFD_DOWN, msg)
                    .await;
                self.peer.handle_event(now, Bgp::BfdDown)
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn bfd_status(&self) -> Option<BfdStatus> {
        let g = self.bfd.as_ref()?;
        Some(g.status(self.clock.micros(), self.held))
    }
}
