//! The control socket: `leafvip status` connects, sends one request line
//! and reads the answer. A Unix socket with mode 0600 means access control
//! is the file system's: root and the daemon's own user.
use super::board::Board;
use async_io::{Async, Timer};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use std::cell::RefCell;
use std::io;
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

/// Answers clients until the daemon ends.
pub async fn serve(listener: Async<UnixListener>, board: Rc<RefCell<Board>>) {
    let ex = async_executor::LocalExecutor::new();
    ex.run(async {
        loop {
            match listener.accept().await {
                Ok((s, _)) => ex.spawn(answer(s, board.clone())).detach(),
                Err(e) => {
                    warn!("control socket: {e}");
                    Timer::after(Duration::from_millis(100)).await;
                }
            }
        }
    })
    .await
}

async fn answer(mut s: Async<UnixStream>, board: Rc<RefCell<Board>>) {
    let work = async {
        let mut req = Vec::new();
        let mut byte = [0u8; 1];
        while req.len() < 64 && s.read(&mut byte).await? == 1 && byte[0] != b'\n' {
            req.push(byte[0]);
        }
        let reply = match req.trim_ascii() {
            b"status" => Board::status(&board).await.to_text(),
            b"status json" => Board::status(&board).await.to_json(),
            other => format!(
                "error: unknown request {:?}\n",
                String::from_utf8_lossy(other)
            ),
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

/// The client side: one request, the whole answer. Errors say what to do.
pub fn query(path: &Path, request: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => format!(
            "permission denied on {}: run as root or as the daemon's user",
            path.display()
        ),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            format!("no leafvip daemon is listening on {} ({e})", path.display())
        }
        _ => format!("{}: {e}", path.display()),
    })?;
    s.set_read_timeout(Some(CLIENT_TIME)).ok();
    s.write_all(format!("{request}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(out)
}
