//! systemd integration: the unit verifies, its exposure stays at 2.0 or
//! less, and the daemon speaks sd_notify (READY, STATUS, WATCHDOG from the
//! event loop, RELOADING, STOPPING) on the socket systemd would give it.
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The socket systemd's notifications would go to, bound in `d`.
fn notify_socket(d: &std::path::Path, timeout: Duration) -> (std::path::PathBuf, UnixDatagram) {
    let path = d.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(timeout)).unwrap();
    (path, sock)
}

/// A config with one VIP and no peer, in `d`.
fn one_vip(d: &std::path::Path) -> std::path::PathBuf {
    let cfg = d.join("leafvip.toml");
    std::fs::write(
        &cfg,
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n[[vip]]\nprefix = \"192.0.2.200/32\"\n",
    )
    .unwrap();
    cfg
}

/// Kills the daemon by PID if the test fails half-way.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn dir(test: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("leafvip-systemd-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The unit with ExecStart pointing at the binary under test.
fn unit() -> Option<std::path::PathBuf> {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("LEAFVIP_REQUIRE_ROOT_TESTS").as_deref() != Ok("1"),
            "systemd-analyze is missing"
        );
        eprintln!("SKIPPED: no systemd-analyze");
        return None;
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/leafvip.service"
    ))
    .unwrap();
    let p = dir("unit").join("leafvip.service");
    std::fs::write(
        &p,
        text.replace("/usr/bin/leafvip", env!("CARGO_BIN_EXE_leafvip")),
    )
    .unwrap();
    Some(p)
}

#[test]
fn unit_verifies_and_is_hardened() {
    let Some(u) = unit() else { return };
    let v = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&u)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let s = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&u)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&s.stdout).into_owned() + &String::from_utf8_lossy(&s.stderr);
    let level: f64 = out
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for leafvip.service: ")
                .nth(1)
        })
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{out}"));
    assert!(level <= 2.0, "exposure {level}");
}

/// Runs the daemon with the environment systemd gives a `Type=notify`
/// service with a watchdog.
fn under_systemd(cfg: &std::path::Path, notify: &std::path::Path, watchdog_usec: &str) -> Reaper {
    under_systemd_via("", cfg, notify, watchdog_usec)
}

/// The same, exec'd through `via` (a command that execs its arguments,
/// such as `prlimit --nofile=24:24`), which keeps the PID.
fn under_systemd_via(
    via: &str,
    cfg: &std::path::Path,
    notify: &std::path::Path,
    watchdog_usec: &str,
) -> Reaper {
    // systemd sets WATCHDOG_PID to the service's PID: the shell's $$ is the
    // daemon's PID once it execs.
    let child = Command::new("sh")
        .args([
            "-c",
            &format!("WATCHDOG_PID=$$ exec {via} \"$0\" run -c \"$1\" -s \"$1.sock\""),
        ])
        .arg(env!("CARGO_BIN_EXE_leafvip"))
        .arg(cfg)
        .env("NOTIFY_SOCKET", notify)
        .env("WATCHDOG_USEC", watchdog_usec)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Reaper(child)
}

#[test]
fn speaks_sd_notify_with_a_watchdog_from_the_event_loop() {
    let d = dir("notify");
    let (sock_path, sock) = notify_socket(&d, Duration::from_millis(200));
    let cfg = one_vip(&d);
    let mut child = under_systemd(&cfg, &sock_path, "200000");
    let mut seen = String::new();
    let recv_until = |want: &str, seen: &mut String| {
        let end = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 512];
        while Instant::now() < end && !seen.contains(want) {
            if let Ok(n) = sock.recv(&mut buf) {
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                seen.push('\n');
            }
        }
        assert!(seen.contains(want), "no {want:?} in {seen:?}");
    };
    recv_until("READY=1", &mut seen);
    recv_until("STATUS=0/0 sessions established, 1 VIPs", &mut seen);
    recv_until("WATCHDOG=1", &mut seen);
    let pid = nix::unistd::Pid::from_raw(child.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    recv_until("RELOADING=1", &mut seen);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    recv_until("STOPPING=1", &mut seen);
    assert!(child.0.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&d);
}

