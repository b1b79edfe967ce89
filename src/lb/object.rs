//! The Kubernetes objects `crate::lb` reads, typed and pruned to the
//! fields it reads: a Service, an EndpointSlice, a Node, and an Eip's
//! metadata and status. The cluster thread builds them from each watched
//! object (its metadata as [`Meta`], its body through `read`), keeps what
//! the readers in `service.rs`, `announce.rs` and `pool.rs` make of them,
//! and drops the rest; nothing past this file sees JSON.
//!
//! Read as before they were typed: a field that is absent or of another
//! type reads as its default (empty, `Cluster`, not ready), an address
//! that does not parse is left out, so one odd field never costs the rest
//! of an object. (These kinds are validated by the API server, so that
//! happens only with a hand-made object.) An Eip's `spec` is the
//! exception: it is OpenELB's, and `pool::eip` reads it field by field so
//! that each mistake is reported with its field, as `crate::openelb` reads
//! BgpConf and BgpPeer.
//!
//! Built by hand rather than with `#[derive(Deserialize)]`: the derives
//! for these types measured 22 KB in the `kube` build (a visitor and a
//! sequence reader per type), which its size budget does not have; this
//! reads through the one `serde_json::Value` the watcher already holds.
use crate::labels::Labels;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What the readers use of `metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub name: String,
    /// Empty for cluster-scoped kinds.
    pub namespace: String,
    pub uid: String,
    /// `resourceVersion`, for preconditions.
    pub version: String,
    /// `creationTimestamp` in RFC 3339 (so it sorts as text).
    pub created: String,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
}

impl Meta {
    /// The namespace, `default` when the object names none (as the API
    /// server reads it).
    pub fn namespace_or_default(&self) -> &str {
        match self.namespace.as_str() {
            "" => "default",
            ns => ns,
        }
    }
}

/// `spec.type`: only LoadBalancer matters here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceType {
    LoadBalancer,
    #[default]
    Other,
}

/// `spec.externalTrafficPolicy` (Cluster when absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrafficPolicy {
    Local,
    #[default]
    Cluster,
}

/// `spec.ipFamilies[]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpFamily {
    IPv4,
    IPv6,
}

/// `spec.ipFamilyPolicy`: whether the Service wants both families.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IpFamilyPolicy {
    #[default]
    SingleStack,
    PreferDualStack,
    RequireDualStack,
}

/// A Service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    pub meta: Meta,
    pub kind: ServiceType,
    /// `spec.loadBalancerClass`.
    pub class: String,
    /// `spec.loadBalancerIP`: deprecated upstream, still what many
    /// manifests use.
    pub load_balancer_ip: Option<IpAddr>,
    pub families: Vec<IpFamily>,
    pub family_policy: IpFamilyPolicy,
    pub traffic_policy: TrafficPolicy,
    /// `status.loadBalancer.ingress[].ip`.
    pub ingress: Vec<IpAddr>,
}

/// One of an EndpointSlice's `endpoints[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `nodeName`; empty when it names none.
    pub node: String,
    /// `conditions`: a missing `ready` means ready (discovery.k8s.io/v1);
    /// `serving` and `terminating` mean so only when true.
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
}

/// An EndpointSlice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointSlice {
    pub meta: Meta,
    pub endpoints: Vec<Endpoint>,
}

/// A Node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub meta: Meta,
    /// Its `Ready` condition is `True`.
    pub ready: bool,
    /// `status.addresses[]` of type InternalIP, in order.
    pub internal_ips: Vec<IpAddr>,
}

/// An Eip's `status`, as OpenELB and the allocator write it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EipStatus {
    pub occupied: bool,
    pub usage: u64,
    pub pool_size: u64,
    pub first_ip: String,
    pub last_ip: String,
    pub ready: bool,
    pub v4: bool,
    /// Address -> `namespace/name` of the Service that holds it.
    pub used: BTreeMap<String, String>,
}

