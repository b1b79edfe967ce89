//! The one allocator (feature `kube`): the Lease that picks it, and its
//! writes. A pass claims addresses in the Eips' status first, each write
//! with the Eip's resourceVersion as a precondition, and only then writes
//! the Services' status (with theirs). Two agents that both think they
//! lead for a moment both try the same Eip write: one gets 409 and gives
//! up the pass, so one address never goes to two Services. A claim whose
//! Service write failed is read back from the Eip next pass and finished.
use super::api;
use super::store::{Ref, Shared};
use super::write::{EventCmd, KubeCmd};
use crate::lb::alloc;
use crate::lb::lease::{self, LeaseView, Step};
use crate::lb::object::EipStatus;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// The Lease's name, in `[kubernetes] lease_namespace`.
pub const LEASE: &str = "leafvip-allocator";
/// client-go's defaults: held 15 s, renewed every 2 s, and a leader that
/// could not renew for 10 s stops before anyone may take over at 15.
const DURATION_S: i64 = 15;
const RETRY: Duration = Duration::from_secs(2);
const RENEW_DEADLINE: Duration = Duration::from_secs(10);

/// A Lease time as Kubernetes' MicroTime writes it: six fractional digits
/// (from the RFC 3339 text the binary already formats; jiff's strftime
/// would add its whole formatter).
fn micro(t: Timestamp) -> String {
    let s = t.to_string();
    let s = s.trim_end_matches('Z');
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    format!("{secs}.{:0<6.6}Z", frac)
}

fn view(o: &DynamicObject) -> LeaseView {
    let spec = &o.data["spec"];
    LeaseView {
        holder: spec["holderIdentity"].as_str().map(str::to_string),
        renewed_ms: spec["renewTime"]
            .as_str()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map(|t| t.as_millisecond()),
        duration_s: spec["leaseDurationSeconds"].as_i64().unwrap_or(DURATION_S),
        transitions: spec["leaseTransitions"].as_i64().unwrap_or(0),
    }
}

