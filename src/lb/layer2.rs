//! Eips of `spec.protocol: layer2` (feature `l2`): which Service addresses
//! this node offers to answer by ARP and NDP, on which interface, and the
//! VRRP router each address gets. Pure: the Services and pools in, the
//! addresses out.
//!
//! Every agent on the segment runs one VRRPv3 router per address, as a
//! plain host does for `mode = "l2"` (`crate::l2`). So that the agents
//! agree without talking to each other or to the API server:
//! - **The VRID** is the address's last byte (255 for a last byte of 0),
//!   which an operator can read off the address and keep clear of. Two
//!   addresses of one family that want the same VRID are settled by the
//!   Services' age (then key, then address): the older keeps it, the
//!   younger takes the next free one. Every agent sees the same Services,
//!   so every agent reaches the same answer, and only an address that
//!   collides can ever move. A family has 255 VRIDs; an address beyond
//!   them is not offered, and says why.
//! - **The priority** is a hash of the node's name and the address, in
//!   50..=249: owners spread over the eligible nodes as OpenELB's and
//!   MetalLB's hash election spreads them, and a returning node takes
//!   back what it held (VRRP preemption) instead of everything.
//! - **Who takes part** is what the API server last said: a Ready node not
//!   excluded from load balancers, and for `externalTrafficPolicy: Local`
//!   a node with a ready endpoint (`crate::lb::announce`). With the API
//!   server down that view stays, and VRRP alone replaces a dead owner.
pub use super::iface::Iface;
use super::pool::Pool;
use super::service::Svc;
use crate::l2::links::LinkError;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// One address this node offers to answer for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2Addr {
    pub addr: IpAddr,
    /// The interface on this node (the Eip's `spec.interface`, resolved).
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    /// The Service (`namespace/name`) whose address it is, and its uid
    /// (for the Event that says which node answers).
    pub service: String,
    pub uid: String,
}

/// A layer-2 address's VRRP priority on `node`: 50..=249 by FNV-1a of
/// the two, the same in every build and on every agent.
/// It makes no string: a node naming an owner by its priority
/// (`super::owners`) hashes every eligible node's name.
pub fn priority(node: &str, addr: IpAddr) -> u8 {
    /// FNV-1a, fed as the text is written.
    struct Fnv(u32);
    impl std::fmt::Write for Fnv {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            for b in s.bytes() {
                self.0 = (self.0 ^ u32::from(b)).wrapping_mul(0x0100_0193);
            }
            Ok(())
        }
    }
    let mut h = Fnv(0x811c_9dc5);
    let _ = std::fmt::Write::write_fmt(&mut h, format_args!("{node}#{addr}"));
    50 + (h.0 % 200) as u8
}

fn preferred(a: IpAddr) -> u8 {
    let last = match a {
        IpAddr::V4(a) => a.octets()[3],
        IpAddr::V6(a) => a.octets()[15],
    };
    match last {
        0 => 255,
        b => b,
    }
}

/// The VRID of every layer-2 address of the cluster (`all`: each with its
/// Service's creation time and key), or why an address has none.
pub fn vrids(all: &[(&str, &str, IpAddr)]) -> BTreeMap<IpAddr, Option<u8>> {
    let mut order: Vec<&(&str, &str, IpAddr)> = all.iter().collect();
    order.sort();
    let mut taken: [BTreeSet<u8>; 2] = Default::default();
    let mut out = BTreeMap::new();
    for &(_, _, a) in order {
        if out.contains_key(&a) {
            continue;
        }
        let used = &mut taken[usize::from(a.is_ipv6())];
        let first = preferred(a);
        let v = (0..255u16)
            .map(|i| ((u16::from(first) - 1 + i) % 255 + 1) as u8)
            .find(|v| !used.contains(v));
        if let Some(v) = v {
            used.insert(v);
        }
        out.insert(a, v);
    }
    out
}

