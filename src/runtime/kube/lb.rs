//! LoadBalancer Services on the cluster thread (feature `kube`): watches
//! Services, Eips, EndpointSlices, Namespaces and this node's Node (every
//! Node for a rack speaker, `service_next_hop = "hosts"`), keeps
//! of each only what `crate::lb` reads, tells the loop which Service
//! addresses this node announces, and, on the agent that holds the Lease,
//! allocates (`alloc.rs`); what it keeps is `store.rs`.
//!
//! Everything runs as futures of the thread's one task, so the state is
//! an `Rc<RefCell<_>>`, never borrowed across an await. A change to it
//! wakes the decider through a one-slot channel: a burst of watch events
//! makes one pass.
use super::api::{self, KubeEvent, ServicesView};
use super::backoff::Backoff;
use super::kinds::{self, Kind};
use super::store::{Shared, State, ALL, NODE, SERVICES, SLICES};
use super::write::KubeCmd;
use crate::lb::announce;
use crate::status::SERVICES_SHOWN;
use futures_lite::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher;
use kube::{Api, Client};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

fn api(
    client: &Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

/// Keeps one kind in the state: a relist replaces what it held, each
/// event updates it, and every change wakes the decider.
async fn keep(
    api: Api<DynamicObject>,
    config: watcher::Config,
    k: &'static dyn Kind,
    st: Shared,
    wake: async_channel::Sender<()>,
    tx: async_channel::Sender<KubeEvent>,
) {
    let mut events = std::pin::pin!(watcher(api, config));
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut pause = Backoff::new();
    while let Some(ev) = events.next().await {
        let mut failed = false;
        let put = |o: DynamicObject, seen: Option<&mut BTreeSet<String>>| {
            let m = kinds::meta(&o);
            let key = k.key(&m);
            if let Some(seen) = seen {
                seen.insert(key.clone());
            }
            k.put(&mut st.borrow_mut(), key, m, &o.data);
        };
        match ev {
            Ok(watcher::Event::Init) => seen.clear(),
            Ok(watcher::Event::InitApply(o)) => put(o, Some(&mut seen)),
            Ok(watcher::Event::InitDone) => {
                let mut s = st.borrow_mut();
                kinds::keep_only(k.kept(&mut s), &seen);
                s.synced |= k.bit();
            }
            Ok(watcher::Event::Apply(o)) => put(o, None),
            Ok(watcher::Event::Delete(o)) => {
                let key = k.key(&kinds::meta(&o));
                k.kept(&mut st.borrow_mut()).forget(&key);
            }
            Err(e) => {
                failed = true;
                let e = KubeEvent::Error(format!("{}: {e}", k.what()));
                if tx.send(e).await.is_err() {
                    return;
                }
            }
        }
        let _ = wake.try_send(());
        pause.after(failed).await;
    }
}

/// The Node watch in a build with `l2`: this node alone, or every Node
/// for a rack speaker and while any Eip is layer2, whose owners every
/// node names in `status` (`crate::lb::owners`). A change of scope
/// (`scope`: whether every Node) starts the watch again; its relist
/// drops the Nodes it no longer covers.
#[cfg(feature = "l2")]
async fn keep_nodes(
    api: Api<DynamicObject>,
    (node, hosts, scope): (String, bool, async_channel::Receiver<bool>),
    st: Shared,
    wake: async_channel::Sender<()>,
    tx: async_channel::Sender<KubeEvent>,
) {
    let mut every = hosts;
    loop {
        let config = match every {
            true => watcher::Config::default(),
            false => watcher::Config::default().fields(&format!("metadata.name={node}")),
        };
        let watch = async {
            keep(
                api.clone(),
                config,
                &kinds::Nodes,
                st.clone(),
                wake.clone(),
                tx.clone(),
            )
            .await;
            None
        };
        let changed = async {
            loop {
                match scope.recv().await {
                    Ok(e) if (e || hosts) != every => return Some(e || hosts),
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
        };
        match futures_lite::future::or(watch, changed).await {
            Some(e) => every = e,
            None => return,
        }
    }
}

/// What to run: the watches, the announcer, and the Lease and allocator.
pub async fn run(
    client: Client,
    node: String,
    (lease_namespace, hosts): (String, bool),
    tx: async_channel::Sender<KubeEvent>,
    writes: async_channel::Sender<KubeCmd>,
) {
    let st: Shared = Rc::new(RefCell::new(State {
        node: node.clone(),
        hosts,
        ..Default::default()
    }));
    let (wake, woken) = async_channel::bounded(1);
    #[cfg(feature = "l2")]
    let (scope_tx, scope_rx) = async_channel::bounded(1);
    let c = &client;
    let all = watcher::Config::default();
    let mut tasks: Vec<api::Task<'_>> = vec![
        Box::pin(keep(
            api(c, "", "v1", "Service", "services"),
            all.clone(),
            &kinds::Services,
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
        Box::pin(keep(
            api(c, "network.kubesphere.io", api::VERSION, "Eip", "eips"),
            all.clone(),
            &kinds::Eips,
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
        Box::pin(keep(
            api(
                c,
                "discovery.k8s.io",
                "v1",
                "EndpointSlice",
                "endpointslices",
            ),
            all.clone(),
            &kinds::Slices,
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
        #[cfg(not(feature = "l2"))]
        Box::pin(keep(
            api(c, "", "v1", "Node", "nodes"),
            match hosts {
                true => all.clone(),
                false => all.clone().fields(&format!("metadata.name={node}")),
            },
            &kinds::Nodes,
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
        #[cfg(feature = "l2")]
        Box::pin(keep_nodes(
            api(c, "", "v1", "Node", "nodes"),
            (node.clone(), hosts, scope_rx),
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
        Box::pin(keep(
            api(c, "", "v1", "Namespace", "namespaces"),
            all,
            &kinds::Namespaces,
            st.clone(),
            wake.clone(),
            tx.clone(),
        )),
    ];
    tasks.push(Box::pin(super::alloc::lead(
        client.clone(),
        lease_namespace,
        node.clone(),
        st.clone(),
        wake.clone(),
    )));
    tasks.push(Box::pin(decide(
        client.clone(),
        st,
        woken,
        (tx, writes),
        #[cfg(feature = "l2")]
        scope_tx,
    )));
    api::join_all(tasks).await;
}

/// What this node announces, and the Services with an address (the
/// first [`SERVICES_SHOWN`] of them described: the view is kept and sent
/// whole, and a line per Service at 5,000 is a megabyte).
fn view(s: &State, allocations: u64) -> ServicesView {
    let svcs = || s.services.values().map(|(v, _)| v);
    let a = match s.hosts {
        true => announce::announce_hosts(svcs(), &s.nodes, &|k| s.usable(k)),
        false => announce::announce(
            svcs(),
            s.nodes.get(&s.node).map(|n| n.state).unwrap_or_default(),
            &s.here(),
        ),
    };
    #[cfg(feature = "l2")]
    let mut a = a;
    // Layer-2 addresses are answered, not announced: split them off, and
    // say why this node does not offer one it might.
    #[cfg(feature = "l2")]
    let l2 = {
        let pools = s.pools();
        let pools: Vec<&crate::lb::pool::Pool> = pools.iter().collect();
        let links = std::cell::OnceCell::new();
        // Checked as at a config's load: the interface exists and the
        // address is on one of its subnets (OpenELB's ValidateInterface).
        let resolve = |i: &crate::lb::iface::Iface, vip: std::net::IpAddr| {
            use crate::l2::links::{check, reaching, LinkError};
            let links = links.get_or_init(crate::l2::links::read);
            let name = match i {
                crate::lb::iface::Iface::Name(n) => n.as_str(),
                crate::lb::iface::Iface::CanReach(r) => {
                    &reaching(links, *r).ok_or(LinkError::NoneReaches(*r))?.name
                }
            };
            check(links, name, vip).map(|l| l.name.clone())
        };
        let (mut l2, not) =
            crate::lb::layer2::split(svcs(), &pools, &s.node, &mut a.addrs, &resolve);
        if s.hosts {
            // A rack speaker announces for others; it answers for none.
            a.not.extend(l2.drain(..).map(|x| {
                let w = format!("{}: a rack speaker answers for no layer2 address", x.addr);
                (x.service, w)
            }));
        }
        a.not.extend(not);
        l2
    };
    let why: BTreeMap<&str, &str> = a
        .not
        .iter()
        .map(|(k, w)| (k.as_str(), w.as_str()))
        .collect();
    let ranges: Vec<(&String, &crate::lb::pool::Range)> = s
        .eips
        .iter()
        .filter_map(|(n, (p, _, _))| Some((n, &p.as_ref().ok()?.range)))
        .collect();
    let with_address = || svcs().filter(|v| v.ours && !v.current.is_empty());
    let lines = with_address()
        .take(SERVICES_SHOWN)
        .map(|v| {
            let w = why.get(v.key.as_str()).map(|w| w.to_string());
            crate::status::ServiceLine {
                service: v.key.clone(),
                addresses: v.current.iter().map(ToString::to_string).collect(),
                pool: ranges
                    .iter()
                    .find(|(_, r)| r.contains(v.current[0]))
                    .map_or(String::new(), |(n, _)| n.to_string()),
                policy: if v.local { "Local" } else { "Cluster" }.into(),
                announced: w.is_none(),
                why: w,
            }
        })
        .collect();
    let pools = s
        .eips
        .iter()
        .map(|(n, (_, _, status))| crate::status::PoolLine {
            pool: n.clone(),
            used: status.usage,
            size: status.pool_size,
        })
        .collect();
    // What a rack speaker may name as next hops: the eligible Nodes.
    let hosts = s.hosts.then(|| {
        s.nodes
            .iter()
            .filter(|(_, n)| n.state.ready && !n.state.excluded)
            .map(|(name, n)| crate::hosts::HostConfig {
                name: name.clone(),
                address: n.v4,
                address6: n.v6,
                labels: n.labels.clone(),
                check: None,
            })
            .collect()
    });
    ServicesView {
        addrs: a.addrs,
        hosts,
        total: with_address().count(),
        lines,
        pools,
        leader: s.leader,
        allocations,
        #[cfg(feature = "l2")]
        l2_owners: (!l2.is_empty())
            .then(|| std::sync::Arc::new(crate::lb::owners::Owners::new(&s.node, &s.nodes))),
        #[cfg(feature = "l2")]
        l2,
    }
}

/// On every wake: what this node announces goes to the loop when it
/// changes; the leader allocates.
/// What one pass of the decider does.
#[derive(Debug, PartialEq, Eq)]
struct Step {
    /// Send the loop the view: the lists it is made of are complete (a
    /// partial list would withdraw what the rest holds), and it changed.
    tell: bool,
    /// Allocate: every list is complete (Eips and Namespaces too, or an
    /// address could be given twice) and this agent holds the Lease.
    allocate: bool,
}

fn step(synced: u8, leader: bool, last: Option<&ServicesView>, now: &ServicesView) -> Step {
    let ready = SERVICES | SLICES | NODE;
    Step {
        tell: synced & ready == ready && last != Some(now),
        allocate: synced == ALL && leader,
    }
}

/// What the decider keeps between passes: the view last told.
#[derive(Default)]
struct Decider {
    last: Option<ServicesView>,
}

impl Decider {
    /// One pass over the state: the view to tell the loop, if it is to be
    /// told, and whether to allocate.
    fn pass(&mut self, s: &State, allocations: u64) -> (Option<ServicesView>, bool) {
        #[allow(unused_mut)]
        let mut now = view(s, allocations);
        // The owners' directory as last told, when the same: the loop
        // and the speaker see the same Arc, and compare no further.
        #[cfg(feature = "l2")]
        if let Some(last) = self.last.as_ref().and_then(|l| l.l2_owners.as_ref()) {
            if now.l2_owners.as_ref() == Some(last) {
                now.l2_owners = Some(last.clone());
            }
        }
        let step = step(s.synced, s.leader, self.last.as_ref(), &now);
        let tell = step.tell.then(|| {
            self.last = Some(now.clone());
            now
        });
        (tell, step.allocate)
    }
}

async fn decide(
    client: Client,
    st: Shared,
    woken: async_channel::Receiver<()>,
    (tx, writes): (
        async_channel::Sender<KubeEvent>,
        async_channel::Sender<KubeCmd>,
    ),
    #[cfg(feature = "l2")] scope: async_channel::Sender<bool>,
) {
    let mut decider = Decider::default();
    let mut alloc = super::alloc::Allocator::new(client, writes);
    while woken.recv().await.is_ok() {
        // Every Node while any Eip is layer2 (`keep_nodes`).
        #[cfg(feature = "l2")]
        let _ = scope.try_send(st.borrow().layer2_in_use());
        let (tell, allocate) = decider.pass(&st.borrow(), alloc.allocations);
        if let Some(now) = tell {
            if tx.send(KubeEvent::Services(Box::new(now))).await.is_err() {
                return;
            }
        }
        if allocate {
            // After a conflict, pass again as soon as a watch brings the
            // newer version (usually within milliseconds), or after 200 ms
            // (a few tries; any later watch event wakes a pass anyway).
            for _ in 0..5 {
                if !alloc.pass(&st).await {
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), woken.recv()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests;
