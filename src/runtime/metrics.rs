//! `/metrics`, `/healthz` and `/readyz`, served by `runtime/http.rs` on the
//! daemon's own executor (not hyper, which links tokio; not tiny_http,
//! which spent a thread per connection). Answers come from the event loop
//! itself, so a loop that hangs fails `/healthz`; the metrics are encoded
//! by prometheus-client from the same counters as `leafvip status`, so the
//! two never disagree, and an idle daemon keeps no metric objects between
//! scrapes.
use super::board::{Board, Vip};
use super::http::{self, Handler, Request, Response};
use crate::status::Status;
use async_executor::LocalExecutor;
use leafvip_bgp::session::State;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

type Labels = Vec<(&'static str, String)>;

/// The Prometheus text for one snapshot.
pub fn render(st: &Status) -> String {
    let mut reg = Registry::with_prefix("leafvip");
    let up = Family::<Labels, Gauge>::default();
    let updates = Family::<Labels, Counter>::default();
    let prefixes = Family::<Labels, Gauge>::default();
    let notifications = Family::<Labels, Counter>::default();
    let suppressed = Family::<Labels, Gauge>::default();
    reg.register(
        "bgp_session_up",
        "1 when the BGP session is Established",
        up.clone(),
    );
    reg.register("bgp_updates_sent", "UPDATE messages sent", updates.clone());
    reg.register(
        "bgp_announced_prefixes",
        "Paths the peer holds from us, per address family",
        prefixes.clone(),
    );
    reg.register(
        "bgp_notifications",
        "NOTIFICATION messages sent and received, by error code",
        notifications.clone(),
    );
    reg.register(
        "bgp_suppressed_paths",
        "Desired paths held back by the peer's path limit",
        suppressed.clone(),
    );
    // Aggregates only: a series per VIP would cost a scrape O(VIPs).
    let vips = Gauge::<i64>::default();
    vips.set(st.vip_count as i64);
    reg.register("vips", "VIPs configured", vips);
    let refused = Counter::<u64>::default();
    refused.inc_by(st.refused_connections);
    reg.register(
        "refused_connections",
        "Connections from addresses that are not a selected peer",
        refused,
    );
    let busy = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    busy.set(st.loop_busy_max_ms as f64 / 1000.0);
    reg.register(
        "loop_busy_max_seconds",
        "The longest the event loop spent on one event since start",
        busy,
    );
    let recent = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    recent.set(st.loop_busy_recent_ms as f64 / 1000.0);
    reg.register(
        "loop_busy_recent_seconds",
        "The longest the event loop spent on one event over about the last minute",
        recent,
    );
    let accept_errors = Counter::<u64>::default();
    accept_errors.inc_by(st.accept_errors);
    reg.register(
        "accept_errors",
        "Failed accepts on the BGP listener",
        accept_errors,
    );
    let checks_down = Gauge::<i64>::default();
    checks_down.set(st.vip_checks_down as i64);
    reg.register(
        "vip_checks_down",
        "VIPs whose check fails now (withdrawn or degraded)",
        checks_down,
    );
    let draining = Gauge::<i64>::default();
    draining.set(i64::from(st.draining.is_some()));
    reg.register(
        "draining",
        "1 while every VIP carries GRACEFUL_SHUTDOWN (leafvip drain, or before a stop)",
        draining,
    );
    if let Some(r) = &st.last_reload {
        let ok = Gauge::<i64>::default();
        ok.set(i64::from(r.ok));
        reg.register("last_reload_success", "1 when the last reload applied", ok);
    }
    reg.register(
        "build",
        "The running version",
        Info::new(vec![("version", st.version.clone())]),
    );
    for p in &st.peers {
        let peer = || vec![("peer", p.peer.to_string())];
        up.get_or_create(&peer())
            .set(i64::from(p.state == State::Established));
        updates.get_or_create(&peer()).inc_by(p.updates_out);
        suppressed.get_or_create(&peer()).set(p.suppressed as i64);
        for f in &p.prefixes_sent {
            let mut l = peer();
            l.push(("family", f.family.clone()));
            prefixes.get_or_create(&l).set(f.count as i64);
        }
        for n in &p.notifications {
            let mut l = peer();
            l.push(("direction", n.direction.to_string()));
            l.push(("code", n.code.to_string()));
            notifications.get_or_create(&l).inc_by(n.count);
        }
    }
    #[cfg(feature = "bfd")]
    if st.peers.iter().any(|p| p.bfd.is_some()) {
        bfd(&mut reg, &st.peers);
    }
    if let Some(c) = &st.cluster {
        services(&mut reg, c);
    }
    #[cfg(feature = "l2")]
    if let Some(p) = &st.l2_packets {
        layer2(&mut reg, &st.l2, p);
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &reg);
    out
}

/// The BFD sessions guarding BGP sessions (feature `bfd`), per peer.
#[cfg(feature = "bfd")]
fn bfd(reg: &mut Registry, peers: &[crate::status::PeerStatus]) {
    let up = Family::<Labels, Gauge>::default();
    let downs = Family::<Labels, Counter>::default();
    let detect = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let packets = Family::<Labels, Counter>::default();
    reg.register("bfd_session_up", "1 when the BFD session is Up", up.clone());
    reg.register(
        "bfd_session_downs",
        "Times the BFD session left Up (each tore the BGP session down, unless the peer said AdminDown)",
        downs.clone(),
    );
    reg.register(
        "bfd_detect_time_seconds",
        "How long the peer may stay silent before it is declared down",
        detect.clone(),
    );
    reg.register(
        "bfd_packets",
        "BFD control packets received, sent and discarded",
        packets.clone(),
    );
    for p in peers {
        let Some(b) = &p.bfd else { continue };
        let peer = || vec![("peer", p.peer.to_string())];
        up.get_or_create(&peer()).set(i64::from(b.state == "up"));
        downs.get_or_create(&peer()).inc_by(b.downs);
        detect
            .get_or_create(&peer())
            .set(b.detect_time_us as f64 / 1e6);
        for (dir, n) in [
            ("in", b.packets_in),
            ("out", b.packets_out),
            ("discarded", b.discarded),
        ] {
            let mut l = peer();
            l.push(("direction", dir.to_string()));
            packets.get_or_create(&l).inc_by(n);
        }
    }
}

#[cfg(feature = "l2")]
/// Layer-2 mode: each VIP's election (layer-2 VIPs are few: one VRRP
/// router each), and the frames counted.
fn layer2(reg: &mut Registry, vips: &[crate::status::l2::L2Vip], p: &crate::status::l2::L2Packets) {
    let master = Family::<Labels, Gauge>::default();
    let priority = Family::<Labels, Gauge>::default();
    let transitions = Family::<Labels, Counter>::default();
    let foreign = Family::<Labels, Counter>::default();
    reg.register(
        "l2_master",
        "1 when this host answers for the VIP",
        master.clone(),
    );
    reg.register(
        "l2_priority",
        "The VIP's VRRP priority now",
        priority.clone(),
    );
    reg.register(
        "l2_transitions",
        "VRRP state changes of the VIP",
        transitions.clone(),
    );
    reg.register(
        "l2_foreign_adverts",
        "Adverts for the VIP's VRID that list other addresses",
        foreign.clone(),
    );
    for v in vips {
        let l = vec![
            ("vip", v.vip.to_string()),
            ("interface", v.interface.clone()),
            ("vrid", v.vrid.to_string()),
        ];
        let owns = matches!(v.state, "master" | "resigning");
        master.get_or_create(&l).set(i64::from(owns));
        priority.get_or_create(&l).set(i64::from(v.priority));
        transitions.get_or_create(&l).inc_by(v.transitions);
        foreign.get_or_create(&l).inc_by(v.foreign);
    }
    let frames = Family::<Labels, Counter>::default();
    reg.register(
        "l2_frames",
        "Layer-2 frames: VRRP adverts sent and received, ARP and NDP questions answered, and malformed ones discarded",
        frames.clone(),
    );
    for (kind, n) in [
        ("vrrp_sent", p.adverts_sent),
        ("vrrp_received", p.adverts_received),
        ("arp_answered", p.arp_answered),
        ("ndp_answered", p.ndp_answered),
        ("vrrp_malformed", p.malformed_vrrp),
        ("arp_malformed", p.malformed_arp),
        ("ndp_malformed", p.malformed_ndp),
    ] {
        frames
            .get_or_create(&vec![("kind", kind.to_string())])
            .inc_by(n);
    }
}

/// LoadBalancer Services (cluster mode): aggregates and a series per pool,
/// never one per Service.
fn services(reg: &mut Registry, c: &crate::status::Cluster) {
    let announced = Gauge::<i64>::default();
    announced.set(c.service_addresses as i64);
    reg.register(
        "service_addresses_announced",
        "LoadBalancer Service addresses this node announces",
        announced,
    );
    let with = Gauge::<i64>::default();
    with.set(c.services_total as i64);
    reg.register(
        "services_with_address",
        "LoadBalancer Services of ours that hold an address",
        with,
    );
    let changes = Counter::<u64>::default();
    changes.inc_by(c.announce_changes);
    reg.register(
        "service_announce_changes",
        "Times the set of Service addresses this node announces changed",
        changes,
    );
    let allocations = Counter::<u64>::default();
    allocations.inc_by(c.allocations);
    reg.register(
        "service_allocations",
        "Service status writes this agent made as the allocator",
        allocations,
    );
    let leader = Gauge::<i64>::default();
    leader.set(i64::from(c.leader));
    reg.register(
        "allocator_leader",
        "1 while this agent holds the allocator's Lease",
        leader,
    );
    let used = Family::<Labels, Gauge>::default();
    let size = Family::<Labels, Gauge>::default();
    reg.register(
        "pool_addresses_used",
        "Addresses in use per Eip pool",
        used.clone(),
    );
    reg.register("pool_addresses", "Addresses per Eip pool", size.clone());
    for p in &c.pools {
        let l = vec![("pool", p.pool.clone())];
        used.get_or_create(&l).set(p.used as i64);
        size.get_or_create(&l).set(p.size as i64);
    }
}

/// What readiness is judged on: O(1) at any table size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Probe {
    /// Config loaded and sessions started.
    loaded: bool,
    established: usize,
    peers: usize,
}

