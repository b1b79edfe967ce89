//! BFD control packets from the wire: decode never panics, and whatever
//! decodes encodes back to the bytes it came from (the Length field's
//! part of them).
#![no_main]
use leafvip_bfd::packet::{Packet, LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::decode(data) {
        let again = Packet::decode(&p.encode()).expect("an encoded packet decodes");
        assert_eq!(again, p);
        // Reserved diagnostics and the flags decode keeps are all encoded.
        assert_eq!(&p.encode()[..2], &data[..2]);
        assert!(data.len() >= LEN);
    }
});
