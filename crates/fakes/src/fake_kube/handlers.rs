//! The resource verbs: get, list, create, update (PUT), patch, delete and
//! deletecollection, with the API server's validation and answers.
//!
//! Simulates: `{Kind}List` answers with `metadata.resourceVersion` (items of
//! built-in kinds without `apiVersion`/`kind`, as the real server sends them;
//! CRD items with them), `limit`/`continue` paging over a snapshot (a token
//! dropped by `compact()` is 410 Expired); create (201, 409 AlreadyExists,
//! `generateName`, 422 for a missing or malformed name, 500 when
//! `resourceVersion` is set); PUT with the `resourceVersion` precondition
//! (409 Conflict; CRDs require it, 422); PATCH as merge patch (409 when the
//! patch carries a stale `metadata.resourceVersion`), JSON patch, or
//! server-side apply (422 without `fieldManager`, creates a missing object
//! with 201 — which also needs `create` permission — and records a
//! `managedFields` entry); 415 for any other patch type (strategic merge
//! included); 422 for `force` on a non-apply patch; delete honouring
//! `preconditions` and finalizers (sets `deletionTimestamp` and keeps the
//! object until its finalizers are removed). Writes through the main
//! resource ignore `status` for kinds with a status subresource; writes to
//! `/status` change only `status`.
//!
//! Patches honour `dryRun=All` (the answer the write would give, admission
//! included, with nothing stored or sent to watches; 422 for any other
//! `dryRun` value, as `PatchOptions` validation answers). Admission, on
//! every create, update and patch, dry runs included: a Secret's
//! `stringData` is merged into `data` (base64) and never stored, as the real
//! server does, then the test's mutating hooks run
//! ([`super::FakeKube::mutate_on_admission`], standing for defaulting and
//! mutating webhooks).
//!
//! Does not simulate: strategic merge patch, real server-side apply field
//! ownership (see `patch.rs`), YAML request bodies, `dryRun` on create, update
//! and delete, deletion propagation (`propagationPolicy`, owner references),
//! graceful deletion of pods, built-in defaults, quotas, namespace existence,
//! or schema validation of anything but `metadata.name`.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::Shared;
use super::kinds::{KINDS, Kind};
use super::patch::{apply_merge, json_patch, merge_patch};
use super::rbac::Attributes;
use super::select::Filter;
use super::server::{Answer, Reply, Req};
use super::status::{self, ApiError};
use super::store::{Snapshot, State, Written, now_rfc3339};

/// The object a request addresses.
pub(crate) struct At<'a> {
    pub kind: usize,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub sub: Option<&'a str>,
}

const CONTINUE_PREFIX: &str = "fake-kube-";
const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. \
     You can start a new list without the continue parameter.";

/// Metadata the server owns; a client's values are ignored.
const SERVER_FIELDS: &[&str] = &[
    "uid",
    "creationTimestamp",
    "generation",
    "resourceVersion",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata was made an object")
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn rv_of(obj: &Value) -> &str {
    meta_str(obj, "resourceVersion").unwrap_or("")
}

fn set_or_remove(obj: &mut Value, field: &str, value: Option<&Value>) {
    if let Some(map) = obj.as_object_mut() {
        match value {
            Some(v) => map.insert(field.to_string(), v.clone()),
            None => map.remove(field),
        };
    }
}

/// Parses a request body that must be an object of kind `k`.
fn parse_object(body: &[u8], k: &Kind) -> Result<Value, ApiError> {
    let unrecognized = |why: String| {
        status::bad_request(&format!(
            "the object provided is unrecognized (must be of type {}): {why}",
            k.kind
        ))
    };
    let v: Value = serde_json::from_slice(body).map_err(|e| unrecognized(e.to_string()))?;
    if !v.is_object() {
        return Err(unrecognized("not a JSON object".into()));
    }
    check_type(&v, k, false)?;
    Ok(v)
}

/// `apiVersion`/`kind` in a body must be the URL's (absent is allowed unless `required`).
fn check_type(v: &Value, k: &Kind, required: bool) -> Result<(), ApiError> {
    let api_version = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let expected = k.api_version();
    if (required || !api_version.is_empty()) && api_version != expected {
        return Err(status::bad_request(&format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected})"
        )));
    }
    if (required || !kind.is_empty()) && kind != k.kind {
        return Err(status::bad_request(&format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            k.kind
        )));
    }
    Ok(())
}

fn check_name(v: &Value, name: &str) -> Result<(), ApiError> {
    match meta_str(v, "name") {
        Some(n) if n != name => Err(status::bad_request(&format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        ))),
        _ => Ok(()),
    }
}

