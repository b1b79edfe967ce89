//! A peer task's answer to "status": its session and Adj-RIB-Out in words.
use super::PeerTask;
use crate::status::{self, FamilyCount, NotificationCount, PeerStatus, PeerVip};
use leafvip_bgp::session::{Negotiated, State};
use leafvip_bgp::wire::{Notification, Prefix};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// What the task remembers beyond the core's own counters.
#[derive(Debug, Default)]
pub struct History {
    pub last_error: Option<String>,
    pub last_notification: Option<String>,
    /// The OS's word on the last failed connect or read, for the next
    /// "down" reason.
    pub os_error: Option<String>,
    /// When the session entered its current state, on the session's
    /// clock.
    pub state_since: Option<leafvip_bgp::Instant>,
    /// Messages that did not fit the negotiated size.
    pub not_sent: u64,
    /// UPDATEs handled by RFC 7606 (treat-as-withdraw, attribute discard).
    pub malformed: u64,
    /// (sent, code) → count.
    pub notifications: BTreeMap<(bool, u8), u64>,
}

impl History {
    pub fn notification(&mut self, sent: bool, n: &Notification) {
        *self.notifications.entry((sent, n.code)).or_default() += 1;
        let dir = if sent { "sent" } else { "received" };
        self.last_notification = Some(format!("{dir} {n}"));
    }
}

/// The negotiated capabilities, as an operator would list them.
pub fn capabilities(n: &Negotiated) -> Vec<String> {
    let mut c: Vec<String> = n.families.iter().map(|f| f.to_string()).collect();
    if n.four_octet_as {
        c.push("4-octet AS".into());
    }
    for f in n.add_path_send.iter() {
        c.push(format!("add-path send {f}"));
    }
    if n.route_refresh {
        c.push("route refresh".into());
    }
    if n.extended_messages {
        c.push("extended messages".into());
    }
    if n.peer_graceful_restart.is_some() {
        c.push("graceful restart".into());
    }
    c.push(format!("hold time {}", n.hold_time));
    c
}

impl PeerTask {
    /// The session's summary, from counters the core keeps (no walk over
    /// the table), and the per-VIP detail of `detail` only.
    pub fn snapshot(&self, detail: &[Prefix]) -> PeerStatus {
        let session = self.peer.session();
        let now = self.clock.now();
        let stats = session.stats();
        let rib = self.peer.rib();
        let peer = self.addr;
        PeerStatus {
            asn: self.plan.peer.asn,
            description: self.plan.peer.description.clone(),
            state: session.state(),
            state_secs: self
                .history
                .state_since
                .map_or(0, |t| now.as_millis().saturating_sub(t.as_millis()) / 1000),
            next_retry_secs: session
                .poll_at()
                .filter(|_| session.state() == State::Idle)
                .map(|t| t.as_millis().saturating_sub(now.as_millis()).div_ceil(1000)),
            router_id: session.remote_open().map(|o| o.bgp_id),
            local: self.conn_addr(|s| s.local_addr()),
            remote: self.conn_addr(|s| s.peer_addr()),
            hold_time: session.negotiated().map(|n| n.hold_time),
            keepalive: session
                .negotiated()
                .and_then(|n| n.keepalive)
                .map(|k| k.as_secs()),
            uptime_secs: session
                .established_at()
                .map(|t| now.as_millis().saturating_sub(t.as_millis()) / 1000),
            last_error: self.history.last_error.clone(),
            capabilities: session.negotiated().map(capabilities).unwrap_or_default(),
            prefixes_sent: self
                .plan
                .peer
                .families
                .iter()
                .map(|f| FamilyCount {
                    family: f.0.to_string(),
                    count: rib.sent_count(f.0),
                })
                .collect(),
            suppressed: rib.suppressed(),
            messages_in: stats.messages_in,
            messages_out: stats.messages_out,
            messages_not_sent: self.history.not_sent,
            updates_malformed: self.history.malformed,
            updates_in: stats.updates_in,
            updates_out: stats.updates_out,
            last_notification: self.history.last_notification.clone(),
            #[cfg(feature = "bfd")]
            bfd: self.bfd_status(),
            notifications: self
                .history
                .notifications
                .iter()
                .map(|(&(s, code), &count)| NotificationCount {
                    direction: if s { "sent" } else { "received" },
                    code,
                    count,
                })
                .collect(),
            vips: detail
                .iter()
                .filter_map(|p| self.vip_detail(p, peer))
                .collect(),
            peer,
        }
    }

    /// One VIP toward this peer: what the plan offers, what the peer holds
    /// and, when nothing is offered, why. O(log n) in the table.
    fn vip_detail(&self, p: &Prefix, peer: SocketAddr) -> Option<PeerVip> {
        let v = self.plan.vip(p)?;
        let up = self.peer.session().state() == State::Established;
        let offered: Vec<IpAddr> = self
            .plan
            .routes_of(v, &self.local)
            .map(|r| r.next_hop)
            .collect();
        let sent = self.peer.rib().sent_for(p);
        Some(PeerVip {
            state: status::vip_state(offered.len(), sent.len(), up),
            reason: match v.resolve(&self.plan.peer, &self.local) {
                Err(why) => Some(why.to_string()),
                Ok(None) if offered.is_empty() => {
                    Some("no healthy host this peer can reach".into())
                }
                Ok(_) if !offered.is_empty() && sent.is_empty() && up => {
                    Some(self.withheld_because(p))
                }
                Ok(_) => None,
            },
            sent: sent.iter().map(|&(_, nh)| nh).collect(),
            next_hops: offered,
            peer,
            prefix: *p,
        })
    }

    /// Why an offered VIP is not at an Established peer.
    fn withheld_because(&self, p: &Prefix) -> String {
        let family = p.family();
        match self.peer.session().negotiated() {
            Some(n) if !n.families.contains(family) => {
                format!("the peer did not negotiate {family}")
            }
            _ if self.peer.rib().has_pending() => "queued: the peer is being sent its table".into(),
            _ => "the next hop is not of the prefix's family".into(),
        }
    }

    /// An address of the current connection.
    fn conn_addr(
        &self,
        f: impl Fn(&std::net::TcpStream) -> std::io::Result<SocketAddr>,
    ) -> Option<SocketAddr> {
        let c = self.conn.as_ref()?;
        f(c.stream.get_ref()).ok().map(|a| {
            // A dual-stack listener reports IPv4 as ::ffff:a.b.c.d.
            SocketAddr::new(a.ip().to_canonical(), a.port())
        })
    }
}
