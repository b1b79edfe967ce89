//! The protocol details a watcher depends on, checked over raw HTTP:
//! paging, watch from a version, bookmarks, 410 after compaction, the
//! stream's end at timeoutSeconds, status updates with preconditions, and
//! the faults tests inject.
use kube_test_server::Server;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn request(s: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    // A server that is down closes at once: the write may fail.
    let _ = write!(
        c,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/merge-patch+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

fn json_of(raw: &str) -> Value {
    serde_json::from_str(raw.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

/// The events of a watch until it ends, as (type, name or code).
fn watch(s: &Server, query: &str) -> Vec<(String, String)> {
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "GET /api/v1/nodes?watch=true&{query} HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(c);
    let mut out = Vec::new();
    for line in r.by_ref().lines().map_while(Result::ok) {
        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&line) {
            let o = &v["object"];
            let what = o["metadata"]["name"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| o["code"].to_string());
            out.push((v["type"].as_str().unwrap().to_string(), what));
        }
    }
    out
}

fn node(name: &str, rack: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"rack": rack}}})
}

#[test]
fn lists_page_and_carry_the_resource_version() {
    let s = Server::start();
    for i in 0..5 {
        s.put(node(&format!("n{i}"), "leaf1"));
    }
    let (code, raw) = request(&s, "GET", "/api/v1/nodes?limit=2", None);
    assert_eq!(code, 200);
    let page = json_of(&raw);
    assert_eq!(page["metadata"]["resourceVersion"], "5");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["metadata"]["remainingItemCount"], 3);
    let next = page["metadata"]["continue"].as_str().unwrap();
    let rest = json_of(&request(&s, "GET", &format!("/api/v1/nodes?continue={next}"), None).1);
    assert_eq!(rest["items"].as_array().unwrap().len(), 3);
    assert!(rest["metadata"].get("continue").is_none());
}

#[test]
fn watches_resume_bookmark_expire_and_time_out() {
    let s = Server::start();
    s.put(node("a", "leaf1"));
    s.put(node("b", "leaf2"));
    s.put(node("a", "leaf2"));
    // From version 1: what came after, filtered by the selector; the
    // stream ends at timeoutSeconds.
    let ev = watch(
        &s,
        "resourceVersion=1&labelSelector=rack%3Dleaf2&timeoutSeconds=1",
    );
    assert_eq!(
        ev,
        [("ADDED".into(), "b".into()), ("ADDED".into(), "a".into())]
    );
    // Bookmarks when asked.
    let ev = watch(
        &s,
        "resourceVersion=3&allowWatchBookmarks=true&timeoutSeconds=2",
    );
    assert!(ev.iter().any(|(t, _)| t == "BOOKMARK"), "{ev:?}");
    // Compacted history: 410.
    s.compact();
    let ev = watch(&s, "resourceVersion=1&timeoutSeconds=1");
    assert_eq!(ev, [("ERROR".into(), "410".into())]);
}

#[test]
fn status_updates_check_preconditions() {
    let s = Server::start();
    s.put(
        json!({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "BgpPeer",
                 "metadata": {"name": "leaf1"}, "spec": {"conf": {"peerAs": 65001}}}),
    );
    let path = "/apis/network.kubesphere.io/v1alpha2/bgppeers/leaf1/status";
    let cur = json_of(
        &request(
            &s,
            "GET",
            "/apis/network.kubesphere.io/v1alpha1/bgppeers/leaf1",
            None,
        )
        .1,
    );
    assert_eq!(
        cur["apiVersion"], "network.kubesphere.io/v1alpha1",
        "served as v1alpha1 too"
    );
    let rv = cur["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let mut up = cur.clone();
    up["status"] =
        json!({"nodesPeerStatus": {"node-1": {"peerState": {"sessionState": "Established"}}}});
    up["spec"] = json!({"ignored": true});
    let (code, raw) = request(&s, "PUT", path, Some(&up));
    assert_eq!(code, 200, "{raw}");
    let after = json_of(&raw);
    assert_eq!(
        after["spec"]["conf"]["peerAs"], 65001,
        "status writes leave spec alone"
    );
    // The same old version again is a conflict.
    up["metadata"]["resourceVersion"] = json!(rv);
    assert_eq!(request(&s, "PUT", path, Some(&up)).0, 409);
}

#[test]
fn faults_on_demand() {
    let s = Server::start();
    s.put(node("a", "leaf1"));
    s.fail_next(2, 500);
    assert_eq!(request(&s, "GET", "/api/v1/nodes", None).0, 500);
    assert_eq!(request(&s, "GET", "/api/v1/nodes", None).0, 500);
    assert_eq!(request(&s, "GET", "/api/v1/nodes", None).0, 200);
    s.fail_next(1, 429);
    assert_eq!(request(&s, "GET", "/api/v1/nodes", None).0, 429);
    // A watch ended from the server side, with no closing chunk.
    let t = {
        let s = s.clone();
        std::thread::spawn(move || watch(&s, "resourceVersion=1&timeoutSeconds=30"))
    };
    std::thread::sleep(Duration::from_millis(300));
    s.drop_watches();
    assert!(t.join().unwrap().is_empty());
    // Down: connections refused until it is up again.
    s.set_down(true);
    assert_eq!(request(&s, "GET", "/api/v1/nodes", None).0, 0);
    s.set_down(false);
    assert_eq!(request(&s, "GET", "/api/v1/nodes", None).0, 200);
}

/// A client that asks for metadata only (kube's metadata watches) gets
/// PartialObjectMetadata, as from the API server: no spec, no status.
#[test]
fn metadata_only_lists_carry_metadata_alone() {
    let s = Server::start();
    let mut n = node("a", "leaf1");
    n["status"] = json!({"capacity": {"cpu": "2"}});
    s.put(n);
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "GET /api/v1/nodes HTTP/1.1\r\nHost: x\r\nAccept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    let list = json_of(&out);
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(list["items"][0]["metadata"]["labels"]["rack"], "leaf1");
    assert!(list["items"][0]["status"].is_null(), "{list}");
}
