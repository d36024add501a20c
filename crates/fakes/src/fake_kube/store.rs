//! The object store: what etcd plus the registry's write path would hold.
//!
//! Simulates: one global, increasing `resourceVersion` counter (starting
//! above 1000, sent as a string); server-set `metadata.uid`,
//! `creationTimestamp` and `resourceVersion`; `metadata.generation` for kinds
//! that have one (1 on create, +1 when anything outside `metadata` — and
//! outside `status` for kinds with a status subresource — changes); no-op
//! writes that change nothing and emit nothing; finalizers (an object whose
//! `deletionTimestamp` is set is removed once its finalizers are gone); an
//! in-memory history of every change, for watches to replay, and its
//! compaction; paged-list snapshots for `continue` tokens.
//!
//! Does not simulate: namespace lifecycle (objects in a deleted or missing
//! namespace are kept and may be created), garbage collection through
//! `ownerReferences`, defaulting of fields, or schema validation.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::kinds::KINDS;

/// Kind index in [`KINDS`], namespace (empty when cluster-scoped), name.
pub(crate) type Key = (usize, String, String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One entry of the history, as the watch cache would keep it.
#[derive(Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub kind: usize,
    pub change: ChangeType,
    /// The new state; for a deletion, the last state carrying the deletion's RV.
    pub object: Arc<Value>,
    /// The state before the change (none for an addition).
    pub prev: Option<Arc<Value>>,
}

/// The rest of a paged list, kept for its `continue` token.
pub(crate) struct Snapshot {
    pub kind: usize,
    pub rv: u64,
    pub items: VecDeque<Arc<Value>>,
}

/// What a write did.
pub(crate) enum Written {
    /// Nothing changed: no new RV, no event.
    Unchanged(Arc<Value>),
    Created(Arc<Value>),
    Updated(Arc<Value>),
    /// The write removed the last finalizer of an object being deleted.
    Deleted(Arc<Value>),
}

impl Written {
    pub fn object(&self) -> &Arc<Value> {
        match self {
            Written::Unchanged(o)
            | Written::Created(o)
            | Written::Updated(o)
            | Written::Deleted(o) => o,
        }
    }
}

pub(crate) struct State {
    pub rv: u64,
    pub objects: BTreeMap<Key, Arc<Value>>,
    /// Every change with an RV above `compacted_rv`, in order.
    pub history: Vec<Arc<Change>>,
    /// A watch from an RV below this is answered 410 Expired.
    pub compacted_rv: u64,
    pub snapshots: HashMap<u64, Snapshot>,
    pub next_snapshot: u64,
    /// Tokens below this were dropped by a compaction (410, not 400).
    pub snapshots_expired_below: u64,
    pub last_change_at: Option<Instant>,
    events: broadcast::Sender<Arc<Change>>,
    uid_seed: u64,
    uid_counter: u64,
}

/// The first resourceVersion handed out is one above this.
const FIRST_RV: u64 = 1000;

impl State {
    pub fn new(events: broadcast::Sender<Arc<Change>>) -> Self {
        State {
            rv: FIRST_RV,
            objects: BTreeMap::new(),
            history: Vec::new(),
            compacted_rv: 0,
            snapshots: HashMap::new(),
            next_snapshot: 1,
            snapshots_expired_below: 0,
            last_change_at: None,
            events,
            uid_seed: RandomState::new().hash_one(0u8),
            uid_counter: 0,
        }
    }

