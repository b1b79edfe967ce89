//! The runtime's clock for the cores: one origin, the daemon's start, read
//! as the BGP core's milliseconds and the BFD core's microseconds, and
//! turned back into the executor's `Instant` for its timers. The cores
//! never read a clock; the runtime hands them this one.
use leafvip_bgp::Instant;
use std::time::Duration;

#[derive(Clone, Copy)]
pub struct Clock(pub std::time::Instant);

impl Clock {
    /// The BGP core's time: milliseconds since the daemon started.
    pub fn now(&self) -> Instant {
        Instant::from_millis(self.0.elapsed().as_millis() as u64)
    }

    /// When the executor's timers should fire for a core's deadline.
    pub fn at(&self, t: Instant) -> std::time::Instant {
        self.0 + Duration::from_millis(t.as_millis())
    }

    /// The BFD core's time: microseconds on the same origin.
    #[cfg(feature = "bfd")]
    pub fn micros(&self) -> leafvip_bfd::Instant {
        leafvip_bfd::Instant::from_micros(self.0.elapsed().as_micros() as u64)
    }
}
