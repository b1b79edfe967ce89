//! systemd integration (`Type=notify`): READY once the config is loaded and
//! the sockets are bound, STATUS with session counts, RELOADING/STOPPING,
//! and WATCHDOG from the event loop itself, so a hung loop gets restarted.
//! Every call is a no-op outside systemd (no NOTIFY_SOCKET).
//!
//! The socket is opened once, at start ([`open`]), and kept: a socket per
//! message (as the sd-notify crate does) fails exactly when descriptors
//! run out, and then systemd, hearing no WATCHDOG, kills a daemon that a
//! flood of connections had only made busy. A failed send is logged,
//! throttled.
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tracing::warn;

static SOCKET: OnceLock<Option<UnixDatagram>> = OnceLock::new();
static FAILED: Mutex<crate::throttle::Throttle> = Mutex::new(crate::throttle::Throttle::new());

/// The address in NOTIFY_SOCKET: a path, or `@name` in the abstract
/// namespace.
fn address(v: &std::ffi::OsStr) -> std::io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    match v.as_bytes() {
        [b'@', name @ ..] => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        _ => SocketAddr::from_pathname(v),
    }
}

fn connect() -> Option<UnixDatagram> {
    let v = std::env::var_os("NOTIFY_SOCKET")?;
    let s = UnixDatagram::unbound().and_then(|s| {
        s.connect_addr(&address(&v)?)?;
        Ok(s)
    });
    s.map_err(|e| {
        warn!(
            "NOTIFY_SOCKET {}: {e}; systemd will hear nothing",
            v.to_string_lossy()
        )
    })
    .ok()
}

/// Opens the notification socket, if systemd gave one. Call it first
/// thing; later calls, and [`send`] before it, use the same socket.
pub fn open() {
    SOCKET.get_or_init(connect);
}

fn send(msg: &str) {
    let Some(sock) = SOCKET.get_or_init(connect) else {
        return;
    };
    if let Err(e) = sock.send(msg.as_bytes()) {
        // A failed notification must not take the daemon down, but it
        // must not go unseen either: a lost WATCHDOG ends in a kill.
        let mut t = FAILED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = t.hit(std::time::Instant::now()) {
            warn!(
                not_logged = n,
                "systemd notification {:?}: {e}",
                msg.lines().next().unwrap_or("")
            );
        }
    }
}

pub fn ready(status: &str) {
    send(&format!("READY=1\nSTATUS={status}\n"));
}

pub fn status(status: &str) {
    send(&format!("STATUS={status}\n"));
}

pub fn reloading() {
    send("RELOADING=1\n");
}

pub fn stopping() {
    send("STOPPING=1\nSTATUS=stopping\n");
}

pub fn watchdog() {
    send("WATCHDOG=1\n");
}

/// How often to pet the watchdog: half of WatchdogSec, if it is on for
/// this process (WATCHDOG_PID, when set, names it).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse() != Ok(std::process::id()) {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2).max(Duration::from_millis(100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_paths_or_abstract_names() {
        let a = address("/run/systemd/notify".as_ref()).unwrap();
        assert_eq!(a.as_pathname(), Some("/run/systemd/notify".as_ref()));
        let a = address("@sd-notify-1".as_ref()).unwrap();
        use std::os::linux::net::SocketAddrExt;
        assert_eq!(a.as_abstract_name(), Some(&b"sd-notify-1"[..]));
    }
}
