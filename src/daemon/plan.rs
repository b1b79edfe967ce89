//! Planning and reconciling: the plan made from labels, VIPs, checks,
//! objects and drain, and the sessions it asks for, started, changed in
//! place or closed.
use super::{BfdChange, Core, Effect, Key, Now, Selected};
use crate::config::PeerConfig;
use crate::global::Global;
use crate::plan::{PeerPlan, Plan};
use leafvip_bgp::wire::cease;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tracing::info;

/// Whether two configs of a peer make the same BGP session: everything
/// but the BFD settings, which change in place.
fn same_session(a: &PeerConfig, b: &PeerConfig) -> bool {
    PeerConfig {
        bfd: None,
        ..a.clone()
    } == PeerConfig {
        bfd: None,
        ..b.clone()
    }
}

impl Core {
    /// Plans again from what is known now, and reconciles the sessions.
    pub(super) fn replan(&mut self, now: Now) {
        // Service addresses beside the configured VIPs; a configured VIP
        // keeps its own settings.
        let mut vips = self.vips.clone();
        if !self.service_vips.is_empty() {
            vips = Arc::new(vips.with_extra(&self.service_vips));
        }
        let down = self.down_map();
        if !down.is_empty() {
            vips = Arc::new(vips.with_down(&down));
        }
        self.vips_now = Some(vips.clone());
        self.out.push(Effect::Rekey);
        let healthy = &self.healthy;
        let plan = Plan::with_peers(
            &self.cfg,
            (&self.crd_peers, &self.service_hosts),
            self.node.clone(),
            self.labels(),
            vips,
            &|h| healthy.contains(h),
        )
        .drained(self.drain.is_some());
        self.shown.unselected = plan
            .peers
            .iter()
            .filter_map(|p| {
                let why = p.selected.as_ref().err()?;
                Some(crate::status::Unselected {
                    peer: SocketAddr::new(p.peer.address, p.peer.port).to_string(),
                    asn: p.peer.asn,
                    reason: why.to_string(),
                })
            })
            .collect();
        self.reconcile(now, plan);
        let hosts = self.cfg.hosts().count();
        let up = self
            .cfg
            .hosts()
            .filter(|h| self.healthy.contains(&h.name))
            .count();
        self.shown.vips = self.vips_now.clone();
        self.shown.hosts_up = (up, hosts);
        self.out.push(Effect::Show);
        #[cfg(feature = "l2")]
        self.plan_l2();
    }

    fn reconcile(&mut self, now: Now, plan: Plan) {
        // Without a local AS or router ID no session can be made.
        let local = self.global.as_ref().ok().map(Global::session_key);
        let wanted: BTreeMap<Key, PeerPlan> = plan
            .selected()
            .filter(|_| local.is_some())
            .map(|p| ((p.peer.address, p.peer.port), p.clone()))
            .collect();
        let gone: Vec<Key> = self
            .peers
            .keys()
            .filter(|k| !wanted.contains_key(k))
            .copied()
            .collect();
        for k in gone {
            if let Some(s) = self.peers.remove(&k) {
                info!(peer = %k.0, "peer no longer selected: closing");
                self.close(k, cease::PEER_DECONFIGURED, "peer no longer selected");
                if s.plan.peer.bfd.is_some() {
                    self.out.push(Effect::Bfd(k.0, BfdChange::Remove));
                }
            }
        }
        for (k, p) in wanted {
            match self.peers.get_mut(&k) {
                // BFD settings alone change in the running task, through
                // a Poll Sequence: no BGP flap.
                Some(s) if same_session(&s.plan.peer, &p.peer) && Some(s.local) == local => {
                    if s.plan != p {
                        let old = std::mem::replace(&mut s.plan, p.clone());
                        self.out.push(Effect::Plan(Box::new(p.clone())));
                        self.bfd_changed(&old.peer, &p.peer);
                    }
                }
                Some(_) => {
                    if let Some(s) = self.peers.remove(&k) {
                        info!(peer = %k.0, "peer settings changed: restarting its session");
                        self.close(k, cease::OTHER_CONFIG_CHANGE, "configuration changed");
                        if p.peer.bfd.is_none() && s.plan.peer.bfd.is_some() {
                            self.out.push(Effect::Bfd(k.0, BfdChange::Remove));
                        }
                    }
                    self.spawn(now, k, p);
                }
                None => self.spawn(now, k, p),
            }
        }
    }

    fn close(&mut self, peer: Key, subcode: u8, message: &'static str) {
        self.out.push(Effect::Close {
            peer,
            subcode,
            message,
        });
    }

    /// A peer's BFD settings changed and its BGP session did not.
    fn bfd_changed(&mut self, old: &PeerConfig, new: &PeerConfig) {
        let change = match (&old.bfd, &new.bfd) {
            (Some(a), Some(b)) if a != b => BfdChange::Configure(*b),
            (None, Some(b)) => BfdChange::Add {
                cfg: *b,
                local: new.local_address,
                seed: self.seed(new),
            },
            (Some(_), None) => BfdChange::Remove,
            _ => return,
        };
        self.out.push(Effect::Bfd(new.address, change));
    }

    fn spawn(&mut self, now: Now, k: Key, p: PeerPlan) {
        let Ok(g) = &self.global else { return };
        let local = g.session_key();
        let mut session =
            p.session_config(g.asn, g.router_id, g.graceful_restart, self.seed(&p.peer));
        if let Some(gr) = session.graceful_restart.as_mut() {
            gr.restarting = self.restarted_until.is_some_and(|t| now.at < t);
        }
        info!(peer = %k.0, asn = p.peer.asn, "peer selected: starting session");
        self.out.push(Effect::Start {
            plan: Box::new(p.clone()),
            session: Box::new(session),
        });
        self.peers.insert(k, Selected { plan: p, local });
    }
}
