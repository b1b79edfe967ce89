//! How long the event loop spends on one event. Everything (sessions,
//! reload results, status, scrapes) shares one thread, so the longest
//! single stretch of work bounds how late a KEEPALIVE can be read or sent.
//! Each handler records its time here; `status` and `/metrics` show the
//! maximum since start and the maximum over the last minute (a stall now,
//! not only the one at start-up), and a stretch long enough to threaten a
//! short hold timer is logged.
use std::cell::Cell;
use std::time::{Duration, Instant};
use tracing::warn;

/// A stretch this long is logged: a third of the shortest hold time (3 s)
/// would be 1 s; this leaves a wide margin.
const LOG_OVER: Duration = Duration::from_millis(250);

/// The recent window: [`SLOTS`] slots of [`SLOT`] each.
const SLOT: Duration = Duration::from_secs(10);
const SLOTS: usize = 6;

#[derive(Debug)]
pub struct Busy {
    origin: Instant,
    max: Cell<Duration>,
    /// Per slot: which 10 s period since `origin` it holds, and the longest
    /// stretch in it.
    recent: Cell<[(u64, Duration); SLOTS]>,
}

impl Default for Busy {
    fn default() -> Busy {
        Busy {
            origin: Instant::now(),
            max: Cell::default(),
            recent: Cell::new([(u64::MAX, Duration::ZERO); SLOTS]),
        }
    }
}

impl Busy {
    fn period(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.origin).as_secs()) / SLOT.as_secs()
    }

    /// Records a stretch of work that started at `since` and ends now.
    pub fn record(&self, since: Instant, what: &str) {
        self.record_at(since, Instant::now(), what)
    }

    fn record_at(&self, since: Instant, now: Instant, what: &str) {
        let d = now.saturating_duration_since(since);
        if d > self.max.get() {
            self.max.set(d);
        }
        let p = self.period(now);
        let mut r = self.recent.get();
        let slot = &mut r[(p % SLOTS as u64) as usize];
        if slot.0 != p {
            *slot = (p, Duration::ZERO);
        }
        slot.1 = slot.1.max(d);
        self.recent.set(r);
        if d > LOG_OVER {
            warn!(
                ms = d.as_millis() as u64,
                "the event loop was busy with {what}"
            );
        }
    }

    /// Runs `f` and records how long it took.
    pub fn time<T>(&self, what: &str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.record(t, what);
        r
    }

    pub fn max(&self) -> Duration {
        self.max.get()
    }

    /// The longest stretch over about the last minute.
    pub fn recent(&self) -> Duration {
        self.recent_at(Instant::now())
    }

    fn recent_at(&self, now: Instant) -> Duration {
        let p = self.period(now);
        self.recent
            .get()
            .iter()
            .filter(|(q, _)| *q <= p && p - *q < SLOTS as u64)
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recent_maximum_forgets_after_a_minute_and_the_maximum_never() {
        let b = Busy::default();
        let t0 = b.origin;
        let ms = Duration::from_millis;
        b.record_at(t0, t0 + ms(300), "start-up");
        b.record_at(t0 + ms(20_000), t0 + ms(20_040), "a peer");
        assert_eq!((b.max(), b.recent_at(t0 + ms(30_000))), (ms(300), ms(300)));
        // 60 s on, the start-up stretch has left the window, the later one
        // not yet.
        assert_eq!(b.recent_at(t0 + ms(60_000)), ms(40));
        assert_eq!(b.recent_at(t0 + ms(80_000)), ms(0));
        b.record_at(t0 + ms(90_000), t0 + ms(90_010), "a peer");
        assert_eq!((b.max(), b.recent_at(t0 + ms(95_000))), (ms(300), ms(10)));
    }
}
