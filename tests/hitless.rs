//! Traffic through planned and unplanned events, measured from the
//! client: the two-rack fabric (`support/fabric.rs`: BIRD spine and
//! leaves with ECMP, each honouring GRACEFUL_SHUTDOWN), leafvip on every
//! host announcing one VIP with itself as next hop, an echo service behind
//! it on every host (`support/echo.py`), and a client behind the spine
//! (`support/load.py`): 100 short requests a second over new connections,
//! each with 1 s to answer, and 60 long flows echoing a line every 100 ms
//! for 15 s. A flow breaks on a reset, a timeout, or an answer from
//! another host. The event happens to worker1 (under leaf1) once every
//! flow is up; its flows are counted apart.
//!
//! Each scenario runs with leafvip as shipped (Graceful Restart, a drain
//! before a stop, a check of the local service) and naive (no Graceful
//! Restart, no drain, no check), and prints both columns
//! (`bench/hitless.sh` collects them). The asserts are on leafvip's:
//! - a restart with a 2 s gap (`leafvip restart`, started again 2 s
//!   later, as the unit and a package upgrade do): nothing fails;
//! - `leafvip drain`, then a stop after `drain_time`: no short request
//!   fails, and no flow breaks on another host;
//! - the service killed with no warning: the check withdraws the VIP, and
//!   the failed requests stay within interval x fall x rate (doubled for
//!   the time the route takes to leave the FIBs).
mod support;
use nix::sys::signal::Signal;
use serde_json::Value;
use std::time::{Duration, Instant};
use support::fabric::{build, Fabric, HOSTS, LEAVES};
use support::{can_run, wait_for};

const T: Duration = Duration::from_secs(30);
const VIP: &str = "192.0.2.210";
const PORT: u16 = 8090;
const RATE: u32 = 100;
const FLOWS: u32 = 60;
const SECS: u32 = 15;
/// The check: every 200 ms, down after 2 failures.
const INTERVAL_MS: u32 = 200;
const FALL: u32 = 2;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Leafvip,
    Naive,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Event {
    Restart,
    DrainThenStop,
    ServiceKilled,
}

struct Outcome {
    short_total: u64,
    short_failed: u64,
    on_host: usize,
    broken_on_host: usize,
    broken_elsewhere: usize,
}

fn config(h: &support::fabric::Host, mode: Mode) -> String {
    let leaf = LEAVES.iter().find(|l| l.name == h.rack).unwrap();
    let (bgp, check) = match mode {
        Mode::Leafvip => (
            "drain_time = 3\n".to_string(),
            format!(
                "check = {{ tcp = \"127.0.0.1:{PORT}\", interval = \"{INTERVAL_MS}ms\", timeout = \"150ms\", \
                 rise = 2, fall = {FALL}, hold_down = \"1s\" }}\n"
            ),
        ),
        Mode::Naive => (
            "drain_time = 0\ngraceful_restart = 0\n".to_string(),
            String::new(),
        ),
    };
    format!(
        "[bgp]\nasn = 65100\nrouter_id = \"{}\"\n{bgp}[node]\nname = \"{}\"\n\
         [[peer]]\naddress = \"{}\"\nasn = {}\nconnect_retry = 1\n[[vip]]\nprefix = \"{VIP}/32\"\n{check}",
        h.v4, h.name, leaf.gw4, leaf.asn
    )
}

/// leafvip on `h`, logging as `log`, with the control socket of its name.
fn start_leafvip(f: &mut Fabric, h: &support::fabric::Host, mode: Mode, log: &str) -> usize {
    let ns = f.host_ns(h.name);
    f.lab.leafvip_at(&ns, log, h.name, &config(h, mode))
}

fn start_echo(f: &mut Fabric, h: &support::fabric::Host, log: &str) -> usize {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/echo.py");
    let ns = f.host_ns(h.name);
    f.lab.spawn(
        &ns,
        &["python3", script, h.name, "0.0.0.0", &PORT.to_string()],
        log,
        &[],
    )
}

fn full(f: &Fabric) {
    let p = format!("{VIP}/32");
    wait_for(
        T,
        "the VIP via both hosts at leaf1, worker2 at leaf2, both leaves at the spine",
        || {
            (f.leaves[0].fib(&p) == ["198.51.100.3", "198.51.100.4"]
                && f.leaves[1].fib(&p) == ["198.51.100.130"]
                && f.spine.fib(&p) == ["203.0.113.18", "203.0.113.22"])
            .then_some(())
        },
        || {
            format!(
                "{:?} {:?} {:?}",
                f.leaves[0].fib(&p),
                f.leaves[1].fib(&p),
                f.spine.fib(&p)
            )
        },
    );
}

/// Runs one event under load on worker1; returns what the client saw.
fn scenario(f: &mut Fabric, mode: Mode, event: Event, run: usize) -> Outcome {
    assert_eq!(HOSTS[1].name, "worker1");
    under_load(f, run, &mut |f| act(f, mode, event, run))
}

