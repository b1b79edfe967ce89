//! Property tests for the config reader: documents built from the real
//! keys with random values and random damage never panic, and every error
//! names a line inside the document.
use leafvip::config::Config;
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "asn",
    "router_id",
    "listen",
    "graceful_restart",
    "name",
    "labels_file",
    "labels",
    "address",
    "port",
    "hold_time",
    "keepalive",
    "passive",
    "families",
    "add_paths_send_max",
    "node_selector",
    "prefix",
    "next_hop",
    "communities",
    "large_communities",
    "med",
    "socket",
    "http",
    "check",
    "bogus",
];
const TABLES: &[&str] = &[
    "[bgp]",
    "[node]",
    "[control]",
    "[[peer]]",
    "[[vip]]",
    "[[host]]",
    "[x]",
];
const VALUES: &[&str] = &[
    "65100",
    "0",
    "-1",
    "4294967296",
    "70000",
    "true",
    "\"198.51.100.1\"",
    "\"2001:db8::1\"",
    "\"192.0.2.1/32\"",
    "\"192.0.2.1/33\"",
    "\"[::]:179\"",
    "\"65000:100\"",
    "\"hosts\"",
    "\"self\"",
    "[\"ipv4-unicast\"]",
    "[\"ipv9\"]",
    "{ match_labels = { rack = \"leaf1\" } }",
    "{ match_expressions = [{ key = \"r\", operator = \"In\" }] }",
    "{ tcp = \"198.51.100.4:80\", interval = \"1s\" }",
    "\"\"",
    "[]",
    "{}",
    "1.5",
    "0x10",
];

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(TABLES).prop_map(str::to_string),
        (prop::sample::select(KEYS), prop::sample::select(VALUES))
            .prop_map(|(k, v)| format!("{k} = {v}")),
        "[ -~]{0,20}",
    ]
}

proptest! {
    #[test]
    fn any_document_parses_or_names_a_line_inside_it(
        lines in prop::collection::vec(line(), 0..30),
        prefix_bgp in any::<bool>(),
    ) {
        let mut text = String::new();
        if prefix_bgp {
            text.push_str("[bgp]\nasn = 65100\n");
        }
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
        let n = text.lines().count();
        if let Err(e) = Config::parse("t.toml", &text) {
            prop_assert!(e.line <= n + 1, "line {} of {n}: {e}", e.line);
            prop_assert!(e.to_string().starts_with("t.toml"), "{e}");
        }
    }
}
