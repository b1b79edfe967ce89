//! OpenELB's BgpPeer objects (`network.kubesphere.io`, v1alpha2 and
//! v1alpha1) read as leafvip peers, unchanged: a user's existing objects
//! work as they are. Pure: a spec in, a `PeerConfig` or the field that is
//! wrong out (`spec.timers.config.holdTime "2": must be 0 or at least 3`).
//! Fields leafvip does not use are kept by the API and ignored here.
use crate::config::{FamilyName, PeerConfig};
use crate::labels::{LabelSelector, Operator, Requirement};
use leafvip_bgp::wire::Family;
use serde_json::Value;

/// A number that OpenELB may store as a string ("90") or as a number.
fn number(v: &Value, field: &str) -> Result<Option<u64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{field} {n}: not a whole number")),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{field} {}: not a whole number", crate::quote::quoted(s))),
        other => Err(format!("{field}: a number, not {other}")),
    }
}

fn small<T: TryFrom<u64>>(v: &Value, field: &str) -> Result<Option<T>, String> {
    number(v, field)?
        .map(|n| T::try_from(n).map_err(|_| format!("{field} {n}: too large")))
        .transpose()
}

fn selector(v: &Value) -> Result<Option<LabelSelector>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let mut s = LabelSelector::default();
    if let Some(m) = v["matchLabels"].as_object() {
        for (k, val) in m {
            let val = val
                .as_str()
                .ok_or("spec.nodeSelector.matchLabels: values are strings")?;
            s.match_labels.insert(k.clone(), val.to_string());
        }
    }
    for (i, e) in v["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("spec.nodeSelector.matchExpressions[{i}]");
        let operator = match e["operator"].as_str() {
            Some("In") => Operator::In,
            Some("NotIn") => Operator::NotIn,
            Some("Exists") => Operator::Exists,
            Some("DoesNotExist") => Operator::DoesNotExist,
            other => {
                return Err(format!(
                    "{field}.operator {other:?}: In, NotIn, Exists or DoesNotExist"
                ))
            }
        };
        let values = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or(format!("{field}.values: strings"))
            })
            .collect::<Result<_, _>>()?;
        let key = e["key"]
            .as_str()
            .ok_or(format!("{field}.key: required"))?
            .to_string();
        s.match_expressions.push(Requirement {
            key,
            operator,
            values,
        });
    }
    s.validate()
        .map_err(|e| format!("spec.nodeSelector: {e}"))?;
    Ok(Some(s))
}

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
pub fn bgp_peer(name: &str, spec: &Value) -> Result<PeerConfig, String> {
    let fail = |e: String| format!("BgpPeer {name}: {e}");
    let conf = &spec["conf"];
    let address = conf["neighborAddress"]
        .as_str()
        .ok_or("spec.conf.neighborAddress: required".to_string())
        .and_then(|a| {
            a.parse().map_err(|_| {
                format!(
                    "spec.conf.neighborAddress {}: not an IP address",
                    crate::quote::quoted(a)
                )
            })
        })
        .map_err(fail)?;
    let asn = small::<u32>(&conf["peerAs"], "spec.conf.peerAs")
        .and_then(|a| a.ok_or("spec.conf.peerAs: required".to_string()))
        .map_err(fail)?;
    let timers = &spec["timers"]["config"];
    let hold_time =
        small::<u16>(&timers["holdTime"], "spec.timers.config.holdTime").map_err(fail)?;
    let keepalive = small::<u16>(
        &timers["keepaliveInterval"],
        "spec.timers.config.keepaliveInterval",
    )
    .map_err(fail)?;
    let connect_retry =
        small::<u16>(&timers["connectRetry"], "spec.timers.config.connectRetry").map_err(fail)?;
    if let Some(h) = hold_time.filter(|h| *h != 0 && *h < 3) {
        return Err(fail(format!(
            "spec.timers.config.holdTime \"{h}\": must be 0 or at least 3"
        )));
    }
    let (mut families, send_max) = families(&spec["afiSafis"]).map_err(fail)?;
    if families.is_empty() {
        families = vec![
            FamilyName(Family::IPV4_UNICAST),
            FamilyName(Family::IPV6_UNICAST),
        ];
    }
    let peer = PeerConfig {
        address,
        asn,
        port: small::<u16>(
            &spec["transport"]["remotePort"],
            "spec.transport.remotePort",
        )
        .map_err(fail)?
        .unwrap_or(179),
        local_address: None,
        hold_time: hold_time.unwrap_or(90),
        keepalive,
        connect_retry,
        passive: spec["transport"]["passiveMode"].as_bool().unwrap_or(false),
        ebgp_multihop: small::<u8>(
            &spec["ebgpMultihop"]["config"]["multihopTtl"],
            "spec.ebgpMultihop.config.multihopTtl",
        )
        .map_err(fail)?
        .filter(|_| {
            spec["ebgpMultihop"]["config"]["enabled"]
                .as_bool()
                .unwrap_or(false)
        }),
        ttl_security: None,
        password_file: None,
        // OpenELB keeps the key in the object; leafvip takes it from there.
        md5_key: None,
        families,
        add_paths_send_max: send_max.unwrap_or(16),
        description: Some(format!("BgpPeer {name}")),
        node_selector: selector(&spec["nodeSelector"]).map_err(fail)?,
    };
    if spec["conf"]["authPassword"]
        .as_str()
        .is_some_and(|p| !p.is_empty())
    {
        return Err(fail(
            "spec.conf.authPassword: TCP MD5 from a BgpPeer is not supported yet".into(),
        ));
    }
    Ok(peer)
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
            bgp_peer("leaf1", &bad).unwrap_err(),
            "BgpPeer leaf1: spec.timers.config.holdTime \"2\": must be 0 or at least 3"
        );
        let bad = json!({"conf": {"neighborAddress": "leaf", "peerAs": 65001}});
        assert!(bgp_peer("x", &bad)
            .unwrap_err()
            .contains("spec.conf.neighborAddress \"leaf\""));
        let bad = json!({"conf": {"neighborAddress": "198.51.100.1"}});
        assert!(bgp_peer("x", &bad)
            .unwrap_err()
            .ends_with("spec.conf.peerAs: required"));
    }
}