/// Takes or renews the Lease every 2 s; `leader` in the state says
/// whether this agent allocates.
pub async fn lead(
    client: Client,
    namespace: String,
    me: String,
    st: Shared,
    wake: async_channel::Sender<()>,
) {
    let leases: Api<DynamicObject> =
        Api::namespaced_with(client, &namespace, &ApiResource::erase::<Lease>(&()));
    let mut renewed: Option<Instant> = None;
    loop {
        let now = Timestamp::now();
        let wrote = match leases.get_opt(LEASE).await {
            Ok(current) => {
                let v = current.as_ref().map(view);
                match lease::step(&me, v.as_ref(), now.as_millisecond()) {
                    Step::Follow { .. } => {
                        renewed = None;
                        false
                    }
                    step => write(&leases, current, &me, step, now).await,
                }
            }
            Err(e) => {
                tracing::debug!("Lease {namespace}/{LEASE}: {e}");
                false
            }
        };
        if wrote {
            renewed = Some(Instant::now());
        }
        let leading = renewed.is_some_and(|t| t.elapsed() < RENEW_DEADLINE);
        let was = std::mem::replace(&mut st.borrow_mut().leader, leading);
        if was != leading {
            match leading {
                true => info!("holding Lease {namespace}/{LEASE}: allocating addresses"),
                false => warn!("not holding Lease {namespace}/{LEASE}: another agent allocates"),
            }
            let _ = wake.try_send(());
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Creates, takes or renews the Lease; a 409 (another agent wrote it
/// since it was read) means not ours.
async fn write(
    leases: &Api<DynamicObject>,
    current: Option<DynamicObject>,
    me: &str,
    step: Step,
    now: Timestamp,
) -> bool {
    let t = micro(now);
    let Some(mut o) = current else {
        let ar = ApiResource::erase::<Lease>(&());
        let o = DynamicObject::new(LEASE, &ar).data(json!({
            "spec": {"holderIdentity": me, "leaseDurationSeconds": DURATION_S,
                     "acquireTime": t, "renewTime": t, "leaseTransitions": 0}
        }));
        return api::create(leases, &o).await.is_ok();
    };
    let spec = &mut o.data["spec"];
    if step == Step::Acquire {
        let taken = spec["holderIdentity"]
            .as_str()
            .is_some_and(|h| !h.is_empty() && h != me);
        let n = spec["leaseTransitions"].as_i64().unwrap_or(0) + i64::from(taken);
        spec["leaseTransitions"] = json!(n);
        spec["acquireTime"] = json!(t);
        spec["holderIdentity"] = json!(me);
        spec["leaseDurationSeconds"] = json!(DURATION_S);
    }
    spec["renewTime"] = json!(t);
    // The resourceVersion read is sent back: the write is a compare-and-swap.
    leases
        .replace(LEASE, &PostParams::default(), &o)
        .await
        .is_ok()
}

/// The leader's writes, remembering what it reported.
pub struct Allocator {
    client: Client,
    writes: async_channel::Sender<KubeCmd>,
    /// The problem last reported per Service or Eip.
    reported: BTreeMap<String, String>,
    /// Service status writes made (for status and metrics).
    pub allocations: u64,
    /// What this allocator wrote to a Service's status, until the watch
    /// shows it: a claim in an Eip that the cached status still lacks was
    /// written (no need to write again, and meet a 409), unless the write
    /// failed. Sorted by key; a list, not another map type in the 6 MiB
    /// binary.
    written: Vec<(String, Vec<IpAddr>)>,
}

impl Allocator {
    pub fn new(client: Client, writes: async_channel::Sender<KubeCmd>) -> Self {
        Allocator {
            client,
            writes,
            reported: BTreeMap::new(),
            allocations: 0,
            written: Vec::new(),
        }
    }

    /// One pass: allocate from what the watches hold, claim in the Eips,
    /// then write the Services; stop at the first conflict. True after a
    /// conflict (409): the watch event that makes the next pass right may
    /// already have come, so the caller passes again shortly.
    pub async fn pass(&mut self, st: &Shared) -> bool {
        let mut conflict = false;
        let (pools, mut svcs, namespaces, eips, refs) = {
            let s = st.borrow();
            let problems = s.eip_problems();
            // A refused Eip's status is not written: its addresses are
            // another Eip's.
            let eips: Vec<(String, Ref, EipStatus, Option<crate::lb::pool::Range>)> = s
                .eips
                .iter()
                .map(|(n, (p, r, status))| {
                    (
                        n.clone(),
                        r.clone(),
                        status.clone(),
                        p.as_ref()
                            .ok()
                            .filter(|_| !problems.contains_key(n))
                            .map(|p| p.range),
                    )
                })
                .collect();
            let refs: BTreeMap<String, Ref> = s
                .services
                .iter()
                .map(|(k, (s, v))| (k.clone(), Ref::svc(s, v)))
                .collect();
            for (name, why) in &problems {
                if let Some((_, r, _)) = s.eips.get(name) {
                    self.report(Kind::Eip, r, name, why.clone());
                }
            }
            // A fixed Eip is reported again if it breaks again. Service
            // keys are `namespace/name`; Eip names have no slash.
            self.reported
                .retain(|k, _| k.contains('/') || problems.contains_key(k));
            (s.pools(), s.svcs(), s.namespaces.clone(), eips, refs)
        };
        // `svcs` comes from a map by key: sorted, so found by bisection.
        let find = |svcs: &[crate::lb::service::Svc], k: &str| {
            svcs.binary_search_by(|s| s.key.as_str().cmp(k)).ok()
        };
        // Writes the watch has shown, or whose Service is gone, are done.
        self.written
            .retain(|(k, w)| find(&svcs, k).is_some_and(|i| svcs[i].current != *w));
        if self.written.len() * 4 < self.written.capacity() {
            self.written.shrink_to_fit();
        }
        // Claims already in the Eips count as held by their Service. One
        // its cached status lacks is either a write of ours the watch has
        // not shown yet, or one that failed (the Eip write landed, the
        // Service's met a 409), which must be made again: taken for
        // written, it left a dual-stack Service with one address.
        for (_, _, status, _) in &eips {
            for (ip, who) in &status.used {
                let Ok(ip) = ip.parse::<IpAddr>() else {
                    continue;
                };
                let Some(s) = find(&svcs, who).map(|i| &mut svcs[i]) else {
                    continue;
                };
                if s.ours {
                    let wrote = self.wrote(who).is_some_and(|w| w.contains(&ip));
                    if !s.current.contains(&ip) && !s.claimed.contains(&ip) {
                        match wrote {
                            true => s.current.push(ip),
                            false => s.claimed.push(ip),
                        }
                    }
                }
            }
        }
        let a = alloc::allocate(&pools, &svcs, &namespaces);
        for (name, r, status, range) in &eips {
            let Some(range) = range else { continue };
            let used = a.used.get(name).cloned().unwrap_or_default();
            let Some(body) = eip_status(status, range, &used, &r.version) else {
                continue;
            };
            let api = api::openelb_api(self.client.clone(), "Eip", "eips");
            match api::patch_status(&api, name, &body).await {
                Ok(()) => {}
                Err(e) => {
                    // 409: changed since read (another writer); the watch
                    // brings the new version and wakes the next pass.
                    tracing::debug!("Eip {name}: status: {e}; next pass");
                    return true;
                }
            }
        }
        for s in &svcs {
            let Some(d) = a.services.get(&s.key) else {
                continue;
            };
            let Some(r) = refs.get(&s.key) else { continue };
            if let Some(addrs) = &d.write {
                let ingress: Vec<Value> = addrs
                    .iter()
                    .map(|ip| json!({"ip": ip.to_string()}))
                    .collect();
                let body = json!({"metadata": {"resourceVersion": r.version},
                                  "status": {"loadBalancer": {"ingress": ingress}}});
                let ar = ApiResource::erase::<k8s_openapi::api::core::v1::Service>(&());
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), &r.namespace, &ar);
                match api::patch_status(&api, &r.name, &body).await {
                    Ok(()) => {
                        self.allocations += 1;
                        match self.written_at(&s.key) {
                            Ok(i) => self.written[i].1.clone_from(addrs),
                            Err(i) => self.written.insert(i, (s.key.clone(), addrs.clone())),
                        }
                        info!(service = %s.key, addresses = ?addrs, "allocated");
                    }
                    Err(e) => {
                        if let Ok(i) = self.written_at(&s.key) {
                            self.written.remove(i);
                        }
                        conflict = true;
                        tracing::debug!("Service {}: status: {e}; next pass", s.key)
                    }
                }
            }
            match d.problems.is_empty() {
                true => {
                    self.reported.remove(&s.key);
                }
                false => self.report(Kind::Service, r, &s.key, d.problems.join("; ")),
            }
        }
        conflict
    }

    fn written_at(&self, key: &str) -> Result<usize, usize> {
        self.written.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// What this allocator wrote to `key`'s status, not yet seen.
    fn wrote(&self, key: &str) -> Option<&Vec<IpAddr>> {
        self.written_at(key).ok().map(|i| &self.written[i].1)
    }

    /// A Warning Event on the object, once per problem.
    fn report(&mut self, kind: Kind, r: &Ref, key: &str, why: String) {
        if self.reported.get(key) == Some(&why) {
            return;
        }
        warn!("{} {key}: {why}", kind.name());
        let _ = self.writes.try_send(KubeCmd::Event(EventCmd {
            kind: kind.name(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            uid: r.uid.clone(),
            version: r.version.clone(),
            reason: kind.reason(),
            message: why.clone(),
            node: String::new(),
        }));
        self.reported.insert(key.to_string(), why);
    }
}

/// What a Warning Event is about.
#[derive(Clone, Copy)]
enum Kind {
    /// No address could be given: `AllocationFailed`.
    Service,
    /// The object is wrong: `InvalidSpec`, as for BgpPeers.
    Eip,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Service => "Service",
            Kind::Eip => "Eip",
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Kind::Service => "AllocationFailed",
            Kind::Eip => "InvalidSpec",
        }
    }
}

/// The Eip status patch that makes `current` say `used`, or None when it
/// does already. A merge patch keeps the map keys it does not name, so it
/// names only the claims that change (freed ones as null): one new Service
/// writes one entry, not the pool's thousands.
fn eip_status(
    current: &EipStatus,
    range: &crate::lb::pool::Range,
    used: &BTreeMap<IpAddr, String>,
    version: &str,
) -> Option<Value> {
    let size = i64::try_from(range.size()).unwrap_or(i64::MAX);
    let held = &current.used;
    let mut delta = serde_json::Map::new();
    for (ip, who) in used {
        let k = ip.to_string();
        if held.get(&k) != Some(who) {
            delta.insert(k, json!(who));
        }
    }
    for k in held.keys() {
        if !k.parse().is_ok_and(|ip: IpAddr| used.contains_key(&ip)) {
            delta.insert(k.clone(), Value::Null);
        }
    }
    let want = EipStatus {
        occupied: used.len() as i64 >= size,
        usage: used.len() as u64,
        pool_size: size as u64,
        first_ip: range.first().to_string(),
        last_ip: range.last().to_string(),
        ready: true,
        v4: range.is_v4(),
        used: current.used.clone(),
    };
    if want == *current && delta.is_empty() {
        return None;
    }
    let mut status = json!({
        "occupied": want.occupied,
        "usage": want.usage,
        "poolSize": size,
        "firstIP": want.first_ip,
        "lastIP": want.last_ip,
        "ready": true,
        "v4": want.v4,
    });
    status["used"] = Value::Object(delta);
    Some(json!({"metadata": {"resourceVersion": version}, "status": status}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_times_have_six_digits() {
        let t: Timestamp = "2026-11-30T12:00:00.123456789Z".parse().unwrap();
        assert_eq!(micro(t), "2026-11-30T12:00:00.123456Z");
        let t: Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
        assert_eq!(micro(t), "2026-11-30T12:00:00.000000Z");
        let t: Timestamp = "2026-11-30T12:00:00.5Z".parse().unwrap();
        assert_eq!(micro(t), "2026-11-30T12:00:00.500000Z");
    }

    #[test]
    fn an_eip_patch_names_only_the_claims_that_change() {
        let range = crate::lb::pool::range("192.0.2.0/30").unwrap();
        let used: BTreeMap<IpAddr, String> = [
            ("192.0.2.0".parse().unwrap(), "a/x".to_string()),
            ("192.0.2.1".parse().unwrap(), "a/y".to_string()),
        ]
        .into();
        let first = eip_status(&EipStatus::default(), &range, &used, "7").unwrap();
        assert_eq!(first["metadata"]["resourceVersion"], "7");
        assert_eq!(
            first["status"]["used"],
            json!({"192.0.2.0": "a/x", "192.0.2.1": "a/y"})
        );
        assert_eq!(
            (&first["status"]["usage"], &first["status"]["poolSize"]),
            (&json!(2), &json!(4))
        );
        // The same status again: no write.
        let mut current = EipStatus::read(&first["status"]);
        assert_eq!(eip_status(&current, &range, &used, "8"), None);
        // a/y freed, a/z claimed: one null, one entry.
        current.used.insert("192.0.2.9".into(), "a/gone".into());
        let now: BTreeMap<IpAddr, String> = [
            ("192.0.2.0".parse().unwrap(), "a/x".to_string()),
            ("192.0.2.2".parse().unwrap(), "a/z".to_string()),
        ]
        .into();
        let p = eip_status(&current, &range, &now, "8").unwrap();
        assert_eq!(
            p["status"]["used"],
            json!({"192.0.2.1": null, "192.0.2.2": "a/z", "192.0.2.9": null})
        );
    }
}
