//! Cluster access (feature `kube`): kube-client on a thread of its own with
//! a current-thread tokio runtime, so that tokio never touches the smol
//! loop. It watches this node's own Node object only (a field selector on
//! `metadata.name`), OpenELB's BgpPeers and the BgpConf named `default`,
//! and sends what it sees over a channel; the loop re-plans from it as it
//! does for a labels file. The watchers relist after a dropped stream or a
//! 410 and back off on errors; meanwhile the last state they sent stays in
//! force. Writes (Events, BgpPeer status) go the other way, through
//! [`super::kube_write`].
use crate::labels::Labels;
use futures_lite::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PartialObjectMeta};
use kube::runtime::watcher;
use kube::{Api, Client};
use std::path::PathBuf;
use std::time::Duration;

/// The pause after a failed list or watch, doubling up to the maximum.
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(4);

/// One OpenELB object as the loop needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub name: String,
    /// For the Events written about it: every node names an Event about
    /// one version of one object alike, so the cluster gets one.
    pub uid: String,
    pub version: String,
    pub spec: serde_json::Value,
}

impl Object {
    fn of(o: &DynamicObject) -> Object {
        Object {
            name: o.metadata.name.clone().unwrap_or_default(),
            uid: o.metadata.uid.clone().unwrap_or_default(),
            version: o.metadata.resource_version.clone().unwrap_or_default(),
            spec: o.data["spec"].clone(),
        }
    }
}

/// What the cluster thread tells the loop.
#[derive(Debug, Clone, PartialEq)]
pub enum KubeEvent {
    /// The Node object's labels (empty when the object is gone).
    Labels(Labels),
    /// Every BgpPeer object, after each change.
    Peers(Vec<Object>),
    /// The BgpConf named `default`; None when there is none.
    Conf(Option<Object>),
    /// The Service addresses this node announces, and the Services with
    /// an address it does not announce, with why (`crate::lb::announce`).
    Services {
        addrs: Vec<std::net::IpAddr>,
        not: Vec<(String, String)>,
    },
    /// A list or watch failed; the watcher retries with backoff.
    Error(String),
}

const GROUP: &str = "network.kubesphere.io";
/// The version read and written; v1alpha1 objects read back in it too
/// (the CRDs convert with `None`), in their older shape.
pub const VERSION: &str = "v1alpha2";

/// An OpenELB kind's API, cluster-scoped.
pub fn openelb_api(client: Client, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(GROUP, VERSION, kind);
    Api::all_with(client, &ApiResource::from_gvk_with_plural(&gvk, plural))
}

async fn client(kubeconfig: Option<PathBuf>) -> Result<Client, String> {
    let config = match kubeconfig {
        Some(p) => {
            let kc = kube::config::Kubeconfig::read_from(&p)
                .map_err(|e| format!("kubeconfig {}: {e}", p.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", p.display()))?
        }
        None => kube::Config::infer().await.map_err(|e| {
            format!("no cluster config (KUBECONFIG, ~/.kube/config, in-cluster): {e}")
        })?,
    };
    Client::try_from(config).map_err(|e| format!("cluster client: {e}"))
}

fn labels_of(n: &PartialObjectMeta<Node>) -> Labels {
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
        async_channel::Sender<super::kube_write::KubeCmd>,
        async_channel::Receiver<super::kube_write::KubeCmd>,
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
            futures_lite::future::zip(
                watch_peers(client.clone(), tx.clone()),
                watch_conf(client.clone(), tx.clone()),
            )
            .await;
        }
    };
    let services = async {
        if let Some(ns) = what.services.clone() {
            super::kube_lb::run(client.clone(), node_name, ns, tx.clone(), wtx).await
        }
    };
    let write = super::kube_write::run(client.clone(), writes);
    futures_lite::future::zip(
        futures_lite::future::zip(labels, crds),
        futures_lite::future::zip(services, write),
    )
    .await;
}

/// What to watch.
#[derive(Debug, Clone)]
pub struct Watch {
    pub node_labels: bool,
    pub peers: bool,
    /// LoadBalancer Services, with the Lease in this namespace.
    pub services: Option<String>,
}

/// Sleeps after a failed list or watch; the pause doubles up to RETRY_MAX.
async fn pause_after(failed: bool, pause: &mut Duration) {
    if failed {
        tokio::time::sleep(*pause).await;
        *pause = (*pause * 2).min(RETRY_MAX);
    } else {
        *pause = RETRY_MIN;
    }
}

