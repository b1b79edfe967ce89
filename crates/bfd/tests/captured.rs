//! Control packets captured from FRR 8.4's bfdd and BIRD 2.0.12 talking to
//! each other (`tests/vectors/`, both directions, IPv4, IPv6 and
//! link-local): every one decodes to what its header says, re-encodes to
//! the same bytes, and the packets of one side, replayed into a session
//! of ours in the other side's place, walk it through the RFC 5880
//! handshake, the Poll Sequence and the Down cases as that side went.
use leafvip_bfd::packet::Packet;
use leafvip_bfd::session::{Action, Config, Event};
use leafvip_bfd::{Diag, Instant, Session, State};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Vector {
    path: PathBuf,
    headers: BTreeMap<String, String>,
    bytes: Vec<u8>,
}

fn load(dir: &str) -> Vec<Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 20,
        "{}: {} vectors",
        dir.display(),
        paths.len()
    );
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut headers = BTreeMap::new();
            let mut hex = String::new();
            for line in text.lines() {
                match line.strip_prefix("# ") {
                    Some(h) => {
                        let (k, v) = h.split_once(": ").unwrap();
                        headers.insert(k.to_string(), v.to_string());
                    }
                    None => hex.extend(line.split_whitespace()),
                }
            }
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            Vector {
                path,
                headers,
                bytes,
            }
        })
        .collect()
}

fn state_name(s: State) -> &'static str {
    match s {
        State::AdminDown => "admin-down",
        State::Down => "down",
        State::Init => "init",
        State::Up => "up",
    }
}

fn flags(p: &Packet) -> String {
    let set: Vec<&str> = [(p.poll, "P"), (p.fin, "F"), (p.cpi, "C"), (p.demand, "D")]
        .iter()
        .filter(|(b, _)| *b)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        "none".into()
    } else {
        set.join(" ")
    }
}

#[test]
fn every_captured_packet_decodes_as_labelled_and_re_encodes() {
    for dir in ["frr", "bird2"] {
        for v in load(dir) {
            let at = v.path.display();
            let p = Packet::decode(&v.bytes).unwrap_or_else(|e| panic!("{at}: {e}"));
            let h = |k: &str| v.headers.get(k).unwrap_or_else(|| panic!("{at}: no {k}"));
            assert_eq!(h("state"), state_name(p.state), "{at}");
            assert_eq!(h("diag"), &p.diag.code().to_string(), "{at}");
            assert_eq!(h("flags"), &flags(&p), "{at}");
            assert_eq!(h("detect-mult"), &p.detect_mult.to_string(), "{at}");
            assert_eq!(h("my-disc"), &p.my_disc.to_string(), "{at}");
            assert_eq!(h("your-disc"), &p.your_disc.to_string(), "{at}");
            assert_eq!(
                h("desired-min-tx-us"),
                &p.desired_min_tx.to_string(),
                "{at}"
            );
            assert_eq!(
                h("required-min-rx-us"),
                &p.required_min_rx.to_string(),
                "{at}"
            );
            assert_eq!(h("ip-ttl-or-hop-limit"), "255", "{at}: RFC 5881 5");
            assert_eq!(p.encode().as_slice(), v.bytes.as_slice(), "{at}");
        }
    }
}

/// One side's packets, by name, from the vectors of `dir`.
fn packet(dir: &str, name: &str) -> Packet {
    let v = load(dir)
        .into_iter()
        .find(|v| {
            v.path
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with(name)
        })
        .unwrap_or_else(|| panic!("no {dir}/*{name}"));
    Packet::decode(&v.bytes).unwrap()
}

/// Feeds one captured packet. The captures span several sessions (the
/// daemons restarted between phases), so a packet addressed to a
/// discriminator is readdressed to ours, and once ours learnt the
/// sender's, the sender's is the one learnt (Up, another is discarded).
fn feed(s: &mut Session, ms: u64, p: &Packet) -> Vec<Action> {
    let mut p = *p;
    if p.your_disc != 0 {
        p.your_disc = s.local_disc();
    }
    if s.remote_disc() != 0 {
        p.my_disc = s.remote_disc();
    }
    let b = p.encode();
    s.handle_event(
        Instant::from_millis(ms),
        Event::Received {
            bytes: &b,
            ttl: 255,
        },
    )
}

fn sent(acts: &[Action]) -> Vec<Packet> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Send(b) => Some(Packet::decode(b).unwrap()),
            _ => None,
        })
        .collect()
}

/// Our session in the place of the receiver of `dir`'s packets: it takes
/// the discriminator that the sender's Init and Up packets address.
fn receiver_of(dir: &str, family: &str) -> Session {
    let init = packet(dir, &format!("init-{family}.hex"));
    let cfg = Config {
        desired_min_tx: 100_000,
        required_min_rx: 100_000,
        detect_mult: 3,
        passive: false,
    };
    Session::new(cfg, init.your_disc, 1, Instant::ZERO)
}

#[test]
fn replayed_handshakes_and_polls_drive_our_session_as_they_drove_the_peer() {
    for dir in ["frr", "bird2"] {
        for family in ["ipv4", "ipv6", "ipv6-ll"] {
            let mut s = receiver_of(dir, family);
            let at = format!("{dir} {family}");
            // The sender's first Down (Your Discriminator 0) takes us to
            // Init; its Init (it heard our Down) takes us Up.
            feed(&mut s, 0, &packet(dir, &format!("down-{family}.hex")));
            assert_eq!(s.state(), State::Init, "{at}");
            feed(&mut s, 10, &packet(dir, &format!("init-{family}.hex")));
            assert_eq!(s.state(), State::Up, "{at}");
            // Its Poll gets a Final at once, without Poll.
            let acts = feed(&mut s, 20, &packet(dir, &format!("poll-{family}.hex")));
            let p = sent(&acts);
            assert!(p.iter().any(|p| p.fin && !p.poll), "{at}: {p:?}");
            // Its Final ends our own Poll Sequence (the one going Up began).
            assert!(s.polling(), "{at}");
            feed(&mut s, 30, &packet(dir, &format!("final-{family}.hex")));
            assert!(!s.polling(), "{at}");
            assert_eq!(s.state(), State::Up, "{at}");
        }
    }
}

#[test]
fn replayed_down_and_admin_down_end_our_session_as_the_rfc_says() {
    // BIRD's Down after it timed us out (Diag 1), and after it heard we
    // went down (Diag 3): both take an Up session Down with Diag 3.
    for name in ["down-diag1-ipv4.hex", "down-diag3-ipv4.hex"] {
        let mut s = receiver_of("bird2", "ipv4");
        feed(&mut s, 0, &packet("bird2", "down-ipv4.hex"));
        feed(&mut s, 10, &packet("bird2", "init-ipv4.hex"));
        feed(&mut s, 20, &packet("bird2", name));
        assert_eq!(s.state(), State::Down, "{name}");
        assert_eq!(s.diag(), Diag::NeighborSignaledSessionDown);
        assert!(s.path_down());
    }
    // FRR's AdminDown (`shutdown` under the peer): Down, but not a path
    // failure (RFC 5882 3.2), so BGP would go on.
    let mut s = receiver_of("frr", "ipv4");
    feed(&mut s, 0, &packet("frr", "down-ipv4.hex"));
    feed(&mut s, 10, &packet("frr", "init-ipv4.hex"));
    feed(&mut s, 20, &packet("frr", "admin-down-ipv4.hex"));
    assert_eq!(s.state(), State::Down);
    assert_eq!(s.remote_state(), State::AdminDown);
    assert!(!s.path_down());
}
