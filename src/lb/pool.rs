//! OpenELB's Eip (`network.kubesphere.io`) read as an address pool. Pure:
//! the object in, the pool or the field that is wrong out.
//!
//! `spec.address` is one address, a CIDR (every address in it, as OpenELB
//! counts them) or a range `first-last`, of one family. `spec.protocol`
//! `bgp` (or none) is served, and `layer2` in a build with `l2`
//! (`layer2.rs`); `vip` (OpenELB's keepalived mode) is refused, with why.
use super::object::Meta;
use crate::labels::{LabelSelector, Labels};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The annotation that marks the default pool, as OpenELB's.
pub const DEFAULT_ANNOTATION: &str = "eip.openelb.kubesphere.io/is-default-eip";

/// Addresses `first..=last` of one family, as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    V4 { first: u32, last: u32 },
    V6 { first: u128, last: u128 },
}

impl Range {
    pub fn is_v4(&self) -> bool {
        matches!(self, Range::V4 { .. })
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        match (self, a) {
            (Range::V4 { first, last }, IpAddr::V4(a)) => (*first..=*last).contains(&u32::from(a)),
            (Range::V6 { first, last }, IpAddr::V6(a)) => (*first..=*last).contains(&u128::from(a)),
            _ => false,
        }
    }

    /// How many addresses, saturating (a /0 of IPv6 does not fit a u128).
    pub fn size(&self) -> u128 {
        match self {
            Range::V4 { first, last } => u128::from(last - first) + 1,
            Range::V6 { first, last } => (last - first).saturating_add(1),
        }
    }

    pub fn first(&self) -> IpAddr {
        self.nth(0).expect("a range is never empty")
    }

    pub fn last(&self) -> IpAddr {
        match self {
            Range::V4 { last, .. } => IpAddr::V4(Ipv4Addr::from(*last)),
            Range::V6 { last, .. } => IpAddr::V6(Ipv6Addr::from(*last)),
        }
    }

    /// The `i`th address, if the range has one.
    pub fn nth(&self, i: u128) -> Option<IpAddr> {
        match self {
            Range::V4 { first, last } => {
                let a = u128::from(*first) + i;
                (a <= u128::from(*last)).then(|| IpAddr::V4(Ipv4Addr::from(a as u32)))
            }
            Range::V6 { first, last } => {
                let a = first.checked_add(i)?;
                (a <= *last).then(|| IpAddr::V6(Ipv6Addr::from(a)))
            }
        }
    }

    /// Whether two ranges share an address.
    pub fn overlaps(&self, o: &Range) -> bool {
        match (self, o) {
            (Range::V4 { first: a, last: b }, Range::V4 { first: c, last: d }) => a <= d && c <= b,
            (Range::V6 { first: a, last: b }, Range::V6 { first: c, last: d }) => a <= d && c <= b,
            _ => false,
        }
    }
}

fn addr(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

/// A `spec.address` that is not a range: the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError(pub String);

impl std::fmt::Display for RangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "spec.address {}: an address, a CIDR or a range first-last of one family",
            crate::quote::quoted(&self.0)
        )
    }
}

/// `spec.address`: an address, a CIDR or `first-last`.
pub fn range(s: &str) -> Result<Range, RangeError> {
    let bad = || RangeError(s.to_string());
    let (first, last) = if let Some((a, len)) = s.split_once('/') {
        let a = addr(a).ok_or_else(bad)?;
        let len: u32 = len.trim().parse().map_err(|_| bad())?;
        match a {
            IpAddr::V4(a) if len <= 32 => {
                let host = u32::MAX.checked_shr(len).unwrap_or(0);
                let net = u32::from(a) & !host;
                return Ok(Range::V4 {
                    first: net,
                    last: net | host,
                });
            }
            IpAddr::V6(a) if len <= 128 => {
                let host = u128::MAX.checked_shr(len).unwrap_or(0);
                let net = u128::from(a) & !host;
                return Ok(Range::V6 {
                    first: net,
                    last: net | host,
                });
            }
            _ => return Err(bad()),
        }
    } else if let Some((a, b)) = s.split_once('-') {
        (addr(a).ok_or_else(bad)?, addr(b).ok_or_else(bad)?)
    } else {
        let a = addr(s).ok_or_else(bad)?;
        (a, a)
    };
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => Ok(Range::V4 {
            first: a.into(),
            last: b.into(),
        }),
        (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => Ok(Range::V6 {
            first: a.into(),
            last: b.into(),
        }),
        _ => Err(bad()),
    }
}