/// Ready once the config is loaded and, if any peer is selected, one
/// session is Established: the host is announcing.
fn readiness(p: Probe) -> Result<(), String> {
    if !p.loaded {
        return Err("starting".into());
    }
    if p.peers == 0 || p.established > 0 {
        Ok(())
    } else {
        Err(format!("0/{} sessions established", p.peers))
    }
}

/// Answers one request. It runs on the event loop, so a loop that hangs
/// answers nothing and `/healthz` fails.
async fn respond(board: Rc<RefCell<Board>>, path: String) -> Response {
    match path.split('?').next().unwrap_or_default() {
        "/metrics" => {
            let st = Board::status(&board, Vip::Nothing).await;
            let busy = board.borrow().busy.clone();
            Response {
                status: 200,
                content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
                body: busy.time("a scrape", || render(&st)),
            }
        }
        "/healthz" => Response::text(200, "ok\n"),
        "/readyz" => {
            let probe = {
                let b = board.borrow();
                Probe {
                    loaded: b.ready,
                    established: b.established.get(),
                    peers: b.peers.len(),
                }
            };
            match readiness(probe) {
                Ok(()) => Response::text(200, "ready\n"),
                Err(why) => Response::text(503, format!("{why}\n")),
            }
        }
        _ => Response::text(404, "try /metrics, /healthz or /readyz\n"),
    }
}

