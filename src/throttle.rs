//! Rate-limited logging for events a peer or a flood can repeat at will
//! (refused connections, accept errors, malformed UPDATEs): the first is
//! logged, then at most one line per period that says how many were not.
use std::time::{Duration, Instant};

/// One line per this long, at most, for each throttled event kind.
pub const PERIOD: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct Throttle {
    last: Option<Instant>,
    held: u64,
}

impl Throttle {
    /// One for a `static`.
    pub const fn new() -> Throttle {
        Throttle {
            last: None,
            held: 0,
        }
    }

    /// Counts an event. `Some(n)` means log it now, with `n` more events
    /// since the last line that were not logged.
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.duration_since(t) < PERIOD => {
                self.held += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_the_first_then_one_line_per_period_with_the_count() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(t.hit(t0), Some(0));
        for i in 1..1000 {
            assert_eq!(t.hit(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(t.hit(t0 + PERIOD), Some(999));
        assert_eq!(t.hit(t0 + PERIOD), None);
        assert_eq!(t.hit(t0 + PERIOD * 3), Some(1));
    }
}
