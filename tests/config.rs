//! The config file: the documented example parses, and every kind of
//! mistake is rejected with the file, the line and the problem.
use leafvip::config::{Config, NextHopSpec};

const GOOD: &str = r#"
[bgp]
asn = 65100
router_id = "198.51.100.3"

[node]
labels = { site = "dc1" }

[[peer]]
address = "198.51.100.2"
asn = 65001
node_selector = { match_labels = { rack = "leaf1" } }

[[peer]]
address = "2001:db8::2"
asn = 65001
node_selector = { match_expressions = [{ key = "rack", operator = "In", values = ["leaf1"] }] }

[[vip]]
prefix = "192.0.2.200/32"
communities = ["65000:100", "graceful-shutdown"]
large_communities = ["65000:1:2"]

[[vip]]
prefix = "2001:db8:1::200/128"
"#;

#[test]
fn parses_the_documented_example() {
    let c = Config::parse("leafvip.toml", GOOD).unwrap();
    assert_eq!(c.bgp.asn, Some(65100));
    assert_eq!(c.peers().count(), 2);
    let v = c.vips().next().unwrap();
    assert_eq!(
        v.attrs().communities,
        vec![0xfde8_0064, leafvip_bgp::wire::community::GRACEFUL_SHUTDOWN]
    );
    assert_eq!(v.next_hop, NextHopSpec::SelfAddress);
    let p = c.peers().next().unwrap();
    assert_eq!((p.port, p.hold_time, p.add_paths_send_max), (179, 90, 16));
}

fn err(text: &str) -> String {
    Config::parse("leafvip.toml", text).unwrap_err().to_string()
}

#[test]
fn errors_name_file_line_and_problem() {
    let bad_prefix = GOOD.replace("192.0.2.200/32", "192.0.2.200/33");
    assert!(
        err(&bad_prefix).starts_with("leafvip.toml:20:"),
        "{}",
        err(&bad_prefix)
    );
    assert!(err(&bad_prefix).contains("prefix length"));
    let unknown = GOOD.replace("asn = 65100", "asn = 65100\nasm = 1");
    assert!(
        err(&unknown).starts_with("leafvip.toml:4:") && err(&unknown).contains("unknown field"),
        "{}",
        err(&unknown)
    );
    let hold = GOOD.replace(
        "asn = 65001\nnode_selector = { match_labels",
        "asn = 65001\nhold_time = 2\nnode_selector = { match_labels",
    );
    assert!(
        // The value's own line, not the [[peer]] header's.
        err(&hold).starts_with("leafvip.toml:12: peer 198.51.100.2: hold_time 2"),
        "{}",
        err(&hold)
    );
    let dup = format!("{GOOD}\n[[peer]]\naddress = \"198.51.100.2\"\nasn = 65002\n");
    assert!(
        err(&dup).contains("configured twice (first at line 9)"),
        "{}",
        err(&dup)
    );
    let sel = GOOD.replace(
        "operator = \"In\", values = [\"leaf1\"]",
        "operator = \"In\"",
    );
    assert!(
        err(&sel).contains("needs at least one value"),
        "{}",
        err(&sel)
    );
    let op = GOOD.replace("operator = \"In\"", "operator = \"in\"");
    assert!(err(&op).contains("unknown variant"), "{}", err(&op));
    let comm = GOOD.replace("65000:100", "70000:1");
    assert!(
        err(&comm).contains("community \"70000:1\""),
        "{}",
        err(&comm)
    );
    let nh = GOOD.replace(
        "prefix = \"2001:db8:1::200/128\"",
        "prefix = \"2001:db8:1::200/128\"\nnext_hop = \"198.51.100.3\"",
    );
    assert!(err(&nh).contains("not of the VIP's family"), "{}", err(&nh));
    assert!(err("[bgp]\nasn = 0\n").starts_with("leafvip.toml:2: bgp.asn 0"));
    assert!(err("[bgp] # main\nasn = 1\nrouter_id = \"0.0.0.0\"\n")
        .starts_with("leafvip.toml:3: bgp.router_id"));
    assert_eq!(err("[node]\n"), "leafvip.toml: missing table [bgp]");
    assert_eq!(
        err("[bgp] # no asn\nrouter_id = \"198.51.100.3\"\n"),
        "leafvip.toml:1: [bgp] needs asn (only in cluster mode may OpenELB's BgpConf give it)"
    );
}

