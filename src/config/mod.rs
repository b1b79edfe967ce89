//! The TOML configuration, validated up front so that a bad file is
//! rejected with its name, line and problem, and a bad reload changes
//! nothing. The types and their shapes are here; reading, the checks
//! across values and the key files are in `load.rs`.
pub mod l2;
mod load;

pub use crate::communities::{Community, Large};
use crate::labels::{self, LabelSelector, Labels};
use crate::toml_read::{self as tr, FromValue, Spanned, Table};
use leafvip_bgp::rib_out::RouteAttrs;
use leafvip_bgp::wire::{Family, Prefix};
pub use load::read_file;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use toml::de::DeValue;

/// 0 and AS_TRANS (RFC 6793) are never a speaker's own AS.
pub fn reserved_asn(a: u32) -> bool {
    a == 0 || a == 23456
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 0 when the problem is not tied to a line.
    pub line: usize,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.problem)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.problem)
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<labels::LabelsError> for ConfigError {
    fn from(e: labels::LabelsError) -> Self {
        ConfigError {
            file: e.file,
            line: e.line,
            problem: e.problem,
        }
    }
}

/// Bytes of COMMUNITIES and LARGE_COMMUNITIES values one VIP may carry:
/// with the other attributes (an IPv6 MP_REACH with a link-local next hop,
/// AS_PATH, MED, LOCAL_PREF) and one ADD-PATH /128, a route then still fits
/// a 4,096-byte UPDATE, so no peer is ever sent less than the config says.
pub const COMMUNITY_BYTES: usize = 3800;

#[derive(Debug, Clone)]
pub struct Config {
    /// Extra VIPs, one `PREFIX [NEXT_HOP]` per line, for long lists that
    /// need no per-VIP attributes.
    pub vips_file: Option<PathBuf>,
    pub bgp: BgpConfig,
    pub node: NodeConfig,
    pub control: ControlConfig,
    /// Cluster mode (feature `kube`); absent: a plain host.
    pub kubernetes: Option<crate::kube_config::KubernetesConfig>,
    pub peers: Vec<Spanned<PeerConfig>>,
    pub vips: Vec<Spanned<VipConfig>>,
    /// Hosts a rack speaker announces as next hops (`next_hop = "hosts"`).
    pub hosts: Vec<Spanned<crate::hosts::HostConfig>>,
}

/// `[bgp]`. In cluster mode every key may be left to OpenELB's BgpConf
/// `default`; a key set here wins over it (see [`crate::global`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BgpConfig {
    /// Required on a plain host.
    pub asn: Option<u32>,
    /// Default: the host's first global IPv4 address.
    pub router_id: Option<Ipv4Addr>,
    /// Absent: active sessions only.
    pub listen: Option<SocketAddr>,
    /// Graceful Restart time in seconds (RFC 4724); 0 turns GR off.
    /// Absent: [`DEFAULT_RESTART_TIME`].
    pub graceful_restart: Option<u16>,
    /// Seconds a planned stop announces every VIP with GRACEFUL_SHUTDOWN
    /// (RFC 8326) before it withdraws them; 0 = withdraw at once.
    /// Absent: [`DEFAULT_DRAIN_TIME`].
    pub drain_time: Option<u16>,
}

/// The Graceful Restart time when neither `[bgp]` nor a BgpConf sets one.
pub const DEFAULT_RESTART_TIME: u16 = 120;

/// How long a planned stop drains when `[bgp] drain_time` is not set.
pub const DEFAULT_DRAIN_TIME: u16 = 5;

impl FromValue for BgpConfig {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let t = Table::value(
            v,
            &[
                "asn",
                "router_id",
                "listen",
                "graceful_restart",
                "drain_time",
            ],
        )?;
        let c = BgpConfig {
            asn: t.get("asn")?,
            router_id: t.get("router_id")?,
            listen: t.get("listen")?,
            graceful_restart: t.get("graceful_restart")?,
            drain_time: t.get("drain_time")?,
        };
        if c.drain_time.is_some_and(|d| d > 3600) {
            return t.error(
                "drain_time",
                "bgp.drain_time is at most 3600 seconds".into(),
            );
        }
        if let Some(asn) = c.asn.filter(|a| reserved_asn(*a)) {
            return t.error("asn", format!("bgp.asn {asn} is reserved"));
        }
        if c.router_id.is_some_and(|id| id.is_unspecified()) {
            return t.error("router_id", "bgp.router_id 0.0.0.0 is not valid".into());
        }
        if c.graceful_restart.is_some_and(|g| g > 4095) {
            return t.error(
                "graceful_restart",
                "bgp.graceful_restart is at most 4095 seconds".into(),
            );
        }
        Ok(c)
    }
}

