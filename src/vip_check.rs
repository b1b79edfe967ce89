//! `[[vip]] check`: tie a VIP to the service behind it, as ExaBGP's
//! healthcheck does. The config, and the pure state machine that turns
//! probe results into up/down with rise, fall and a hold-down against
//! flapping; the probes themselves are in `runtime/vip_probe.rs`.
//!
//! ```toml
//! [[vip]]
//! prefix = "192.0.2.200/32"
//! check = { http = "http://127.0.0.1:8080/healthz", status = "200-299", body = "ok",
//!           interval = "1s", timeout = "500ms", rise = 2, fall = 2,
//!           maintenance = "/etc/leafvip/maintenance", hold_down = "5s" }
//! down = "withdraw"          # or { med = 1000, communities = ["65000:666"] }
//! ```
//! One of `tcp = "ADDRESS:PORT"`, `http = "http://ADDRESS[:PORT]/PATH"`
//! (an IP address, plain HTTP; `status` a code or range, default
//! "200-399"; `body` a substring of the body) or `exec = ["/path",
//! "arg", …]` (exit status 0 is up; killed at the timeout).
use crate::communities::Community;
use crate::hosts::parse_duration;
use crate::toml_read::{self as tr, FromValue, Spanned, Table};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use toml::de::DeValue;

/// What a check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Tcp(SocketAddr),
    Http {
        to: SocketAddr,
        /// The request target, from the first `/`.
        path: String,
        /// The Host header: the URL's authority.
        host: String,
        status: (u16, u16),
        body: Option<String>,
    },
    Exec(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipCheck {
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    /// While this file exists the check reports down, whatever the probe.
    pub maintenance: Option<PathBuf>,
    /// The least time a VIP stays down once it went down; doubled for
    /// each further fall within [`FLAP_WINDOW`], up to 8 times.
    pub hold_down: Duration,
}

/// What a VIP whose check is down announces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DownAction {
    /// Nothing: the VIP is withdrawn.
    #[default]
    Withdraw,
    /// The VIP still, with this MED and these communities added: for
    /// routers that should prefer the other hosts but keep this one.
    Degrade {
        med: Option<u32>,
        communities: Vec<Community>,
    },
}

fn duration(t: &Table<'_, '_>, key: &str, default: Duration) -> tr::Result<Duration> {
    match t.raw(key) {
        Some(v) => tr::with(v, parse_duration),
        None => Ok(default),
    }
}

/// `http://ADDRESS[:PORT]/PATH` with an IP address: the address to
/// connect to, the authority for Host, and the path.
fn http_url(s: &str) -> Result<(SocketAddr, String, String), String> {
    let bad = |why: &str| format!("{} {why}", crate::quote::quoted(s));
    let rest = s
        .strip_prefix("http://")
        .ok_or_else(|| bad("is not an http:// URL (https is not supported)"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let to = match authority.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => match authority
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
        {
            Ok(ip) => SocketAddr::new(ip, 80),
            Err(_) => return Err(bad("does not name an IP address (and port)")),
        },
    };
    Ok((to, authority.to_string(), path.to_string()))
}

fn status_range(s: &str) -> Result<(u16, u16), String> {
    let bad = || {
        format!(
            "status {} is not a code or a range like 200-299",
            crate::quote::quoted(s)
        )
    };
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if !(100..=599).contains(&a) || !(a..=599).contains(&b) {
        return Err(bad());
    }
    Ok((a, b))
}

impl FromValue for VipCheck {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let t = Table::value(
            v,
            &[
                "tcp",
                "http",
                "exec",
                "status",
                "body",
                "interval",
                "timeout",
                "rise",
                "fall",
                "maintenance",
                "hold_down",
            ],
        )?;
        let kinds = ["tcp", "http", "exec"]
            .iter()
            .filter(|k| t.raw(k).is_some())
            .count();
        if kinds != 1 {
            return Err(tr::Error {
                at: v.span().start,
                problem: "check needs exactly one of tcp, http or exec".into(),
            });
        }
        let probe = if let Some(a) = t.get("tcp")? {
            Probe::Tcp(a)
        } else if let Some(u) = t.raw("http") {
            let (to, host, path) = tr::with(u, http_url)?;
            let status = match t.raw("status") {
                Some(s) => tr::with(s, status_range)?,
                None => (200, 399),
            };
            Probe::Http {
                to,
                path,
                host,
                status,
                body: t.get("body")?,
            }
        } else {
            let argv: Vec<String> = t.req("exec")?;
            if argv.first().is_none_or(|p| !p.starts_with('/')) {
                return t.error(
                    "exec",
                    "check exec needs an absolute program path first".into(),
                );
            }
            Probe::Exec(argv)
        };
        if !matches!(probe, Probe::Http { .. }) {
            for k in ["status", "body"] {
                if t.raw(k).is_some() {
                    return t.error(k, format!("check {k} applies to http checks only"));
                }
            }
        }
        let interval = duration(&t, "interval", Duration::from_secs(1))?;
        let timeout = duration(&t, "timeout", interval.min(Duration::from_secs(1)))?;
        if timeout > interval || timeout.is_zero() {
            return t.error(
                "timeout",
                "check timeout must be above zero and at most the interval".into(),
            );
        }
        let c = VipCheck {
            probe,
            interval,
            timeout,
            rise: t.or("rise", 2)?,
            fall: t.or("fall", 2)?,
            maintenance: t.get("maintenance")?,
            hold_down: duration(&t, "hold_down", Duration::from_secs(5))?,
        };
        if c.rise == 0 || c.fall == 0 {
            return t.error("rise", "check rise and fall are at least 1".into());
        }
        Ok(c)
    }
}

