//! Layer-2 mode's edge (feature `l2`): the speaker (`l2::speaker`, pure)
//! on a thread of its own, with one AF_PACKET socket per interface
//! (`socket.rs`) and one `ppoll`, as the BFD sessions run (`bfd_hub.rs`).
//! VRRP adverts every 10 ms must not wait behind a busy event loop (a
//! 100k-VIP reload takes ~20 ms of it): a late advert is a false failover.
//!
//! The daemon core says which VIPs to hold and how ([`Hub::set`]); the
//! thread answers ARP and NDP, runs the elections and sends the bursts.
//! Status and metrics read [`Hub::shown`].
mod socket;

use super::clock::Clock;
use crate::l2::links;
use crate::l2::speaker::{Send, Speaker, Want};
use nix::poll::{PollFd, PollFlags};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};
use tracing::{error, warn};

/// Frames read from one socket on one wake-up; more wake it again (poll
/// is level-triggered), so one flooded interface cannot starve the timers.
const READS_PER_WAKE: usize = 64;

#[derive(Clone)]
pub struct Hub(Arc<Shared>);

struct Shared {
    inner: Mutex<Inner>,
    wake: Mutex<Option<UnixStream>>,
}

struct Inner {
    clock: Clock,
    speaker: Speaker,
    /// The sockets, by interface index.
    socks: Vec<(u32, Arc<socket2::Socket>)>,
    started: bool,
    send_log: crate::throttle::Throttle,
    /// Why the thread could not start, for status.
    error: Option<String>,
    /// Where take-overs of Service addresses go (the core's inputs).
    #[cfg(feature = "kube")]
    took: Option<async_channel::Sender<crate::daemon::Input>>,
}

impl Inner {
    fn send(&mut self, out: Vec<Send>) {
        for s in out {
            let Some((_, sock)) = self.socks.iter().find(|(i, _)| *i == s.link) else {
                continue;
            };
            if let Err(e) = sock.send(&s.frame) {
                if let Some(more) = self.send_log.hit(std::time::Instant::now()) {
                    warn!(more, "layer 2: send on interface {}: {e}", s.link);
                }
            }
        }
        #[cfg(feature = "kube")]
        if let Some(tx) = &self.took {
            for vip in self.speaker.took() {
                let _ = tx.try_send(crate::daemon::Input::L2Took(vip));
            }
        }
    }

    /// A socket on every interface in use, and none on the others.
    fn sockets(&mut self) {
        let want = self.speaker.links();
        self.socks.retain(|(i, _)| want.contains(i));
        for i in want {
            if self.socks.iter().any(|(j, _)| *j == i) {
                continue;
            }
            match socket::open(i) {
                Ok(s) => self.socks.push((i, Arc::new(s))),
                Err(e) => {
                    error!(
                        "layer 2: cannot open a packet socket on interface {i}: {e} (CAP_NET_RAW?)"
                    );
                    self.error = Some(format!("packet socket on interface {i}: {e}"));
                }
            }
        }
    }
}

