//! The shell's side of BFD: each peer's BFD session does what the core
//! says. Without the `bfd` feature these do nothing (the config refuses
//! `bfd`).
use super::peer::{Cmd, PeerTask};
use super::shell::Shell;
use crate::config::PeerConfig;
use crate::daemon::BfdChange;
use std::net::IpAddr;

impl Shell<'_> {
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

    /// New timers through a Poll Sequence; BFD added to a running session
    /// (which it does not hold); or BFD removed, which releases a running
    /// session.
    pub(super) fn bfd_change(&mut self, peer: IpAddr, change: BfdChange) {
        #[cfg(feature = "bfd")]
        {
            let tx = self.tx_of(peer);
            match change {
                BfdChange::Configure(c) => self.bfd.configure(peer, &c),
                BfdChange::Add { cfg, local, seed } => {
                    if let Some(tx) = tx {
                        self.bfd.add(&cfg, peer, local, seed, verdicts_to(&tx));
                        let _ = tx.try_send(Cmd::Guard(self.bfd.clone()));
                    }
                }
                BfdChange::Remove => {
                    self.bfd.remove(peer);
                    if let Some(tx) = tx {
                        let _ = tx.try_send(Cmd::Unguard);
                    }
                }
            }
        }
        let _ = (peer, change);
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
