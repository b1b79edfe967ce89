//! The probes of `[[vip]] check` (`crate::vip_check`), on the loop's
//! executor: a TCP connect, an HTTP GET (httparse reads the answer), or a
//! command. None blocks the loop: sockets are async-io's, and a command
//! is watched with `try_wait` between short timers, killed at the timeout
//! and always reaped, so no zombie is left.
use crate::daemon::Input;
use crate::vip_check::{CheckState, Probe, VipCheck};
use async_io::{Async, Timer};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use leafvip_bgp::wire::Prefix;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The most of an HTTP answer read.
const HTTP_MAX: usize = 64 * 1024;

/// Runs the check of `prefix` until the receiver is gone, starting `up`
/// or not; sends each change to the core.
pub async fn run(prefix: Prefix, c: VipCheck, up: bool, tx: async_channel::Sender<Input>) {
    let mut state = CheckState::new(up);
    loop {
        let started = Instant::now();
        let maintenance = c.maintenance.as_deref().is_some_and(|p| p.exists());
        let passed = !maintenance && probe(&c.probe, c.timeout).await;
        if let Some(now) = state.result(&c, passed, Instant::now()) {
            if tx.send(Input::Vip(prefix, now)).await.is_err() {
                return;
            }
        }
        Timer::at(started + c.interval).await;
    }
}

/// Whether the probe passes within `timeout`.
pub async fn probe(p: &Probe, timeout: Duration) -> bool {
    let late = async {
        Timer::after(timeout).await;
        false
    };
    match p {
        Probe::Tcp(a) => {
            future::or(
                async { Async::<TcpStream>::connect(*a).await.is_ok() },
                late,
            )
            .await
        }
        Probe::Http {
            to,
            path,
            host,
            status,
            body,
        } => {
            let get = async {
                http(*to, path, host).await.is_some_and(|(code, text)| {
                    (status.0..=status.1).contains(&code)
                        && body.as_ref().is_none_or(|b| text.contains(b.as_str()))
                })
            };
            future::or(get, late).await
        }
        Probe::Exec(argv) => exec(argv, timeout).await,
    }
}

/// GET `path`: the status and the body (chunked framing undone), or None
/// when the answer is not HTTP.
async fn http(to: std::net::SocketAddr, path: &str, host: &str) -> Option<(u16, String)> {
    let mut s = Async::<TcpStream>::connect(to).await.ok()?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: leafvip-check\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while buf.len() < HTTP_MAX {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(len) = r.parse(&buf).ok()? else {
        return None;
    };
    let chunked = r.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
    });
    let code = r.code?;
    let raw = &buf[len..];
    let body = if chunked { unchunk(raw) } else { raw.to_vec() };
    Some((code, String::from_utf8_lossy(&body).into_owned()))
}

/// A chunked body's data, as far as it is whole.
fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(httparse::Status::Complete((at, size))) = httparse::parse_chunk_size(raw) {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size == 0 || raw.len() < at.saturating_add(size) {
            break;
        }
        out.extend_from_slice(&raw[at..at + size]);
        raw = raw.get(at + size + 2..).unwrap_or_default();
    }
    out
}

/// Runs the command; exit status 0 within `timeout` passes. Killed at the
/// timeout, and waited for in every case.
async fn exec(argv: &[String], timeout: Duration) -> bool {
    let Some((prog, args)) = argv.split_first() else {
        return false;
    };
    let child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    let end = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < end => {
                Timer::after(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(unchunk(b"2\r\nok\r\n3\r\n!!!\r\n0\r\n\r\n"), b"ok!!!");
        assert_eq!(unchunk(b"5\r\nab"), b"", "a cut chunk is left out");
    }

    #[test]
    fn commands_pass_fail_and_time_out_without_zombies() {
        let run = |argv: &[&str], t: u64| {
            let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
            async_io::block_on(exec(&argv, Duration::from_millis(t)))
        };
        assert!(run(&["/bin/sh", "-c", "exit 0"], 2000));
        assert!(!run(&["/bin/sh", "-c", "exit 3"], 2000));
        assert!(!run(&["/nonexistent/check"], 2000));
        let t = Instant::now();
        assert!(!run(&["/bin/sleep", "5"], 200), "killed at the timeout");
        assert!(t.elapsed() < Duration::from_secs(2));
        // Reaped: this thread has no child left, zombie or not.
        let kids = std::fs::read_to_string(format!(
            "/proc/self/task/{}/children",
            nix::unistd::gettid()
        ))
        .expect("the kernel lists a thread's children");
        assert!(kids.trim().is_empty(), "children left: {kids}");
    }
}
