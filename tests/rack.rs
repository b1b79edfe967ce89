//! One speaker per rack (the PorterLB guide's layout): leafvip on master1
//! announces, over ADD-PATH, the healthy hosts of leaf1's rack as
//! third-party next hops. Asserted at the leaf: BIRD's RIB and the kernel
//! FIB (ECMP over both hosts), never a host of another rack, and a host
//! that fails its check leaving the ECMP set within interval × fall.
mod support;
use std::time::{Duration, Instant};
use support::bird::{leaf_config, Bird};
use support::{can_run, wait_for, Lab};

const T: Duration = Duration::from_secs(20);

#[test]
fn rack_speaker_announces_healthy_hosts_of_its_rack_over_add_path() {
    rack_speaker(true);
}

#[test]
fn without_add_path_at_the_leaf_one_deterministic_path_and_a_warning() {
    rack_speaker(false);
}

fn rack_speaker(add_path: bool) {
    if !can_run(&["bird", "birdc", "python3"]) {
        return;
    }
    let mut lab = Lab::new("rack");
    let leaf = lab.ns("leaf1");
    support::sh(&format!("ip -n {leaf} link add br0 type bridge && ip -n {leaf} addr add 198.51.100.1/24 dev br0 && ip -n {leaf} link set br0 up"));
    let mut hosts = Vec::new();
    for (i, name) in ["master1", "worker1"].iter().enumerate() {
        let ns = lab.ns(name);
        let addr = format!("198.51.100.{}", 3 + i);
        lab.link(
            &leaf,
            &format!("p{i}"),
            &[],
            &ns,
            "eth0",
            &[&format!("{addr}/24")],
        );
        support::sh(&format!("ip -n {leaf} link set p{i} master br0"));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/responder.py");
        let r = lab.spawn(
            &ns,
            &["python3", script, name, &addr, "8080"],
            &format!("{name}-responder"),
            &[],
        );
        hosts.push((ns, addr, r));
    }
    let mut conf = leaf_config(
        "198.51.100.1",
        65001,
        &[("speaker", "198.51.100.3", 65100, "")],
    );
    if !add_path {
        conf = conf.replace("add paths rx;", "");
    }
    let bird = Bird::start(&mut lab, &leaf, "bird", &conf);
    lab.write("labels", "rack=leaf1\n");
    let cfg = format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n[node]\nname = \"master1\"\nlabels_file = \"{}\"\n\
         [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nnode_selector = {{ match_labels = {{ rack = \"leaf1\" }} }}\n\
         [[host]]\nname = \"master1\"\naddress = \"198.51.100.3\"\nlabels = {{ rack = \"leaf1\" }}\n\
         check = {{ tcp = \"198.51.100.3:8080\", interval = \"500ms\", rise = 1, fall = 2 }}\n\
         [[host]]\nname = \"worker1\"\naddress = \"198.51.100.4\"\nlabels = {{ rack = \"leaf1\" }}\n\
         check = {{ tcp = \"198.51.100.4:8080\", interval = \"500ms\", rise = 1, fall = 2 }}\n\
         [[host]]\nname = \"worker2\"\naddress = \"203.0.113.4\"\nlabels = {{ rack = \"leaf2\" }}\n\
         [[vip]]\nprefix = \"192.0.2.200/32\"\nnext_hop = \"hosts\"\n",
        lab.path("labels").display()
    );
    lab.leafvip(&hosts[0].0, "leafvip", &cfg);
    if !add_path {
        // One path per prefix, the lowest next hop, and the log says why.
        wait_for(
            T,
            "one path at BIRD",
            || (bird.next_hops("192.0.2.200/32") == ["198.51.100.3"]).then_some(()),
            || bird.route("192.0.2.200/32"),
        );
        wait_for(
            T,
            "the warning",
            || {
                lab.log("leafvip")
                    .contains("peer did not negotiate ADD-PATH receive")
                    .then_some(())
            },
            || lab.log("leafvip"),
        );
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(bird.next_hops("192.0.2.200/32"), ["198.51.100.3"]);
        return;
    }
    let both = vec!["198.51.100.3".to_string(), "198.51.100.4".to_string()];
    wait_for(
        T,
        "both hosts in BIRD's RIB",
        || (bird.next_hops("192.0.2.200/32") == both).then_some(()),
        || bird.route("192.0.2.200/32") + &lab.log("leafvip"),
    );
    wait_for(
        T,
        "ECMP over both hosts in the leaf's FIB",
        || (bird.fib("192.0.2.200/32") == both).then_some(()),
        || format!("{:?}", bird.fib("192.0.2.200/32")),
    );
    assert!(
        !bird.route("192.0.2.200/32").contains("203.0.113.4"),
        "a host of another rack never reaches leaf1"
    );

    // worker1's service dies: it leaves the ECMP set within interval × fall.
    lab.proc(hosts[1].2).stop();
    let died = Instant::now();
    wait_for(
        T,
        "worker1 withdrawn",
        || (bird.fib("192.0.2.200/32") == ["198.51.100.3"]).then_some(()),
        || format!("{:?}", bird.fib("192.0.2.200/32")),
    );
    let took = died.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "withdrawn after {took:?} (interval 500 ms × fall 2, plus a check in flight)"
    );
    assert!(bird.established("speaker"), "the session itself stayed up");
}
