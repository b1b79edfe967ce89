//! The core stays pure: no runtime, no sockets, no clock, no files, no
//! threads, and no dependencies that could bring them in.
use std::fs;
use std::path::Path;

const FORBIDDEN: &[&str] = &[
    "smol",
    "async_io",
    "async-io",
    "tokio",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "std::time::Instant",
    "SystemTime",
    "std::fs",
    "std::thread",
    "std::process",
    "std::env",
    "async fn",
    ".await",
    "unsafe ",
];

fn scan(dir: &Path, hits: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, hits);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in FORBIDDEN {
                    if code.contains(word) {
                        hits.push(format!("{}:{}: {word}", path.display(), i + 1));
                    }
                }
            }
        }
    }
}

#[test]
fn core_sources_do_no_io() {
    let mut hits = Vec::new();
    scan(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut hits,
    );
    assert!(
        hits.is_empty(),
        "I/O or runtime in the sans-io core:\n{}",
        hits.join("\n")
    );
}

#[test]
fn core_has_no_dependencies() {
    let manifest =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap();
    let declared: Vec<&str> = deps
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(
        declared.is_empty(),
        "the core must not depend on anything: {declared:?}"
    );
}
