//! A BgpPeer (v1alpha2 `spec.conf`, or v1alpha1's older `spec.config`
//! shape) read as a leafvip peer.
use super::{ip, small};
use crate::config::{FamilyName, PeerConfig};
use crate::keys::Md5Key;
use leafvip_bgp::wire::Family;
use serde_json::Value;

/// The fields leafvip reads, for [`super::unused`]; both shapes.
pub const USED: &[&str] = &[
    "spec.conf.neighborAddress",
    "spec.conf.peerAs",
    "spec.conf.authPassword",
    "spec.conf.description",
    "spec.timers.config.holdTime",
    "spec.timers.config.keepaliveInterval",
    "spec.timers.config.connectRetry",
    "spec.transport.passiveMode",
    "spec.transport.remotePort",
    "spec.ebgpMultihop.enabled",
    "spec.ebgpMultihop.multihopTtl",
    "spec.afiSafis[].config.family.afi",
    "spec.afiSafis[].config.family.safi",
    "spec.afiSafis[].config.enabled",
    "spec.afiSafis[].addPaths.config.sendMax",
    "spec.nodeSelector",
    // v1alpha1
    "spec.config.neighborAddress",
    "spec.config.peerAs",
    "spec.addPaths.sendMax",
];

fn families(v: &Value) -> Result<(Vec<FamilyName>, Option<u8>), String> {
    let mut out = Vec::new();
    let mut send_max = None;
    for (i, a) in v.as_array().into_iter().flatten().enumerate() {
        let field = format!("spec.afiSafis[{i}]");
        let f = &a["config"]["family"];
        let family = match (f["afi"].as_str(), f["safi"].as_str()) {
            (Some("AFI_IP"), Some("SAFI_UNICAST")) => Family::IPV4_UNICAST,
            (Some("AFI_IP6"), Some("SAFI_UNICAST")) => Family::IPV6_UNICAST,
            (afi, safi) => {
                return Err(format!(
                    "{field}.config.family {afi:?}/{safi:?}: AFI_IP or AFI_IP6 with SAFI_UNICAST"
                ))
            }
        };
        out.push(FamilyName(family));
        if let Some(m) = small::<u8>(
            &a["addPaths"]["config"]["sendMax"],
            &format!("{field}.addPaths.config.sendMax"),
        )? {
            send_max = Some(send_max.map_or(m, |s: u8| s.max(m)));
        }
    }
    Ok((out, send_max))
}

/// A BgpPeer's spec as a leafvip peer. `name` names it in errors.
pub fn bgp_peer(name: &str, spec: &Value) -> Result<PeerConfig, super::ObjectError> {
    read(spec).map_err(|problem| super::ObjectError {
        kind: "BgpPeer",
        name: name.into(),
        problem,
    })
}

