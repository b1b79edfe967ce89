//! Byte vectors captured from real BIRD 2, FRR and GoBGP sessions (see
//! tests/vectors/README.md for how). Each decodes under the context its
//! session negotiated and encodes back to exactly the captured bytes.
mod common;
use leafvip_bgp::session::negotiate::{negotiate, peer_accepts_add_path};
use leafvip_bgp::session::SessionConfig;
use leafvip_bgp::wire::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

struct Vector {
    path: PathBuf,
    meta: BTreeMap<String, String>,
    bytes: Vec<u8>,
}

impl Vector {
    fn ctx(&self) -> Context {
        let add_path = self.meta["add-path-rx"]
            .split(',')
            .filter_map(|f| match f.trim() {
                "ipv4-unicast" => Some(Family::IPV4_UNICAST),
                "ipv6-unicast" => Some(Family::IPV6_UNICAST),
                _ => None,
            })
            .collect();
        Context {
            four_octet_as: self.meta["four-octet-as"] == "yes",
            add_path,
            extended_messages: self.meta["extended-messages"] == "yes",
        }
    }

    fn name(&self) -> String {
        self.path.strip_prefix(dir()).unwrap().display().to_string()
    }
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for sender in ["bird2", "frr", "gobgp"] {
        let mut files: Vec<PathBuf> = fs::read_dir(dir().join(sender))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        {
            let text = fs::read_to_string(&path).unwrap();
            let meta = text
                .lines()
                .filter_map(|l| l.strip_prefix("# "))
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            out.push(Vector {
                bytes: common::hex(&text),
                meta,
                path,
            });
        }
    }
    out
}

fn kind_name(m: &Message) -> &'static str {
    match m {
        Message::Open(_) => "open",
        Message::Update(_) => "update",
        Message::Notification(_) => "notification",
        Message::Keepalive => "keepalive",
        Message::RouteRefresh(_) => "route-refresh",
    }
}

#[test]
fn every_captured_message_decodes_and_reencodes_byte_for_byte() {
    let all = vectors();
    assert!(all.len() >= 45, "vectors missing: {}", all.len());
    let mut kinds: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for v in &all {
        let ctx = v.ctx();
        let msg = Message::parse(&v.bytes, &ctx).unwrap_or_else(|e| panic!("{}: {e:?}", v.name()));
        assert_eq!(kind_name(&msg), v.meta["kind"], "{}", v.name());
        assert_eq!(
            msg.to_bytes(&ctx).unwrap(),
            v.bytes,
            "{} re-encodes",
            v.name()
        );
        let sender = v.name().split('/').next().unwrap().to_string();
        *kinds.entry((sender, kind_name(&msg))).or_default() += 1;
        if let Message::Update(u) = &msg {
            // No captured UPDATE is broken; iBGP ones carry LOCAL_PREF.
            let ibgp = u.attribute(attr_code::LOCAL_PREF).is_some();
            let first = match u.attribute(attr_code::AS_PATH) {
                Some(AttrValue::AsPath(p)) => p.first_as().unwrap_or(0),
                _ => 0,
            };
            let v7606 = u.review(ibgp, first);
            assert_eq!(v7606.action(), Revision::Accept, "{}: {v7606:?}", v.name());
        }
    }
    for sender in ["bird2", "frr", "gobgp"] {
        for kind in ["open", "update", "notification", "keepalive"] {
            assert!(
                kinds.contains_key(&(sender.to_string(), kind)),
                "{sender} has no {kind}"
            );
        }
    }
}

fn find(sender: &str, stem: &str) -> Vector {
    vectors()
        .into_iter()
        .find(|v| v.name().starts_with(&format!("{sender}/{stem}")))
        .expect(stem)
}

#[test]
fn shutdown_communications_from_each_router_decode_to_text() {
    for (sender, stem) in [("bird2", "18-"), ("frr", "18-"), ("gobgp", "15-")] {
        let v = find(sender, stem);
        let Ok(Message::Notification(n)) = Message::parse(&v.bytes, &v.ctx()) else {
            panic!("{}", v.name())
        };
        assert_eq!((n.code, n.subcode), (6, 2), "{}", v.name());
        let text = n
            .shutdown_message()
            .unwrap_or_else(|| panic!("{}: no text", v.name()));
        assert!(!text.is_empty());
    }
}

#[test]
fn real_opens_negotiate_with_leafvip() {
    for (sender, stem) in [("bird2", "01-"), ("frr", "01-"), ("gobgp", "01-")] {
        let v = find(sender, stem);
        let Ok(Message::Open(open)) = Message::parse(&v.bytes, &Context::default()) else {
            panic!()
        };
        let cfg = SessionConfig {
            add_path_send: FamilySet::BOTH,
            ..SessionConfig::new(65100, open.asn(), "198.51.100.99".parse().unwrap())
        };
        let local = leafvip_bgp::session::negotiate::local_open(&cfg);
        let n = negotiate(&cfg, &local, &open).unwrap_or_else(|e| panic!("{}: {e}", v.name()));
        assert!(
            n.families.contains(Family::IPV4_UNICAST) && n.families.contains(Family::IPV6_UNICAST),
            "{}",
            v.name()
        );
        assert!(n.four_octet_as && n.route_refresh);
        assert!(
            peer_accepts_add_path(&open, Family::IPV4_UNICAST),
            "{} offers ADD-PATH receive",
            v.name()
        );
        assert_eq!(n.add_path_send, FamilySet::BOTH, "{}", v.name());
    }
}
