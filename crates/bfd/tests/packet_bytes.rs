//! Control packets as bytes: vectors laid out by hand from RFC 5880 4.1
//! (captures from FRR's bfdd and BIRD are in `captured.rs`), each
//! discard rule of 6.8.6 that needs no session, and a property test: any
//! packet survives encode and decode, and no input makes decode panic.
use leafvip_bfd::packet::{DecodeError, Diag, Packet, State, LEN};
use proptest::prelude::*;

/// An Up packet with Poll: version 1, diag 0, state Up, P, detect mult 3,
/// my 0x11223344, your 0x55667788, 100 ms TX and RX, no echo.
const UP_POLL: [u8; 24] = [
    0x20, 0xe0, 0x03, 0x18, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x00, 0x01, 0x86, 0xa0,
    0x00, 0x01, 0x86, 0xa0, 0x00, 0x00, 0x00, 0x00,
];

/// A Down packet after a detection timeout (diag 1), Your Discriminator 0
/// (allowed in Down), 1 s TX as RFC 5880 6.8.3 asks before Up.
const DOWN: [u8; 24] = [
    0x21, 0x40, 0x03, 0x18, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x42, 0x40,
    0x00, 0x0f, 0x42, 0x40, 0x00, 0x00, 0x00, 0x00,
];

#[test]
fn vectors_decode_and_encode_back() {
    let p = Packet::decode(&UP_POLL).unwrap();
    assert_eq!(
        p,
        Packet {
            diag: Diag::None,
            state: State::Up,
            poll: true,
            fin: false,
            cpi: false,
            demand: false,
            detect_mult: 3,
            my_disc: 0x1122_3344,
            your_disc: 0x5566_7788,
            desired_min_tx: 100_000,
            required_min_rx: 100_000,
            required_min_echo_rx: 0,
        }
    );
    assert_eq!(p.encode(), UP_POLL);
    let d = Packet::decode(&DOWN).unwrap();
    assert_eq!(
        (d.state, d.diag, d.your_disc, d.desired_min_tx),
        (State::Down, Diag::ControlDetectionTimeExpired, 0, 1_000_000)
    );
    assert_eq!(d.encode(), DOWN);
}

#[test]
fn each_discard_rule() {
    let with = |i: usize, v: u8| {
        let mut b = UP_POLL;
        b[i] = v;
        Packet::decode(&b)
    };
    assert_eq!(
        Packet::decode(&UP_POLL[..20]),
        Err(DecodeError::Short { got: 20 })
    );
    assert_eq!(with(0, 0x40), Err(DecodeError::Version(2)));
    assert_eq!(with(3, 20), Err(DecodeError::Length(20)));
    assert_eq!(with(3, 30), Err(DecodeError::Short { got: 24 }));
    assert_eq!(
        with(1, 0xe4),
        Err(DecodeError::Length(24)),
        "A needs 26 bytes and more"
    );
    let mut auth = UP_POLL.to_vec();
    auth[1] = 0xe4;
    auth[3] = 26;
    auth.extend_from_slice(&[1, 2]);
    assert_eq!(Packet::decode(&auth), Err(DecodeError::AuthUnexpected));
    assert_eq!(with(2, 0), Err(DecodeError::DetectMult));
    assert_eq!(with(1, 0xe1), Err(DecodeError::Multipoint));
    let mut b = UP_POLL;
    b[4..8].fill(0);
    assert_eq!(Packet::decode(&b), Err(DecodeError::MyDiscriminator));
    let mut b = UP_POLL;
    b[8..12].fill(0);
    assert_eq!(
        Packet::decode(&b),
        Err(DecodeError::YourDiscriminator(State::Up))
    );
    // Longer than Length (padding, or an unsupported trailer): the packet
    // is what Length says.
    let mut long = UP_POLL.to_vec();
    long.extend_from_slice(&[0xff; 8]);
    assert_eq!(Packet::decode(&long), Packet::decode(&UP_POLL));
    assert_eq!(UP_POLL.len(), LEN);
}

fn state() -> impl Strategy<Value = State> {
    prop_oneof![
        Just(State::AdminDown),
        Just(State::Down),
        Just(State::Init),
        Just(State::Up)
    ]
}

proptest! {
    #[test]
    fn any_packet_round_trips(
        state in state(),
        diag in 0u8..32,
        flags in any::<[bool; 4]>(),
        detect_mult in 1u8..,
        my_disc in 1u32..,
        your_disc in 1u32..,
        times in any::<[u32; 3]>(),
    ) {
        let p = Packet {
            diag: Diag::from_code(diag),
            state,
            poll: flags[0],
            fin: flags[1],
            cpi: flags[2],
            demand: flags[3],
            detect_mult,
            my_disc,
            your_disc,
            desired_min_tx: times[0],
            required_min_rx: times[1],
            required_min_echo_rx: times[2],
        };
        prop_assert_eq!(Packet::decode(&p.encode()), Ok(p));
    }

    #[test]
    fn no_input_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Packet::decode(&b);
    }
}