/// How operators reach the daemon; read at start only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlConfig {
    /// The status socket; absent: /run/leafvip/leafvip.sock; "": none.
    pub socket: Option<PathBuf>,
    /// Serve /metrics, /healthz and /readyz here; absent: off.
    pub http: Option<SocketAddr>,
}

impl FromValue for ControlConfig {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let t = Table::value(v, &["socket", "http"])?;
        let c = ControlConfig {
            socket: t.get("socket")?,
            http: t.get("http")?,
        };
        if cfg!(not(feature = "metrics")) && c.http.is_some() {
            return t.error(
                "http",
                "control.http needs a leafvip built with the metrics feature".into(),
            );
        }
        Ok(c)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeConfig {
    /// Default: the hostname.
    pub name: Option<String>,
    pub labels_file: Option<PathBuf>,
    /// Merged with the labels file; the file wins on a shared key, since it
    /// is the per-host truth and these are fleet-wide defaults.
    pub labels: Labels,
}

impl FromValue for NodeConfig {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let t = Table::value(v, &["name", "labels_file", "labels"])?;
        Ok(NodeConfig {
            name: t.get("name")?,
            labels_file: t.get("labels_file")?,
            labels: t.or("labels", Labels::new())?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub address: IpAddr,
    pub asn: u32,
    pub port: u16,
    pub local_address: Option<IpAddr>,
    pub hold_time: u16,
    pub keepalive: Option<u16>,
    /// First reconnect delay in seconds; it doubles up to 120 s.
    pub connect_retry: Option<u16>,
    pub passive: bool,
    /// TTL of our packets for multihop eBGP.
    pub ebgp_multihop: Option<u8>,
    /// GTSM (RFC 5082): accept only packets from at most this many hops.
    pub ttl_security: Option<u8>,
    /// TCP MD5 (RFC 2385) key, read from this file.
    pub password_file: Option<PathBuf>,
    /// That file's key, read by `Config::load` (not by `parse`, which
    /// reads no files), so that a rotated key makes a changed peer.
    pub md5_key: Option<crate::keys::Md5Key>,
    pub families: Vec<FamilyName>,
    /// Paths per prefix offered with ADD-PATH; 0 or 1 means do not offer it.
    pub add_paths_send_max: u8,
    pub description: Option<String>,
    /// Absent: the peer applies to every node.
    pub node_selector: Option<LabelSelector>,
    /// The BFD session that guards this one; absent, none.
    pub bfd: Option<crate::bfd_config::BfdConfig>,
}

impl FromValue for PeerConfig {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let t = Table::value(
            v,
            &[
                "address",
                "asn",
                "port",
                "local_address",
                "hold_time",
                "keepalive",
                "connect_retry",
                "passive",
                "ebgp_multihop",
                "ttl_security",
                "password_file",
                "families",
                "add_paths_send_max",
                "description",
                "node_selector",
                "bfd",
            ],
        )?;
        let c = PeerConfig {
            address: t.req("address")?,
            asn: t.req("asn")?,
            port: t.or("port", 179)?,
            local_address: t.get("local_address")?,
            hold_time: t.or("hold_time", 90)?,
            keepalive: t.get("keepalive")?,
            connect_retry: t.get("connect_retry")?,
            passive: t.or("passive", false)?,
            ebgp_multihop: t.get("ebgp_multihop")?,
            ttl_security: t.get("ttl_security")?,
            password_file: t.get("password_file")?,
            md5_key: None,
            families: match t.get("families")? {
                Some(f) => f,
                None => vec![
                    FamilyName(Family::IPV4_UNICAST),
                    FamilyName(Family::IPV6_UNICAST),
                ],
            },
            add_paths_send_max: t.or("add_paths_send_max", 16)?,
            description: t.get("description")?,
            node_selector: t.get("node_selector")?,
            bfd: t.get("bfd")?,
        };
        c.check().map_err(|(key, problem)| tr::Error {
            at: t.at_key(key),
            problem: format!("peer {}: {problem}", c.address),
        })?;
        Ok(c)
    }
}

impl PeerConfig {
    /// Checks across a peer's values; a problem names the key whose value
    /// the error should point at.
    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.asn == 0 {
            return Err(("asn", "asn 0 is reserved".into()));
        }
        if self.hold_time != 0 && self.hold_time < 3 {
            let h = self.hold_time;
            return Err((
                "hold_time",
                format!("hold_time {h} must be 0 or at least 3"),
            ));
        }
        if let Some(k) = self.keepalive {
            if self.hold_time != 0 && k >= self.hold_time {
                let h = self.hold_time;
                return Err((
                    "keepalive",
                    format!("keepalive {k} must be below hold_time {h}"),
                ));
            }
        }
        if self.ebgp_multihop.is_some() && self.ttl_security.is_some() {
            return Err((
                "ttl_security",
                "ebgp_multihop and ttl_security exclude each other".into(),
            ));
        }
        if self.ttl_security.is_some_and(|h| h == 0 || h > 254) {
            return Err(("ttl_security", "hop counts are 1..=254".into()));
        }
        if self.ebgp_multihop == Some(0) {
            return Err(("ebgp_multihop", "hop counts are 1..=254".into()));
        }
        if self.families.is_empty() {
            return Err(("families", "families is empty".into()));
        }
        if let Some(l) = self.local_address {
            if l.is_ipv4() != self.address.is_ipv4() {
                return Err((
                    "local_address",
                    format!("local_address {l} is not of the peer's family"),
                ));
            }
        }
        if self.bfd.is_some() && self.ebgp_multihop.is_some() {
            return Err((
                "bfd",
                "bfd is single-hop (RFC 5881) and excludes ebgp_multihop".into(),
            ));
        }
        if let Some(sel) = &self.node_selector {
            sel.validate()
                .map_err(|e| ("node_selector", format!("node_selector: {e}")))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyName(pub Family);

impl FromValue for FamilyName {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        tr::with(v, |s| match s {
            "ipv4-unicast" => Ok(FamilyName(Family::IPV4_UNICAST)),
            "ipv6-unicast" => Ok(FamilyName(Family::IPV6_UNICAST)),
            other => Err(format!(
                "unknown family {}: use \"ipv4-unicast\" or \"ipv6-unicast\"",
                crate::quote::quoted(other)
            )),
        })
    }
}

/// Where a VIP's next hop comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NextHopSpec {
    /// The session's local address of the VIP's family (or, for the other
    /// family, the global address of the peering interface).
    #[default]
    SelfAddress,
    Address(IpAddr),
    /// Every healthy `[[host]]` this peer can reach: hosts whose labels
    /// match the peer's node_selector (the peer's rack).
    Hosts,
}

impl fmt::Display for NextHopSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextHopSpec::SelfAddress => f.write_str("self"),
            NextHopSpec::Hosts => f.write_str("hosts"),
            NextHopSpec::Address(a) => a.fmt(f),
        }
    }
}

