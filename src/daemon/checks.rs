//! The state of the `[[host]]` and `[[vip]]` checks, and what the plan
//! makes of it: a host that fails leaves the next hops; a VIP that fails
//! is withdrawn or degraded (`VipList::with_down`). The probes run in the
//! runtime (`runtime/health.rs`, `runtime/vip_probe.rs`) and report here.
use super::{Core, Effect, Now};
use crate::hosts::CheckConfig;
use crate::vip_check::{DownAction, VipCheck};
use leafvip_bgp::wire::Prefix;
use tracing::{info, warn};

impl Core {
    /// The host checks to run, with the state each starts from: hosts
    /// keep their state across reloads.
    pub fn host_checks(&self) -> impl Iterator<Item = (&str, &CheckConfig, bool)> {
        self.cfg.hosts().filter_map(|h| {
            let c = h.check.as_ref()?;
            Some((h.name.as_str(), c, self.healthy.contains(&h.name)))
        })
    }

    /// The VIP checks to run, with the state each starts from.
    pub fn vip_checks(&self) -> impl Iterator<Item = (Prefix, &VipCheck, bool)> {
        self.cfg.all_vips().filter_map(|v| {
            let c = v.check.as_ref()?;
            Some((v.prefix, c, self.vip_up.contains(&v.prefix)))
        })
    }

    /// After a load: hosts no longer configured forget their state.
    pub(super) fn start_checks(&mut self) {
        let names: std::collections::BTreeSet<String> =
            self.cfg.hosts().map(|h| h.name.clone()).collect();
        self.healthy.retain(|n| names.contains(n));
        self.out.push(Effect::HostChecks);
    }

    pub(super) fn health_changed(&mut self, now: Now, name: String, up: bool) {
        if up {
            info!(host = %name, "host passes its check: announcing it");
            self.healthy.insert(name);
        } else {
            warn!(host = %name, "host fails its check: withdrawing it");
            self.healthy.remove(&name);
        }
        self.replan(now);
    }

    /// The VIP checks after a load. A VIP checked before keeps its state;
    /// a new one starts down, so nothing unverified is announced, except
    /// after a restart, where the predecessor's state holds (its marker
    /// names the VIPs that were down): a restart must not withdraw what
    /// was up. Checked VIPs are `[[vip]]` tables, so few: plain lists.
    pub(super) fn start_vip_checks(&mut self, after_restart: Option<&[Prefix]>) {
        let checked: Vec<Prefix> = self
            .cfg
            .all_vips()
            .filter(|v| v.check.is_some())
            .map(|v| v.prefix)
            .collect();
        let known = std::mem::take(&mut self.vip_checked);
        self.vip_up.retain(|p| checked.contains(p));
        for p in &checked {
            let fresh = !known.contains(p) && !self.vip_up.contains(p);
            if fresh && after_restart.is_some_and(|down| !down.contains(p)) {
                self.vip_up.push(*p);
            }
        }
        self.vip_checked = checked;
        self.out.push(Effect::VipChecks);
        self.post_checks();
    }

    /// The checked VIPs that are down, with what they do then.
    pub(super) fn down_map(&self) -> Vec<(Prefix, &DownAction)> {
        self.cfg
            .all_vips()
            .filter(|v| v.check.is_some() && !self.vip_up.contains(&v.prefix))
            .map(|v| (v.prefix, &v.down))
            .collect()
    }

    pub(super) fn vip_changed(&mut self, now: Now, prefix: Prefix, up: bool) {
        if up {
            info!(vip = %prefix, "the VIP's check passes: announcing it");
            if !self.vip_up.contains(&prefix) {
                self.vip_up.push(prefix);
            }
        } else {
            warn!(vip = %prefix, "the VIP's check fails: withdrawing or degrading it");
            self.vip_up.retain(|p| *p != prefix);
        }
        self.post_checks();
        self.replan(now);
    }

    /// The checks' state as status and metrics show it.
    fn post_checks(&mut self) {
        let down = self.down_map();
        let checks = self
            .vip_checked
            .iter()
            .map(|p| {
                let what = match down.iter().find(|(d, _)| d == p) {
                    None => "check up",
                    Some((_, DownAction::Withdraw)) => "check down: withdrawn",
                    Some((_, DownAction::Degrade { .. })) => "check down: degraded",
                };
                (*p, what)
            })
            .collect();
        let n = down.len();
        self.shown.base.vip_checks = self.vip_checked.len();
        self.shown.base.vip_checks_down = n;
        self.shown.checks = checks;
        self.out.push(Effect::Show);
    }
}
