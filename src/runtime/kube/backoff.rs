//! The cluster thread's one retry pause, for every watch and every write
//! to the API server: 250 ms after a failure, doubling up to 4 s, and back
//! to 250 ms after a success. kube's own default backoff reaches 30 s;
//! ours keeps an API server that is back from an outage seen within
//! seconds, and 4 s between tries is little load for it. Pure (the caller
//! sleeps), so it is tested without a clock.
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff(Duration);

impl Backoff {
    pub const MIN: Duration = Duration::from_millis(250);
    pub const MAX: Duration = Duration::from_secs(4);

    pub const fn new() -> Backoff {
        Backoff(Backoff::MIN)
    }

    /// After a failure: the pause to take now; the next one is twice as
    /// long, up to [`Backoff::MAX`].
    pub fn failed(&mut self) -> Duration {
        let now = self.0;
        self.0 = (now * 2).min(Backoff::MAX);
        now
    }

    /// After a success: the next failure pauses [`Backoff::MIN`] again.
    pub fn succeeded(&mut self) {
        self.0 = Backoff::MIN;
    }

    /// The cluster thread's sleep after a failed call, or the reset
    /// after a good one.
    pub async fn after(&mut self, failed: bool) {
        if failed {
            tokio::time::sleep(self.failed()).await;
        } else {
            self.succeeded();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_four_seconds_and_starts_over_after_a_success() {
        let mut b = Backoff::new();
        let ms: Vec<u128> = (0..7).map(|_| b.failed().as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 4000, 4000]);
        b.succeeded();
        assert_eq!(b.failed(), Duration::from_millis(250));
        assert_eq!(b.failed(), Duration::from_millis(500));
    }
}
