//! The runtime's one clock: one origin, the daemon's start, read as the
//! BGP core's milliseconds and the BFD core's microseconds, as the
//! executor's `Instant` (the daemon core's `Now` and the timers), and the
//! wall clock (the core's `Now::wall`, Kubernetes status times). The
//! cores never read a clock; the runtime hands them this one. What the
//! runtime times for itself (how long a pass or a probe took: `busy.rs`,
//! the checks) uses `Instant` as a stopwatch, never as a time handed to a
//! decision.
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

    /// The executor's time, for `Now::at` and timers.
    pub fn instant(&self) -> std::time::Instant {
        std::time::Instant::now()
    }

    /// The wall clock, for what is shown as a date.
    pub fn wall(&self) -> std::time::SystemTime {
        std::time::SystemTime::now()
    }

    /// The BFD core's time: microseconds on the same origin.
    #[cfg(feature = "bfd")]
    pub fn micros(&self) -> leafvip_bfd::Instant {
        leafvip_bfd::Instant::from_micros(self.0.elapsed().as_micros() as u64)
    }

    /// The VRRP core's time: microseconds on the same origin.
    #[cfg(feature = "l2")]
    pub fn vrrp(&self) -> leafvip_vrrp::Instant {
        leafvip_vrrp::Instant::from_micros(self.0.elapsed().as_micros() as u64)
    }
}
