//! The endpoints behind `sync`: merge requests related to a commit and deployment records.
//!
//! `GET /projects/:id/repository/commits/:sha/merge_requests` lists, as GitLab's
//! `MergeRequest.by_related_commit` does, every merge request whose merge or squash commit
//! is `sha` or whose diff versions contain it (`git rev-list base..head`). An unknown
//! commit is 404 `404 Commit Not Found`.
//!
//! `POST /projects/:id/deployments` (environment, sha, ref, tag, status — all required,
//! status one of running/success/failed/canceled) creates the environment on first use and
//! answers 201; `PUT /projects/:id/deployments/:id` (status) answers 200. Deployments live
//! in memory; [`super::FakeGitlab::deployments`] lists them for assertions.

use serde_json::{Value, json};

use super::api::{Heads, mr_json, msg, param_error};
use super::http::Response;
use super::params::Params;
use super::{Deployment, State, now_rfc3339};

const STATUSES: &[&str] = &[
    "created", "running", "success", "failed", "canceled", "blocked",
];

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
    let mut store = state.store();
    store.next_deployment_id += 1;
    let d = Deployment {
        id: store.next_deployment_id,
        environment,
        sha,
        ref_,
        status,
        created_at: now_rfc3339(),
    };
    let body = deployment_json(&d);
    store.deployments.push(d);
    Response::json(201, &body)
}

pub(crate) fn update_deployment(state: &State, id: u64, p: &Params) -> Response {
    let Some(status) = p.str("status").filter(|s| STATUSES.contains(&s.as_str())) else {
        return param_error("status does not have a valid value");
    };
    let mut store = state.store();
    let Some(d) = store.deployments.iter_mut().find(|d| d.id == id) else {
        return msg(404, "404 Not found");
    };
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
        "created_at": d.created_at,
        "environment": {"name": d.environment},
    })
}
