//! `spec.interface` of a layer2 Eip (feature `l2`): an interface name or
//! OpenELB's `can_reach:ADDRESS`, read as a typed value; which interface
//! that is on a node is decided where the interfaces are read
//! (`runtime/kube/lb.rs`).
use serde_json::Value;
use std::net::IpAddr;

/// `spec.interface` of a layer2 Eip, as OpenELB reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Iface {
    /// An interface name, the same on every node.
    Name(String),
    /// `can_reach:ADDRESS`: on each node, the interface with a subnet that
    /// holds the address (OpenELB asks the routing table; a gateway's or
    /// a neighbour's address is on that subnet, which is what it is for).
    CanReach(IpAddr),
}

impl std::fmt::Display for Iface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Iface::Name(n) => f.write_str(n),
            Iface::CanReach(a) => write!(f, "can_reach:{a}"),
        }
    }
}

/// What is wrong with a layer2 Eip's `spec.interface`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfaceError {
    Missing,
    Bad(String),
}

impl std::fmt::Display for IfaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IfaceError::Missing => f.write_str("spec.interface: required for protocol layer2"),
            IfaceError::Bad(s) => write!(
                f,
                "spec.interface {}: an interface name or can_reach:ADDRESS",
                crate::quote::quoted(s)
            ),
        }
    }
}

/// Reads `spec.interface`.
pub fn iface(v: &Value) -> Result<Iface, IfaceError> {
    let s = v
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or(IfaceError::Missing)?;
    let bad = || IfaceError::Bad(s.to_string());
    match s.split_once(':') {
        Some(("can_reach", a)) => a.trim().parse().map(Iface::CanReach).map_err(|_| bad()),
        Some(_) => Err(bad()),
        None if s.len() > 15 || s.contains(['/', ' ']) => Err(bad()),
        None => Ok(Iface::Name(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interfaces_read_as_openelb_writes_them() {
        assert_eq!(iface(&json!("eth0")), Ok(Iface::Name("eth0".into())));
        assert_eq!(
            iface(&json!("can_reach:198.51.100.1")),
            Ok(Iface::CanReach("198.51.100.1".parse().unwrap()))
        );
        assert_eq!(iface(&Value::Null), Err(IfaceError::Missing));
        for bad in ["can_reach:x", "route:1.2.3.4", "a/b", "sixteen-letters!"] {
            assert!(
                matches!(iface(&json!(bad)), Err(IfaceError::Bad(_))),
                "{bad}"
            );
        }
        assert_eq!(
            iface(&json!("via:x")).unwrap_err().to_string(),
            "spec.interface \"via:x\": an interface name or can_reach:ADDRESS"
        );
    }
}
