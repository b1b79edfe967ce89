//! `[[vip]] check` against BIRD, in namespaces: an http check of a real
//! HTTP server on the host, an exec check, and a tcp check whose VIP is
//! degraded (MED, community) rather than withdrawn while it fails; a
//! maintenance file; the leaf's FIB and routes are what is asserted.
mod support;
use std::time::{Duration, Instant};
use support::bird::{leaf1, Bird};
use support::{can_run, rack, wait_for, Lab};

const T: Duration = Duration::from_secs(30);
const A: &str = "192.0.2.201/32";
const B: &str = "192.0.2.202/32";
const C: &str = "192.0.2.203/32";

fn fib_has(bird: &Bird, p: &str) -> bool {
    bird.fib(p) == ["198.51.100.3"]
}

fn wait_fib(bird: &Bird, p: &str, present: bool) -> Duration {
    let t = Instant::now();
    wait_for(
        T,
        &format!(
            "{p} {} the leaf's FIB",
            if present { "in" } else { "out of" }
        ),
        || (fib_has(bird, p) == present).then_some(()),
        || bird.route(p),
    );
    t.elapsed()
}

#[test]
fn checks_withdraw_degrade_and_bring_back_vips() {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let mut lab = Lab::new("vipchk");
    let (leaf, host) = rack(&mut lab);
    let bird = leaf1(&mut lab, &leaf, "");
    // The service behind A: an HTTP server on the host, /healthz says ok.
    let www = lab.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("healthz"), "all ok\n").unwrap();
    let http = lab.spawn(
        &host,
        &[
            "python3",
            "-m",
            "http.server",
            "8080",
            "--bind",
            "127.0.0.1",
            "--directory",
            www.to_str().unwrap(),
        ],
        "http",
        &[],
    );
    let flag = lab.path("b-up");
    std::fs::write(&flag, "").unwrap();
    let maint = lab.path("maintenance");
    let cfg = format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n[[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\n\
         [[vip]]\nprefix = \"{A}\"\ncheck = {{ http = \"http://127.0.0.1:8080/healthz\", status = \"200-299\", body = \"ok\", \
         interval = \"200ms\", timeout = \"150ms\", rise = 2, fall = 2, hold_down = \"1s\", maintenance = \"{}\" }}\n\
         [[vip]]\nprefix = \"{B}\"\ncheck = {{ exec = [\"/bin/sh\", \"-c\", \"test -e {}\"], interval = \"200ms\", rise = 1, fall = 1 }}\n\
         [[vip]]\nprefix = \"{C}\"\ncheck = {{ tcp = \"127.0.0.1:9\", interval = \"200ms\", timeout = \"100ms\" }}\n\
         down = {{ med = 1000, communities = [\"65000:666\"] }}\n",
        maint.display(),
        flag.display()
    );
    lab.leafvip(&host, "leafvip", &cfg);
    wait_fib(&bird, A, true);
    wait_fib(&bird, B, true);
    // C's check fails from the start: announced, degraded.
    wait_for(
        T,
        "C degraded at BIRD",
        || {
            let r = bird.route(C);
            (r.contains("BGP.med: 1000") && r.contains("(65000,666)")).then_some(())
        },
        || bird.route(C),
    );
    let st = lab.status_json("leafvip");
    assert_eq!(
        (&st["vip_checks"], &st["vip_checks_down"]),
        (&serde_json::json!(3), &serde_json::json!(1)),
        "{st}"
    );
    let health = |st: &serde_json::Value, p: &str| {
        st["vips"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["prefix"] == p)
            .map(|v| v["health"].clone())
            .unwrap_or_default()
    };
    assert_eq!(health(&st, C), "check down: degraded");
    assert_eq!(health(&st, A), "check up");

    // The maintenance file takes A down within interval x fall, whatever
    // the probe says; removing it brings A back after rise and hold-down.
    std::fs::write(&maint, "").unwrap();
    let t = wait_fib(&bird, A, false);
    eprintln!("maintenance file to A out of the leaf's FIB: {t:?} (interval 200 ms, fall 2)");
    assert!(t < Duration::from_secs(2), "{t:?}");
    assert!(fib_has(&bird, B), "B is not touched");
    std::fs::remove_file(&maint).unwrap();
    let t = wait_fib(&bird, A, true);
    eprintln!("maintenance file gone to A back: {t:?} (rise 2, hold-down 1 s)");
    assert!(
        t >= Duration::from_millis(600),
        "the hold-down holds: {t:?}"
    );

    // The HTTP server stops: A goes. B's command fails: B goes.
    lab.proc(http).stop();
    let t = wait_fib(&bird, A, false);
    eprintln!("HTTP server stopped to A out of the leaf's FIB: {t:?}");
    std::fs::remove_file(&flag).unwrap();
    wait_fib(&bird, B, false);
    let st = lab.status_json("leafvip");
    assert_eq!(health(&st, B), "check down: withdrawn", "{st}");
    assert_eq!(st["vip_checks_down"], 3);
    // The command comes back: so does B.
    std::fs::write(&flag, "").unwrap();
    wait_fib(&bird, B, true);
}
