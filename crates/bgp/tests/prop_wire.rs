//! Property: encoding then decoding any well-formed message gives it back,
//! and decoding arbitrary bytes never panics.
mod common;
use common::strategies;
use leafvip_bgp::wire::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn encode_decode_roundtrip((ctx, msg) in strategies::context().prop_flat_map(|c| (Just(c), strategies::message(c)))) {
        let Ok(bytes) = msg.to_bytes(&ctx) else {
            // Too long for this context: emit must refuse, never truncate.
            prop_assert!(ctx.max_message_len() <= 65535);
            return Ok(());
        };
        let mut expected = msg;
        if let Message::Open(o) = &mut expected {
            // Parameters over 255 bytes force the RFC 9072 format.
            o.extended_params |= bytes[28] == 255 && bytes[29] == 255;
        }
        if let Message::Update(u) = &mut expected {
            // Values over 255 bytes get the Extended Length flag.
            for a in &mut u.attributes {
                let alone = Update { attributes: vec![a.clone()], ..Update::default() };
                let b = Message::Update(alone).to_bytes(&Context { extended_messages: true, ..ctx }).unwrap();
                a.flags = b[23];
            }
        }
        let back = Message::parse(&bytes, &ctx);
        prop_assert_eq!(back, Ok(expected.clone()));
        prop_assert_eq!(expected.to_bytes(&ctx).unwrap(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(ctx in strategies::context(), kind in 1u8..=6, body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        m.push(kind);
        m.extend_from_slice(&body);
        if let Ok(Message::Update(u)) = Message::parse(&m, &ctx) {
            let _ = u.review(false, 65001);
            // Whatever parsed re-encodes to the bytes it came from.
            prop_assert_eq!(Message::Update(u).to_bytes(&ctx).ok(), Some(m));
        }
    }
}
