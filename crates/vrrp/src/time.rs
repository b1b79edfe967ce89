//! Time as the VRRP core sees it: a monotonic count of microseconds since
//! an origin the caller picks. VRRPv3 counts its intervals in
//! centiseconds, and the skew time is a fraction of one, so microseconds
//! keep every deadline exact. The core never reads a clock.
use core::ops::{Add, Sub};

/// A point on the caller's monotonic clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

/// Microseconds in one centisecond, VRRPv3's unit for intervals.
pub const CENTISECOND: u64 = 10_000;

impl Instant {
    pub const fn from_micros(us: u64) -> Self {
        Instant(us)
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }
}

impl Add<u64> for Instant {
    type Output = Instant;
    /// Later by `us` microseconds, saturating at the end of time.
    fn add(self, us: u64) -> Instant {
        Instant(self.0.saturating_add(us))
    }
}

impl Sub<Instant> for Instant {
    type Output = u64;
    /// The microseconds from `rhs` to `self`; zero when `rhs` is later.
    fn sub(self, rhs: Instant) -> u64 {
        self.0.saturating_sub(rhs.0)
    }
}
