//! What the benchmarks share: the session they pretend was negotiated.
use leafvip_bgp::session::Negotiated;
use leafvip_bgp::wire::FamilySet;
use std::net::Ipv4Addr;
use std::time::Duration;

/// An eBGP session with both families, with or without Extended Messages
/// and ADD-PATH.
pub fn negotiated(ext: bool, add_path: FamilySet) -> Negotiated {
    Negotiated {
        peer_as: 65001,
        peer_id: Ipv4Addr::new(203, 0, 113, 1),
        ibgp: false,
        hold_time: 90,
        keepalive: Some(Duration::from_secs(30)),
        families: FamilySet::BOTH,
        four_octet_as: true,
        add_path_send: add_path,
        add_path_receive: add_path,
        extended_messages: ext,
        route_refresh: true,
        peer_graceful_restart: None,
    }
}
