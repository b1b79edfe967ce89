//! The restart marker: a restarting process leaves it beside its control
//! socket (`leafvip.sock`: `leafvip.restarting`), and the next process,
//! finding it, sets the Restart State bit so the routers keep its routes.
//!
//! The marker is trusted only as far as nobody else can have written it.
//! It is written by root beside a socket whose directory may not be ours,
//! so (issue 20):
//! - it is never written or believed in a directory that others can write
//!   (a world-writable socket directory is warned about at start);
//! - it is created with `O_EXCL | O_NOFOLLOW`, mode 0600, after unlinking
//!   whatever stood there: a symlink planted at its name is replaced, never
//!   followed, so root never writes through it;
//! - it is read with `O_NOFOLLOW` and believed only when it is a regular
//!   file of our own uid with no access for others, from this boot (when
//!   the boot began, by the wall clock less CLOCK_BOOTTIME: the kernel's
//!   boot id is hidden from the packaged unit, `ProcSubset=pid`), and
//!   younger than the restart time. A forged one
//!   cannot set the R bit and leave a router holding stale routes.
use leafvip_bgp::wire::Prefix;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

const HEADER: &str = "leafvip restart marker 1";
/// The most a marker may hold: the header lines and down VIPs (a VIP is
/// at most 44 bytes a line); anything longer is not ours.
const CAP: u64 = 4 << 20;

/// What a restarting process tells the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// When the boot began, in milliseconds since the epoch
    /// ([`boot_began_ms`]): a marker from before a reboot means nothing.
    pub boot: u64,
    /// When the old process went, in seconds since the epoch.
    pub went: u64,
    /// The old process, for the log.
    pub pid: u32,
    /// The VIPs whose check was down then.
    pub down: Vec<Prefix>,
}

/// Why a marker was not written or not believed.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The directory can be written by others than its owner.
    OpenDirectory(PathBuf),
    /// Not a regular file, another owner, or readable by others.
    Foreign(&'static str),
    /// Not in our format.
    Malformed,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::OpenDirectory(d) => write!(
                f,
                "{} is writable by others: no restart marker is written or believed there",
                d.display()
            ),
            Refused::Foreign(why) => write!(f, "not ours ({why})"),
            Refused::Malformed => f.write_str("not a restart marker"),
        }
    }
}

/// The marker's path beside the control socket.
pub fn path(socket: &Path) -> PathBuf {
    socket.with_extension("restarting")
}

fn euid() -> u32 {
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    unsafe { libc::geteuid() }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Two readings of [`boot_began_ms`] in one boot differ by less than this
/// (the two clocks are read one after the other; an NTP slew is slower).
/// Across a reboot they differ by the old boot's uptime and the downtime.
pub const BOOT_SLACK_MS: u64 = 2000;

/// When this boot began, in milliseconds since the epoch: the wall clock
/// less CLOCK_BOOTTIME. It stays put within a boot and moves on with
/// each, and needs no file (`/proc/sys` is hidden from the unit).
pub fn boot_began_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        return 0;
    }
    let up = (ts.tv_sec as u64).saturating_mul(1000) + ts.tv_nsec as u64 / 1_000_000;
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    wall.saturating_sub(up)
}

/// Whether markers may live in the socket's directory: it must not be
/// writable by group or others (`/run/leafvip` is 0755 root).
pub fn directory_safe(socket: &Path) -> Result<(), Refused> {
    let dir = match socket.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let m = std::fs::metadata(dir).map_err(|_| Refused::OpenDirectory(dir.to_path_buf()))?;
    if m.permissions().mode() & 0o022 != 0 {
        return Err(Refused::OpenDirectory(dir.to_path_buf()));
    }
    Ok(())
}

impl Marker {
    pub fn encode(&self) -> String {
        let mut s = format!(
            "{HEADER}\nboot {}\nwent {}\npid {}\n",
            self.boot, self.went, self.pid
        );
        for p in &self.down {
            s.push_str(&format!("down {p}\n"));
        }
        s
    }

    pub fn parse(text: &str) -> Option<Marker> {
        let mut lines = text.lines();
        (lines.next()? == HEADER).then_some(())?;
        let mut field = |key: &str| lines.next()?.strip_prefix(key)?.strip_prefix(' ');
        let boot = field("boot")?.parse().ok()?;
        let went = field("went")?.parse().ok()?;
        let pid = field("pid")?.parse().ok()?;
        let down = lines
            .map(|l| l.strip_prefix("down ")?.parse().ok())
            .collect::<Option<Vec<Prefix>>>()?;
        Some(Marker {
            boot,
            went,
            pid,
            down,
        })
    }

    /// Whether this marker says the process before ours restarted on this
    /// boot less than `restart_time` seconds before `now`.
    pub fn fresh(&self, boot: u64, now: u64, restart_time: u16) -> bool {
        boot != 0
            && self.boot.abs_diff(boot) < BOOT_SLACK_MS
            && self.went <= now
            && now - self.went < u64::from(restart_time)
    }
}

/// Why no marker was written.
#[derive(Debug)]
pub enum WriteError {
    Refused(Refused),
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Refused(r) => write!(f, "{r}"),
            WriteError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

/// Writes the marker beside `socket` for the next process.
pub fn write(socket: &Path, down: Vec<Prefix>) -> Result<(), WriteError> {
    directory_safe(socket).map_err(WriteError::Refused)?;
    let m = path(socket);
    // Whatever stands at the name (an old marker, a planted symlink) goes;
    // unlink removes a link itself, never its target.
    let _ = std::fs::remove_file(&m);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&m)
        .map_err(|e| WriteError::Io(m.clone(), e))?;
    let text = Marker {
        boot: boot_began_ms(),
        went: now_secs(),
        pid: std::process::id(),
        down,
    }
    .encode();
    f.write_all(text.as_bytes())
        .map_err(|e| WriteError::Io(m, e))
}

/// Reads and removes the marker; the marker if it is ours and believable.
/// `Ok(None)`: there was none.
pub fn take(socket: &Path) -> Result<Option<Marker>, Refused> {
    let m = path(socket);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&m);
    let _ = std::fs::remove_file(&m);
    let f = match f {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) => {
            return Err(Refused::Foreign(
                "not a file we can open without following a link",
            ))
        }
    };
    directory_safe(socket)?;
    read_ours(f).map(Some)
}

fn read_ours(f: File) -> Result<Marker, Refused> {
    let meta = f
        .metadata()
        .map_err(|_| Refused::Foreign("cannot stat it"))?;
    if !meta.file_type().is_file() {
        return Err(Refused::Foreign("not a regular file"));
    }
    if meta.uid() != euid() {
        return Err(Refused::Foreign("another user's"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(Refused::Foreign("open to others"));
    }
    let mut text = String::new();
    f.take(CAP)
        .read_to_string(&mut text)
        .map_err(|_| Refused::Malformed)?;
    Marker::parse(&text).ok_or(Refused::Malformed)
}

#[cfg(test)]
mod tests;
