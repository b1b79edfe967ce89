//! The resources served, discovery documents, and what each verb does.
use crate::http::Request;
use crate::store::{self, Key};
use serde_json::{json, Value};

/// One resource the server knows.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub group: &'static str,
    pub versions: &'static [&'static str],
    pub resource: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short: &'static [&'static str],
    pub status: bool,
}

const fn kind(
    group: &'static str,
    versions: &'static [&'static str],
    resource: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Kind {
    Kind {
        group,
        versions,
        resource,
        singular,
        kind,
        namespaced,
        short: &[],
        status: false,
    }
}

/// Kubernetes core kinds leafvip reads or its manifests create, and
/// OpenELB's CRDs (cluster-scoped, v1alpha2 stored, v1alpha1 served).
pub const KINDS: &[Kind] = &[
    Kind {
        short: &["no"],
        status: true,
        ..kind("", &["v1"], "nodes", "node", "Node", false)
    },
    Kind {
        short: &["ns"],
        ..kind("", &["v1"], "namespaces", "namespace", "Namespace", false)
    },
    Kind {
        short: &["ev"],
        ..kind("", &["v1"], "events", "event", "Event", true)
    },
    Kind {
        short: &["sa"],
        ..kind(
            "",
            &["v1"],
            "serviceaccounts",
            "serviceaccount",
            "ServiceAccount",
            true,
        )
    },
    Kind {
        short: &["cm"],
        ..kind("", &["v1"], "configmaps", "configmap", "ConfigMap", true)
    },
    Kind {
        short: &["svc"],
        status: true,
        ..kind("", &["v1"], "services", "service", "Service", true)
    },
    kind(
        "discovery.k8s.io",
        &["v1"],
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        true,
    ),
    kind(
        "coordination.k8s.io",
        &["v1"],
        "leases",
        "lease",
        "Lease",
        true,
    ),
    Kind {
        status: true,
        ..kind("events.k8s.io", &["v1"], "events", "event", "Event", true)
    },
    Kind {
        short: &["ds"],
        status: true,
        ..kind(
            "apps",
            &["v1"],
            "daemonsets",
            "daemonset",
            "DaemonSet",
            true,
        )
    },
    kind(
        "rbac.authorization.k8s.io",
        &["v1"],
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        false,
    ),
    kind(
        "rbac.authorization.k8s.io",
        &["v1"],
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        false,
    ),
    kind(
        "rbac.authorization.k8s.io",
        &["v1"],
        "roles",
        "role",
        "Role",
        true,
    ),
    kind(
        "rbac.authorization.k8s.io",
        &["v1"],
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        true,
    ),
    Kind {
        short: &["crd", "crds"],
        status: true,
        ..kind(
            "apiextensions.k8s.io",
            &["v1"],
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            false,
        )
    },
    Kind {
        status: true,
        ..kind(
            "network.kubesphere.io",
            &["v1alpha2", "v1alpha1"],
            "bgpconfs",
            "bgpconf",
            "BgpConf",
            false,
        )
    },
    Kind {
        status: true,
        ..kind(
            "network.kubesphere.io",
            &["v1alpha2", "v1alpha1"],
            "bgppeers",
            "bgppeer",
            "BgpPeer",
            false,
        )
    },
    Kind {
        status: true,
        ..kind(
            "network.kubesphere.io",
            &["v1alpha2", "v1alpha1"],
            "eips",
            "eip",
            "Eip",
            false,
        )
    },
];

pub fn api_version(k: &Kind, version: &str) -> String {
    if k.group.is_empty() {
        version.to_string()
    } else {
        format!("{}/{version}", k.group)
    }
}

/// A Status object, as the API answers errors.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code
    })
}

