//! Layer-2 mode's decisions, pure like the daemon core: one VRRPv3
//! virtual router ([`leafvip_vrrp::Router`]) per VIP, the frames that
//! answer for the VIPs this host owns, and the gratuitous ARP and
//! unsolicited Neighbor Advertisement bursts on taking one over. The
//! runtime (`runtime/l2.rs`) hands in the wanted VIPs, received frames and
//! the time, and sends what comes back on the interface named.
//!
//! Why the VIP is answered here and not by the kernel: keepalived puts
//! the VIP on the interface, so a killed or frozen keepalived leaves the
//! kernel answering ARP for it beside the new owner (issue 23 measured two
//! MACs answering after every kill). Here only a running speaker that
//! owns the VIP answers; the kernel accepts the VIP's traffic from `lo`,
//! where `arp_ignore` keeps it from answering (ARCHITECTURE.md).
use super::frames::{self, Asked, Heard};
use super::links::Link;
use crate::config::l2::L2Config;
use crate::lb::owners::Owners;
use leafvip_vrrp::{Action, Advert, Config, Event, Instant, Router, State};
use std::cell::OnceCell;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// What the daemon core wants of one VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub vip: IpAddr,
    pub cfg: L2Config,
    pub hold: Hold,
    /// The Service whose address it is (cluster mode); empty for a
    /// configured VIP.
    pub service: String,
    /// The nodes that may own it (cluster mode), to name the owner.
    pub owners: Option<Arc<Owners>>,
}

/// How the core wants a VIP held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Take part with this priority (the configured one, or
    /// `down_priority` while the check fails).
    Run(u8),
    /// Maintenance (`leafvip drain`): hand over to another router, and
    /// take part at priority 1, so that the VIP comes back here only if no
    /// other router holds it.
    Drain,
    /// Give the VIP up (a check down without `down_priority`, or a stop):
    /// a master hands over first and answers until another has taken it.
    Out,
}

/// A frame to send on the interface with this index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub link: u32,
    pub frame: Vec<u8>,
}

/// Counters for status and metrics, as status shows them.
pub use crate::status::l2::L2Packets as Counters;

/// One VIP's state, as status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub vip: IpAddr,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    pub state: State,
    /// Who answers for the VIP: this host, the master last heard, or no
    /// one known.
    pub owner: Option<IpAddr>,
    pub transitions: u64,
    /// Advertisements for this VRID listing other addresses: another
    /// router configured differently.
    pub foreign: u64,
    pub service: String,
    /// The owner's node (cluster mode), when the directory names it.
    pub node: Option<String>,
}