fn string(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn ip(v: &Value) -> Option<IpAddr> {
    v.as_str()?.parse().ok()
}

impl Service {
    /// A Service from its metadata and its body.
    pub fn read(meta: Meta, o: &Value) -> Service {
        let spec = &o["spec"];
        Service {
            meta,
            kind: match spec["type"].as_str() {
                Some("LoadBalancer") => ServiceType::LoadBalancer,
                _ => ServiceType::Other,
            },
            class: string(&spec["loadBalancerClass"]),
            load_balancer_ip: ip(&spec["loadBalancerIP"]),
            families: items(&spec["ipFamilies"])
                .filter_map(|f| match f.as_str()? {
                    "IPv4" => Some(IpFamily::IPv4),
                    "IPv6" => Some(IpFamily::IPv6),
                    _ => None,
                })
                .collect(),
            family_policy: match spec["ipFamilyPolicy"].as_str() {
                Some("PreferDualStack") => IpFamilyPolicy::PreferDualStack,
                Some("RequireDualStack") => IpFamilyPolicy::RequireDualStack,
                _ => IpFamilyPolicy::SingleStack,
            },
            traffic_policy: match spec["externalTrafficPolicy"].as_str() {
                Some("Local") => TrafficPolicy::Local,
                _ => TrafficPolicy::Cluster,
            },
            ingress: items(&o["status"]["loadBalancer"]["ingress"])
                .filter_map(|i| ip(&i["ip"]))
                .collect(),
        }
    }
}

impl EndpointSlice {
    pub fn read(meta: Meta, o: &Value) -> EndpointSlice {
        let endpoints = items(&o["endpoints"])
            .map(|e| {
                let c = &e["conditions"];
                Endpoint {
                    node: string(&e["nodeName"]),
                    ready: c["ready"].as_bool().unwrap_or(true),
                    serving: c["serving"].as_bool() == Some(true),
                    terminating: c["terminating"].as_bool() == Some(true),
                }
            })
            .collect();
        EndpointSlice { meta, endpoints }
    }
}

impl Node {
    pub fn read(meta: Meta, o: &Value) -> Node {
        let status = &o["status"];
        Node {
            meta,
            ready: items(&status["conditions"])
                .any(|c| c["type"] == "Ready" && c["status"] == "True"),
            internal_ips: items(&status["addresses"])
                .filter(|a| a["type"] == "InternalIP")
                .filter_map(|a| ip(&a["address"]))
                .collect(),
        }
    }
}

impl EipStatus {
    /// An Eip's `status` (the object's `status` field).
    pub fn read(s: &Value) -> EipStatus {
        EipStatus {
            occupied: s["occupied"].as_bool() == Some(true),
            usage: s["usage"].as_u64().unwrap_or(0),
            pool_size: s["poolSize"].as_u64().unwrap_or(0),
            first_ip: string(&s["firstIP"]),
            last_ip: string(&s["lastIP"]),
            ready: s["ready"].as_bool() == Some(true),
            v4: s["v4"].as_bool() == Some(true),
            used: s["used"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(ip, who)| Some((ip.clone(), who.as_str()?.to_string())))
                .collect(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The metadata of an object written whole, as the readers' tests
    /// write them (the cluster thread takes it from the watched object).
    pub fn meta(o: &Value) -> Meta {
        let m = &o["metadata"];
        let map = |k: &str| -> BTreeMap<String, String> {
            serde_json::from_value(m[k].clone()).unwrap_or_default()
        };
        Meta {
            name: string(&m["name"]),
            namespace: string(&m["namespace"]),
            uid: string(&m["uid"]),
            version: string(&m["resourceVersion"]),
            created: string(&m["creationTimestamp"]),
            labels: map("labels"),
            annotations: map("annotations"),
        }
    }

    #[test]
    fn odd_fields_read_as_their_default_and_cost_nothing_else() {
        let o = json!({"spec": {"type": "LoadBalancer", "ipFamilies": "IPv4",
            "loadBalancerIP": "not-an-ip", "externalTrafficPolicy": "Bogus", "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb"}, {"ip": 5}]}}});
        let s = Service::read(Meta::default(), &o);
        assert_eq!(s.kind, ServiceType::LoadBalancer);
        assert_eq!((s.families.len(), s.load_balancer_ip), (0, None));
        assert_eq!(s.traffic_policy, TrafficPolicy::Cluster);
        assert_eq!(s.ingress, ["192.0.2.1".parse::<IpAddr>().unwrap()]);
        let e = EndpointSlice::read(Meta::default(), &json!({"endpoints": [{"nodeName": "n1"}]}));
        assert!(e.endpoints[0].ready, "no ready field: ready");
        let st = EipStatus::read(&json!({"usage": 2, "poolSize": "4",
            "used": {"192.0.2.1": "a/x", "192.0.2.2": 7}}));
        assert_eq!((st.usage, st.pool_size, st.used.len()), (2, 0, 1));
    }
}
