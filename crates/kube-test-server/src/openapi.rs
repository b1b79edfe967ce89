//! Just enough OpenAPI v3 for kubectl's validation: the root lists one
//! document per group-version, and each document has a PATCH operation
//! per kind that takes the `fieldValidation` query parameter. kubectl then
//! leaves validation to the server (`fieldValidation=Strict`), which this
//! one, holding no schemas, accepts as it is; nothing is checked here.
use crate::api::KINDS;
use serde_json::{json, Map, Value};

fn gv_path(group: &str, version: &str) -> String {
    match group {
        "" => format!("api/{version}"),
        g => format!("apis/{g}/{version}"),
    }
}

/// `/openapi/v3` and `/openapi/v3/api/v1`, `/openapi/v3/apis/G/V`.
pub fn v3(path: &str) -> Option<Value> {
    let rest = path.strip_prefix("/openapi/v3")?.trim_matches('/');
    if rest.is_empty() {
        let mut paths = Map::new();
        for k in KINDS {
            for v in k.versions {
                let p = gv_path(k.group, v);
                let url = format!("/openapi/v3/{p}?hash=0");
                paths.insert(p, json!({"serverRelativeURL": url}));
            }
        }
        return Some(json!({"paths": paths}));
    }
    let mut paths = Map::new();
    for k in KINDS {
        for v in k.versions.iter().filter(|v| gv_path(k.group, v) == rest) {
            let ns = if k.namespaced {
                "namespaces/{namespace}/"
            } else {
                ""
            };
            paths.insert(
                format!("/{rest}/{ns}{}/{{name}}", k.resource),
                json!({"patch": {
                    "x-kubernetes-group-version-kind":
                        {"group": k.group, "version": v, "kind": k.kind},
                    "parameters": [
                        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "OK"}}
                }}),
            );
        }
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "kube-test-server", "version": "v0"},
        "paths": paths
    }))
}
