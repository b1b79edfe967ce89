//! One virtual router (RFC 5798 6.4): which of the routers on a segment
//! answers for the virtual addresses. Events and the time go in; actions
//! and the next deadline ([`Router::poll_at`]) come out, in the shape of
//! `leafvip-bgp`'s session and `leafvip-bfd`'s.
//!
//! Beyond the RFC, three things users of keepalived expect, or asked of
//! it:
//! - **Preempt delay** (keepalived's `preempt_delay`, with its meaning):
//!   a higher-priority backup lets a lower master be for this long after
//!   it first hears it, so that a host that comes back does not take the
//!   addresses before its services are up. The clock starts again when
//!   the router becomes a backup, or hears a master at least its equal.
//! - **A master that hears a lower one** advertises at once, as keepalived
//!   does by default, rather than waiting out its interval: after a
//!   partition heals, the lower master gives up within the network's
//!   delay.
//! - **A planned hand-over** ([`Event::Resign`]): the master advertises
//!   priority 0, which makes the backups take over after their skew time
//!   (RFC 5798 6.4.3), but, unlike keepalived, it goes on answering for
//!   the addresses until it hears the new master. A planned stop then
//!   loses no request to the gap.
//! - **One owner after a freeze**: a master that was stopped (SIGSTOP)
//!   and resumes advertises at once; if a higher one holds the segment it
//!   gives the addresses up the moment it hears it, and if it is itself
//!   the higher one the other gives them up, and it announces the
//!   addresses again ([`Action::Reannounce`]: it heard a lower master, or
//!   its own advert came three intervals late), since the neighbours
//!   followed the other meanwhile. The addresses live in this
//!   state machine, not on an interface, so none is left behind.
use crate::packet::Advert;
use crate::time::{Instant, CENTISECOND};
use core::net::IpAddr;

/// The priority of the addresses' owner (RFC 5798 6.1): it never waits.
pub const OWNER: u8 = 255;

/// A virtual router's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Virtual Rtr ID, 1 to 255.
    pub vrid: u8,
    /// 1 to 254 for a backup; 255 owns the addresses.
    pub priority: u8,
    /// Advertisement_Interval, in centiseconds (1 to 4095).
    pub interval: u16,
    /// Preempt_Mode: a higher-priority backup takes over from a lower
    /// master.
    pub preempt: bool,
    /// keepalived's `preempt_delay`: microseconds from the first lower
    /// master heard during which this router does not preempt it.
    pub preempt_delay: u64,
    /// The router's own address on the segment, the source of its
    /// advertisements: of two masters of one priority, the higher address
    /// stays (RFC 5798 6.4.3).
    pub primary: IpAddr,
    /// The virtual addresses, of the primary's family.
    pub addrs: Vec<IpAddr>,
}

/// RFC 5798 6.4's states, and one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Initialize,
    Backup,
    Master,
    /// A master handing over ([`Event::Resign`]): advertising priority 0,
    /// still answering, until another master is heard. If none comes
    /// within a Master_Down_Interval, there is no one to hand to, and it
    /// is Master again.
    Resigning,
}

/// What happens to the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Startup (RFC 5798 6.4.1).
    Startup,
    /// Shutdown: a master sends priority 0 and gives the addresses up at
    /// once, as the RFC says.
    Shutdown,
    /// A planned stop: hand over first (see [`State::Resigning`]).
    Resign,
    /// An ADVERTISEMENT for this VRID, from `from` (the IP source).
    Received { from: IpAddr, advert: Advert },
    /// The deadline [`Router::poll_at`] named has come.
    Timer,
    /// A new priority (a failing check lowers it). Its adverts carry it
    /// from now on; a higher backup then preempts, if it preempts.
    Priority(u8),
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this ADVERTISEMENT to the group, TTL 255, from the primary.
    Send(Advert),
    /// Start answering ARP and Neighbor Solicitations for the addresses,
    /// and announce them (gratuitous ARP, unsolicited Neighbor
    /// Advertisements).
    TakeOver,
    /// Stop answering for the addresses, now.
    Release,
    /// Announce the addresses again, as at a take-over: a master heard
    /// another (lower) one, which may have drawn the neighbours' caches to
    /// itself meanwhile (after a freeze or a partition). keepalived's
    /// `garp_lower_prio_repeat`.
    Reannounce,
    StateChange {
        from: State,
        to: State,
    },
    /// An advertisement for our VRID listing other addresses: a
    /// misconfiguration on the segment, for the log and a counter (RFC
    /// 5798 7.1 lets it be discarded or logged; it still takes part).
    Mismatch {
        from: IpAddr,
    },
}

