//! TCP MD5 keys (RFC 2385), read from each peer's `password_file` when the
//! config is loaded, so that a changed key is a changed peer: a reload
//! restarts that session and re-keys the listener with the new key.
use crate::files::{self, ReadError};
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A key as read; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Md5Key(Vec<u8>);

impl fmt::Debug for Md5Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Md5Key(<redacted>)")
    }
}

impl Md5Key {
    /// A key given inline (OpenELB's `spec.conf.authPassword`).
    pub fn new(key: Vec<u8>) -> Result<Md5Key, KeyError> {
        match key.len() {
            1..=80 => Ok(Md5Key(key)),
            n => Err(KeyError::Length(n)),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

#[derive(Debug)]
pub enum KeyError {
    Read(ReadError),
    /// Linux takes 1 to 80 bytes (TCP_MD5SIG_MAXKEYLEN).
    Length(usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Read(e) => e.fmt(f),
            KeyError::Length(n) => write!(f, "a TCP MD5 key is 1 to 80 bytes, this one {n}"),
        }
    }
}

/// Reads a key file: one line, its line end dropped. Whether others may
/// read it comes back beside the key, for the caller to warn about.
pub fn read(path: &Path) -> Result<(Md5Key, bool), KeyError> {
    let mut key = files::read_bytes(path, files::KEY_CAP).map_err(KeyError::Read)?;
    while matches!(key.last(), Some(b'\n' | b'\r')) {
        key.pop();
    }
    let key = Md5Key::new(key)?;
    let world_readable = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o004 != 0)
        .unwrap_or(false);
    Ok((key, world_readable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_line_and_says_who_may_read_it() {
        let d = std::env::temp_dir().join(format!("leafvip-keys-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("key");
        std::fs::write(&f, "s3cret\r\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (k, open) = read(&f).unwrap();
        assert_eq!((k.bytes(), open), (&b"s3cret"[..], false));
        assert_eq!(format!("{k:?}"), "Md5Key(<redacted>)");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read(&f).unwrap().1);
        std::fs::write(&f, "\n").unwrap();
        assert_eq!(
            read(&f).unwrap_err().to_string(),
            "a TCP MD5 key is 1 to 80 bytes, this one 0"
        );
        std::fs::write(&f, [b'k'; 81]).unwrap();
        assert!(matches!(read(&f), Err(KeyError::Length(81))));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