fn check_namespace(v: &Value, k: &Kind, namespace: Option<&str>) -> Result<(), ApiError> {
    match (meta_str(v, "namespace"), namespace) {
        (Some(given), Some(url)) if k.namespaced && given != url => Err(status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => Ok(()),
    }
}

/// RFC 1123 subdomain, as the API server requires of most names.
fn check_name_format(k: &Kind, name: &str) -> Result<(), ApiError> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() <= 253 && name.split('.').all(label_ok) {
        return Ok(());
    }
    Err(status::invalid_object(
        k,
        name,
        "metadata.name",
        "FieldValueInvalid",
        &format!(
            "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
             characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', \
             regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ),
    ))
}

fn strip_server_fields(obj: &mut Value) {
    let meta = metadata_mut(obj);
    for f in SERVER_FIELDS {
        meta.remove(*f);
    }
    meta.remove("selfLink");
}

/// The field manager a write is recorded under.
fn manager<'a>(r: &'a Req<'_>) -> &'a str {
    r.param("fieldManager")
        .filter(|m| !m.is_empty())
        .or_else(|| r.user_agent.split('/').next().filter(|m| !m.is_empty()))
        .unwrap_or("unknown")
}

/// Adds or refreshes this manager's `managedFields` entry (without a field set).
fn record_manager(obj: &mut Value, manager: &str, operation: &str, k: &Kind, sub: Option<&str>) {
    let mut entry = json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": k.api_version(),
        "time": now_rfc3339(),
        "fieldsType": "FieldsV1",
        "fieldsV1": {},
    });
    if let Some(sub) = sub {
        entry["subresource"] = json!(sub);
    }
    let meta = metadata_mut(obj);
    let list = meta.entry("managedFields").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    let list = list
        .as_array_mut()
        .expect("managedFields was made an array");
    list.retain(|e| {
        !(e["manager"] == manager
            && e["operation"] == operation
            && e.get("subresource").and_then(Value::as_str) == sub)
    });
    list.push(entry);
}

/// Turns a client's desired state into the state to store: server-owned
/// metadata and the URL's name/namespace win, and the status subresource
/// rule decides which of `status` and the rest the write may change.
fn finish_update(
    k: &Kind,
    old: &Value,
    mut new: Value,
    at: &At<'_>,
    manager: &str,
    operation: &str,
) -> Value {
    {
        let meta = metadata_mut(&mut new);
        for f in SERVER_FIELDS {
            match old["metadata"].get(*f) {
                Some(v) => meta.insert(f.to_string(), v.clone()),
                None => meta.remove(*f),
            };
        }
        meta.insert("name".into(), json!(at.name));
        if let Some(ns) = at.namespace.filter(|_| k.namespaced) {
            meta.insert("namespace".into(), json!(ns));
        }
    }
    let mut new = match at.sub {
        Some(_) => {
            let mut only_status = old.clone();
            set_or_remove(&mut only_status, "status", new.get("status"));
            only_status
        }
        None if k.status_subresource => {
            set_or_remove(&mut new, "status", old.get("status"));
            new
        }
        None => new,
    };
    record_manager(&mut new, manager, operation, k, at.sub);
    new
}

/// Admission of an object about to be stored (or answered, in a dry run): a Secret's
/// `stringData` merged into `data` as base64 (it wins, and is never stored), then the
/// test's mutating hooks for the kind.
fn admit(shared: &Shared, kind: usize, obj: &mut Value) {
    use base64::Engine;
    let k = &KINDS[kind];
    if k.kind == "Secret"
        && let Some(Value::Object(strings)) =
            obj.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        if !obj["data"].is_object() {
            obj["data"] = json!({});
        }
        for (key, value) in strings {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            obj["data"][key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        }
    }
    shared.mutate(kind, obj);
}

fn written(code_if_created: u16, w: &Written) -> Reply {
    let code = if matches!(w, Written::Created(_)) {
        code_if_created
    } else {
        200
    };
    Reply::Json(code, (**w.object()).clone())
}

pub(crate) fn get(shared: &Shared, at: &At<'_>) -> Answer {
    let obj = shared
        .state()
        .get(at.kind, at.namespace, at.name)
        .ok_or_else(|| status::not_found(&KINDS[at.kind], at.name))?;
    Ok(Reply::Json(200, (*obj).clone()))
}

