//! `[[host]]`: the hosts a rack speaker may announce as third-party next
//! hops, as Kubernetes lists Nodes, each with labels (its rack) and an
//! optional TCP health check.
use crate::labels::{self, Labels};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub name: String,
    pub address: Option<Ipv4Addr>,
    pub address6: Option<Ipv6Addr>,
    #[serde(default)]
    pub labels: Labels,
    /// Without a check the host always counts as healthy.
    pub check: Option<CheckConfig>,
}

/// A TCP connect check: `rise` successes in a row make a host healthy,
/// `fall` failures in a row make it unhealthy. A checked host starts
/// unhealthy, so nothing unverified is announced.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    #[serde(deserialize_with = "socket_addr")]
    pub tcp: SocketAddr,
    #[serde(default = "default_interval", deserialize_with = "duration")]
    pub interval: Duration,
    #[serde(default = "default_count")]
    pub rise: u32,
    #[serde(default = "default_count")]
    pub fall: u32,
}

fn default_interval() -> Duration {
    Duration::from_secs(1)
}

fn default_count() -> u32 {
    2
}

fn socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    s.parse()
        .map_err(|_| de::Error::custom(format!("{s:?} is not ADDRESS:PORT")))
}

/// "500ms", "1s", "2m".
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("duration {s:?} is not a number followed by ms, s or m");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(bad()),
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_duration(&String::deserialize(d)?).map_err(de::Error::custom)
}

impl HostConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.address.is_none() && self.address6.is_none() {
            return Err("needs address and/or address6".into());
        }
        for (k, v) in &self.labels {
            labels::check_key(k).and_then(|()| labels::check_value(v))?;
        }
        if let Some(c) = &self.check {
            if c.interval.is_zero() || c.rise == 0 || c.fall == 0 {
                return Err("check interval, rise and fall must be above zero".into());
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
        assert!(
            parse_duration("1h").is_err()
                && parse_duration("s").is_err()
                && parse_duration("5").is_err()
        );
    }
}