impl FromValue for DownAction {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        if let DeValue::String(s) = v.get_ref() {
            return match s.as_ref() {
                "withdraw" => Ok(DownAction::Withdraw),
                other => Err(tr::Error {
                    at: v.span().start,
                    problem: format!(
                        "down {} is not \"withdraw\" or a table {{ med, communities }}",
                        crate::quote::quoted(other)
                    ),
                }),
            };
        }
        let t = Table::value(v, &["med", "communities"])?;
        Ok(DownAction::Degrade {
            med: t.get("med")?,
            communities: t.or("communities", Vec::new())?,
        })
    }
}

/// Falls within this long of coming back up count as flaps.
pub const FLAP_WINDOW: Duration = Duration::from_secs(60);

/// Rise, fall and hold-down. Going down is never delayed: after `fall`
/// failures in a row the VIP goes, since traffic to a dead service is
/// lost. Coming back needs `rise` passes in a row and the hold-down since
/// it went down; a fall within [`FLAP_WINDOW`] of the last rise doubles
/// the hold-down (up to 8 times), one after a quiet window resets it.
#[derive(Debug, Clone)]
pub struct CheckState {
    pub up: bool,
    passes: u32,
    fails: u32,
    went_down: Option<Instant>,
    came_up: Option<Instant>,
    flaps: u32,
}

impl CheckState {
    /// `up`: the state to start from (a restarted process keeps its
    /// predecessor's; a first start is down, so nothing unverified is
    /// announced).
    pub fn new(up: bool) -> Self {
        CheckState {
            up,
            passes: 0,
            fails: 0,
            went_down: None,
            came_up: None,
            flaps: 0,
        }
    }

    /// The hold-down now in force.
    pub fn hold(&self, c: &VipCheck) -> Duration {
        c.hold_down * (1 << self.flaps.min(3))
    }

