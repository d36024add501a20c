//! Project issues and their notes: list (filtered by labels and state), get, create, edit
//! (description, labels, `state_event` close/reopen), comments (list, get, create) and emoji
//! reactions on comments, with GitLab's documented parameters and answers (REST API v4
//! "Issues", "Notes" and "Emoji reactions").

use serde_json::{Value, json};

use super::api::{msg, not_found, paginate, param_error, user_json};
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
    /// The bodies of its comments, oldest first (see `thread` for who wrote them).
    pub notes: Vec<String>,
    /// Who opened it.
    pub author_id: u64,
    /// Its comments with their ids and authors, oldest first (bodies as in `notes`).
    pub thread: Vec<IssueNote>,
    /// Emoji reactions on its comments.
    pub awards: Vec<IssueAward>,
}

#[derive(Debug, Clone)]
pub struct IssueNote {
    pub id: u64,
    pub body: String,
    pub author_id: u64,
    pub system: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct IssueAward {
    pub id: u64,
    pub name: String,
    pub user_id: u64,
    pub note_id: u64,
    pub created_at: String,
}

/// Adds a comment by `author_id` to issue #`iid`; its id, `None` when there is no such issue.
pub(crate) fn push_note(state: &State, iid: u64, author_id: u64, body: &str) -> Option<u64> {
    let mut store = state.store();
    let id = store.next_note_id;
    let issue = store.issues.iter_mut().find(|i| i.iid == iid)?;
    let now = now_rfc3339();
    issue.notes.push(body.to_string());
    issue.thread.push(IssueNote {
        id,
        body: body.to_string(),
        author_id,
        system: false,
        created_at: now.clone(),
        updated_at: now,
    });
    store.next_note_id += 1;
    Some(id)
}

fn note_json(state: &State, iid: u64, n: &IssueNote) -> Value {
    json!({
        "id": n.id,
        "type": null,
        "body": n.body,
        "attachment": null,
        "author": user_json(state, n.author_id, false),
        "created_at": n.created_at,
        "updated_at": n.updated_at,
        "system": n.system,
        "noteable_id": 1000 + iid,
        "noteable_type": "Issue",
        "noteable_iid": iid,
        "project_id": state.opts.project_id,
        "resolvable": false,
        "confidential": false,
        "internal": false,
    })
}

/// `GET /projects/:id/issues/:iid`.
pub(crate) fn get(state: &State, iid: u64) -> Response {
    let store = state.store();
    match store.issues.iter().find(|i| i.iid == iid) {
        Some(i) => Response::json(200, &issue_json(state, i)),
        None => msg(404, "404 Issue Not Found"),
    }
}

/// `GET /projects/:id/issues/:iid/notes`: `order_by` `created_at` (default) or
/// `updated_at`, `sort` `desc` (default) or `asc`; paginated.
pub(crate) fn list_notes(state: &State, req: &Request, iid: u64, p: &Params) -> Response {
    let order_by = p.str("order_by").unwrap_or_else(|| "created_at".into());
    if order_by != "created_at" && order_by != "updated_at" {
        return param_error("order_by does not have a valid value");
    }
    let sort = p.str("sort").unwrap_or_else(|| "desc".into());
    if sort != "asc" && sort != "desc" {
        return param_error("sort does not have a valid value");
    }
    let store = state.store();
    let Some(issue) = store.issues.iter().find(|i| i.iid == iid) else {
        return msg(404, "404 Issue Not Found");
    };
    let mut notes: Vec<&IssueNote> = issue.thread.iter().collect();
    notes.sort_by(|a, b| {
        if order_by == "updated_at" {
            a.updated_at.cmp(&b.updated_at)
        } else {
            a.created_at.cmp(&b.created_at)
        }
    });
    if sort == "desc" {
        notes.reverse();
    }
    let items: Vec<Value> = notes.iter().map(|n| note_json(state, iid, n)).collect();
    drop(store);
    paginate(state, req, p, items)
}

/// `GET /projects/:id/issues/:iid/notes/:note_id`.
pub(crate) fn get_note(state: &State, iid: u64, note_id: u64) -> Response {
    let store = state.store();
    let Some(issue) = store.issues.iter().find(|i| i.iid == iid) else {
        return msg(404, "404 Issue Not Found");
    };
    match issue.thread.iter().find(|n| n.id == note_id) {
        Some(n) => Response::json(200, &note_json(state, iid, n)),
        None => msg(404, "404 Note Not Found"),
    }
}

fn award_json(state: &State, a: &IssueAward) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "user": user_json(state, a.user_id, false),
        "created_at": a.created_at,
        "updated_at": a.created_at,
        "awardable_id": a.note_id,
        "awardable_type": "Note",
        "url": null,
    })
}

