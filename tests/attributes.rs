//! Per-VIP path attributes as the router reads them: communities (plain
//! and well-known), large communities and MED over eBGP; LOCAL_PREF over
//! iBGP, where it belongs.
mod support;
use std::time::Duration;
use support::bird::{leaf_config, Bird};
use support::{can_run, rack, wait_for, Lab};

const T: Duration = Duration::from_secs(20);

#[test]
fn bird_reads_each_vips_communities_med_and_local_pref() {
    if !can_run(&["bird", "birdc"]) {
        return;
    }
    let mut lab = Lab::new("attrs");
    let (leaf, host) = rack(&mut lab);
    // Two sessions to the same host: eBGP (h1) and iBGP (h2, AS 65100).
    let conf = leaf_config(
        "198.51.100.1",
        65001,
        &[
            ("h1", "198.51.100.3", 65100, ""),
            (
                "h2",
                "2001:db8:100::3",
                65100,
                "local 2001:db8:100::1 as 65100; direct;",
            ),
        ],
    );
    let bird = Bird::start(&mut lab, &leaf, "bird", &conf);
    let cfg = "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\n\
               [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nfamilies = [\"ipv4-unicast\"]\n\n\
               [[peer]]\naddress = \"2001:db8:100::1\"\nasn = 65100\nfamilies = [\"ipv6-unicast\"]\n\n\
               [[vip]]\nprefix = \"192.0.2.200/32\"\ncommunities = [\"65000:100\", \"graceful-shutdown\"]\n\
               large_communities = [\"65000:1:2\"]\nmed = 50\n\n\
               [[vip]]\nprefix = \"2001:db8:1::200/128\"\nlocal_pref = 300\ncommunities = [\"no-export\"]\n";
    lab.leafvip(&host, "leafvip", cfg);

    let v4 = wait_for(
        T,
        "the IPv4 VIP over eBGP",
        || Some(bird.route("192.0.2.200/32")).filter(|r| r.contains("BGP.next_hop")),
        || lab.log("leafvip"),
    );
    for want in [
        "(65000,100)",
        "(65535,0)",
        "BGP.large_community: (65000, 1, 2)",
        "BGP.med: 50",
    ] {
        assert!(v4.contains(want), "missing {want:?} in\n{v4}");
    }
    // eBGP carries no LOCAL_PREF from us; BIRD fills in its default.
    assert!(v4.contains("BGP.local_pref: 100"), "{v4}");

    let v6 = wait_for(
        T,
        "the IPv6 VIP over iBGP",
        || Some(bird.route("2001:db8:1::200/128")).filter(|r| r.contains("BGP.next_hop")),
        || lab.log("leafvip"),
    );
    for want in ["BGP.local_pref: 300", "BGP.community: (65535,65281)"] {
        assert!(v6.contains(want), "missing {want:?} in\n{v6}");
    }
    // iBGP: an empty AS_PATH.
    assert!(
        v6.lines().any(|l| l.trim() == "BGP.as_path:"),
        "AS_PATH not empty in\n{v6}"
    );
}