fn read(spec: &Value) -> Result<PeerConfig, String> {
    // v1alpha1 kept the neighbour under `config` and ADD-PATH at the top.
    let (conf, at) = match (&spec["conf"], &spec["config"]) {
        (Value::Null, c @ Value::Object(_)) => (c, "spec.config"),
        (c, _) => (c, "spec.conf"),
    };
    let address: std::net::IpAddr = ip(&conf["neighborAddress"], &format!("{at}.neighborAddress"))?
        .ok_or(format!("{at}.neighborAddress: required"))?;
    let asn = small::<u32>(&conf["peerAs"], &format!("{at}.peerAs"))?
        .ok_or(format!("{at}.peerAs: required"))?;
    let timers = &spec["timers"]["config"];
    let hold_time = small::<u16>(&timers["holdTime"], "spec.timers.config.holdTime")?;
    let keepalive = small::<u16>(
        &timers["keepaliveInterval"],
        "spec.timers.config.keepaliveInterval",
    )?;
    let connect_retry = small::<u16>(&timers["connectRetry"], "spec.timers.config.connectRetry")?;
    if let Some(h) = hold_time.filter(|h| *h != 0 && *h < 3) {
        return Err(format!(
            "spec.timers.config.holdTime \"{h}\": must be 0 or at least 3"
        ));
    }
    let (mut families, mut send_max) = families(&spec["afiSafis"])?;
    if let Some(m) = small::<u8>(&spec["addPaths"]["sendMax"], "spec.addPaths.sendMax")? {
        send_max = Some(m);
    }
    if families.is_empty() {
        // As GoBGP, which OpenELB drives: the neighbour address's family.
        families = vec![FamilyName(match address {
            std::net::IpAddr::V4(_) => Family::IPV4_UNICAST,
            std::net::IpAddr::V6(_) => Family::IPV6_UNICAST,
        })];
    }
    let multihop = &spec["ebgpMultihop"];
    let md5_key = match conf["authPassword"].as_str().filter(|p| !p.is_empty()) {
        Some(p) => Some(
            Md5Key::new(p.as_bytes().to_vec()).map_err(|e| format!("{at}.authPassword: {e}"))?,
        ),
        None => None,
    };
    Ok(PeerConfig {
        address,
        asn,
        port: small::<u16>(
            &spec["transport"]["remotePort"],
            "spec.transport.remotePort",
        )?
        .filter(|p| *p != 0)
        .unwrap_or(179),
        local_address: None,
        hold_time: hold_time.unwrap_or(90),
        keepalive,
        connect_retry,
        passive: spec["transport"]["passiveMode"].as_bool().unwrap_or(false),
        ebgp_multihop: small::<u8>(&multihop["multihopTtl"], "spec.ebgpMultihop.multihopTtl")?
            .filter(|_| multihop["enabled"].as_bool().unwrap_or(false)),
        ttl_security: None,
        password_file: None,
        // OpenELB keeps the key in the object (spec.conf.authPassword).
        md5_key,
        families,
        add_paths_send_max: send_max.unwrap_or(16),
        description: conf["description"].as_str().map(str::to_string),
        node_selector: match &spec["nodeSelector"] {
            Value::Null => None,
            v => Some(super::label_selector(v, "spec.nodeSelector")?),
        },
        // OpenELB's BgpPeer has no BFD settings.
        bfd: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_openelb_bgp_peer_reads_as_a_peer() {
        let spec = json!({
            "conf": {"neighborAddress": "198.51.100.1", "peerAs": 65001},
            "timers": {"config": {"holdTime": "9", "keepaliveInterval": "3", "connectRetry": "1"}},
            "transport": {"remotePort": 179},
            "afiSafis": [{"config": {"family": {"afi": "AFI_IP", "safi": "SAFI_UNICAST"}},
                          "addPaths": {"config": {"sendMax": 8}}}],
            "nodeSelector": {"matchLabels": {"rack": "leaf1"}},
            "someFutureField": {"kept": "by the API, ignored here"}
        });
        let p = bgp_peer("leaf1", &spec).unwrap();
        assert_eq!(p.address.to_string(), "198.51.100.1");
        assert_eq!(
            (p.asn, p.hold_time, p.keepalive, p.connect_retry),
            (65001, 9, Some(3), Some(1))
        );
        assert_eq!(p.families, vec![FamilyName(Family::IPV4_UNICAST)]);
        assert_eq!(p.add_paths_send_max, 8);
        assert_eq!(p.node_selector.unwrap().match_labels["rack"], "leaf1");
    }

    #[test]
    fn errors_name_the_object_and_the_field() {
        let bad = json!({"conf": {"neighborAddress": "198.51.100.1", "peerAs": 65001},
                         "timers": {"config": {"holdTime": "2"}}});
        assert_eq!(
            bgp_peer("leaf1", &bad).unwrap_err().to_string(),
            "BgpPeer leaf1: spec.timers.config.holdTime \"2\": must be 0 or at least 3"
        );
        let bad = json!({"conf": {"neighborAddress": "leaf", "peerAs": 65001}});
        assert!(bgp_peer("x", &bad)
            .unwrap_err()
            .to_string()
            .contains("spec.conf.neighborAddress \"leaf\""));
        let bad = json!({"conf": {"neighborAddress": "198.51.100.1"}});
        assert!(bgp_peer("x", &bad)
            .unwrap_err()
            .to_string()
            .ends_with("spec.conf.peerAs: required"));
        let bad = json!({"conf": {"neighborAddress": "198.51.100.1", "peerAs": 1,
                                  "authPassword": "x".repeat(81)}});
        assert!(bgp_peer("x", &bad)
            .unwrap_err()
            .to_string()
            .contains("spec.conf.authPassword: a TCP MD5 key is 1 to 80 bytes"));
    }

    #[test]
    fn the_v1alpha1_shape_and_the_key_are_read() {
        let old = json!({"config": {"neighborAddress": "2001:db8::1", "peerAs": 65001},
                         "addPaths": {"sendMax": 4},
                         "transport": {"passiveMode": true, "remotePort": 1790},
                         "usingPortForward": false});
        let p = bgp_peer("old", &old).unwrap();
        assert_eq!((p.asn, p.port, p.passive), (65001, 1790, true));
        assert_eq!(p.add_paths_send_max, 4);
        assert_eq!(p.families, vec![FamilyName(Family::IPV6_UNICAST)]);
        assert_eq!(super::super::unused(&old, USED), ["spec.usingPortForward"]);
        let keyed = json!({"conf": {"neighborAddress": "198.51.100.1", "peerAs": 65001,
                                    "authPassword": "s3cret"},
                           "ebgpMultihop": {"enabled": true, "multihopTtl": 3}});
        let p = bgp_peer("keyed", &keyed).unwrap();
        assert_eq!(p.md5_key.unwrap().bytes(), b"s3cret");
        assert_eq!(p.ebgp_multihop, Some(3));
        assert_eq!(p.families, vec![FamilyName(Family::IPV4_UNICAST)]);
    }
}
