//! Network-namespace labs for interop tests: namespaces, veth links, and
//! processes, all removed on drop (processes by PID), even when a test
//! fails. Addresses come only from the documentation ranges.
#![allow(dead_code)]
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub mod bfdd;
pub mod bird;
pub mod cluster;
pub mod fabric;
pub mod frr;
pub mod gobgp;
pub mod l2;
pub mod nspawn;

static LABS: AtomicUsize = AtomicUsize::new(0);

/// Whether root-only tests can run here. With LEAFVIP_REQUIRE_ROOT_TESTS=1
/// (as in CI) a missing requirement fails the test instead of skipping it.
pub fn can_run(bins: &[&str]) -> bool {
    let required = std::env::var("LEAFVIP_REQUIRE_ROOT_TESTS").is_ok_and(|v| v == "1");
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root".to_string());
    }
    for b in bins.iter().chain(&["ip", "tcpdump"]) {
        if !Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            missing.push(format!("the {b} binary"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("this test needs {}", missing.join(", "));
    assert!(!required, "{msg} (LEAFVIP_REQUIRE_ROOT_TESTS=1)");
    eprintln!("SKIPPED: {msg}");
    false
}

/// (HTTP status, body) of `method url` from curl run inside `ns`, with a
/// `secs` time limit; status 0 when curl got no answer.
pub fn curl(ns: &str, method: &str, url: &str, secs: u32) -> (u16, String) {
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-s", "-X", method, "-m"])
        .arg(secs.to_string())
        .args(["-w", "\n%{http_code}", url])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().expect("sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn sh_ok(cmd: &str) -> Option<String> {
    let out = Command::new("sh").args(["-c", cmd]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls `f` until it returns Some, or panics after `timeout` with `what`
/// and the last thing `observe` saw.
pub fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
    observe: impl Fn() -> String,
) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > end {
            panic!(
                "timed out after {timeout:?} waiting for {what}; last seen:\n{}",
                observe()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub struct Proc {
    pub name: String,
    pub child: Child,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }

    /// SIGTERM, a second one 200 ms later (leafvip drains on the first
    /// and stops at once on the second), then SIGKILL after 5 s; returns
    /// the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(s)) = self.child.try_wait() {
            return Some(s);
        }
        self.signal(nix::sys::signal::Signal::SIGCONT);
        self.signal(nix::sys::signal::Signal::SIGTERM);
        for _ in 0..10 {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.child.wait().ok()
    }
}

pub struct Lab {
    pub id: String,
    pub dir: PathBuf,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
}

impl Lab {
    /// `tag` keeps namespaces of different tests apart; the PID and a
    /// counter keep parallel runs apart.
    pub fn new(tag: &str) -> Lab {
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let id = format!("lvt{}{}-{tag}", std::process::id() % 100_000, n);
        let dir = std::env::temp_dir().join(&id);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Lab {
            id,
            dir,
            namespaces: Vec::new(),
            procs: Vec::new(),
        }
    }

    /// Creates namespace `name` (prefixed) with lo up; returns its full name.
    pub fn ns(&mut self, name: &str) -> String {
        let full = format!("{}-{name}", self.id);
        sh(&format!("ip netns add {full}"));
        self.namespaces.push(full.clone());
        sh(&format!("ip -n {full} link set lo up"));
        // Routers forward; ECMP hashing spreads flows (see issue 4's note).
        let _ = sh_ok(&format!(
            "ip netns exec {full} sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1"
        ));
        full
    }

    /// A veth between two namespaces, created inside them so that names
    /// never clash in the root namespace; addresses in CIDR form.
    pub fn link(
        &mut self,
        a: &str,
        a_if: &str,
        a_addrs: &[&str],
        b: &str,
        b_if: &str,
        b_addrs: &[&str],
    ) {
        sh(&format!(
            "ip link add {a_if} netns {a} type veth peer name {b_if} netns {b}"
        ));
        for (ns, dev, addrs) in [(a, a_if, a_addrs), (b, b_if, b_addrs)] {
            for addr in addrs {
                let nodad = if addr.contains(':') { " nodad" } else { "" };
                sh(&format!("ip -n {ns} addr add {addr} dev {dev}{nodad}"));
            }
            sh(&format!("ip -n {ns} link set dev {dev} up"));
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, text).unwrap();
        p
    }

    /// Starts `args` inside `ns` (in this namespace when `ns` is empty),
    /// output to `<log>.log`; returns its index.
    pub fn spawn(&mut self, ns: &str, args: &[&str], log: &str, envs: &[(&str, &str)]) -> usize {
        let out = fs::File::create(self.path(&format!("{log}.log"))).unwrap();
        let mut cmd = match ns {
            "" => Command::new(args[0]),
            _ => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, args[0]]);
                c
            }
        };
        cmd.args(&args[1..])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
        self.procs.push(Proc {
            name: log.to_string(),
            child,
        });
        self.procs.len() - 1
    }

    pub fn proc(&mut self, i: usize) -> &mut Proc {
        &mut self.procs[i]
    }

    /// The PID of process `i`.
    pub fn procs_pid(&self, i: usize) -> i32 {
        self.procs[i].pid()
    }

    /// The index of the newest process whose log name starts with `name`.
    pub fn last_index(&self, name: &str) -> usize {
        self.procs
            .iter()
            .rposition(|p| p.name.starts_with(name))
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default()
    }

    /// Starts leafvip in `ns` with this config; returns the process index.
    pub fn leafvip(&mut self, ns: &str, name: &str, config: &str) -> usize {
        self.leafvip_at(ns, name, name, config)
    }

    /// The same, logging as `name` but with the control socket of `sock`:
    /// a restarted process finds its predecessor's marker there.
    pub fn leafvip_at(&mut self, ns: &str, name: &str, sock: &str, config: &str) -> usize {
        let cfg = self.write(&format!("{name}.toml"), config);
        let sock = self.path(&format!("{sock}.sock"));
        let bin = env!("CARGO_BIN_EXE_leafvip");
        self.spawn(
            ns,
            &[
                bin,
                "run",
                "-c",
                cfg.to_str().unwrap(),
                "--socket",
                sock.to_str().unwrap(),
            ],
            name,
            &[("RUST_LOG", "debug")],
        )
    }

    /// `leafvip VERB` (drain, undrain, restart) against the daemon whose
    /// socket is `name`'s; what it printed.
    pub fn ctl(&self, name: &str, verb: &str) -> String {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_leafvip"))
            .args([verb, "-s"])
            .arg(self.path(&format!("{name}.sock")))
            .output()
            .expect("leafvip");
        assert!(
            o.status.success(),
            "leafvip {verb}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `leafvip status --json` of the daemon started as `name`.
    pub fn status_json(&self, name: &str) -> serde_json::Value {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_leafvip"))
            .args(["status", "--json", "-s"])
            .arg(self.path(&format!("{name}.sock")))
            .output()
            .expect("leafvip status");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).expect("status JSON")
    }

    /// Starts tcpdump in `ns` on `dev`; the capture is `<name>.pcap`.
    pub fn capture(&mut self, ns: &str, dev: &str, name: &str, filter: &str) -> (usize, PathBuf) {
        let pcap = self.path(&format!("{name}.pcap"));
        let i = self.spawn(
            ns,
            &[
                "tcpdump",
                "-Z",
                "root",
                "-i",
                dev,
                "-n",
                "-U",
                "-w",
                pcap.to_str().unwrap(),
                filter,
            ],
            name,
            &[],
        );
        std::thread::sleep(Duration::from_millis(500));
        (i, pcap)
    }
}

pub fn pcap_count(pcap: &Path, filter: &str) -> usize {
    sh(&format!(
        "tcpdump -n -r {} '{filter}' 2>/dev/null | wc -l",
        pcap.display()
    ))
    .trim()
    .parse()
    .unwrap()
}

impl Drop for Lab {
    fn drop(&mut self) {
        for p in self.procs.iter_mut().rev() {
            p.stop();
        }
        for ns in self.namespaces.drain(..).rev() {
            let _ = sh_ok(&format!("ip netns del {ns}"));
        }
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("lab files kept in {}", self.dir.display());
        }
    }
}

impl Proc {
    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// The rack every test starts from: a leaf (198.51.100.1, 2001:db8:100::1)
/// and a host (198.51.100.3, 2001:db8:100::3) on one link.
pub fn rack(lab: &mut Lab) -> (String, String) {
    let leaf = lab.ns("leaf");
    let host = lab.ns("host");
    lab.link(
        &leaf,
        "eth0",
        &["198.51.100.1/24", "2001:db8:100::1/64"],
        &host,
        "eth0",
        &["198.51.100.3/24", "2001:db8:100::3/64"],
    );
    (leaf, host)
}

/// A second router (203.0.113.1) on the host's eth1 (203.0.113.3).
pub fn other_router(lab: &mut Lab, host: &str) -> String {
    let other = lab.ns("other");
    lab.link(
        &other,
        "eth0",
        &["203.0.113.1/24"],
        host,
        "eth1",
        &["203.0.113.3/24"],
    );
    other
}
