//! The attributes an originating speaker puts on its routes (RFC 4271 §5.1):
//! ORIGIN IGP; AS_PATH [local AS] to external peers and empty to internal
//! ones; LOCAL_PREF only to internal peers; the next hop exactly as given,
//! which is how a speaker announces other hosts (third-party next hops).
use super::RouteAttrs;
use crate::prelude::*;
use crate::wire::Family;
use crate::wire::{
    AsPath, AttrValue, Context, LargeCommunity, MpNextHop, MpReach, Nlri, Origin, PathAttribute,
    Prefix,
};
use core::net::{IpAddr, Ipv6Addr};

/// Who we are to this peer; fixed for the life of one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Originator {
    pub local_as: u32,
    pub ibgp: bool,
    pub ctx: Context,
}

/// Default LOCAL_PREF for internal peers (the RFC leaves it to us; 100 is
/// what every common implementation uses).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

impl Originator {
    /// Attributes other than the next hop carriers (NEXT_HOP, MP_REACH).
    pub(crate) fn common(&self, attrs: &RouteAttrs) -> Vec<PathAttribute> {
        let mut v = vec![PathAttribute::new(AttrValue::Origin(Origin::Igp))];
        let path = if self.ibgp {
            AsPath::default()
        } else {
            AsPath::sequence(vec![self.local_as])
        };
        let as4 = !self.ctx.four_octet_as && path.needs_four_octets();
        v.push(PathAttribute::new(AttrValue::AsPath(path.clone())));
        if let Some(med) = attrs.med {
            v.push(PathAttribute::new(AttrValue::Med(med)));
        }
        if self.ibgp {
            v.push(PathAttribute::new(AttrValue::LocalPref(
                attrs.local_pref.unwrap_or(DEFAULT_LOCAL_PREF),
            )));
        }
        if !attrs.communities.is_empty() {
            v.push(PathAttribute::new(AttrValue::Communities(
                attrs.communities.clone(),
            )));
        }
        if as4 {
            // RFC 6793 §4.2.2: a 2-octet peer gets AS_TRANS in AS_PATH and
            // the real path in AS4_PATH.
            v.push(PathAttribute::new(AttrValue::As4Path(path)));
        }
        if !attrs.large_communities.is_empty() {
            let lc: Vec<LargeCommunity> = attrs.large_communities.clone();
            v.push(PathAttribute::new(AttrValue::LargeCommunities(lc)));
        }
        v
    }

    /// The full attribute list for a group of routes sharing a next hop.
    /// `None` when the next hop cannot be expressed for the family.
    pub(crate) fn attributes(
        &self,
        family: Family,
        next_hop: IpAddr,
        link_local: Option<Ipv6Addr>,
        attrs: &RouteAttrs,
        nlri: Vec<Nlri>,
    ) -> Option<Vec<PathAttribute>> {
        let mut common = self.common(attrs);
        match (family, next_hop) {
            (Family::IPV4_UNICAST, IpAddr::V4(nh)) => {
                // NEXT_HOP goes after AS_PATH to keep type-code order.
                common.insert(2, PathAttribute::new(AttrValue::NextHop(nh)));
                Some(common)
            }
            (Family::IPV6_UNICAST, IpAddr::V6(global)) => {
                // RFC 7606 §5.1: MP_REACH_NLRI first, so a receiver can find
                // the NLRI even if a later attribute is broken.
                let mp = MpReach {
                    family,
                    next_hop: MpNextHop::V6 { global, link_local },
                    nlri,
                };
                common.insert(0, PathAttribute::new(AttrValue::MpReach(mp)));
                Some(common)
            }
            _ => None,
        }
    }
}

/// Whether `next_hop` can carry routes for `prefix` (no RFC 8950 yet).
pub fn next_hop_fits(prefix: &Prefix, next_hop: IpAddr) -> bool {
    matches!(
        (prefix, next_hop),
        (Prefix::V4 { .. }, IpAddr::V4(_)) | (Prefix::V6 { .. }, IpAddr::V6(_))
    )
}