pub(crate) fn list(shared: &Shared, r: &Req<'_>, filter: Filter) -> Answer {
    let k = &KINDS[filter.kind];
    let limit = match r.param("limit") {
        None | Some("") => None,
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| status::bad_request(&format!("invalid limit: {l:?}")))?,
        ),
    }
    .filter(|l| *l > 0);
    let (page, rv, token, remaining) = {
        let mut st = shared.state();
        match r.param("continue").filter(|c| !c.is_empty()) {
            Some(token) => {
                let invalid =
                    || status::bad_request(&format!("continue key is not valid: {token}"));
                let id = token
                    .strip_prefix(CONTINUE_PREFIX)
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(invalid)?;
                let expired_below = st.snapshots_expired_below;
                let Some(snap) = st.snapshots.get_mut(&id) else {
                    return Err(if id < expired_below {
                        status::expired(CONTINUE_EXPIRED)
                    } else {
                        invalid()
                    });
                };
                if snap.kind != filter.kind {
                    return Err(invalid());
                }
                let n = limit.unwrap_or(usize::MAX).min(snap.items.len());
                let page: Vec<Arc<Value>> = snap.items.drain(..n).collect();
                let (rv, remaining) = (snap.rv, snap.items.len());
                if remaining == 0 {
                    st.snapshots.remove(&id);
                    (page, rv, None, 0)
                } else {
                    (page, rv, Some(id), remaining)
                }
            }
            None => {
                let mut all: VecDeque<Arc<Value>> = st
                    .of_kind(filter.kind, filter.namespace.as_deref())
                    .filter(|o| filter.matches(o))
                    .cloned()
                    .collect();
                let rv = st.rv;
                match limit {
                    Some(l) if all.len() > l => {
                        let page: Vec<Arc<Value>> = all.drain(..l).collect();
                        let id = st.next_snapshot;
                        st.next_snapshot += 1;
                        let remaining = all.len();
                        st.snapshots.insert(
                            id,
                            Snapshot {
                                kind: filter.kind,
                                rv,
                                items: all,
                            },
                        );
                        (page, rv, Some(id), remaining)
                    }
                    _ => (all.into_iter().collect(), rv, None, 0),
                }
            }
        }
    };
    let items: Vec<Value> = page
        .iter()
        .map(|o| {
            let mut item = (**o).clone();
            if !k.crd
                && let Some(map) = item.as_object_mut()
            {
                map.remove("apiVersion");
                map.remove("kind");
            }
            item
        })
        .collect();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(id) = token {
        metadata["continue"] = json!(format!("{CONTINUE_PREFIX}{id}"));
        metadata["remainingItemCount"] = json!(remaining);
    }
    Ok(Reply::Json(
        200,
        json!({
            "kind": format!("{}List", k.kind),
            "apiVersion": k.api_version(),
            "metadata": metadata,
            "items": items,
        }),
    ))
}

pub(crate) fn create(shared: &Shared, r: &Req<'_>, kind: usize, namespace: Option<&str>) -> Answer {
    let k = &KINDS[kind];
    let mut obj = parse_object(r.body, k)?;
    check_namespace(&obj, k, namespace)?;
    if meta_str(&obj, "resourceVersion").is_some() {
        return Err(status::status(
            500,
            "InternalError",
            "Internal error occurred: resourceVersion should not be set on objects to be created",
            None,
        ));
    }
    strip_server_fields(&mut obj);
    if k.status_subresource {
        set_or_remove(&mut obj, "status", None);
    }
    if let Some(ns) = namespace.filter(|_| k.namespaced) {
        metadata_mut(&mut obj).insert("namespace".into(), json!(ns));
    }
    shared.with_state(|st| {
        let name = match (meta_str(&obj, "name"), meta_str(&obj, "generateName")) {
            (Some(name), _) => name.to_string(),
            (None, Some(prefix)) => format!("{prefix}{}", st.name_suffix()),
            (None, None) => {
                return Err(status::invalid_object(
                    k,
                    "",
                    "metadata.name",
                    "FieldValueRequired",
                    "Required value: name or generateName is required",
                ));
            }
        };
        check_name_format(k, &name)?;
        if st.get(kind, namespace, &name).is_some() {
            return Err(status::already_exists(k, &name));
        }
        metadata_mut(&mut obj).insert("name".into(), json!(name));
        record_manager(&mut obj, manager(r), "Update", k, None);
        admit(shared, kind, &mut obj);
        Ok(written(201, &st.write(kind, obj)))
    })
}

