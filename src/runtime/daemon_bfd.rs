//! The daemon's side of BFD: each peer's BFD session follows the plan.
//! Without the `bfd` feature these do nothing (the config refuses `bfd`).
use super::peer::{Cmd, PeerTask};
use super::Daemon;
use crate::config::PeerConfig;

impl Daemon<'_> {
    /// A new peer task, guarded by its BFD session when configured: BGP
    /// waits unless that session is Up already (a BGP session restarted
    /// for a config change keeps its BFD session).
    pub(super) fn guard(
        &mut self,
        task: PeerTask,
        p: &PeerConfig,
        seed: u64,
        tx: &async_channel::Sender<Cmd>,
    ) -> PeerTask {
        #[cfg(feature = "bfd")]
        if let Some(b) = &p.bfd {
            let held = self
                .bfd
                .add(b, p.address, p.local_address, seed, verdicts_to(tx));
            return task.guarded(self.bfd.clone(), held);
        }
        let _ = (p, seed, tx);
        task
    }

    /// A peer's BFD settings changed and its BGP session did not: new
    /// timers through a Poll Sequence; BFD added to a running session
    /// (which it does not hold); or BFD removed, which releases it.
    pub(super) fn bfd_changed(
        &mut self,
        old: &PeerConfig,
        new: &PeerConfig,
        seed: u64,
        tx: &async_channel::Sender<Cmd>,
    ) {
        #[cfg(feature = "bfd")]
        match (&old.bfd, &new.bfd) {
            (Some(a), Some(b)) if a != b => self.bfd.configure(new.address, b),
            (None, Some(b)) => {
                let addr = (new.address, new.local_address);
                self.bfd.add(b, addr.0, addr.1, seed, verdicts_to(tx));
                let _ = tx.try_send(Cmd::Guard(self.bfd.clone()));
            }
            (Some(_), None) => {
                self.bfd.remove(new.address);
                let _ = tx.try_send(Cmd::Unguard);
            }
            _ => {}
        }
        let _ = (old, new, seed, tx);
    }

    /// The peer is gone, or its new session has no BFD: AdminDown.
    pub(super) fn bfd_gone(&mut self, p: &PeerConfig) {
        #[cfg(feature = "bfd")]
        if p.bfd.is_some() {
            self.bfd.remove(p.address);
        }
        let _ = p;
    }

    /// Before the process stops or restarts: AdminDown to every BFD peer,
    /// so that no router reads the silence as a failure (RFC 5882 3.2).
    pub(super) fn bfd_admin_down(&self) {
        #[cfg(feature = "bfd")]
        self.bfd.admin_down_all();
    }
}

/// A peer task's side of its BFD session: verdicts into its command
/// channel, without waiting (the BFD thread never blocks on a peer task);
/// dropped if the task is gone or its queue is full.
#[cfg(feature = "bfd")]
fn verdicts_to(tx: &async_channel::Sender<Cmd>) -> super::bfd_hub::Notify {
    let tx = tx.clone();
    Box::new(move |v| {
        let _ = tx.try_send(Cmd::Bfd(v));
    })
}
