//! Property: for any sequence of desired-set changes, session flaps and
//! refreshes, replaying the emitted UPDATEs (through the real encoder and
//! decoder) onto an empty table yields exactly the desired set.
mod common;
use leafvip_bgp::rib_out::{path_id, AdjRibOut, Route, RouteAttrs};
use leafvip_bgp::session::Negotiated;
use leafvip_bgp::wire::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
enum Op {
    Set(Vec<(u8, u8, u8)>),
    Insert(u8, u8, u8),
    Remove(u8, u8),
    Flap,
    Refresh(bool),
}

fn route(p: u8, nh: u8, attrs: u8) -> Route {
    let v6 = p % 2 == 1;
    let prefix = if v6 {
        Prefix::host(IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            0,
            0,
            0,
            0,
            u16::from(p),
        )))
    } else {
        Prefix::host(IpAddr::V4(Ipv4Addr::new(192, 0, 2, p)))
    };
    // Next hops of both families, so some never fit the prefix.
    let next_hop = if nh % 3 == 0 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, u16::from(nh)))
    } else {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, nh))
    };
    let a = RouteAttrs {
        med: (attrs % 2 == 1).then_some(u32::from(attrs)),
        communities: vec![0xfde8_0000 | u32::from(attrs % 3)],
        ..RouteAttrs::default()
    };
    Route {
        prefix,
        next_hop,
        attrs: Arc::new(a),
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec((0u8..40, 1u8..7, 0u8..4), 0..60).prop_map(Op::Set),
        3 => (0u8..40, 1u8..7, 0u8..4).prop_map(|(p, n, a)| Op::Insert(p, n, a)),
        3 => (0u8..40, 1u8..7).prop_map(|(p, n)| Op::Remove(p, n)),
        1 => Just(Op::Flap),
        1 => any::<bool>().prop_map(Op::Refresh),
    ]
}

type Table = BTreeMap<(Prefix, u32), (IpAddr, Option<u32>, Vec<u32>)>;

/// Applies `updates` to the receiver's `table`. `stale` holds what the
/// receiver had when it last asked for a ROUTE-REFRESH: whatever is
/// announced or withdrawn again leaves it.
fn replay(
    table: &mut Table,
    stale: &mut BTreeSet<(Prefix, u32)>,
    updates: Vec<Update>,
    ctx: &Context,
) {
    for u in updates {
        let bytes = Message::Update(u)
            .to_bytes(ctx)
            .expect("fits the negotiated size");
        let Ok(Message::Update(u)) = Message::parse(&bytes, ctx) else {
            panic!("decodes")
        };
        assert_eq!(u.review(false, 65100).action(), Revision::Accept, "{u:?}");
        for (_, n) in u.withdrawals() {
            stale.remove(&(n.prefix, n.path_id.unwrap_or(0)));
            assert!(
                table.remove(&(n.prefix, n.path_id.unwrap_or(0))).is_some(),
                "withdrawing what was sent"
            );
        }
        let nh = match (
            u.attribute(attr_code::NEXT_HOP),
            u.attribute(attr_code::MP_REACH_NLRI),
        ) {
            (
                _,
                Some(AttrValue::MpReach(MpReach {
                    next_hop: MpNextHop::V6 { global, .. },
                    ..
                })),
            ) => IpAddr::V6(*global),
            (Some(AttrValue::NextHop(a)), _) => IpAddr::V4(*a),
            _ => continue,
        };
        let med = match u.attribute(attr_code::MED) {
            Some(AttrValue::Med(m)) => Some(*m),
            _ => None,
        };
        let comms = match u.attribute(attr_code::COMMUNITIES) {
            Some(AttrValue::Communities(c)) => c.clone(),
            _ => vec![],
        };
        for (_, n) in u.announced() {
            stale.remove(&(n.prefix, n.path_id.unwrap_or(0)));
            table.insert((n.prefix, n.path_id.unwrap_or(0)), (nh, med, comms.clone()));
        }
    }
}

fn expected(desired: &BTreeMap<(Prefix, IpAddr), Route>, add_path: FamilySet) -> Table {
    let mut by_prefix: BTreeMap<Prefix, Vec<&Route>> = BTreeMap::new();
    for r in desired.values() {
        if leafvip_bgp::rib_out::next_hop_fits(&r.prefix, r.next_hop) {
            by_prefix.entry(r.prefix).or_default().push(r);
        }
    }
    let mut t = Table::new();
    for (p, rs) in by_prefix {
        let entry = |r: &Route| (r.next_hop, r.attrs.med, r.attrs.communities.clone());
        if add_path.contains(p.family()) {
            let hops: Vec<IpAddr> = rs.iter().map(|r| r.next_hop).collect();
            for (id, r) in path_id::assign(&hops).into_iter().zip(&rs) {
                t.insert((p, id), entry(r));
            }
        } else {
            t.insert((p, 0), entry(rs[0]));
        }
    }
    t
}

