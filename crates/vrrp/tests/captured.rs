//! keepalived 2.2.7's advertisements (`tests/vectors/`, IPv4 and IPv6):
//! each decodes to what its file name and bytes say and encodes back to
//! the same bytes, checksum included; and replayed into a router of ours
//! they drive it as keepalived's peers would be driven: a lower backup
//! stays backup, a higher one preempts (and answers its adverts at once),
//! and the priority-0 one at
//! keepalived's stop hands the addresses over after our skew time.
use leafvip_vrrp::packet::Advert;
use leafvip_vrrp::{Action, Config, Event, Instant, Router, State};
use std::net::IpAddr;
use std::path::Path;

struct Vector {
    name: String,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    bytes: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/keepalived");
    let mut out: Vec<Vector> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hex"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let header = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("# {k}: ")))
                    .unwrap()
                    .to_string()
            };
            let hex: String = text.lines().filter(|l| !l.starts_with('#')).collect();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            Vector {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                src: header("src").parse().unwrap(),
                dst: header("dst").parse().unwrap(),
                ttl: header("ttl").parse().unwrap(),
                bytes,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(out.len(), 4, "four captured advertisements");
    out
}

fn decode(v: &Vector) -> Advert {
    Advert::decode(v.src, v.dst, v.ttl, &v.bytes).unwrap_or_else(|e| panic!("{}: {e}", v.name))
}

#[test]
fn keepalived_adverts_decode_and_encode_to_the_same_bytes() {
    for v in vectors() {
        let ad = decode(&v);
        assert_eq!(ad.encode(v.src, v.dst), v.bytes, "{}", v.name);
        assert_eq!(ad.interval, 50, "{}: advert_int 0.5", v.name);
        let (vrid, priority, addrs) = match v.name.as_str() {
            "v4-vrid51-advert.hex" => (51, 150, vec!["192.0.2.10", "192.0.2.11"]),
            "v4-vrid51-leaving.hex" => (51, 0, vec!["192.0.2.10", "192.0.2.11"]),
            "v6-vrid52-advert.hex" => (52, 100, vec!["2001:db8::10"]),
            "v6-vrid52-leaving.hex" => (52, 0, vec!["2001:db8::10"]),
            other => panic!("unknown vector {other}"),
        };
        assert_eq!((ad.vrid, ad.priority), (vrid, priority), "{}", v.name);
        let addrs: Vec<IpAddr> = addrs.iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(ad.addrs, addrs, "{}", v.name);
        // One bit flipped anywhere fails the checksum (or the header).
        for i in 0..v.bytes.len() {
            let mut b = v.bytes.clone();
            b[i] ^= 0x01;
            assert!(
                Advert::decode(v.src, v.dst, v.ttl, &b).is_err(),
                "{} byte {i}",
                v.name
            );
        }
    }
}

fn router(ad: &Advert, priority: u8, v: &Vector) -> Router {
    let primary: IpAddr = match v.src {
        IpAddr::V4(_) => "198.51.100.3".parse().unwrap(),
        IpAddr::V6(_) => "fe80::3".parse().unwrap(),
    };
    Router::new(Config {
        vrid: ad.vrid,
        priority,
        interval: 50,
        preempt: true,
        preempt_delay: 0,
        primary,
        addrs: ad.addrs.clone(),
    })
}

fn at(ms: u64) -> Instant {
    Instant::from_micros(ms * 1000)
}

#[test]
fn keepalived_drives_our_router_as_its_peers() {
    let all = vectors();
    for family in ["v4", "v6"] {
        let advert = all
            .iter()
            .find(|v| v.name.starts_with(family) && v.name.contains("advert"))
            .unwrap();
        let leaving = all
            .iter()
            .find(|v| v.name.starts_with(family) && v.name.contains("leaving"))
            .unwrap();
        let ad = decode(advert);
        let heard = |r: &mut Router, ms: u64, v: &Vector| {
            r.handle(
                at(ms),
                Event::Received {
                    from: v.src,
                    advert: decode(v),
                },
            )
        };

        // Below keepalived: a backup while it advertises every 500 ms.
        let mut low = router(&ad, ad.priority - 50, advert);
        low.handle(at(0), Event::Startup);
        for k in 0..10 {
            assert!(heard(&mut low, 100 + 500 * k, advert).is_empty());
            assert_eq!(
                low.poll_at(),
                Some(at(100 + 500 * k) + low.master_down_interval())
            );
        }
        assert_eq!(low.state(), State::Backup);
        // keepalived stops: priority 0. We take over after the skew time.
        let t = 5_000;
        assert!(heard(&mut low, t, leaving).is_empty());
        assert_eq!(low.poll_at(), Some(at(t) + low.skew_time()));
        assert!(low.skew_time() < 500_000, "under one advert interval");
        let out = low.handle(low.poll_at().unwrap(), Event::Timer);
        assert_eq!(low.state(), State::Master, "{family}");
        assert!(out.contains(&Action::TakeOver), "{out:?}");
        assert!(matches!(&out[0], Action::Send(a) if a.priority == ad.priority - 50));

        // Above keepalived, preempting: the master-down timer is not reset
        // by its lower adverts, so we take over one interval later.
        let mut high = router(&ad, 250, advert);
        high.handle(at(0), Event::Startup);
        let down = high.poll_at().unwrap();
        assert!(heard(&mut high, 100, advert).is_empty());
        assert_eq!(
            high.poll_at(),
            Some(down),
            "a lower master does not hold us off"
        );
        high.handle(down, Event::Timer);
        assert_eq!(high.state(), State::Master);
        // As master, a lower advert from keepalived is answered at once
        // (as keepalived itself does), so that it gives up now, and the
        // addresses are announced again.
        let out = heard(&mut high, down.as_micros() / 1000 + 10, advert);
        assert!(
            matches!(&out[..], [Action::Send(a), Action::Reannounce] if a.priority == 250),
            "{out:?}"
        );
        assert_eq!(high.state(), State::Master);
    }
}
