//! Malformed input gets the NOTIFICATION RFC 4271 asks for, or the milder
//! RFC 7606 outcome (treat-as-withdraw, attribute discard) where that RFC
//! replaces the session reset.
mod common;
use common::{hex, MARKER};
use leafvip_bgp::wire::*;

const CTX: Context = Context {
    four_octet_as: true,
    add_path: FamilySet::EMPTY,
    extended_messages: false,
};

fn notif(bytes: &[u8]) -> (u8, u8, Vec<u8>) {
    let e = Message::parse(bytes, &CTX).expect_err("must not parse");
    let n = e.notification().expect("answered with a NOTIFICATION");
    (n.code, n.subcode, n.data)
}

/// An UPDATE with the given attribute bytes and one IPv4 NLRI.
fn update_with(attrs: &str) -> Vec<u8> {
    let a = hex(attrs);
    let nlri = hex("20 c00002c8");
    let mut m = hex(MARKER);
    m.extend_from_slice(&((23 + a.len() + nlri.len()) as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&(a.len() as u16).to_be_bytes());
    m.extend_from_slice(&a);
    m.extend_from_slice(&nlri);
    m
}

const GOOD: &str = "40 01 01 00  40 02 06 02 01 0000fde9  40 03 04 c6336402";

fn verdict(bytes: &[u8], ibgp: bool) -> Verdict {
    let Message::Update(u) = Message::parse(bytes, &CTX).expect("parses") else {
        panic!()
    };
    u.review(ibgp, 65001)
}

fn one_problem(v: &Verdict) -> (u8, u8, Revision) {
    assert_eq!(v.problems.len(), 1, "{v:?}");
    let p = v.problems[0];
    (p.attribute, p.subcode, p.action)
}

#[test]
fn header_errors() {
    let mut bad_marker = hex(&format!("{MARKER} 0013 04"));
    bad_marker[3] = 0;
    assert_eq!(notif(&bad_marker), (1, 1, vec![]));
    assert_eq!(
        notif(&hex(&format!("{MARKER} 0014 04 00"))),
        (1, 2, vec![0, 0x14]),
        "KEEPALIVE of 20"
    );
    assert_eq!(notif(&hex(&format!("{MARKER} 0013 09"))), (1, 3, vec![9]));
    assert_eq!(
        notif(&hex(&format!("{MARKER} 0015 02 0000"))),
        (1, 2, vec![0, 0x15]),
        "UPDATE under 23"
    );
    let framing = next_message_len(&hex(&format!("{MARKER} 1001")), &CTX);
    assert_eq!(framing, Ok(None), "header incomplete: wait");
    let over = next_message_len(&hex(&format!("{MARKER} 1001 02")), &CTX);
    assert_eq!(
        over.unwrap_err().notification().unwrap().subcode,
        2,
        "4097 without RFC 8654"
    );
}

#[test]
fn open_errors() {
    assert_eq!(
        notif(&hex(&format!("{MARKER} 001d 01 03 fde9 005a c6336402 00"))),
        (2, 1, vec![0, 4])
    );
    assert_eq!(
        notif(&hex(&format!(
            "{MARKER} 0020 01 04 fde9 005a c6336402 03 01 01 00"
        )))
        .1,
        4
    );
    assert_eq!(
        notif(&hex(&format!(
            "{MARKER} 0020 01 04 fde9 005a c6336402 03 02 01 41"
        )))
        .0,
        2,
        "truncated capability"
    );
    assert_eq!(
        notif(&hex(&format!(
            "{MARKER} 0023 01 04 fde9 005a c6336402 06 02 04 41 02 0000"
        ))),
        (2, 0, vec![65]),
        "4-octet AS capability of length 2"
    );
}

#[test]
fn update_session_reset_cases() {
    assert_eq!(
        notif(&hex(&format!("{MARKER} 0017 02 0009 0000"))).1,
        1,
        "withdrawn length overruns"
    );
    assert_eq!(
        notif(&hex(&format!("{MARKER} 0017 02 0000 0009"))).1,
        1,
        "attribute length overruns"
    );
    assert_eq!(
        notif(&hex(&format!("{MARKER} 001c 02 0000 0000 21 c00002c8"))).1,
        10,
        "NLRI /33"
    );
    let unknown_wk = update_with(&format!("{GOOD} 40 63 01 00"));
    assert_eq!(notif(&unknown_wk), (3, 2, vec![0x40, 0x63, 1, 0]));
    let mp_trunc = update_with(&format!("{GOOD} 80 0e 02 0002"));
    assert_eq!(notif(&mp_trunc).1, 9);
    let mp_twice = update_with(&format!("{GOOD} 80 0f 03 000201 80 0f 03 000201"));
    assert_eq!(notif(&mp_twice).1, 1);
    let mp_bad_nlri = update_with(&format!("{GOOD} 80 0f 05 000201 81 20"));
    assert_eq!(notif(&mp_bad_nlri).1, 9, "IPv6 /129 in MP_UNREACH");
    let rr = hex(&format!("{MARKER} 0018 05 0001 00 01 00"));
    assert_eq!(notif(&rr), (7, 1, rr.clone()));
}

#[test]
fn treat_as_withdraw_cases() {
    use Revision::*;
    let bad_origin = update_with("40 01 01 05  40 02 06 02 01 0000fde9  40 03 04 c6336402");
    assert_eq!(
        one_problem(&verdict(&bad_origin, false)),
        (1, 6, TreatAsWithdraw)
    );
    let bad_comm = update_with(&format!("{GOOD} c0 08 03 ffff00"));
    assert_eq!(
        one_problem(&verdict(&bad_comm, false)),
        (8, 9, TreatAsWithdraw)
    );
    let bad_large = update_with(&format!("{GOOD} c0 20 04 00000001"));
    assert_eq!(one_problem(&verdict(&bad_large, false)).2, TreatAsWithdraw);
    let no_nh = update_with("40 01 01 00  40 02 06 02 01 0000fde9");
    assert_eq!(
        one_problem(&verdict(&no_nh, false)),
        (3, 3, TreatAsWithdraw)
    );
    let flags = update_with("c0 01 01 00  40 02 06 02 01 0000fde9  40 03 04 c6336402");
    assert_eq!(
        one_problem(&verdict(&flags, false)),
        (1, 4, TreatAsWithdraw)
    );
    let bad_nh_len = update_with("40 01 01 00  40 02 06 02 01 0000fde9  40 03 03 c63364");
    assert_eq!(one_problem(&verdict(&bad_nh_len, false)).2, TreatAsWithdraw);
    let bad_path = update_with("40 01 01 00  40 02 06 02 02 0000fde9  40 03 04 c6336402");
    assert_eq!(
        one_problem(&verdict(&bad_path, false)),
        (2, 11, TreatAsWithdraw)
    );
    let wrong_first_as = update_with("40 01 01 00  40 02 06 02 01 0000fdea  40 03 04 c6336402");
    assert_eq!(
        one_problem(&verdict(&wrong_first_as, false)),
        (2, 11, TreatAsWithdraw)
    );
    let ibgp_no_lp = update_with("40 01 01 00  40 02 00  40 03 04 c6336402");
    assert_eq!(
        one_problem(&verdict(&ibgp_no_lp, true)),
        (5, 3, TreatAsWithdraw)
    );
    // RFC 7606 §4: an attribute running past the attribute section.
    let overrun = update_with(&format!("{GOOD} c0 08 08 ffff0000"));
    let Message::Update(u) = Message::parse(&overrun, &CTX).unwrap() else {
        panic!()
    };
    assert_eq!(u.unframed, hex("c0 08 08 ffff0000"));
    assert_eq!(u.review(false, 65001).action(), TreatAsWithdraw);
    assert_eq!(
        Message::Update(u).to_bytes(&CTX).unwrap(),
        overrun,
        "nothing is lost"
    );
}

#[test]
fn attribute_discard_cases() {
    use Revision::*;
    let atomic = update_with(&format!("{GOOD} 40 06 01 00"));
    assert_eq!(
        one_problem(&verdict(&atomic, false)),
        (6, 5, AttributeDiscard)
    );
    let aggr = update_with(&format!("{GOOD} c0 07 03 000000"));
    assert_eq!(one_problem(&verdict(&aggr, false)).2, AttributeDiscard);
    let ebgp_lp = update_with(&format!("{GOOD} 40 05 04 00000064"));
    assert_eq!(one_problem(&verdict(&ebgp_lp, false)).2, AttributeDiscard);
    let dup = update_with(&format!("{GOOD} 40 01 01 00"));
    assert_eq!(one_problem(&verdict(&dup, false)), (1, 1, AttributeDiscard));
    let as4 = update_with(&format!("{GOOD} c0 11 03 020100"));
    assert_eq!(one_problem(&verdict(&as4, false)).2, AttributeDiscard);
    // An unknown optional attribute is simply kept.
    let opt = update_with(&format!("{GOOD} c0 63 02 abcd"));
    assert_eq!(verdict(&opt, false).action(), Accept);
}

#[test]
fn worst_problem_wins() {
    let both = update_with("40 01 01 09  40 02 06 02 01 0000fde9  40 03 04 c6336402  40 06 01 00");
    let v = verdict(&both, false);
    assert_eq!(v.problems.len(), 2);
    assert_eq!(v.action(), Revision::TreatAsWithdraw);
}

/// The same attribute list without NLRI (field or MP_REACH_NLRI) leaves
/// treat-as-withdraw nothing to act on: RFC 7606 §5.2, session reset.
#[test]
fn treat_as_withdraw_without_nlri_resets_the_session() {
    use Revision::*;
    let no_nlri = |attrs: &str, withdrawn: &str| {
        let (a, w) = (hex(attrs), hex(withdrawn));
        let mut m = hex(MARKER);
        m.extend_from_slice(&((23 + a.len() + w.len()) as u16).to_be_bytes());
        m.push(2);
        m.extend_from_slice(&(w.len() as u16).to_be_bytes());
        m.extend_from_slice(&w);
        m.extend_from_slice(&(a.len() as u16).to_be_bytes());
        m.extend_from_slice(&a);
        m
    };
    let bad_origin = no_nlri(
        "40 01 01 05  40 02 06 02 01 0000fde9  40 03 04 c6336402",
        "",
    );
    assert_eq!(verdict(&bad_origin, false).action(), SessionReset);
    // Withdrawals only, beside a broken COMMUNITIES: still nothing reachable.
    let withdraw_and_bad = no_nlri(&format!("{GOOD} c0 08 03 ffff00"), "20 c00002c8");
    assert_eq!(verdict(&withdraw_and_bad, false).action(), SessionReset);
    // Attribute discard needs no NLRI: the session stays.
    let discard = no_nlri(&format!("{GOOD} 40 06 01 00"), "");
    assert_eq!(verdict(&discard, false).action(), AttributeDiscard);
    // With NLRI the same problem stays treat-as-withdraw.
    let with_nlri = update_with("40 01 01 05  40 02 06 02 01 0000fde9  40 03 04 c6336402");
    assert_eq!(verdict(&with_nlri, false).action(), TreatAsWithdraw);
}

#[test]
fn notification_data_in_words() {
    let n = |c, s, d: &[u8]| Notification::new(c, s, d.to_vec()).to_string();
    assert_eq!(
        n(2, 2, &[0xfd, 0xe9]),
        "OPEN Message Error / Bad Peer AS (2/2): AS 65001"
    );
    assert_eq!(
        n(2, 2, &[0, 1, 0, 0]),
        "OPEN Message Error / Bad Peer AS (2/2): AS 65536"
    );
    assert_eq!(
        n(2, 3, &[198, 51, 100, 1]),
        "OPEN Message Error / Bad BGP Identifier (2/3): BGP Identifier 198.51.100.1"
    );
    assert_eq!(
        n(2, 1, &[0, 4]),
        "OPEN Message Error / Unsupported Version Number (2/1): the peer speaks BGP version 4"
    );
    assert_eq!(
        n(2, 7, &[69, 4, 0, 1, 1, 1, 64, 0]),
        "OPEN Message Error / Unsupported Capability (2/7): capability codes 69, 64"
    );
    assert!(n(3, 6, &[0x40, 1, 1, 9]).ends_with("attribute type 1 (4 bytes of it returned)"));
    // Anything else keeps its bytes.
    assert!(n(6, 1, &[1, 2, 3, 4, 5, 6, 7]).ends_with(", data 01020304050607"));
}
