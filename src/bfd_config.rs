//! A peer's `bfd = { min_rx = "100ms", min_tx = "100ms", multiplier = 3,
//! passive = false }`: the BFD session (RFC 5880, single hop RFC 5881)
//! that guards its BGP session. Read in every build, so that a build
//! without the `bfd` feature names the line that asks for it instead of
//! ignoring it.
use crate::toml_read::{self as tr, FromValue, Spanned, Table};
use std::time::Duration;
use toml::de::DeValue;

/// The fastest interval accepted, as FRR's bfdd: below this a loaded
/// host's scheduling jitter alone would bring sessions down.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// The slowest: 60 s, well inside the packet's 32-bit microseconds.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdConfig {
    /// Required Min RX: how often the peer may send to us.
    pub min_rx: Duration,
    /// Desired Min TX, once Up (one packet a second before).
    pub min_tx: Duration,
    /// Detect Mult: packets missed before the peer is declared down.
    pub multiplier: u8,
    /// Wait for the peer's first packet before sending (RFC 5880 6.1).
    pub passive: bool,
}

impl Default for BfdConfig {
    /// 300 ms × 3, as FRR's and BIRD's own defaults are within a factor of
    /// three of: under a second to detect, and gentle on small routers.
    fn default() -> Self {
        BfdConfig {
            min_rx: Duration::from_millis(300),
            min_tx: Duration::from_millis(300),
            multiplier: 3,
            passive: false,
        }
    }
}

impl BfdConfig {
    /// The time the peer is given before it is declared down, if it sends
    /// as often as we ask.
    pub fn detect_time(&self) -> Duration {
        self.min_rx * u32::from(self.multiplier)
    }

    #[cfg(feature = "bfd")]
    pub fn session_config(&self) -> leafvip_bfd::Config {
        let us = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        leafvip_bfd::Config {
            desired_min_tx: us(self.min_tx),
            required_min_rx: us(self.min_rx),
            detect_mult: self.multiplier,
            passive: self.passive,
        }
    }
}

fn interval(t: &Table<'_, '_>, key: &str, default: Duration) -> tr::Result<Duration> {
    let Some(v) = t.raw(key) else {
        return Ok(default);
    };
    let d = tr::with(v, crate::hosts::parse_duration)?;
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&d) {
        return t.error(key, format!("bfd {key} {d:?} is outside 10ms to 60s"));
    }
    Ok(d)
}

impl FromValue for BfdConfig {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let t = Table::value(v, &["min_rx", "min_tx", "multiplier", "passive"])?;
        if !cfg!(feature = "bfd") {
            return Err(tr::Error {
                at: v.span().start,
                problem: "bfd is set, but this leafvip was built without the `bfd` feature".into(),
            });
        }
        let d = BfdConfig::default();
        let multiplier: u8 = t.or("multiplier", d.multiplier)?;
        if multiplier == 0 {
            return t.error("multiplier", "bfd multiplier must be 1 to 255".into());
        }
        Ok(BfdConfig {
            min_rx: interval(&t, "min_rx", d.min_rx)?,
            min_tx: interval(&t, "min_tx", d.min_tx)?,
            multiplier,
            passive: t.or("passive", d.passive)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(bfd: &str, extra: &str) -> Result<Config, crate::config::ConfigError> {
        let text = format!(
            "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n[[peer]]\naddress = \"198.51.100.1\"\n\
             asn = 65001\n{extra}\nbfd = {{ {bfd} }}\n"
        );
        Config::parse("leafvip.toml", &text)
    }

    #[cfg(feature = "bfd")]
    #[test]
    fn reads_bfd_with_defaults_and_names_bad_values_by_line() {
        let c = parse(
            r#"min_rx = "100ms", min_tx = "250ms", multiplier = 5, passive = true"#,
            "",
        )
        .unwrap();
        use std::time::Duration;
        let b = c.peers[0].get_ref().bfd.unwrap();
        assert_eq!(b.min_rx, Duration::from_millis(100));
        assert_eq!(b.min_tx, Duration::from_millis(250));
        assert_eq!((b.multiplier, b.passive), (5, true));
        assert_eq!(b.detect_time(), Duration::from_millis(500));
        let d = parse("", "").unwrap().peers[0].get_ref().bfd.unwrap();
        assert_eq!(d, super::BfdConfig::default());

        for (bfd, extra, want) in [
            ("multiplier = 0", "", "bfd multiplier must be 1 to 255"),
            (
                r#"min_rx = "5ms""#,
                "",
                "bfd min_rx 5ms is outside 10ms to 60s",
            ),
            (
                r#"min_tx = "2m""#,
                "",
                "bfd min_tx 120s is outside 10ms to 60s",
            ),
            (
                r#"min_rx = "fast""#,
                "",
                "is not a number followed by ms, s or m",
            ),
            ("echo = true", "", "echo"),
            (
                "",
                "ebgp_multihop = 2",
                "bfd is single-hop (RFC 5881) and excludes ebgp_multihop",
            ),
        ] {
            let e = parse(bfd, extra).unwrap_err();
            assert!(e.problem.contains(want), "{bfd}: {e}");
            assert!(e.line >= 6, "{bfd}: {e} should point at the bfd line");
            assert_eq!(e.file, "leafvip.toml");
        }
    }

    #[cfg(not(feature = "bfd"))]
    #[test]
    fn a_build_without_bfd_refuses_it_on_its_line() {
        let e = parse(r#"min_rx = "100ms""#, "").unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        assert!(e.problem.contains("without the `bfd` feature"), "{e}");
    }
}
