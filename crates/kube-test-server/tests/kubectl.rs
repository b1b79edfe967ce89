//! A real client against the fake server: if kubectl can list, get, watch
//! and label through it, so can kube-client. kubectl is the machine's own
//! where it has one, else Debian's kubernetes-client (`.ci/run` installs it).
use kube_test_server::Server;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn kubectl_present() -> bool {
    let ok = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var("LEAFVIP_REQUIRE_ROOT_TESTS").as_deref() != Ok("1"),
        "kubectl is missing (LEAFVIP_REQUIRE_ROOT_TESTS=1)"
    );
    if !ok {
        eprintln!("SKIPPED: no kubectl");
    }
    ok
}

struct Kubectl(std::path::PathBuf);

impl Kubectl {
    fn new(s: &Server, name: &str) -> Kubectl {
        let p = std::env::temp_dir().join(format!("kts-{}-{name}.kubeconfig", std::process::id()));
        s.write_kubeconfig(&p);
        Kubectl(p)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig")
            .arg(&self.0)
            .env("HOME", std::env::temp_dir());
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let o = self.cmd().args(args).output().unwrap();
        assert!(
            o.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn node(name: &str, rack: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"rack": rack}}})
}

#[test]
fn kubectl_lists_gets_watches_and_labels_nodes() {
    if !kubectl_present() {
        return;
    }
    let s = Server::start();
    s.put(node("node-1", "leaf1"));
    s.put(node("node-2", "leaf2"));
    let k = Kubectl::new(&s, "nodes");
    assert_eq!(
        k.run(&["get", "nodes", "-o", "name"]),
        "node/node-1\nnode/node-2\n"
    );
    assert_eq!(
        k.run(&["get", "nodes", "-l", "rack=leaf2", "-o", "name"]),
        "node/node-2\n"
    );
    assert_eq!(
        k.run(&[
            "get",
            "node",
            "node-1",
            "-o",
            "jsonpath={.metadata.labels.rack}"
        ]),
        "leaf1"
    );

    // A watch on one node: its current labels, then each change.
    let mut w = k
        .cmd()
        .args([
            "get",
            "node",
            "node-1",
            "-w",
            "-o",
            "jsonpath={.metadata.labels.rack}{\"\\n\"}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(w.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "leaf1");
    k.run(&["label", "node", "node-1", "rack=leaf3", "--overwrite"]);
    let start = Instant::now();
    assert_eq!(lines.next().unwrap().unwrap(), "leaf3");
    assert!(start.elapsed() < Duration::from_secs(10));
    let _ = w.kill();
    let _ = w.wait();
    // The label is stored, and kubectl asked for a watch with a field selector.
    let stored = s.get("v1", "Node", "", "node-1").unwrap();
    assert_eq!(stored["metadata"]["labels"]["rack"], "leaf3");
    assert!(
        s.requests()
            .iter()
            .any(|r| r.starts_with("GET /api/v1/nodes?")
                && r.contains("watch=")
                && r.contains("fieldSelector=metadata.name=node-1")),
        "{:#?}",
        s.requests()
    );
}

/// `kubectl apply -f deploy/`, as a user installs leafvip, against the
/// fake server: every object is created, and applying again changes
/// nothing it should not.
#[test]
fn kubectl_applies_the_deploy_manifests() {
    if !kubectl_present() {
        return;
    }
    let s = Server::start();
    let k = Kubectl::new(&s, "deploy");
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/");
    let out = k.run(&["apply", "-f", deploy]);
    for made in [
        "customresourcedefinition.apiextensions.k8s.io/bgpconfs.network.kubesphere.io created",
        "customresourcedefinition.apiextensions.k8s.io/bgppeers.network.kubesphere.io created",
        "customresourcedefinition.apiextensions.k8s.io/eips.network.kubesphere.io created",
        "namespace/leafvip-system created",
        "serviceaccount/leafvip created",
        "clusterrole.rbac.authorization.k8s.io/leafvip created",
        "clusterrolebinding.rbac.authorization.k8s.io/leafvip created",
        "role.rbac.authorization.k8s.io/leafvip-lease created",
        "rolebinding.rbac.authorization.k8s.io/leafvip-lease created",
        "configmap/leafvip created",
        "daemonset.apps/leafvip created",
    ] {
        assert!(out.contains(made), "{made}: {out}");
    }
    let ds = s
        .get("apps/v1", "DaemonSet", "leafvip-system", "leafvip")
        .unwrap();
    let c = &ds["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(ds["spec"]["template"]["spec"]["hostNetwork"], true);
    assert_eq!(
        c["securityContext"]["capabilities"]["add"],
        json!(["NET_BIND_SERVICE", "NET_RAW"])
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
        "spec.nodeName"
    );
    let again = k.run(&["apply", "-f", deploy]);
    assert!(
        again.contains("daemonset.apps/leafvip unchanged"),
        "{again}"
    );
    // The same objects through the kustomization.
    let kustomized = k.run(&["apply", "-k", deploy]);
    assert!(
        kustomized.contains("daemonset.apps/leafvip unchanged"),
        "{kustomized}"
    );
    // And the CRDs serve objects, v1alpha1 too, with their status.
    let crd = s
        .get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            "bgppeers.network.kubesphere.io",
        )
        .unwrap();
    let versions: Vec<(String, bool, bool)> = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["storage"] == true,
                v["subresources"]["status"].is_object(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            ("v1alpha2".into(), true, true),
            ("v1alpha1".into(), false, true)
        ]
    );
}
