//! A fake Kubernetes API server for leafvip's tests. No kube-apiserver can
//! be installed on our machines, so this one speaks the real HTTP list and
//! watch protocol on 127.0.0.1, and `tests/kubectl.rs` proves it with a
//! real client:
//! - one global resourceVersion, in list metadata; `limit`/`continue`;
//! - watch streams of JSON lines from a resourceVersion, BOOKMARKs when
//!   asked, an ERROR 410 once a version is compacted, the stream closed at
//!   `timeoutSeconds`;
//! - label and field selectors, the status subresource, merge patches,
//!   resourceVersion preconditions (409);
//! - faults on demand: answers of 429 or 500, dropped watch streams, and
//!   the whole server down for a while.
mod api;
mod http;
mod openapi;
mod store;

pub use api::KINDS;
use serde_json::{json, Value};
use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Faults {
    /// The next so many requests get this status instead of an answer.
    fail: Option<(u32, u16)>,
    /// Bumped to end every open watch stream.
    generation: u64,
    down: bool,
}

#[derive(Debug, Default)]
struct Shared {
    store: Mutex<store::Store>,
    faults: Mutex<Faults>,
    /// Notified on every write and fault change.
    changed: Condvar,
    /// Every request line seen, for tests that check what a client asked.
    log: Mutex<Vec<String>>,
}

/// A running server; it stops with the test process.
#[derive(Debug, Clone)]
pub struct Server {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds 127.0.0.1 on a free port and serves on threads of its own.
    pub fn start() -> Server {
        Self::serve(TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1"))
    }

    /// The same, on the loopback of a network namespace (`ip netns`'s
    /// `/run/netns/NAME`), where a daemon under test runs: the socket is
    /// made by a thread that joined the namespace, and the rest of the
    /// test process stays where it is.
    pub fn start_in_netns(ns: &str) -> Server {
        Self::serve(Self::bind_in_netns(ns))
    }

    /// This same server (one store, one history, the same faults) also on
    /// the loopback of another namespace, for a second node's daemon.
    pub fn also_in_netns(&self, ns: &str) -> Server {
        Self::serve_shared(Self::bind_in_netns(ns), self.shared.clone())
    }

    fn bind_in_netns(ns: &str) -> TcpListener {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let f = std::fs::File::open(&path).expect("the namespace");
            use std::os::fd::AsRawFd;
            // SAFETY: setns on a valid namespace fd changes only this
            // thread's network namespace.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1 in the namespace");
            let _ = std::process::Command::new("ip")
                .args(["link", "set", "lo", "up"])
                .status();
            l
        })
        .join()
        .expect("the namespace thread")
    }

    fn serve(listener: TcpListener) -> Server {
        Self::serve_shared(listener, Arc::new(Shared::default()))
    }

    fn serve_shared(listener: TcpListener, shared: Arc<Shared>) -> Server {
        let addr = listener.local_addr().expect("an address");
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                if s.faults.lock().unwrap().down {
                    drop(conn); // refused, as far as the client can tell
                    continue;
                }
                let s = s.clone();
                // As Go's net/http does: a response's head and body go out
                // at once, not 40 ms apart behind the client's delayed ACK.
                let _ = conn.set_nodelay(true);
                std::thread::spawn(move || {
                    let _ = serve(conn, &s, addr);
                });
            }
        });
        Server { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig that points at this server, no credentials.
    pub fn write_kubeconfig(&self, path: &Path) {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n\
             contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n\
             current-context: test\nusers:\n- name: test\n  user: {{}}\n",
            self.url()
        );
        std::fs::write(path, text).expect("write kubeconfig");
    }

    /// Creates or replaces an object, as a client's create or update would.
    pub fn put(&self, obj: Value) -> Value {
        let t = target_of(&obj).expect("a kind the server serves");
        let name = obj["metadata"]["name"]
            .as_str()
            .expect("a name")
            .to_string();
        let key = t.key(&name);
        let mut st = self.shared.store.lock().unwrap();
        let mut obj = obj;
        obj["metadata"]["resourceVersion"] = Value::Null;
        let out = match st.objects.contains_key(&key) {
            true => st.update(key, obj),
            false => st.create(key, obj),
        };
        drop(st);
        self.shared.changed.notify_all();
        out.expect("written")
    }

    /// The stored object, if any.
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let t = target_of(
            &json!({"apiVersion": api_version, "kind": kind, "metadata": {"namespace": namespace}}),
        )?;
        self.shared
            .store
            .lock()
            .unwrap()
            .objects
            .get(&t.key(name))
            .cloned()
    }

    /// Every stored object of a kind (in `namespace`, for namespaced ones).
    pub fn list(&self, api_version: &str, kind: &str, namespace: &str) -> Vec<Value> {
        let Some(t) = target_of(
            &json!({"apiVersion": api_version, "kind": kind, "metadata": {"namespace": namespace}}),
        ) else {
            return Vec::new();
        };
        let (g, r, ns, _) = t.key("");
        let st = self.shared.store.lock().unwrap();
        st.objects
            .iter()
            .filter(|((g2, r2, ns2, _), _)| (g2, r2, ns2) == (&g, &r, &ns))
            .map(|(_, o)| o.clone())
            .collect()
    }

    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let t = target_of(
            &json!({"apiVersion": api_version, "kind": kind, "metadata": {"namespace": namespace}}),
        )
        .expect("a kind the server serves");
        let _ = self.shared.store.lock().unwrap().delete(t.key(name));
        self.shared.changed.notify_all();
    }

    /// Answers the next `n` requests with `code` (429, 500, …).
    pub fn fail_next(&self, n: u32, code: u16) {
        self.shared.faults.lock().unwrap().fail = Some((n, code));
    }

    /// Ends every open watch stream, as a proxy or an API server restart does.
    pub fn drop_watches(&self) {
        self.shared.faults.lock().unwrap().generation += 1;
        self.shared.changed.notify_all();
    }

    /// Takes the server down (connections refused, watches ended) or up.
    pub fn set_down(&self, down: bool) {
        let mut f = self.shared.faults.lock().unwrap();
        f.down = down;
        f.generation += 1;
        drop(f);
        self.shared.changed.notify_all();
    }

    /// Forgets history: watches from any version before now get 410 Gone.
    pub fn compact(&self) {
        let mut st = self.shared.store.lock().unwrap();
        st.compacted = st.rv;
        st.events.clear();
    }

    /// The request lines seen so far (`GET /api/v1/nodes?watch=1…`).
    pub fn requests(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }
}

