//! Planned stops and restarts, so that neither drops traffic.
//!
//! - **Drain** (RFC 8326): every VIP is announced again with the
//!   GRACEFUL_SHUTDOWN community (and LOCAL_PREF 0 to internal peers), so
//!   that a router honouring it moves new flows to the other hosts while
//!   this one still forwards. `leafvip drain` holds it (maintenance) until
//!   `leafvip undrain`; a stop (SIGTERM, SIGINT) drains for `[bgp]
//!   drain_time` seconds, then withdraws with a Cease. A second signal
//!   stops at once.
//! - **Restart** (RFC 4724): `leafvip restart`, or systemd restarting the
//!   unit, makes the daemon exit without a NOTIFICATION. The peers keep
//!   its routes as a Graceful Restart helper does, the next process sets
//!   the Restart State bit (the runtime's marker file says it follows a
//!   restart) and sends its routes and End-of-RIB, and the routes never
//!   leave the routers. A stop that is not a restart must not look like
//!   one: it would leave stale routes at the routers for the restart time.
use super::{Core, Effect, Notify, Now};
use std::time::{Duration, Instant};
use tracing::info;

/// What the control socket asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctl {
    Drain,
    Undrain,
    Restart,
}

/// Why the routes carry GRACEFUL_SHUTDOWN now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// `leafvip drain`, until `leafvip undrain`.
    Maintenance(Instant),
    /// A stop: withdraw and close at this instant.
    Stopping(Instant),
}

impl Core {
    /// The drain as the status shows it.
    fn drain_line(&self, now: Instant) -> Option<String> {
        match self.drain? {
            Drain::Maintenance(t) => Some(format!(
                "maintenance (leafvip drain) for {} s: every VIP carries GRACEFUL_SHUTDOWN",
                now.saturating_duration_since(t).as_secs()
            )),
            Drain::Stopping(t) => Some(format!(
                "stopping: every VIP carries GRACEFUL_SHUTDOWN, withdrawn in {} s",
                t.saturating_duration_since(now).as_secs()
            )),
        }
    }

    fn set_drain(&mut self, now: Now, d: Option<Drain>) {
        let was = self.drain.is_some();
        self.drain = d;
        self.shown.base.draining = self.drain_line(now.at);
        self.out.push(Effect::Show);
        if was != d.is_some() {
            self.replan(now);
        }
        self.report_status(now);
    }

    /// A request from the control socket.
    pub(super) fn control(&mut self, now: Now, c: Ctl) {
        match c {
            Ctl::Drain => {
                if !matches!(self.drain, Some(Drain::Maintenance(_))) {
                    info!(
                        "drain: every VIP now carries GRACEFUL_SHUTDOWN (leafvip undrain ends it)"
                    );
                    self.set_drain(now, Some(Drain::Maintenance(now.at)));
                }
            }
            Ctl::Undrain => {
                if matches!(self.drain, Some(Drain::Maintenance(_))) {
                    info!("undrain: VIPs announced as configured again");
                    self.set_drain(now, None);
                }
            }
            Ctl::Restart => match self.drain_before_restart(now) {
                Some(at) => {
                    self.stop_at = Some(at);
                    self.restarting = true;
                }
                None => self.restart(),
            },
        }
    }

    /// With BFD, a restart drains first (`drain_time`, if there is
    /// traffic to move): the old process's AdminDown is no failure by RFC
    /// 5882 3.2, but BIRD 2.0.12 takes its BGP session down on it and
    /// drops the routes, so Graceful Restart alone would lose traffic.
    /// Returns when to exit, or None to exit now.
    fn drain_before_restart(&mut self, now: Now) -> Option<Instant> {
        // Layer-2 VIPs this host answers for are handed over first too: a
        // restart would otherwise leave them dark for a Master_Down_Interval.
        let bfd = self.peers.values().any(|s| s.plan.peer.bfd.is_some()) || now.l2_owned > 0;
        if !bfd || self.restarting {
            return None;
        }
        let at = self.drain_for_stop(now)?;
        info!("restart with BFD: draining first, then exiting for the restart");
        Some(at)
    }

    /// Exits for a restart, leaving the next process the VIPs whose check
    /// is down.
    fn restart(&mut self) {
        info!(
            "exiting for a restart: no NOTIFICATION, the peers keep the routes (Graceful Restart)"
        );
        let down = self.down_map().into_iter().map(|(p, _)| p).collect();
        self.out.push(Effect::Restart { down });
    }

    /// A stop signal: drain first, or stop now.
    pub(super) fn stop_requested(&mut self, now: Now) {
        match self.drain_for_stop(now) {
            Some(at) => self.stop_at = Some(at),
            None => {
                info!("shutting down");
                self.out.push(Effect::Shutdown);
            }
        }
    }

    /// Drains for `drain_time` seconds, unless there is nothing to drain,
    /// a maintenance drain already moved the traffic away, or this is the
    /// second signal. Returns when to withdraw and close (None: now).
    fn drain_for_stop(&mut self, now: Now) -> Option<Instant> {
        if let Some(Drain::Stopping(_)) = self.drain {
            info!("a second stop signal: stopping now");
            return None;
        }
        let secs = self
            .cfg
            .bgp
            .drain_time
            .unwrap_or(crate::config::DEFAULT_DRAIN_TIME);
        let maintenance = matches!(self.drain, Some(Drain::Maintenance(_)));
        if secs == 0 || maintenance || (now.established == 0 && now.l2_owned == 0) {
            return None;
        }
        let at = now.at + Duration::from_secs(u64::from(secs));
        info!(
            drain_time = secs,
            "stopping: announcing every VIP with GRACEFUL_SHUTDOWN first (a second signal stops at once)"
        );
        self.out.push(Effect::Notify(Notify::Stopping));
        self.set_drain(now, Some(Drain::Stopping(at)));
        Some(at)
    }

    /// The draining stop or restart is over.
    pub(super) fn timer(&mut self, now: Now) {
        if self.stop_at.is_none_or(|t| now.at < t) {
            return;
        }
        self.stop_at = None;
        if self.restarting {
            self.restart();
        } else {
            info!("drained: shutting down");
            self.out.push(Effect::Shutdown);
        }
    }
}
