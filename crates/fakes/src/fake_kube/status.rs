//! `Status` objects: how the API server reports failures.
//!
//! Simulates the JSON body (`kind: Status`, `apiVersion: v1`, `metadata: {}`,
//! `status: Failure`, `message`, `reason`, `details {name, group, kind}`,
//! `code`) and the message wording of the errors kube-rs callers branch on:
//! 401 Unauthorized, 403 Forbidden, 404 NotFound, 405 MethodNotAllowed,
//! 409 Conflict / AlreadyExists, 410 Expired, 415 UnsupportedMediaType,
//! 422 Invalid, 400 BadRequest.
//!
//! Does not simulate: `details.causes` beyond the single cause of an
//! `Invalid` error, `retryAfterSeconds`, or 429/5xx answers.

use serde_json::{Map, Value, json};

use super::kinds::Kind;

/// An error answer: HTTP status code and its `Status` body.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub code: u16,
    pub body: Value,
}

pub(crate) fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> ApiError {
    let mut body = Map::new();
    body.insert("kind".into(), json!("Status"));
    body.insert("apiVersion".into(), json!("v1"));
    body.insert("metadata".into(), json!({}));
    body.insert("status".into(), json!("Failure"));
    body.insert("message".into(), json!(message));
    body.insert("reason".into(), json!(reason));
    if let Some(details) = details {
        body.insert("details".into(), details);
    }
    body.insert("code".into(), json!(code));
    ApiError {
        code,
        body: Value::Object(body),
    }
}

/// `details` as the API server fills it: `kind` is the plural resource name.
pub(crate) fn details(kind: &Kind, name: Option<&str>) -> Value {
    let mut d = Map::new();
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        d.insert("name".into(), json!(name));
    }
    if !kind.group.is_empty() {
        d.insert("group".into(), json!(kind.group));
    }
    d.insert("kind".into(), json!(kind.plural));
    Value::Object(d)
}

pub(crate) fn unauthorized() -> ApiError {
    status(401, "Unauthorized", "Unauthorized", None)
}

/// `applications.argoproj.io "x" not found`
pub(crate) fn not_found(kind: &Kind, name: &str) -> ApiError {
    let msg = format!("{} \"{name}\" not found", kind.qualified_plural());
    status(404, "NotFound", &msg, Some(details(kind, Some(name))))
}

/// An unknown path.
pub(crate) fn no_route() -> ApiError {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

pub(crate) fn method_not_allowed() -> ApiError {
    status(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        Some(json!({})),
    )
}

/// The optimistic-concurrency conflict of a stale `metadata.resourceVersion`.
pub(crate) fn conflict(kind: &Kind, name: &str) -> ApiError {
    conflict_with(
        kind,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )
}

/// `Operation cannot be fulfilled on <resource> "<name>": <why>`
pub(crate) fn conflict_with(kind: &Kind, name: &str, why: &str) -> ApiError {
    let msg = format!(
        "Operation cannot be fulfilled on {} \"{name}\": {why}",
        kind.qualified_plural()
    );
    status(409, "Conflict", &msg, Some(details(kind, Some(name))))
}

pub(crate) fn already_exists(kind: &Kind, name: &str) -> ApiError {
    let msg = format!("{} \"{name}\" already exists", kind.qualified_plural());
    status(409, "AlreadyExists", &msg, Some(details(kind, Some(name))))
}

pub(crate) fn bad_request(message: &str) -> ApiError {
    status(400, "BadRequest", message, None)
}

/// `410 Expired` as sent inside a watch `ERROR` event or for a stale
/// `continue` token.
pub(crate) fn expired(message: &str) -> ApiError {
    status(410, "Expired", message, None)
}

pub(crate) fn unsupported_media_type(content_type: &str) -> ApiError {
    let msg = format!(
        "the body of the request was in an unknown format ({content_type:?}) - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    status(415, "UnsupportedMediaType", &msg, Some(json!({})))
}

/// `422 Invalid` naming one field: `<Kind>.<group> "<name>" is invalid: <field>: <detail>`.
pub(crate) fn invalid(
    group: &str,
    qualified_kind: &str,
    kind: &str,
    name: &str,
    field: &str,
    cause_reason: &str,
    detail: &str,
) -> ApiError {
    let msg = format!("{qualified_kind} \"{name}\" is invalid: {field}: {detail}");
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !group.is_empty() {
        d.insert("group".into(), json!(group));
    }
    d.insert("kind".into(), json!(kind));
    d.insert(
        "causes".into(),
        json!([{"reason": cause_reason, "message": detail, "field": field}]),
    );
    status(422, "Invalid", &msg, Some(Value::Object(d)))
}

/// `422 Invalid` about one field of a served kind.
pub(crate) fn invalid_object(
    kind: &Kind,
    name: &str,
    field: &str,
    cause_reason: &str,
    detail: &str,
) -> ApiError {
    invalid(
        kind.group,
        &kind.qualified_kind(),
        kind.kind,
        name,
        field,
        cause_reason,
        detail,
    )
}

/// The success `Status` answered for an immediate delete.
pub(crate) fn deleted(kind: &Kind, name: &str, uid: &str) -> Value {
    let mut d = details(kind, Some(name));
    if !uid.is_empty() {
        d["uid"] = json!(uid);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": d
    })
}
