//! An Eip's spec as the API server could hand it over: any JSON. The
//! reader returns a pool or the field that is wrong, and never panics; a
//! layer2 pool's interface reads as a name or `can_reach:`, and its
//! error names `spec.interface`.
#![no_main]
use leafvip::lb::{object::Meta, pool};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let meta = Meta {
        name: "fuzz".into(),
        ..Meta::default()
    };
    match pool::eip(&meta, &spec) {
        Ok(p) => {
            assert!(p.range.size() >= 1);
            assert!(p.range.contains(p.range.first()) && p.range.contains(p.range.last()));
        }
        Err(e) => {
            let text = e.to_string();
            assert!(text.starts_with("spec."), "{text}");
        }
    }
});
