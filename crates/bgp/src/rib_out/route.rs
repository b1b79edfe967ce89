//! What an Adj-RIB-Out holds: the paths we want a peer to have, with the
//! attributes the configuration controls, and a path as the peer holds it.
use crate::prelude::*;
use crate::wire::{LargeCommunity, Prefix};
use alloc::sync::Arc;
use core::net::{IpAddr, Ipv6Addr};

/// Per-route attributes that the configuration controls.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteAttrs {
    pub med: Option<u32>,
    /// Sent to internal peers only; default [`super::DEFAULT_LOCAL_PREF`].
    pub local_pref: Option<u32>,
    pub communities: Vec<u32>,
    pub large_communities: Vec<LargeCommunity>,
    /// IPv6 link-local next hop sent beside the global one (RFC 2545).
    pub link_local: Option<Ipv6Addr>,
}

/// One path we want the peer to have.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub prefix: Prefix,
    pub next_hop: IpAddr,
    pub attrs: Arc<RouteAttrs>,
}

/// A path as the peer holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentPath {
    pub next_hop: IpAddr,
    pub attrs: Arc<RouteAttrs>,
}
