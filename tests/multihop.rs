//! eBGP multihop: the leaf sits one router away (host → mid → leaf). With
//! direct eBGP's TTL of 1 the mid router drops every packet and the session
//! never comes up; `ebgp_multihop = 2`, applied by a reload, brings it up
//! and BIRD resolves the host's next hop through the mid router.
mod support;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use support::bird::Bird;
use support::{can_run, sh, wait_for, Lab};

const T: Duration = Duration::from_secs(30);
const VIP: &str = "192.0.2.200/32";

fn config(extra: &str) -> String {
    format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\n\
         [[peer]]\naddress = \"203.0.113.2\"\nasn = 65001\nfamilies = [\"ipv4-unicast\"]\n{extra}\n\n\
         [[vip]]\nprefix = \"{VIP}\"\n"
    )
}

#[test]
fn multihop_ttl_reaches_a_leaf_behind_a_router() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("multihop");
    let host = lab.ns("host");
    let mid = lab.ns("mid");
    let leaf = lab.ns("leaf");
    lab.link(
        &host,
        "eth0",
        &["198.51.100.3/24"],
        &mid,
        "eth0",
        &["198.51.100.1/24"],
    );
    lab.link(
        &mid,
        "eth1",
        &["203.0.113.1/24"],
        &leaf,
        "eth0",
        &["203.0.113.2/24"],
    );
    sh(&format!(
        "ip -n {host} route add 203.0.113.0/24 via 198.51.100.1"
    ));
    // BIRD's static route (exported to the leaf's kernel) is both the way
    // back to the host and what resolves the host's next hop recursively.
    let bird = Bird::start(
        &mut lab,
        &leaf,
        "bird",
        "router id 203.0.113.2;\n\
         protocol device {}\n\
         protocol kernel k4 { ipv4 { export all; }; }\n\
         protocol static s4 { ipv4; route 198.51.100.0/24 via 203.0.113.1; }\n\
         protocol bgp h1 {\n  local 203.0.113.2 as 65001;\n  neighbor 198.51.100.3 as 65100;\n  \
         multihop 2;\n  connect retry time 1;\n  error wait time 1, 2;\n  \
         ipv4 { import all; export none; };\n}\n",
    );
    let lv = lab.leafvip(&host, "leafvip", &config(""));

    // TTL 1: the SYN dies at the mid router.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        assert!(
            !bird.established("h1"),
            "a TTL-1 session crossed a router: {}",
            lab.log("leafvip")
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    lab.write("leafvip.toml", &config("ebgp_multihop = 2"));
    lab.proc(lv).signal(Signal::SIGHUP);
    wait_for(
        T,
        "the multihop session Established",
        || bird.established("h1").then_some(()),
        || lab.log("leafvip"),
    );
    let route = wait_for(
        T,
        "the VIP at BIRD with the host's next hop",
        || {
            let r = bird.route(VIP);
            r.contains("BGP.next_hop: 198.51.100.3").then_some(r)
        },
        || bird.route(VIP),
    );
    // Resolved through the mid router, into the leaf's kernel FIB.
    assert!(route.contains("via 203.0.113.1"), "{route}");
    assert_eq!(bird.fib(VIP), vec!["203.0.113.1"], "{route}");
}
