//! The daemon's notice board: what the status socket and the metrics
//! endpoint need to ask for a snapshot, kept current by the daemon after
//! every replan and health change. Peers answer for themselves (their
//! session and Adj-RIB-Out live in their tasks), so a snapshot is a round
//! of questions, never shared mutable state.
use super::peer::Cmd;
use crate::status::{PeerVip, Status, VipStatus};
use async_io::Timer;
use futures_lite::future;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// A peer task answers between two events; one that takes longer (a
/// close flushing a NOTIFICATION) is left out of this snapshot.
const PEER_ANSWER: Duration = Duration::from_secs(2);

/// A VIP as the daemon knows it, before the peers say what they sent.
#[derive(Debug, Clone)]
pub struct VipInfo {
    pub prefix: String,
    pub next_hop: String,
    pub health: Option<String>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    /// Connections from addresses that are not a selected peer.
    pub refused: u64,
    /// accept() failures (out of descriptors, mostly).
    pub accept_errors: u64,
}

#[derive(Default)]
pub struct Board {
    /// Node, AS, router id and version; peers and VIPs are filled per ask.
    pub base: Status,
    pub started: Option<std::time::Instant>,
    pub peers: Vec<async_channel::Sender<Cmd>>,
    pub vips: Vec<VipInfo>,
    /// Config loaded and sessions started (for /readyz).
    pub ready: bool,
    /// Events counted where they happen, not kept anywhere else.
    pub counters: Counters,
    /// When the last reload finished, and why it ran or why it failed.
    pub last_reload: Option<(std::time::SystemTime, Result<String, String>)>,
}

impl Board {
    /// Asks every peer task for its part; a task that is gone is left out.
    pub async fn status(board: &Rc<RefCell<Board>>) -> Status {
        let (mut st, peers, vips) = {
            let b = board.borrow();
            let mut st = b.base.clone();
            st.uptime_secs = b.started.map_or(0, |t| t.elapsed().as_secs());
            (st, b.peers.clone(), b.vips.clone())
        };
        for tx in peers {
            let (reply, answer) = async_channel::bounded(1);
            let sent = tx.send(Cmd::Status(reply)).await.is_ok();
            // Holding the sender would keep a stopped peer's queue (and the
            // reply sender in it) alive.
            drop(tx);
            if !sent {
                continue;
            }
            let late = async {
                Timer::after(PEER_ANSWER).await;
                Err(async_channel::RecvError)
            };
            if let Ok(p) = future::or(answer.recv(), late).await {
                st.peers.push(p);
            }
        }
        let mut per_vip: BTreeMap<String, Vec<PeerVip>> = BTreeMap::new();
        for p in &mut st.peers {
            for v in std::mem::take(&mut p.vips) {
                per_vip.entry(v.prefix.clone()).or_default().push(v);
            }
        }
        st.vips = vips
            .into_iter()
            .map(|v| {
                let peers = per_vip.remove(&v.prefix).unwrap_or_default();
                VipStatus {
                    announced: peers.iter().any(|p| !p.sent.is_empty()),
                    prefix: v.prefix,
                    next_hop: v.next_hop,
                    health: v.health,
                    peers,
                }
            })
            .collect();
        st
    }
}
