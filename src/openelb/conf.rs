//! The BgpConf named `default` read as the cluster's global BGP settings
//! ([`crate::global::ClusterConf`]); v1alpha1's `routerID`/`router-id` and
//! `port` are read too.
use super::{ip, small};
use crate::global::{reserved_asn, ClusterConf};
use crate::labels::check_value;
use serde_json::Value;

/// The fields leafvip reads, for [`super::unused`]; both shapes.
pub const USED: &[&str] = &[
    "spec.as",
    "spec.asPerRack",
    "spec.routerId",
    "spec.listenPort",
    "spec.listenAddresses",
    "spec.gracefulRestart.enabled",
    "spec.gracefulRestart.restartTime",
    // v1alpha1
    "spec.routerID",
    "spec.router-id",
    "spec.port",
];

/// The BgpConf `default`'s spec as the cluster's global settings.
pub fn bgp_conf(spec: &Value) -> Result<ClusterConf, super::ObjectError> {
    read(spec).map_err(|problem| super::ObjectError {
        kind: "BgpConf",
        name: "default".into(),
        problem,
    })
}

fn asn(v: &Value, field: &str) -> Result<Option<u32>, String> {
    match small::<u32>(v, field)? {
        Some(a) if reserved_asn(a) => Err(format!("{field} {a}: reserved")),
        // 0 is what an unset Go field serialises to.
        a => Ok(a.filter(|a| *a != 0)),
    }
}

fn read(spec: &Value) -> Result<ClusterConf, String> {
    let mut as_per_rack = std::collections::BTreeMap::new();
    if let Some(m) = spec["asPerRack"].as_object() {
        for (rack, a) in m {
            let field = format!("spec.asPerRack[{}]", crate::quote::quoted(rack));
            check_value(rack).map_err(|e| format!("{field}: {e}"))?;
            if let Some(a) = asn(a, &field)? {
                as_per_rack.insert(rack.clone(), a);
            }
        }
    } else if !spec["asPerRack"].is_null() {
        return Err("spec.asPerRack: a map of rack name to AS".into());
    }
    let (router_id, rid_field) = ["routerId", "routerID", "router-id"]
        .iter()
        .find(|k| !spec[**k].is_null())
        .map_or((&Value::Null, "spec.routerId".to_string()), |k| {
            (&spec[*k], format!("spec.{k}"))
        });
    let router_id: Option<std::net::Ipv4Addr> = ip(router_id, &rid_field)?;
    if router_id.is_some_and(|r| r.is_unspecified()) {
        return Err(format!("{rid_field} 0.0.0.0: not a valid router ID"));
    }
    // GoBGP, which OpenELB drives, takes a negative listenPort for "do not
    // listen"; v1alpha1 called it `port`.
    let port_field = if spec["listenPort"].is_null() {
        "port"
    } else {
        "listenPort"
    };
    let listen_port = match &spec[port_field] {
        Value::Number(n) if n.as_i64().is_some_and(|p| p <= 0) => None,
        v => small::<u16>(v, &format!("spec.{port_field}"))?,
    };
    let listen_addresses = spec["listenAddresses"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| {
            ip(a, &format!("spec.listenAddresses[{i}]"))?
                .ok_or(format!("spec.listenAddresses[{i}]: empty"))
        })
        .collect::<Result<_, _>>()?;
    let gr = &spec["gracefulRestart"];
    let graceful_restart = match gr["enabled"].as_bool() {
        _ if gr.is_null() => None,
        Some(true) => Some(
            small::<u16>(&gr["restartTime"], "spec.gracefulRestart.restartTime")?
                .filter(|t| *t != 0)
                .unwrap_or(crate::config::DEFAULT_RESTART_TIME),
        ),
        _ => Some(0),
    };
    if graceful_restart.is_some_and(|t| t > 4095) {
        return Err("spec.gracefulRestart.restartTime: at most 4095 seconds".into());
    }
    Ok(ClusterConf {
        asn: asn(&spec["as"], "spec.as")?,
        as_per_rack,
        router_id,
        listen_port,
        listen_addresses,
        graceful_restart,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_openelb_bgp_conf_reads_as_the_global_settings() {
        let spec = json!({"as": 65100, "asPerRack": {"leaf2": 65200},
                          "routerId": "198.51.100.3", "listenPort": 17900,
                          "listenAddresses": ["198.51.100.3", "2001:db8::3"],
                          "gracefulRestart": {"enabled": true, "restartTime": 90},
                          "families": [1]});
        let c = bgp_conf(&spec).unwrap();
        assert_eq!(c.asn, Some(65100));
        assert_eq!(c.as_per_rack["leaf2"], 65200);
        assert_eq!(c.router_id.unwrap().to_string(), "198.51.100.3");
        assert_eq!(c.listen_port, Some(17900));
        assert_eq!(c.listen_addresses.len(), 2);
        assert_eq!(c.graceful_restart, Some(90));
        assert_eq!(super::super::unused(&spec, USED), ["spec.families"]);
        let off = bgp_conf(&json!({"as": 1, "listenPort": -1,
                                   "gracefulRestart": {"enabled": false}}))
        .unwrap();
        assert_eq!((off.listen_port, off.graceful_restart), (None, Some(0)));
        let v1 = bgp_conf(&json!({"as": 1, "router-id": "198.51.100.4", "port": 179})).unwrap();
        assert_eq!(v1.router_id.unwrap().to_string(), "198.51.100.4");
        assert_eq!(v1.listen_port, Some(179));
        let empty = bgp_conf(&json!({"routerId": ""})).unwrap();
        assert_eq!((empty.asn, empty.router_id), (None, None));
    }

    #[test]
    fn errors_name_the_field() {
        let e = |v| bgp_conf(&v).unwrap_err().to_string();
        assert_eq!(
            e(json!({"as": 23456})),
            "BgpConf default: spec.as 23456: reserved"
        );
        assert_eq!(
            e(json!({"routerId": "leaf"})),
            "BgpConf default: spec.routerId \"leaf\": not an IP address"
        );
        assert!(e(json!({"listenPort": 70000})).contains("spec.listenPort 70000: too large"));
        assert!(e(json!({"asPerRack": {"leaf2": "x"}}))
            .contains("spec.asPerRack[\"leaf2\"] \"x\": not a whole number"));
    }
}
