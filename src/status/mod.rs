//! What `leafvip status` shows: one snapshot of the daemon, rendered as a
//! table that reads like `birdc show protocols` or as JSON for scripts.
//! Pure data, so the rendering is tested without a daemon.
use leafvip_bgp::session::State;
use leafvip_bgp::wire::Prefix;
use serde::{Serialize, Serializer};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[cfg(feature = "l2")]
pub mod l2;

/// A typed value in the JSON as the text the table shows, through the
/// `Display` the table links anyway (serde's own address serializers
/// would be a second copy of that code in the static binary).
struct Text<'a, T>(&'a T);

impl<T: std::fmt::Display> Serialize for Text<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A String, not `collect_str`: formatting is then generic over the
        // value only, not over the value and the serializer.
        s.serialize_str(&self.0.to_string())
    }
}

fn as_text<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    Text(v).serialize(s)
}

fn opt_text<T: std::fmt::Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    v.as_ref().map(Text).serialize(s)
}

fn all_text<T: std::fmt::Display, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(Text))
}

/// How a page of VIPs says where the next one starts.
pub const NEXT_PAGE: &str = "next page after ";

#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub version: String,
    pub node: String,
    pub asn: u32,
    pub router_id: String,
    /// Why there are no sessions (no local AS or router ID yet, say
    /// while cluster mode waits for the BgpConf).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// Draining (RFC 8326): why, and until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draining: Option<String>,
    pub uptime_secs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reload: Option<Reload>,
    /// Connections refused (not a selected peer) and failed accepts.
    pub refused_connections: u64,
    pub accept_errors: u64,
    /// `[[vip]]`s with a check, and how many of them fail it now.
    pub vip_checks: usize,
    pub vip_checks_down: usize,
    /// The longest the event loop spent on one event since start, and
    /// over about the last minute.
    pub loop_busy_max_ms: u64,
    pub loop_busy_recent_ms: u64,
    /// Cluster mode: the connection to the API server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
    pub peers: Vec<PeerStatus>,
    /// Configured peers this node does not peer with, and the selector
    /// term that failed.
    pub unselected: Vec<Unselected>,
    /// All the VIPs configured; `vips` describes some of them (all when
    /// few, else the page or the one asked for).
    pub vip_count: usize,
    pub vips: Vec<VipStatus>,
    /// The prefix to ask the next page after, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Layer-2 mode's VIPs and frames, when it holds any.
    #[cfg(feature = "l2")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub l2: Vec<l2::L2Vip>,
    #[cfg(feature = "l2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l2_packets: Option<l2::L2Packets>,
    #[cfg(feature = "l2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l2_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Unselected {
    pub peer: String,
    pub asn: u32,
    pub reason: String,
}

/// The watch on this node's Node object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cluster {
    /// The last answer was events, not an error.
    pub connected: bool,
    pub events: u64,
    pub last_event_unix: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// A valid BgpConf `default` is in force.
    pub bgp_conf: bool,
    /// BgpPeer objects, and how many of them are peers (valid, not taken).
    pub bgp_peers: usize,
    pub bgp_peers_used: usize,
    /// The problems of the objects left out, one line each.
    pub invalid: Vec<String>,
    /// LoadBalancer Services: the addresses this node announces; each
    /// Service with an address (the first [`SERVICES_SHOWN`]) and how
    /// many there are; the pools; whether this agent allocates, and how
    /// many Service writes it made; how often the announced set changed.
    pub service_addresses: usize,
    pub services: Vec<ServiceLine>,
    pub services_total: usize,
    pub pools: Vec<PoolLine>,
    pub leader: bool,
    pub allocations: u64,
    pub announce_changes: u64,
}

/// The most Services one status answer describes.
pub const SERVICES_SHOWN: usize = 1000;

/// One LoadBalancer Service as this node sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceLine {
    /// `namespace/name`.
    pub service: String,
    pub addresses: Vec<String>,
    /// The Eip its first address is in ("" when none).
    pub pool: String,
    /// `Cluster` or `Local`.
    pub policy: String,
    pub announced: bool,
    /// Why this node does not announce it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// One Eip's usage, from its status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PoolLine {
    pub pool: String,
    pub used: u64,
    pub size: u64,
}

