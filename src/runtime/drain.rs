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
//!   unit (`leafvip systemd-stop` in its ExecStop), makes the daemon exit
//!   without a NOTIFICATION. The peers keep its routes as a Graceful
//!   Restart helper does, the next process sets the Restart State bit
//!   (a marker file beside the control socket says it follows a restart)
//!   and sends its routes and End-of-RIB, and the routes never leave the
//!   routers. A stop that is not a restart must not look like one: it
//!   would leave stale routes at the routers for the restart time.
use super::Daemon;
use leafvip_bgp::wire::Prefix;
use std::path::Path;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// What the control socket asks of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctl {
    Drain,
    Undrain,
    Restart,
}

/// The exit status of a process that ends for a restart; the unit has
/// `RestartForceExitStatus=` and `SuccessExitStatus=` with it, so systemd
/// starts it again at once when nothing else asked for the restart.
pub const RESTART_EXIT: u8 = 75;

/// Why the routes carry GRACEFUL_SHUTDOWN now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// `leafvip drain`, until `leafvip undrain`.
    Maintenance(Instant),
    /// A stop: withdraw and close at this instant.
    Stopping(Instant),
}

/// Whether this start follows a restart less than `restart_time` ago,
/// and if so the VIPs whose check was down then; the marker is used once
/// and believed only if nobody else can have written it (`marker.rs`).
pub fn restarted(socket: &Path, restart_time: u16) -> Option<Vec<Prefix>> {
    match super::marker::take(socket) {
        Ok(Some(m))
            if m.fresh(
                super::marker::boot_began_ms(),
                super::marker::now_secs(),
                restart_time,
            ) =>
        {
            info!(previous_pid = m.pid, "the restart marker is ours and fresh");
            Some(m.down)
        }
        Ok(Some(_)) => {
            info!("a restart marker from another boot or older than the restart time: ignored");
            None
        }
        Ok(None) => None,
        Err(why) => {
            warn!(
                "restart marker {}: {why}; starting without the Restart State bit",
                super::marker::path(socket).display()
            );
            None
        }
    }
}

impl Daemon<'_> {
    /// The drain as the status shows it.
    pub(super) fn drain_line(&self) -> Option<String> {
        match self.drain? {
            Drain::Maintenance(t) => Some(format!(
                "maintenance (leafvip drain) for {} s: every VIP carries GRACEFUL_SHUTDOWN",
                t.elapsed().as_secs()
            )),
            Drain::Stopping(t) => Some(format!(
                "stopping: every VIP carries GRACEFUL_SHUTDOWN, withdrawn in {} s",
                t.saturating_duration_since(Instant::now()).as_secs()
            )),
        }
    }

    fn set_drain(&mut self, d: Option<Drain>) {
        let was = self.drain.is_some();
        self.drain = d;
        self.board.borrow_mut().base.draining = self.drain_line();
        if was != d.is_some() {
            self.replan();
        }
        self.report_status();
    }

    /// A request from the control socket; true when the loop should end
    /// for a restart.
    pub(super) fn control(&mut self, c: Ctl, socket: Option<&Path>) -> bool {
        match c {
            Ctl::Drain => {
                if !matches!(self.drain, Some(Drain::Maintenance(_))) {
                    info!(
                        "drain: every VIP now carries GRACEFUL_SHUTDOWN (leafvip undrain ends it)"
                    );
                    self.set_drain(Some(Drain::Maintenance(Instant::now())));
                }
            }
            Ctl::Undrain => {
                if matches!(self.drain, Some(Drain::Maintenance(_))) {
                    info!("undrain: VIPs announced as configured again");
                    self.set_drain(None);
                }
            }
            Ctl::Restart => {
                if let Some(at) = self.drain_before_restart() {
                    self.restart_at = Some(at);
                    return false;
                }
                self.write_marker(socket);
                return true;
            }
        }
        false
    }

    /// With BFD, a restart drains first (`drain_time`, if there is
    /// traffic to move): the old process's AdminDown is no failure by RFC
    /// 5882 3.2, but BIRD 2.0.12 takes its BGP session down on it and
    /// drops the routes, so Graceful Restart alone would lose traffic.
    /// Returns when to exit, or None to exit now.
    fn drain_before_restart(&mut self) -> Option<Instant> {
        let bfd = self.peers.values().any(|h| h.plan.peer.bfd.is_some());
        if !bfd || self.restart_at.is_some() {
            return None;
        }
        let at = self.stop_requested()?;
        info!("restart with BFD: draining first, then exiting for the restart");
        Some(at)
    }

    /// The marker for the next process (the time, then the VIPs whose
    /// check is down), before exiting for a restart.
    pub(super) fn write_marker(&mut self, socket: Option<&Path>) {
        info!(
            "exiting for a restart: no NOTIFICATION, the peers keep the routes (Graceful Restart)"
        );
        if let Some(s) = socket {
            let down = self.down_map().into_iter().map(|(p, _)| p).collect();
            if let Err(e) = super::marker::write(s, down) {
                warn!("restart marker: {e}; the next process will not set the Restart State bit");
            }
        }
        super::notify::stopping();
    }

    /// A stop signal: drain first, for `drain_time` seconds, unless there
    /// is nothing to drain or a maintenance drain already moved the
    /// traffic away. Returns when to withdraw and close (None: now).
    pub(super) fn stop_requested(&mut self) -> Option<Instant> {
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
        if secs == 0 || maintenance || self.established.get() == 0 {
            return None;
        }
        let at = Instant::now() + Duration::from_secs(u64::from(secs));
        info!(
            drain_time = secs,
            "stopping: announcing every VIP with GRACEFUL_SHUTDOWN first (a second signal stops at once)"
        );
        super::notify::stopping();
        self.set_drain(Some(Drain::Stopping(at)));
        Some(at)
    }
}

/// Whether systemd is restarting `unit` (a `restart` job, as `systemctl
/// restart`, `try-restart` and Debian's maintainer scripts make): asked
/// with `systemctl list-jobs`, which as root needs no D-Bus daemon.
/// Anything else, or no answer, is a stop.
pub fn systemd_restarting(unit: &str) -> bool {
    let out = std::process::Command::new("systemctl")
        .args(["list-jobs", "--no-legend", "--no-pager", "--full"])
        .output();
    let Ok(out) = out else { return false };
    restart_job(&String::from_utf8_lossy(&out.stdout), unit)
}

/// `systemctl list-jobs` lines: JOB UNIT TYPE STATE.
fn restart_job(listing: &str, unit: &str) -> bool {
    listing.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.get(1) == Some(&unit) && w.get(2) == Some(&"restart")
    })
}

/// Waits up to `limit` for process `pid` to end.
pub fn wait_gone(pid: i32, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_restart_job_of_this_unit_is_a_restart() {
        let l = "1234 leafvip.service restart running\n1240 other.service restart waiting\n";
        assert!(restart_job(l, "leafvip.service"));
        assert!(!restart_job(l, "nginx.service"));
        assert!(!restart_job(
            "77 leafvip.service stop running\n",
            "leafvip.service"
        ));
        assert!(!restart_job("", "leafvip.service"));
    }
}
