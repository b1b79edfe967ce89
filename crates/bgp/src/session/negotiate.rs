//! OPEN validation (RFC 4271 §6.2, RFC 6286, RFC 6793) and the capability
//! intersection that decides how the session encodes and what it may send.
use super::SessionConfig;
use crate::prelude::*;
use crate::wire::{
    error_code, AddPathEntry, AddPathMode, Capability, Context, Family, FamilySet, GrFamily,
    GracefulRestart, Notification, Open, AS_TRANS,
};
use core::net::Ipv4Addr;
use core::time::Duration;

/// Everything both ends agreed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub peer_as: u32,
    pub peer_id: Ipv4Addr,
    pub ibgp: bool,
    /// 0 means no keepalives and no hold timer.
    pub hold_time: u16,
    pub keepalive: Option<Duration>,
    pub families: FamilySet,
    pub four_octet_as: bool,
    /// Families where we may send several paths per prefix.
    pub add_path_send: FamilySet,
    /// Families where the peer sends us path identifiers.
    pub add_path_receive: FamilySet,
    pub extended_messages: bool,
    pub route_refresh: bool,
    /// The peer's Graceful Restart capability, if it sent one.
    pub peer_graceful_restart: Option<GracefulRestart>,
}

impl Negotiated {
    pub fn send_context(&self) -> Context {
        Context {
            four_octet_as: self.four_octet_as,
            add_path: self.add_path_send,
            extended_messages: self.extended_messages,
        }
    }

    pub fn receive_context(&self) -> Context {
        Context {
            four_octet_as: self.four_octet_as,
            add_path: self.add_path_receive,
            extended_messages: self.extended_messages,
        }
    }
}

/// The OPEN we send for `cfg`.
pub fn local_open(cfg: &SessionConfig) -> Open {
    let mut caps: Vec<Capability> = cfg.families.iter().map(Capability::Multiprotocol).collect();
    caps.push(Capability::RouteRefresh);
    caps.push(Capability::FourOctetAs(cfg.local_as));
    let add_path: Vec<AddPathEntry> = cfg
        .families
        .iter()
        .filter(|f| cfg.add_path_send.contains(*f))
        .map(|family| AddPathEntry {
            family,
            mode: AddPathMode::SEND,
        })
        .collect();
    if !add_path.is_empty() {
        caps.push(Capability::AddPath(add_path));
    }
    if let Some(gr) = &cfg.graceful_restart {
        let forwarding = if gr.forwarding {
            GracefulRestart::FORWARDING
        } else {
            0
        };
        caps.push(Capability::GracefulRestart(GracefulRestart {
            flags: if gr.restarting {
                GracefulRestart::RESTART_STATE
            } else {
                0
            },
            restart_time: gr.restart_time.min(4095),
            families: cfg
                .families
                .iter()
                .map(|family| GrFamily {
                    family,
                    flags: forwarding,
                })
                .collect(),
        }));
    }
    if cfg.extended_messages {
        caps.push(Capability::ExtendedMessage);
    }
    Open::new(cfg.local_as, cfg.hold_time, cfg.bgp_id, caps)
}

/// Why an OPEN was refused, as the NOTIFICATION to send.
fn open_error(subcode: u8, data: Vec<u8>) -> Notification {
    Notification::new(error_code::OPEN, subcode, data)
}

/// Validates the peer's OPEN against our configuration and computes the
/// negotiated session, or the NOTIFICATION that refuses it.
pub fn negotiate(
    cfg: &SessionConfig,
    local: &Open,
    remote: &Open,
) -> Result<Negotiated, Notification> {
    let peer_as = remote.asn();
    if peer_as == 0 || (cfg.remote_as != 0 && peer_as != cfg.remote_as) {
        return Err(open_error(2, remote.my_as.to_be_bytes().to_vec()));
    }
    if remote.hold_time == 1 || remote.hold_time == 2 {
        return Err(open_error(6, remote.hold_time.to_be_bytes().to_vec()));
    }
    let ibgp = peer_as == cfg.local_as;
    // RFC 6286 §2.2: zero is never valid; equal IDs only clash inside one AS.
    if remote.bgp_id.is_unspecified() || (ibgp && remote.bgp_id == cfg.bgp_id) {
        return Err(open_error(3, remote.bgp_id.octets().to_vec()));
    }
    // A 4-octet AS capability must agree with My AS (RFC 6793 §4.1).
    let has_as4 = remote
        .capabilities()
        .any(|c| matches!(c, Capability::FourOctetAs(_)));
    if has_as4
        && peer_as <= 0xffff
        && remote.my_as != AS_TRANS
        && u32::from(remote.my_as) != peer_as
    {
        return Err(open_error(2, remote.my_as.to_be_bytes().to_vec()));
    }

    let families_of = |open: &Open| -> FamilySet {
        let mut set = FamilySet::EMPTY;
        let mut any = false;
        for c in open.capabilities() {
            if let Capability::Multiprotocol(f) = c {
                any = true;
                set.insert(*f);
            }
        }
        // RFC 4760 §8: without the capability, IPv4 unicast is implied.
        if any {
            set
        } else {
            FamilySet::IPV4
        }
    };
    let families = families_of(local).intersect(families_of(remote));
    let add_path_of = |open: &Open, want: fn(AddPathMode) -> bool| -> FamilySet {
        open.capabilities()
            .filter_map(|c| match c {
                Capability::AddPath(e) => Some(e),
                _ => None,
            })
            .flatten()
            .filter(|e| want(e.mode))
            .map(|e| e.family)
            .collect()
    };
    let add_path_send = add_path_of(local, AddPathMode::send)
        .intersect(add_path_of(remote, AddPathMode::receive))
        .intersect(families);
    let add_path_receive = add_path_of(local, AddPathMode::receive)
        .intersect(add_path_of(remote, AddPathMode::send))
        .intersect(families);
    let both = |code: u8| {
        local.capabilities().any(|c| c.code() == code)
            && remote.capabilities().any(|c| c.code() == code)
    };
    let hold_time = cfg.hold_time.min(remote.hold_time);
    let keepalive = (hold_time != 0).then(|| {
        let third = Duration::from_secs(u64::from(hold_time)) / 3;
        cfg.keepalive
            .map_or(third, |k| k.min(third))
            .max(Duration::from_secs(1))
    });
    Ok(Negotiated {
        peer_as,
        peer_id: remote.bgp_id,
        ibgp,
        hold_time,
        keepalive,
        families,
        four_octet_as: both(crate::wire::cap_code::FOUR_OCTET_AS),
        add_path_send,
        add_path_receive,
        extended_messages: both(crate::wire::cap_code::EXTENDED_MESSAGE),
        route_refresh: both(crate::wire::cap_code::ROUTE_REFRESH),
        peer_graceful_restart: remote.capabilities().find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some(gr.clone()),
            _ => None,
        }),
    })
}

/// Whether the peer offers to receive several paths for `family`; used to
/// warn loudly when ADD-PATH was wanted but refused.
pub fn peer_accepts_add_path(remote: &Open, family: Family) -> bool {
    remote.capabilities().any(|c| match c {
        Capability::AddPath(e) => e.iter().any(|e| e.family == family && e.mode.receive()),
        _ => false,
    })
}
