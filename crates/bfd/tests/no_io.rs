//! The BFD core stays pure, as the BGP core: its manifest lists no
//! dependency, and its source names no socket, clock, file, thread or
//! async runtime.
#[test]
fn the_bfd_core_does_no_io() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let manifest = include_str!("../Cargo.toml");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|s| s.split('[').next())
        .unwrap_or("");
    assert!(
        deps.lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')),
        "leafvip-bfd has dependencies: {deps}"
    );
    let banned = [
        "std::net",
        "std::time",
        "std::fs",
        "std::thread",
        "std::process",
        "tokio",
        "async_io",
        ".await",
    ];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if let Some(w) = banned.iter().find(|w| code.contains(*w)) {
                panic!("{}:{}: {w}", path.display(), n + 1);
            }
        }
    }
}