/// The last reload: when it finished (Unix seconds), and what started it
/// or why it failed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reload {
    pub at_unix: u64,
    pub ok: bool,
    pub detail: String,
}

/// One session, typed: the renderers (the table, JSON, metrics, the
/// BgpPeer status) make the text.
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    /// The peer's address and port, shown as "address:port".
    #[serde(serialize_with = "as_text")]
    pub peer: SocketAddr,
    pub asn: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(serialize_with = "as_text")]
    pub state: State,
    /// Seconds in the current state, whatever it is.
    pub state_secs: u64,
    /// Seconds in Established; absent when the session is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_secs: Option<u64>,
    /// While Idle: seconds until the next connection attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_retry_secs: Option<u64>,
    /// The neighbor's BGP Identifier, once its OPEN arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "opt_text")]
    pub router_id: Option<Ipv4Addr>,
    /// The connection's addresses, while there is one.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_text")]
    pub local: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_text")]
    pub remote: Option<SocketAddr>,
    /// Negotiated, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<u64>,
    /// Why the session last went down or the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Negotiated with the peer, in words; empty when down.
    pub capabilities: Vec<String>,
    pub prefixes_sent: Vec<FamilyCount>,
    /// Paths held back by the peer's ADD-PATH limit.
    pub suppressed: usize,
    pub messages_in: u64,
    pub messages_out: u64,
    /// Messages that could not be encoded within the negotiated size.
    pub messages_not_sent: u64,
    /// UPDATEs from the peer handled by RFC 7606 rather than taken whole.
    pub updates_malformed: u64,
    pub updates_in: u64,
    pub updates_out: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_notification: Option<String>,
    pub notifications: Vec<NotificationCount>,
    /// The BFD session guarding this one, if configured.
    #[cfg(feature = "bfd")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bfd: Option<crate::bfd_status::BfdStatus>,
    /// Each VIP as this peer sees it.
    #[serde(skip)]
    pub vips: Vec<PeerVip>,
}

