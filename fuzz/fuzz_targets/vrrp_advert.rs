//! VRRP ADVERTISEMENTs from the wire, for either family: decode never
//! panics, and whatever decodes encodes back to the bytes it came from
//! (the part its address count covers; the reserved bits excepted).
#![no_main]
use leafvip_vrrp::packet::{Advert, GROUP_V4, GROUP_V6, HEADER, TTL};
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let Some((&first, b)) = data.split_first() else {
        return;
    };
    let (src, dst): (IpAddr, IpAddr) = match first & 1 {
        0 => ("198.51.100.2".parse().unwrap(), GROUP_V4.into()),
        _ => ("fe80::2".parse().unwrap(), GROUP_V6.into()),
    };
    if let Ok(ad) = Advert::decode(src, dst, TTL, b) {
        let again = ad.encode(src, dst);
        assert_eq!(Advert::decode(src, dst, TTL, &again), Ok(ad));
        assert!(again.len() >= HEADER);
        assert_eq!(again[..4], b[..4]);
        assert_eq!(again[4] & 0x0f, b[4] & 0x0f);
        assert_eq!(again[5], b[5]);
        assert_eq!(again[HEADER..], b[HEADER..again.len()]);
        // The checksum too, unless reserved bits it covered are now zero.
        if b[4] & 0xf0 == 0 {
            assert_eq!(again[6..8], b[6..8]);
        }
    }
});