fn target_of(obj: &Value) -> Option<api::Target> {
    let av = obj["apiVersion"].as_str()?;
    let kind = obj["kind"].as_str()?;
    let (group, version) = av.split_once('/').unwrap_or(("", av));
    let k = *KINDS
        .iter()
        .find(|k| k.group == group && k.kind == kind && k.versions.contains(&version))?;
    Some(api::Target {
        kind: k,
        version: version.to_string(),
        namespace: if k.namespaced {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        },
        name: None,
        status: false,
    })
}

fn serve(conn: TcpStream, s: &Shared, addr: SocketAddr) -> std::io::Result<()> {
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    while let Some(req) = http::read(&mut r)? {
        let mut line = format!("{} {}", req.method, req.path);
        if !req.query.is_empty() {
            let q: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line = format!("{line}?{}", q.join("&"));
        }
        s.log.lock().unwrap().push(line);
        let injected = {
            let mut f = s.faults.lock().unwrap();
            if f.down {
                return Ok(());
            }
            f.fail.take().map(|(n, code)| {
                f.fail = (n > 1).then_some((n - 1, code));
                code
            })
        };
        let (code, body) = if let Some(code) = injected {
            let reason = if code == 429 {
                "TooManyRequests"
            } else {
                "InternalError"
            };
            (code, api::status(code, reason, "injected by the test"))
        } else if let Some(doc) = (req.method == "GET")
            .then(|| {
                api::discovery(&req.path, &addr.to_string()).or_else(|| openapi::v3(&req.path))
            })
            .flatten()
        {
            (200, doc)
        } else if let Some(t) = api::target(&req.path) {
            let watch = req
                .query
                .get("watch")
                .is_some_and(|v| v == "true" || v == "1");
            if req.method == "GET" && watch {
                return watch_stream(&mut w, s, &t, &req);
            }
            let answer = handle(s, &t, &req);
            s.changed.notify_all();
            answer
        } else {
            (
                404,
                api::status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                ),
            )
        };
        http::respond(&mut w, code, &body)?;
        if closes(&req) {
            return Ok(());
        }
    }
    Ok(())
}