    /// One probe result at `now`; Some(new state) when it changes.
    pub fn result(&mut self, c: &VipCheck, passed: bool, now: Instant) -> Option<bool> {
        if passed {
            self.passes += 1;
            self.fails = 0;
        } else {
            self.fails += 1;
            self.passes = 0;
        }
        if self.up && self.fails >= c.fall {
            self.up = false;
            let flapped = self
                .came_up
                .is_some_and(|t| now.saturating_duration_since(t) < FLAP_WINDOW);
            self.flaps = if flapped { self.flaps + 1 } else { 0 };
            self.went_down = Some(now);
            return Some(false);
        }
        let held = self
            .went_down
            .is_some_and(|t| now.saturating_duration_since(t) < self.hold(c));
        if !self.up && self.passes >= c.rise && !held {
            self.up = true;
            self.came_up = Some(now);
            return Some(true);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(extra: &str) -> Result<VipCheck, String> {
        let text = format!("c = {{ {extra} }}");
        let doc = tr::document(&text).map_err(|e| e.problem)?;
        let v = doc.get_ref().get("c").unwrap();
        VipCheck::from_value(v).map_err(|e| e.problem)
    }

    #[test]
    fn checks_read_and_bad_ones_say_why() {
        let c = check(r#"http = "http://127.0.0.1:8080/healthz", status = "200-299", body = "ok""#)
            .unwrap();
        assert_eq!(
            c.probe,
            Probe::Http {
                to: "127.0.0.1:8080".parse().unwrap(),
                path: "/healthz".into(),
                host: "127.0.0.1:8080".into(),
                status: (200, 299),
                body: Some("ok".into())
            }
        );
        assert_eq!(
            (c.interval, c.timeout, c.rise, c.fall),
            (Duration::from_secs(1), Duration::from_secs(1), 2, 2)
        );
        let c = check(r#"http = "http://[2001:db8::1]""#).unwrap();
        assert!(
            matches!(c.probe, Probe::Http { to, ref path, .. } if to.port() == 80 && path == "/")
        );
        for (bad, why) in [
            (
                r#"tcp = "127.0.0.1:80", exec = ["/bin/true"]"#,
                "exactly one",
            ),
            (r#"http = "https://127.0.0.1/""#, "https is not supported"),
            (
                r#"http = "http://localhost/""#,
                "does not name an IP address",
            ),
            (
                r#"http = "http://127.0.0.1/", status = "99""#,
                "is not a code or a range",
            ),
            (r#"exec = ["true"]"#, "absolute program path"),
            (r#"tcp = "127.0.0.1:80", body = "x""#, "http checks only"),
            (
                r#"tcp = "127.0.0.1:80", interval = "1s", timeout = "2s""#,
                "at most the interval",
            ),
            (r#"tcp = "127.0.0.1:80", rise = 0"#, "at least 1"),
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    /// Down after `fall` failures at once; up after `rise` passes, but not
    /// within the hold-down, which doubles for a flap and resets after a
    /// quiet window.
    #[test]
    fn rise_fall_and_a_hold_down_that_grows_with_flaps() {
        let c = check(r#"tcp = "127.0.0.1:80", rise = 2, fall = 2, hold_down = "5s""#).unwrap();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut s = CheckState::new(false);
        assert_eq!(s.result(&c, true, at(0)), None);
        assert_eq!(
            s.result(&c, true, at(1)),
            Some(true),
            "rise 2, never down: no hold"
        );
        assert_eq!(s.result(&c, false, at(2)), None);
        assert_eq!(s.result(&c, false, at(3)), Some(false), "fall 2");
        assert_eq!(s.result(&c, true, at(4)), None);
        assert_eq!(
            s.result(&c, true, at(5)),
            None,
            "held: 2 s of the 10 s (a flap doubled it)"
        );
        assert_eq!(s.hold(&c), Duration::from_secs(10));
        assert_eq!(s.result(&c, true, at(13)), Some(true));
        // A fall long after the rise is no flap: the hold-down resets.
        assert_eq!(s.result(&c, false, at(100)), None);
        assert_eq!(s.result(&c, false, at(101)), Some(false));
        assert_eq!(s.hold(&c), Duration::from_secs(5));
        assert_eq!(s.result(&c, true, at(106)), None, "rise needs 2 passes");
        assert_eq!(s.result(&c, true, at(107)), Some(true));
        // Flapping: the hold-down grows to 8 times and stops there.
        let mut t = 107;
        for want in [10, 20, 40, 40] {
            t += 1;
            s.result(&c, false, at(t));
            t += 1;
            assert_eq!(s.result(&c, false, at(t)), Some(false));
            assert_eq!(s.hold(&c), Duration::from_secs(want));
            t += want;
            s.result(&c, true, at(t));
            t += 1;
            assert_eq!(s.result(&c, true, at(t)), Some(true));
        }
    }

    #[test]
    fn down_actions_read() {
        let text =
            "a = \"withdraw\"\nb = { med = 1000, communities = [\"65000:666\"] }\nc = \"keep\"\n";
        let doc = tr::document(text).unwrap();
        let get = |k: &str| DownAction::from_value(doc.get_ref().get(k).unwrap());
        assert_eq!(get("a").unwrap(), DownAction::Withdraw);
        assert_eq!(
            get("b").unwrap(),
            DownAction::Degrade {
                med: Some(1000),
                communities: vec![Community(65000 << 16 | 666)]
            }
        );
        assert!(get("c")
            .unwrap_err()
            .problem
            .contains("is not \"withdraw\""));
    }
}
