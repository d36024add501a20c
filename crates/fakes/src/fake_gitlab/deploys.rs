//! The endpoints behind `sync`: merge requests related to a commit and deployment records.
//!
//! `GET /projects/:id/repository/commits/:sha/merge_requests` lists, as GitLab's
//! `MergeRequest.by_related_commit` does, every merge request whose merge or squash commit
//! is `sha` or whose diff versions contain it (`git rev-list base..head`). An unknown
//! commit is 404 `404 Commit Not Found`.
//!
//! `POST /projects/:id/deployments` (environment, sha, ref, tag, status — all required,
//! status one of running/success/failed/canceled) creates the environment on first use and
//! answers 201; `PUT /projects/:id/deployments/:id` (status) answers 200; `finished_at` is
//! set when the status turns success, failed or canceled. Deployments live in memory;
//! [`super::FakeGitlab::deployments`] lists them for assertions.
//!
//! `GET /projects/:id/deployments` filters by `environment` and `status` and orders by
//! `order_by` (id, iid, created_at, updated_at, finished_at; default id) and `sort` (asc,
//! default, or desc), paginated. It refuses with 400, as GitLab's `DeploymentsFinder`
//! does: an unknown `order_by`, `sort` or `status`; `updated_after`/`updated_before`
//! without `order_by=updated_at`; `finished_after`/`finished_before` without
//! `order_by=finished_at` and `status=success`; `order_by=finished_at` without a finished
//! filter or a status of success, failed or canceled; updated and finished filters
//! together. (The time filters themselves are validated, not applied.)

use serde_json::{Value, json};

use super::api::{Heads, mr_json, msg, paginate, param_error};
use super::http::{Request, Response};
use super::params::Params;
use super::{Deployment, State, now_ms, rfc3339};

const STATUSES: &[&str] = &[
    "created", "running", "success", "failed", "canceled", "skipped", "blocked",
];

/// The statuses that end a deployment (and set `finished_at`).
const FINISHED: &[&str] = &["success", "failed", "canceled"];

const ORDER_BY: &[&str] = &["id", "iid", "created_at", "updated_at", "finished_at"];

pub(crate) fn commit_merge_requests(state: &State, sha: &str) -> Response {
    let Some(full) = state.repo.resolve_commit(sha) else {
        return msg(404, "404 Commit Not Found");
    };
    let mut heads = Heads::read(state);
    let store = state.store();
    let related: Vec<Value> = store
        .mrs
        .iter()
        .filter(|m| {
            m.merge_commit_sha.as_deref() == Some(full.as_str())
                || m.squash_commit_sha.as_deref() == Some(full.as_str())
                || m.versions.iter().any(|v| {
                    state
                        .repo
                        .run_str(&["rev-list", &format!("{}..{}", v.base, v.head)])
                        .is_ok_and(|list| list.lines().any(|l| l == full))
                })
        })
        .map(|m| mr_json(state, m, &mut heads))
        .collect();
    Response::json(200, &Value::Array(related))
}

pub(crate) fn create_deployment(state: &State, p: &Params) -> Response {
    let field = |k: &str| p.str(k).filter(|v| !v.is_empty());
    let (Some(environment), Some(sha), Some(ref_), Some(status)) = (
        field("environment"),
        field("sha"),
        field("ref"),
        field("status"),
    ) else {
        return param_error("environment, sha, ref, tag, status are missing");
    };
    if p.bool("tag").is_none() {
        return param_error("tag is missing");
    }
    if !STATUSES.contains(&status.as_str()) {
        return param_error("status does not have a valid value");
    }
    let id = record(state, &environment, &sha, &ref_, &status);
    let store = state.store();
    match store.deployments.iter().find(|d| d.id == id) {
        Some(d) => Response::json(201, &deployment_json(d)),
        None => msg(500, "500 Internal Server Error"),
    }
}

/// Stores a new deployment record; returns its id.
pub(crate) fn record(state: &State, environment: &str, sha: &str, ref_: &str, status: &str) -> u64 {
    let now = now_ms();
    let mut store = state.store();
    store.next_deployment_id += 1;
    let id = store.next_deployment_id;
    store.deployments.push(Deployment {
        id,
        environment: environment.to_string(),
        sha: sha.to_string(),
        ref_: ref_.to_string(),
        status: status.to_string(),
        created_at: now,
        updated_at: now,
        finished_at: FINISHED.contains(&status).then_some(now),
    });
    id
}

pub(crate) fn list_deployments(state: &State, req: &Request, p: &Params) -> Response {
    let given = |k: &str| p.str(k).filter(|v| !v.is_empty());
    let order_by = given("order_by").unwrap_or_else(|| "id".into());
    if !ORDER_BY.contains(&order_by.as_str()) {
        return param_error("order_by does not have a valid value");
    }
    let sort = given("sort").unwrap_or_else(|| "asc".into());
    if sort != "asc" && sort != "desc" {
        return param_error("sort does not have a valid value");
    }
    let status = given("status");
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return param_error("status does not have a valid value");
    }
    let updated = given("updated_after").is_some() || given("updated_before").is_some();
    let finished = given("finished_after").is_some() || given("finished_before").is_some();
    if updated && finished {
        return param_error(
            "Both `updated_at` filter and `finished_at` filter can not be specified",
        );
    }
    if updated && order_by != "updated_at" {
        return param_error("`updated_at` filter requires `updated_at` sort");
    }
    if finished && (order_by != "finished_at" || status.as_deref() != Some("success")) {
        return param_error(
            "`finished_at` filter requires `finished_at` sort and `success` status",
        );
    }
    if order_by == "finished_at"
        && !finished
        && !status.as_deref().is_some_and(|s| FINISHED.contains(&s))
    {
        return param_error(
            "`finished_at` sort requires `finished_at` filter or a filter with at least one of the finished statuses",
        );
    }
    let environment = given("environment");
    let mut found: Vec<Deployment> = state
        .store()
        .deployments
        .iter()
        .filter(|d| environment.as_deref().is_none_or(|e| d.environment == e))
        .filter(|d| status.as_deref().is_none_or(|s| d.status == s))
        .cloned()
        .collect();
    // Ties (and a missing finished_at) fall back to the id, as GitLab's secondary order.
    found.sort_by_key(|d| match order_by.as_str() {
        "created_at" => (d.created_at, d.id),
        "updated_at" => (d.updated_at, d.id),
        "finished_at" => (d.finished_at.unwrap_or(0), d.id),
        _ => (d.id, d.id),
    });
    if sort == "desc" {
        found.reverse();
    }
    let items = found.iter().map(deployment_json).collect();
    paginate(state, req, p, items)
}

pub(crate) fn update_deployment(state: &State, id: u64, p: &Params) -> Response {
    let Some(status) = p.str("status").filter(|s| STATUSES.contains(&s.as_str())) else {
        return param_error("status does not have a valid value");
    };
    let mut store = state.store();
    let Some(d) = store.deployments.iter_mut().find(|d| d.id == id) else {
        return msg(404, "404 Not found");
    };
    let now = now_ms();
    d.updated_at = now;
    if FINISHED.contains(&status.as_str()) {
        d.finished_at = Some(now);
    }
    d.status = status;
    Response::json(200, &deployment_json(d))
}

pub(crate) fn deployment_json(d: &Deployment) -> Value {
    json!({
        "id": d.id,
        "iid": d.id,
        "ref": d.ref_,
        "sha": d.sha,
        "status": d.status,
        "created_at": rfc3339(d.created_at),
        "updated_at": rfc3339(d.updated_at),
        "finished_at": d.finished_at.map(rfc3339),
        "environment": {"name": d.environment},
    })
}
