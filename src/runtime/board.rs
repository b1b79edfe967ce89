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
use crate::status::{PeerStatus, PeerVip, Status, VipStatus};
use async_io::Timer;
use futures_lite::future;
use leafvip_bgp::wire::Prefix;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// A peer task answers between two events; one that takes longer (a
/// close flushing a NOTIFICATION) is left out of this snapshot.
const PEER_ANSWER: Duration = Duration::from_secs(2);

/// The most VIPs one answer describes.
pub const PAGE_MAX: usize = 1000;

/// Up to this many VIPs, a plain `status` lists them all.
pub const INLINE_VIPS: usize = 64;

/// One peer's answer to a status question, or None if it had none in time.
type Ask<'a> = Pin<Box<dyn Future<Output = Option<PeerStatus>> + 'a>>;

/// Runs the futures side by side and returns their outputs in their order
/// (the table lists peers as the config does).
async fn join_in_order<T>(mut fs: Vec<Pin<Box<dyn Future<Output = T> + '_>>>) -> Vec<T> {
    let mut out: Vec<Option<T>> = fs.iter().map(|_| None).collect();
    future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in fs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

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
    /// What the core shows: node, AS, checks, drain, cluster, the VIPs.
    pub shown: crate::daemon::Shown,
    pub started: Option<std::time::Instant>,
    pub peers: Vec<async_channel::Sender<Cmd>>,
    /// Sessions in Established, kept by the peer tasks.
    pub established: Rc<Cell<usize>>,
    /// The longest the event loop spent on one event.
    pub busy: Rc<super::busy::Busy>,
    /// Config loaded and sessions started (for /readyz).
    pub ready: bool,
    /// Events counted where they happen, not kept anywhere else.
    pub counters: Counters,
    /// Layer-2 mode's speaker, which answers for itself.
    #[cfg(feature = "l2")]
    pub l2: Option<super::l2::Hub>,
}

impl Board {
    /// The prefixes a request describes, and the cursor of the next page.
    fn select(&self, which: &Vip) -> (Vec<Prefix>, Option<Prefix>) {
        let empty = crate::vip_list::VipList::default();
        let all = self.shown.vips.as_deref().unwrap_or(&empty);
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
            let mut st = b.shown.base.clone();
            st.uptime_secs = b.started.map_or(0, |t| t.elapsed().as_secs());
            st.vip_count = b.shown.vips.as_ref().map_or(0, |v| v.len());
            st.last_reload = b
                .shown
                .last_reload
                .as_ref()
                .map(|(at, r)| crate::status::Reload {
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
            st.unselected = b.shown.unselected.clone();
            st.accept_errors = b.counters.accept_errors;
            #[cfg(feature = "l2")]
            if let Some(hub) = &b.l2 {
                hub.fill(&mut st);
            }
            let (detail, next) = b.select(&which);
            (st, b.peers.clone(), detail, next, b.shown.vips.clone())
        };
        let detail: Arc<[Prefix]> = detail.into();
        // Every peer is asked at once, under one deadline: a slow task
        // costs the snapshot PEER_ANSWER once, not once per peer.
        let deadline = std::time::Instant::now() + PEER_ANSWER;
        let asks = peers
            .into_iter()
            .map(|tx| {
                let detail = detail.clone();
                let ask = async move {
                    let (reply, answer) = async_channel::bounded(1);
                    let sent = tx.send(Cmd::Status { reply, detail }).await.is_ok();
                    // Holding the sender would keep a stopped peer's queue
                    // (and the reply sender in it) alive.
                    drop(tx);
                    match sent {
                        true => answer.recv().await.ok(),
                        false => None,
                    }
                };
                let late = async {
                    Timer::at(deadline).await;
                    None
                };
                Box::pin(future::or(ask, late)) as Ask<'_>
            })
            .collect();
        st.peers
            .extend(join_in_order(asks).await.into_iter().flatten());
        let mut per_vip: BTreeMap<Prefix, Vec<PeerVip>> = BTreeMap::new();
        for p in &mut st.peers {
            for v in std::mem::take(&mut p.vips) {
                per_vip.entry(v.prefix).or_default().push(v);
            }
        }
        let hosts_up = board.borrow().shown.hosts_up;
        let checks = board.borrow().shown.checks.clone();
        st.vips = detail
            .iter()
            .filter_map(|p| {
                let v = vips.as_deref()?.get(p)?;
                let peers = per_vip.remove(p).unwrap_or_default();
                Some(VipStatus {
                    announced: peers.iter().any(|p| !p.sent.is_empty()),
                    next_hop: v.next_hop.to_string(),
                    health: match checks.iter().find(|(c, _)| c == p) {
                        Some((_, c)) => Some(c.to_string()),
                        None => (v.next_hop == crate::config::NextHopSpec::Hosts)
                            .then(|| format!("{}/{} hosts up", hosts_up.0, hosts_up.1)),
                    },
                    prefix: p.to_string(),
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
        let mut board = Board::default();
        board.shown.vips = Some(Arc::new(b.finish().unwrap()));
        board
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

    /// A peer task that answers `Status` at once, as `addr`.
    fn answering(addr: &str) -> async_channel::Sender<Cmd> {
        let (tx, rx) = async_channel::bounded(4);
        let addr: std::net::SocketAddr = addr.parse().unwrap();
        std::thread::spawn(move || {
            while let Ok(Cmd::Status { reply, .. }) = rx.recv_blocking() {
                let st = PeerStatus::new(addr, leafvip_bgp::session::State::Established);
                let _ = reply.try_send(st);
            }
        });
        tx
    }

    #[test]
    fn peers_are_asked_together_and_listed_in_order_without_the_silent_ones() {
        // Tasks that take the question and never answer, like ones stuck
        // closing a connection.
        let (silent, held) = async_channel::bounded::<Cmd>(4);
        let (silent2, held2) = async_channel::bounded::<Cmd>(4);
        let board = Rc::new(RefCell::new(Board {
            peers: vec![
                answering("198.51.100.1:179"),
                silent,
                answering("198.51.100.2:179"),
                silent2,
                answering("[2001:db8::3]:179"),
            ],
            ..Default::default()
        }));
        let t = std::time::Instant::now();
        let st = async_io::block_on(Board::status(&board, Vip::Nothing));
        let peers: Vec<String> = st.peers.iter().map(|p| p.peer.to_string()).collect();
        let want = ["198.51.100.1:179", "198.51.100.2:179", "[2001:db8::3]:179"];
        assert_eq!(peers, want);
        assert_eq!(
            (held.len(), held2.len()),
            (1, 1),
            "the silent tasks were asked"
        );
        // One deadline for all: two silent tasks do not cost two waits.
        assert!(t.elapsed() < PEER_ANSWER * 2, "{:?}", t.elapsed());
    }

    #[test]
    fn join_in_order_keeps_the_order_of_the_futures_not_of_their_ends() {
        let (tx, rx) = async_channel::bounded::<u8>(1);
        let fs: Vec<Pin<Box<dyn Future<Output = u8>>>> = vec![
            // The first ends last: it waits for the second.
            Box::pin(async move { rx.recv().await.unwrap() + 10 }),
            Box::pin(async move {
                tx.send(1).await.unwrap();
                2
            }),
        ];
        assert_eq!(async_io::block_on(join_in_order(fs)), [11, 2]);
    }
}
