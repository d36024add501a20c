//! Project issues and their notes: list (filtered by labels and state), create, edit
//! (description, labels, `state_event` close/reopen) and comments, with GitLab's documented
//! parameters and answers (REST API v4 "Issues" and "Notes").

use serde_json::{Value, json};

use super::api::{msg, paginate, param_error};
use super::http::{Request, Response};
use super::params::Params;
use super::{State, now_rfc3339};

const MAX_DESCRIPTION_CHARS: usize = 1_048_576;
const MAX_TITLE_CHARS: usize = 255;

#[derive(Debug, Clone)]
pub struct Issue {
    pub iid: u64,
    pub title: String,
    pub description: String,
    /// `opened` or `closed`.
    pub state: String,
    pub labels: Vec<String>,
    pub assignee_ids: Vec<u64>,
    /// `issue` or `incident`.
    pub issue_type: String,
    pub created_at: String,
    /// The comments' bodies, oldest first (all written by the token's user).
    pub notes: Vec<String>,
    /// The comments' IDs, in the order of `notes`.
    pub note_ids: Vec<u64>,
}

fn issue_json(state: &State, i: &Issue) -> Value {
    json!({
        "id": 1000 + i.iid,
        "iid": i.iid,
        "project_id": state.opts.project_id,
        "title": i.title,
        "description": i.description,
        "state": i.state,
        "labels": i.labels,
        "assignees": i.assignee_ids.iter().map(|id| json!({"id": id, "username": state.username(*id)})).collect::<Vec<_>>(),
        "issue_type": i.issue_type,
        "type": i.issue_type.to_uppercase(),
        "created_at": i.created_at,
        "web_url": format!("{}/-/issues/{}", state.project_web_url(), i.iid),
    })
}

/// `GET /projects/:id/issues`: `labels` must all be present; `state` is `opened`, `closed`
/// or `all` (default); newest first (`order_by=created_at`, `sort=desc`); paged (`page`,
/// `per_page` default 20, at most 100, `x-next-page` and `Link` headers).
pub(crate) fn list(state: &State, req: &Request, p: &Params) -> Response {
    let labels = p.labels("labels").unwrap_or_default();
    let wanted = p.str("state").unwrap_or_else(|| "all".into());
    let store = state.store();
    let mut out: Vec<Value> = store
        .issues
        .iter()
        .filter(|i| labels.iter().all(|l| i.labels.contains(l)))
        .filter(|i| wanted == "all" || i.state == wanted)
        .map(|i| issue_json(state, i))
        .collect();
    out.reverse();
    drop(store);
    paginate(state, req, p, out)
}

/// `POST /projects/:id/issues`.
pub(crate) fn create(state: &State, p: &Params) -> Response {
    let Some(title) = p.str("title").filter(|t| !t.is_empty()) else {
        return param_error("title is missing");
    };
    if title.chars().count() > MAX_TITLE_CHARS {
        return msg(400, "title is too long (maximum is 255 characters)");
    }
    let description = p.str("description").unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return msg(
            400,
            "description is too long (maximum is 1048576 characters)",
        );
    }
    let issue_type = p.str("issue_type").unwrap_or_else(|| "issue".into());
    if !matches!(
        issue_type.as_str(),
        "issue" | "incident" | "test_case" | "task"
    ) {
        return param_error("issue_type does not have a valid value");
    }
    let mut store = state.store();
    let issue = Issue {
        iid: store.issues.len() as u64 + 1,
        title,
        description,
        state: "opened".into(),
        labels: p.labels("labels").unwrap_or_default(),
        assignee_ids: p.ids("assignee_ids").unwrap_or_default(),
        issue_type,
        created_at: now_rfc3339(),
        notes: Vec::new(),
        note_ids: Vec::new(),
    };
    let body = issue_json(state, &issue);
    store.issues.push(issue);
    Response::json(201, &body)
}

/// `PUT /projects/:id/issues/:iid`: `description`, `labels`, `state_event` (`close`,
/// `reopen`).
pub(crate) fn edit(state: &State, iid: u64, p: &Params) -> Response {
    let mut store = state.store();
    let Some(issue) = store.issues.iter_mut().find(|i| i.iid == iid) else {
        return msg(404, "404 Issue Not Found");
    };
    if let Some(d) = p.str("description") {
        issue.description = d;
    }
    if let Some(l) = p.labels("labels") {
        issue.labels = l;
    }
    match p.str("state_event").as_deref() {
        Some("close") => issue.state = "closed".into(),
        Some("reopen") => issue.state = "opened".into(),
        Some(_) => return param_error("state_event does not have a valid value"),
        None => {}
    }
    let body = issue_json(state, issue);
    Response::json(200, &body)
}

/// `POST /projects/:id/issues/:iid/notes`.
pub(crate) fn create_note(state: &State, iid: u64, p: &Params) -> Response {
    let Some(body) = p.str("body").filter(|b| !b.is_empty()) else {
        return param_error("body is missing");
    };
    let mut store = state.store();
    let id = store.next_note_id;
    store.next_note_id += 1;
    let Some(issue) = store.issues.iter_mut().find(|i| i.iid == iid) else {
        return msg(404, "404 Issue Not Found");
    };
    issue.notes.push(body.clone());
    issue.note_ids.push(id);
    Response::json(
        201,
        &json!({"id": id, "body": body, "noteable_type": "Issue", "noteable_iid": iid, "system": false, "author": {"id": state.opts.bot_user_id}}),
    )
}

/// `GET /projects/:id/issues/:iid/notes`: oldest first with `sort=asc` (GitLab's default is
/// newest first), paged.
pub(crate) fn list_notes(state: &State, req: &Request, iid: u64, p: &Params) -> Response {
    let store = state.store();
    let Some(issue) = store.issues.iter().find(|i| i.iid == iid) else {
        return msg(404, "404 Issue Not Found");
    };
    let mut out: Vec<Value> = issue
        .notes
        .iter()
        .zip(&issue.note_ids)
        .map(|(body, id)| note_json(state, iid, *id, body))
        .collect();
    drop(store);
    if p.str("sort").as_deref() != Some("asc") {
        out.reverse();
    }
    paginate(state, req, p, out)
}

/// `DELETE /projects/:id/issues/:iid/notes/:note_id`: 204, or 404 when it is not there.
pub(crate) fn delete_note(state: &State, iid: u64, note_id: u64) -> Response {
    let mut store = state.store();
    let Some(issue) = store.issues.iter_mut().find(|i| i.iid == iid) else {
        return msg(404, "404 Issue Not Found");
    };
    let Some(at) = issue.note_ids.iter().position(|id| *id == note_id) else {
        return msg(404, "404 Note Not Found");
    };
    issue.notes.remove(at);
    issue.note_ids.remove(at);
    Response {
        status: 204,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn note_json(state: &State, iid: u64, id: u64, body: &str) -> Value {
    let bot = state.opts.bot_user_id;
    json!({
        "id": id,
        "body": body,
        "noteable_type": "Issue",
        "noteable_iid": iid,
        "system": false,
        "author": {"id": bot, "username": state.username(bot)},
        "created_at": "2026-01-02T03:04:05.678Z",
    })
}
