//! `[kubernetes]`: cluster mode, in a binary built with the `kube` feature.
//!
//! ```toml
//! [kubernetes]
//! node_labels = true          # this node's labels from its Node object, live
//! peers_from_crds = true      # peers from OpenELB's BgpPeer objects too
//! services = true             # LoadBalancer Services and Eip pools (crate::lb)
//! lease_namespace = "leafvip-system"  # where the allocator's Lease lives
//! service_next_hop = "self"   # or "hosts": a rack speaker announces its
//!                             # rack's Ready Nodes as next hops
//! kubeconfig = "/path/config" # else KUBECONFIG, ~/.kube/config, in-cluster
//! layer2_advert_interval = "100ms"  # VRRP adverts of layer2 Eips' addresses
//! ```
//! On a shared key the host's own config wins over the Node object: the
//! labels file, then the inline `[node] labels`, then the Node's labels.
//! The config is the explicit, local override; the cluster is the default.
use crate::toml_read::{self as tr, FromValue, Spanned, Table};
use std::path::PathBuf;
use toml::de::DeValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesConfig {
    pub node_labels: bool,
    /// Peers from OpenELB's BgpPeer objects, beside the `[[peer]]` tables.
    pub peers_from_crds: bool,
    /// LoadBalancer Services: allocate from Eips (on the Lease holder) and
    /// announce their addresses.
    pub services: bool,
    pub lease_namespace: String,
    /// `hosts`: Service addresses go out with the Ready Nodes (their
    /// InternalIPs) as next hops, as `[[vip]] next_hop = "hosts"` does
    /// with `[[host]]`s: the rack-speaker layout. `self` (the default):
    /// each node announces itself.
    pub service_hosts: bool,
    pub kubeconfig: Option<PathBuf>,
    /// The VRRP advertisement interval of layer2 Eips' addresses, in
    /// centiseconds (`crate::lb::layer2`).
    pub layer2_interval: u16,
}

impl FromValue for KubernetesConfig {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        if cfg!(not(feature = "kube")) {
            return Err(tr::Error {
                at: v.span().start,
                problem: "[kubernetes] needs a leafvip built with the kube feature \
                          (cargo build --features kube); this one was built without it"
                    .into(),
            });
        }
        let t = Table::value(
            v,
            &[
                "node_labels",
                "peers_from_crds",
                "services",
                "lease_namespace",
                "service_next_hop",
                "kubeconfig",
                "layer2_advert_interval",
            ],
        )?;
        let layer2_interval = match t.raw("layer2_advert_interval") {
            None => 10,
            Some(v) => match tr::with(v, crate::hosts::parse_duration)?.as_millis() {
                ms if ms % 10 == 0 && (10..=40_950).contains(&ms) => (ms / 10) as u16,
                _ => {
                    return t.error(
                        "layer2_advert_interval",
                        "layer2_advert_interval is 10ms..40950ms in steps of 10ms".into(),
                    )
                }
            },
        };
        let service_hosts = match t.raw("service_next_hop") {
            None => false,
            Some(v) => tr::with(v, |s| match s {
                "self" => Ok(false),
                "hosts" => Ok(true),
                _ => Err(format!(
                    "service_next_hop {} is not \"self\" or \"hosts\"",
                    crate::quote::quoted(s)
                )),
            })?,
        };
        Ok(KubernetesConfig {
            node_labels: t.or("node_labels", true)?,
            peers_from_crds: t.or("peers_from_crds", true)?,
            services: t.or("services", true)?,
            lease_namespace: t.or("lease_namespace", "leafvip-system".to_string())?,
            service_hosts,
            kubeconfig: t.get("kubeconfig")?,
            layer2_interval,
        })
    }
}

/// The node's name: `[node] name`, else `NODE_NAME` (the downward API in a
/// DaemonSet), else the hostname.
pub fn node_name(
    configured: Option<&str>,
    env: Option<String>,
    hostname: impl FnOnce() -> String,
) -> String {
    configured
        .map(str::to_string)
        .or(env.filter(|n| !n.is_empty()))
        .unwrap_or_else(hostname)
}

/// The kernel's hostname, the node name of last resort.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_name_comes_from_the_config_then_node_name_then_the_host() {
        let host = || "host-1".to_string();
        assert_eq!(node_name(Some("cfg"), Some("env".into()), host), "cfg");
        assert_eq!(node_name(None, Some("env".into()), host), "env");
        assert_eq!(node_name(None, Some(String::new()), host), "host-1");
        assert_eq!(node_name(None, None, host), "host-1");
    }
}
