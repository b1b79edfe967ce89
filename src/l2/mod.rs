//! Layer-2 mode (feature `l2`): where there is no router, one host
//! answers ARP and Neighbor Solicitations for each VIP. In progress: the
//! frames (`frames.rs`) are read and built here, the election is
//! `leafvip-vrrp`; the daemon does not run either yet.
pub mod frames;
pub mod links;
pub mod speaker;
