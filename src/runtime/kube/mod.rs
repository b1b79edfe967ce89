//! Cluster access (feature `kube`): kube-client on a thread of its own with
//! a current-thread tokio runtime, so that tokio never touches the smol
//! loop. It watches this node's own Node object only (a field selector on
//! `metadata.name`), OpenELB's BgpPeers and the BgpConf named `default`,
//! and sends what it sees over a channel; the loop re-plans from it as it
//! does for a labels file. The watchers relist after a dropped stream or a
//! 410 and back off on errors; meanwhile the last state they sent stays in
//! force. Writes (Events, BgpPeer status) go the other way, through
//! [`write`].
mod alloc;
mod api;
mod backoff;
mod kinds;
mod lb;
mod store;
mod write;

pub use api::KubeEvent;
pub use write::{EventCmd, KubeCmd};

use crate::labels::Labels;
use api::{join_all, openelb_api};
use backoff::Backoff;
use futures_lite::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::watcher;
use kube::{Api, Client};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The cluster's config, found as `kube::Config::infer` finds it: the
/// file given, else `KUBECONFIG` or `~/.kube/config`, else in-cluster.
/// Written out rather than calling `infer`, so that one kubeconfig path
/// (read, then `from_custom_kubeconfig`) is in the binary, not two.
async fn client(kubeconfig: Option<PathBuf>) -> Result<Client, String> {
    use kube::config::Kubeconfig;
    let (kc, what) = match &kubeconfig {
        Some(p) => (
            Kubeconfig::read_from(p).map_err(|e| format!("kubeconfig {}: {e}", p.display()))?,
            format!("kubeconfig {}", p.display()),
        ),
        None => match Kubeconfig::read() {
            Ok(kc) => (kc, "kubeconfig (KUBECONFIG or ~/.kube/config)".to_string()),
            Err(file) => {
                let config = kube::Config::incluster().map_err(|e| {
                    format!("no cluster config: no kubeconfig ({file}), not in a cluster ({e})")
                })?;
                return Client::try_from(config).map_err(|e| format!("cluster client: {e}"));
            }
        },
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    Client::try_from(config).map_err(|e| format!("cluster client: {e}"))
}

fn labels_of(n: &DynamicObject) -> Labels {
    n.metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

async fn watch(
    node: String,
    what: Watch,
    kubeconfig: Option<PathBuf>,
    tx: async_channel::Sender<KubeEvent>,
    (wtx, writes): (
        async_channel::Sender<write::KubeCmd>,
        async_channel::Receiver<write::KubeCmd>,
    ),
) {
    let node_name = node.clone();
    let client = match client(kubeconfig).await {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(KubeEvent::Error(e)).await;
            return;
        }
    };
    let labels = async {
        if what.node_labels {
            watch_node(node, client.clone(), tx.clone()).await
        }
    };
    let crds = async {
        if what.peers {
            join_all(vec![
                Box::pin(watch_peers(client.clone(), tx.clone())),
                Box::pin(watch_conf(client.clone(), tx.clone())),
            ])
            .await;
        }
    };
    let services = async {
        if let Some(ns) = what.services.clone() {
            lb::run(client.clone(), node_name, ns, tx.clone(), wtx).await
        }
    };
    let write = write::run(client.clone(), writes);
    join_all(vec![
        Box::pin(labels),
        Box::pin(crds),
        Box::pin(services),
        Box::pin(write),
    ])
    .await;
}

/// What to watch.
#[derive(Debug, Clone)]
pub struct Watch {
    pub node_labels: bool,
    pub peers: bool,
    /// LoadBalancer Services, with the Lease in this namespace, and
    /// whether to announce them with the Ready Nodes as next hops.
    pub services: Option<(String, bool)>,
}

/// OpenELB's BgpPeer objects, all of them, as a whole set after each
/// change (a relist sends the set once, when it is complete).
async fn watch_peers(client: Client, tx: async_channel::Sender<KubeEvent>) {
    let api = openelb_api(client, "BgpPeer", "bgppeers");
    let (mut now, mut next) = (BTreeMap::new(), BTreeMap::new());
    let mut on = |ev| match ev {
        watcher::Event::Init => {
            next = BTreeMap::new();
            None
        }
        watcher::Event::InitApply(o) => {
            let o = api::object(&o);
            next.insert(o.name.clone(), o);
            None
        }
        watcher::Event::InitDone => {
            now = std::mem::take(&mut next);
            Some(KubeEvent::Peers(now.values().cloned().collect()))
        }
        watcher::Event::Apply(o) => {
            let o = api::object(&o);
            now.insert(o.name.clone(), o);
            Some(KubeEvent::Peers(now.values().cloned().collect()))
        }
        watcher::Event::Delete(o) => {
            now.remove(&api::object(&o).name);
            Some(KubeEvent::Peers(now.values().cloned().collect()))
        }
    };
    each_event(api, watcher::Config::default(), "BgpPeer", &tx, &mut on).await
}

/// The BgpConf named `default`, the only one OpenELB reads.
async fn watch_conf(client: Client, tx: async_channel::Sender<KubeEvent>) {
    let api = openelb_api(client, "BgpConf", "bgpconfs");
    let config = watcher::Config::default().fields("metadata.name=default");
    let mut seen = None;
    let mut on = |ev| match ev {
        watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
            seen = Some(api::object(&o));
            Some(KubeEvent::Conf(seen.clone()))
        }
        watcher::Event::Delete(_) => {
            seen = None;
            Some(KubeEvent::Conf(None))
        }
        watcher::Event::Init => {
            seen = None;
            None
        }
        // A relist that found none says so.
        watcher::Event::InitDone => seen.is_none().then_some(KubeEvent::Conf(None)),
    };
    each_event(api, config, "BgpConf", &tx, &mut on).await
}

