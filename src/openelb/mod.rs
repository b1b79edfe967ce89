//! OpenELB's objects (`network.kubesphere.io`, v1alpha2 and v1alpha1) read
//! as leafvip's own settings, unchanged: a user's existing BgpPeers and
//! BgpConf work as they are. Pure: a spec in, the settings or the field
//! that is wrong out (`spec.timers.config.holdTime "2": must be 0 or at
//! least 3`). Fields leafvip does not use are kept by the API server and
//! listed by [`unused`], for the caller to log once.
mod conf;
mod peer;

use crate::labels::{LabelSelector, Operator, Requirement};
pub use conf::{bgp_conf, USED as CONF_USED};
pub use peer::{bgp_peer, USED as PEER_USED};
use serde_json::Value;

/// An object that cannot be used: its kind and name, and the first field
/// that is wrong (`spec.timers.config.holdTime "2": must be 0 or at least
/// 3`). The problem is text: it goes to the log and into a Warning Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectError {
    pub kind: &'static str,
    pub name: String,
    pub problem: String,
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.kind, self.name, self.problem)
    }
}

impl std::error::Error for ObjectError {}

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

fn ip<T: std::str::FromStr>(v: &Value, field: &str) -> Result<Option<T>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("{field} {}: not an IP address", crate::quote::quoted(s))),
        other => Err(format!("{field}: an address, not {other}")),
    }
}

/// A Kubernetes LabelSelector (matchLabels, matchExpressions) at `field`.
pub fn label_selector(v: &Value, field: &str) -> Result<LabelSelector, String> {
    let mut s = LabelSelector::default();
    if let Some(m) = v["matchLabels"].as_object() {
        for (k, val) in m {
            let val = val
                .as_str()
                .ok_or(format!("{field}.matchLabels: values are strings"))?;
            s.match_labels.insert(k.clone(), val.to_string());
        }
    }
    for (i, e) in v["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("{field}.matchExpressions[{i}]");
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
    s.validate().map_err(|e| format!("{field}: {e}"))?;
    Ok(s)
}

/// Every field under `spec` that leafvip does not read, as a path
/// (`spec.conf.localAs`, `spec.afiSafis[].mpGracefulRestart`), given the
/// paths it reads. A used path covers everything below it.
pub fn unused(spec: &Value, used: &[&str]) -> Vec<String> {
    fn walk(v: &Value, path: &mut String, used: &[&str], out: &mut Vec<String>) {
        if used.contains(&path.as_str()) {
            return;
        }
        let covers = |p: &str| used.iter().any(|u| u.starts_with(p));
        match v {
            Value::Object(m) if covers(path) => {
                for (k, child) in m {
                    let at = path.len();
                    path.push('.');
                    path.push_str(k);
                    walk(child, path, used, out);
                    path.truncate(at);
                }
            }
            Value::Array(a) if covers(&format!("{path}[]")) => {
                let at = path.len();
                path.push_str("[]");
                for child in a {
                    walk(child, path, used, out);
                }
                path.truncate(at);
            }
            _ => {
                if !out.contains(path) {
                    out.push(path.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(spec, &mut "spec".to_string(), used, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unused_fields_are_listed_by_path_once() {
        let spec = json!({"conf": {"peerAs": 1, "localAs": 2},
                          "afiSafis": [{"config": {"family": {}}, "mpGracefulRestart": {}},
                                       {"mpGracefulRestart": {"config": {}}}],
                          "nodeSelector": {"matchLabels": {"a": "b"}},
                          "future": true});
        let used = [
            "spec.conf.peerAs",
            "spec.afiSafis[].config",
            "spec.nodeSelector",
        ];
        assert_eq!(
            unused(&spec, &used),
            [
                "spec.afiSafis[].mpGracefulRestart",
                "spec.conf.localAs",
                "spec.future"
            ]
        );
    }
}
