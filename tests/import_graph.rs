//! The files of `src/` import each other in one direction: no circle in
//! the graph of `crate::`, `super::` and `self::` paths between them
//! (ARCHITECTURE.md). A child file that extends its folder's type (`use
//! super::PeerTask` in `runtime/peer/`) points at its parent, which owns
//! it; that edge is not counted. Comments and `#[cfg(test)] mod tests`
//! are skipped: a test may reach anywhere.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `src/runtime/peer/mod.rs` → `runtime::peer`; `src/lib.rs` → `crate`.
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    match parts.as_slice() {
        [one] if one == "lib" => "crate".into(),
        _ => parts.join("::"),
    }
}

fn read_tree(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            read_tree(&p, root, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).unwrap();
            out.push((module_of(rel), std::fs::read_to_string(&p).unwrap()));
        }
    }
}

/// The source without comments and without its unit-test module.
fn code(src: &str) -> String {
    let src = src.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    src.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module a path names, as the longest prefix that is a file.
fn resolve(from: &str, path: &[&str], files: &BTreeSet<String>) -> Option<String> {
    let mut base: Vec<&str> = if from == "crate" {
        vec![]
    } else {
        from.split("::").collect()
    };
    let mut rest = path;
    match rest.first() {
        Some(&"crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some(&"self") => rest = &rest[1..],
        Some(&"super") => {
            while rest.first() == Some(&"super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    (1..=rest.len()).rev().find_map(|n| {
        let mut m = base.clone();
        m.extend_from_slice(&rest[..n]);
        let m = m.join("::");
        files.contains(&m).then_some(m)
    })
}

/// Each path that starts at `crate`, `self` or `super`, with the names of
/// a `{...}` group after it spelled out.
fn paths(code: &str) -> Vec<Vec<&str>> {
    let b = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !(ident(b[i - 1]) || b[i - 1] == b':');
        if !boundary || !ident(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (ident(b[i]) || b[i] == b':') {
            i += 1;
        }
        let run = &code[start..i];
        let segs: Vec<&str> = run.split("::").filter(|s| !s.is_empty()).collect();
        if !matches!(segs.first(), Some(&("crate" | "self" | "super"))) {
            continue;
        }
        if run.ends_with("::") && b.get(i) == Some(&b'{') {
            let end = code[i..].find('}').map_or(code.len(), |e| i + e);
            for item in code[i + 1..end].split(',') {
                let name = item.trim().split([':', ' ']).next().unwrap_or("");
                if !name.is_empty() && name != "self" {
                    let mut p = segs.clone();
                    p.push(name);
                    out.push(p);
                }
            }
            i = end;
        }
        out.push(segs);
    }
    out
}

fn graph(files: &[(String, String)]) -> Graph {
    let names: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut g = Graph::new();
    for (m, src) in files {
        let code = code(src);
        let edges = g.entry(m.clone()).or_default();
        for p in paths(&code) {
            if let Some(to) = resolve(m, &p, &names) {
                let ancestor = to == "crate" || m.starts_with(&format!("{to}::"));
                if to != *m && !ancestor {
                    edges.insert(to);
                }
            }
        }
    }
    g
}

/// A circle, if there is one: the files along it.
fn circle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut c = path[at..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(n, g, &mut Vec::new(), &mut done))
}

#[test]
fn no_file_of_src_imports_in_a_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_tree(&root, &root, &mut files);
    let g = graph(&files);
    // The graph is read at all: the daemon core imports the plan, the
    // runtime the core.
    assert!(g["daemon"].contains("plan"), "{:?}", g["daemon"]);
    assert!(g["runtime"].contains("daemon"), "{:?}", g["runtime"]);
    assert_eq!(circle(&g), None);
}

#[test]
fn a_circle_is_found_and_a_childs_use_of_its_parent_is_not_one() {
    let files = |a_src: &str| {
        vec![
            ("a".to_string(), a_src.to_string()),
            ("b".to_string(), "use crate::a::X;\n".to_string()),
            (
                "b::c".to_string(),
                "use super::Y;\nuse crate::{b, a};\n".to_string(),
            ),
        ]
    };
    let g = graph(&files("// crate::b::Z in a comment\n"));
    assert_eq!(circle(&g), None, "{g:?}");
    assert!(g["b::c"].contains("a"));
    let g = graph(&files("use super::b::{Z, W};\n"));
    assert_eq!(
        circle(&g),
        Some(vec!["a".to_string(), "b".to_string(), "a".to_string()])
    );
}