/// This node's own Node object: its labels. Read as a DynamicObject like
/// every other watch, so the watcher's code exists once in the binary; a
/// metadata-only watch (PartialObjectMeta<Node>) cost 27 KB more of it
/// for one small object.
async fn watch_node(node: String, client: Client, tx: async_channel::Sender<KubeEvent>) {
    let api: Api<DynamicObject> = Api::all_with(client, &ApiResource::erase::<Node>(&()));
    let config = watcher::Config::default().fields(&format!("metadata.name={node}"));
    let mut on = |ev| match ev {
        watcher::Event::Apply(n) | watcher::Event::InitApply(n) => {
            Some(KubeEvent::Labels(labels_of(&n)))
        }
        watcher::Event::Delete(_) => Some(KubeEvent::Labels(Labels::new())),
        watcher::Event::Init | watcher::Event::InitDone => None,
    };
    each_event(api, config, "Node", &tx, &mut on).await
}

/// One watch: each event through `on`, what it makes to the loop, errors
/// too. The watcher retries when polled again after an error, after the
/// cluster thread's [`Backoff`] pause.
/// `on` is a `dyn`, so this loop exists once in the binary.
async fn each_event(
    api: Api<DynamicObject>,
    config: watcher::Config,
    what: &str,
    tx: &async_channel::Sender<KubeEvent>,
    on: &mut dyn FnMut(watcher::Event<DynamicObject>) -> Option<KubeEvent>,
) {
    let mut events = std::pin::pin!(watcher(api, config));
    let mut pause = Backoff::new();
    while let Some(ev) = events.next().await {
        let out = match ev {
            Ok(e) => match on(e) {
                Some(out) => out,
                None => continue,
            },
            Err(e) => KubeEvent::Error(format!("{what}: {e}")),
        };
        let failed = matches!(out, KubeEvent::Error(_));
        if tx.send(out).await.is_err() {
            return; // the daemon is gone
        }
        pause.after(failed).await;
    }
}

/// Starts the cluster thread; its events arrive on the returned channel,
/// and writes for it go into the other. Fails only if the thread or its
/// runtime cannot be made: the cluster itself is reached on the thread.
pub fn start(
    node: String,
    what: Watch,
    kubeconfig: Option<PathBuf>,
) -> std::io::Result<(
    async_channel::Receiver<KubeEvent>,
    async_channel::Sender<write::KubeCmd>,
)> {
    let (tx, rx) = async_channel::bounded(16);
    let (wtx, wrx) = async_channel::bounded(64);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("leafvip-kube".into())
        .spawn({
            let wtx = wtx.clone();
            move || rt.block_on(watch(node, what, kubeconfig, tx, (wtx, wrx)))
        })?;
    Ok((rx, wtx))
}
