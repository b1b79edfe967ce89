//! The VRRP core stays pure, as the BGP and BFD cores: no dependency in
//! its manifest, and no socket, clock, file, thread or async runtime named
//! in its source. Addresses come from `core::net`, which does no I/O.
#[test]
fn the_vrrp_core_does_no_io() {
    let manifest = include_str!("../Cargo.toml");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|s| s.split('[').next())
        .unwrap_or("");
    let listed: Vec<&str> = deps
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(
        listed.is_empty(),
        "leafvip-vrrp has dependencies: {listed:?}"
    );
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let banned = [
        "std::net",
        "std::time",
        "std::fs",
        "std::thread",
        "std::process",
        "tokio",
        "smol",
        "async_io",
        ".await",
    ];
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        for (n, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let hit = banned.iter().find(|w| code.contains(*w));
            assert!(hit.is_none(), "{}:{}: {hit:?}", path.display(), n + 1);
        }
    }
}
