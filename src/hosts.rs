//! `[[host]]`: the hosts a rack speaker may announce as third-party next
//! hops, as Kubernetes lists Nodes, each with labels (its rack) and an
//! optional TCP health check.
use crate::labels::{self, Labels};
use crate::toml_read::{self as tr, FromValue, Spanned, Table};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use toml::de::DeValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    pub name: String,
    pub address: Option<Ipv4Addr>,
    pub address6: Option<Ipv6Addr>,
    pub labels: Labels,
    /// Without a check the host always counts as healthy.
    pub check: Option<CheckConfig>,
}

/// A TCP connect check: `rise` successes in a row make a host healthy,
/// `fall` failures in a row make it unhealthy. A checked host starts
/// unhealthy, so nothing unverified is announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckConfig {
    pub tcp: SocketAddr,
    pub interval: Duration,
    pub rise: u32,
    pub fall: u32,
}

impl FromValue for HostConfig {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let t = Table::value(v, &["name", "address", "address6", "labels", "check"])?;
        Ok(HostConfig {
            name: t.req("name")?,
            address: t.get("address")?,
            address6: t.get("address6")?,
            labels: t.or("labels", Labels::new())?,
            check: t.get("check")?,
        })
    }
}

impl FromValue for CheckConfig {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let t = Table::value(v, &["tcp", "interval", "rise", "fall"])?;
        Ok(CheckConfig {
            tcp: t.req("tcp")?,
            interval: match t.raw("interval") {
                Some(i) => tr::with(i, parse_duration)?,
                None => Duration::from_secs(1),
            },
            rise: t.or("rise", 2)?,
            fall: t.or("fall", 2)?,
        })
    }
}

/// A duration that is not one (`hosts`, `vip_check`, `bfd_config`): the
/// text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    NotDuration(String),
    OverAnHour(String),
}

impl std::fmt::Display for DurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::quote::quoted;
        match self {
            DurationError::NotDuration(s) => write!(
                f,
                "duration {} is not a number followed by ms, s or m",
                quoted(s)
            ),
            DurationError::OverAnHour(s) => write!(f, "duration {} is over an hour", quoted(s)),
        }
    }
}

/// "500ms", "1s", "2m".
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let bad = || DurationError::NotDuration(s.to_string());
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    if d > Duration::from_secs(3600) {
        return Err(DurationError::OverAnHour(s.to_string()));
    }
    Ok(d)
}

/// What is wrong with a `[[host]]` as a whole (its fields are checked as
/// they are read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    NoAddress,
    Label(labels::LabelError),
    /// A check's interval, rise or fall is zero.
    CheckZero,
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::NoAddress => f.write_str("needs address and/or address6"),
            HostError::Label(e) => e.fmt(f),
            HostError::CheckZero => f.write_str("check interval, rise and fall must be above zero"),
        }
    }
}

impl HostConfig {
    pub fn validate(&self) -> Result<(), HostError> {
        if self.address.is_none() && self.address6.is_none() {
            return Err(HostError::NoAddress);
        }
        for (k, v) in &self.labels {
            labels::check_key(k)
                .and_then(|()| labels::check_value(v))
                .map_err(HostError::Label)?;
        }
        if let Some(c) = &self.check {
            if c.interval.is_zero() || c.rise == 0 || c.fall == 0 {
                return Err(HostError::CheckZero);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("61m").is_err() && parse_duration("307445734561825862m").is_err());
        assert!(
            parse_duration("1h").is_err()
                && parse_duration("s").is_err()
                && parse_duration("5").is_err()
        );
    }
}