/// Adds `user`'s reaction `name` to a comment of issue #`iid`: GitLab keeps one per user,
/// name and comment ("Name has already been taken").
pub(crate) fn add_award(
    state: &State,
    iid: u64,
    note_id: u64,
    user: u64,
    name: &str,
) -> Result<u64, String> {
    let name = super::awards::normalize(name);
    if !super::awards::valid_name(&name) {
        return Err("Name is not a valid emoji name".into());
    }
    let mut store = state.store();
    let id = store.next_award_id;
    let issue = store
        .issues
        .iter_mut()
        .find(|i| i.iid == iid)
        .ok_or("404 Issue Not Found")?;
    if !issue.thread.iter().any(|n| n.id == note_id) {
        return Err("404 Not found".into());
    }
    if issue
        .awards
        .iter()
        .any(|a| a.note_id == note_id && a.user_id == user && a.name == name)
    {
        return Err("Name has already been taken".into());
    }
    issue.awards.push(IssueAward {
        id,
        name: name.to_string(),
        user_id: user,
        note_id,
        created_at: now_rfc3339(),
    });
    store.next_award_id += 1;
    Ok(id)
}

/// Every `.../issues/:iid/notes/:note_id/award_emoji[/:award_id]`, as for merge requests
/// (see `awards.rs`).
pub(crate) fn awards(
    state: &State,
    req: &Request,
    iid: u64,
    note_id: u64,
    award: Option<&str>,
    p: &Params,
) -> Response {
    let award = match award.map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return not_found(),
    };
    let bot = state.opts.bot_user_id;
    match (req.method.as_str(), award) {
        ("GET" | "HEAD", None) => {
            let store = state.store();
            let Some(issue) = store.issues.iter().find(|i| i.iid == iid) else {
                return msg(404, "404 Issue Not Found");
            };
            if !issue.thread.iter().any(|n| n.id == note_id) {
                return msg(404, "404 Not found");
            }
            let items: Vec<Value> = issue
                .awards
                .iter()
                .filter(|a| a.note_id == note_id)
                .map(|a| award_json(state, a))
                .collect();
            drop(store);
            paginate(state, req, p, items)
        }
        ("POST", None) => {
            let Some(name) = p.str("name") else {
                return param_error("name is missing");
            };
            match add_award(state, iid, note_id, bot, &name) {
                Ok(id) => {
                    let store = state.store();
                    let a = store
                        .issues
                        .iter()
                        .flat_map(|i| &i.awards)
                        .find(|a| a.id == id)
                        .map(|a| award_json(state, a))
                        .unwrap_or(Value::Null);
                    Response::json(201, &a)
                }
                Err(e) if e.starts_with("404") => msg(404, &e),
                Err(e) => msg(404, &format!("404 Award Emoji {e} Not Found")),
            }
        }
        ("GET" | "HEAD", Some(aid)) => {
            let store = state.store();
            match store
                .issues
                .iter()
                .filter(|i| i.iid == iid)
                .flat_map(|i| &i.awards)
                .find(|a| a.id == aid && a.note_id == note_id)
            {
                Some(a) => Response::json(200, &award_json(state, a)),
                None => msg(404, "404 Not found"),
            }
        }
        ("DELETE", Some(aid)) => {
            let mut store = state.store();
            let Some(issue) = store.issues.iter_mut().find(|i| i.iid == iid) else {
                return msg(404, "404 Issue Not Found");
            };
            match issue
                .awards
                .iter()
                .position(|a| a.id == aid && a.note_id == note_id)
            {
                Some(i) if issue.awards[i].user_id != bot => msg(401, "401 Unauthorized"),
                Some(i) => {
                    issue.awards.remove(i);
                    Response {
                        status: 204,
                        headers: Vec::new(),
                        body: Vec::new(),
                    }
                }
                None => msg(404, "404 Not found"),
            }
        }
        _ => not_found(),
    }
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
        "author": user_json(state, i.author_id, false),
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
        author_id: state.opts.bot_user_id,
        thread: Vec::new(),
        awards: Vec::new(),
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

/// `POST /projects/:id/issues/:iid/notes` (by the token's user, the bot).
pub(crate) fn create_note(state: &State, iid: u64, p: &Params) -> Response {
    let Some(body) = p.str("body").filter(|b| !b.is_empty()) else {
        return param_error("body is missing");
    };
    let Some(id) = push_note(state, iid, state.opts.bot_user_id, &body) else {
        return msg(404, "404 Issue Not Found");
    };
    let store = state.store();
    let note = store
        .issues
        .iter()
        .find(|i| i.iid == iid)
        .and_then(|i| i.thread.iter().find(|n| n.id == id))
        .map(|n| note_json(state, iid, n))
        .unwrap_or(Value::Null);
    Response::json(201, &note)
}

/// `DELETE /projects/:id/issues/:iid/notes/:note_id`: 204, or 404 when it is not there.
pub(crate) fn delete_note(state: &State, iid: u64, note_id: u64) -> Response {
    let mut store = state.store();
    let Some(issue) = store.issues.iter_mut().find(|i| i.iid == iid) else {
        return msg(404, "404 Issue Not Found");
    };
    let Some(at) = issue.thread.iter().position(|n| n.id == note_id) else {
        return msg(404, "404 Note Not Found");
    };
    issue.thread.remove(at);
    issue.notes.remove(at);
    Response {
        status: 204,
        headers: Vec::new(),
        body: Vec::new(),
    }
}
