//! Reading the small files leafvip is pointed at (config, VIP list, labels,
//! MD5 keys) without trusting what the path turns out to be.
//!
//! A plain `read_to_string` blocks the event loop for good on a FIFO (in
//! `open()`, until a writer appears) and reads `/dev/zero` until the OOM
//! killer comes. So each file is opened non-blocking, must be a regular
//! file, and is read up to a cap chosen for its kind; anything else fails
//! the load or reload with a reason, and the running state is kept.
use std::fmt;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Config and VIP files: 100k `[[vip]]` tables are about 4 MiB.
pub const CONFIG_CAP: u64 = 64 << 20;
/// A labels file holds a few dozen short lines.
pub const LABELS_CAP: u64 = 1 << 20;
/// A TCP MD5 key is at most 80 bytes; a trailing newline or two fit.
pub const KEY_CAP: u64 = 4 << 10;

#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// A FIFO, socket, device or directory: named by kind.
    NotRegular(&'static str),
    TooLarge {
        cap: u64,
    },
    /// The first byte that is not UTF-8, by 1-based line.
    NotUtf8 {
        line: usize,
    },
}

impl ReadError {
    /// The line a problem sits at, 0 when it is the file as a whole.
    pub fn line(&self) -> usize {
        match self {
            ReadError::NotUtf8 { line } => *line,
            _ => 0,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "cannot read: {e}"),
            ReadError::NotRegular(kind) => write!(f, "is a {kind}, not a regular file"),
            ReadError::TooLarge { cap } => write!(f, "is larger than {} KiB", cap >> 10),
            ReadError::NotUtf8 { .. } => write!(f, "is not valid UTF-8"),
        }
    }
}

fn kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else {
        "special file"
    }
}

/// Reads a regular file of at most `cap` bytes as text.
pub fn read_text(path: &Path, cap: u64) -> Result<String, ReadError> {
    let bytes = read_bytes(path, cap)?;
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..bad].iter().filter(|&&b| b == b'\n').count() + 1;
        ReadError::NotUtf8 { line }
    })
}

/// Opens a regular file of at most `cap` bytes for reading, and says how
/// long it is. Reads from it must still stop at the cap: it may grow.
pub fn open(path: &Path, cap: u64) -> Result<(std::fs::File, u64), ReadError> {
    // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a
    // writer; the type check below then refuses it.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(ReadError::Io)?;
    let m = f.metadata().map_err(ReadError::Io)?;
    if !m.file_type().is_file() {
        return Err(ReadError::NotRegular(kind(m.file_type())));
    }
    if m.len() > cap {
        return Err(ReadError::TooLarge { cap });
    }
    Ok((f, m.len()))
}

/// Reads a regular file of at most `cap` bytes.
pub fn read_bytes(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let (f, len) = open(path, cap)?;
    // The file may grow between the stat and the read: never past the cap.
    let mut out = Vec::with_capacity(len as usize);
    f.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(ReadError::Io)?;
    if out.len() as u64 > cap {
        return Err(ReadError::TooLarge { cap });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("leafvip-files-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_fifo_is_refused_at_once_instead_of_blocking() {
        let d = dir("fifo");
        let p = d.join("labels");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = read_text(&p, LABELS_CAP).unwrap_err();
        assert_eq!(e.to_string(), "is a FIFO, not a regular file");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn devices_and_directories_are_refused() {
        let e = read_text(Path::new("/dev/zero"), LABELS_CAP).unwrap_err();
        assert_eq!(e.to_string(), "is a character device, not a regular file");
        let e = read_text(Path::new("/"), LABELS_CAP).unwrap_err();
        assert_eq!(e.to_string(), "is a directory, not a regular file");
    }

    #[test]
    fn caps_and_encoding() {
        let d = dir("cap");
        let p = d.join("f");
        std::fs::write(&p, vec![b'a'; 5000]).unwrap();
        assert!(matches!(
            read_text(&p, KEY_CAP),
            Err(ReadError::TooLarge { cap: KEY_CAP })
        ));
        assert_eq!(read_text(&p, 5000).unwrap().len(), 5000);
        std::fs::write(&p, b"a=1\nb=2\nc=\xff\n").unwrap();
        let e = read_text(&p, KEY_CAP).unwrap_err();
        assert_eq!(
            (e.line(), e.to_string().as_str()),
            (3, "is not valid UTF-8")
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