pub(crate) fn replace(shared: &Shared, r: &Req<'_>, at: &At<'_>) -> Answer {
    let k = &KINDS[at.kind];
    let obj = parse_object(r.body, k)?;
    check_name(&obj, at.name)?;
    check_namespace(&obj, k, at.namespace)?;
    shared.with_state(|st| {
        let old = st
            .get(at.kind, at.namespace, at.name)
            .ok_or_else(|| status::not_found(k, at.name))?;
        match meta_str(&obj, "resourceVersion") {
            Some(rv) if rv != rv_of(&old) => return Err(status::conflict(k, at.name)),
            None if k.crd => {
                return Err(status::invalid_object(
                    k,
                    at.name,
                    "metadata.resourceVersion",
                    "FieldValueInvalid",
                    "Invalid value: 0x0: must be specified for an update",
                ));
            }
            _ => {}
        }
        let mut new = finish_update(k, &old, obj, at, manager(r), "Update");
        admit(shared, at.kind, &mut new);
        Ok(written(200, &st.write(at.kind, new)))
    })
}

fn patch_options_invalid(field: &str, reason: &str, detail: &str) -> ApiError {
    status::invalid(
        "meta.k8s.io",
        "PatchOptions.meta.k8s.io",
        "PatchOptions",
        "",
        field,
        reason,
        detail,
    )
}

pub(crate) fn patch(shared: &Shared, r: &Req<'_>, at: &At<'_>) -> Answer {
    let k = &KINDS[at.kind];
    let content_type = r
        .content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let apply = content_type == "application/apply-patch+yaml";
    let json_patch_type = content_type == "application/json-patch+json";
    if !apply && !json_patch_type && content_type != "application/merge-patch+json" {
        return Err(status::unsupported_media_type(&content_type));
    }
    if !apply && r.param("force").is_some() {
        return Err(patch_options_invalid(
            "force",
            "FieldValueForbidden",
            "Forbidden: may not be specified for non-apply patch",
        ));
    }
    if apply && r.param("fieldManager").is_none_or(str::is_empty) {
        return Err(patch_options_invalid(
            "fieldManager",
            "FieldValueRequired",
            "Required value: is required for apply patch",
        ));
    }
    let body: Value = serde_json::from_slice(r.body).map_err(|e| {
        status::bad_request(&if apply {
            format!("fake-kube reads application/apply-patch+yaml bodies as JSON only (kube sends JSON): {e}")
        } else {
            format!("error decoding patch: {e}")
        })
    })?;
    // `dryRun=All`: the answer the write would give, with nothing stored or sent to watches.
    let dry_run = match r.param("dryRun") {
        None => false,
        Some("All") => true,
        Some(other) => {
            return Err(patch_options_invalid(
                "dryRun",
                "FieldValueNotSupported",
                &format!("Unsupported value: \"{other}\": supported values: \"All\""),
            ));
        }
    };
    if apply {
        return apply_patch(shared, r, at, body, dry_run);
    }
    if !json_patch_type && !body.is_object() {
        return Err(status::bad_request("a merge patch must be a JSON object"));
    }
    shared.with_state(|st| {
        let old = st
            .get(at.kind, at.namespace, at.name)
            .ok_or_else(|| status::not_found(k, at.name))?;
        let mut new = (*old).clone();
        if json_patch_type {
            json_patch(&mut new, &body).map_err(|m| status::status(422, "Invalid", &m, None))?;
            if !new.is_object() {
                return Err(status::status(
                    422,
                    "Invalid",
                    "the patch does not leave a JSON object",
                    None,
                ));
            }
            // A patched resourceVersion is a precondition; a removed one is not.
            if !rv_of(&new).is_empty() && rv_of(&new) != rv_of(&old) {
                return Err(status::conflict(k, at.name));
            }
        } else {
            if let Some(rv) = body
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                && rv != rv_of(&old)
            {
                return Err(status::conflict(k, at.name));
            }
            merge_patch(&mut new, &body);
        }
        let mut new = finish_update(k, &old, new, at, manager(r), "Update");
        admit(shared, at.kind, &mut new);
        if dry_run {
            return Ok(Reply::Json(200, new));
        }
        Ok(written(200, &st.write(at.kind, new)))
    })
}

