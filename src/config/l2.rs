//! `[[vip]] mode = "l2"`: a VIP answered by ARP and NDP on a segment
//! without a router, its owner elected by VRRPv3 (RFC 5798) among the
//! hosts that carry it, leafvip or keepalived.
//!
//! ```toml
//! [[vip]]
//! prefix = "192.0.2.10/32"
//! mode = "l2"
//! interface = "eth0"
//! vrid = 10
//! priority = 150            # 1..=255; default 100
//! advert_interval = "100ms" # 10ms..40950ms in steps of 10 ms; default 1s
//! preempt = true
//! preempt_delay = "0s"
//! garp_count = 5            # gratuitous ARP / unsolicited NA on take-over
//! garp_interval = "100ms"
//! garp_refresh = "60s"      # again while owning; default off
//! check = { tcp = "127.0.0.1:80" }
//! down_priority = 50        # with a check: its priority while down; absent: release
//! ```
//! The keys are read here; what needs the host (the interface exists,
//! the VIP is inside one of its subnets) is checked at load.
use crate::hosts::parse_duration;
use crate::toml_read::{self as tr, Table};
use std::time::Duration;

/// The keys only a layer-2 VIP takes.
pub const KEYS: &[&str] = &[
    "interface",
    "vrid",
    "priority",
    "advert_interval",
    "preempt",
    "preempt_delay",
    "garp_count",
    "garp_interval",
    "garp_refresh",
    "down_priority",
];

/// The keys only a BGP VIP takes.
pub const BGP_KEYS: &[&str] = &[
    "next_hop",
    "communities",
    "large_communities",
    "local_pref",
    "med",
    "down",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2Config {
    pub interface: String,
    /// The Virtual Router ID, 1..=255, shared by every router of the VIP.
    pub vrid: u8,
    pub priority: u8,
    /// Advertisement_Interval in centiseconds, as VRRPv3 carries it.
    pub interval: u16,
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// Gratuitous ARPs or unsolicited Neighbor Advertisements on taking
    /// the VIP over, this far apart.
    pub garp_count: u8,
    pub garp_interval: Duration,
    /// While owning, the burst again this often (MetalLB #2910: switches
    /// that age their tables out black-hole a quiet VIP).
    pub garp_refresh: Option<Duration>,
    /// The priority while the VIP's check is down; None: give it up.
    pub down_priority: Option<u8>,
}

impl L2Config {
    /// Whether two settings make the same virtual router; the priority
    /// changes in place.
    pub fn same_router(&self, o: &L2Config) -> bool {
        (
            self.interface.as_str(),
            self.vrid,
            self.interval,
            self.preempt,
            self.preempt_delay,
        ) == (
            o.interface.as_str(),
            o.vrid,
            o.interval,
            o.preempt,
            o.preempt_delay,
        )
    }
}

fn duration(t: &Table<'_, '_>, key: &str, default: Duration) -> tr::Result<Duration> {
    match t.raw(key) {
        Some(v) => tr::with(v, parse_duration),
        None => Ok(default),
    }
}

/// Reads a `[[vip]]`'s layer-2 keys (`t` was opened with [`KEYS`]).
pub fn read(t: &Table<'_, '_>) -> tr::Result<L2Config> {
    if cfg!(not(feature = "l2")) {
        return t.error(
            "mode",
            "mode = \"l2\" needs a leafvip built with the l2 feature".into(),
        );
    }
    for key in BGP_KEYS {
        if t.raw(key).is_some() {
            return t.error(key, format!("{key} applies to BGP VIPs, not mode = \"l2\""));
        }
    }
    let vrid: u8 = t.req("vrid")?;
    if vrid == 0 {
        return t.error("vrid", "vrid is 1..=255".into());
    }
    let priority: u8 = t.or("priority", 100)?;
    if priority == 0 {
        return t.error("priority", "priority is 1..=255 (0 means leaving)".into());
    }
    let interval = duration(t, "advert_interval", Duration::from_secs(1))?;
    let ms = interval.as_millis();
    if ms % 10 != 0 || !(10..=40_950).contains(&ms) {
        return t.error(
            "advert_interval",
            "advert_interval is 10ms..40950ms in steps of 10ms (VRRPv3 counts centiseconds)".into(),
        );
    }
    let garp_count: u8 = t.or("garp_count", 5)?;
    if garp_count == 0 {
        return t.error("garp_count", "garp_count is at least 1".into());
    }
    let garp_refresh = match t.raw("garp_refresh") {
        None => None,
        Some(_) => Some(duration(t, "garp_refresh", Duration::ZERO)?),
    };
    if garp_refresh.is_some_and(|r| r < Duration::from_secs(1)) {
        return t.error("garp_refresh", "garp_refresh is at least 1s".into());
    }
    let down_priority: Option<u8> = t.get("down_priority")?;
    if down_priority.is_some() && t.raw("check").is_none() {
        return t.error(
            "down_priority",
            "down_priority applies to a vip with a check".into(),
        );
    }
    if down_priority == Some(0) {
        return t.error("down_priority", "down_priority is 1..=255".into());
    }
    let interface: String = t.req("interface")?;
    if interface.is_empty() || interface.len() > 15 || interface.contains(['/', ' ']) {
        return t.error(
            "interface",
            format!("interface {interface:?} is not an interface name"),
        );
    }
    Ok(L2Config {
        interface,
        vrid,
        priority,
        interval: (ms / 10) as u16,
        preempt: t.or("preempt", true)?,
        preempt_delay: duration(t, "preempt_delay", Duration::ZERO)?,
        garp_count,
        garp_interval: duration(t, "garp_interval", Duration::from_millis(100))?,
        garp_refresh,
        down_priority,
    })
}
