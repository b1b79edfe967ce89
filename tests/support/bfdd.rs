//! FRR's bfdd on its own in a lab namespace: no zebra (it logs a harmless
//! "interface doesn't exist"), every peer configured explicitly, asked
//! through vtysh on a vty socket in the lab's directory.
use super::{sh_ok, Lab};
use std::path::PathBuf;

pub struct Bfdd {
    pub ns: String,
    pub vty: PathBuf,
    pub proc: usize,
}

/// One `peer ADDRESS local-address LOCAL` block with these lines in it.
pub fn peer_block(peer: &str, local: &str, lines: &str) -> String {
    format!(" peer {peer} local-address {local}\n{lines} !\n")
}

impl Bfdd {
    pub fn start(lab: &mut Lab, ns: &str, name: &str, peers: &[String]) -> Bfdd {
        let conf = lab.write(
            &format!("{name}.conf"),
            &format!("bfd\n{}!\n", peers.concat()),
        );
        let vty = lab.path(&format!("{name}-vty"));
        std::fs::create_dir_all(&vty).unwrap();
        // bfdd drops to the frr user, which must write its pid file,
        // control socket and vty socket here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&vty, std::fs::Permissions::from_mode(0o777)).unwrap();
        let (pid, ctl) = (vty.join("bfdd.pid"), vty.join("bfdd.sock"));
        let proc = lab.spawn(
            ns,
            &[
                "/usr/lib/frr/bfdd",
                "-f",
                conf.to_str().unwrap(),
                "-i",
                pid.to_str().unwrap(),
                "--vty_socket",
                vty.to_str().unwrap(),
                "-P",
                "0",
                "--bfdctl",
                ctl.to_str().unwrap(),
                "--log",
                "stdout",
            ],
            name,
            &[],
        );
        let b = Bfdd {
            ns: ns.to_string(),
            vty,
            proc,
        };
        super::wait_for(
            std::time::Duration::from_secs(10),
            "bfdd to start",
            || b.cmd(&["show bfd peers brief"]),
            || lab.log(name),
        );
        b
    }

    pub fn cmd(&self, cmds: &[&str]) -> Option<String> {
        let args: String = cmds.iter().map(|c| format!(" -c '{c}'")).collect();
        sh_ok(&format!(
            "ip netns exec {} vtysh --vty_socket {}{args}",
            self.ns,
            self.vty.display()
        ))
    }

    /// `show bfd peer PEER json`.
    pub fn peer(&self, peer: &str) -> serde_json::Value {
        self.cmd(&[&format!("show bfd peer {peer} json")])
            .and_then(|o| serde_json::from_str(&o).ok())
            .unwrap_or_default()
    }

    pub fn status(&self, peer: &str) -> String {
        self.peer(peer)
            .get("status")
            .and_then(|s| s.as_str())
            .unwrap_or("")
            .to_string()
    }

    /// Session up events so far: a flap adds one.
    pub fn up_events(&self, peer: &str) -> u64 {
        self.cmd(&[&format!("show bfd peer {peer} counters json")])
            .and_then(|o| serde_json::from_str::<serde_json::Value>(&o).ok())
            .and_then(|j| j.get("session-up").and_then(|v| v.as_u64()))
            .unwrap_or(0)
    }

    /// Sets lines under one peer at runtime.
    pub fn configure(&self, peer: &str, local: &str, lines: &[&str]) {
        let p = format!("peer {peer} local-address {local}");
        let mut c = vec!["configure terminal", "bfd", &p];
        c.extend_from_slice(lines);
        self.cmd(&c).expect("vtysh configure");
    }
}