    /// Live changes from now on (call with the lock held, so the caller
    /// neither misses nor repeats a change it also reads from the state).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.events.subscribe()
    }

    pub fn key(kind: usize, namespace: Option<&str>, name: &str) -> Key {
        (kind, namespace.unwrap_or("").to_string(), name.to_string())
    }

    pub fn get(&self, kind: usize, namespace: Option<&str>, name: &str) -> Option<Arc<Value>> {
        self.objects.get(&Self::key(kind, namespace, name)).cloned()
    }

    /// Objects of `kind` (in `namespace` when given), in etcd key order.
    pub fn of_kind(
        &self,
        kind: usize,
        namespace: Option<&str>,
    ) -> impl Iterator<Item = &Arc<Value>> {
        let start = (kind, namespace.unwrap_or("").to_string(), String::new());
        self.objects
            .range(start..)
            .take_while(move |((k, ns, _), _)| {
                *k == kind && namespace.is_none_or(|want| want == ns)
            })
            .map(|(_, v)| v)
    }

    fn new_uid(&mut self) -> String {
        self.uid_counter += 1;
        let s = self.uid_seed;
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (s >> 32) as u32,
            (s >> 16) as u16,
            (s >> 4) & 0xfff,
            s & 0xfff,
            self.uid_counter
        )
    }

    /// Five characters of the alphabet the API server uses for `generateName`.
    pub fn name_suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        self.uid_counter += 1;
        let mut n = RandomState::new().hash_one(self.uid_counter);
        (0..5)
            .map(|_| {
                let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
                n /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    fn record(
        &mut self,
        kind: usize,
        change: ChangeType,
        object: Arc<Value>,
        prev: Option<Arc<Value>>,
    ) {
        let change = Arc::new(Change {
            rv: self.rv,
            kind,
            change,
            object,
            prev,
        });
        self.history.push(change.clone());
        // No receiver (no open watch) is not an error.
        let _ = self.events.send(change);
        self.last_change_at = Some(Instant::now());
    }

    /// Stores `obj` (which must carry `metadata.name`, and `metadata.namespace`
    /// for namespaced kinds) as the new state, stamping the server-owned
    /// fields. The caller has already applied any rule about what a client may
    /// change; this only keeps `uid` and `creationTimestamp` of an existing
    /// object and computes `generation` and `resourceVersion`.
    pub fn write(&mut self, kind: usize, mut obj: Value) -> Written {
        let k = &KINDS[kind];
        obj["apiVersion"] = json!(k.api_version());
        obj["kind"] = json!(k.kind);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let namespace = if k.namespaced {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string()
        } else {
            obj["metadata"]
                .as_object_mut()
                .expect("metadata is an object")
                .remove("namespace");
            String::new()
        };
        let key = (kind, namespace, name);
        let old = self.objects.get(&key).cloned();
        match &old {
            Some(old) => {
                let meta = obj["metadata"]
                    .as_object_mut()
                    .expect("metadata is an object");
                for field in ["uid", "creationTimestamp"] {
                    match old["metadata"].get(field) {
                        Some(v) => meta.insert(field.into(), v.clone()),
                        None => meta.remove(field),
                    };
                }
                if k.generation {
                    let before = old["metadata"]["generation"].as_i64().unwrap_or(1);
                    let bump = i64::from(spec_changed(k.status_subresource, old, &obj));
                    obj["metadata"]["generation"] = json!(before + bump);
                } else {
                    obj["metadata"]
                        .as_object_mut()
                        .expect("object")
                        .remove("generation");
                }
                if comparable(old) == comparable(&obj) {
                    return Written::Unchanged(old.clone());
                }
            }
            None => {
                let uid = self.new_uid();
                let meta = obj["metadata"].as_object_mut().expect("object");
                meta.insert("uid".into(), json!(uid));
                meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
                if k.generation {
                    meta.insert("generation".into(), json!(1));
                } else {
                    meta.remove("generation");
                }
            }
        }
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let obj = Arc::new(obj);
        let finalized = obj["metadata"].get("deletionTimestamp").is_some()
            && obj["metadata"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty);
        if finalized && old.is_some() {
            self.objects.remove(&key);
            self.record(kind, ChangeType::Deleted, obj.clone(), old);
            return Written::Deleted(obj);
        }
        self.objects.insert(key, obj.clone());
        match old {
            Some(old) => {
                self.record(kind, ChangeType::Modified, obj.clone(), Some(old));
                Written::Updated(obj)
            }
            None => {
                self.record(kind, ChangeType::Added, obj.clone(), None);
                Written::Created(obj)
            }
        }
    }

    /// Removes an object now, whatever its finalizers; returns its last state.
    pub fn remove(
        &mut self,
        kind: usize,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Arc<Value>> {
        let old = self.objects.remove(&Self::key(kind, namespace, name))?;
        self.rv += 1;
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let last = Arc::new(last);
        self.record(kind, ChangeType::Deleted, last.clone(), Some(old));
        Some(last)
    }

    /// Forgets the history (and paged-list snapshots) up to now.
    pub fn compact(&mut self) {
        self.compacted_rv = self.rv;
        self.history.clear();
        self.snapshots.clear();
        self.snapshots_expired_below = self.next_snapshot;
    }
}

/// The object without what a write never compares: RV and managedFields.
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("managedFields");
    }
    v
}

/// Whether anything that bumps `metadata.generation` differs.
fn spec_changed(status_subresource: bool, old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("metadata");
            if status_subresource {
                map.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}

/// `2026-01-02T03:04:05Z`, the API server's timestamp format.
pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
