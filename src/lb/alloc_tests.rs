use super::*;
use crate::lb::pool::{range, Pool};
use proptest::prelude::*;

fn pool(name: &str, addr: &str, default: bool) -> Pool {
    Pool {
        name: name.into(),
        range: range(addr).unwrap(),
        disabled: false,
        namespaces: vec![],
        namespace_selector: None,
        priority: 0,
        default,
        created: String::new(),
        overlaps: None,
        #[cfg(feature = "l2")]
        layer2: None,
    }
}

fn svc(key: &str, created: &str) -> Svc {
    let (ns, _) = key.split_once('/').unwrap();
    Svc {
        key: key.into(),
        namespace: ns.into(),
        uid: key.into(),
        created: created.into(),
        ours: true,
        v4: true,
        v6: false,
        pools: vec![],
        requested: vec![],
        current: vec![],
        claimed: vec![],
        local: false,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn none() -> BTreeMap<String, Labels> {
    BTreeMap::new()
}

#[test]
fn the_lowest_free_address_of_the_default_pool() {
    let pools = [pool("p", "192.0.2.10-192.0.2.12", true)];
    let mut held = svc("a/x", "1");
    held.current = vec![ip("192.0.2.10")];
    let new = svc("a/y", "2");
    let a = allocate(&pools, &[held, new], &none());
    assert_eq!(
        a.services["a/x"],
        Decision::default(),
        "kept, nothing to write"
    );
    assert_eq!(a.services["a/y"].write, Some(vec![ip("192.0.2.11")]));
    assert_eq!(a.used["p"].len(), 2);
}

/// An Eip refused for overlapping an older one serves nothing: a Service
/// that names it gets the reason, an address asked for in the overlap is
/// the older pool's, and only the older pool counts it as used.
#[test]
fn a_pool_that_overlaps_an_older_one_serves_nothing() {
    let mut young = pool("pool2", "192.0.2.200-192.0.2.207", false);
    young.overlaps = Some("pool".into());
    let pools = [pool("pool", "192.0.2.192/28", true), young];
    let mut named = svc("a/x", "1");
    named.pools = vec!["pool2".into()];
    let mut asked = svc("a/y", "2");
    asked.requested = vec![ip("192.0.2.200")];
    let a = allocate(&pools, &[named, asked], &none());
    assert_eq!(a.services["a/x"].write, None);
    assert_eq!(
        a.services["a/x"].problems,
        ["pool pool2 overlaps the older Eip pool and serves nothing"]
    );
    assert_eq!(a.services["a/y"].write, Some(vec![ip("192.0.2.200")]));
    assert_eq!(
        a.used["pool"].keys().collect::<Vec<_>>(),
        [&ip("192.0.2.200")]
    );
    assert!(!a.used.contains_key("pool2"), "no address in two Eips");
}

#[test]
fn refusals_say_why_and_change_nothing() {
    let pools = [
        pool("p", "192.0.2.10", true),
        pool("q", "192.0.2.20", false),
    ];
    let mut first = svc("a/x", "1");
    first.current = vec![ip("192.0.2.10")];
    let exhausted = svc("a/y", "2");
    let mut outside = svc("a/z", "3");
    outside.requested = vec![ip("198.51.100.7")];
    let mut taken = svc("a/w", "4");
    taken.requested = vec![ip("192.0.2.10")];
    let mut missing = svc("a/v", "5");
    missing.pools = vec!["nope".into()];
    let a = allocate(
        &pools,
        &[first, exhausted, outside, taken, missing],
        &none(),
    );
    let why = |k: &str| {
        (
            a.services[k].write.clone(),
            a.services[k].problems.join("; "),
        )
    };
    assert_eq!(why("a/y"), (None, "pool p is exhausted".into()));
    assert_eq!(
        why("a/z"),
        (None, "address 198.51.100.7 is not in any pool".into())
    );
    assert_eq!(
        why("a/w"),
        (None, "address 192.0.2.10 is taken by a/x".into())
    );
    assert_eq!(why("a/v"), (None, "pool nope does not exist".into()));
    let mut ns = pool("n", "192.0.2.30", true);
    ns.namespaces = vec!["web".into()];
    let a = allocate(&[ns], &[svc("db/x", "1")], &none());
    assert_eq!(
        a.services["db/x"].problems,
        ["pool n is not allowed in namespace db"]
    );
}

#[test]
fn a_requested_address_a_named_pool_and_dual_stack() {
    let pools = [
        pool("v4", "192.0.2.0/29", true),
        pool("v6", "2001:db8::/125", true),
        pool("other", "198.51.100.0/30", false),
    ];
    let mut asked = svc("a/x", "1");
    asked.requested = vec![ip("192.0.2.5")];
    let mut named = svc("a/y", "2");
    named.pools = vec!["other".into()];
    let mut dual = svc("a/z", "3");
    dual.v6 = true;
    let a = allocate(&pools, &[asked.clone(), named, dual], &none());
    assert_eq!(a.services["a/x"].write, Some(vec![ip("192.0.2.5")]));
    assert_eq!(a.services["a/y"].write, Some(vec![ip("198.51.100.0")]));
    assert_eq!(
        a.services["a/z"].write,
        Some(vec![ip("192.0.2.0"), ip("2001:db8::")])
    );
    // A new request moves the Service, and frees the old address.
    asked.current = vec![ip("192.0.2.5")];
    asked.requested = vec![ip("192.0.2.6")];
    let a = allocate(&pools, &[asked], &none());
    assert_eq!(a.services["a/x"].write, Some(vec![ip("192.0.2.6")]));
    assert!(!a.used["v4"].contains_key(&ip("192.0.2.5")));
}

#[test]
fn a_disputed_address_stays_with_the_older_service() {
    let pools = [pool("p", "192.0.2.0/30", true)];
    let mut old = svc("a/old", "2026-01-01T00:00:00Z");
    old.current = vec![ip("192.0.2.1")];
    let mut new = svc("a/new", "2026-06-01T00:00:00Z");
    new.current = vec![ip("192.0.2.1")];
    let a = allocate(&pools, &[new, old], &none());
    assert_eq!(a.services["a/old"].write, None);
    assert_eq!(a.services["a/new"].write, Some(vec![ip("192.0.2.0")]));
}

fn arb_services() -> impl Strategy<Value = Vec<(u8, Vec<u8>, Option<u8>, bool)>> {
    // (creation order, held offsets, requested offset, dual)
    prop::collection::vec(
        (
            any::<u8>(),
            prop::collection::vec(0u8..20, 0..3),
            prop::option::of(0u8..24),
            any::<bool>(),
        ),
        0..30,
    )
}

proptest! {
    /// Whatever the Services hold and ask: no address goes to two, every
    /// address given is in a pool, and a Service alone in holding a pool
    /// address it does not ask to change keeps it.
    #[test]
    fn no_address_is_given_twice_and_held_ones_stay(input in arb_services()) {
        let pools = [pool("v4", "192.0.2.0/28", true), pool("v6", "2001:db8::/124", true)];
        let services: Vec<Svc> = input.iter().enumerate().map(|(i, (c, held, asked, dual))| {
            let mut s = svc(&format!("n/s{i}"), &format!("{c:03}"));
            s.v6 = *dual;
            s.current = held.iter().map(|o| ip(&format!("192.0.2.{o}"))).collect();
            s.requested = asked.iter().map(|o| ip(&format!("192.0.2.{o}"))).collect();
            s
        }).collect();
        let a = allocate(&pools, &services, &none());
        let mut owner: BTreeMap<IpAddr, String> = BTreeMap::new();
        for s in &services {
            let d = &a.services[&s.key];
            let now = d.write.clone().unwrap_or_else(|| s.current.clone());
            for x in &now {
                if d.write.is_some() {
                    prop_assert!(pools.iter().any(|p| p.range.contains(*x)) || s.current.contains(x));
                }
                prop_assert!(owner.insert(*x, s.key.clone()).is_none(), "{x} twice");
            }
        }
        for s in &services {
            let alone = s.current.len() == 1
                && s.requested.is_empty()
                && services.iter().filter(|o| o.current.contains(&s.current[0])).count() == 1;
            if alone {
                let d = &a.services[&s.key];
                let now = d.write.clone().unwrap_or_else(|| s.current.clone());
                prop_assert!(now.contains(&s.current[0]), "{} lost {}", s.key, s.current[0]);
            }
        }
    }
}

/// The race a dual-stack Service created with its pools ran into: its
/// status holds the IPv4 address, the IPv6 Eip already names it (that
/// write landed, the Service's got a 409). The claimed address is kept
/// and written to its status, not taken for written, nor replaced.
#[test]
fn a_claim_in_an_eip_missing_from_the_status_is_written() {
    let pools = [
        pool("v4", "192.0.2.10-192.0.2.12", true),
        pool("v6", "2001:db8:1::10-2001:db8:1::12", true),
    ];
    let mut s = svc("a/dual", "1");
    s.v6 = true;
    s.current = vec![ip("192.0.2.10")];
    s.claimed = vec![ip("2001:db8:1::11")];
    let a = allocate(&pools, &[s], &none());
    assert_eq!(
        a.services["a/dual"].write,
        Some(vec![ip("192.0.2.10"), ip("2001:db8:1::11")])
    );
    assert_eq!(
        a.used["v6"].keys().collect::<Vec<_>>(),
        [&ip("2001:db8:1::11")]
    );
}