/// An Eip as leafvip serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    pub range: Range,
    pub disabled: bool,
    /// `spec.namespaces`; with `namespace_selector`, both empty: every namespace.
    pub namespaces: Vec<String>,
    pub namespace_selector: Option<LabelSelector>,
    /// `spec.priority`: among pools that may serve a Service, the lowest
    /// number is tried first.
    pub priority: i64,
    /// The annotation `eip.openelb.kubesphere.io/is-default-eip: "true"`.
    pub default: bool,
    /// `metadata.creationTimestamp` (RFC 3339, so it sorts as text): of
    /// two overlapping Eips the younger is refused.
    pub created: String,
    /// Refused for overlapping this older Eip ([`overlapping`]): it
    /// serves nothing, and its addresses are the older one's.
    pub overlaps: Option<String>,
    /// `spec.protocol: layer2`, with its `spec.interface`; None: BGP.
    #[cfg(feature = "l2")]
    pub layer2: Option<super::iface::Iface>,
}

impl Pool {
    /// Whether a Service in namespace `ns` (with these labels) may use it.
    pub fn allows(&self, ns: &str, ns_labels: &Labels) -> bool {
        if self.namespaces.is_empty() && self.namespace_selector.is_none() {
            return true;
        }
        self.namespaces.iter().any(|n| n == ns)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(ns_labels).is_ok())
    }
}

/// The first field of an Eip's spec that is wrong. Its text goes to the
/// log and into a Warning Event on the Eip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EipError {
    NoAddress,
    Range(RangeError),
    /// `vip`, or `layer2` in a build without `l2`: OpenELB's, not served.
    NotBgp(String),
    #[cfg(feature = "l2")]
    Interface(super::iface::IfaceError),
    Protocol(String),
    Namespaces,
    /// `spec.namespaceSelector`, as `crate::openelb` words it.
    Selector(String),
    Priority,
}

impl std::fmt::Display for EipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EipError::NoAddress => f.write_str("spec.address: required"),
            EipError::Range(e) => e.fmt(f),
            EipError::NotBgp(p) => write!(
                f,
                "spec.protocol {p}: this leafvip serves {}",
                if cfg!(feature = "l2") {
                    "bgp and layer2 pools"
                } else {
                    "bgp pools (layer2 needs the l2 feature)"
                }
            ),
            #[cfg(feature = "l2")]
            EipError::Interface(e) => e.fmt(f),
            EipError::Protocol(p) => write!(
                f,
                "spec.protocol {}: bgp, layer2 or vip",
                crate::quote::quoted(p)
            ),
            EipError::Namespaces => f.write_str("spec.namespaces: names"),
            EipError::Selector(e) => f.write_str(e),
            EipError::Priority => f.write_str("spec.priority: a whole number"),
        }
    }
}

