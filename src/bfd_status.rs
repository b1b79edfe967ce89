//! A peer's BFD session as `leafvip status` and the metrics show it. In
//! every build, so that the status format does not depend on features;
//! only a `bfd` build fills it.
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BfdStatus {
    /// "down", "init", "up" or "admin-down".
    pub state: &'static str,
    pub remote_state: &'static str,
    /// Why the session last left Up, or why it is not Up (RFC 5880 4.1).
    pub diag: &'static str,
    pub state_secs: u64,
    pub local_discriminator: u32,
    pub remote_discriminator: u32,
    /// Our transmit interval in force, before jitter, and the time the
    /// peer is given before it is declared down: microseconds.
    pub tx_interval_us: u32,
    pub detect_time_us: u64,
    /// The BGP session waits for BFD to come Up.
    pub holding_bgp: bool,
    pub ups: u64,
    pub downs: u64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub discarded: u64,
    /// The send socket could not be made (the session cannot come Up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl BfdStatus {
    /// The line under the peer in `leafvip status`.
    pub fn line(&self, o: &mut String) {
        let ms = |us: u64| us as f64 / 1000.0;
        let _ = write!(
            o,
            "    bfd:                {} (remote {}), tx {} ms, detect {} ms",
            self.state,
            self.remote_state,
            ms(u64::from(self.tx_interval_us)),
            ms(self.detect_time_us),
        );
        if self.diag != "none" {
            let _ = write!(o, ", diag {}", self.diag);
        }
        if self.holding_bgp {
            o.push_str(", BGP waits for it");
        }
        if let Some(e) = &self.error {
            let _ = write!(o, ", error: {e}");
        }
        o.push('\n');
    }
}
