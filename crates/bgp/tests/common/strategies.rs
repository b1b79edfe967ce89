//! proptest strategies for well-formed messages under a given context.
use leafvip_bgp::wire::*;
use proptest::collection::vec;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub fn context() -> impl Strategy<Value = Context> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(f, a4, a6, x)| {
        let mut add_path = FamilySet::EMPTY;
        if a4 {
            add_path.insert(Family::IPV4_UNICAST);
        }
        if a6 {
            add_path.insert(Family::IPV6_UNICAST);
        }
        Context {
            four_octet_as: f,
            add_path,
            extended_messages: x,
        }
    })
}

pub fn prefix(v6: bool) -> BoxedStrategy<Prefix> {
    if v6 {
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, l)| Prefix::new(IpAddr::V6(Ipv6Addr::from(a)), l).unwrap())
            .boxed()
    } else {
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, l)| Prefix::new(IpAddr::V4(Ipv4Addr::from(a)), l).unwrap())
            .boxed()
    }
}

pub fn nlri(ctx: Context, family: Family, max: usize) -> BoxedStrategy<Vec<Nlri>> {
    let ap = ctx.add_path.contains(family);
    vec(
        (prefix(family == Family::IPV6_UNICAST), any::<u32>()),
        0..max,
    )
    .prop_map(move |v| {
        v.into_iter()
            .map(|(prefix, id)| Nlri {
                path_id: ap.then_some(id),
                prefix,
            })
            .collect()
    })
    .boxed()
}

fn asn(four: bool) -> BoxedStrategy<u32> {
    if four {
        any::<u32>().boxed()
    } else {
        (0u32..=65535).boxed()
    }
}

fn as_path(four: bool) -> impl Strategy<Value = AsPath> {
    let kind = prop_oneof![
        Just(SegmentType::Set),
        Just(SegmentType::Sequence),
        Just(SegmentType::ConfedSequence),
        Just(SegmentType::ConfedSet)
    ];
    vec((kind, vec(asn(four), 1..12)), 0..4).prop_map(|segs| AsPath {
        segments: segs
            .into_iter()
            .map(|(kind, asns)| Segment { kind, asns })
            .collect(),
    })
}

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn mp_next_hop() -> impl Strategy<Value = MpNextHop> {
    prop_oneof![
        v4().prop_map(MpNextHop::V4),
        (any::<u128>(), proptest::option::of(any::<u128>())).prop_map(|(g, l)| MpNextHop::V6 {
            global: g.into(),
            link_local: l.map(Into::into)
        }),
        vec(any::<u8>(), 0..40)
            .prop_filter("not an address length", |b| ![4, 16, 32].contains(&b.len()))
            .prop_map(MpNextHop::Other),
    ]
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::IPV4_UNICAST), Just(Family::IPV6_UNICAST)]
}

/// Values that are not MP attributes.
fn plain_value(ctx: Context) -> impl Strategy<Value = AttrValue> {
    let four = ctx.four_octet_as;
    prop_oneof![
        prop_oneof![
            Just(Origin::Igp),
            Just(Origin::Egp),
            Just(Origin::Incomplete)
        ]
        .prop_map(AttrValue::Origin),
        as_path(four).prop_map(AttrValue::AsPath),
        v4().prop_map(AttrValue::NextHop),
        any::<u32>().prop_map(AttrValue::Med),
        any::<u32>().prop_map(AttrValue::LocalPref),
        Just(AttrValue::AtomicAggregate),
        (asn(four), v4()).prop_map(|(asn, addr)| AttrValue::Aggregator(Aggregator { asn, addr })),
        vec(any::<u32>(), 0..20).prop_map(AttrValue::Communities),
        v4().prop_map(AttrValue::OriginatorId),
        vec(any::<u32>(), 0..8).prop_map(AttrValue::ClusterList),
        vec(any::<[u8; 8]>(), 0..8).prop_map(AttrValue::ExtendedCommunities),
        as_path(true).prop_map(AttrValue::As4Path),
        (any::<u32>(), v4())
            .prop_map(|(asn, addr)| AttrValue::As4Aggregator(Aggregator { asn, addr })),
        vec(any::<(u32, u32, u32)>(), 0..8).prop_map(|v| AttrValue::LargeCommunities(
            v.into_iter()
                .map(|(global, local1, local2)| LargeCommunity {
                    global,
                    local1,
                    local2
                })
                .collect()
        )),
        (prop_oneof![19u8..=31, 33u8..=255], vec(any::<u8>(), 0..300))
            .prop_map(|(code, data)| AttrValue::Unknown { code, data }),
    ]
}