impl FromValue for NextHopSpec {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        tr::with(v, |s| match s {
            "self" => Ok(NextHopSpec::SelfAddress),
            "hosts" => Ok(NextHopSpec::Hosts),
            _ => s.parse().map(NextHopSpec::Address).map_err(|_| {
                format!(
                    "next_hop {} is not \"self\", \"hosts\" or an IP address",
                    crate::quote::quoted(s)
                )
            }),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipConfig {
    pub prefix: Prefix,
    pub next_hop: NextHopSpec,
    pub communities: Vec<Community>,
    pub large_communities: Vec<Large>,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    /// A health check of the service behind the VIP, and what the VIP
    /// announces while it fails.
    pub check: Option<crate::vip_check::VipCheck>,
    pub down: crate::vip_check::DownAction,
    /// `mode = "l2"`: answered by ARP and NDP, elected by VRRP; never
    /// announced over BGP.
    #[cfg(feature = "l2")]
    pub l2: Option<l2::L2Config>,
}

impl FromValue for VipConfig {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        let keys: Vec<&str> = ["prefix", "mode", "check"]
            .iter()
            .chain(l2::BGP_KEYS)
            .chain(l2::KEYS)
            .copied()
            .collect();
        let t = Table::value(v, &keys)?;
        #[cfg_attr(not(feature = "l2"), allow(unused_variables))]
        let l2 = match t.get::<String>("mode")?.as_deref() {
            None | Some("bgp") => {
                if let Some(k) = l2::KEYS.iter().find(|k| t.raw(k).is_some()) {
                    return t.error(k, format!("{k} applies to mode = \"l2\" VIPs"));
                }
                None
            }
            Some("l2") => Some(l2::read(&t)?),
            Some(other) => {
                return t.error(
                    "mode",
                    format!(
                        "mode {} is not \"bgp\" or \"l2\"",
                        crate::quote::quoted(other)
                    ),
                )
            }
        };
        if t.raw("down").is_some() && t.raw("check").is_none() {
            return t.error("down", "down applies to a vip with a check".into());
        }
        Ok(VipConfig {
            prefix: t.req("prefix")?,
            next_hop: t.or("next_hop", NextHopSpec::SelfAddress)?,
            communities: t.or("communities", Vec::new())?,
            large_communities: t.or("large_communities", Vec::new())?,
            local_pref: t.get("local_pref")?,
            med: t.get("med")?,
            check: t.get("check")?,
            down: t.or("down", crate::vip_check::DownAction::Withdraw)?,
            #[cfg(feature = "l2")]
            l2,
        })
    }
}

impl VipConfig {
    /// Whether the VIP is answered by ARP and NDP, not announced over BGP
    /// (never, in a build without the `l2` feature, which refuses it).
    pub fn is_l2(&self) -> bool {
        #[cfg(feature = "l2")]
        return self.l2.is_some();
        #[cfg(not(feature = "l2"))]
        false
    }

    pub fn attrs(&self) -> RouteAttrs {
        RouteAttrs {
            med: self.med,
            local_pref: self.local_pref,
            communities: self.communities.iter().map(|c| c.0).collect(),
            large_communities: self.large_communities.iter().map(|c| c.0).collect(),
            link_local: None,
        }
    }
}

impl FromValue for Prefix {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        tr::parsed(v)
    }
}

impl Config {
    /// This node's name: `[node] name`, else `NODE_NAME`, else the hostname.
    pub fn node_name(&self) -> String {
        crate::kube_config::node_name(
            self.node.name.as_deref(),
            std::env::var("NODE_NAME").ok(),
            crate::kube_config::hostname,
        )
    }

