//! Layer-2 mode in `leafvip status`: each VIP's election, and the frames
//! counted. Plain data (filled by the runtime from the speaker), so the
//! table is tested without a daemon.
use serde::Serialize;
use std::fmt::Write;
use std::net::IpAddr;

/// One layer-2 VIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct L2Vip {
    #[serde(serialize_with = "super::as_text")]
    pub vip: IpAddr,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    /// RFC 5798's state: initialize, backup, master, or ours, resigning.
    pub state: &'static str,
    /// Who answers for it: this host's address when master, else the
    /// master last heard; none when no one is known.
    #[serde(serialize_with = "super::opt_text")]
    pub owner: Option<IpAddr>,
    pub transitions: u64,
    /// Adverts for this VRID listing other addresses.
    pub foreign: u64,
    /// The Service whose address it is (cluster mode).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// The owner's node (cluster mode), when known (`crate::lb::owners`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// The frames counted on every layer-2 interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct L2Packets {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub malformed_vrrp: u64,
    pub malformed_arp: u64,
    pub malformed_ndp: u64,
    pub arp_answered: u64,
    pub ndp_answered: u64,
}

/// The section of the table.
pub fn text(o: &mut String, vips: &[L2Vip], p: &L2Packets, error: Option<&str>) {
    let _ = writeln!(
        o,
        "\n{:<28} {:<10} {:>4} {:>4}  {:<10} {:<26} {:>5}",
        "Layer-2 VIP", "Interface", "VRID", "Prio", "State", "Owner", "Trans"
    );
    for v in vips {
        let owner = v.owner.map_or("-".to_string(), |o| o.to_string());
        let _ = writeln!(
            o,
            "{:<28} {:<10} {:>4} {:>4}  {:<10} {:<26} {:>5}",
            v.vip, v.interface, v.vrid, v.priority, v.state, owner, v.transitions
        );
        match (v.service.as_str(), &v.node) {
            ("", _) => {}
            (s, Some(n)) => {
                let _ = writeln!(o, "    Service {s}, answered by node {n}");
            }
            (s, None) => {
                let _ = writeln!(o, "    Service {s}");
            }
        }
        if v.foreign > 0 {
            let _ = writeln!(
                o,
                "    FOREIGN: {} adverts for VRID {} list other addresses",
                v.foreign, v.vrid
            );
        }
    }
    let _ = writeln!(
        o,
        "layer 2: adverts {} sent, {} received; answered {} ARP, {} NDP; malformed VRRP {}, ARP {}, NDP {}",
        p.adverts_sent,
        p.adverts_received,
        p.arp_answered,
        p.ndp_answered,
        p.malformed_vrrp,
        p.malformed_arp,
        p.malformed_ndp
    );
    if let Some(e) = error {
        let _ = writeln!(o, "layer 2 ERROR: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_state_owner_and_foreign_routers() {
        let v = L2Vip {
            vip: "198.51.100.10".parse().unwrap(),
            interface: "eth0".into(),
            vrid: 10,
            priority: 150,
            state: "master",
            owner: Some("198.51.100.1".parse().unwrap()),
            transitions: 2,
            foreign: 3,
            service: "default/web".into(),
            node: Some("h2".into()),
        };
        let mut o = String::new();
        text(
            &mut o,
            std::slice::from_ref(&v),
            &L2Packets::default(),
            None,
        );
        assert!(o.contains("198.51.100.10"), "{o}");
        assert!(o.contains("master"), "{o}");
        assert!(o.contains("FOREIGN: 3 adverts"), "{o}");
        assert!(
            o.contains("    Service default/web, answered by node h2\n"),
            "{o}"
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["owner"], "198.51.100.1");
        assert_eq!(json["vip"], "198.51.100.10");
        assert_eq!(json["node"], "h2");
    }
}
