//! The global BGP settings every session is made with (local AS, router
//! ID, Graceful Restart time, listen addresses), from `[bgp]` and, in
//! cluster mode, from OpenELB's BgpConf `default`. Pure: the inputs in,
//! the settings or what is missing out.
//!
//! On a key both give, `[bgp]` wins: the file is the host's explicit,
//! local override and the cluster the fleet-wide default, the same rule
//! as for labels. Within the BgpConf, `spec.asPerRack[<rack>]`, keyed by
//! the node's `openelb.kubesphere.io/rack` label, wins over `spec.as`.
pub use crate::config::reserved_asn;
use crate::config::{BgpConfig, DEFAULT_RESTART_TIME};
use crate::labels::Labels;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The Node label that picks a rack's AS in `spec.asPerRack`.
pub const RACK_LABEL: &str = "openelb.kubesphere.io/rack";

/// OpenELB's BgpConf `default`, as leafvip reads it (`crate::openelb`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterConf {
    pub asn: Option<u32>,
    pub as_per_rack: BTreeMap<String, u32>,
    /// Absent or empty: the node's own address.
    pub router_id: Option<Ipv4Addr>,
    /// Absent, 0 or negative: no listener.
    pub listen_port: Option<u16>,
    /// Empty: every address (`[::]`, which takes IPv4 too).
    pub listen_addresses: Vec<IpAddr>,
    /// `gracefulRestart`: Some(0) when `enabled` is false.
    pub graceful_restart: Option<u16>,
}

/// What every session is made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub graceful_restart: u16,
    pub listen: Vec<SocketAddr>,
}

impl Global {
    /// What a session's OPEN carries: a change restarts the session.
    pub fn session_key(&self) -> (u32, Ipv4Addr, u16) {
        (self.asn, self.router_id, self.graceful_restart)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalError {
    /// Neither `[bgp] asn` nor the BgpConf gives one (or there is no BgpConf yet).
    NoAsn,
    /// No `router_id`, no `spec.routerId` and no global IPv4 address here.
    NoRouterId,
}

impl fmt::Display for GlobalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GlobalError::NoAsn => {
                "no local AS: set [bgp] asn, or spec.as of the BgpConf named default"
            }
            GlobalError::NoRouterId => {
                "no global IPv4 address on this host for a router ID: set bgp.router_id \
                 (or spec.routerId of the BgpConf named default)"
            }
        })
    }
}

/// The settings from the file's `[bgp]`, the cluster's BgpConf (if any),
/// the node's labels and the host's first global IPv4 address.
pub fn resolve(
    file: &BgpConfig,
    conf: Option<&ClusterConf>,
    labels: &Labels,
    host_ipv4: Option<Ipv4Addr>,
) -> Result<Global, GlobalError> {
    let rack_as = conf.and_then(|c| {
        labels
            .get(RACK_LABEL)
            .and_then(|r| c.as_per_rack.get(r).copied())
    });
    let asn = file
        .asn
        .or(rack_as)
        .or(conf.and_then(|c| c.asn))
        .ok_or(GlobalError::NoAsn)?;
    let router_id = file
        .router_id
        .or(conf.and_then(|c| c.router_id))
        .or(host_ipv4)
        .ok_or(GlobalError::NoRouterId)?;
    let graceful_restart = file
        .graceful_restart
        .or(conf.and_then(|c| c.graceful_restart))
        .unwrap_or(DEFAULT_RESTART_TIME);
    let listen = match (file.listen, conf) {
        (Some(a), _) => vec![a],
        (None, Some(c)) => match c.listen_port.filter(|p| *p > 0) {
            Some(port) if c.listen_addresses.is_empty() => {
                vec![SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)]
            }
            Some(port) => c
                .listen_addresses
                .iter()
                .map(|a| SocketAddr::new(*a, port))
                .collect(),
            None => Vec::new(),
        },
        (None, None) => Vec::new(),
    };
    Ok(Global {
        asn,
        router_id,
        graceful_restart,
        listen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf() -> ClusterConf {
        ClusterConf {
            asn: Some(65100),
            as_per_rack: [("leaf2".to_string(), 65200)].into(),
            router_id: Some("198.51.100.9".parse().unwrap()),
            listen_port: Some(17900),
            listen_addresses: vec!["198.51.100.3".parse().unwrap()],
            graceful_restart: Some(0),
        }
    }

    #[test]
    fn the_file_wins_then_the_rack_then_the_bgp_conf() {
        let host = Some("198.51.100.3".parse().unwrap());
        let rack2: Labels = [(RACK_LABEL.to_string(), "leaf2".to_string())].into();
        let g = resolve(&BgpConfig::default(), Some(&conf()), &Labels::new(), host).unwrap();
        assert_eq!(g.asn, 65100);
        assert_eq!(g.router_id.to_string(), "198.51.100.9");
        assert_eq!(g.graceful_restart, 0);
        assert_eq!(g.listen, ["198.51.100.3:17900".parse().unwrap()]);
        let g = resolve(&BgpConfig::default(), Some(&conf()), &rack2, host).unwrap();
        assert_eq!(g.asn, 65200);
        let file = BgpConfig {
            asn: Some(65001),
            graceful_restart: Some(60),
            ..Default::default()
        };
        let g = resolve(&file, Some(&conf()), &rack2, host).unwrap();
        assert_eq!((g.asn, g.graceful_restart), (65001, 60));
    }

    #[test]
    fn defaults_and_what_is_missing() {
        let none = resolve(&BgpConfig::default(), None, &Labels::new(), None);
        assert_eq!(none, Err(GlobalError::NoAsn));
        let bare = ClusterConf {
            asn: Some(65100),
            ..Default::default()
        };
        assert_eq!(
            resolve(&BgpConfig::default(), Some(&bare), &Labels::new(), None),
            Err(GlobalError::NoRouterId)
        );
        let addr: Ipv4Addr = "198.51.100.3".parse().unwrap();
        let host = Some(addr);
        let g = resolve(&BgpConfig::default(), Some(&bare), &Labels::new(), host).unwrap();
        assert_eq!(g.router_id, addr);
        assert_eq!(g.graceful_restart, DEFAULT_RESTART_TIME);
        assert!(g.listen.is_empty());
        let any = ClusterConf {
            listen_port: Some(179),
            ..bare
        };
        let g = resolve(&BgpConfig::default(), Some(&any), &Labels::new(), host).unwrap();
        assert_eq!(g.listen, ["[::]:179".parse().unwrap()]);
    }
}
