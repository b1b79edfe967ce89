//! Hostile peers and spoofed packets (issue 20): nothing one sender does
//! may stall the loop long enough to flap another session, grow memory
//! without bound, or take a session down. The scripted peer
//! (`support/hostile.py`) floods a passive leafvip session from its own
//! router namespace while BIRD holds two sessions at hold time 3 (IPv4 and
//! IPv6) on the rack's leaf; the assertions are on what BIRD holds, what
//! the scripted peer saw, and leafvip's RSS from /proc. How long the loop
//! was busy is printed, not asserted: that figure is `bench/hostile.sh`'s,
//! on a release build.
mod support;
use std::time::{Duration, Instant};
use support::bird::{Bird, Since};
use support::{can_run, other_router, rack, wait_for, Lab};

/// VIPs at BIRD; `bench/hostile.sh` sets LEAFVIP_HOSTILE_VIPS=100000.
fn n() -> u32 {
    std::env::var("LEAFVIP_HOSTILE_VIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/hostile.py");

struct Rig {
    lab: Lab,
    bird: Bird,
    leafvip: usize,
    other: String,
    since: (Since, Since),
}

fn vips() -> String {
    vips_in(1)
}

/// N IPv6 VIPs under 2001:db8:`set`::/48, and 250 IPv4 ones.
fn vips_in(set: u32) -> String {
    (0..n())
        .map(|i| format!("2001:db8:{set:x}::{:x}:{:x}/128\n", i >> 16, i & 0xffff))
        .chain((0..250u32).map(|i| format!("192.0.2.{i}/32\n")))
        .collect()
}

/// BIRD on the leaf with sessions h4 and h6 at hold 3, leafvip with N + 250
/// VIPs, and passive peers 203.0.113.1 and 2001:db8:203::1 (AS 65002) for
/// the scripted one.
fn rig(tag: &str, bfd: bool) -> Rig {
    let mut lab = Lab::new(tag);
    let (leaf, host) = rack(&mut lab);
    let other = other_router(&mut lab, &host);
    // The scripted peer's IPv6 side, for a session that carries the big
    // (IPv6) table.
    support::sh(&format!(
        "ip -n {host} addr add 2001:db8:203::3/64 dev eth1 nodad"
    ));
    support::sh(&format!(
        "ip -n {other} addr add 2001:db8:203::1/64 dev eth0 nodad"
    ));
    let (bird_bfd, bgp_bfd, our_bfd) = support::bird::bfd_parts(bfd, 100);
    let bird = Bird::start(
        &mut lab,
        &leaf,
        "bird",
        &format!(
            "router id 198.51.100.1;\nprotocol device {{}}\n{bird_bfd}\
             protocol bgp h4 {{ local as 65001; neighbor 198.51.100.3 as 65100; hold time 3; \
             connect retry time 1; {bgp_bfd} ipv4 {{ import all; export none; }}; }}\n\
             protocol bgp h6 {{ local as 65001; neighbor 2001:db8:100::3 as 65100; hold time 3; \
             connect retry time 1; ipv6 {{ import all; export none; }}; }}\n"
        ),
    );
    lab.write("vips", &vips());
    let cfg = format!(
        "vips_file = \"{}\"\n[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\nlisten = \"[::]:179\"\n\n\
         [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nhold_time = 3\nfamilies = [\"ipv4-unicast\"]\n{our_bfd}\n\
         [[peer]]\naddress = \"2001:db8:100::1\"\nasn = 65001\nhold_time = 3\nfamilies = [\"ipv6-unicast\"]\n\n\
         [[peer]]\naddress = \"203.0.113.1\"\nasn = 65002\npassive = true\nfamilies = [\"ipv4-unicast\"]\n\n\
         [[peer]]\naddress = \"2001:db8:203::1\"\nasn = 65002\npassive = true\nfamilies = [\"ipv6-unicast\"]\n",
        lab.path("vips").display()
    );
    let leafvip = lab.leafvip(&host, "leafvip", &cfg);
    let n = n();
    let full = format!("{n} of {n} routes");
    wait_for(
        Duration::from_secs(120),
        "the whole table at BIRD",
        || {
            (bird.cmd("show route count table master6")?.contains(&full)
                && bird
                    .cmd("show route count table master4")?
                    .contains("250 of 250"))
            .then_some(())
        },
        || lab.log("leafvip"),
    );
    let since = (
        bird.up_since("h4").expect("h4 up"),
        bird.up_since("h6").expect("h6 up"),
    );
    // The bench lets the initial sync leave the status's one-minute window
    // first, so that the longest event it reports is the flood's.
    if let Some(secs) = std::env::var("LEAFVIP_HOSTILE_SETTLE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(Duration::from_secs(secs));
    }
    Rig {
        lab,
        bird,
        leafvip,
        other,
        since,
    }
}

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

impl Rig {
    /// Runs the scripted peer; samples leafvip's RSS until it exits.
    /// Returns its output and (RSS before, highest RSS during), in KiB.
    /// The baseline is taken once the scripted session is up (the script
    /// pauses 2 s before its flood), so that its own table counts in it.
    fn flood(&mut self, args: &[&str], bound: Duration) -> (String, u64, u64) {
        let pid = self.lab.proc(self.leafvip).pid();
        let mut argv = vec!["python3", SCRIPT];
        argv.extend_from_slice(args);
        let p = self.lab.spawn(&self.other, &argv, "hostile", &[]);
        let start = Instant::now();
        wait_for(
            Duration::from_secs(20),
            "the scripted session up",
            || {
                self.lab
                    .log("hostile")
                    .contains("established")
                    .then_some(())
            },
            || self.lab.log("hostile"),
        );
        std::thread::sleep(Duration::from_secs(1));
        let before = rss_kib(pid);
        let mut peak = before;
        let status = loop {
            peak = peak.max(rss_kib(pid));
            if let Ok(Some(s)) = self.lab.proc(p).child.try_wait() {
                break s;
            }
            assert!(start.elapsed() < bound, "the scripted peer hangs");
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = self.lab.log("hostile");
        assert!(status.success(), "{out}");
        (out, before, peak)
    }

    /// Neither BIRD session flapped and the table is whole. Prints the
    /// figures `bench/hostile.sh` collects.
    fn unharmed(&self, what: &str, rss: (u64, u64)) {
        let now = (
            self.bird.up_since("h4").expect("h4 up"),
            self.bird.up_since("h6").expect("h6 up"),
        );
        assert!(
            now == self.since,
            "a session at hold 3 flapped: {:?} -> {:?}\n{}",
            self.since,
            now,
            self.lab.log("leafvip")
        );
        let n = n();
        let full = format!("{n} of {n} routes");
        assert!(self
            .bird
            .cmd("show route count table master6")
            .unwrap()
            .contains(&full));
        let j = self.lab.status_json("leafvip");
        eprintln!(
            "figure {what}: longest event {} ms in the last minute ({} ms since start), \
             RSS {} -> {} KiB, VIPs {}",
            j["loop_busy_recent_ms"], j["loop_busy_max_ms"], rss.0, rss.1, n
        );
    }
}

/// A peer streaming 4,096-byte UPDATEs, then one streaming KEEPALIVEs, at
/// line rate for 6 s each: reads are bounded per wake-up, so the loop
/// keeps serving the other sessions and memory stays flat.
#[test]
fn floods_of_updates_and_keepalives_neither_flap_others_nor_grow_memory() {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let mut r = rig("flood", false);
    for mode in ["updates", "keepalive"] {
        let (out, before, peak) = r.flood(
            &[mode, "203.0.113.1", "203.0.113.3", "65002", "6"],
            Duration::from_secs(60),
        );
        eprintln!("{mode}: {out} RSS {before} -> {peak} KiB");
        assert!(out.contains("established"), "{out}");
        let sent: u64 = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{mode} sent ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        assert!(sent > 10, "the flood did not flow: {out}");
        assert!(
            peak <= before + 4096,
            "{mode}: RSS grew from {before} to {peak} KiB"
        );
        r.unharmed(mode, (before, peak));
    }
}

/// Every VIP swapped for another by a reload: the table at BIRD becomes
/// the new one whole, and no session flaps. The diff is walked a batch
/// per event (it took ~300 ms of one event at 100k VIPs before); the
/// longest event is `bench/hostile.sh`'s figure.
#[test]
fn swapping_every_vip_for_another_set_flaps_nothing() {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let mut r = rig("swap", false);
    let pid = r.lab.proc(r.leafvip).pid();
    let before = rss_kib(pid);
    r.lab.write("vips", &vips_in(2));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let n = n();
    let last: std::net::Ipv6Addr =
        format!("2001:db8:2::{:x}:{:x}", (n - 1) >> 16, (n - 1) & 0xffff)
            .parse()
            .unwrap();
    let last = format!("{last}/128");
    wait_for(
        Duration::from_secs(120),
        "the new set whole at BIRD, the old one gone",
        || {
            let count = r.bird.cmd("show route count table master6")?;
            let gone = r.bird.cmd("show route in 2001:db8:1::/48 table master6")?;
            (count.contains(&format!("{n} of {n} routes"))
                && r.bird.route(&last).contains(&last)
                && !gone.contains("2001:db8:1:"))
            .then_some(())
        },
        || r.lab.log("leafvip"),
    );
    r.unharmed("swap", (before, rss_kib(pid)));
}

/// A peer that stops reading and floods ROUTE-REFRESH: the requests are
/// merged (10,000 cost no more than two passes over the table), memory
/// stays bounded, and after the stall bound (30 s) the session is closed.
#[test]
fn a_peer_that_floods_route_refresh_and_never_reads_is_bounded_and_closed() {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let mut r = rig("refresh", false);
    let (out, before, peak) = r.flood(
        &[
            "refresh",
            "2001:db8:203::1",
            "2001:db8:203::3",
            "65002",
            "6",
            "40",
        ],
        Duration::from_secs(90),
    );
    eprintln!("refresh: {out} RSS {before} -> {peak} KiB");
    assert!(out.contains("established"), "{out}");
    // Whether its socket pushed back is not asserted: leafvip reads on
    // while under 256 KiB are queued for the peer, and the requests merge
    // into at most two passes of the table, so which side of that bound
    // the queue sits when the flood ends is timing (CI saw 198,603 bytes
    // queued and every request taken). What must hold is below: the
    // stalled session closed, and RSS flat.
    assert!(
        out.contains("closed by leafvip"),
        "the stalled session was not closed: {out}"
    );
    assert!(
        peak <= before + 4096,
        "RSS grew from {before} to {peak} KiB"
    );
    let log = r.lab.log("leafvip");
    assert!(log.contains("has read nothing we sent"), "{log}");
    r.unharmed("refresh", (before, peak));
}

/// Blind spoofed BFD: packets from the router's address with TTL 255,
/// state Down, and discriminators the sender cannot know. The session at
/// BIRD stays Up and BGP does not flap.
#[test]
fn spoofed_bfd_down_packets_take_nothing_down() {
    if !can_run(&["bird", "birdc", "python3"]) || !cfg!(feature = "bfd") {
        assert!(
            std::env::var("LEAFVIP_REQUIRE_ROOT_TESTS").as_deref() != Ok("1")
                || cfg!(feature = "bfd"),
            "this test needs the bfd feature"
        );
        return;
    }
    let r = rig("bfdspoof", true);
    let up = || {
        r.bird
            .bfd_session("198.51.100.3")
            .filter(|b| b.state == "Up")
            .map(|b| b.since)
    };
    let bfd_since = wait_for(Duration::from_secs(20), "BFD Up at BIRD", up, || {
        r.lab.log("leafvip")
    });
    let spoof = r.lab.write(
        "spoof.py",
        "import os, socket, struct, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)\n\
         s.bind(('198.51.100.1', 49999))\n\
         for i in range(60):\n\
         \x20   my = struct.unpack('!I', os.urandom(4))[0] | 1\n\
         \x20   your = 0 if i % 2 == 0 else struct.unpack('!I', os.urandom(4))[0] | 1\n\
         \x20   # Version 1, diag 0; state Down (1 << 6); mult 3; length 24.\n\
         \x20   p = struct.pack('!BBBBIIIII', 0x20, 0x40, 3, 24, my, your, 100000, 100000, 0)\n\
         \x20   s.sendto(p, ('198.51.100.3', 3784))\n\
         \x20   time.sleep(0.1)\n\
         print('spoofed', i + 1)\n",
    );
    let leaf = r.bird.ns.clone();
    let out = support::sh(&format!("ip netns exec {leaf} python3 {}", spoof.display()));
    assert!(out.contains("spoofed 60"), "{out}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(up(), Some(bfd_since), "BFD flapped at BIRD");
    r.unharmed("bfd-spoof", (0, 0));
    let j = r.lab.status_json("leafvip");
    let discarded = j["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["peer"] == "198.51.100.1:179")
        .and_then(|p| p["bfd"]["discarded"].as_u64())
        .unwrap_or(0);
    assert!(
        discarded >= 60,
        "the spoofed packets were not discarded: {j}"
    );
}

/// The soak of `bench/soak.sh` (ignored here: it takes minutes): BIRD
/// restarts its session with leafvip LEAFVIP_SOAK_FLAPS times (default
/// 1,000) over 10k VIPs; after each flap the whole table is back at BIRD,
/// and leafvip's RSS over the last 100 flaps stays within 256 KiB of the
/// first 100's (the mean of each).
#[test]
#[ignore]
fn soak_session_flaps_keep_rss_flat_and_the_table_whole() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let flaps: usize = std::env::var("LEAFVIP_SOAK_FLAPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut lab = Lab::new("soak");
    let (leaf, host) = rack(&mut lab);
    let bird = Bird::start(
        &mut lab,
        &leaf,
        "bird",
        "router id 198.51.100.1;\nprotocol device {}\n\
         protocol bgp h6 { local as 65001; neighbor 2001:db8:100::3 as 65100; \
         start delay time 0; connect retry time 1; error wait time 1, 2; \
         ipv6 { import all; export none; }; }\n",
    );
    let vips: String = (0..10_000u32)
        .map(|i| format!("2001:db8:1::{:x}:{:x}/128\n", i >> 16, i & 0xffff))
        .collect();
    lab.write("vips", &vips);
    let cfg = format!(
        "vips_file = \"{}\"\n[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\nlisten = \"[2001:db8:100::3]:179\"\n\n\
         [[peer]]\naddress = \"2001:db8:100::1\"\nasn = 65001\nfamilies = [\"ipv6-unicast\"]\n",
        lab.path("vips").display()
    );
    let lv = lab.leafvip(&host, "leafvip", &cfg);
    let pid = lab.proc(lv).pid();
    let whole = || {
        bird.cmd("show route count")
            .is_some_and(|o| o.contains("10000 of 10000 routes"))
            .then_some(())
    };
    wait_for(Duration::from_secs(60), "the table at BIRD", whole, || {
        lab.log("leafvip")
    });
    let started = Instant::now();
    let mut rss = Vec::with_capacity(flaps);
    for i in 0..flaps {
        let before = bird.up_since("h6");
        bird.cmd("restart h6").expect("birdc restart");
        wait_for(
            Duration::from_secs(60),
            &format!("flap {i}: the session back and the table whole"),
            || {
                let now = bird.up_since("h6")?;
                (Some(&now) != before.as_ref()).then_some(())?;
                whole()
            },
            || lab.log("leafvip"),
        );
        rss.push(rss_kib(pid));
    }
    let mean = |s: &[u64]| s.iter().sum::<u64>() / s.len().max(1) as u64;
    let k = (flaps / 10).clamp(1, 100);
    let (first, last) = (mean(&rss[..k]), mean(&rss[flaps - k..]));
    eprintln!(
        "figure soak: {flaps} flaps in {:.0} s, RSS mean of the first {k} {first} KiB, of the last {k} {last} KiB, max {} KiB",
        started.elapsed().as_secs_f64(),
        rss.iter().max().unwrap()
    );
    assert!(
        last <= first + 256,
        "RSS grew over the flaps: {first} -> {last} KiB"
    );
}