impl Hub {
    pub fn new(clock: Clock) -> Hub {
        Hub(Arc::new(Shared {
            inner: Mutex::new(Inner {
                clock,
                speaker: Speaker::default(),
                socks: Vec::new(),
                started: false,
                send_log: Default::default(),
                error: None,
                #[cfg(feature = "kube")]
                took: None,
            }),
            wake: Mutex::new(None),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic on the thread aborts the process (panic = "abort").
        self.0.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        if let Some(w) = self
            .0
            .wake
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = (&*w).write(&[0]);
        }
    }

    /// Tells the core of each Service address this host takes over.
    #[cfg(feature = "kube")]
    pub fn tell(&self, inputs: async_channel::Sender<crate::daemon::Input>) {
        self.lock().took = Some(inputs);
    }

    /// Holds these VIPs, on the interfaces as they are now.
    pub fn set(&self, wants: &[Want]) {
        if !wants.is_empty() {
            self.start();
        }
        let links = links::read();
        {
            let mut inner = self.lock();
            let now = inner.clock.vrrp();
            let out = inner.speaker.set(now, &links, wants);
            inner.sockets();
            inner.send(out);
        }
        self.wake();
    }

    /// Priority 0 from every master, before the process exits.
    pub fn shutdown(&self) {
        let mut inner = self.lock();
        let now = inner.clock.vrrp();
        let out = inner.speaker.shutdown(now);
        inner.send(out);
    }

    /// How many VIPs this host answers for now.
    pub fn owned(&self) -> usize {
        self.lock().speaker.owned()
    }

    /// Layer-2 mode's part of a status snapshot, when it holds VIPs.
    pub fn fill(&self, st: &mut crate::status::Status) {
        use crate::status::l2::L2Vip;
        let inner = self.lock();
        let shown = inner.speaker.shown();
        if shown.is_empty() && inner.error.is_none() {
            return;
        }
        st.l2 = shown
            .into_iter()
            .map(|s| L2Vip {
                vip: s.vip,
                interface: s.interface,
                vrid: s.vrid,
                priority: s.priority,
                state: state_name(s.state),
                owner: s.owner,
                transitions: s.transitions,
                foreign: s.foreign,
                service: s.service,
                node: s.node,
            })
            .collect();
        st.l2_packets = Some(inner.speaker.counters);
        st.l2_error = inner.error.clone();
    }

    fn start(&self) {
        if std::mem::replace(&mut self.lock().started, true) {
            return;
        }
        let (w, r) = match super::wake_pair() {
            Ok(p) => p,
            Err(e) => {
                error!("layer 2: cannot make the wake-up pair: {e}");
                self.lock().error = Some(format!("cannot start: {e}"));
                return;
            }
        };
        *self.0.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(w);
        let hub = self.clone();
        let spawned = std::thread::Builder::new()
            .name("leafvip-l2".into())
            // Frames are read into the heap; the stack holds the speaker's
            // calls and their log lines (a debug build needs more than
            // 64 KiB). Only the pages used become resident.
            .stack_size(256 * 1024)
            .spawn(move || hub.run(r));
        if let Err(e) = spawned {
            error!("layer 2: cannot start its thread: {e}");
            self.lock().error = Some(format!("cannot start: {e}"));
        }
    }

    /// The thread: wait for a frame, a wake-up or the speaker's deadline.
    fn run(self, mut wake: UnixStream) {
        let mut buf = vec![0u8; 2048];
        loop {
            // The sockets are shared for the wait, so that `set` may
            // replace them meanwhile.
            let (socks, timeout) = {
                let inner = self.lock();
                let now = inner.clock.vrrp();
                let socks = inner.socks.clone();
                let t = inner
                    .speaker
                    .poll_at()
                    .map(|t| std::time::Duration::from_micros(t - now));
                (socks, t)
            };
            let mut fds: Vec<PollFd<'_>> =
                std::iter::once(PollFd::new(wake.as_fd(), PollFlags::POLLIN))
                    .chain(
                        socks
                            .iter()
                            .map(|(_, s)| PollFd::new(s.as_fd(), PollFlags::POLLIN)),
                    )
                    .collect();
            let ts = timeout.map(nix::sys::time::TimeSpec::from_duration);
            if let Err(e) = nix::poll::ppoll(&mut fds, ts, None) {
                if e != nix::errno::Errno::EINTR {
                    error!("layer 2: ppoll: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
            let ready: Vec<bool> = fds
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            drop(fds);
            if ready[0] {
                let mut b = [0u8; 64];
                while matches!(wake.read(&mut b), Ok(n) if n > 0) {}
            }
            let mut inner = self.lock();
            for ((link, s), _) in socks.iter().zip(&ready[1..]).filter(|(_, r)| **r) {
                for _ in 0..READS_PER_WAKE {
                    let mut r: &socket2::Socket = s;
                    let n = match r.read(&mut buf) {
                        Ok(n) => n,
                        Err(_) => break,
                    };
                    let now = inner.clock.vrrp();
                    let out = inner.speaker.frame(now, *link, &buf[..n]);
                    inner.send(out);
                }
            }
            let now = inner.clock.vrrp();
            if inner.speaker.poll_at().is_some_and(|t| t <= now) {
                let out = inner.speaker.timer(now);
                inner.send(out);
            }
        }
    }
}

pub fn state_name(s: leafvip_vrrp::State) -> &'static str {
    match s {
        leafvip_vrrp::State::Initialize => "initialize",
        leafvip_vrrp::State::Backup => "backup",
        leafvip_vrrp::State::Master => "master",
        leafvip_vrrp::State::Resigning => "resigning",
    }
}
