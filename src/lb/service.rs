//! A Service of type LoadBalancer, pruned to what leafvip uses: whether it
//! is ours, which pool and address it asks for, which families, its
//! traffic policy, and the addresses its status holds. Pure: the typed
//! object (`object.rs`) in, a [`Svc`] out; nothing else of it is kept.
use super::object::{IpFamily, IpFamilyPolicy, Service, ServiceType, TrafficPolicy};
use std::net::IpAddr;

/// Our `spec.loadBalancerClass`.
pub const CLASS: &str = "leafvip/bgp";
/// OpenELB's annotation that makes a Service its own, and its value.
pub const OPENELB_ANNOTATION: &str = "lb.kubesphere.io/v1alpha1";
/// Picks the pool (Eip name; for dual stack, a comma-separated pair).
pub const POOL_ANNOTATION: &str = "eip.openelb.kubesphere.io/v1alpha2";
/// Asks for an address (for dual stack, a comma-separated pair).
pub const IP_ANNOTATION: &str = "eip.openelb.kubesphere.io/v1alpha1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Svc {
    /// `namespace/name`.
    pub key: String,
    pub namespace: String,
    pub uid: String,
    /// `metadata.creationTimestamp` (RFC 3339, so it sorts as text): the
    /// older of two Services claiming one address keeps it.
    pub created: String,
    /// Type LoadBalancer, and OpenELB's annotation or our class.
    pub ours: bool,
    /// The families it wants an address of, IPv4 first when both.
    pub v4: bool,
    pub v6: bool,
    pub pools: Vec<String>,
    pub requested: Vec<IpAddr>,
    /// `status.loadBalancer.ingress[].ip`.
    pub current: Vec<IpAddr>,
    /// Addresses an Eip's status gives it that its own status lacks: the
    /// Eip write landed, the Service write did not (a 409). Kept for it,
    /// and written to its status next.
    pub claimed: Vec<IpAddr>,
    /// `externalTrafficPolicy: Local`.
    pub local: bool,
}

/// A comma-separated annotation's items.
fn list(v: Option<&String>) -> Vec<String> {
    v.into_iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A Service as leafvip keeps it; `None` when it is not of type
/// LoadBalancer at all.
pub fn svc(o: &Service) -> Option<Svc> {
    let meta = &o.meta;
    if o.kind != ServiceType::LoadBalancer {
        return None;
    }
    let ann = &meta.annotations;
    let ours =
        ann.get(OPENELB_ANNOTATION).map(String::as_str) == Some("openelb") || o.class == CLASS;
    let families = &o.families;
    let dual = matches!(
        o.family_policy,
        IpFamilyPolicy::PreferDualStack | IpFamilyPolicy::RequireDualStack
    );
    let (mut v4, mut v6) = match families.first() {
        Some(IpFamily::IPv6) => (false, true),
        _ => (true, false),
    };
    if dual {
        v4 |= families.contains(&IpFamily::IPv4);
        v6 |= families.contains(&IpFamily::IPv6);
    }
    let mut requested: Vec<IpAddr> = list(ann.get(IP_ANNOTATION))
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    if let Some(ip) = o.load_balancer_ip {
        if !requested.contains(&ip) {
            requested.push(ip);
        }
    }
    let namespace = meta.namespace_or_default();
    Some(Svc {
        key: format!("{namespace}/{}", meta.name),
        namespace: namespace.to_string(),
        uid: meta.uid.clone(),
        created: meta.created.clone(),
        ours,
        v4,
        v6,
        pools: list(ann.get(POOL_ANNOTATION)),
        requested,
        current: o.ingress.clone(),
        claimed: Vec::new(),
        local: o.traffic_policy == TrafficPolicy::Local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::object::tests::meta;
    use serde_json::json;

    fn read(o: serde_json::Value) -> Service {
        Service::read(meta(&o), &o)
    }

    #[test]
    fn a_service_reads_pruned() {
        let o = json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "u1",
                         "creationTimestamp": "2026-11-30T10:00:00Z",
                         "annotations": {OPENELB_ANNOTATION: "openelb", POOL_ANNOTATION: "v4pool, v6pool",
                                         IP_ANNOTATION: "192.0.2.10"}},
            "spec": {"type": "LoadBalancer", "ipFamilyPolicy": "RequireDualStack",
                     "ipFamilies": ["IPv6", "IPv4"], "externalTrafficPolicy": "Local",
                     "loadBalancerIP": "2001:db8::10", "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}
        });
        let s = svc(&read(o)).unwrap();
        assert_eq!(s.key, "shop/web");
        assert!(s.ours && s.v4 && s.v6 && s.local);
        assert_eq!(s.pools, ["v4pool", "v6pool"]);
        assert_eq!(s.requested.len(), 2);
        assert_eq!(s.current, ["192.0.2.10".parse::<IpAddr>().unwrap()]);
        let class = json!({"metadata": {"name": "a"}, "spec": {"type": "LoadBalancer", "loadBalancerClass": CLASS}});
        let c = svc(&read(class)).unwrap();
        assert!(c.ours && c.v4 && !c.v6 && !c.local);
        assert_eq!(c.key, "default/a");
        let other = json!({"metadata": {"name": "a"}, "spec": {"type": "LoadBalancer"}});
        assert!(!svc(&read(other)).unwrap().ours);
        assert!(svc(&read(
            json!({"metadata": {"name": "a"}, "spec": {"type": "ClusterIP"}})
        ))
        .is_none());
    }
}