/// Whether the client asked to close after this answer.
fn closes(req: &http::Request) -> bool {
    req.headers
        .get("connection")
        .is_some_and(|c| c.eq_ignore_ascii_case("close"))
}

fn handle(s: &Shared, t: &api::Target, req: &http::Request) -> (u16, Value) {
    let mut st = s.store.lock().unwrap();
    let not_found = |name: &str| {
        (
            404,
            api::status(
                404,
                "NotFound",
                &format!("{} \"{name}\" not found", t.kind.resource),
            ),
        )
    };
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let done = |r: Result<Value, u16>, ok: u16| {
        match r {
        Ok(o) => (ok, api::as_version(o, t)),
        Err(409) => (409, api::status(409, "Conflict", "the object has been modified; please apply your changes to the latest version and try again")),
        Err(c) => (c, api::status(c, "NotFound", "not found")),
    }
    };
    match (req.method.as_str(), &t.name) {
        ("GET", None) => (200, api::list(&st, t, req)),
        ("GET", Some(n)) => match st.objects.get(&t.key(n)) {
            Some(o) => (200, api::as_version(o.clone(), t)),
            None => not_found(n),
        },
        ("POST", None) => {
            let name = body["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if name.is_empty() {
                return (
                    422,
                    api::status(422, "Invalid", "metadata.name: Required value"),
                );
            }
            match st.create(t.key(&name), body) {
                Err(409) => (
                    409,
                    api::status(
                        409,
                        "AlreadyExists",
                        &format!("{} \"{name}\" already exists", t.kind.resource),
                    ),
                ),
                r => done(r, 201),
            }
        }
        ("PUT", Some(n)) => {
            let Some(old) = st.objects.get(&t.key(n)).cloned() else {
                return not_found(n);
            };
            let new = if t.status {
                // The status subresource changes status only.
                let mut o = old;
                o["status"] = body["status"].clone();
                o["metadata"]["resourceVersion"] = body["metadata"]["resourceVersion"].clone();
                o
            } else {
                let mut o = body;
                if !old["status"].is_null() {
                    o["status"] = old["status"].clone();
                }
                o
            };
            done(st.update(t.key(n), new), 200)
        }
        ("PATCH", Some(n)) => {
            let Some(mut o) = st.objects.get(&t.key(n)).cloned() else {
                return not_found(n);
            };
            let kind = req.headers.get("content-type").map_or("", String::as_str);
            if !kind.contains("merge-patch") {
                return (
                    415,
                    api::status(
                        415,
                        "UnsupportedMediaType",
                        &format!("the body of the request was in an unknown format: {kind}"),
                    ),
                );
            }
            // The status subresource changes status only; a resourceVersion
            // in the patch is a precondition either way.
            let patch = if t.status {
                json!({"status": body["status"],
                       "metadata": {"resourceVersion": body["metadata"]["resourceVersion"]}})
            } else {
                body
            };
            store::merge_patch(&mut o, &patch);
            o["metadata"]["resourceVersion"] = patch["metadata"]["resourceVersion"].clone();
            done(st.update(t.key(n), o), 200)
        }
        ("DELETE", Some(n)) => done(st.delete(t.key(n)), 200),
        _ => (
            405,
            api::status(405, "MethodNotAllowed", "method not allowed"),
        ),
    }
}