fn attribute(value: AttrValue, extended: bool, partial: bool) -> PathAttribute {
    let mut a = PathAttribute::new(value);
    if extended {
        a.flags |= attr_flag::EXTENDED_LENGTH;
    }
    if partial && a.flags & attr_flag::OPTIONAL != 0 && a.flags & attr_flag::TRANSITIVE != 0 {
        a.flags |= attr_flag::PARTIAL;
    }
    a
}

pub fn update(ctx: Context) -> impl Strategy<Value = Update> {
    let mp_reach = (family(), mp_next_hop()).prop_flat_map(move |(family, next_hop)| {
        nlri(ctx, family, 20).prop_map(move |nlri| {
            AttrValue::MpReach(MpReach {
                family,
                next_hop: next_hop.clone(),
                nlri,
            })
        })
    });
    let mp_unreach = family().prop_flat_map(move |family| {
        nlri(ctx, family, 20)
            .prop_map(move |withdrawn| AttrValue::MpUnreach(MpUnreach { family, withdrawn }))
    });
    (
        nlri(ctx, Family::IPV4_UNICAST, 30),
        vec((plain_value(ctx), any::<bool>(), any::<bool>()), 0..8),
        proptest::option::of(mp_reach),
        proptest::option::of(mp_unreach),
        nlri(ctx, Family::IPV4_UNICAST, 30),
        any::<usize>(),
    )
        .prop_map(|(withdrawn, plain, reach, unreach, nlri, pos)| {
            let mut attributes: Vec<PathAttribute> = plain
                .into_iter()
                .map(|(v, e, p)| attribute(v, e, p))
                .collect();
            for mp in [reach, unreach].into_iter().flatten() {
                let at = pos % (attributes.len() + 1);
                attributes.insert(at, attribute(mp, false, false));
            }
            Update {
                withdrawn,
                attributes,
                nlri,
                unframed: Vec::new(),
            }
        })
}

fn capability() -> impl Strategy<Value = Capability> {
    let entry = (family(), 1u8..=3).prop_map(|(family, m)| AddPathEntry {
        family,
        mode: AddPathMode(m),
    });
    let grf = (any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(afi, safi, flags)| GrFamily {
        family: Family::new(afi, safi),
        flags,
    });
    prop_oneof![
        (any::<u16>(), any::<u8>()).prop_map(|(a, s)| Capability::Multiprotocol(Family::new(a, s))),
        Just(Capability::RouteRefresh),
        Just(Capability::ExtendedMessage),
        any::<u32>().prop_map(Capability::FourOctetAs),
        vec(entry, 1..4).prop_map(Capability::AddPath),
        (0u8..16, 0u16..4096, vec(grf, 0..4)).prop_map(|(flags, restart_time, families)| {
            Capability::GracefulRestart(GracefulRestart {
                flags,
                restart_time,
                families,
            })
        }),
        (
            prop_oneof![3u8..=5, 7u8..=63, 66u8..=68, 70u8..=255],
            vec(any::<u8>(), 0..16)
        )
            .prop_map(|(code, data)| Capability::Unknown { code, data }),
    ]
}

pub fn open() -> impl Strategy<Value = Open> {
    (
        any::<u16>(),
        any::<u16>(),
        v4(),
        vec(vec(capability(), 0..6), 0..5),
        any::<bool>(),
    )
        .prop_map(|(my_as, hold_time, bgp_id, params, extended_params)| Open {
            version: 4,
            my_as,
            hold_time,
            bgp_id,
            params,
            extended_params,
        })
}

pub fn message(ctx: Context) -> impl Strategy<Value = Message> {
    prop_oneof![
        open().prop_map(Message::Open),
        update(ctx).prop_map(Message::Update),
        (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..64))
            .prop_map(|(c, s, d)| Message::Notification(Notification::new(c, s, d))),
        Just(Message::Keepalive),
        (any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(a, t, s)| Message::RouteRefresh(
            RouteRefresh {
                family: Family::new(a, s),
                subtype: t
            }
        )),
    ]
}
