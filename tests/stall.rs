//! The event loop under load: 100k VIPs announced to BIRD over a session
//! with a 3 s hold time, while 50 SIGHUPs, 20 concurrent `status --json`
//! and 20 scrapes hit the daemon at once. No session may flap, every
//! client gets a whole answer, and the table stays whole at BIRD. The
//! longest a status request waited is printed (the stall figure itself is
//! measured on a release build by `bench/stall.sh`). With the `bfd`
//! feature the session is also guarded by BFD at 50 ms × 3, and BFD runs
//! on its own thread: the loop's work never delays a packet, so neither
//! BFD nor BGP may flap.
mod support;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::bird::Bird;
use support::{can_run, rack, wait_for, Lab};

const N: u32 = 100_000;

fn vips() -> String {
    let mut s = String::with_capacity(N as usize * 30);
    for i in 0..N {
        s.push_str(&format!("2001:db8:1::{:x}:{:x}/128\n", i >> 16, i & 0xffff));
    }
    s
}

fn status(sock: &str) -> Result<serde_json::Value, String> {
    let o = Command::new(env!("CARGO_BIN_EXE_leafvip"))
        .args(["status", "--json", "-s", sock])
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    serde_json::from_slice(&o.stdout).map_err(|e| format!("not JSON: {e}"))
}

#[test]
fn reloads_status_and_scrapes_never_drop_a_hold_3_session() {
    if !can_run(&["bird", "birdc", "curl"]) {
        return;
    }
    let mut lab = Lab::new("stall");
    let (leaf, host) = rack(&mut lab);
    let bfd = cfg!(feature = "bfd");
    let (bird_bfd, bgp_bfd, our_bfd) = support::bird::bfd_parts(bfd, 50);
    // No kernel protocol: 100k routes in BIRD's table are enough.
    let bird = Bird::start(
        &mut lab,
        &leaf,
        "bird",
        &format!(
            "router id 198.51.100.1;\nprotocol device {{}}\n{bird_bfd}\
             protocol bgp h1 {{ local as 65001; neighbor 2001:db8:100::3 as 65100; hold time 3; \
             connect retry time 1; {bgp_bfd} ipv6 {{ import all; export none; }}; }}\n"
        ),
    );
    lab.write("vips", &vips());
    let cfg = format!(
        "vips_file = \"{}\"\n[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\n\
         [control]\nhttp = \"127.0.0.1:9179\"\n\n\
         [[peer]]\naddress = \"2001:db8:100::1\"\nasn = 65001\nhold_time = 3\nfamilies = [\"ipv6-unicast\"]\n{our_bfd}",
        lab.path("vips").display()
    );
    let lv = lab.leafvip(&host, "leafvip", &cfg);
    let full = format!("{N} of {N} routes");
    wait_for(
        Duration::from_secs(120),
        "the whole table at BIRD",
        || {
            bird.cmd("show route count")
                .filter(|o| o.contains(&full))
                .map(|_| ())
        },
        || format!("{:?}\n{}", bird.cmd("show route count"), lab.log("leafvip")),
    );
    let since = bird.up_since("h1").expect("h1 up");
    let bfd_since = bird
        .bfd_session("2001:db8:100::3")
        .map(|b| (b.state, b.since));
    assert_eq!(
        bfd,
        bfd_since.as_ref().is_some_and(|b| b.0 == "Up"),
        "{bfd_since:?}"
    );
    let sock = lab.path("leafvip.sock").display().to_string();
    let pid = lab.proc(lv).pid();

    // A probe: one status request after another, timing each.
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let (stop, sock) = (stop.clone(), sock.clone());
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = status(&sock);
                worst = worst.max(t.elapsed());
                assert!(r.is_ok(), "probe: {r:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
            worst
        })
    };
    let hups = std::thread::spawn(move || {
        for _ in 0..50 {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGHUP,
            )
            .unwrap();
            std::thread::sleep(Duration::from_millis(30));
        }
    });
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let sock = sock.clone();
            std::thread::spawn(move || status(&sock))
        })
        .collect();
    let scrapes: Vec<_> = (0..20)
        .map(|_| {
            let host = host.clone();
            std::thread::spawn(move || {
                support::curl(&host, "GET", "http://127.0.0.1:9179/metrics", 10).0
            })
        })
        .collect();
    hups.join().unwrap();
    for c in clients {
        let j = c
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("status failed: {e}"));
        assert_eq!(j["vip_count"], N);
    }
    for s in scrapes {
        assert_eq!(s.join().unwrap(), 200);
    }
    // Longer than the hold time, so a missed KEEPALIVE would show.
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    let worst = probe.join().unwrap();
    eprintln!("longest status answer during the load: {worst:?}");

    let now = bird.cmd("show protocols all h1").unwrap();
    assert!(
        bird.up_since("h1").as_ref() == Some(&since),
        "the session flapped: before\n{since}\nnow\n{now}\n{}",
        lab.log("leafvip")
    );
    assert!(bird.cmd("show route count").unwrap().contains(&full));
    let bfd_now = bird
        .bfd_session("2001:db8:100::3")
        .map(|b| (b.state, b.since));
    assert_eq!(bfd_now, bfd_since, "BFD flapped under the load");
    let log = lab.log("leafvip");
    assert!(
        !log.contains("session down") && !log.contains("Hold Timer"),
        "{log}"
    );
    assert!(log.contains("reloaded"), "no reload ran: {log}");
    let j = status(&sock).unwrap();
    assert_eq!(j["last_reload"]["ok"], true, "{j}");
    eprintln!(
        "longest on one event in the daemon: {} ms",
        j["loop_busy_max_ms"]
    );
}
