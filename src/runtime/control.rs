//! The control socket: `leafvip status` connects, sends one request line
//! and reads the answer. A Unix socket with mode 0600 means access control
//! is the file system's: root and the daemon's own user.
use super::board::{Board, Vip};
use super::drain::Ctl;
use crate::daemon::Input;
use async_io::{Async, Timer};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use leafvip_bgp::wire::Prefix;
use std::cell::RefCell;
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;
use tracing::{debug, warn};

pub const DEFAULT_SOCKET: &str = "/run/leafvip/leafvip.sock";

/// A client gets this long to send its request and read the answer.
const CLIENT_TIME: Duration = Duration::from_secs(5);

/// Binds the socket. A stale socket from a daemon that died is replaced; a
/// live daemon's is not, and nothing that is not a socket is ever removed.
pub fn bind(path: &Path) -> io::Result<Async<UnixListener>> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a socket",
            ));
        }
        match UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another leafvip is serving this socket",
                ))
            }
            // Nobody listens: a socket left by a daemon that died.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path)?,
            Err(e) => return Err(e),
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Owner-only from the start: no window with the umask's permissions.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let l = bound?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Async::new(l)
}

/// The socket's file, removed when the daemon ends however `run` returns.
pub struct SocketFile(pub PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// At most this many clients are answered at once; more get "busy" at
/// once (and the CLI tries again), so a flood of clients costs neither
/// descriptors nor memory: an answer is a summary or a page of at most
/// 1,000 VIPs.
const MAX_CLIENTS: usize = 16;

/// Answers clients until the daemon ends; `drain`, `undrain` and
/// `restart` go to the loop through `ctl`.
pub async fn serve(
    listener: Async<UnixListener>,
    board: Rc<RefCell<Board>>,
    ctl: async_channel::Sender<Input>,
) {
    let ex = async_executor::LocalExecutor::new();
    let busy = Rc::new(std::cell::Cell::new(0usize));
    let mut accept_log = crate::throttle::Throttle::new();
    ex.run(async {
        loop {
            match listener.accept().await {
                Ok((s, _)) if busy.get() >= MAX_CLIENTS => {
                    // Best effort, never waiting. What the client sent is
                    // read first: closing a Unix socket with unread data
                    // resets it, and the client would see that instead.
                    let mut sink = [0u8; 256];
                    let _ = s.get_ref().read(&mut sink);
                    let reply = frame(Err("busy: too many status clients at once, try again"));
                    let _ = s.get_ref().write(reply.as_bytes());
                    let _ = s.get_ref().shutdown(std::net::Shutdown::Write);
                }
                Ok((s, _)) => {
                    busy.set(busy.get() + 1);
                    let (board, busy, ctl) = (board.clone(), busy.clone(), ctl.clone());
                    ex.spawn(async move {
                        answer(s, board, ctl).await;
                        busy.set(busy.get() - 1);
                    })
                    .detach()
                }
                Err(e) => {
                    // EMFILE repeats every 100 ms while descriptors are out.
                    if let Some(n) = accept_log.hit(std::time::Instant::now()) {
                        warn!(not_logged = n, "control socket: {e}");
                    }
                    Timer::after(Duration::from_millis(100)).await;
                }
            }
        }
    })
    .await
}

/// What a client may ask, one line: `status [json]`, `vip PREFIX [json]`,
/// `vips AFTER|- LIMIT [json]`.
fn request(line: &str) -> Result<(Vip, bool), String> {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let json = words.last() == Some(&"json");
    if json {
        words.pop();
    }
    let prefix = |s: &str| s.parse::<Prefix>().map_err(|e| format!("{s:?}: {e}"));
    let which = match words.as_slice() {
        ["status"] => Vip::Summary,
        ["vip", p] => Vip::One(prefix(p)?),
        ["vips", after, limit] => Vip::Page {
            after: match *after {
                "-" => None,
                p => Some(prefix(p)?),
            },
            limit: limit.parse().map_err(|_| format!("bad limit {limit:?}"))?,
        },
        _ => return Err(format!("unknown request {line:?}")),
    };
    Ok((which, json))
}

/// `ok LEN` or `error LEN`, a newline, then LEN bytes: a client can tell a
/// whole answer from one cut short.
fn frame(r: Result<&str, &str>) -> String {
    let (kind, body) = match r {
        Ok(b) => ("ok", b),
        Err(b) => ("error", b),
    };
    format!("{kind} {}\n{body}", body.len())
}

/// The requests that change the daemon, and what the client is told.
fn command(line: &str) -> Option<(Ctl, &'static str)> {
    match line.trim() {
        "drain" => Some((
            Ctl::Drain,
            if cfg!(feature = "l2") {
                "draining: BGP VIPs are announced with GRACEFUL_SHUTDOWN, layer-2 VIPs handed \
                 over (a backup at priority 1), until `leafvip undrain`\n"
            } else {
                "draining: every VIP is announced with GRACEFUL_SHUTDOWN until `leafvip undrain`\n"
            },
        )),
        "undrain" => Some((Ctl::Undrain, "undrained: VIPs announced as configured\n")),
        "restart" => Some((
            Ctl::Restart,
            "exiting for a restart: the peers keep the routes (Graceful Restart)\n",
        )),
        _ => None,
    }
}

async fn answer(
    mut s: Async<UnixStream>,
    board: Rc<RefCell<Board>>,
    ctl: async_channel::Sender<Input>,
) {
    let work = async {
        let mut req = Vec::new();
        let mut byte = [0u8; 1];
        while req.len() < 128 && s.read(&mut byte).await? == 1 && byte[0] != b'\n' {
            req.push(byte[0]);
        }
        let line = String::from_utf8_lossy(&req);
        if let Some((c, told)) = command(&line) {
            // Answered before the loop acts: a restart ends the process.
            s.write_all(frame(Ok(told)).as_bytes()).await?;
            s.flush().await?;
            let _ = ctl.try_send(Input::Control(c));
            return Ok(());
        }
        let reply = match request(&line) {
            Ok((which, json)) => {
                let first = match &which {
                    Vip::Page { after, .. } => Some(after.is_none()),
                    _ => None,
                };
                let st = Board::status(&board, which).await;
                let busy = board.borrow().busy.clone();
                busy.time("a status answer", || {
                    frame(Ok(&match (first, json) {
                        (Some(first), _) => st.vips_page(json, first),
                        (None, true) => st.to_json(),
                        (None, false) => st.to_text(),
                    }))
                })
            }
            Err(e) => frame(Err(&e)),
        };
        s.write_all(reply.as_bytes()).await?;
        s.flush().await
    };
    let late = async {
        Timer::after(CLIENT_TIME).await;
        Err(io::ErrorKind::TimedOut.into())
    };
    if let Err(e) = future::or(work, late).await {
        debug!("control client: {e}");
    }
}

/// How long the CLI keeps asking a daemon that says "busy".
const BUSY_RETRY: Duration = Duration::from_secs(3);

/// Why a request to the daemon failed; each says what to do.
#[derive(Debug)]
pub enum QueryError {
    /// Not ours to connect to.
    Denied(PathBuf),
    /// Nothing listens there.
    NoDaemon(PathBuf, io::Error),
    /// The daemon is answering as many clients as it will (and said so,
    /// or its socket's queue is full); try again.
    Busy(PathBuf, Option<String>),
    Io(PathBuf, io::Error),
    /// The connection closed before an answer's first line.
    NoAnswer,
    CutShort {
        got: usize,
        len: usize,
    },
    /// The daemon's answer is an error (an unknown request, say).
    Refused(String),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Denied(p) => write!(
                f,
                "permission denied on {}: run as root or as the daemon's user",
                p.display()
            ),
            QueryError::NoDaemon(p, e) => {
                write!(f, "no leafvip daemon is listening on {} ({e})", p.display())
            }
            QueryError::Busy(_, Some(said)) => f.write_str(said.trim_end()),
            QueryError::Busy(p, None) => write!(
                f,
                "busy: the queue of status clients at {} is full, try again",
                p.display()
            ),
            QueryError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            QueryError::NoAnswer => f.write_str("no answer from the daemon"),
            QueryError::CutShort { got, len } => {
                write!(f, "the answer was cut short ({got} of {len} bytes)")
            }
            QueryError::Refused(why) => f.write_str(why.trim_end()),
        }
    }
}

