//! `vips_file`: long VIP lists, one `PREFIX [NEXT_HOP]` per line, for VIPs
//! that need no per-VIP attributes. Duplicates are found by sorting
//! indices, not with a set beside the list, so a 100k-line file stays cheap.
use crate::config::{Config, ConfigError, NextHopSpec};
use leafvip_bgp::wire::Prefix;

/// Reads `cfg.vips_file`: one `PREFIX [NEXT_HOP]` per line, `#` comments.
/// Checked line by line, and against the inline `[[vip]]`s.
pub fn read(cfg: &Config) -> Result<Vec<(Prefix, NextHopSpec)>, ConfigError> {
    let Some(path) = &cfg.vips_file else {
        return Ok(Vec::new());
    };
    let file = path.display().to_string();
    let text = crate::config::read_file(path)?;
    let mut out = Vec::new();
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let err = |problem: String| ConfigError {
            file: file.clone(),
            line: i + 1,
            problem,
        };
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let prefix: Prefix = words.next().unwrap_or("").parse().map_err(
            |e: leafvip_bgp::wire::PrefixParseError| err(crate::quote::clip(&e.to_string())),
        )?;
        let next_hop = match words.next() {
            None | Some("self") => NextHopSpec::SelfAddress,
            Some(a) => NextHopSpec::Address(a.parse().map_err(|_| {
                err(format!(
                    "next hop {} is not an IP address",
                    crate::quote::quoted(a)
                ))
            })?),
        };
        if let Some(extra) = words.next() {
            return Err(err(format!(
                "unexpected {}: lines are PREFIX [NEXT_HOP]",
                crate::quote::quoted(extra)
            )));
        }
        if let NextHopSpec::Address(a) = next_hop {
            if a.is_ipv4() != matches!(prefix, Prefix::V4 { .. }) {
                return Err(err(format!(
                    "next hop {a} is not of the family of {prefix}"
                )));
            }
        }
        out.push((prefix, next_hop));
        lines.push(i as u32 + 1);
    }
    // Duplicates, found by sorting rather than with a set beside the
    // list (a 100k-line file should not cost twice its size).
    let mut order: Vec<u32> = (0..out.len() as u32).collect();
    order.sort_unstable_by_key(|i| out[*i as usize].0);
    for w in order.windows(2) {
        let (a, b) = (w[0] as usize, w[1] as usize);
        if out[a].0 == out[b].0 {
            let (first, again) = (lines[a].min(lines[b]), lines[a].max(lines[b]));
            return Err(ConfigError {
                file,
                line: again as usize,
                problem: format!(
                    "vip {} is configured twice (first at line {first})",
                    out[a].0
                ),
            });
        }
    }
    for v in cfg.vips() {
        if let Ok(i) = order.binary_search_by_key(&v.prefix, |i| out[*i as usize].0) {
            let line = lines[order[i] as usize];
            return Err(ConfigError {
                file,
                line: line as usize,
                problem: format!("vip {} is also configured inline", v.prefix),
            });
        }
    }
    Ok(out)
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
        let cfg = |body: &str| {
            std::fs::write(&f, body).unwrap();
            let text = format!("vips_file = {:?}\n{GOOD}", f.display().to_string());
            Config::parse("x", &text).unwrap().file_vips()
        };
        let ok =
            cfg("# list\n192.0.2.10/32\n192.0.2.11/32 198.51.100.9\n2001:db8::10 self\n").unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(
            ok[1].1,
            NextHopSpec::Address("198.51.100.9".parse().unwrap())
        );
        let name = f.display().to_string();
        assert_eq!(
            cfg("192.0.2.10/32\n\n192.0.2.10/32\n")
                .unwrap_err()
                .to_string(),
            format!("{name}:3: vip 192.0.2.10/32 is configured twice (first at line 1)")
        );
        assert!(cfg("192.0.2.300/32\n")
            .unwrap_err()
            .to_string()
            .starts_with(&format!("{name}:1: ")));
        assert!(cfg("192.0.2.10/32 2001:db8::1\n")
            .unwrap_err()
            .problem
            .contains("not of the family"));
        assert!(cfg("192.0.2.200/32\n")
            .unwrap_err()
            .problem
            .contains("also configured inline"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
