//! What layer-2 mode is told (feature `l2`): for each `mode = "l2"` VIP,
//! whether this host takes part in its election and with which priority.
//! The elections themselves run in the runtime's speaker thread.
//!
//! - A VIP whose check fails takes part with its `down_priority`, or
//!   gives the VIP up (a master hands over first).
//! - `leafvip drain` hands every VIP over and stays a backup of last
//!   resort (priority 1), as a drained BGP VIP stays announced with
//!   GRACEFUL_SHUTDOWN.
//! - A stop or a restart hands every VIP over, then waits `drain_time`
//!   before the process exits, so that requests on the old owner finish.
use super::{Core, Drain, Effect};
use crate::l2::speaker::{Hold, Want};

impl Core {
    pub(super) fn l2_wants(&self) -> Vec<Want> {
        let hold = |run: Hold| match self.drain {
            Some(Drain::Stopping(_)) => Hold::Out,
            Some(Drain::Maintenance(_)) => Hold::Drain,
            None => run,
        };
        let wants: Vec<Want> = self
            .cfg
            .l2_vips()
            .map(|(v, c)| {
                let down = v.check.is_some() && !self.vip_up.contains(&v.prefix);
                Want {
                    vip: v.prefix.addr(),
                    cfg: c.clone(),
                    hold: hold(match down {
                        true => c.down_priority.map_or(Hold::Out, Hold::Run),
                        false => Hold::Run(c.priority),
                    }),
                    service: String::new(),
                    owners: None,
                }
            })
            .collect();
        #[cfg(feature = "kube")]
        let wants = [wants, self.service_l2_wants(hold)].concat();
        wants
    }

    /// Cluster mode's layer-2 Service addresses (`crate::lb::layer2`),
    /// unless the config holds the same address.
    #[cfg(feature = "kube")]
    fn service_l2_wants(&self, hold: impl Fn(Hold) -> Hold) -> Vec<Want> {
        let interval = self
            .cfg
            .kubernetes
            .as_ref()
            .map_or(10, |k| k.layer2_interval);
        self.service_l2
            .iter()
            .filter(|a| !self.cfg.all_vips().any(|v| v.prefix.addr() == a.addr))
            .map(|a| {
                let cfg = crate::config::l2::L2Config {
                    interface: a.interface.clone(),
                    vrid: a.vrid,
                    priority: a.priority,
                    interval,
                    preempt: true,
                    // A node that comes back waits this long before it
                    // takes back what it owned: its service settles first.
                    preempt_delay: std::time::Duration::from_secs(2),
                    garp_count: 3,
                    garp_interval: std::time::Duration::from_millis(100),
                    garp_refresh: None,
                    down_priority: None,
                };
                Want {
                    vip: a.addr,
                    hold: hold(Hold::Run(cfg.priority)),
                    cfg,
                    service: a.service.clone(),
                    owners: self.l2_owners.clone(),
                }
            })
            .collect()
    }

    /// Tells the speaker what changed.
    pub(super) fn plan_l2(&mut self) {
        let w = self.l2_wants();
        if w != self.l2_told {
            self.l2_told = w.clone();
            self.out.push(Effect::L2(w));
        }
    }

    /// This node took a Service address over: a Normal Event on the
    /// Service says so (as MetalLB's `nodeAssigned`), at most one per
    /// address every 10 s, so that a flapping election cannot flood the
    /// API server.
    #[cfg(feature = "kube")]
    pub(super) fn l2_took(&mut self, now: super::Now, vip: std::net::IpAddr) {
        let Some(a) = self.service_l2.iter().find(|a| a.addr == vip) else {
            return;
        };
        let quiet = std::time::Duration::from_secs(10);
        if self
            .l2_events
            .get(&vip)
            .is_some_and(|t| now.at.saturating_duration_since(*t) < quiet)
        {
            return;
        }
        // Only the addresses still offered are remembered.
        let offered = &self.service_l2;
        self.l2_events
            .retain(|k, _| offered.iter().any(|a| a.addr == *k));
        self.l2_events.insert(vip, now.at);
        let (namespace, name) = a.service.split_once('/').unwrap_or(("", &a.service));
        let when = now
            .wall
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        self.out.push(Effect::Event(super::cluster::EventCmd {
            kind: "Service",
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: a.uid.clone(),
            // Each take-over its own Event.
            version: format!("{vip} {when}"),
            reason: "nodeAssigned",
            message: format!(
                "announcing {vip} from node \"{}\" with protocol \"layer2\"",
                self.node
            ),
            node: self.node.clone(),
        }));
    }
}
