//! What every part of the cluster thread shares: the events it sends to
//! the loop, the OpenELB API, and boxed helpers for requests and tasks
//! (each boxed so that its code is in the static binary once). It imports
//! nothing else of the cluster thread.
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Api, Client};

pub use crate::daemon::cluster::{KubeEvent, Object, ServicesView};

/// One OpenELB object as the core needs it.
pub(super) fn object(o: &DynamicObject) -> Object {
    Object {
        name: o.metadata.name.clone().unwrap_or_default(),
        uid: o.metadata.uid.clone().unwrap_or_default(),
        version: o.metadata.resource_version.clone().unwrap_or_default(),
        spec: o.data["spec"].clone(),
    }
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

/// A merge patch of an object's status. The request's future is boxed, so
/// its code exists once rather than inlined into every caller's state
/// machine (the static binary's budget counts each copy).
pub async fn patch_status(
    api: &Api<DynamicObject>,
    name: &str,
    body: &serde_json::Value,
) -> Result<(), kube::Error> {
    let params = kube::api::PatchParams::default();
    let patch = kube::api::Patch::Merge(body);
    let f: std::pin::Pin<Box<dyn std::future::Future<Output = _> + '_>> =
        Box::pin(api.patch_status(name, &params, &patch));
    f.await.map(|_| ())
}

/// Creates an object; boxed as [`patch_status`] is.
pub async fn create(api: &Api<DynamicObject>, o: &DynamicObject) -> Result<(), kube::Error> {
    let params = kube::api::PostParams::default();
    let f: std::pin::Pin<Box<dyn std::future::Future<Output = _> + '_>> =
        Box::pin(api.create(&params, o));
    f.await.map(|_| ())
}

/// A future of the cluster thread, boxed.
pub type Task<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;

/// Runs futures side by side until all end: one poll loop with dynamic
/// calls, where a tree of `zip`s would be a copy of its children's code
/// per combination (tens of KiB of the static binary's 6 MiB budget).
pub async fn join_all(mut fs: Vec<Task<'_>>) {
    futures_lite::future::poll_fn(|cx| {
        fs.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        match fs.is_empty() {
            true => std::task::Poll::Ready(()),
            false => std::task::Poll::Pending,
        }
    })
    .await
}