    /// The node's labels: inline ones, overridden by the labels file.
    pub fn labels(&self) -> Result<Labels, ConfigError> {
        let mut l = self.node.labels.clone();
        if let Some(f) = &self.node.labels_file {
            l.extend(labels::load(f)?);
        }
        Ok(l)
    }

    pub fn hosts(&self) -> impl Iterator<Item = &crate::hosts::HostConfig> {
        self.hosts.iter().map(Spanned::get_ref)
    }

    pub fn peers(&self) -> impl Iterator<Item = &PeerConfig> {
        self.peers.iter().map(Spanned::get_ref)
    }

    /// The `[[vip]]`s announced over BGP.
    pub fn vips(&self) -> impl Iterator<Item = &VipConfig> {
        self.all_vips().filter(|v| !v.is_l2())
    }

    /// The `[[vip]]`s of layer-2 mode, with their settings.
    #[cfg(feature = "l2")]
    pub fn l2_vips(&self) -> impl Iterator<Item = (&VipConfig, &l2::L2Config)> {
        self.all_vips().filter_map(|v| Some((v, v.l2.as_ref()?)))
    }

    /// Every `[[vip]]`, of either mode (their checks run alike).
    pub fn all_vips(&self) -> impl Iterator<Item = &VipConfig> {
        self.vips.iter().map(Spanned::get_ref)
    }
}
