//! A small HTTP/1.1 server for `/metrics`, `/healthz` and `/readyz`, on
//! the daemon's own executor: no threads, no tokio, and every cost capped.
//!
//! tiny_http gave each connection a thread and read headers without a
//! bound: a client that never read its answer blocked every other one, a
//! 600 MiB header line cost 600 MiB, and 300 slow connections cost 230
//! threads. Here:
//! - at most [`MAX_CONNS`] connections; one more evicts the connection that
//!   has gone longest without a complete request (a slow or silent
//!   client), so a scraper always gets in;
//! - a request head is at most [`MAX_HEAD`] bytes and must arrive within
//!   [`CLIENT_TIME`]; an answer must be taken within the same time;
//! - pipelined requests are read one at a time, each answered in full
//!   before the next is parsed, at most [`PER_SECOND`] a second per
//!   connection and [`PER_CONN`] per connection;
//! - only GET and HEAD; a request body is refused.
//!
//! Parsing is httparse's (the parser under hyper).
use async_io::{Async, Timer};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tracing::debug;

pub const MAX_CONNS: usize = 32;
pub const MAX_HEAD: usize = 8 * 1024;
pub const CLIENT_TIME: Duration = Duration::from_secs(5);
pub const PER_SECOND: u32 = 10;
pub const PER_CONN: u32 = 1000;

/// What the handler sees of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub head_only: bool,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

pub type Handler = Rc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response>>>>;

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// The bytes of an answer; `close` adds `Connection: close`.
fn encode(r: &Response, head_only: bool, close: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    if r.status == 405 {
        out += "Allow: GET, HEAD\r\n";
    }
    if close {
        out += "Connection: close\r\n";
    }
    out += "\r\n";
    let mut out = out.into_bytes();
    if !head_only {
        out.extend_from_slice(r.body.as_bytes());
    }
    out
}

/// One parsed request head, or the answer that ends the connection.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// The request, whether the client asked to close, and its length.
    Request(Request, bool, usize),
    Incomplete,
    Refuse(Response),
}

fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 24];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            let has_body = req.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("transfer-encoding")
                    || (h.name.eq_ignore_ascii_case("content-length") && h.value != b"0")
            });
            let close = req.version == Some(0)
                || req.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("connection")
                        && h.value.eq_ignore_ascii_case(b"close")
                });
            let method = req.method.unwrap_or_default();
            if !matches!(method, "GET" | "HEAD") {
                return Parsed::Refuse(Response::text(405, "only GET and HEAD\n"));
            }
            if has_body {
                return Parsed::Refuse(Response::text(413, "no request bodies here\n"));
            }
            let request = Request {
                head_only: method == "HEAD",
                path: req.path.unwrap_or("/").to_string(),
            };
            Parsed::Request(request, close, n)
        }
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            Parsed::Refuse(Response::text(431, "request head too large\n"))
        }
        Ok(httparse::Status::Partial) => Parsed::Incomplete,
        Err(httparse::Error::TooManyHeaders) => {
            Parsed::Refuse(Response::text(431, "too many header fields\n"))
        }
        Err(e) => Parsed::Refuse(Response::text(400, format!("{e}\n"))),
    }
}

async fn within<T>(d: Duration, f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    future::or(f, async {
        Timer::after(d).await;
        Err(io::ErrorKind::TimedOut.into())
    })
    .await
}

/// Serves one connection until it closes, times out or breaks a limit.
/// `idle` is when it last completed a request, for eviction.
async fn connection(
    mut s: Async<TcpStream>,
    handler: Handler,
    idle: Rc<Cell<Instant>>,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut served = 0u32;
    let mut window = (Instant::now(), 0u32);
    loop {
        // The next head, from what is buffered or read within the time.
        let (req, close, n) = loop {
            match parse(&buf) {
                Parsed::Request(r, close, n) => break (r, close, n),
                Parsed::Refuse(r) => {
                    within(CLIENT_TIME, s.write_all(&encode(&r, false, true))).await?;
                    return Ok(());
                }
                Parsed::Incomplete => {}
            }
            let mut chunk = [0u8; 2048];
            let room = (MAX_HEAD - buf.len()).min(chunk.len());
            let got = within(CLIENT_TIME, s.read(&mut chunk[..room])).await?;
            if got == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..got]);
        };
        buf.drain(..n);
        idle.set(Instant::now());
        // Pipelined floods are slowed, not answered at line rate.
        if window.0.elapsed() >= Duration::from_secs(1) {
            window = (Instant::now(), 0);
        }
        window.1 += 1;
        if window.1 > PER_SECOND {
            Timer::at(window.0 + Duration::from_secs(1)).await;
            window = (Instant::now(), 1);
        }
        served += 1;
        let close = close || served >= PER_CONN;
        let head_only = req.head_only;
        let answer = handler(req).await;
        within(CLIENT_TIME, s.write_all(&encode(&answer, head_only, close))).await?;
        if close {
            return Ok(());
        }
    }
}