/// OpenELB's BgpPeer objects, all of them, as a whole set after each
/// change (a relist sends the set once, when it is complete).
async fn watch_peers(client: Client, tx: async_channel::Sender<KubeEvent>) {
    let api = openelb_api(client, "BgpPeer", "bgppeers");
    let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
    let (mut now, mut next) = (
        std::collections::BTreeMap::new(),
        std::collections::BTreeMap::new(),
    );
    let mut pause = RETRY_MIN;
    while let Some(ev) = events.next().await {
        let out = match ev {
            Ok(watcher::Event::Init) => {
                next = std::collections::BTreeMap::new();
                continue;
            }
            Ok(watcher::Event::InitApply(o)) => {
                let o = Object::of(&o);
                next.insert(o.name.clone(), o);
                continue;
            }
            Ok(watcher::Event::InitDone) => {
                now = std::mem::take(&mut next);
                KubeEvent::Peers(now.values().cloned().collect())
            }
            Ok(watcher::Event::Apply(o)) => {
                let o = Object::of(&o);
                now.insert(o.name.clone(), o);
                KubeEvent::Peers(now.values().cloned().collect())
            }
            Ok(watcher::Event::Delete(o)) => {
                now.remove(&Object::of(&o).name);
                KubeEvent::Peers(now.values().cloned().collect())
            }
            Err(e) => KubeEvent::Error(format!("BgpPeer: {e}")),
        };
        let failed = matches!(out, KubeEvent::Error(_));
        if tx.send(out).await.is_err() {
            return;
        }
        pause_after(failed, &mut pause).await;
    }
}

/// The BgpConf named `default`, the only one OpenELB reads.
async fn watch_conf(client: Client, tx: async_channel::Sender<KubeEvent>) {
    let api = openelb_api(client, "BgpConf", "bgpconfs");
    let config = watcher::Config::default().fields("metadata.name=default");
    let mut events = std::pin::pin!(watcher(api, config));
    let mut pause = RETRY_MIN;
    let mut seen = None;
    while let Some(ev) = events.next().await {
        let out = match ev {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                seen = Some(Object::of(&o));
                KubeEvent::Conf(seen.clone())
            }
            Ok(watcher::Event::Delete(_)) => {
                seen = None;
                KubeEvent::Conf(None)
            }
            Ok(watcher::Event::Init) => {
                seen = None;
                continue;
            }
            // A relist that found none says so.
            Ok(watcher::Event::InitDone) if seen.is_none() => KubeEvent::Conf(None),
            Ok(watcher::Event::InitDone) => continue,
            Err(e) => KubeEvent::Error(format!("BgpConf: {e}")),
        };
        let failed = matches!(out, KubeEvent::Error(_));
        if tx.send(out).await.is_err() {
            return;
        }
        pause_after(failed, &mut pause).await;
    }
}

/// This node's own Node object: its labels, from a metadata-only watch
/// (PartialObjectMetadata): nothing of the Node's spec or status is sent,
/// kept or linked in.
async fn watch_node(node: String, client: Client, tx: async_channel::Sender<KubeEvent>) {
    let api: Api<PartialObjectMeta<Node>> = Api::all(client);
    let config = watcher::Config::default().fields(&format!("metadata.name={node}"));
    let mut events = std::pin::pin!(watcher(api, config));
    // The watcher retries when polled again after an error; the pause in
    // between doubles up to RETRY_MAX, so that an API server back from an
    // outage is seen within seconds (kube's default backoff reaches 30 s).
    let mut pause = RETRY_MIN;
    while let Some(ev) = events.next().await {
        let out = match ev {
            Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => {
                KubeEvent::Labels(labels_of(&n))
            }
            Ok(watcher::Event::Delete(_)) => KubeEvent::Labels(Labels::new()),
            Ok(watcher::Event::Init | watcher::Event::InitDone) => continue,
            Err(e) => KubeEvent::Error(e.to_string()),
        };
        let failed = matches!(out, KubeEvent::Error(_));
        if tx.send(out).await.is_err() {
            return; // the daemon is gone
        }
        pause_after(failed, &mut pause).await;
    }
}

/// Starts the cluster thread; its events arrive on the returned channel,
/// and writes for it go into the other.
pub fn start(
    node: String,
    what: Watch,
    kubeconfig: Option<PathBuf>,
) -> Result<
    (
        async_channel::Receiver<KubeEvent>,
        async_channel::Sender<super::kube_write::KubeCmd>,
    ),
    String,
> {
    let (tx, rx) = async_channel::bounded(16);
    let (wtx, wrx) = async_channel::bounded(64);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    std::thread::Builder::new()
        .name("leafvip-kube".into())
        .spawn({
            let wtx = wtx.clone();
            move || rt.block_on(watch(node, what, kubeconfig, tx, (wtx, wrx)))
        })
        .map_err(|e| format!("cluster thread: {e}"))?;
    Ok((rx, wtx))
}