/// An Eip object (its metadata and spec) as a pool, or the field that is
/// wrong (the caller names the object). The spec is OpenELB's and read
/// field by field, so that a mistake names its field (`object.rs`).
pub fn eip(meta: &Meta, spec: &Value) -> Result<Pool, EipError> {
    let address = spec["address"].as_str().ok_or(EipError::NoAddress)?;
    let range = range(address).map_err(EipError::Range)?;
    #[cfg(feature = "l2")]
    let layer2 = match spec["protocol"].as_str() {
        Some("layer2") => {
            Some(super::iface::iface(&spec["interface"]).map_err(EipError::Interface)?)
        }
        _ => None,
    };
    match spec["protocol"].as_str().unwrap_or("bgp") {
        "bgp" | "" => {}
        "layer2" if cfg!(feature = "l2") => {}
        p @ ("layer2" | "vip") => return Err(EipError::NotBgp(p.to_string())),
        p => return Err(EipError::Protocol(p.to_string())),
    }
    let namespaces = spec["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| n.as_str().map(str::to_string).ok_or(EipError::Namespaces))
        .collect::<Result<_, _>>()?;
    let namespace_selector = match &spec["namespaceSelector"] {
        Value::Null => None,
        v => Some(
            crate::openelb::label_selector(v, "spec.namespaceSelector")
                .map_err(EipError::Selector)?,
        ),
    };
    let priority = match &spec["priority"] {
        Value::Null => 0,
        v => v.as_i64().ok_or(EipError::Priority)?,
    };
    Ok(Pool {
        name: meta.name.clone(),
        range,
        disabled: spec["disable"].as_bool().unwrap_or(false),
        namespaces,
        namespace_selector,
        priority,
        default: meta.annotations.get(DEFAULT_ANNOTATION).map(String::as_str) == Some("true"),
        created: meta.created.clone(),
        overlaps: None,
        #[cfg(feature = "l2")]
        layer2,
    })
}

/// The pools that overlap an older one, each with the pool it overlaps.
/// OpenELB's admission webhook refuses such an Eip at creation ("eip
/// address overlap"); leafvip ships no webhook, so every agent refuses the
/// same one instead: the younger (by creation time, then name), whose
/// addresses are then neither allocated nor claimed, so that no address is
/// in two Eips' `status.used`. Disabled pools count: their addresses may
/// still be held.
pub fn overlapping(pools: &[Pool]) -> std::collections::BTreeMap<String, String> {
    fn age(p: &Pool) -> (&str, &str) {
        (&p.created, &p.name)
    }
    let mut left: Vec<&Pool> = pools.iter().collect();
    let mut kept: Vec<&Pool> = Vec::new();
    let mut refused = std::collections::BTreeMap::new();
    // Oldest first, by selection: a handful of Eips, and no sort code
    // for the 6 MiB `kube` budget to carry.
    while let Some(i) =
        (0..left.len()).reduce(|a, b| if age(left[b]) < age(left[a]) { b } else { a })
    {
        let p = left.swap_remove(i);
        match kept.iter().find(|k| k.range.overlaps(&p.range)) {
            Some(k) => {
                refused.insert(p.name.clone(), k.name.clone());
            }
            None => kept.push(p),
        }
    }
    refused
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn named(name: &str) -> Meta {
        Meta {
            name: name.into(),
            ..Meta::default()
        }
    }

    #[test]
    fn addresses_cidrs_and_ranges() {
        let r = range("192.0.2.16/30").unwrap();
        assert_eq!(
            (r.first().to_string(), r.last().to_string()),
            ("192.0.2.16".into(), "192.0.2.19".into())
        );
        assert_eq!(r.size(), 4);
        let r = range("192.0.2.10-192.0.2.12").unwrap();
        assert_eq!(r.nth(2).unwrap().to_string(), "192.0.2.12");
        assert_eq!(r.nth(3), None);
        let r = range("2001:db8::/126").unwrap();
        assert_eq!((r.size(), r.is_v4()), (4, false));
        assert!(r.contains("2001:db8::3".parse().unwrap()));
        assert_eq!(range("192.0.2.7").unwrap().size(), 1);
        assert!(range("2001:db8::/0").unwrap().size() == u128::MAX);
        for bad in [
            "192.0.2.12-192.0.2.10",
            "192.0.2.1-2001:db8::1",
            "192.0.2.0/33",
            "leaf",
            "",
        ] {
            assert!(range(bad).is_err(), "{bad}");
        }
        assert!(range("192.0.2.0/30")
            .unwrap()
            .overlaps(&range("192.0.2.3-192.0.2.9").unwrap()));
        assert!(!range("192.0.2.0/30")
            .unwrap()
            .overlaps(&range("192.0.2.4").unwrap()));
    }

    #[test]
    fn an_openelb_eip_reads_as_a_pool() {
        let ann = Meta {
            name: "pool".into(),
            annotations: [(DEFAULT_ANNOTATION.to_string(), "true".to_string())].into(),
            ..Meta::default()
        };
        let p = eip(
            &ann,
            &json!({"address": "192.0.2.0/28", "protocol": "bgp",
                                          "namespaces": ["web"], "priority": 5}),
        )
        .unwrap();
        assert!(p.default && !p.disabled && p.priority == 5);
        assert!(p.allows("web", &Labels::new()) && !p.allows("db", &Labels::new()));
        let e = eip(
            &named("l2"),
            &json!({"address": "192.0.2.1", "protocol": "vip", "interface": "eth0"}),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("spec.protocol vip: this leafvip serves bgp"));
        let l2 = eip(
            &named("l2"),
            &json!({"address": "192.0.2.1", "protocol": "layer2", "interface": "eth0"}),
        );
        #[cfg(feature = "l2")]
        assert_eq!(
            l2.unwrap().layer2,
            Some(super::super::iface::Iface::Name("eth0".into()))
        );
        #[cfg(not(feature = "l2"))]
        assert!(l2.unwrap_err().to_string().contains("needs the l2 feature"));
        #[cfg(feature = "l2")]
        assert_eq!(
            eip(
                &named("l2"),
                &json!({"address": "192.0.2.1", "protocol": "layer2"})
            )
            .unwrap_err()
            .to_string(),
            "spec.interface: required for protocol layer2"
        );
        let sel = eip(
            &named("sel"),
            &json!({"address": "192.0.2.1",
            "namespaceSelector": {"matchLabels": {"team": "a"}}}),
        )
        .unwrap();
        let team: Labels = [("team".to_string(), "a".to_string())].into();
        assert!(sel.allows("x", &team) && !sel.allows("x", &Labels::new()));
    }

    /// The case: `pool` (192.0.2.192/28) and the younger `pool2`
    /// (192.0.2.200-207) overlap; `pool2` is refused, naming `pool`; the
    /// pool beside them stays.
    #[test]
    fn the_younger_of_two_overlapping_eips_is_refused() {
        let p = |name: &str, addr: &str, created: &str| Pool {
            created: created.into(),
            ..eip(&named(name), &json!({ "address": addr })).unwrap()
        };
        let pools = [
            p("pool2", "192.0.2.200-192.0.2.207", "2026-12-01T10:00:05Z"),
            p("pool", "192.0.2.192/28", "2026-12-01T10:00:00Z"),
            p("pool3", "192.0.2.208-192.0.2.215", "2026-12-01T10:00:09Z"),
            p("v6", "2001:db8::/120", "2026-12-01T10:00:09Z"),
            p("v6b", "2001:db8::80-2001:db8::90", "2026-12-01T10:00:09Z"),
        ];
        let refused = overlapping(&pools);
        assert_eq!(
            refused.into_iter().collect::<Vec<_>>(),
            [
                ("pool2".to_string(), "pool".to_string()),
                ("v6b".to_string(), "v6".to_string()),
            ]
        );
        // Same creation time: the name decides, the same on every agent.
        let tie = [
            p("b", "192.0.2.0/30", "2026-12-01T10:00:00Z"),
            p("a", "192.0.2.2/31", "2026-12-01T10:00:00Z"),
        ];
        assert_eq!(overlapping(&tie).get("b").map(String::as_str), Some("a"));
        // Apart, nothing is refused.
        let apart = [p("x", "192.0.2.0/30", ""), p("y", "192.0.2.4/30", "")];
        assert!(overlapping(&apart).is_empty());
    }
}