/// A watch: events after the asked version as chunked JSON lines, until
/// `timeoutSeconds`, a fault, or the client going away.
fn watch_stream(
    w: &mut TcpStream,
    s: &Shared,
    t: &api::Target,
    req: &http::Request,
) -> std::io::Result<()> {
    let labels = req.query.get("labelSelector").cloned().unwrap_or_default();
    let fields = req.query.get("fieldSelector").cloned().unwrap_or_default();
    let bookmarks = req
        .query
        .get("allowWatchBookmarks")
        .is_some_and(|v| v == "true");
    let timeout = req
        .query
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let end = Instant::now() + timeout;
    let generation = s.faults.lock().unwrap().generation;
    http::start_chunked(w)?;
    let meta = api::wants_meta(req);
    let event = |kind: &str, obj: Value| {
        let o = api::as_version(obj, t);
        let o = if meta { api::meta_only(&o) } else { o };
        json!({"type": kind, "object": o})
    };
    let mut st = s.store.lock().unwrap();
    let mut seen: u64 = match req
        .query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
    {
        Some(rv) if rv > 0 => rv,
        _ => {
            // No version: the current objects as ADDED first.
            let now: Vec<Value> = st
                .list(t.kind.group, t.kind.resource, &t.namespace)
                .filter(|o| store::matches(o, &labels, &fields))
                .cloned()
                .collect();
            let rv = st.rv;
            drop(st);
            for o in now {
                http::chunk(w, &event("ADDED", o))?;
            }
            st = s.store.lock().unwrap();
            rv
        }
    };
    if seen < st.compacted {
        drop(st);
        http::chunk(
            w,
            &json!({"type": "ERROR", "object": api::status(410, "Expired", "too old resource version")}),
        )?;
        return http::end_chunked(w);
    }
    let mut last_bookmark = Instant::now();
    loop {
        let mine = (t.kind.group.to_string(), t.kind.resource.to_string());
        let out: Vec<Value> = st
            .events
            .iter()
            .filter(|e| e.rv > seen && (e.key.0.clone(), e.key.1.clone()) == mine)
            .filter(|e| t.namespace.is_empty() || e.key.2 == t.namespace)
            .filter_map(|e| {
                let was = e
                    .old
                    .as_ref()
                    .is_some_and(|o| store::matches(o, &labels, &fields));
                let is = e
                    .new
                    .as_ref()
                    .is_some_and(|o| store::matches(o, &labels, &fields));
                match (was, is, &e.new) {
                    (false, true, Some(n)) => Some(event("ADDED", n.clone())),
                    (true, true, Some(n)) => Some(event("MODIFIED", n.clone())),
                    (true, false, _) => {
                        let mut o = e.old.clone().expect("was");
                        o["metadata"]["resourceVersion"] = json!(e.rv.to_string());
                        Some(event("DELETED", o))
                    }
                    _ => None,
                }
            })
            .collect();
        seen = st.rv;
        drop(st);
        for e in out {
            http::chunk(w, &e)?;
        }
        if bookmarks && last_bookmark.elapsed() >= Duration::from_secs(1) {
            last_bookmark = Instant::now();
            let b = json!({"type": "BOOKMARK", "object": {
                "kind": t.kind.kind, "apiVersion": api::api_version(&t.kind, &t.version),
                "metadata": {"resourceVersion": seen.to_string()}
            }});
            http::chunk(w, &b)?;
        }
        if Instant::now() >= end {
            return http::end_chunked(w);
        }
        st = s.store.lock().unwrap();
        if s.faults.lock().unwrap().generation != generation {
            // Dropped: no end chunk, as a broken connection gives none.
            return Ok(());
        }
        if st.rv == seen {
            st = s
                .changed
                .wait_timeout(st, Duration::from_millis(200))
                .unwrap()
                .0;
        }
    }
}
