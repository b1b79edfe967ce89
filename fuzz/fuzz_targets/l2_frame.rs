//! Frames from the segment in layer-2 mode: reading never panics, and
//! answering what was read never panics either.
#![no_main]
use leafvip::l2::frames::{self, Asked};
use libfuzzer_sys::fuzz_target;

const OURS: frames::Mac = [0x02, 0, 0x5e, 0, 1, 1];

fuzz_target!(|data: &[u8]| {
    match frames::read(data) {
        Ok(Asked::Arp { mac, ip, target }) => {
            let r = frames::arp_reply(OURS, target, (mac, ip));
            assert!(frames::read(&r).is_err(), "a reply asks nothing");
        }
        Ok(Asked::Solicit { mac, ip, target }) => {
            let r = frames::advertise(OURS, target, Some((mac, ip)));
            assert!(frames::read(&r).is_err(), "an advertisement asks nothing");
        }
        Err(_) => {}
    }
});