/// Paths held back: past one per prefix where the family has no ADD-PATH.
fn suppressed(desired: &BTreeMap<(Prefix, IpAddr), Route>, add_path: FamilySet) -> usize {
    let mut per: BTreeMap<Prefix, usize> = BTreeMap::new();
    for r in desired.values() {
        if leafvip_bgp::rib_out::next_hop_fits(&r.prefix, r.next_hop) {
            *per.entry(r.prefix).or_default() += 1;
        }
    }
    per.iter()
        .filter(|(p, _)| !add_path.contains(p.family()))
        .map(|(_, n)| n - 1)
        .sum()
}

/// The counters the Adj-RIB-Out keeps as it works agree with what the
/// peer was sent and with the desired set, and so does the per-prefix view.
fn counters_agree(
    rib: &AdjRibOut,
    table: &Table,
    desired: &BTreeMap<(Prefix, IpAddr), Route>,
    add_path: FamilySet,
) -> Result<(), TestCaseError> {
    for f in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
        let held = table.keys().filter(|(p, _)| p.family() == f).count();
        prop_assert_eq!(rib.sent_count(f), held, "paths held, {}", f);
    }
    prop_assert_eq!(rib.suppressed(), suppressed(desired, add_path));
    for (p, _) in desired.keys() {
        let mut at_peer: Vec<(u32, IpAddr)> = table
            .iter()
            .filter(|((q, _), _)| q == p)
            .map(|((_, id), (nh, _, _))| (*id, *nh))
            .collect();
        at_peer.sort_by_key(|(_, nh)| *nh);
        prop_assert_eq!(rib.sent_for(p), at_peer, "sent_for {}", p);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn replaying_updates_yields_the_desired_set(
        ops in proptest::collection::vec(op(), 1..16), ap4: bool, ap6: bool, ext: bool, batch: bool, limit in 1usize..6
    ) {
        let mut add_path = FamilySet::EMPTY;
        if ap4 { add_path.insert(Family::IPV4_UNICAST); }
        if ap6 { add_path.insert(Family::IPV6_UNICAST); }
        let neg = Negotiated {
            peer_as: 65001, peer_id: Ipv4Addr::new(198, 51, 100, 2), ibgp: false, hold_time: 90,
            keepalive: Some(Duration::from_secs(30)), families: FamilySet::BOTH, four_octet_as: true,
            add_path_send: add_path, add_path_receive: FamilySet::EMPTY, extended_messages: ext,
            route_refresh: true, peer_graceful_restart: None,
        };
        let ctx = neg.send_context();
        let mut rib = AdjRibOut::new(65100);
        rib.session_up(&neg);
        let mut table = Table::new();
        let mut stale = BTreeSet::new();
        let mut desired: BTreeMap<(Prefix, IpAddr), Route> = BTreeMap::new();
        for op in ops {
            let op_kind = match op { Op::Insert(..) | Op::Remove(..) | Op::Set(..) => 0, _ => 1 };
            match op {
                Op::Set(rs) => {
                    desired = rs.into_iter().map(|(p, n, a)| route(p, n, a)).map(|r| ((r.prefix, r.next_hop), r)).collect();
                    rib.set_routes(desired.values().cloned());
                }
                Op::Insert(p, n, a) => {
                    let r = route(p, n, a);
                    desired.insert((r.prefix, r.next_hop), r.clone());
                    rib.insert(r);
                }
                Op::Remove(p, n) => {
                    let r = route(p, n, 0);
                    let was = desired.remove(&(r.prefix, r.next_hop)).is_some();
                    prop_assert_eq!(rib.remove(&r.prefix, r.next_hop), was);
                }
                Op::Flap => {
                    rib.session_down();
                    table.clear();
                    stale.clear();
                    rib.session_up(&neg);
                }
                Op::Refresh(v6) => {
                    let f = if v6 { Family::IPV6_UNICAST } else { Family::IPV4_UNICAST };
                    // The receiver needs every path of the family again.
                    stale.extend(table.keys().filter(|(p, _)| p.family() == f).copied());
                    rib.route_refresh(f);
                }
            }
            if batch && matches!(op_kind, 0) {
                // Let changes pile up, and the sync advance only a little,
                // so changes also land in the middle of a sync.
                replay(&mut table, &mut stale, rib.poll_batch(limit), &ctx);
                counters_agree(&rib, &table, &desired, add_path)?;
                continue;
            }
            while rib.has_pending() {
                replay(&mut table, &mut stale, rib.poll_batch(limit), &ctx);
                counters_agree(&rib, &table, &desired, add_path)?;
            }
            prop_assert!(!rib.has_pending());
            prop_assert!(stale.is_empty(), "not sent again after ROUTE-REFRESH: {:?}", stale);
            prop_assert_eq!(&table, &expected(&desired, add_path));
            prop_assert_eq!(rib.sent().len(), table.len());
        }
        replay(&mut table, &mut stale, rib.poll_updates(), &ctx);
        prop_assert_eq!(&table, &expected(&desired, add_path));
        counters_agree(&rib, &table, &desired, add_path)?;
    }
}
