//! The daemon's side of `[[vip]] check`: one probe task per checked VIP
//! (`vip_probe.rs`), the up/down state each reports, and what the plan
//! makes of it (`VipList::with_down`: withdrawn, or degraded with a worse
//! MED or extra communities).
use super::{vip_probe, Daemon};
use crate::vip_check::DownAction;
use leafvip_bgp::wire::Prefix;
use tracing::{info, warn};

impl Daemon<'_> {
    /// (Re)starts the VIP checks after a load. A VIP checked before keeps
    /// its state; a new one starts down, so nothing unverified is
    /// announced, except after a restart, where the predecessor's state
    /// holds (its marker names the VIPs that were down): a restart must
    /// not withdraw what was up.
    /// Checked VIPs are `[[vip]]` tables, so few: plain lists.
    pub(super) fn start_vip_checks(&mut self, after_restart: Option<&[Prefix]>) {
        self.vip_tasks.clear(); // dropping a task cancels it
        let checked: Vec<Prefix> = self
            .cfg
            .vips()
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
        for v in self.cfg.vips() {
            let Some(c) = &v.check else { continue };
            let up = self.vip_up.contains(&v.prefix);
            self.vip_tasks.push(self.ex.spawn(vip_probe::run(
                v.prefix,
                c.clone(),
                up,
                self.vip_tx.clone(),
            )));
        }
        self.vip_checked = checked;
        self.post_checks();
    }

    /// The checked VIPs that are down, with what they do then.
    pub(super) fn down_map(&self) -> Vec<(Prefix, &DownAction)> {
        self.cfg
            .vips()
            .filter(|v| v.check.is_some() && !self.vip_up.contains(&v.prefix))
            .map(|v| (v.prefix, &v.down))
            .collect()
    }

    pub(super) fn vip_changed(&mut self, (prefix, up): vip_probe::Change) {
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
        self.replan();
    }

    /// The checks' state on the board, for status and metrics.
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
        let mut b = self.board.borrow_mut();
        b.base.vip_checks = self.vip_checked.len();
        b.base.vip_checks_down = n;
        b.checks = checks;
    }
}