impl PeerStatus {
    /// A session with nothing counted yet, in `state`.
    pub fn new(peer: SocketAddr, state: State) -> PeerStatus {
        PeerStatus {
            peer,
            asn: 0,
            description: None,
            state,
            state_secs: 0,
            uptime_secs: None,
            next_retry_secs: None,
            router_id: None,
            local: None,
            remote: None,
            hold_time: None,
            keepalive: None,
            last_error: None,
            capabilities: Vec::new(),
            prefixes_sent: Vec::new(),
            suppressed: 0,
            messages_in: 0,
            messages_out: 0,
            messages_not_sent: 0,
            updates_malformed: 0,
            updates_in: 0,
            updates_out: 0,
            last_notification: None,
            notifications: Vec::new(),
            #[cfg(feature = "bfd")]
            bfd: None,
            vips: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyCount {
    pub family: String,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationCount {
    /// "sent" or "received".
    pub direction: &'static str,
    pub code: u8,
    pub count: u64,
}

/// One VIP toward one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerVip {
    #[serde(skip)]
    pub prefix: Prefix,
    #[serde(serialize_with = "as_text")]
    pub peer: SocketAddr,
    /// The next hops the plan offers this peer.
    #[serde(serialize_with = "all_text")]
    pub next_hops: Vec<IpAddr>,
    /// Those the peer holds from us now.
    #[serde(serialize_with = "all_text")]
    pub sent: Vec<IpAddr>,
    pub state: &'static str,
    /// Why nothing is offered, when nothing is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VipStatus {
    pub prefix: String,
    /// "self", "hosts" or the configured address.
    pub next_hop: String,
    /// For `next_hop = "hosts"`: how many of the hosts pass their checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// Announced to at least one peer.
    pub announced: bool,
    pub peers: Vec<PeerVip>,
}

/// The state of one VIP toward one peer, from what is offered and sent.
pub fn vip_state(offered: usize, sent: usize, established: bool) -> &'static str {
    match (offered, sent) {
        (0, _) => "not offered",
        (_, 0) if !established => "waiting for session",
        (_, 0) => "withheld",
        (o, s) if s < o => "partly announced",
        _ => "announced",
    }
}

fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h{m:02}m")
    } else if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

impl Status {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The table for people.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "leafvip {} on {}: AS {}, router id {}, up {}",
            self.version,
            self.node,
            self.asn,
            self.router_id,
            duration(self.uptime_secs)
        );
        if let Some(w) = &self.waiting {
            let _ = writeln!(o, "NO SESSIONS: {w}");
        }
        if let Some(d) = &self.draining {
            let _ = writeln!(o, "DRAINING: {d}");
        }
        let _ = writeln!(
            o,
            "\n{:<28} {:>10}  {:<12} {:<10} {:>6} {:>5} {:>8} {:>8}",
            "Peer", "AS", "State", "Since", "Sent", "Supp", "MsgIn", "MsgOut"
        );
        for p in &self.peers {
            let sent: usize = p.prefixes_sent.iter().map(|f| f.count).sum();
            let since = duration(p.state_secs);
            let _ = writeln!(
                o,
                "{:<28} {:>10}  {:<12} {:<10} {:>6} {:>5} {:>8} {:>8}",
                p.peer,
                p.asn,
                p.state.to_string(),
                since,
                sent,
                p.suppressed,
                p.messages_in,
                p.messages_out
            );
            if let Some(d) = &p.description {
                let _ = writeln!(o, "    description:        {d}");
            }
            if let (Some(r), Some(l)) = (&p.remote, &p.local) {
                let id = p
                    .router_id
                    .map_or(String::new(), |id| format!(", router id {id}"));
                let _ = writeln!(o, "    connection:         {l} -> {r}{id}");
            }
            if let Some(h) = p.hold_time {
                let k = p.keepalive.map_or("none".to_string(), |k| format!("{k} s"));
                let _ = writeln!(o, "    timers:             hold {h} s, keepalive {k}");
            }
            #[cfg(feature = "bfd")]
            if let Some(b) = &p.bfd {
                b.line(&mut o);
            }
            if let Some(n) = p.next_retry_secs {
                let _ = writeln!(o, "    next attempt in:    {}", duration(n));
            }
            if !p.capabilities.is_empty() {
                let _ = writeln!(o, "    capabilities:       {}", p.capabilities.join(", "));
            }
            if !p.prefixes_sent.is_empty() {
                let f: Vec<String> = p
                    .prefixes_sent
                    .iter()
                    .map(|f| format!("{} {}", f.family, f.count))
                    .collect();
                let _ = writeln!(o, "    prefixes sent:      {}", f.join(", "));
            }
            let _ = writeln!(
                o,
                "    updates in/out:     {}/{}",
                p.updates_in, p.updates_out
            );
            if p.updates_malformed > 0 {
                let _ = writeln!(
                    o,
                    "    malformed UPDATEs:  {} (RFC 7606: withdrawn or attributes discarded)",
                    p.updates_malformed
                );
            }
            if p.messages_not_sent > 0 {
                let _ = writeln!(
                    o,
                    "    NOT SENT:           {} messages too large for the session",
                    p.messages_not_sent
                );
            }
            if let Some(e) = &p.last_error {
                let _ = writeln!(o, "    last error:         {e}");
            }
            if let Some(n) = &p.last_notification {
                let _ = writeln!(o, "    last notification:  {n}");
            }
        }
        #[cfg(feature = "l2")]
        if let Some(p) = &self.l2_packets {
            l2::text(&mut o, &self.l2, p, self.l2_error.as_deref());
        }
        if !self.unselected.is_empty() {
            let _ = writeln!(o, "\nnot selected on this node:");
            for u in &self.unselected {
                let _ = writeln!(o, "    {} AS {}: {}", u.peer, u.asn, u.reason);
            }
        }
        if let Some(r) = &self.last_reload {
            let what = if r.ok {
                "applied"
            } else {
                "FAILED, running state kept"
            };
            let _ = writeln!(
                o,
                "\nlast reload: {what} ({}), at unix time {}",
                r.detail, r.at_unix
            );
        }
        let _ = writeln!(
            o,
            "event loop: longest on one event {} ms in the last minute, {} ms since start",
            self.loop_busy_recent_ms, self.loop_busy_max_ms
        );
        if let Some(c) = &self.cluster {
            let state = if c.connected {
                "watching"
            } else {
                "NOT CONNECTED"
            };
            let err = c
                .last_error
                .as_deref()
                .map_or(String::new(), |e| format!(", last error: {e}"));
            let _ = writeln!(
                o,
                "cluster: {state}, {} events (last at unix time {}), {} errors{err}",
                c.events, c.last_event_unix, c.errors
            );
            let conf = if c.bgp_conf { "in force" } else { "none" };
            let _ = writeln!(
                o,
                "    BgpConf default: {conf}; BgpPeers: {} of {} used",
                c.bgp_peers_used, c.bgp_peers
            );
            for why in &c.invalid {
                let _ = writeln!(o, "    INVALID: {why}");
            }
            if c.services_total > 0 || !c.pools.is_empty() {
                let role = if c.leader {
                    "allocating (Lease held)"
                } else {
                    "reading"
                };
                let _ = writeln!(
                    o,
                    "    Services: {} with an address, {} addresses announced here; {role}, {} allocations",
                    c.services_total, c.service_addresses, c.allocations
                );
                for p in &c.pools {
                    let _ = writeln!(o, "    pool {}: {} of {} used", p.pool, p.used, p.size);
                }
                for l in c.services.iter().take(64) {
                    let what = match &l.why {
                        None => "announced".to_string(),
                        Some(w) => format!("NOT announced: {w}"),
                    };
                    let _ = writeln!(
                        o,
                        "    {} {} (pool {}, {}): {what}",
                        l.service,
                        l.addresses.join(", "),
                        l.pool,
                        l.policy
                    );
                }
                if c.services_total > 64 {
                    let _ = writeln!(
                        o,
                        "    ... {} more in `status --json`",
                        c.services_total - 64
                    );
                }
            }
        }
        if self.refused_connections + self.accept_errors > 0 {
            let _ = writeln!(
                o,
                "connections refused: {}, accept errors: {}",
                self.refused_connections, self.accept_errors
            );
        }
        if self.vips.len() < self.vip_count {
            let _ = writeln!(
                o,
                "\n{} VIPs: `leafvip status vip PREFIX` shows one, `leafvip status vips` all",
                self.vip_count
            );
        }
        if !self.vips.is_empty() || self.vip_count == 0 {
            self.vip_table(&mut o, true);
        }
        o
    }

    /// One page of `leafvip status vips`: a VIP a line (JSON objects with
    /// `json`, else table rows, with the header on the first page), and a
    /// last line naming where the next page starts, if one does.
    pub fn vips_page(&self, json: bool, first: bool) -> String {
        let mut o = String::new();
        if json {
            for v in &self.vips {
                o += &serde_json::to_string(v).unwrap_or_default();
                o.push('\n');
            }
        } else {
            self.vip_table(&mut o, first);
        }
        if let Some(n) = &self.next {
            let _ = writeln!(o, "{NEXT_PAGE}{n}");
        }
        o
    }

    /// The VIP rows; the header only on the first page.
    pub fn vip_table(&self, o: &mut String, header: bool) {
        if header {
            let _ = writeln!(o, "\n{:<28} {:<14} Health / peers", "VIP", "Next hop");
        }
        for v in &self.vips {
            let _ = writeln!(
                o,
                "{:<28} {:<14} {}",
                v.prefix,
                v.next_hop,
                v.health.as_deref().unwrap_or("-")
            );
            for pv in &v.peers {
                let hops = if pv.sent.is_empty() {
                    &pv.next_hops
                } else {
                    &pv.sent
                };
                let hops: Vec<String> = hops.iter().map(IpAddr::to_string).collect();
                let hops = hops.join(" ");
                let why = pv
                    .reason
                    .as_deref()
                    .map_or(String::new(), |r| format!(": {r}"));
                let line = format!("    {:<24} {}{} {}", pv.peer, pv.state, why, hops);
                let _ = writeln!(o, "{}", line.trim_end());
            }
        }
    }
}

#[cfg(test)]
mod tests;
