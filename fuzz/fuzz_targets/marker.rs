//! The restart marker's reader takes any text (a file anyone may have
//! put there): it never panics, and what it accepts is written back to
//! the same marker.
#![no_main]
use leafvip::runtime::marker::Marker;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(m) = Marker::parse(text) {
        assert_eq!(Marker::parse(&m.encode()), Some(m.clone()));
        let _ = m.fresh(u64::MAX, u64::MAX, u16::MAX);
        let _ = m.fresh(m.boot, m.went, 0);
    }
});
