//! Which node owns a layer-2 Service address, for `leafvip status` on
//! every node, not only on the owner (feature `l2`).
//!
//! A node hears the owner only as the VRRP master: by its address on the
//! segment, which for IPv4 is usually a Node's InternalIP, but for IPv6
//! is a link-local address that no Node object lists. The master's
//! advertised priority names it too: agents take part with
//! [`super::layer2::priority`], a hash of their node's name and the
//! address, so the one eligible node with that priority is the owner.
//! When two share it, or the priority is not a hash one (a draining node
//! advertises 1), the owner stays unnamed rather than guessed.
//!
//! Pure: the cluster thread builds the directory from the Nodes it
//! watches (every Node while any Eip is layer2), the speaker asks it.
use super::announce::NodeInfo;
use super::layer2::priority as hash_priority;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The nodes that may own a layer-2 address, with their InternalIPs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners {
    /// This node: what the owner is named when it is us.
    pub me: String,
    by_ip: BTreeMap<IpAddr, String>,
    /// Ready Nodes not excluded from load balancers, sorted.
    names: Vec<String>,
}

impl Owners {
    /// The directory from the Nodes as watched (`nodes`, by name).
    pub fn new(me: &str, nodes: &BTreeMap<String, NodeInfo>) -> Owners {
        let eligible = || {
            nodes
                .iter()
                .filter(|(_, n)| n.state.ready && !n.state.excluded)
        };
        let mut by_ip = BTreeMap::new();
        for (name, n) in eligible() {
            let ips = [n.v4.map(IpAddr::V4), n.v6.map(IpAddr::V6)];
            for ip in ips.into_iter().flatten() {
                by_ip.insert(ip, name.clone());
            }
        }
        Owners {
            me: me.to_string(),
            by_ip,
            names: eligible().map(|(name, _)| name.clone()).collect(),
        }
    }

    /// The node whose VRRP master for `vip` advertises from `master` with
    /// `priority`: by its address, else by its priority when one eligible
    /// node alone has it; None when neither says.
    pub fn name(&self, vip: IpAddr, master: IpAddr, priority: u8) -> Option<&str> {
        if let Some(n) = self.by_ip.get(&master) {
            return Some(n);
        }
        if !(50..=249).contains(&priority) {
            return None;
        }
        let mut with = self
            .names
            .iter()
            .filter(|n| hash_priority(n, vip) == priority);
        let first = with.next()?;
        with.next().is_none().then_some(first.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::announce::NodeState;

    fn node(v4: &str, ready: bool) -> NodeInfo {
        NodeInfo {
            state: NodeState {
                ready,
                excluded: false,
            },
            v4: Some(v4.parse().unwrap()),
            ..Default::default()
        }
    }

    /// An IPv4 master is named by its InternalIP; an IPv6 one (link-local)
    /// by its priority, when that is one node's alone; a shared or a
    /// non-hash priority names no one, and a node not Ready is no owner.
    #[test]
    fn the_owner_is_named_by_address_or_by_its_own_priority() {
        let nodes: BTreeMap<String, NodeInfo> = [
            ("n1".to_string(), node("192.0.2.1", true)),
            ("n2".to_string(), node("192.0.2.2", true)),
            ("n3".to_string(), node("192.0.2.3", false)),
        ]
        .into();
        let o = Owners::new("n1", &nodes);
        let v4: IpAddr = "198.51.100.10".parse().unwrap();
        let v6: IpAddr = "2001:db8:2::10".parse().unwrap();
        let ll: IpAddr = "fe80::2".parse().unwrap();
        assert_eq!(o.name(v4, "192.0.2.2".parse().unwrap(), 1), Some("n2"));
        assert_eq!(o.name(v4, "192.0.2.3".parse().unwrap(), 100), None);
        let p2 = hash_priority("n2", v6);
        assert_ne!(p2, hash_priority("n1", v6), "pick another address");
        assert_eq!(o.name(v6, ll, p2), Some("n2"));
        assert_eq!(o.name(v6, ll, 1), None);
        // n3 is not Ready: its priority names no one.
        let p3 = hash_priority("n3", v6);
        if p3 != p2 && p3 != hash_priority("n1", v6) {
            assert_eq!(o.name(v6, ll, p3), None);
        }
        // Two nodes with one priority: unnamed, not guessed.
        let twin = (0..10_000)
            .map(|i| format!("m{i}"))
            .find(|m| hash_priority(m, v6) == p2)
            .unwrap();
        let mut more = nodes.clone();
        more.insert(twin, node("192.0.2.9", true));
        assert_eq!(Owners::new("n1", &more).name(v6, ll, p2), None);
    }
}
