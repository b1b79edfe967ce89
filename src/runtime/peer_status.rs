//! A peer task's answer to "status": its session and Adj-RIB-Out in words.
use super::peer::PeerTask;
use crate::status::{self, FamilyCount, NotificationCount, PeerStatus, PeerVip};
use leafvip_bgp::session::{Negotiated, State};
use leafvip_bgp::wire::{Notification, Prefix};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What the task remembers beyond the core's own counters.
#[derive(Debug, Default)]
pub struct History {
    pub last_error: Option<String>,
    pub last_notification: Option<String>,
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
    pub fn snapshot(&self) -> PeerStatus {
        let session = self.peer.session();
        let now = self.clock.now();
        let up = session.state() == State::Established;
        let stats = session.stats();
        let rib = self.peer.rib();
        let mut sent: BTreeMap<Prefix, Vec<IpAddr>> = BTreeMap::new();
        for ((p, _), path) in rib.sent() {
            sent.entry(p).or_default().push(path.next_hop);
        }
        let mut offered: BTreeMap<Prefix, Vec<IpAddr>> = BTreeMap::new();
        for r in self.plan.routes(&self.local) {
            offered.entry(r.prefix).or_default().push(r.next_hop);
        }
        let peer = self.addr.to_string();
        let vips = self
            .plan
            .vips
            .iter()
            .map(|v| {
                let o = offered.remove(&v.prefix).unwrap_or_default();
                let s = sent.get(&v.prefix).map_or(&[][..], Vec::as_slice);
                PeerVip {
                    state: status::vip_state(o.len(), s.len(), up),
                    reason: match v.resolve(&self.plan.peer, &self.local) {
                        Err(why) => Some(why),
                        Ok(None) if o.is_empty() => {
                            Some("no healthy host this peer can reach".into())
                        }
                        Ok(_) => None,
                    },
                    next_hops: o.iter().map(IpAddr::to_string).collect(),
                    sent: s.iter().map(IpAddr::to_string).collect(),
                    peer: peer.clone(),
                    prefix: v.prefix.to_string(),
                }
            })
            .collect();
        PeerStatus {
            peer,
            asn: self.plan.peer.asn,
            description: self.plan.peer.description.clone(),
            state: session.state().to_string(),
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
                    count: sent
                        .iter()
                        .filter(|(p, _)| p.family() == f.0)
                        .map(|(_, h)| h.len())
                        .sum(),
                })
                .collect(),
            suppressed: rib.suppressed(),
            messages_in: stats.messages_in,
            messages_out: stats.messages_out,
            updates_in: stats.updates_in,
            updates_out: stats.updates_out,
            last_notification: self.history.last_notification.clone(),
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
            vips,
        }
    }
}
