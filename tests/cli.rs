//! The command line: `leafvip check` validates and explains, and fails with
//! the file, line and problem.
use std::process::Command;

fn leafvip(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_leafvip"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("leafvip-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn check_prints_the_plan() {
    let labels = write("labels", "rack=leaf2\n");
    let cfg = write(
        "good.toml",
        &format!(
            "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n[node]\nname = \"worker2\"\nlabels_file = \"{labels}\"\n\
             [[peer]]\naddress = \"203.0.113.1\"\nasn = 65002\nlocal_address = \"203.0.113.9\"\nnode_selector = {{ match_labels = {{ rack = \"leaf2\" }} }}\n\
             [[peer]]\naddress = \"198.51.100.1\"\nasn = 65001\nnode_selector = {{ match_labels = {{ rack = \"leaf1\" }} }}\n\
             [[vip]]\nprefix = \"192.0.2.200/32\"\n"
        ),
    );
    let (code, out, err) = leafvip(&["check", "-c", &cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("node worker2\nlabels rack=leaf2\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "peer 203.0.113.1 AS65002: selected\n  vip 192.0.2.200/32 next hop 203.0.113.9\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "peer 198.51.100.1 AS65001: not selected: match_labels rack=leaf1: node has rack=leaf2"
        ),
        "{out}"
    );
}

/// Output into a pipe that closes early (`| head -1`) ends quietly: no
/// panic on the broken pipe, whatever the plan's length.
#[test]
fn check_into_a_closed_pipe_does_not_panic() {
    // More than a pipe holds (64 KiB), so writes go on after head exits.
    let vips: String = (0..5000)
        .map(|i| format!("2001:db8:1::{i:x}/128\n"))
        .collect();
    let list = write("pipe-vips", &vips);
    let cfg = write(
        "pipe.toml",
        &format!(
            "vips_file = \"{list}\"\n[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n\
             [[peer]]\naddress = \"2001:db8:100::1\"\nasn = 65001\n"
        ),
    );
    let o = std::process::Command::new("sh")
        .args([
            "-c",
            "\"$0\" check -c \"$1\" | head -1; exit ${PIPESTATUS:-0}",
        ])
        .arg(env!("CARGO_BIN_EXE_leafvip"))
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
}

/// Prefixes that can never be a service address are refused by `check`
/// with their line, inline and in a `vips_file`.
#[test]
fn check_refuses_nonsense_vips_naming_their_line() {
    for (i, (p, why)) in [
        ("0.0.0.0/0", "a default route"),
        ("::/0", "a default route"),
        ("224.0.0.1/32", "a multicast address"),
        ("ff02::1/128", "a multicast address"),
        ("127.0.0.1/32", "a loopback address"),
        ("::1/128", "a loopback address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("0.0.0.0/32", "the unspecified address"),
        ("169.254.0.1/32", "a link-local address"),
        ("fe80::1/128", "a link-local address"),
    ]
    .into_iter()
    .enumerate()
    {
        let cfg = write(
            &format!("scope{i}.toml"),
            &format!("[bgp]\nasn = 65100\n\n[[vip]]\nprefix = \"192.0.2.1/32\"\n[[vip]]\nprefix = \"{p}\"\n"),
        );
        let (code, _, err) = leafvip(&["check", "-c", &cfg]);
        assert_eq!(code, 1, "{p}: {err}");
        assert!(
            err.contains(&format!("{cfg}:6:")) && err.contains(why),
            "{p}: {err}"
        );
        let list = write(
            &format!("scope{i}-vips"),
            &format!("192.0.2.1/32\n# a comment\n{p}\n"),
        );
        let cfg = write(
            &format!("scope{i}-file.toml"),
            &format!("vips_file = \"{list}\"\n[bgp]\nasn = 65100\n"),
        );
        let (code, _, err) = leafvip(&["check", "-c", &cfg]);
        assert_eq!(code, 1, "{p}: {err}");
        assert!(
            err.contains(&format!("{list}:3:")) && err.contains(why),
            "{p}: {err}"
        );
    }
}

#[test]
fn check_fails_naming_file_line_and_problem() {
    let cfg = write(
        "bad.toml",
        "[bgp]\nasn = 65100\n\n[[vip]]\nprefix = \"192.0.2.1/24\"\n",
    );
    let (code, _, err) = leafvip(&["check", "-c", &cfg]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("{cfg}:5:")) && err.contains("host bits set"),
        "{err}"
    );
    let labels = write("bad-labels", "rack=leaf1\nnot a label\n");
    let cfg = write(
        "labels.toml",
        &format!("[bgp]\nasn = 65100\n[node]\nlabels_file = \"{labels}\"\n"),
    );
    let (code, _, err) = leafvip(&["check", "-c", &cfg]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("{labels}:2: expected KEY=VALUE")),
        "{err}"
    );
    let (code, _, err) = leafvip(&["check", "-c", "/nonexistent/leafvip.toml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("/nonexistent/leafvip.toml: cannot read"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2_with_help() {
    let (code, _, err) = leafvip(&["bogus"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown command \"bogus\"") && err.contains("Usage: leafvip"),
        "{err}"
    );
    let (code, out, _) = leafvip(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out, format!("leafvip {}\n", env!("CARGO_PKG_VERSION")));
}

/// A daemon that fails at once (its listen address is not on this host),
/// started with `extra` arguments and environment; returns its stderr.
fn failing_run(extra: &[&str], env: &[(&str, &str)], stderr_file: &str) -> String {
    let cfg = write(
        "unbindable.toml",
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\nlisten = \"192.0.2.1:179\"\n",
    );
    let err = std::fs::File::create(stderr_file).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_leafvip"))
        .args(["run", "-c", &cfg, "-s", ""])
        .args(extra)
        .envs(env.iter().copied())
        .stderr(err)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    std::fs::read_to_string(stderr_file).unwrap()
}

#[test]
fn logs_are_text_json_or_the_journal() {
    let path = write("stderr-text", "");
    let text = failing_run(&[], &[], &path);
    assert!(
        text.contains("ERROR") && text.contains("listen on 192.0.2.1:179"),
        "{text}"
    );

    let path = write("stderr-json", "");
    let json = failing_run(&["--log-format", "json"], &[], &path);
    let line: serde_json::Value = serde_json::from_str(json.lines().next().unwrap())
        .unwrap_or_else(|e| panic!("not a JSON line ({e}): {json}"));
    assert_eq!(line["level"], "ERROR");
    assert!(line["message"]
        .as_str()
        .unwrap()
        .contains("listen on 192.0.2.1:179"));
    assert!(line["timestamp"].is_string());

    // systemd names the journal stream by device and inode; only a stderr
    // that is that stream counts.
    use std::os::unix::fs::MetadataExt;
    let path = write("stderr-journal", "");
    let m = std::fs::metadata(&path).unwrap();
    let stream = format!("{}:{}", m.dev(), m.ino());
    let out = failing_run(&[], &[("JOURNAL_STREAM", &stream)], &path);
    if std::path::Path::new("/run/systemd/journal/socket").exists() {
        assert!(
            !out.contains("listen on"),
            "went to stderr, not the journal: {out}"
        );
    } else {
        assert!(out.contains("journal unavailable"), "{out}");
        assert!(out.contains("listen on 192.0.2.1:179"), "{out}");
    }
    let path = write("stderr-other", "");
    let out = failing_run(&[], &[("JOURNAL_STREAM", "1:2")], &path);
    assert!(
        !out.contains("journal unavailable") && out.contains("ERROR"),
        "{out}"
    );
}

#[test]
fn the_control_socket_never_replaces_a_file_that_is_not_a_socket() {
    let cfg = write(
        "sock.toml",
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n",
    );
    let victim = write("not-a-socket", "precious\n");
    let (code, _, err) = leafvip(&["run", "-c", &cfg, "-s", &victim]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("exists and is not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn a_stale_socket_is_replaced_and_a_live_one_is_not() {
    let cfg = write(
        "live.toml",
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n",
    );
    let sock = write("live.sock", "");
    std::fs::remove_file(&sock).unwrap();
    // A socket left behind by a daemon that died: nobody listens on it.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let mut first = Command::new(env!("CARGO_BIN_EXE_leafvip"))
        .args(["run", "-c", &cfg, "-s", &sock])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        leafvip(&["status", "-s", &sock]).0 == 0
    });
    let (code, _, err) = leafvip(&["run", "-c", &cfg, "-s", &sock]);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(up, "the first daemon did not take over the stale socket");
    assert_eq!(code, 1);
    assert!(
        err.contains("another leafvip is serving this socket"),
        "{err}"
    );
}
