//! `/metrics`, `/healthz` and `/readyz` over HTTP/1.1 with tiny_http.
//!
//! Not hyper: hyper 1 links tokio, which only the `kube` feature may bring.
//! tiny_http serves on threads of its own; each request asks the event loop
//! for a snapshot over a channel, so a loop that hangs fails `/healthz`,
//! and the metrics are encoded by prometheus-client from the same snapshot
//! as `leafvip status`: the two never disagree, and an idle daemon keeps no
//! metric objects between scrapes.
use super::board::Board;
use crate::status::Status;
use async_executor::LocalExecutor;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;
use tiny_http::{Header, Response, Server};
use tracing::debug;

/// How long a request waits for the event loop before it counts as hung.
const LOOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A snapshot and whether the daemon is done starting.
type Snapshot = (Status, bool);

type Labels = Vec<(&'static str, String)>;

/// The Prometheus text for one snapshot.
pub fn render(st: &Status) -> String {
    let mut reg = Registry::with_prefix("leafvip");
    let up = Family::<Labels, Gauge>::default();
    let updates = Family::<Labels, Counter>::default();
    let prefixes = Family::<Labels, Gauge>::default();
    let notifications = Family::<Labels, Counter>::default();
    let vip = Family::<Labels, Gauge>::default();
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
        "vip_announced",
        "1 when the VIP is announced to at least one peer",
        vip.clone(),
    );
    reg.register(
        "build",
        "The running version",
        Info::new(vec![("version", st.version.clone())]),
    );
    for p in &st.peers {
        let peer = || vec![("peer", p.peer.clone())];
        up.get_or_create(&peer())
            .set(i64::from(p.state == "Established"));
        updates.get_or_create(&peer()).inc_by(p.updates_out);
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
    for v in &st.vips {
        vip.get_or_create(&vec![("vip", v.prefix.clone())])
            .set(i64::from(v.announced));
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &reg);
    out
}

/// Ready once the config is loaded and, if any peer is selected, one
/// session is Established: the host is announcing.
fn readiness(st: &Status, loaded: bool) -> Result<(), String> {
    if !loaded {
        return Err("starting".into());
    }
    if st.peers.is_empty() || st.peers.iter().any(|p| p.state == "Established") {
        Ok(())
    } else {
        Err(format!("0/{} sessions established", st.peers.len()))
    }
}

fn reply(code: u16, kind: &str, body: String) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut r = Response::from_string(body).with_status_code(code);
    if let Ok(h) = Header::from_bytes("Content-Type", kind) {
        r.add_header(h);
    }
    r
}

fn respond(
    path: &str,
    ask: &async_channel::Sender<mpsc::SyncSender<Snapshot>>,
) -> Response<std::io::Cursor<Vec<u8>>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let snapshot = || {
        let (tx, rx) = mpsc::sync_channel(1);
        // A full queue means the loop is not keeping up: answer 503 now
        // rather than block the HTTP thread behind it.
        ask.try_send(tx).ok()?;
        rx.recv_timeout(LOOP_TIMEOUT).ok()
    };
    let path = path.split('?').next().unwrap_or_default();
    if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
        return reply(404, TEXT, "try /metrics, /healthz or /readyz\n".into());
    }
    let Some((st, loaded)) = snapshot() else {
        return reply(503, TEXT, "the event loop does not answer\n".into());
    };
    match path {
        "/metrics" => reply(
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            render(&st),
        ),
        "/healthz" => reply(200, TEXT, "ok\n".into()),
        _ => match readiness(&st, loaded) {
            Ok(()) => reply(200, TEXT, "ready\n".into()),
            Err(why) => reply(503, TEXT, format!("{why}\n")),
        },
    }
}

/// Binds `addr` and serves until the daemon ends.
pub fn start(
    addr: SocketAddr,
    board: Rc<RefCell<Board>>,
    ex: &LocalExecutor<'static>,
) -> Result<(), String> {
    let server = Server::http(addr).map_err(|e| e.to_string())?;
    let (ask, asked) = async_channel::bounded::<mpsc::SyncSender<Snapshot>>(16);
    ex.spawn(async move {
        while let Ok(reply) = asked.recv().await {
            let st = Board::status(&board).await;
            let loaded = board.borrow().ready;
            let _ = reply.try_send((st, loaded));
        }
    })
    .detach();
    std::thread::Builder::new()
        .name("leafvip-http".into())
        .spawn(move || {
            for req in server.incoming_requests() {
                let resp = respond(req.url(), &ask);
                if let Err(e) = req.respond(resp) {
                    debug!("metrics client: {e}");
                }
            }
        })
        .map_err(|e| e.to_string())?;
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
                peer: "198.51.100.1:179".into(),
                state: "Established".into(),
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
                ..Default::default()
            }],
            vips: vec![VipStatus {
                prefix: "192.0.2.200/32".into(),
                announced: true,
                ..Default::default()
            }],
            ..Default::default()
        };
        let m = render(&st);
        for line in [
            "leafvip_bgp_session_up{peer=\"198.51.100.1:179\"} 1",
            "leafvip_bgp_updates_sent_total{peer=\"198.51.100.1:179\"} 3",
            "leafvip_bgp_announced_prefixes{peer=\"198.51.100.1:179\",family=\"ipv4-unicast\"} 2",
            "leafvip_bgp_notifications_total{peer=\"198.51.100.1:179\",direction=\"received\",code=\"6\"} 1",
            "leafvip_vip_announced{vip=\"192.0.2.200/32\"} 1",
            "leafvip_build_info{version=\"9.9.9\"} 1",
        ] {
            assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
        }
        assert_eq!(readiness(&st, true), Ok(()));
        assert!(readiness(&st, false).is_err());
    }
}