/// The discovery documents: `/api`, `/apis`, `/api/v1`, `/apis/G/V`.
pub fn discovery(path: &str, server: &str) -> Option<Value> {
    let groups = || {
        let mut names: Vec<&str> = KINDS
            .iter()
            .map(|k| k.group)
            .filter(|g| !g.is_empty())
            .collect();
        names.dedup();
        names.sort_unstable();
        names.dedup();
        names
    };
    let resources = |group: &str, version: &str| {
        let mut out = Vec::new();
        for k in KINDS
            .iter()
            .filter(|k| k.group == group && k.versions.contains(&version))
        {
            out.push(json!({
                "name": k.resource, "singularName": k.singular, "namespaced": k.namespaced,
                "kind": k.kind, "shortNames": k.short,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]
            }));
            if k.status {
                out.push(json!({
                    "name": format!("{}/status", k.resource), "singularName": "",
                    "namespaced": k.namespaced, "kind": k.kind, "verbs": ["get", "patch", "update"]
                }));
            }
        }
        out
    };
    match path.trim_end_matches('/') {
        "/api" => Some(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}]
        })),
        "/apis" => {
            let list: Vec<Value> = groups()
                .into_iter()
                .map(|g| {
                    let k = KINDS
                        .iter()
                        .find(|k| k.group == g)
                        .expect("a kind of the group");
                    let versions: Vec<Value> = k
                        .versions
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list}))
        }
        "/api/v1" => Some(json!({
            "kind": "APIResourceList", "groupVersion": "v1", "resources": resources("", "v1")
        })),
        "/version" => Some(json!({
            "major": "1", "minor": "29", "gitVersion": "v1.29.0-leafvip-test",
            "platform": "linux/amd64"
        })),
        p => {
            let rest = p.strip_prefix("/apis/")?;
            let (g, v) = rest.split_once('/')?;
            if v.contains('/')
                || !KINDS
                    .iter()
                    .any(|k| k.group == g && k.versions.contains(&v))
            {
                return None;
            }
            Some(json!({
                "kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": format!("{g}/{v}"), "resources": resources(g, v)
            }))
        }
    }
}

/// A request for objects, parsed from its path.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: Kind,
    pub version: String,
    pub namespace: String,
    pub name: Option<String>,
    pub status: bool,
}

impl Target {
    pub fn key(&self, name: &str) -> Key {
        (
            self.kind.group.to_string(),
            self.kind.resource.to_string(),
            self.namespace.clone(),
            name.to_string(),
        )
    }
}

/// `/api/v1/[namespaces/NS/]RESOURCE[/NAME[/status]]` and the same under
/// `/apis/GROUP/VERSION/`.
pub fn target(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, r, more @ ..] => (*ns, {
            let mut v = vec![*r];
            v.extend_from_slice(more);
            v
        }),
        r => ("", r.to_vec()),
    };
    let resource = *rest.first()?;
    let kind = *KINDS
        .iter()
        .find(|k| k.group == group && k.resource == resource && k.versions.contains(&version))?;
    Some(Target {
        kind,
        version: version.to_string(),
        namespace: namespace.to_string(),
        name: rest.get(1).map(|s| s.to_string()),
        status: rest.get(2) == Some(&"status"),
    })
}

/// Sets kind and apiVersion as the version asked for reads them.
pub fn as_version(mut obj: Value, t: &Target) -> Value {
    obj["kind"] = json!(t.kind.kind);
    obj["apiVersion"] = json!(api_version(&t.kind, &t.version));
    obj
}

/// A list answer with `limit`/`continue` paging by name.
/// The client asked for metadata only (`Accept: ...;as=PartialObjectMetadata...`),
/// as kube's metadata watches and `kubectl get` with server-side printing
/// of metadata do: answer as the API server does, with nothing else.
pub fn wants_meta(req: &Request) -> bool {
    req.headers
        .get("accept")
        .is_some_and(|a| a.contains("as=PartialObjectMetadata"))
}

/// An object as a PartialObjectMetadata.
pub fn meta_only(o: &Value) -> Value {
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"]})
}

pub fn list(s: &store::Store, t: &Target, req: &Request) -> Value {
    let labels = req.query.get("labelSelector").map_or("", String::as_str);
    let fields = req.query.get("fieldSelector").map_or("", String::as_str);
    let after = req.query.get("continue").cloned().unwrap_or_default();
    let limit: usize = req
        .query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let all: Vec<&Value> = s
        .list(t.kind.group, t.kind.resource, &t.namespace)
        .filter(|o| store::matches(o, labels, fields))
        .filter(|o| {
            after.is_empty() || o["metadata"]["name"].as_str().unwrap_or("") > after.as_str()
        })
        .collect();
    let page: Vec<Value> = all
        .iter()
        .take(limit)
        .map(|o| as_version((*o).clone(), t))
        .collect();
    let mut meta = json!({"resourceVersion": s.rv.to_string()});
    if all.len() > page.len() {
        let last = page
            .last()
            .and_then(|o| o["metadata"]["name"].as_str())
            .unwrap_or("");
        meta["continue"] = json!(last);
        meta["remainingItemCount"] = json!(all.len() - page.len());
    }
    if wants_meta(req) {
        let items: Vec<Value> = page.iter().map(meta_only).collect();
        return json!({
            "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
            "metadata": meta, "items": items
        });
    }
    json!({
        "kind": format!("{}List", t.kind.kind),
        "apiVersion": api_version(&t.kind, &t.version),
        "metadata": meta, "items": page
    })
}