#[derive(Debug, Clone)]
pub struct Router {
    config: Config,
    state: State,
    /// Master_Adver_Interval, in centiseconds: the master's, as heard.
    master_interval: u16,
    /// Adver_Timer (Master, Resigning) or Master_Down_Timer (Backup).
    timer: Option<Instant>,
    /// When this backup first heard the lower master it would preempt.
    lower_since: Option<Instant>,
    /// When a resigning router gives up even if no one took over.
    resign_until: Option<Instant>,
}

impl Router {
    pub fn new(config: Config) -> Router {
        Router {
            master_interval: config.interval,
            config,
            state: State::Initialize,
            timer: None,
            lower_since: None,
            resign_until: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether this router answers for the addresses now.
    pub fn owns(&self) -> bool {
        matches!(self.state, State::Master | State::Resigning)
    }

    /// The next deadline, when [`Event::Timer`] is due.
    pub fn poll_at(&self) -> Option<Instant> {
        self.timer.into_iter().chain(self.resign_until).min()
    }

    /// Skew_Time, in microseconds: `((256 - Priority) * Master_Adver_Interval) / 256`.
    pub fn skew_time(&self) -> u64 {
        (256 - u64::from(self.config.priority)) * u64::from(self.master_interval) * CENTISECOND
            / 256
    }

    /// Master_Down_Interval, in microseconds: `3 * Master_Adver_Interval + Skew_Time`.
    pub fn master_down_interval(&self) -> u64 {
        3 * u64::from(self.master_interval) * CENTISECOND + self.skew_time()
    }

    fn interval(&self) -> u64 {
        u64::from(self.config.interval) * CENTISECOND
    }

    fn advert(&self, priority: u8) -> Advert {
        Advert {
            vrid: self.config.vrid,
            priority,
            interval: self.config.interval,
            addrs: self.config.addrs.clone(),
        }
    }

    fn to(&mut self, to: State, out: &mut Vec<Action>) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        out.push(Action::StateChange { from, to });
        let (had, has) = (
            matches!(from, State::Master | State::Resigning),
            self.owns(),
        );
        if has && !had {
            out.push(Action::TakeOver);
        }
        if had && !has {
            out.push(Action::Release);
        }
        if to != State::Resigning {
            self.resign_until = None;
        }
        self.lower_since = None;
    }

    fn become_master(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::Send(self.advert(self.config.priority)));
        self.timer = Some(now + self.interval());
        self.to(State::Master, out);
    }

    fn become_backup(&mut self, now: Instant, master_interval: u16, out: &mut Vec<Action>) {
        self.master_interval = master_interval;
        self.timer = Some(now + self.master_down_interval());
        self.to(State::Backup, out);
    }

    pub fn handle(&mut self, now: Instant, ev: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match ev {
            Event::Startup if self.state == State::Initialize => {
                if self.config.priority == OWNER {
                    self.become_master(now, &mut out);
                } else {
                    self.become_backup(now, self.config.interval, &mut out);
                }
            }
            Event::Startup => {}
            Event::Shutdown => {
                if self.owns() {
                    out.push(Action::Send(self.advert(0)));
                }
                self.timer = None;
                self.to(State::Initialize, &mut out);
            }
            Event::Resign => match self.state {
                State::Master => {
                    out.push(Action::Send(self.advert(0)));
                    self.timer = Some(now + self.interval());
                    self.resign_until = Some(now + self.master_down_interval());
                    self.to(State::Resigning, &mut out);
                }
                State::Resigning => {}
                _ => {
                    self.timer = None;
                    self.to(State::Initialize, &mut out);
                }
            },
            Event::Priority(p) => self.config.priority = p.max(1),
            Event::Timer => self.timer_fired(now, &mut out),
            Event::Received { from, advert } => self.received(now, from, advert, &mut out),
        }
        out
    }

