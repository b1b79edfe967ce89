//! leafvip: announce service VIPs over BGP with this host as next hop.
//!
//! The protocol lives in the sans-io crate `leafvip-bgp`. This crate adds
//! what a host needs around it: configuration and labels ([`config`],
//! [`labels`]), the pure decision of what to announce to whom ([`plan`]),
//! the daemon's decisions as a pure core ([`daemon`]: inputs and time in,
//! effects out), and the thin async runtime at the edge ([`runtime`]).
pub mod bfd_config;
#[cfg(feature = "bfd")]
pub mod bfd_status;
pub mod communities;
pub mod config;
pub mod daemon;
pub mod files;
pub mod global;
pub mod hosts;
pub mod keys;
pub mod kube_config;
#[cfg(feature = "l2")]
pub mod l2;
pub mod labels;
pub mod lb;
pub mod logging;
pub mod openelb;
pub mod plan;
pub mod quote;
pub mod runtime;
pub mod status;
pub mod throttle;
pub mod toml_read;
pub mod vip_check;
pub mod vip_list;
pub mod vip_scope;
pub mod vips_file;