#[test]
fn control_http_needs_the_metrics_feature() {
    let text = format!("{GOOD}\n[control]\nhttp = \"127.0.0.1:9179\"\n");
    let r = Config::parse("leafvip.toml", &text);
    if cfg!(feature = "metrics") {
        assert_eq!(
            r.unwrap().control.http,
            Some("127.0.0.1:9179".parse().unwrap())
        );
    } else {
        let e = r.unwrap_err().to_string();
        assert!(e.starts_with("leafvip.toml:28: control.http needs"), "{e}");
    }
}

#[test]
fn file_labels_win_over_inline_ones() {
    let dir = std::env::temp_dir().join(format!("leafvip-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("labels");
    std::fs::write(&f, "site=dc2\nrack=leaf1\n").unwrap();
    let text = GOOD.replace(
        "[node]\n",
        &format!("[node]\nlabels_file = {:?}\n", f.display().to_string()),
    );
    let labels = Config::parse("x", &text).unwrap().labels().unwrap();
    assert_eq!(labels.get("site").map(String::as_str), Some("dc2"));
    assert_eq!(labels.get("rack").map(String::as_str), Some("leaf1"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("leafvip-cfgtest-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn passive_without_a_listener_is_refused_at_check_time() {
    let text = GOOD.replace(
        "asn = 65001\nnode_selector = { match_labels",
        "asn = 65001\npassive = true\nnode_selector = { match_labels",
    );
    let e = Config::parse("leafvip.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("leafvip.toml:9: peer 198.51.100.2: passive = true needs [bgp] listen"),
        "{e}"
    );
    let ok = text.replace("[bgp]\n", "[bgp]\nlisten = \"[::]:179\"\n");
    assert!(Config::parse("leafvip.toml", &ok).is_ok());
}

#[test]
fn type_errors_name_the_key_and_its_line() {
    let text = GOOD.replace(
        "asn = 65001\nnode_selector = { match_labels",
        "asn = 65001\nhold_time = \"90s\"\nnode_selector = { match_labels",
    );
    let e = Config::parse("leafvip.toml", &text)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "leafvip.toml:12: `hold_time`: invalid type: string, expected u16"
    );
}

#[test]
fn key_files_are_read_at_load_and_their_errors_name_the_peer_line() {
    let d = tmp("keys");
    let key = d.join("key");
    let cfg = d.join("leafvip.toml");
    let text = GOOD.replace(
        "address = \"2001:db8::2\"\n",
        &format!(
            "address = \"2001:db8::2\"\npassword_file = {:?}\n",
            key.display().to_string()
        ),
    );
    std::fs::write(&cfg, &text).unwrap();
    // Missing, a FIFO, too long: each names the config file and the peer's line.
    let e = Config::load(&cfg).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}:14: peer 2001:db8::2: password_file",
            cfg.display()
        )),
        "{e}"
    );
    nix::unistd::mkfifo(&key, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let e = Config::load(&cfg).unwrap_err().to_string();
    assert!(e.ends_with("is a FIFO, not a regular file"), "{e}");
    std::fs::remove_file(&key).unwrap();
    std::fs::write(&key, "k".repeat(81)).unwrap();
    let e = Config::load(&cfg).unwrap_err().to_string();
    assert!(
        e.ends_with("a TCP MD5 key is 1 to 80 bytes, this one 81"),
        "{e}"
    );
    // A good key is read, and a new one makes a different peer (reload
    // restarts that session with it); the key itself is never printed.
    std::fs::write(&key, "first\n").unwrap();
    let a = Config::load(&cfg).unwrap();
    std::fs::write(&key, "second\n").unwrap();
    let b = Config::load(&cfg).unwrap();
    let (pa, pb) = (a.peers().nth(1).unwrap(), b.peers().nth(1).unwrap());
    assert_eq!(pa.md5_key.as_ref().unwrap().bytes(), b"first");
    assert_ne!(pa, pb);
    assert!(!format!("{a:?}").contains("first"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn labels_files_that_are_not_regular_files_fail_with_a_reason() {
    let d = tmp("labels-fifo");
    let f = d.join("labels");
    nix::unistd::mkfifo(&f, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let text = GOOD.replace(
        "[node]\n",
        &format!("[node]\nlabels_file = {:?}\n", f.display().to_string()),
    );
    let e = Config::parse("x", &text)
        .unwrap()
        .labels()
        .unwrap_err()
        .to_string();
    assert_eq!(e, format!("{}: is a FIFO, not a regular file", f.display()));
    let text = GOOD.replace("[node]\n", "[node]\nlabels_file = \"/dev/zero\"\n");
    let e = Config::parse("x", &text)
        .unwrap()
        .labels()
        .unwrap_err()
        .to_string();
    assert_eq!(e, "/dev/zero: is a character device, not a regular file");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn communities_that_could_not_fit_an_update_are_refused() {
    use leafvip::config::COMMUNITY_BYTES;
    let list = |n: usize| {
        (0..n)
            .map(|i| format!("\"65000:{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let fits = GOOD.replace(
        "communities = [\"65000:100\", \"graceful-shutdown\"]",
        &format!("communities = [{}]", list(COMMUNITY_BYTES / 4)),
    );
    Config::parse(
        "leafvip.toml",
        &fits.replace("large_communities = [\"65000:1:2\"]\n", ""),
    )
    .unwrap();
    // The same and one large community: 12 bytes over.
    let over = fits;
    let e = Config::parse("leafvip.toml", &over)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("leafvip.toml:19: vip 192.0.2.200/32: its communities take 3812 bytes"),
        "{e}"
    );
}

#[test]
fn the_kubernetes_table_needs_the_kube_feature() {
    let text = format!("{GOOD}\n[kubernetes]\nkubeconfig = \"/etc/leafvip/kubeconfig\"\n");
    let r = Config::parse("leafvip.toml", &text);
    if cfg!(feature = "kube") {
        let k = r.unwrap().kubernetes.unwrap();
        assert!(k.node_labels, "node_labels defaults to true");
        assert!(k.peers_from_crds, "peers_from_crds defaults to true");
        assert_eq!(
            k.kubeconfig.unwrap().to_str(),
            Some("/etc/leafvip/kubeconfig")
        );
        let bad = format!("{GOOD}\n[kubernetes]\npeers = 1\n");
        let e = Config::parse("leafvip.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("unknown field `peers`"), "{e}");
        assert!(!k.service_hosts, "service_next_hop defaults to self");
        let hosts = format!("{GOOD}\n[kubernetes]\nservice_next_hop = \"hosts\"\n");
        let k = Config::parse("leafvip.toml", &hosts)
            .unwrap()
            .kubernetes
            .unwrap();
        assert!(k.service_hosts);
        let bad = format!("{GOOD}\n[kubernetes]\nservice_next_hop = \"rack\"\n");
        let e = Config::parse("leafvip.toml", &bad).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "leafvip.toml:28: service_next_hop \"rack\" is not \"self\" or \"hosts\""
            ),
            "{e}"
        );
        assert_eq!(k.layer2_interval, 10, "layer2 adverts default to 100 ms");
        let l2 = format!("{GOOD}\n[kubernetes]\nlayer2_advert_interval = \"1s\"\n");
        let k = Config::parse("leafvip.toml", &l2)
            .unwrap()
            .kubernetes
            .unwrap();
        assert_eq!(k.layer2_interval, 100);
        let bad = format!("{GOOD}\n[kubernetes]\nlayer2_advert_interval = \"15ms\"\n");
        let e = Config::parse("leafvip.toml", &bad).unwrap_err().to_string();
        assert!(
            e.starts_with("leafvip.toml:28: layer2_advert_interval is 10ms..40950ms"),
            "{e}"
        );
    } else {
        let e = r.unwrap_err().to_string();
        assert!(
            e.starts_with(
                "leafvip.toml:27: [kubernetes] needs a leafvip built with the kube feature"
            ),
            "{e}"
        );
    }
}

const L2: &str = r#"[[vip]]
prefix = "198.51.100.10/32"
mode = "l2"
interface = "eth0"
vrid = 10
priority = 150
advert_interval = "100ms"

[[vip]]
prefix = "2001:db8::10/128"
mode = "l2"
interface = "eth0"
vrid = 10
"#;

#[cfg(not(feature = "l2"))]
#[test]
fn layer2_vips_need_the_feature() {
    assert!(
        err(L2).contains("needs a leafvip built with the l2 feature"),
        "{}",
        err(L2)
    );
}

#[cfg(feature = "l2")]
#[test]
fn layer2_vips_are_checked_with_their_lines() {
    use leafvip::l2::links::Link;
    // No [bgp] for a host of layer-2 VIPs alone; IPv4 and IPv6 may share
    // a VRID.
    let c = Config::parse("leafvip.toml", L2).unwrap();
    assert_eq!(c.vips().count(), 0, "none announced over BGP");
    let (_, l2) = c.l2_vips().next().unwrap();
    assert_eq!(
        (l2.vrid, l2.priority, l2.interval, l2.garp_count),
        (10, 150, 10, 5)
    );
    let clash = format!("{L2}\n[[vip]]\nprefix = \"198.51.100.11/32\"\nmode = \"l2\"\ninterface = \"eth0\"\nvrid = 10\n");
    assert_eq!(
        err(&clash),
        "leafvip.toml:15: vip 198.51.100.11/32: vrid 10 on eth0 is taken by the vip at line 1"
    );
    let wide = L2.replace("198.51.100.10/32", "198.51.100.0/24");
    assert!(
        err(&wide).starts_with("leafvip.toml:1: vip 198.51.100.0/24: a layer-2 VIP is one address")
    );
    let interval = L2.replace("\"100ms\"", "\"105ms\"");
    assert!(
        err(&interval).starts_with("leafvip.toml:7: advert_interval"),
        "{}",
        err(&interval)
    );
    let bgp_key = L2.replace("vrid = 10\npriority", "vrid = 10\nmed = 5\npriority");
    assert!(
        err(&bgp_key).contains("med applies to BGP VIPs"),
        "{}",
        err(&bgp_key)
    );
    let l2_key = GOOD.replace("large_communities", "vrid = 3\nlarge_communities");
    assert!(
        err(&l2_key).contains("vrid applies to mode = \"l2\" VIPs"),
        "{}",
        err(&l2_key)
    );
    let mode = L2.replace(
        "mode = \"l2\"\ninterface = \"eth0\"\nvrid = 10\npriority",
        "mode = \"l3\"\ninterface = \"eth0\"\nvrid = 10\npriority",
    );
    assert!(
        err(&mode).starts_with("leafvip.toml:3: mode \"l3\""),
        "{}",
        err(&mode)
    );
    // What needs the host: the interface, and the VIP in its subnets.
    let eth0 = Link {
        index: 2,
        name: "eth0".into(),
        mac: [2, 0, 0, 0, 0, 1],
        v4: vec![("198.51.100.1".parse().unwrap(), 24)],
        v6: vec![("2001:db8::1".parse().unwrap(), 64)],
        link_local: Some("fe80::1".parse().unwrap()),
    };
    assert!(c
        .check_links("leafvip.toml", L2, std::slice::from_ref(&eth0))
        .is_ok());
    let e = c
        .check_links("leafvip.toml", L2, &[])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "leafvip.toml:1: vip 198.51.100.10/32: interface eth0 does not exist"
    );
    let mut other = eth0;
    other.v6 = vec![("2001:db8:1::1".parse().unwrap(), 64)];
    let e = c
        .check_links("leafvip.toml", L2, &[other])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "leafvip.toml:9: vip 2001:db8::10/128: 2001:db8::10 is outside every subnet of eth0"
        ),
        "{e}"
    );
}