/// Binds `addr` and serves on the daemon's executor until it ends.
pub fn start(
    addr: SocketAddr,
    board: Rc<RefCell<Board>>,
    ex: &LocalExecutor<'static>,
) -> std::io::Result<()> {
    let handler: Handler = Rc::new(move |req: Request| {
        Box::pin(respond(board.clone(), req.path)) as std::pin::Pin<Box<_>>
    });
    ex.spawn(http::serve(addr, handler)?).detach();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{FamilyCount, NotificationCount, PeerStatus, VipStatus};

    #[test]
    fn renders_every_metric_with_its_labels() {
        let st = Status {
            version: "9.9.9".into(),
            peers: vec![PeerStatus {
                updates_out: 3,
                prefixes_sent: vec![FamilyCount {
                    family: "ipv4-unicast".into(),
                    count: 2,
                }],
                notifications: vec![NotificationCount {
                    direction: "received",
                    code: 6,
                    count: 1,
                }],
                ..PeerStatus::new("198.51.100.1:179".parse().unwrap(), State::Established)
            }],
            vip_count: 1,
            vips: vec![VipStatus {
                prefix: "192.0.2.200/32".into(),
                announced: true,
                ..Default::default()
            }],
            draining: Some("maintenance".into()),
            vip_checks: 2,
            vip_checks_down: 1,
            ..Default::default()
        };
        let m = render(&st);
        for line in [
            "leafvip_bgp_session_up{peer=\"198.51.100.1:179\"} 1",
            "leafvip_bgp_updates_sent_total{peer=\"198.51.100.1:179\"} 3",
            "leafvip_bgp_announced_prefixes{peer=\"198.51.100.1:179\",family=\"ipv4-unicast\"} 2",
            "leafvip_bgp_notifications_total{peer=\"198.51.100.1:179\",direction=\"received\",code=\"6\"} 1",
            "leafvip_vips 1",
            "leafvip_bgp_suppressed_paths{peer=\"198.51.100.1:179\"} 0",
            "leafvip_build_info{version=\"9.9.9\"} 1",
            "leafvip_draining 1",
            "leafvip_vip_checks_down 1",
        ] {
            assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
        }
        let p = Probe {
            loaded: true,
            established: 1,
            peers: 2,
        };
        assert_eq!(readiness(p), Ok(()));
        assert!(readiness(Probe { loaded: false, ..p }).is_err());
        assert_eq!(
            readiness(Probe {
                established: 0,
                ..p
            }),
            Err("0/2 sessions established".into())
        );
    }

    #[cfg(feature = "bfd")]
    #[test]
    fn renders_bfd_per_peer() {
        let st = Status {
            peers: vec![PeerStatus {
                bfd: Some(crate::bfd_status::BfdStatus {
                    state: "up",
                    downs: 2,
                    detect_time_us: 300_000,
                    packets_in: 7,
                    ..Default::default()
                }),
                ..PeerStatus::new("198.51.100.1:179".parse().unwrap(), State::Idle)
            }],
            ..Default::default()
        };
        let m = render(&st);
        for line in [
            "leafvip_bfd_session_up{peer=\"198.51.100.1:179\"} 1",
            "leafvip_bfd_session_downs_total{peer=\"198.51.100.1:179\"} 2",
            "leafvip_bfd_detect_time_seconds{peer=\"198.51.100.1:179\"} 0.3",
            "leafvip_bfd_packets_total{peer=\"198.51.100.1:179\",direction=\"in\"} 7",
        ] {
            assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
        }
    }

    #[cfg(feature = "l2")]
    #[test]
    fn renders_layer2_per_vip() {
        let st = Status {
            l2: vec![crate::status::l2::L2Vip {
                vip: "198.51.100.10".parse().unwrap(),
                interface: "eth0".into(),
                vrid: 10,
                priority: 150,
                state: "master",
                owner: None,
                transitions: 2,
                foreign: 1,
                service: String::new(),
                node: None,
            }],
            l2_packets: Some(crate::status::l2::L2Packets {
                malformed_vrrp: 4,
                ..Default::default()
            }),
            ..Default::default()
        };
        let m = render(&st);
        let l = "vip=\"198.51.100.10\",interface=\"eth0\",vrid=\"10\"";
        for line in [
            format!("leafvip_l2_master{{{l}}} 1"),
            format!("leafvip_l2_priority{{{l}}} 150"),
            format!("leafvip_l2_transitions_total{{{l}}} 2"),
            format!("leafvip_l2_foreign_adverts_total{{{l}}} 1"),
            "leafvip_l2_frames_total{kind=\"vrrp_malformed\"} 4".to_string(),
        ] {
            assert!(m.lines().any(|x| x == line), "missing {line:?} in\n{m}");
        }
    }
}