struct Group {
    vip: IpAddr,
    service: String,
    /// Became master since [`Speaker::took`] last asked.
    took: bool,
    cfg: L2Config,
    hold: Hold,
    link: Link,
    router: Router,
    garp_left: u8,
    garp_at: Option<Instant>,
    refresh_at: Option<Instant>,
    transitions: u64,
    /// The master last heard, when it was not us, and its priority.
    master: Option<(IpAddr, u8)>,
    owners: Option<Arc<Owners>>,
    /// The owner's node, found when status first asks after a change of
    /// master or directory: a hostile advert costs no lookup.
    node: OnceCell<Option<String>>,
    foreign: u64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Group {
    fn new(w: &Want, link: &Link) -> Option<Group> {
        let primary = link.primary(w.vip)?;
        let router = Router::new(Config {
            vrid: w.cfg.vrid,
            priority: w.cfg.priority,
            interval: w.cfg.interval,
            preempt: w.cfg.preempt,
            preempt_delay: micros(w.cfg.preempt_delay),
            primary,
            addrs: vec![w.vip],
        });
        Some(Group {
            vip: w.vip,
            service: w.service.clone(),
            took: false,
            cfg: w.cfg.clone(),
            hold: Hold::Out,
            link: link.clone(),
            router,
            garp_left: 0,
            garp_at: None,
            refresh_at: None,
            transitions: 0,
            master: None,
            owners: None,
            node: OnceCell::new(),
            foreign: 0,
        })
    }

    fn owns(&self) -> bool {
        self.router.owns()
    }

    /// The frame that announces the VIP: gratuitous ARP, or an unsolicited
    /// Neighbor Advertisement with the override flag.
    fn announce(&self) -> Vec<u8> {
        match self.vip {
            IpAddr::V4(v) => frames::gratuitous_arp(self.link.mac, v),
            IpAddr::V6(v) => frames::advertise(self.link.mac, v, None),
        }
    }

    /// The first announcement of a burst of `garp_count`.
    fn burst(&mut self, now: Instant, out: &mut Vec<Send>) {
        self.garp_left = self.cfg.garp_count;
        self.announce_next(now, out);
    }

    /// One announcement of the burst, and when the next is due.
    fn announce_next(&mut self, now: Instant, out: &mut Vec<Send>) {
        out.push(Send {
            link: self.link.index,
            frame: self.announce(),
        });
        self.garp_left = self.garp_left.saturating_sub(1);
        self.garp_at = (self.garp_left > 0).then(|| now + micros(self.cfg.garp_interval));
    }

    fn poll_at(&self) -> Option<Instant> {
        [self.router.poll_at(), self.garp_at, self.refresh_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the router and carries out its actions.
    fn handle(&mut self, now: Instant, ev: Event, out: &mut Vec<Send>, n: &mut Counters) {
        let actions = self.router.handle(now, ev);
        self.act(now, actions, out, n);
    }

    fn act(&mut self, now: Instant, actions: Vec<Action>, out: &mut Vec<Send>, n: &mut Counters) {
        for a in actions {
            match a {
                Action::Send(ad) => {
                    let Some(src) = self.link.primary(self.vip) else {
                        continue;
                    };
                    let dst = match src {
                        IpAddr::V4(_) => IpAddr::V4(frames::VRRP_V4),
                        IpAddr::V6(_) => IpAddr::V6(frames::VRRP_V6),
                    };
                    let msg = ad.encode(src, dst);
                    n.adverts_sent += 1;
                    out.push(Send {
                        link: self.link.index,
                        frame: frames::vrrp_frame(self.link.mac, src, &msg),
                    });
                }
                Action::TakeOver | Action::Reannounce => {
                    self.took |= matches!(a, Action::TakeOver);
                    self.heard(None);
                    self.burst(now, out);
                    self.refresh_at = self.cfg.garp_refresh.map(|r| now + micros(r));
                }
                Action::Release => {
                    self.garp_left = 0;
                    self.garp_at = None;
                    self.refresh_at = None;
                }
                Action::StateChange { from, to } => {
                    self.transitions += 1;
                    info!(vip = %self.vip, vrid = self.cfg.vrid, interface = %self.cfg.interface,
                          "layer 2: {from:?} -> {to:?}");
                    if to == State::Initialize && self.hold != Hold::Out {
                        // Handed over for maintenance (a backup of last
                        // resort now), or wanted again while it handed
                        // over: take part again.
                        let more = self.router.handle(now, Event::Startup);
                        self.act(now, more, out, n);
                    }
                }
                Action::Mismatch { from } => {
                    self.foreign += 1;
                    if self.foreign.is_power_of_two() {
                        warn!(vip = %self.vip, vrid = self.cfg.vrid, %from, count = self.foreign,
                              "a VRRP router with our VRID advertises other addresses: check its configuration");
                    }
                }
            }
        }
    }

    /// Moves the router to what the core wants.
    fn hold(&mut self, now: Instant, hold: Hold, out: &mut Vec<Send>, n: &mut Counters) {
        self.hold = hold;
        match hold {
            Hold::Run(p) => {
                if p != self.router.config().priority {
                    self.handle(now, Event::Priority(p), out, n);
                }
                // A router handing over finishes that first, then starts
                // again (`act`).
                if self.router.state() == State::Initialize {
                    self.handle(now, Event::Startup, out, n);
                }
            }
            Hold::Drain => {
                self.handle(now, Event::Priority(1), out, n);
                match self.router.state() {
                    State::Master => self.handle(now, Event::Resign, out, n),
                    State::Initialize => self.handle(now, Event::Startup, out, n),
                    _ => {}
                }
            }
            Hold::Out => {
                if self.router.state() != State::Resigning {
                    self.handle(now, Event::Resign, out, n);
                }
            }
        }
    }

    fn shown(&self) -> Shown {
        Shown {
            vip: self.vip,
            interface: self.cfg.interface.clone(),
            vrid: self.cfg.vrid,
            priority: self.router.config().priority,
            state: self.router.state(),
            owner: if self.owns() {
                Some(self.router.config().primary)
            } else {
                self.master.map(|(ip, _)| ip)
            },
            transitions: self.transitions,
            foreign: self.foreign,
            service: self.service.clone(),
            node: self.node().map(str::to_string),
        }
    }

    /// The master heard now (None: us, or no one known).
    fn heard(&mut self, master: Option<(IpAddr, u8)>) {
        if self.master != master {
            self.master = master;
            self.node = OnceCell::new();
        }
    }

    /// The owner's node name, from the directory: this node when we own
    /// the VIP, else the master heard.
    fn node(&self) -> Option<&str> {
        let owners = self.owners.as_deref()?;
        if self.owns() {
            return Some(&owners.me);
        }
        self.node
            .get_or_init(|| {
                let (ip, priority) = self.master?;
                owners.name(self.vip, ip, priority).map(str::to_string)
            })
            .as_deref()
    }
}

#[derive(Default)]
pub struct Speaker {
    groups: Vec<Group>,
    pub counters: Counters,
}

impl Speaker {
    /// The VIPs to hold now, on the host's interfaces as they are. A VIP
    /// whose virtual router is unchanged keeps its state (a new priority
    /// applies in place); one no longer wanted, or whose interface is
    /// gone, is shut down (priority 0 if it was master).
    pub fn set(&mut self, now: Instant, links: &[Link], wants: &[Want]) -> Vec<Send> {
        let mut out = Vec::new();
        let n = &mut self.counters;
        let mut old = std::mem::take(&mut self.groups);
        for w in wants {
            let link = links.iter().find(|l| l.name == w.cfg.interface);
            let kept = old.iter().position(|g| {
                g.vip == w.vip
                    && g.cfg.same_router(&w.cfg)
                    && link.is_some_and(|l| {
                        l.index == g.link.index && l.primary(w.vip) == g.link.primary(w.vip)
                    })
            });
            let mut g = match kept {
                Some(i) => old.swap_remove(i),
                None => {
                    let Some(g) = link.and_then(|l| Group::new(w, l)) else {
                        warn!(vip = %w.vip, interface = %w.cfg.interface,
                              "layer 2: the interface or its address is gone; not holding the VIP");
                        continue;
                    };
                    g
                }
            };
            if let Some(l) = link {
                g.link.mac = l.mac;
            }
            g.cfg = w.cfg.clone();
            g.service.clone_from(&w.service);
            let same = match (&g.owners, &w.owners) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (a, b) => a.is_none() && b.is_none(),
            };
            if !same {
                g.owners.clone_from(&w.owners);
                g.node = OnceCell::new();
            }
            g.hold(now, w.hold, &mut out, n);
            self.groups.push(g);
        }
        for mut g in old {
            g.hold = Hold::Out;
            g.handle(now, Event::Shutdown, &mut out, n);
        }
        out
    }

    /// The Service addresses (cluster mode) this host took over since
    /// the last call, for an Event on their Service.
    pub fn took(&mut self) -> Vec<IpAddr> {
        self.groups
            .iter_mut()
            .filter_map(|g| (std::mem::take(&mut g.took) && !g.service.is_empty()).then_some(g.vip))
            .collect()
    }

    /// Shuts every router down at once (priority 0 from the masters): the
    /// process exits.
    pub fn shutdown(&mut self, now: Instant) -> Vec<Send> {
        let mut out = Vec::new();
        for g in &mut self.groups {
            g.hold = Hold::Out;
            g.handle(now, Event::Shutdown, &mut out, &mut self.counters);
        }
        out
    }

    /// A frame received on the interface with index `link`.
    pub fn frame(&mut self, now: Instant, link: u32, bytes: &[u8]) -> Vec<Send> {
        let mut out = Vec::new();
        let n = &mut self.counters;
        match frames::hear(bytes) {
            Ok(Heard::Asked(asked)) => {
                let target = match asked {
                    Asked::Arp { target, .. } => IpAddr::V4(target),
                    Asked::Solicit { target, .. } => IpAddr::V6(target),
                };
                let owner = self
                    .groups
                    .iter()
                    .find(|g| g.link.index == link && g.owns() && g.vip == target);
                if let Some(g) = owner {
                    let frame = match asked {
                        Asked::Arp { mac, ip, target } => {
                            n.arp_answered += 1;
                            frames::arp_reply(g.link.mac, target, (mac, ip))
                        }
                        Asked::Solicit { mac, ip, target } => {
                            n.ndp_answered += 1;
                            frames::advertise(g.link.mac, target, Some((mac, ip)))
                        }
                    };
                    out.push(Send { link, frame });
                }
            }
            Ok(Heard::Vrrp {
                src,
                dst,
                ttl,
                payload,
            }) => {
                let advert = match Advert::decode(src, dst, ttl, payload) {
                    Ok(a) => a,
                    Err(_) => {
                        n.malformed_vrrp += 1;
                        return out;
                    }
                };
                n.adverts_received += 1;
                for g in &mut self.groups {
                    if g.link.index == link
                        && g.cfg.vrid == advert.vrid
                        && g.vip.is_ipv4() == src.is_ipv4()
                    {
                        if advert.priority != 0 && src != g.router.config().primary {
                            g.heard(Some((src, advert.priority)));
                        }
                        let ev = Event::Received {
                            from: src,
                            advert: advert.clone(),
                        };
                        g.handle(now, ev, &mut out, n);
                    }
                }
            }
            Err(e) => match e {
                frames::FrameError::NotArpRequest
                | frames::FrameError::NotSolicitation
                | frames::FrameError::Other => {}
                frames::FrameError::Malformed => match bytes.get(12..14) {
                    Some([0x08, 0x06]) => n.malformed_arp += 1,
                    Some([0x86, 0xdd]) => n.malformed_ndp += 1,
                    // Not ours to count: the filter lets only ARP and IPv6 in.
                    _ => {}
                },
                _ => n.malformed_ndp += 1,
            },
        }
        out
    }

    /// The deadline has come: timers, and the announcement bursts.
    pub fn timer(&mut self, now: Instant) -> Vec<Send> {
        let mut out = Vec::new();
        let n = &mut self.counters;
        for g in &mut self.groups {
            if g.router.poll_at().is_some_and(|t| t <= now) {
                g.handle(now, Event::Timer, &mut out, n);
            }
            if g.garp_at.is_some_and(|t| t <= now) {
                g.announce_next(now, &mut out);
            }
            if g.refresh_at.is_some_and(|t| t <= now) {
                // Again the whole burst.
                g.burst(now, &mut out);
                g.refresh_at = g.cfg.garp_refresh.map(|r| now + micros(r));
            }
        }
        out
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.groups.iter().filter_map(Group::poll_at).min()
    }

    /// How many VIPs this host answers for now.
    pub fn owned(&self) -> usize {
        self.groups.iter().filter(|g| g.owns()).count()
    }

    /// The interfaces in use, by index, each once.
    pub fn links(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.groups.iter().map(|g| g.link.index).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn shown(&self) -> Vec<Shown> {
        self.groups.iter().map(Group::shown).collect()
    }
}

#[cfg(test)]
mod tests;
