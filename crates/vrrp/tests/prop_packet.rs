//! The codec on any input: every advertisement encodes and decodes back
//! to itself for either family, and any bytes decode to a value or an
//! error, never a panic.
use leafvip_vrrp::packet::{Advert, DecodeError, GROUP_V4, GROUP_V6, TTL};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn addrs(v6: bool) -> impl Strategy<Value = Vec<IpAddr>> {
    let one = match v6 {
        true => any::<u128>()
            .prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)))
            .boxed(),
        false => any::<u32>()
            .prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .boxed(),
    };
    proptest::collection::vec(one, 1..20)
}

fn ends(v6: bool) -> (IpAddr, IpAddr) {
    match v6 {
        true => ("fe80::7".parse().unwrap(), GROUP_V6.into()),
        false => ("198.51.100.7".parse().unwrap(), GROUP_V4.into()),
    }
}

proptest! {
    #[test]
    fn adverts_round_trip(
        (v6, addrs) in any::<bool>().prop_flat_map(|v6| (Just(v6), addrs(v6))),
        vrid in 1u8..=255,
        priority in any::<u8>(),
        interval in 1u16..=4095,
    ) {
        let (src, dst) = ends(v6);
        let ad = Advert { vrid, priority, interval, addrs };
        let b = ad.encode(src, dst);
        prop_assert_eq!(Advert::decode(src, dst, TTL, &b), Ok(ad));
    }

    #[test]
    fn any_bytes_decode_or_fail_cleanly(v6 in any::<bool>(), b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (src, dst) = ends(v6);
        match Advert::decode(src, dst, TTL, &b) {
            Ok(ad) => prop_assert!(!ad.addrs.is_empty() && ad.vrid != 0 && ad.interval != 0),
            Err(DecodeError::Ttl(_) | DecodeError::Family) => prop_assert!(false, "checked before the bytes"),
            Err(_) => {}
        }
    }
}
