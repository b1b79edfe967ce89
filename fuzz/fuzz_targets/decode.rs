//! Message decoding under an arbitrary negotiated context. The first byte
//! picks the context; the rest is one message (a header is added when the
//! input does not start with a marker, so the fuzzer reaches the bodies).
//! Whatever decodes must re-encode to bytes that decode the same, and its RFC 7606
//! review must not panic either.
#![no_main]
use leafvip_bgp::wire::{Context, Family, FamilySet, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let mut add_path = FamilySet::EMPTY;
    if sel & 1 != 0 {
        add_path.insert(Family::IPV4_UNICAST);
    }
    if sel & 2 != 0 {
        add_path.insert(Family::IPV6_UNICAST);
    }
    let ctx = Context { four_octet_as: sel & 4 != 0, add_path, extended_messages: sel & 8 != 0 };
    let mut owned;
    let msg: &[u8] = if sel & 16 != 0 || rest.is_empty() {
        rest
    } else {
        // rest[0] is the type, the remainder the body.
        owned = vec![0xff; 16];
        owned.extend_from_slice(&((19 + rest.len() - 1).min(65535) as u16).to_be_bytes());
        owned.extend_from_slice(rest);
        &owned
    };
    let _ = leafvip_bgp::wire::next_message_len(msg, &ctx);
    match Message::parse(msg, &ctx) {
        Ok(m) => {
            if let Message::Update(u) = &m {
                let v = u.review(sel & 32 != 0, 65001);
                let _ = v.action();
                let _ = u.end_of_rib_family();
            }
            if let Message::Notification(n) = &m {
                let _ = n.to_string();
            }
            // Canonical inputs come back byte for byte (the property tests
            // check that); here, where host bits in prefixes or a non-zero
            // reserved octet may be cleared, re-parsing must agree.
            let back = m.to_bytes(&ctx).expect("a parsed message fits its own limit");
            assert_eq!(Message::parse(&back, &ctx).as_ref(), Ok(&m), "parse/emit symmetry");
        }
        Err(e) => {
            let _ = e.notification();
            let _ = e.to_string();
        }
    }
});
