//! `/metrics`, `/healthz` and `/readyz` over HTTP/1.1: hyper on async-io
//! through smol-hyper, one connection task each. The metrics are encoded
//! by prometheus-client from one status snapshot per scrape, so they can
//! never disagree with `leafvip status`, and an idle daemon keeps no
//! metric objects between scrapes.
use super::board::Board;
use crate::status::Status;
use async_io::{Async, Timer};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use smol_hyper::rt::{FuturesIo, SmolTimer};
use std::cell::RefCell;
use std::convert::Infallible;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;
use tracing::{debug, warn};

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

fn reply(code: StatusCode, kind: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    if let Ok(v) = kind.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn respond(path: &str, board: &Rc<RefCell<Board>>) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    match path {
        "/metrics" => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            render(&Board::status(board).await),
        ),
        // Answered by the event loop's own executor: a hung loop answers nothing.
        "/healthz" => reply(StatusCode::OK, TEXT, "ok\n".into()),
        "/readyz" => {
            let loaded = board.borrow().ready;
            match readiness(&Board::status(board).await, loaded) {
                Ok(()) => reply(StatusCode::OK, TEXT, "ready\n".into()),
                Err(why) => reply(StatusCode::SERVICE_UNAVAILABLE, TEXT, format!("{why}\n")),
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "try /metrics, /healthz or /readyz\n".into(),
        ),
    }
}

/// Serves until the daemon ends.
pub async fn serve(listener: Async<TcpListener>, board: Rc<RefCell<Board>>) {
    let ex = async_executor::LocalExecutor::new();
    ex.run(async {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    warn!("metrics endpoint: {e}");
                    Timer::after(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let board = board.clone();
            let svc = service_fn(move |req: Request<Incoming>| {
                let board = board.clone();
                async move { Ok::<_, Infallible>(respond(req.uri().path(), &board).await) }
            });
            let conn = http1::Builder::new()
                .timer(SmolTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(FuturesIo::new(stream), svc);
            ex.spawn(async move {
                if let Err(e) = conn.await {
                    debug!("metrics client: {e}");
                }
            })
            .detach();
        }
    })
    .await
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
