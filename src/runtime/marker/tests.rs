use super::*;
use std::os::unix::fs::symlink;

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("leafvip-marker-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn root() -> bool {
    euid() == 0
}

#[test]
fn a_marker_round_trips_and_nothing_else_parses() {
    let m = Marker {
        boot: 1_699_000_000_000,
        went: 1_700_000_000,
        pid: 42,
        down: vec![
            "192.0.2.7/32".parse().unwrap(),
            "2001:db8::7/128".parse().unwrap(),
        ],
    };
    assert_eq!(Marker::parse(&m.encode()), Some(m.clone()));
    // The old format (a bare time), a wrong header, a bad line.
    assert_eq!(Marker::parse("1700000000\n192.0.2.7/32\n"), None);
    assert_eq!(
        Marker::parse(&m.encode().replace("marker 1", "marker 2")),
        None
    );
    assert_eq!(
        Marker::parse(&format!("{}down nonsense\n", m.encode())),
        None
    );
    // Found by the fuzz target (when the boot was a text field): carriage
    // returns before the line's end read back without one.
    let cr = m
        .encode()
        .replace("boot 1699000000000", "boot 1699000000000\r\r");
    assert_eq!(Marker::parse(&cr), None);
    assert_eq!(
        Marker::parse(&m.encode().replace("boot 1699000000000", "boot ")),
        None
    );
    let boot = m.boot;
    assert!(m.fresh(boot, m.went + 10, 120));
    assert!(
        m.fresh(boot + 1500, m.went + 10, 120),
        "the clocks read apart"
    );
    assert!(
        !m.fresh(boot, m.went + 120, 120),
        "older than the restart time"
    );
    assert!(!m.fresh(boot + 60_000, m.went + 10, 120), "another boot");
    assert!(!m.fresh(boot, m.went - 1, 120), "from the future");
    assert!(!m.fresh(0, m.went, 120), "no boot to compare");
}

#[test]
fn a_marker_counts_once_and_only_within_the_restart_time() {
    let d = dir("once");
    let sock = d.join("leafvip.sock");
    assert_eq!(take(&sock), Ok(None), "no marker");
    let down: Vec<Prefix> = vec!["192.0.2.7/32".parse().unwrap()];
    write(&sock, down.clone()).unwrap();
    let mode = std::fs::metadata(path(&sock)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let m = take(&sock).unwrap().expect("ours");
    assert!(m.fresh(boot_began_ms(), now_secs(), 120));
    assert_eq!(m.down, down);
    assert_eq!(take(&sock), Ok(None), "used once");
    std::fs::remove_dir_all(&d).unwrap();
}

/// A symlink planted at the marker's name is replaced, not followed: the
/// file it points at keeps its content and mode.
#[test]
fn a_planted_symlink_is_never_written_through() {
    let d = dir("link");
    let sock = d.join("leafvip.sock");
    let victim = d.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    symlink(&victim, path(&sock)).unwrap();
    write(&sock, Vec::new()).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let meta = std::fs::symlink_metadata(path(&sock)).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the link was replaced by a file"
    );
    // And a link is never read through either.
    std::fs::remove_file(path(&sock)).unwrap();
    std::fs::write(
        &victim,
        Marker::parse(&format!(
            "{HEADER}\nboot {}\nwent {}\npid 1\n",
            boot_began_ms(),
            now_secs()
        ))
        .unwrap()
        .encode(),
    )
    .unwrap();
    symlink(&victim, path(&sock)).unwrap();
    assert!(matches!(take(&sock), Err(Refused::Foreign(_))));
    std::fs::remove_dir_all(&d).unwrap();
}

/// A marker planted by someone else, or left open to others, does not
/// set the Restart State bit.
#[test]
fn a_marker_we_did_not_write_is_not_believed() {
    let d = dir("forged");
    let sock = d.join("leafvip.sock");
    let forged = format!(
        "{HEADER}\nboot {}\nwent {}\npid 1\n",
        boot_began_ms(),
        now_secs()
    );
    std::fs::write(path(&sock), &forged).unwrap();
    std::fs::set_permissions(path(&sock), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(take(&sock), Err(Refused::Foreign("open to others")));
    if root() {
        std::fs::write(path(&sock), &forged).unwrap();
        std::fs::set_permissions(path(&sock), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(path(&sock), Some(65534), Some(65534)).unwrap();
        assert_eq!(take(&sock), Err(Refused::Foreign("another user's")));
    }
    std::fs::write(path(&sock), "1700000000\n").unwrap();
    std::fs::set_permissions(path(&sock), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(take(&sock), Err(Refused::Malformed));
    std::fs::remove_dir_all(&d).unwrap();
}

/// In a directory others can write, no marker is written or believed.
#[test]
fn a_world_writable_directory_holds_no_marker() {
    let d = dir("open");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let sock = d.join("leafvip.sock");
    assert!(matches!(
        directory_safe(&sock),
        Err(Refused::OpenDirectory(_))
    ));
    assert!(write(&sock, Vec::new()).is_err());
    assert!(!path(&sock).exists());
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    write(&sock, Vec::new()).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(matches!(take(&sock), Err(Refused::OpenDirectory(_))));
    std::fs::remove_dir_all(&d).unwrap();
}
