//! The decider without a cluster: objects through the real keepers, the
//! view they make, and what a pass does with it.
use super::*;
use serde_json::{json, Value};

fn object(v: Value) -> DynamicObject {
    serde_json::from_value(v).unwrap()
}

fn node(name: &str, ready: bool) -> DynamicObject {
    object(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"rack": "leaf1"}},
        "status": {
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "addresses": [{"type": "InternalIP", "address": "198.51.100.3"}],
        },
    }))
}

fn service(name: &str, ip: &str, policy: &str, ours: bool) -> DynamicObject {
    let ann = if ours {
        json!({"lb.kubesphere.io/v1alpha1": "openelb"})
    } else {
        json!({})
    };
    object(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "web", "uid": format!("u-{name}"),
                     "resourceVersion": "7", "annotations": ann},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }))
}

/// An object through its kind's keeper, as the watch loop puts it.
fn put(st: &mut State, k: &dyn Kind, o: &DynamicObject) {
    let m = kinds::meta(o);
    k.put(st, k.key(&m), m, &o.data)
}

fn delete(st: &mut State, k: &dyn Kind, o: &DynamicObject) {
    let key = k.key(&kinds::meta(o));
    k.kept(st).forget(&key);
}

fn state(node_ready: bool) -> State {
    let mut st = State {
        node: "worker1".into(),
        ..Default::default()
    };
    put(&mut st, &kinds::Nodes, &node("worker1", node_ready));
    for (name, ip, policy, ours) in [
        ("a", "192.0.2.10", "Cluster", true),
        ("b", "192.0.2.11", "Local", true),
        ("c", "192.0.2.12", "Cluster", false),
    ] {
        put(&mut st, &kinds::Services, &service(name, ip, policy, ours));
    }
    st
}

#[test]
fn the_view_announces_ours_and_says_why_not_for_the_rest() {
    let v = view(&state(true), 0);
    let addrs: Vec<String> = v.addrs.iter().map(|(a, _)| a.to_string()).collect();
    // Cluster policy on a Ready node: announced. Local with no endpoint
    // here: not. Not ours (no annotation, no class): not even listed.
    assert_eq!(addrs, ["192.0.2.10"]);
    assert_eq!(v.total, 2);
    let lines: Vec<(&str, bool, &str)> = v
        .lines
        .iter()
        .map(|l| (l.service.as_str(), l.announced, l.policy.as_str()))
        .collect();
    assert_eq!(
        lines,
        [("web/a", true, "Cluster"), ("web/b", false, "Local")]
    );
    assert!(v.lines[1]
        .why
        .as_deref()
        .unwrap()
        .contains("no ready endpoint"));
    assert_eq!(v.hosts, None, "a node speaking for itself names no hosts");

    // The node going NotReady withdraws everything, and says so.
    let v = view(&state(false), 0);
    assert!(v.addrs.is_empty());
    assert!(v.lines.iter().all(|l| !l.announced));

    // A Service deleted through its keeper leaves the view.
    let mut st = state(true);
    delete(
        &mut st,
        &kinds::Services,
        &service("a", "192.0.2.10", "Cluster", true),
    );
    assert!(view(&st, 0).addrs.is_empty());
}

#[test]
fn a_pass_tells_the_loop_once_the_lists_are_in_and_only_changes() {
    let st = state(true);
    let now = view(&st, 0);
    let ready = SERVICES | SLICES | NODE;
    // Services listed but not the slices: a Local Service could look
    // endpoint-less, so nothing is told yet.
    assert_eq!(
        step(SERVICES | NODE, true, None, &now),
        Step {
            tell: false,
            allocate: false
        }
    );
    assert_eq!(
        step(ready, false, None, &now),
        Step {
            tell: true,
            allocate: false
        }
    );
    // The same view again: nothing to tell.
    assert_eq!(
        step(ready, false, Some(&now), &now),
        Step {
            tell: false,
            allocate: false
        }
    );
    let mut changed = now.clone();
    changed.addrs.clear();
    assert!(step(ready, false, Some(&now), &changed).tell);
    // Allocation waits for every list (Eips, Namespaces) and the Lease.
    assert!(!step(ready, true, Some(&now), &now).allocate);
    assert!(!step(ALL, false, Some(&now), &now).allocate);
    assert_eq!(
        step(ALL, true, Some(&now), &now),
        Step {
            tell: false,
            allocate: true
        }
    );
}

/// The decider's passes over a state that the keepers fill: nothing told
/// before the lists are in, then the view once, then only its changes;
/// allocation once every list is in and the Lease is held. A Service that
/// stops being a LoadBalancer is dropped, and takes its address with it.
#[test]
fn decide_tells_each_change_once_and_allocates_as_leader() {
    let mut st = state(true);
    let mut d = Decider::default();
    assert_eq!(d.pass(&st, 0), (None, false), "no list in yet");
    st.synced = SERVICES | SLICES | NODE;
    let (told, allocate) = d.pass(&st, 0);
    let told = told.expect("the lists are in: the view is told");
    assert_eq!(told.addrs.len(), 1);
    assert!(!allocate);
    assert_eq!(d.pass(&st, 0), (None, false), "nothing changed");

    // An endpoint of the Local Service arrives on this node.
    let slice = object(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "b-1", "namespace": "web",
                     "labels": {"kubernetes.io/service-name": "b"}},
        "endpoints": [{"nodeName": "worker1", "conditions": {"ready": true}}],
    }));
    put(&mut st, &kinds::Slices, &slice);
    let told = d.pass(&st, 0).0.expect("b is announced now");
    assert_eq!(told.addrs.len(), 2);

    // Service a turns ClusterIP: it is no longer kept, and its address
    // goes.
    let mut a = service("a", "192.0.2.10", "Cluster", true);
    a.data["spec"]["type"] = json!("ClusterIP");
    put(&mut st, &kinds::Services, &a);
    let told = d.pass(&st, 0).0.expect("a is gone");
    assert_eq!(told.addrs.len(), 1);
    assert!(!st.services.contains_key("web/a"));

    // Leader, with every list in: allocate, and the view (which shows
    // the leadership) is told once.
    st.synced = ALL;
    st.leader = true;
    let (told, allocate) = d.pass(&st, 0);
    assert!(told.is_some_and(|v| v.leader) && allocate);
    assert_eq!(d.pass(&st, 0), (None, true));
}
