//! systemd integration (`Type=notify`): READY once the config is loaded and
//! the sockets are bound, STATUS with session counts, RELOADING/STOPPING,
//! and WATCHDOG from the event loop itself, so a hung loop gets restarted.
//! Every call is a no-op outside systemd (no NOTIFY_SOCKET).
use sd_notify::NotifyState;
use std::time::Duration;

fn send(states: &[NotifyState]) {
    // A failed notification must not take the daemon down; systemd notices.
    let _ = sd_notify::notify(false, states);
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub fn reloading() {
    send(&[NotifyState::Reloading]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to pet the watchdog: half of WatchdogSec, if it is on.
pub fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec)
        .then(|| Duration::from_micros(usec / 2).max(Duration::from_millis(100)))
}
