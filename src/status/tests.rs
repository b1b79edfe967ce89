use super::*;

fn sample() -> Status {
    let pv = PeerVip {
        prefix: "192.0.2.200/32".parse().unwrap(),
        peer: "198.51.100.1:179".parse().unwrap(),
        next_hops: vec!["198.51.100.3".parse().unwrap()],
        sent: vec!["198.51.100.3".parse().unwrap()],
        state: vip_state(1, 1, true),
        reason: None,
    };
    Status {
        version: "0.1.0".into(),
        node: "master1".into(),
        asn: 65100,
        router_id: "198.51.100.3".into(),
        uptime_secs: 3723,
        peers: vec![PeerStatus {
            asn: 65001,
            state_secs: 61,
            uptime_secs: Some(61),
            capabilities: vec!["ipv4-unicast".into(), "add-path send ipv4-unicast".into()],
            prefixes_sent: vec![FamilyCount {
                family: "ipv4-unicast".into(),
                count: 1,
            }],
            messages_in: 5,
            messages_out: 7,
            last_notification: Some("received Cease / Administrative Reset (6/4)".into()),
            notifications: vec![NotificationCount {
                direction: "received",
                code: 6,
                count: 1,
            }],
            vips: vec![pv.clone()],
            ..PeerStatus::new("198.51.100.1:179".parse().unwrap(), State::Established)
        }],
        vip_count: 1,
        vips: vec![VipStatus {
            prefix: "192.0.2.200/32".into(),
            next_hop: "self".into(),
            health: None,
            announced: true,
            peers: vec![pv],
        }],
        ..Default::default()
    }
}

#[test]
fn text_reads_like_a_router_table() {
    let t = sample().to_text();
    assert!(
        t.starts_with("leafvip 0.1.0 on master1: AS 65100, router id 198.51.100.3, up 1h02m03s"),
        "{t}"
    );
    let row = t
        .lines()
        .find(|l| l.starts_with("198.51.100.1:179"))
        .unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "198.51.100.1:179",
            "65001",
            "Established",
            "1m01s",
            "1",
            "0",
            "5",
            "7"
        ]
    );
    assert!(t.contains("last notification:  received Cease / Administrative Reset (6/4)"));
    assert!(
        t.contains("    198.51.100.1:179         announced 198.51.100.3"),
        "{t}"
    );
}

#[test]
fn json_has_the_same_facts() {
    let j: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
    assert_eq!(j["peers"][0]["state"], "Established");
    assert_eq!(j["peers"][0]["prefixes_sent"][0]["count"], 1);
    assert_eq!(j["peers"][0]["notifications"][0]["code"], 6);
    assert_eq!(j["vips"][0]["peers"][0]["sent"][0], "198.51.100.3");
    assert!(j["peers"][0].get("vips").is_none());
}

#[test]
fn vip_states() {
    assert_eq!(vip_state(0, 0, true), "not offered");
    assert_eq!(vip_state(2, 0, false), "waiting for session");
    assert_eq!(vip_state(2, 0, true), "withheld");
    assert_eq!(vip_state(2, 1, true), "partly announced");
    assert_eq!(vip_state(2, 2, true), "announced");
}
