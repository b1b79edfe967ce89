//! Session timers as plain deadlines, and the reconnect backoff.
use crate::Instant;
use core::time::Duration;

/// RFC 4271 §8: the deadlines a session may have running. `None` = stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timers {
    /// ConnectRetryTimer: abandon a connection attempt that hangs.
    pub connect_retry: Option<Instant>,
    /// HoldTimer: the peer must have sent something by then.
    pub hold: Option<Instant>,
    /// KeepaliveTimer: we must send something by then.
    pub keepalive: Option<Instant>,
    /// IdleHoldTimer (§8.1.1, DampPeerOscillations): when Idle, wait this
    /// long before the automatic restart. It carries the backoff.
    pub idle_hold: Option<Instant>,
}

impl Timers {
    pub fn next(&self) -> Option<Instant> {
        [
            self.connect_retry,
            self.hold,
            self.keepalive,
            self.idle_hold,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn clear(&mut self) {
        *self = Timers::default();
    }
}

/// Exponential backoff with the RFC 4271 §10 jitter (×0.75..1.0). The
/// random source is a seeded splitmix64, so runs are reproducible and no
/// OS randomness is needed; the runtime seeds it from the peer address and
/// process start so that hosts of a rack do not reconnect in lock-step.
#[derive(Clone, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    attempts: u32,
    rng: u64,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration, seed: u64) -> Self {
        Backoff {
            base,
            max: max.max(base),
            attempts: 0,
            rng: seed,
        }
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The delay before the next attempt; each call doubles the next one.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.attempts.min(16)).unwrap_or(u32::MAX);
        let raw = self.base.saturating_mul(factor).min(self.max);
        self.attempts = self.attempts.saturating_add(1);
        // 750..=1000 per mille.
        let jitter = 750 + (self.random() % 251) as u32;
        raw * jitter / 1000
    }

    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30), 42);
        let mut last_cap = Duration::ZERO;
        for i in 0..10u32 {
            let d = b.next_delay();
            let cap = Duration::from_secs(1u64 << i).min(Duration::from_secs(30));
            assert!(
                d <= cap && d >= cap * 3 / 4,
                "attempt {i}: {d:?} vs {cap:?}"
            );
            last_cap = cap;
        }
        assert_eq!(last_cap, Duration::from_secs(30));
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn different_seeds_spread() {
        let a = Backoff::new(Duration::from_secs(10), Duration::from_secs(10), 1).next_delay();
        let b = Backoff::new(Duration::from_secs(10), Duration::from_secs(10), 2).next_delay();
        assert_ne!(a, b);
    }
}
