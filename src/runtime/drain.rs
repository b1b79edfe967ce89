//! The runtime's part of planned stops and restarts; what to do and when
//! is the core's (`crate::daemon::stop`). Here: the restart marker the
//! next process reads to know that it follows a restart (RFC 4724: it
//! sets the Restart State bit), and systemd's side (`leafvip
//! systemd-stop` in the unit's ExecStop asks whether systemd restarts it).
use leafvip_bgp::wire::Prefix;
use std::path::Path;
use std::time::{Duration, Instant};
use tracing::{info, warn};

pub use crate::daemon::Ctl;

/// The exit status of a process that ends for a restart; the unit has
/// `RestartForceExitStatus=` and `SuccessExitStatus=` with it, so systemd
/// starts it again at once when nothing else asked for the restart.
pub const RESTART_EXIT: u8 = 75;

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
