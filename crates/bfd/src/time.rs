//! Time as the BFD core sees it: a monotonic microsecond count handed in
//! by the caller, as BFD's own intervals are microseconds (RFC 5880 4.1).
//! The core never reads a clock, so tests can build any schedule.
use core::ops::{Add, Sub};

/// A point on the caller's monotonic clock, in microseconds since an
/// arbitrary origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub const fn from_micros(us: u64) -> Self {
        Instant(us)
    }

    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms.saturating_mul(1000))
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }
}

/// Adds microseconds, saturating.
impl Add<u64> for Instant {
    type Output = Instant;
    fn add(self, us: u64) -> Instant {
        Instant(self.0.saturating_add(us))
    }
}

/// Microseconds between two instants, zero if `rhs` is later.
impl Sub<Instant> for Instant {
    type Output = u64;
    fn sub(self, rhs: Instant) -> u64 {
        self.0.saturating_sub(rhs.0)
    }
}
