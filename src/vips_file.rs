//! `vips_file`: long VIP lists, one `PREFIX [NEXT_HOP]` per line, for VIPs
//! that need no per-VIP attributes. The file is read line by line, never
//! whole, straight into the compact list (`vip_list`): at 100k lines the
//! text and an intermediate list once doubled the daemon's peak memory.
//! Duplicates are found by the list's sort; their lines by a second pass,
//! only when there is one.
use crate::config::{Config, ConfigError, NextHopSpec};
use crate::files::{self, ReadError};
use crate::vip_list::{Builder, Duplicate, VipList};
use leafvip_bgp::wire::{Prefix, PrefixParseError};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Calls `each` with (1-based line number, the line's words) for every
/// line that is not blank or a comment.
fn lines(
    path: &Path,
    mut each: impl FnMut(usize, &str) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    let file = path.display().to_string();
    let failed = |line: usize, e: ReadError| ConfigError {
        file: file.clone(),
        line,
        problem: e.to_string(),
    };
    let (f, _) = files::open(path, files::CONFIG_CAP).map_err(|e| failed(0, e))?;
    let mut r = BufReader::new(f.take(files::CONFIG_CAP + 1));
    let (mut buf, mut n, mut total) = (String::new(), 0usize, 0u64);
    loop {
        buf.clear();
        let got = r.read_line(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => failed(n + 1, ReadError::NotUtf8 { line: n + 1 }),
            _ => failed(0, ReadError::Io(e)),
        })?;
        if got == 0 {
            return Ok(());
        }
        total += got as u64;
        if total > files::CONFIG_CAP {
            return Err(failed(
                0,
                ReadError::TooLarge {
                    cap: files::CONFIG_CAP,
                },
            ));
        }
        n += 1;
        let line = buf.split('#').next().unwrap_or("").trim();
        if !line.is_empty() {
            each(n, line)?;
        }
    }
}

/// One line's prefix and next hop, or what is wrong with it.
fn parse(line: &str) -> Result<(Prefix, NextHopSpec), String> {
    let mut words = line.split_whitespace();
    let prefix: Prefix = words
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|e: PrefixParseError| crate::quote::clip(&e.to_string()))?;
    if let Some(why) = crate::vip_scope::refuse(&prefix) {
        return Err(format!("{prefix} is {why}, never a service address"));
    }
    let next_hop =
        match words.next() {
            None | Some("self") => NextHopSpec::SelfAddress,
            Some(a) => NextHopSpec::Address(a.parse().map_err(|_| {
                format!("next hop {} is not an IP address", crate::quote::quoted(a))
            })?),
        };
    if let Some(extra) = words.next() {
        return Err(format!(
            "unexpected {}: lines are PREFIX [NEXT_HOP]",
            crate::quote::quoted(extra)
        ));
    }
    if let NextHopSpec::Address(a) = next_hop {
        if a.is_ipv4() != matches!(prefix, Prefix::V4 { .. }) {
            return Err(format!("next hop {a} is not of the family of {prefix}"));
        }
    }
    Ok((prefix, next_hop))
}

impl Config {
    /// Every VIP, inline and from `vips_file`, checked against each other.
    /// Here rather than in `config`, which knows nothing of the VIP list.
    pub fn vip_list(&self) -> Result<VipList, ConfigError> {
        read(self)
    }
}

/// Every VIP: the inline `[[vip]]`s and the lines of `cfg.vips_file`,
/// checked line by line and against each other.
pub fn read(cfg: &Config) -> Result<VipList, ConfigError> {
    let inline = cfg.vips().count();
    let Some(path) = &cfg.vips_file else {
        let mut b = Builder::with_capacity(inline);
        cfg.vips().for_each(|v| b.push_config(v));
        // The config refused inline duplicates already.
        return b.finish().map_err(|Duplicate(p)| ConfigError {
            file: String::new(),
            line: 0,
            problem: format!("vip {p} is configured twice"),
        });
    };
    let file = path.display().to_string();
    // A first pass counts, so that the list is allocated once, exactly.
    let mut count = 0;
    lines(path, |_, _| {
        count += 1;
        Ok(())
    })?;
    let mut b = Builder::with_capacity(inline + count);
    cfg.vips().for_each(|v| b.push_config(v));
    lines(path, |n, line| {
        let (p, h) = parse(line).map_err(|problem| ConfigError {
            file: file.clone(),
            line: n,
            problem,
        })?;
        b.push(p, h);
        Ok(())
    })?;
    b.finish().map_err(|Duplicate(p)| locate(cfg, path, p))
}

/// Where a duplicate prefix stands: twice in the file, or in the file and
/// inline.
fn locate(cfg: &Config, path: &Path, dup: Prefix) -> ConfigError {
    let mut at = Vec::new();
    let _ = lines(path, |n, line| {
        if parse(line).is_ok_and(|(p, _)| p == dup) {
            at.push(n);
        }
        Ok(())
    });
    let file = path.display().to_string();
    match at[..] {
        [first, again, ..] => ConfigError {
            file,
            line: again,
            problem: format!("vip {dup} is configured twice (first at line {first})"),
        },
        [line] if cfg.vips().any(|v| v.prefix == dup) => ConfigError {
            file,
            line,
            problem: format!("vip {dup} is also configured inline"),
        },
        _ => ConfigError {
            file,
            line: 0,
            problem: format!("vip {dup} is configured twice"),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, NextHopSpec};

    const GOOD: &str = "[bgp]\nasn = 65100\n[[vip]]\nprefix = \"192.0.2.200/32\"\n";

    #[test]
    fn vips_file_errors_name_their_line() {
        let dir = std::env::temp_dir().join(format!("leafvip-vips-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("vips");
        let cfg = |body: &[u8]| {
            std::fs::write(&f, body).unwrap();
            let text = format!("vips_file = {:?}\n{GOOD}", f.display().to_string());
            super::read(&Config::parse("x", &text).unwrap())
        };
        let ok =
            cfg(b"# list\n192.0.2.10/32\n192.0.2.11/32 198.51.100.9\n2001:db8::10 self\n").unwrap();
        assert_eq!(ok.len(), 4, "three lines and the inline one");
        assert_eq!(
            ok.get(&"192.0.2.11/32".parse().unwrap()).unwrap().next_hop,
            NextHopSpec::Address("198.51.100.9".parse().unwrap())
        );
        let name = f.display().to_string();
        assert_eq!(
            cfg(b"192.0.2.10/32\n\n192.0.2.10/32\n")
                .unwrap_err()
                .to_string(),
            format!("{name}:3: vip 192.0.2.10/32 is configured twice (first at line 1)")
        );
        assert!(cfg(b"192.0.2.300/32\n")
            .unwrap_err()
            .to_string()
            .starts_with(&format!("{name}:1: ")));
        assert!(cfg(b"192.0.2.10/32 2001:db8::1\n")
            .unwrap_err()
            .problem
            .contains("not of the family"));
        assert_eq!(
            cfg(b"192.0.2.1/32\n192.0.2.200/32\n")
                .unwrap_err()
                .to_string(),
            format!("{name}:2: vip 192.0.2.200/32 is also configured inline")
        );
        assert_eq!(
            cfg(b"192.0.2.1/32\n192.0.2.\xff/32\n")
                .unwrap_err()
                .to_string(),
            format!("{name}:2: is not valid UTF-8")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