/// Starts the client's load, waits for every flow, runs `event` two
/// seconds in, and returns what the client saw.
fn under_load(f: &mut Fabric, run: usize, event: &mut dyn FnMut(&mut Fabric)) -> Outcome {
    full(f);
    let ready = f.lab.path(&format!("ready-{run}"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/load.py");
    let out = f.lab.path(&format!("load-{run}.json"));
    let client = f.client.clone();
    let load = std::thread::spawn({
        let (ready, out) = (ready.clone(), out.clone());
        move || {
            let o = std::process::Command::new("ip")
                .args(["netns", "exec", &client, "python3", script, VIP])
                .args([
                    PORT.to_string(),
                    SECS.to_string(),
                    RATE.to_string(),
                    FLOWS.to_string(),
                ])
                .arg(&ready)
                .output()
                .expect("load.py");
            std::fs::write(&out, &o.stdout).unwrap();
            String::from_utf8_lossy(&o.stderr).into_owned()
        }
    });
    wait_for(
        T,
        "every flow up",
        || ready.exists().then_some(()),
        String::new,
    );
    std::thread::sleep(Duration::from_secs(2));
    event(f);
    let err = load.join().unwrap();
    let j: Value = serde_json::from_slice(&std::fs::read(&out).unwrap())
        .unwrap_or_else(|e| panic!("load.py: {e}: {err}"));
    let flows = j["flows"].as_array().unwrap();
    let on = |x: &&Value| x["host"] == "worker1";
    let broken = |x: &&Value| !x["broken"].is_null();
    Outcome {
        short_total: j["short"]["total"].as_u64().unwrap(),
        short_failed: j["short"]["failed"].as_u64().unwrap(),
        on_host: flows.iter().filter(on).count(),
        broken_on_host: flows.iter().filter(on).filter(broken).count(),
        broken_elsewhere: flows.iter().filter(|x| !on(x)).filter(broken).count(),
    }
}

/// The event on worker1.
fn act(f: &mut Fabric, mode: Mode, event: Event, run: usize) {
    let w1 = &HOSTS[1];
    let d = run_index(f, w1.name);
    match (event, mode) {
        (Event::Restart, Mode::Leafvip) => {
            f.lab.ctl("worker1", "restart");
            f.lab.proc(d).wait_exit(Duration::from_secs(5));
            std::thread::sleep(Duration::from_secs(2));
            start_leafvip(f, w1, mode, &format!("worker1-{run}"));
        }
        (Event::Restart, Mode::Naive) => {
            f.lab.proc(d).signal(Signal::SIGTERM);
            f.lab.proc(d).wait_exit(Duration::from_secs(5));
            std::thread::sleep(Duration::from_secs(2));
            start_leafvip(f, w1, mode, &format!("worker1-{run}"));
        }
        (Event::DrainThenStop, m) => {
            if m == Mode::Leafvip {
                f.lab.ctl("worker1", "drain");
                std::thread::sleep(Duration::from_secs(3));
            }
            f.lab.proc(d).signal(Signal::SIGTERM);
            f.lab.proc(d).wait_exit(Duration::from_secs(5));
        }
        (Event::ServiceKilled, _) => {
            let e = echo_index(f);
            f.lab.proc(e).signal(Signal::SIGKILL);
        }
    }
}

/// The newest leafvip process of worker1 (the lab's index).
fn run_index(f: &Fabric, _name: &str) -> usize {
    f.lab.last_index("worker1")
}

fn echo_index(f: &Fabric) -> usize {
    f.lab.last_index("echo-worker1")
}

/// Brings worker1 back to the start: its echo service and leafvip.
fn reset(f: &mut Fabric, mode: Mode, run: usize) {
    let w1 = &HOSTS[1];
    let e = echo_index(f);
    if f.lab.proc(e).child.try_wait().ok().flatten().is_some() {
        start_echo(f, w1, "echo-worker1");
    }
    let d = run_index(f, "worker1");
    if f.lab.proc(d).child.try_wait().ok().flatten().is_some() {
        start_leafvip(f, w1, mode, &format!("worker1-back-{run}"));
    }
    full(f);
}

fn fabric(mode: Mode, tag: &str) -> Fabric {
    let mut f = build(tag, &[&format!("{VIP}/32")]);
    for h in &HOSTS {
        start_echo(&mut f, h, &format!("echo-{}", h.name));
    }
    for h in &HOSTS {
        start_leafvip(&mut f, h, mode, h.name);
    }
    f
}

#[test]
fn restarts_drains_and_dead_services_measured_from_the_client() {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let events = [Event::Restart, Event::DrainThenStop, Event::ServiceKilled];
    let mut table = Vec::new();
    for mode in [Mode::Leafvip, Mode::Naive] {
        let mut f = fabric(
            mode,
            if mode == Mode::Leafvip {
                "hlv"
            } else {
                "hnaive"
            },
        );
        for (i, ev) in events.iter().enumerate() {
            let t = Instant::now();
            let o = scenario(&mut f, mode, *ev, i);
            eprintln!(
                "hitless: {mode:?} {ev:?}: short {}/{} failed, worker1's flows broken {}/{}, others' {}/{} ({:?})",
                o.short_failed,
                o.short_total,
                o.broken_on_host,
                o.on_host,
                o.broken_elsewhere,
                FLOWS as usize - o.on_host,
                t.elapsed()
            );
            assert!(
                o.on_host > 0,
                "no flow reached worker1: the scenario proves nothing"
            );
            if mode == Mode::Leafvip {
                match ev {
                    Event::Restart => assert!(
                        o.short_failed == 0 && o.broken_on_host == 0 && o.broken_elsewhere == 0,
                        "a restart must be hitless"
                    ),
                    Event::DrainThenStop => assert!(
                        o.short_failed == 0 && o.broken_elsewhere == 0,
                        "a drain fails no request and breaks no other host's flow"
                    ),
                    Event::ServiceKilled => {
                        let bound = u64::from(INTERVAL_MS * FALL * RATE / 1000);
                        assert!(
                            o.short_failed <= 2 * bound,
                            "{} failed, over twice interval x fall x rate ({bound})",
                            o.short_failed
                        );
                    }
                }
            }
            table.push((mode, *ev, o));
            reset(&mut f, mode, i);
        }
    }
    // The naive restart must show what leafvip avoids, or the comparison
    // is empty.
    let naive_restart = table
        .iter()
        .find(|(m, e, _)| *m == Mode::Naive && *e == Event::Restart)
        .map(|(_, _, o)| o.broken_on_host)
        .unwrap();
    assert!(
        naive_restart > 0,
        "the naive restart broke no flow on worker1"
    );
}

/// The same under systemd: worker1's leafvip is the packaged unit in a
/// container (`support/nspawn.rs`) booted in worker1's namespace, and the
/// events are `systemctl restart leafvip` and `dpkg -i` of the package
/// over itself (the postinst's try-restart, as an upgrade in place runs
/// it); naive is the same unit with `graceful_restart = 0`. Needs the
/// .deb: test.sh runs it, after building the package, with
/// LEAFVIP_HITLESS_DEB set.
#[test]
#[ignore = "needs the .deb and the Debian root: test.sh runs it after tests/nspawn.sh"]
fn systemd_restart_and_upgrade_measured_from_the_client() {
    let deb =
        std::env::var("LEAFVIP_HITLESS_DEB").expect("LEAFVIP_HITLESS_DEB: the .deb to install");
    let root = support::nspawn::root().unwrap_or_else(|e| panic!("{e}"));
    if !can_run(&["bird", "birdc", "python3", "systemd-nspawn"]) {
        return;
    }
    let mut lines = Vec::new();
    for mode in [Mode::Leafvip, Mode::Naive] {
        let mut f = build(
            if mode == Mode::Leafvip { "hsd" } else { "hsdn" },
            &[&format!("{VIP}/32")],
        );
        for h in &HOSTS {
            start_echo(&mut f, h, &format!("echo-{}", h.name));
        }
        for h in [&HOSTS[0], &HOSTS[2]] {
            start_leafvip(&mut f, h, mode, h.name);
        }
        let ns = f.host_ns("worker1");
        let c = support::nspawn::Container::boot(
            &mut f.lab,
            &ns,
            "worker1-ct",
            &root,
            std::path::Path::new(&deb),
        );
        c.write("/etc/leafvip/leafvip.toml", &config(&HOSTS[1], mode));
        c.inside("systemctl start leafvip")
            .expect("systemctl start leafvip");
        let events: [(&str, &str); 2] = [
            ("systemctl restart", "systemctl restart leafvip"),
            ("dpkg -i over itself", "dpkg -i /leafvip.deb"),
        ];
        for (i, (what, cmd)) in events.iter().enumerate() {
            let before = c
                .inside("systemctl show -P MainPID leafvip")
                .unwrap_or_default();
            let o = under_load(&mut f, 10 + i, &mut |_| {
                c.inside(cmd).unwrap_or_else(|| panic!("{cmd} failed"));
            });
            let after = c
                .inside("systemctl show -P MainPID leafvip")
                .unwrap_or_default();
            assert_ne!(before, after, "{what}: the daemon was not restarted");
            let line = format!(
                "hitless: {mode:?} {}: short {}/{} failed, worker1's flows broken {}/{}, others' {}/{}",
                what.replace(' ', "_"),
                o.short_failed,
                o.short_total,
                o.broken_on_host,
                o.on_host,
                o.broken_elsewhere,
                FLOWS as usize - o.on_host
            );
            eprintln!("{line}");
            assert!(o.on_host > 0, "no flow reached worker1");
            if mode == Mode::Leafvip {
                assert!(
                    o.short_failed == 0 && o.broken_on_host == 0 && o.broken_elsewhere == 0,
                    "{what} under systemd must be hitless"
                );
            }
            lines.push((mode, o.broken_on_host));
        }
    }
    assert!(
        lines.iter().any(|(m, b)| *m == Mode::Naive && *b > 0),
        "naive restarts broke no flow: the comparison is empty"
    );
}
