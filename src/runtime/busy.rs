//! How long the event loop spends on one event. Everything (sessions,
//! reload results, status, scrapes) shares one thread, so the longest
//! single stretch of work bounds how late a KEEPALIVE can be read or sent.
//! Each handler records its time here; `status` and `/metrics` show the
//! maximum since start, and a stretch long enough to threaten a short hold
//! timer is logged.
use std::cell::Cell;
use std::time::{Duration, Instant};
use tracing::warn;

/// A stretch this long is logged: a third of the shortest hold time (3 s)
/// would be 1 s; this leaves a wide margin.
const LOG_OVER: Duration = Duration::from_millis(250);

#[derive(Debug, Default)]
pub struct Busy {
    max: Cell<Duration>,
}

impl Busy {
    /// Records a stretch of work that started at `since` and ends now.
    pub fn record(&self, since: Instant, what: &str) {
        let d = since.elapsed();
        if d > self.max.get() {
            self.max.set(d);
        }
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
}