/// The shipped unit's WatchdogSec is well above the 2 s labels tick; a
/// watchdog timer re-armed on every pass of the loop never fired there.
/// With a 2 s period, every gap between pings must stay under the period
/// for 10 s, or systemd would have killed the daemon.
#[test]
fn watchdog_pings_within_every_period_above_the_labels_tick() {
    let d = dir("watchdog");
    let (sock_path, sock) = notify_socket(&d, Duration::from_millis(100));
    let cfg = d.join("leafvip.toml");
    let labels = d.join("labels");
    std::fs::write(&labels, "rack=leaf1\n").unwrap();
    std::fs::write(
        &cfg,
        format!(
            "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n[node]\nlabels_file = {:?}\n[[vip]]\nprefix = \"192.0.2.200/32\"\n",
            labels.display().to_string()
        ),
    )
    .unwrap();
    let mut child = under_systemd(&cfg, &sock_path, "2000000");
    let start = Instant::now();
    let mut pings = Vec::new();
    let mut buf = [0u8; 512];
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(n) = sock.recv(&mut buf) {
            if String::from_utf8_lossy(&buf[..n]).contains("WATCHDOG=1") {
                pings.push(start.elapsed());
            }
        }
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    assert!(child.0.wait().unwrap().success());
    assert!(pings.len() >= 5, "{} pings in 10 s: {pings:?}", pings.len());
    let mut last = Duration::ZERO;
    for p in &pings {
        assert!(
            *p - last < Duration::from_secs(2),
            "a gap of {:?} before the ping at {p:?}, over the 2 s period: {pings:?}",
            *p - last
        );
        last = *p;
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// Out of descriptors (a flood of held control connections under a low
/// RLIMIT_NOFILE), the watchdog still reaches systemd within every period:
/// the notification socket is opened once at start, not per message.
#[test]
fn the_watchdog_survives_descriptor_exhaustion() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        assert!(
            std::env::var("LEAFVIP_REQUIRE_ROOT_TESTS").as_deref() != Ok("1"),
            "prlimit is missing"
        );
        return;
    }
    let d = dir("nofile");
    let (sock_path, sock) = notify_socket(&d, Duration::from_millis(100));
    let cfg = one_vip(&d);
    // About 14 descriptors at idle: 24 leaves room for 10 clients.
    let mut child = under_systemd_via("prlimit --nofile=24:24", &cfg, &sock_path, "2000000");
    let mut buf = [0u8; 512];
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if sock
            .recv(&mut buf)
            .is_ok_and(|n| String::from_utf8_lossy(&buf[..n]).contains("READY=1"))
        {
            break;
        }
    }
    // Keep opening control connections and hold them all (idle clients
    // are timed out, so one batch would not last): the descriptors left
    // run out and accepts fail with EMFILE.
    let control = cfg.with_extension("toml.sock");
    let pid = child.0.id();
    let start = Instant::now();
    let flood = std::thread::spawn(move || {
        let mut held = Vec::new();
        while start.elapsed() < Duration::from_secs(8) && held.len() < 400 {
            if let Ok(c) = std::os::unix::net::UnixStream::connect(&control) {
                held.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        held.len()
    });
    let mut pings = Vec::new();
    let mut fds = 0;
    while start.elapsed() < Duration::from_secs(8) {
        if let Ok(n) = sock.recv(&mut buf) {
            if String::from_utf8_lossy(&buf[..n]).contains("WATCHDOG=1") {
                pings.push(start.elapsed());
            }
        }
        let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0);
        fds = fds.max(open);
    }
    assert!(flood.join().unwrap() > 100);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    assert!(child.0.wait().unwrap().success());
    assert!(
        fds >= 24,
        "descriptors were not exhausted: at most {fds} open"
    );
    assert!(pings.len() >= 4, "{} pings in 8 s: {pings:?}", pings.len());
    let mut last = Duration::ZERO;
    for p in &pings {
        assert!(
            *p - last < Duration::from_secs(2),
            "a gap of {:?} before the ping at {p:?}: {pings:?}",
            *p - last
        );
        last = *p;
    }
    let _ = std::fs::remove_dir_all(&d);
}
