//! ADD-PATH path identifiers (RFC 7911) that depend only on the next hop.
//!
//! Deriving the id from the next hop, rather than numbering paths as they
//! arrive, means a restarted speaker re-announces every path under the id
//! it had before (the peer sees an implicit replace, not a withdraw plus an
//! add), and two speakers of an HA pair that announce the same host send
//! identical paths, so the leaf sees clean ECMP instead of duplicates.
use crate::prelude::*;
use core::net::IpAddr;

/// IPv4: the address itself, unique by construction. IPv6: 32-bit FNV-1a
/// of the address; the rare clash inside one prefix is settled by
/// [`assign`].
pub fn base_id(next_hop: IpAddr) -> u32 {
    match next_hop {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(a) => {
            let mut h: u32 = 0x811c_9dc5;
            for b in a.octets() {
                h ^= u32::from(b);
                h = h.wrapping_mul(0x0100_0193);
            }
            h
        }
    }
}

/// Ids for the next hops of one prefix, in the order given (the caller
/// passes them sorted, so the outcome is deterministic). A clash takes the
/// next free id.
pub fn assign(next_hops: &[IpAddr]) -> Vec<u32> {
    let mut ids: Vec<u32> = Vec::with_capacity(next_hops.len());
    for nh in next_hops {
        let mut id = base_id(*nh);
        while ids.contains(&id) {
            id = id.wrapping_add(1);
        }
        ids.push(id);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_ids_are_the_address() {
        assert_eq!(base_id("198.51.100.4".parse().unwrap()), 0xc633_6404);
    }

    #[test]
    fn ids_are_stable_and_unique() {
        let hops: Vec<IpAddr> = (1..=200u16)
            .map(|i| IpAddr::V6(core::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i)))
            .collect();
        let a = assign(&hops);
        assert_eq!(a, assign(&hops), "deterministic");
        let mut s = a.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), hops.len(), "unique within a prefix");
        // The id of a next hop does not depend on which others are present
        // (barring hash clashes).
        assert_eq!(assign(&hops[5..6])[0], a[5]);
    }

    #[test]
    fn clashes_probe_forward() {
        let nh: IpAddr = "2001:db8::1".parse().unwrap();
        let ids = assign(&[nh, nh]);
        assert_eq!(ids[1], ids[0].wrapping_add(1));
    }
}
