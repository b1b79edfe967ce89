//! Layer-2 mode (feature `l2`): where there is no router, one host
//! answers ARP and Neighbor Solicitations for each VIP, elected by VRRPv3
//! (`leafvip-vrrp`) among the hosts that carry it. All pure: the frames
//! (`frames.rs`), the host's interfaces as the checks read them
//! (`links.rs`, read by getifaddrs), and the speaker (`speaker.rs`). The
//! sockets and the thread are `runtime/l2/`.
pub mod frames;
pub mod links;
pub mod speaker;