/// Splits the addresses this node announces into BGP's and layer 2's.
/// `announced`: what `crate::lb::announce` gave this node (eligible);
/// `resolve`: the Eip's interface on this node for the address, or why
/// it cannot be held there (`crate::l2::links::check`).
/// Returns the layer-2 addresses offered, and the Services with a
/// layer-2 address that is not, with why.
pub fn split<'a>(
    services: impl Iterator<Item = &'a Svc> + Clone,
    pools: &[&Pool],
    node: &str,
    announced: &mut Vec<(IpAddr, super::announce::Only)>,
    resolve: &dyn Fn(&Iface, IpAddr) -> Result<String, LinkError>,
) -> (Vec<L2Addr>, Vec<(String, String)>) {
    let iface_of = |a: IpAddr| {
        pools
            .iter()
            .find(|p| p.overlaps.is_none() && p.range.contains(a))
            .and_then(|p| p.layer2.as_ref())
    };
    let owner: BTreeMap<IpAddr, &Svc> = services
        .clone()
        .filter(|s| s.ours)
        .flat_map(|s| s.current.iter().map(move |a| (*a, s)))
        .filter(|(a, _)| iface_of(*a).is_some())
        .collect();
    let all: Vec<(&str, &str, IpAddr)> = owner
        .iter()
        .map(|(a, s)| (s.created.as_str(), s.key.as_str(), *a))
        .collect();
    let vrid = vrids(&all);
    let mut out = Vec::new();
    let mut not = Vec::new();
    announced.retain(|(a, _)| {
        let Some(iface) = iface_of(*a) else {
            return true;
        };
        let s = owner[a];
        match (vrid[a], resolve(iface, *a)) {
            (Some(v), Ok(interface)) => out.push(L2Addr {
                addr: *a,
                interface,
                vrid: v,
                priority: priority(node, *a),
                service: s.key.clone(),
                uid: s.uid.clone(),
            }),
            (None, _) => not.push((
                s.key.clone(),
                format!("{a}: every VRID of its family is taken by an older layer-2 address"),
            )),
            (_, Err(e)) => not.push((s.key.clone(), format!("{a}: {e}"))),
        }
        false
    });
    (out, not)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// VRIDs come from the address; a collision goes to the older Service
    /// and moves only the younger; the 256th address of a family has none.
    #[test]
    fn vrids_are_the_same_on_every_agent_and_only_colliders_move() {
        let a = |s: &str| -> IpAddr { s.parse().unwrap() };
        let one = vrids(&[("t1", "a/x", a("198.51.100.10"))]);
        assert_eq!(one[&a("198.51.100.10")], Some(10));
        assert_eq!(
            vrids(&[("t", "a/x", a("192.0.2.0"))])[&a("192.0.2.0")],
            Some(255)
        );
        // Another .10 collides: the older Service keeps 10 whatever the
        // order the agent lists them in, the younger takes 11.
        for order in [[0, 1], [1, 0]] {
            let x = [
                ("t2", "a/young", a("198.51.101.10")),
                ("t1", "a/old", a("198.51.100.10")),
            ];
            let both = vrids(&[x[order[0]], x[order[1]]]);
            assert_eq!(both[&a("198.51.100.10")], Some(10));
            assert_eq!(both[&a("198.51.101.10")], Some(11));
        }
        // The families have a VRID space each.
        let fam = vrids(&[
            ("t1", "a/x", a("198.51.100.10")),
            ("t1", "a/y", a("2001:db8::a")),
        ]);
        assert_eq!(fam[&a("2001:db8::a")], Some(10));
        // 256 IPv4 addresses: 255 get one, the youngest none.
        let many: Vec<(String, IpAddr)> = (0..256u32)
            .map(|i| (format!("t{i:03}"), IpAddr::V4((0xC633_6400 + i).into())))
            .collect();
        let refs: Vec<(&str, &str, IpAddr)> =
            many.iter().map(|(t, x)| (t.as_str(), "a/s", *x)).collect();
        let v = vrids(&refs);
        assert_eq!(v.values().filter(|v| v.is_some()).count(), 255);
        assert_eq!(v[&many[255].1], None);
        let distinct: BTreeSet<_> = v.values().flatten().collect();
        assert_eq!(distinct.len(), 255);
    }

    #[test]
    fn priorities_spread_and_stay_in_range() {
        let vip: IpAddr = "198.51.100.10".parse().unwrap();
        let ps: BTreeSet<u8> = (0..20).map(|i| priority(&format!("n{i}"), vip)).collect();
        assert!(ps.len() > 10, "{ps:?}");
        assert!(ps.iter().all(|p| (50..=249).contains(p)));
        assert_eq!(priority("n1", vip), priority("n1", vip));
        // FNV-1a of "n1#198.51.100.10", as every agent computes it: a
        // change here would split the elections of a rolling upgrade.
        let fnv = "n1#198.51.100.10".bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        assert_eq!(priority("n1", vip), 50 + (fnv % 200) as u8);
    }

    fn pool(name: &str, addr: &str, layer2: Option<Iface>) -> Pool {
        let meta = super::super::object::Meta {
            name: name.into(),
            ..Default::default()
        };
        Pool {
            layer2,
            ..super::super::pool::eip(&meta, &json!({ "address": addr })).unwrap()
        }
    }

    fn svc(key: &str, created: &str, ips: &[&str]) -> Svc {
        Svc {
            key: key.into(),
            namespace: "a".into(),
            uid: String::new(),
            created: created.into(),
            ours: true,
            v4: true,
            v6: false,
            pools: vec![],
            requested: vec![],
            current: ips.iter().map(|a| a.parse().unwrap()).collect(),
            claimed: vec![],
            local: false,
        }
    }

    /// BGP addresses stay announced; layer-2 ones move to the list with
    /// their interface, VRID and this node's priority; one whose
    /// `can_reach` no interface holds is not offered, and says why.
    #[test]
    fn layer2_addresses_split_off_with_their_router() {
        let pools = [
            pool("bgp", "192.0.2.0/28", None),
            pool("eth", "198.51.100.0/28", Some(Iface::Name("eth0".into()))),
            pool(
                "reach",
                "203.0.113.0/28",
                Some(Iface::CanReach("203.0.113.1".parse().unwrap())),
            ),
        ];
        let pools: Vec<&Pool> = pools.iter().collect();
        let services = [
            svc("a/bgp", "t1", &["192.0.2.1"]),
            svc("a/l2", "t2", &["198.51.100.10"]),
            svc("a/far", "t3", &["203.0.113.5"]),
            // Ineligible here (not in `announced`), yet its VRID counts.
            svc("a/local", "t0", &["198.51.100.26"]),
        ];
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let mut announced = vec![
            (ip("192.0.2.1"), None),
            (ip("198.51.100.10"), None),
            (ip("203.0.113.5"), None),
        ];
        let here = |i: &Iface, _: IpAddr| match i {
            Iface::Name(n) => Ok(n.clone()),
            Iface::CanReach(r) => Err(LinkError::NoneReaches(*r)),
        };
        let (l2, not) = split(services.iter(), &pools, "n1", &mut announced, &here);
        assert_eq!(announced, [(ip("192.0.2.1"), None)]);
        assert_eq!(
            l2,
            [L2Addr {
                addr: ip("198.51.100.10"),
                interface: "eth0".into(),
                vrid: 10,
                priority: priority("n1", ip("198.51.100.10")),
                service: "a/l2".into(),
                uid: String::new(),
            }]
        );
        assert_eq!(
            not,
            [(
                "a/far".to_string(),
                "203.0.113.5: no interface of this node has a subnet holding can_reach:203.0.113.1"
                    .to_string()
            )]
        );
        // Found: offered on that interface. .26 (older, VRID 26) and .10
        // keep theirs.
        let mut announced = vec![(ip("203.0.113.5"), None)];
        let (l2, _) = split(services.iter(), &pools, "n1", &mut announced, &|_, _| {
            Ok("eth1".to_string())
        });
        assert_eq!((l2[0].interface.as_str(), l2[0].vrid), ("eth1", 5));
    }
}