struct Conn {
    idle: Rc<Cell<Instant>>,
    /// Dropping it ends the connection's task.
    _kill: async_channel::Sender<()>,
}

/// Binds `addr`; the returned future serves until it is dropped.
pub fn serve(addr: SocketAddr, handler: Handler) -> io::Result<impl Future<Output = ()>> {
    let listener = Async::<TcpListener>::bind(addr)?;
    Ok(async move {
        let ex = async_executor::LocalExecutor::new();
        let conns: Rc<RefCell<BTreeMap<u64, Conn>>> = Rc::default();
        let mut next_id = 0u64;
        ex.run(async {
            loop {
                let s = match listener.accept().await {
                    Ok((s, _)) => s,
                    Err(e) => {
                        debug!("metrics accept: {e}");
                        Timer::after(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if conns.borrow().len() >= MAX_CONNS {
                    // Make room: the connection longest without a request.
                    let mut c = conns.borrow_mut();
                    let oldest = c
                        .iter()
                        .min_by_key(|(_, c)| c.idle.get())
                        .map(|(id, _)| *id);
                    if let Some(id) = oldest {
                        c.remove(&id);
                    }
                }
                next_id += 1;
                let id = next_id;
                let (kill, killed) = async_channel::bounded::<()>(1);
                let idle = Rc::new(Cell::new(Instant::now()));
                conns.borrow_mut().insert(
                    id,
                    Conn {
                        idle: idle.clone(),
                        _kill: kill,
                    },
                );
                let (handler, conns) = (handler.clone(), conns.clone());
                ex.spawn(async move {
                    let work = async {
                        if let Err(e) = connection(s, handler, idle).await {
                            debug!("metrics client: {e}");
                        }
                    };
                    future::or(work, async {
                        let _ = killed.recv().await;
                    })
                    .await;
                    conns.borrow_mut().remove(&id);
                })
                .detach();
            }
        })
        .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_one_pipelined_request_at_a_time() {
        let two = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nHEAD /healthz HTTP/1.1\r\n\r\n";
        let Parsed::Request(r, close, n) = parse(two) else {
            panic!("{:?}", parse(two))
        };
        assert_eq!(
            (r.path.as_str(), r.head_only, close),
            ("/metrics", false, false)
        );
        let Parsed::Request(r, _, m) = parse(&two[n..]) else {
            panic!()
        };
        assert_eq!(
            (r.path.as_str(), r.head_only, n + m),
            ("/healthz", true, two.len())
        );
    }

    #[test]
    fn refuses_what_it_does_not_serve() {
        let status = |b: &[u8]| match parse(b) {
            Parsed::Refuse(r) => r.status,
            other => panic!("{other:?}"),
        };
        assert_eq!(status(b"POST /metrics HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(status(b"DELETE / HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(status(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"), 413);
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            413
        );
        assert_eq!(status(b"\x00\x01garbage\r\n\r\n"), 400);
        let mut long = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        long.resize(MAX_HEAD, b'a');
        assert_eq!(status(&long), 431);
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost:"), Parsed::Incomplete);
        let Parsed::Request(_, close, _) = parse(b"GET / HTTP/1.0\r\n\r\n") else {
            panic!()
        };
        assert!(close, "HTTP/1.0 closes");
    }

    #[test]
    fn encodes_head_without_body_and_405_with_allow() {
        let r = Response::text(200, "ok\n");
        let head = String::from_utf8(encode(&r, true, false)).unwrap();
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\n"
        );
        let full = String::from_utf8(encode(&Response::text(405, "x"), false, true)).unwrap();
        assert!(full.contains("Allow: GET, HEAD\r\n") && full.contains("Connection: close\r\n"));
        assert!(full.ends_with("\r\n\r\nx"));
    }
}
