//! The daemon's notice board: what the status socket and the metrics
//! endpoint need to ask for a snapshot, kept current by the daemon after
//! every replan and health change. Peers answer for themselves (their
//! session and Adj-RIB-Out live in their tasks), so a snapshot is a round
//! of questions, never shared mutable state.
//!
//! A snapshot costs O(peers) plus the VIPs asked about: peers answer from
//! counters their Adj-RIB-Out keeps, and per-VIP detail comes a page at a
//! time. At 100k VIPs a whole-table snapshot cost 1.1 s of the loop and
//! 200 MB per request; a page of [`PAGE_MAX`] costs a few milliseconds.
use super::peer::Cmd;
use crate::plan::Vips;
use crate::status::{PeerVip, Status, VipStatus};
use async_io::Timer;
use futures_lite::future;
use leafvip_bgp::wire::Prefix;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// A peer task answers between two events; one that takes longer (a
/// close flushing a NOTIFICATION) is left out of this snapshot.
const PEER_ANSWER: Duration = Duration::from_secs(2);

/// The most VIPs one answer describes.
pub const PAGE_MAX: usize = 1000;

/// Up to this many VIPs, a plain `status` lists them all.
pub const INLINE_VIPS: usize = 64;

/// Which VIPs a snapshot describes beside the peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vip {
    /// All of them when there are at most [`INLINE_VIPS`], else none.
    Summary,
    /// None: peers and counts only (metrics).
    Nothing,
    /// Up to `limit` (at most [`PAGE_MAX`]) after this prefix.
    Page {
        after: Option<Prefix>,
        limit: usize,
    },
    One(Prefix),
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
    /// The same shared list the peers plan from: no copy per VIP.
    pub vips: Option<Vips>,
    /// `[[host]]`s passing their checks, of all.
    pub hosts_up: (usize, usize),
    /// Sessions in Established, kept by the peer tasks.
    pub established: Rc<Cell<usize>>,
    /// The longest the event loop spent on one event.
    pub busy: Rc<super::busy::Busy>,
    /// Config loaded and sessions started (for /readyz).
    pub ready: bool,
    /// Configured peers whose node_selector does not match, and why.
    pub unselected: Vec<crate::status::Unselected>,
    /// Events counted where they happen, not kept anywhere else.
    pub counters: Counters,
    /// When the last reload finished, and why it ran or why it failed.
    pub last_reload: Option<(std::time::SystemTime, Result<String, String>)>,
    /// Each checked `[[vip]]`'s state, as status shows it.
    pub checks: Vec<(Prefix, &'static str)>,
}

impl Board {
    /// The prefixes a request describes, and the cursor of the next page.
    fn select(&self, which: &Vip) -> (Vec<Prefix>, Option<Prefix>) {
        let empty = crate::vip_list::VipList::default();
        let all = self.vips.as_deref().unwrap_or(&empty);
        match which {
            Vip::Summary if all.len() <= INLINE_VIPS => {
                (all.iter().map(|v| v.prefix).collect(), None)
            }
            Vip::Summary | Vip::Nothing => (Vec::new(), None),
            Vip::One(p) => (all.get(p).map(|v| v.prefix).into_iter().collect(), None),
            Vip::Page { after, limit } => {
                let start = after.map_or(0, |a| all.count_through(&a));
                let end = (start + (*limit).clamp(1, PAGE_MAX)).min(all.len());
                let page: Vec<Prefix> = (start..end).map(|i| all.prefix(i)).collect();
                let next = (end < all.len()).then(|| page.last().copied()).flatten();
                (page, next)
            }
        }
    }

    /// Asks every peer task for its part; a task that is gone is left out.
    pub async fn status(board: &Rc<RefCell<Board>>, which: Vip) -> Status {
        let (mut st, peers, detail, next, vips) = {
            let b = board.borrow();
            let mut st = b.base.clone();
            st.uptime_secs = b.started.map_or(0, |t| t.elapsed().as_secs());
            st.vip_count = b.vips.as_ref().map_or(0, |v| v.len());
            st.last_reload = b.last_reload.as_ref().map(|(at, r)| crate::status::Reload {
                at_unix: at
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                ok: r.is_ok(),
                detail: match r {
                    Ok(why) | Err(why) => why.clone(),
                },
            });
            st.refused_connections = b.counters.refused;
            st.loop_busy_max_ms = b.busy.max().as_millis() as u64;
            st.loop_busy_recent_ms = b.busy.recent().as_millis() as u64;
            st.unselected = b.unselected.clone();
            st.accept_errors = b.counters.accept_errors;
            let (detail, next) = b.select(&which);
            (st, b.peers.clone(), detail, next, b.vips.clone())
        };
        let detail: Arc<[Prefix]> = detail.into();
        for tx in peers {
            let (reply, answer) = async_channel::bounded(1);
            let cmd = Cmd::Status {
                reply,
                detail: detail.clone(),
            };
            let sent = tx.send(cmd).await.is_ok();
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
        let hosts_up = board.borrow().hosts_up;
        let checks = board.borrow().checks.clone();
        st.vips = detail
            .iter()
            .filter_map(|p| {
                let v = vips.as_deref()?.get(p)?;
                let prefix = p.to_string();
                let peers = per_vip.remove(&prefix).unwrap_or_default();
                Some(VipStatus {
                    announced: peers.iter().any(|p| !p.sent.is_empty()),
                    next_hop: v.next_hop.to_string(),
                    health: match checks.iter().find(|(c, _)| c == p) {
                        Some((_, c)) => Some(c.to_string()),
                        None => (v.next_hop == crate::config::NextHopSpec::Hosts)
                            .then(|| format!("{}/{} hosts up", hosts_up.0, hosts_up.1)),
                    },
                    prefix,
                    peers,
                })
            })
            .collect();
        st.next = next.map(|p| p.to_string());
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NextHopSpec;

    fn board(n: u8) -> Board {
        let mut b = crate::vip_list::Builder::with_capacity(n.into());
        for i in 0..n {
            b.push(
                format!("192.0.2.{i}/32").parse().unwrap(),
                NextHopSpec::SelfAddress,
            );
        }
        Board {
            vips: Some(Arc::new(b.finish().unwrap())),
            ..Default::default()
        }
    }

    #[test]
    fn pages_walk_every_vip_once_in_order() {
        let b = board(250);
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = b.select(&Vip::Page { after, limit: 100 });
            assert!(page.len() <= 100);
            seen.extend(page);
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen.len(), 250);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_summary_lists_vips_only_while_few() {
        assert_eq!(board(10).select(&Vip::Summary).0.len(), 10);
        assert!(board(200).select(&Vip::Summary).0.is_empty());
        let p: Prefix = "192.0.2.7/32".parse().unwrap();
        assert_eq!(board(200).select(&Vip::One(p)).0, vec![p]);
        let q: Prefix = "198.51.100.7/32".parse().unwrap();
        assert!(board(200).select(&Vip::One(q)).0.is_empty());
    }
}
