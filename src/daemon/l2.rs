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
        self.cfg
            .l2_vips()
            .map(|(v, c)| {
                let down = v.check.is_some() && !self.vip_up.contains(&v.prefix);
                let hold = match self.drain {
                    Some(Drain::Stopping(_)) => Hold::Out,
                    Some(Drain::Maintenance(_)) => Hold::Drain,
                    None if down => c.down_priority.map_or(Hold::Out, Hold::Run),
                    None => Hold::Run(c.priority),
                };
                Want {
                    vip: v.prefix.addr(),
                    cfg: c.clone(),
                    hold,
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
}
