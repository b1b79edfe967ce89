//! The objects, one global resourceVersion, and the event log that watches
//! read from. Versions of one group share storage: an object written as
//! v1alpha1 reads back as v1alpha2, as with a conversion-free CRD.
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// (group, resource, namespace, name); the namespace is "" when cluster-scoped.
pub type Key = (String, String, String, String);

#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub key: Key,
    /// The object before and after (None: did not exist / deleted).
    pub old: Option<Value>,
    pub new: Option<Value>,
}

#[derive(Debug, Default)]
pub struct Store {
    pub rv: u64,
    pub objects: BTreeMap<Key, Value>,
    pub events: Vec<Event>,
    /// Watches from a resourceVersion below this one get 410 Gone.
    pub compacted: u64,
    next_uid: u64,
}

/// A label selector as the API takes it in a query: `a=b,c!=d,e,!f,g in (x,y)`.
pub fn labels_match(selector: &str, labels: &Value) -> bool {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    split_terms(selector).iter().all(|term| {
        let t = term.trim();
        if t.is_empty() {
            return true;
        }
        if let Some((k, set)) = t.split_once(" in ") {
            return get(k.trim()).is_some_and(|v| set_of(set).contains(&v));
        }
        if let Some((k, set)) = t.split_once(" notin ") {
            return get(k.trim()).is_none_or(|v| !set_of(set).contains(&v));
        }
        if let Some((k, v)) = t.split_once("!=") {
            return get(k.trim()) != Some(v.trim());
        }
        if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
            return get(k.trim()) == Some(v.trim());
        }
        if let Some(k) = t.strip_prefix('!') {
            return get(k.trim()).is_none();
        }
        get(t).is_some()
    })
}

/// Splits on the commas that are not inside `( )`.
fn split_terms(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

fn set_of(s: &str) -> Vec<&str> {
    s.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .collect()
}

/// Field selectors on `metadata.name` and `metadata.namespace`, the ones
/// the API serves for every resource.
pub fn fields_match(selector: &str, obj: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|t| {
        let (neg, (k, v)) = match t.split_once("!=") {
            Some(kv) => (true, kv),
            None => (
                false,
                t.split_once("==")
                    .or_else(|| t.split_once('='))
                    .unwrap_or((t, "")),
            ),
        };
        let field = k.trim().strip_prefix("metadata.").unwrap_or(k.trim());
        let actual = obj["metadata"][field].as_str().unwrap_or("");
        (actual == v.trim()) != neg
    })
}

pub fn matches(obj: &Value, labels: &str, fields: &str) -> bool {
    labels_match(labels, &obj["metadata"]["labels"]) && fields_match(fields, obj)
}

impl Store {
    fn record(&mut self, key: Key, old: Option<Value>, new: Option<Value>) -> u64 {
        self.rv += 1;
        let rv = self.rv;
        self.events.push(Event { rv, key, old, new });
        rv
    }

    fn stamp(&mut self, obj: &mut Value, rv: u64) {
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
    }

    /// Creates `obj` at `key`; `Err(409)` if it exists.
    pub fn create(&mut self, key: Key, mut obj: Value) -> Result<Value, u16> {
        if self.objects.contains_key(&key) {
            return Err(409);
        }
        self.next_uid += 1;
        obj["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", self.next_uid));
        obj["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        obj["metadata"]["name"] = json!(key.3);
        if !key.2.is_empty() {
            obj["metadata"]["namespace"] = json!(key.2);
        }
        let rv = self.rv + 1;
        self.stamp(&mut obj, rv);
        self.objects.insert(key.clone(), obj.clone());
        self.record(key, None, Some(obj.clone()));
        Ok(obj)
    }

    /// Replaces the object at `key`. A resourceVersion in `obj` that is
    /// not the current one is a conflict (409), as the API's optimistic
    /// concurrency has it; none means "whatever is there".
    pub fn update(&mut self, key: Key, mut obj: Value) -> Result<Value, u16> {
        let old = self.objects.get(&key).cloned().ok_or(404u16)?;
        let want = obj["metadata"]["resourceVersion"]
            .as_str()
            .map(str::to_string);
        if want.is_some_and(|w| Some(w.as_str()) != old["metadata"]["resourceVersion"].as_str()) {
            return Err(409);
        }
        for k in ["uid", "creationTimestamp", "name", "namespace"] {
            if !old["metadata"][k].is_null() {
                obj["metadata"][k] = old["metadata"][k].clone();
            }
        }
        let rv = self.rv + 1;
        self.stamp(&mut obj, rv);
        self.objects.insert(key.clone(), obj.clone());
        self.record(key, Some(old), Some(obj.clone()));
        Ok(obj)
    }

    pub fn delete(&mut self, key: Key) -> Result<Value, u16> {
        let old = self.objects.remove(&key).ok_or(404u16)?;
        let mut gone = old.clone();
        let rv = self.record(key, Some(old), None);
        self.stamp(&mut gone, rv);
        Ok(gone)
    }

    /// Objects of (group, resource), in namespace `ns` ("" for all).
    pub fn list<'a>(
        &'a self,
        group: &'a str,
        resource: &'a str,
        ns: &'a str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects
            .iter()
            .filter(move |((g, r, n, _), _)| {
                g == group && r == resource && (ns.is_empty() || n == ns)
            })
            .map(|(_, v)| v)
    }
}

/// RFC 7386 JSON merge patch; strategic merge patch is the same for the
/// maps (labels, annotations, status fields) the tests patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().expect("an object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let l = json!({"rack": "leaf1", "role": "worker"});
        for (sel, want) in [
            ("rack=leaf1", true),
            ("rack==leaf1,role=worker", true),
            ("rack!=leaf1", false),
            ("rack in (leaf1, leaf2)", true),
            ("rack notin (leaf1)", false),
            ("role,!gpu", true),
            ("gpu", false),
            ("", true),
        ] {
            assert_eq!(labels_match(sel, &l), want, "{sel}");
        }
        let n = json!({"metadata": {"name": "node-1"}});
        assert!(fields_match("metadata.name=node-1", &n));
        assert!(!fields_match("metadata.name!=node-1", &n));
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut t = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1}});
        merge_patch(
            &mut t,
            &json!({"metadata": {"labels": {"a": null, "c": "3"}}}),
        );
        assert_eq!(
            t,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"x": 1}})
        );
    }

    #[test]
    fn updates_check_the_resource_version() {
        let mut s = Store::default();
        let k: Key = ("".into(), "nodes".into(), "".into(), "n1".into());
        let a = s.create(k.clone(), json!({"metadata": {}})).unwrap();
        assert_eq!(a["metadata"]["resourceVersion"], "1");
        let stale = json!({"metadata": {"resourceVersion": "0"}});
        assert_eq!(s.update(k.clone(), stale), Err(409));
        let b = s
            .update(k.clone(), json!({"metadata": {"resourceVersion": "1"}}))
            .unwrap();
        assert_eq!(b["metadata"]["resourceVersion"], "2");
        assert_eq!(s.events.len(), 2);
    }
}