fn apply_patch(
    shared: &Shared,
    r: &Req<'_>,
    at: &At<'_>,
    mut body: Value,
    dry_run: bool,
) -> Answer {
    let k = &KINDS[at.kind];
    if !body.is_object() {
        return Err(status::bad_request("an apply patch must be a JSON object"));
    }
    check_type(&body, k, true)?;
    check_name(&body, at.name)?;
    check_namespace(&body, k, at.namespace)?;
    let precondition = meta_str(&body, "resourceVersion").map(str::to_string);
    strip_server_fields(&mut body);
    let field_manager = r.param("fieldManager").unwrap_or("");
    shared.with_state(|st| {
        let Some(old) = st.get(at.kind, at.namespace, at.name) else {
            if at.sub.is_some() {
                return Err(status::not_found(k, at.name));
            }
            if precondition.is_some() {
                return Err(status::conflict(k, at.name));
            }
            check_name_format(k, at.name)?;
            shared.authorize(&Attributes {
                verb: "create",
                kind: k,
                subresource: None,
                namespace: at.namespace,
                name: Some(at.name),
            })?;
            let mut new = body.clone();
            if k.status_subresource {
                set_or_remove(&mut new, "status", None);
            }
            let meta = metadata_mut(&mut new);
            meta.insert("name".into(), json!(at.name));
            if let Some(ns) = at.namespace.filter(|_| k.namespaced) {
                meta.insert("namespace".into(), json!(ns));
            }
            record_manager(&mut new, field_manager, "Apply", k, None);
            admit(shared, at.kind, &mut new);
            if dry_run {
                return Ok(Reply::Json(201, new));
            }
            return Ok(written(201, &st.write(at.kind, new)));
        };
        if precondition.as_deref().is_some_and(|rv| rv != rv_of(&old)) {
            return Err(status::conflict(k, at.name));
        }
        let mut new = (*old).clone();
        apply_merge(&mut new, &body);
        let mut new = finish_update(k, &old, new, at, field_manager, "Apply");
        admit(shared, at.kind, &mut new);
        if dry_run {
            return Ok(Reply::Json(200, new));
        }
        Ok(written(200, &st.write(at.kind, new)))
    })
}

/// Deletes one object: at once, or by setting `deletionTimestamp` when it has
/// finalizers. Returns the answer body and whether it is gone.
fn delete_one(st: &mut State, kind: usize, old: &Arc<Value>) -> (Value, bool) {
    let k = &KINDS[kind];
    let name = meta_str(old, "name").unwrap_or("").to_string();
    let namespace = meta_str(old, "namespace").map(str::to_string);
    let has_finalizers = old["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    if has_finalizers {
        if meta_str(old, "deletionTimestamp").is_some() {
            return ((**old).clone(), false);
        }
        let mut new = (**old).clone();
        let meta = metadata_mut(&mut new);
        meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
        meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        let w = st.write(kind, new);
        return ((**w.object()).clone(), false);
    }
    let last = st
        .remove(kind, namespace.as_deref(), &name)
        .expect("the object to delete exists");
    let uid = meta_str(&last, "uid").unwrap_or("").to_string();
    (status::deleted(k, &name, &uid), true)
}

pub(crate) fn delete(shared: &Shared, r: &Req<'_>, at: &At<'_>) -> Answer {
    let k = &KINDS[at.kind];
    let options: Value = if r.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(r.body)
            .map_err(|e| status::bad_request(&format!("invalid DeleteOptions: {e}")))?
    };
    let pre = |f: &str| {
        options
            .pointer(&format!("/preconditions/{f}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (pre_uid, pre_rv) = (pre("uid"), pre("resourceVersion"));
    shared.with_state(|st| {
        let old = st
            .get(at.kind, at.namespace, at.name)
            .ok_or_else(|| status::not_found(k, at.name))?;
        let uid = meta_str(&old, "uid").unwrap_or("");
        if let Some(p) = pre_uid.as_deref().filter(|p| *p != uid) {
            let why = format!("Precondition failed: UID in precondition: {p}, UID in object meta: {uid}");
            return Err(status::conflict_with(k, at.name, &why));
        }
        if let Some(p) = pre_rv.as_deref().filter(|p| *p != rv_of(&old)) {
            let why = format!(
                "Precondition failed: ResourceVersion in precondition: {p}, ResourceVersion in object meta: {}",
                rv_of(&old)
            );
            return Err(status::conflict_with(k, at.name, &why));
        }
        Ok(Reply::Json(200, delete_one(st, at.kind, &old).0))
    })
}

pub(crate) fn delete_collection(shared: &Shared, filter: Filter) -> Answer {
    let k = &KINDS[filter.kind];
    shared.with_state(|st| {
        let victims: Vec<Arc<Value>> = st
            .of_kind(filter.kind, filter.namespace.as_deref())
            .filter(|o| filter.matches(o))
            .cloned()
            .collect();
        let items: Vec<Value> = victims
            .iter()
            .map(|v| match delete_one(st, filter.kind, v) {
                (_, true) => (**v).clone(),
                (obj, false) => obj,
            })
            .collect();
        Ok(Reply::Json(
            200,
            json!({
                "kind": format!("{}List", k.kind),
                "apiVersion": k.api_version(),
                "metadata": {"resourceVersion": st.rv.to_string()},
                "items": items,
            }),
        ))
    })
}
