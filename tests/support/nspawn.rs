//! A Debian container booted with systemd-nspawn in a lab namespace, with
//! leafvip's .deb installed, so that a test can act on the packaged unit
//! under a real systemd (`systemctl restart`, `dpkg -i` over itself).
//! The Debian root is the one `tests/nspawn.sh` debootstraps and caches
//! ($LEAFVIP_NSPAWN_ROOT, default /var/tmp/leafvip-nspawn-root); each
//! container runs on a copy of it in the lab's directory.
use super::{sh, sh_ok, wait_for, Lab};
use std::path::Path;
use std::time::Duration;

pub struct Container {
    /// PID 1 of the container, as the host sees it.
    pub leader: i32,
    pub proc: usize,
}

/// The cached root, or why there is none.
pub fn root() -> Result<String, String> {
    let root = std::env::var("LEAFVIP_NSPAWN_ROOT")
        .unwrap_or_else(|_| "/var/tmp/leafvip-nspawn-root".into());
    match Path::new(&root).join("usr/sbin/adduser").exists() {
        true => Ok(root),
        false => Err(format!(
            "no Debian root in {root}: tests/nspawn.sh debootstraps it (test.sh runs it first)"
        )),
    }
}

impl Container {
    /// Boots a copy of `root` in namespace `ns` and installs `deb`.
    pub fn boot(lab: &mut Lab, ns: &str, name: &str, root: &str, deb: &Path) -> Container {
        let dir = lab.path(&format!("{name}-root"));
        sh(&format!("cp -a {root}/. {}/", dir.display()));
        std::fs::copy(deb, dir.join("leafvip.deb")).unwrap();
        let machine = format!("{}{name}", lab.id);
        let proc = lab.spawn(
            "",
            &[
                "systemd-nspawn",
                "-q",
                "--register=no",
                "--keep-unit",
                "-D",
                dir.to_str().unwrap(),
                &format!("--machine={machine}"),
                &format!("--network-namespace-path=/run/netns/{ns}"),
                "--boot",
            ],
            name,
            &[],
        );
        let pid = lab.proc(proc).pid();
        let leader = wait_for(
            Duration::from_secs(60),
            "the container to boot",
            || {
                let l: i32 = sh_ok(&format!("pgrep -P {pid}"))?
                    .lines()
                    .next()?
                    .trim()
                    .parse()
                    .ok()?;
                Path::new(&format!("/proc/{l}/root/run/systemd/private"))
                    .exists()
                    .then_some(l)
            },
            || lab.log(name),
        );
        let c = Container { leader, proc };
        wait_for(
            Duration::from_secs(60),
            "systemd running in the container",
            || {
                let s = c.inside("systemctl is-system-running").unwrap_or_default();
                matches!(s.trim(), "running" | "degraded").then_some(())
            },
            || lab.log(name),
        );
        c.inside("dpkg -i /leafvip.deb")
            .expect("dpkg -i leafvip.deb");
        c
    }

    /// Runs `cmd` (a shell line) inside; its output, None when it fails.
    pub fn inside(&self, cmd: &str) -> Option<String> {
        sh_ok(&format!("nsenter -t {} -a sh -c '{cmd}'", self.leader))
    }

    /// Writes a file inside.
    pub fn write(&self, path: &str, text: &str) {
        std::fs::write(format!("/proc/{}/root{path}", self.leader), text).unwrap();
    }
}