    fn timer_fired(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.resign_until.is_some_and(|r| now >= r) {
            // No one took over: there is no one to hand to, so answering
            // on is better than leaving the addresses dark. A caller that
            // stops still can ([`Event::Shutdown`]).
            self.resign_until = None;
            self.become_master(now, out);
            return;
        }
        let Some(due) = self.timer.filter(|t| now >= *t) else {
            return;
        };
        match self.state {
            // Master_Down_Timer: no master heard.
            State::Backup => self.become_master(now, out),
            // Adver_Timer.
            State::Master => {
                out.push(Action::Send(self.advert(self.config.priority)));
                // Silent for three intervals (frozen, or starved of CPU):
                // a backup may have taken over and drawn the neighbours.
                if now - due >= 3 * self.interval() {
                    out.push(Action::Reannounce);
                }
                self.timer = Some(now + self.interval());
            }
            State::Resigning => {
                out.push(Action::Send(self.advert(0)));
                self.timer = Some(now + self.interval());
            }
            State::Initialize => self.timer = None,
        }
    }

    /// Whether an advert from `from` with `priority` beats ours, by
    /// priority and then by the higher primary address (RFC 5798 6.4.3).
    fn beats(&self, from: IpAddr, priority: u8) -> bool {
        (priority, from) > (self.config.priority, self.config.primary)
    }

    /// Whether a preempting backup still lets a lower master be: within
    /// the preempt delay from when it first heard it.
    fn preempt_waits(&mut self, now: Instant) -> bool {
        let since = *self.lower_since.get_or_insert(now);
        now < since + self.config.preempt_delay
    }

    fn received(&mut self, now: Instant, from: IpAddr, ad: Advert, out: &mut Vec<Action>) {
        if ad.vrid != self.config.vrid || from == self.config.primary {
            return;
        }
        if ad.addrs != self.config.addrs {
            out.push(Action::Mismatch { from });
        }
        match self.state {
            State::Initialize => {}
            State::Backup => {
                if ad.priority == 0 {
                    // The master is leaving: take over after the skew
                    // time, the highest backup first.
                    self.timer = Some(now + self.skew_time());
                } else if ad.priority >= self.config.priority {
                    self.lower_since = None;
                    self.become_backup(now, ad.interval, out);
                } else if !self.config.preempt || self.preempt_waits(now) {
                    self.become_backup(now, ad.interval, out);
                }
                // Else: a lower master, which we preempt when our
                // Master_Down_Timer fires.
            }
            State::Master => {
                if ad.priority == 0 {
                    // Another master leaving: assert ourselves at once.
                    out.push(Action::Send(self.advert(self.config.priority)));
                    self.timer = Some(now + self.interval());
                } else if self.beats(from, ad.priority) {
                    self.become_backup(now, ad.interval, out);
                } else {
                    // A lower master: make it hear us now, and take the
                    // neighbours back from it.
                    out.push(Action::Send(self.advert(self.config.priority)));
                    out.push(Action::Reannounce);
                    self.timer = Some(now + self.interval());
                }
            }
            State::Resigning => {
                if ad.priority != 0 {
                    // Someone has taken over: hand the addresses to them.
                    self.timer = None;
                    self.to(State::Initialize, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new(Config {
            vrid: 7,
            priority: 100,
            interval: 10,
            preempt: true,
            preempt_delay: 0,
            primary: "198.51.100.1".parse().unwrap(),
            addrs: vec!["198.51.100.10".parse().unwrap()],
        })
    }

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    /// A master that resigns with no one to take over answers on, and is
    /// Master again after a Master_Down_Interval; one that hears a new
    /// master gives the addresses up.
    #[test]
    fn resigning_hands_over_or_keeps_answering() {
        let mut r = router();
        r.handle(at(0), Event::Startup);
        r.handle(at(400), Event::Timer);
        assert_eq!(r.state(), State::Master);
        let out = r.handle(at(500), Event::Resign);
        assert!(out.contains(&Action::Send(Advert {
            vrid: 7,
            priority: 0,
            interval: 10,
            addrs: r.config().addrs.clone(),
        })));
        assert!(r.owns());
        let mut t = at(500);
        for _ in 0..100 {
            if r.state() != State::Resigning {
                break;
            }
            t = r.poll_at().unwrap();
            let out = r.handle(t, Event::Timer);
            assert!(!out.contains(&Action::Release), "{out:?}");
        }
        assert_eq!(r.state(), State::Master);
        assert!(t >= at(500) + r.master_down_interval());

        let t = t.as_micros() / 1000;
        r.handle(at(t + 1), Event::Resign);
        let ad = Advert {
            vrid: 7,
            priority: 50,
            interval: 10,
            addrs: r.config().addrs.clone(),
        };
        let from = "198.51.100.2".parse().unwrap();
        let out = r.handle(at(t + 2), Event::Received { from, advert: ad });
        assert!(out.contains(&Action::Release));
        assert_eq!(r.state(), State::Initialize);
    }
}