impl std::error::Error for QueryError {}

/// The client side: one request, the whole answer or an error. A daemon
/// busy with other clients is asked again, with a growing pause, for up to
/// [`BUSY_RETRY`]. An answer cut short is an error, never a partial
/// success.
pub fn query(path: &Path, request: &str) -> Result<String, QueryError> {
    let end = std::time::Instant::now() + BUSY_RETRY;
    let mut pause = Duration::from_millis(20);
    loop {
        match query_once(path, request) {
            Err(QueryError::Busy(..)) if std::time::Instant::now() + pause < end => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

fn query_once(path: &Path, request: &str) -> Result<String, QueryError> {
    use std::io::{BufRead, BufReader, Read, Write};
    let io = |e| QueryError::Io(path.to_path_buf(), e);
    let mut s = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => QueryError::Denied(path.to_path_buf()),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            QueryError::NoDaemon(path.to_path_buf(), e)
        }
        io::ErrorKind::WouldBlock => QueryError::Busy(path.to_path_buf(), None),
        _ => io(e),
    })?;
    s.set_read_timeout(Some(CLIENT_TIME * 2)).ok();
    // A daemon that turns us away may close before reading the request:
    // its answer ("busy") is still there to read.
    let _ = s.write_all(format!("{request}\n").as_bytes());
    let mut r = BufReader::new(s);
    let mut head = String::new();
    r.read_line(&mut head).map_err(io)?;
    let (kind, len) = head
        .trim_end()
        .split_once(' ')
        .and_then(|(k, n)| Some((k.to_string(), n.parse::<usize>().ok()?)))
        .ok_or(QueryError::NoAnswer)?;
    let mut body = Vec::with_capacity(len.min(1 << 20));
    r.take(len as u64).read_to_end(&mut body).map_err(io)?;
    if body.len() != len {
        let got = body.len();
        return Err(QueryError::CutShort { got, len });
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    match kind.as_str() {
        "ok" => Ok(body),
        // The daemon's own "busy" answer (`serve`), read off the wire.
        _ if body.starts_with("busy") => Err(QueryError::Busy(path.to_path_buf(), Some(body))),
        _ => Err(QueryError::Refused(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A fake daemon that answers every client with `reply`, then closes.
    fn answering(name: &str, reply: &'static [u8]) -> PathBuf {
        let p = std::env::temp_dir().join(format!("leafvip-ctl-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let l = UnixListener::bind(&p).unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut line = String::new();
                let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(&s), &mut line);
                let _ = s.write_all(reply);
            }
        });
        p
    }

    #[test]
    fn an_answer_cut_short_is_an_error_not_output() {
        let p = answering("short", b"ok 100\n{\"peers\": [");
        let e = query(&p, "status json").unwrap_err();
        assert_eq!(e.to_string(), "the answer was cut short (11 of 100 bytes)");
        let p = answering("whole", b"ok 3\nabc");
        assert_eq!(query(&p, "status").unwrap(), "abc");
        let p = answering("error", b"error 12\nunknown verb");
        let e = query(&p, "status").unwrap_err();
        assert!(
            matches!(&e, QueryError::Refused(why) if why == "unknown verb"),
            "{e}"
        );
    }

    /// Clients that never send hold every slot; the next is told "busy"
    /// instead of waiting or costing a task, and gives up after retrying.
    #[test]
    fn clients_past_the_cap_are_told_busy() {
        let p = std::env::temp_dir().join(format!("leafvip-ctl-{}-busy", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let l = UnixListener::bind(&p).unwrap();
        std::thread::spawn(move || {
            let board = Rc::new(RefCell::new(Board::default()));
            let (tx, _rx) = async_channel::unbounded();
            async_io::block_on(serve(Async::new(l).unwrap(), board, tx));
        });
        let idle: Vec<UnixStream> = (0..MAX_CLIENTS)
            .map(|_| UnixStream::connect(&p).unwrap())
            .collect();
        // Let the server take all eight before the ninth comes.
        std::thread::sleep(Duration::from_millis(300));
        let e = query(&p, "status").unwrap_err();
        assert!(matches!(e, QueryError::Busy(..)), "{e}");
        assert!(e.to_string().starts_with("busy"), "{e}");
        drop(idle);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn requests() {
        assert_eq!(request("status"), Ok((Vip::Summary, false)));
        assert_eq!(request("status json"), Ok((Vip::Summary, true)));
        let p: Prefix = "192.0.2.1/32".parse().unwrap();
        assert_eq!(request("vip 192.0.2.1/32"), Ok((Vip::One(p), false)));
        assert_eq!(
            request("vips 192.0.2.1/32 10 json"),
            Ok((
                Vip::Page {
                    after: Some(p),
                    limit: 10
                },
                true
            ))
        );
        assert!(request("vips - x").is_err());
        assert!(request("shutdown").is_err());
    }
}
