//! Routing and the endpoints. Status codes and bodies follow GitLab's REST
//! API v4 (see the report / comments for where they come from).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::git::{self, Change};
use super::http::{Request, Response};
use super::params::Params;
use super::{Mr, Note, State, awards, commits, deploys, groups, issues, merge, now_rfc3339};

const MAX_DESCRIPTION_CHARS: usize = 1_048_576;
const MAX_NOTE_CHARS: usize = 1_000_000;
const MAX_TITLE_CHARS: usize = 255;

pub(crate) fn msg(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "message": message }))
}

/// Grape parameter validation errors use `error`, not `message`.
pub(crate) fn param_error(error: &str) -> Response {
    Response::json(400, &json!({ "error": error }))
}

pub(crate) fn not_found() -> Response {
    msg(404, "404 Not Found")
}

enum Route {
    User,
    Users,
    Project,
    Branch(String),
    Archive(&'static str),
    CreateCommit,
    ListMrs,
    CreateMr,
    GetMr(String),
    UpdateMr(String),
    ListNotes(String),
    CreateNote(String),
    GetNote(String, String),
    UpdateNote(String, String),
    Member(String),
    DirectMember(String),
    Merge(String),
    CancelAutoMerge(String),
    Versions(String),
    Approvals(String),
    /// A file's raw content (path decoded).
    FileRaw(String),
    /// MR iid, note id (for a note's reactions), award id.
    Awards(String, Option<String>, Option<String>),
    CommitMergeRequests(String),
    CreateDeployment,
    ListDeployments,
    UpdateDeployment(String),
    Commit(String),
    CommitDiff(String),
    MrCommits(String),
    Compare,
    ListIssues,
    GroupProjects(String),
    CreateIssue,
    EditIssue(String),
    CreateIssueNote(String),
    GetIssue(String),
    ListIssueNotes(String),
    GetIssueNote(String, String),
    DeleteIssueNote(String, String),
    IssueNoteAwards(String, String, Option<String>),
}

fn route(method: &str, segs: &[String]) -> Option<(Route, Option<String>)> {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let get = method == "GET" || method == "HEAD";
    let r = match s.as_slice() {
        ["user"] if get => (Route::User, None),
        ["users"] if get => (Route::Users, None),
        ["projects", id] if get => (Route::Project, Some(id.to_string())),
        ["groups", group, "projects"] if get => (Route::GroupProjects(group.to_string()), None),
        ["projects", id, "repository", "branches", rest @ ..] if get && !rest.is_empty() => {
            (Route::Branch(rest.join("/")), Some(id.to_string()))
        }
        ["projects", id, "repository", a] if get && (*a == "archive" || *a == "archive.tar.gz") => {
            (Route::Archive("tar.gz"), Some(id.to_string()))
        }
        ["projects", id, "repository", "archive.tar"] if get => {
            (Route::Archive("tar"), Some(id.to_string()))
        }
        ["projects", id, "repository", "commits"] if method == "POST" => {
            (Route::CreateCommit, Some(id.to_string()))
        }
        ["projects", id, "merge_requests"] if get => (Route::ListMrs, Some(id.to_string())),
        ["projects", id, "issues"] if get => (Route::ListIssues, Some(id.to_string())),
        ["projects", id, "issues"] if method == "POST" => {
            (Route::CreateIssue, Some(id.to_string()))
        }
        ["projects", id, "issues", iid] if method == "PUT" => {
            (Route::EditIssue(iid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "issues", iid] if get => {
            (Route::GetIssue(iid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "issues", iid, "notes"] if get => {
            (Route::ListIssueNotes(iid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "issues", iid, "notes", nid] if get => (
            Route::GetIssueNote(iid.to_string(), nid.to_string()),
            Some(id.to_string()),
        ),
        ["projects", id, "issues", iid, "notes", nid, "award_emoji"] if get || method == "POST" => {
            (
                Route::IssueNoteAwards(iid.to_string(), nid.to_string(), None),
                Some(id.to_string()),
            )
        }
        [
            "projects",
            id,
            "issues",
            iid,
            "notes",
            nid,
            "award_emoji",
            aid,
        ] if get || method == "DELETE" => (
            Route::IssueNoteAwards(iid.to_string(), nid.to_string(), Some(aid.to_string())),
            Some(id.to_string()),
        ),
        ["projects", id, "issues", iid, "notes", nid] if method == "DELETE" => (
            Route::DeleteIssueNote(iid.to_string(), nid.to_string()),
            Some(id.to_string()),
        ),
        ["projects", id, "issues", iid, "notes"] if method == "POST" => (
            Route::CreateIssueNote(iid.to_string()),
            Some(id.to_string()),
        ),
        ["projects", id, "merge_requests"] if method == "POST" => {
            (Route::CreateMr, Some(id.to_string()))
        }
        ["projects", id, "merge_requests", iid] if get => {
            (Route::GetMr(iid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "merge_requests", iid] if method == "PUT" => {
            (Route::UpdateMr(iid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "merge_requests", iid, "notes"] if get => {
            (Route::ListNotes(iid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "merge_requests", iid, "notes"] if method == "POST" => {
            (Route::CreateNote(iid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "merge_requests", iid, "notes", nid] if get => (
            Route::GetNote(iid.to_string(), nid.to_string()),
            Some(id.to_string()),
        ),
        ["projects", id, "merge_requests", iid, "notes", nid] if method == "PUT" => (
            Route::UpdateNote(iid.to_string(), nid.to_string()),
            Some(id.to_string()),
        ),
        ["projects", id, "members", "all", uid] if get => {
            (Route::Member(uid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "members", uid] if get && *uid != "all" => {
            (Route::DirectMember(uid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "merge_requests", iid, "merge"] if method == "PUT" => {
            (Route::Merge(iid.to_string()), Some(id.to_string()))
        }
        [
            "projects",
            id,
            "merge_requests",
            iid,
            "cancel_merge_when_pipeline_succeeds",
        ] if method == "POST" => (
            Route::CancelAutoMerge(iid.to_string()),
            Some(id.to_string()),
        ),
        [
            "projects",
            id,
            "repository",
            "commits",
            sha,
            "merge_requests",
        ] if get => (
            Route::CommitMergeRequests(sha.to_string()),
            Some(id.to_string()),
        ),
        ["projects", id, "repository", "commits", sha, "diff"] if get => {
            (Route::CommitDiff(sha.to_string()), Some(id.to_string()))
        }
        ["projects", id, "repository", "commits", sha] if get => {
            (Route::Commit(sha.to_string()), Some(id.to_string()))
        }
        ["projects", id, "repository", "compare"] if get => (Route::Compare, Some(id.to_string())),
        ["projects", id, "merge_requests", iid, "commits"] if get => {
            (Route::MrCommits(iid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "deployments"] if method == "POST" => {
            (Route::CreateDeployment, Some(id.to_string()))
        }
        ["projects", id, "deployments"] if get => (Route::ListDeployments, Some(id.to_string())),
        ["projects", id, "deployments", did] if method == "PUT" => (
            Route::UpdateDeployment(did.to_string()),
            Some(id.to_string()),
        ),
        ["projects", id, "repository", "files", path, "raw"] if get => {
            (Route::FileRaw(path.to_string()), Some(id.to_string()))
        }
        ["projects", id, "merge_requests", iid, "approvals"] if get => {
            (Route::Approvals(iid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "merge_requests", iid, "versions"] if get => {
            (Route::Versions(iid.to_string()), Some(id.to_string()))
        }
        ["projects", id, "merge_requests", iid, "award_emoji"] if get || method == "POST" => (
            Route::Awards(iid.to_string(), None, None),
            Some(id.to_string()),
        ),
        ["projects", id, "merge_requests", iid, "award_emoji", aid]
            if get || method == "DELETE" =>
        {
            (
                Route::Awards(iid.to_string(), None, Some(aid.to_string())),
                Some(id.to_string()),
            )
        }
        [
            "projects",
            id,
            "merge_requests",
            iid,
            "notes",
            nid,
            "award_emoji",
        ] if get || method == "POST" => (
            Route::Awards(iid.to_string(), Some(nid.to_string()), None),
            Some(id.to_string()),
        ),
        [
            "projects",
            id,
            "merge_requests",
            iid,
            "notes",
            nid,
            "award_emoji",
            aid,
        ] if get || method == "DELETE" => (
            Route::Awards(
                iid.to_string(),
                Some(nid.to_string()),
                Some(aid.to_string()),
            ),
            Some(id.to_string()),
        ),
        _ => return None,
    };
    Some(r)
}

/// Handles one request; the bool is false when no endpoint matched.
pub fn handle(state: &State, req: &Request) -> (Response, bool) {
    let Some(rest) = req.path.strip_prefix("/api/v4/") else {
        return (not_found(), false);
    };
    let segs: Vec<String> = rest
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let Some((route, project)) = route(&req.method, &segs) else {
        return (not_found(), false);
    };
    if let Some(resp) = authenticate(state, req) {
        return (resp, true);
    }
    if let Some(p) = project {
        let by_id = p.parse::<u64>().ok() == Some(state.opts.project_id);
        if !by_id && p != state.opts.project_path {
            if let (Route::Project, Some(other)) = (&route, groups::other_project(state, &p)) {
                return (
                    Response::json(200, &groups::other_project_json(state, other)),
                    true,
                );
            }
            return (msg(404, "404 Project Not Found"), true);
        }
    }
    let params = match Params::parse(req.header("content-type"), &req.body, &req.query) {
        Ok(p) => p,
        Err(_) => {
            return (
                param_error("The provided content-type is not supported."),
                true,
            );
        }
    };
    let resp = match route {
        Route::User => Response::json(200, &user_json(state, state.opts.bot_user_id, true)),
        Route::Users => users(state, &params),
        Route::Project => Response::json(200, &project_json(state)),
        Route::Branch(b) => branch(state, &b),
        Route::Archive(fmt) => archive(state, &params, fmt),
        Route::CreateCommit => create_commit(state, &params),
        Route::ListMrs => list_mrs(state, req, &params),
        Route::CreateMr => create_mr(state, &params),
        Route::GetMr(iid) => with_iid(&iid, |iid| get_mr(state, iid)),
        Route::UpdateMr(iid) => with_iid(&iid, |iid| update_mr(state, iid, &params)),
        Route::ListNotes(iid) => with_iid(&iid, |iid| list_notes(state, req, iid, &params)),
        Route::CreateNote(iid) => with_iid(&iid, |iid| create_note(state, iid, &params)),
        Route::GetNote(iid, nid) => {
            with_iid(&iid, |iid| with_iid(&nid, |nid| get_note(state, iid, nid)))
        }
        Route::UpdateNote(iid, nid) => with_iid(&iid, |iid| {
            with_iid(&nid, |nid| update_note(state, iid, nid, &params))
        }),
        Route::Member(uid) => with_iid(&uid, |uid| member(state, uid, true)),
        Route::DirectMember(uid) => with_iid(&uid, |uid| member(state, uid, false)),
        Route::Merge(iid) => with_iid(&iid, |iid| merge::merge_endpoint(state, iid, &params)),
        Route::CancelAutoMerge(iid) => with_iid(&iid, |iid| merge::cancel_endpoint(state, iid)),
        Route::Versions(iid) => with_iid(&iid, |iid| {
            merge::versions_endpoint(state, req, iid, &params)
        }),
        Route::Approvals(iid) => with_iid(&iid, |iid| approvals(state, iid)),
        Route::FileRaw(path) => file_raw(state, &path, &params),
        Route::CommitMergeRequests(sha) => deploys::commit_merge_requests(state, &sha),
        Route::CreateDeployment => deploys::create_deployment(state, &params),
        Route::ListDeployments => deploys::list_deployments(state, req, &params),
        Route::UpdateDeployment(id) => {
            with_iid(&id, |id| deploys::update_deployment(state, id, &params))
        }
        Route::Commit(sha) => commits::single(state, &sha),
        Route::CommitDiff(sha) => commits::diff(state, req, &sha, &params),
        Route::MrCommits(iid) => with_iid(&iid, |iid| {
            commits::of_merge_request(state, req, iid, &params)
        }),
        Route::Compare => commits::compare(state, &params),
        Route::ListIssues => issues::list(state, req, &params),
        Route::GroupProjects(group) => groups::list_projects(state, req, &group, &params),
        Route::CreateIssue => issues::create(state, &params),
        Route::EditIssue(iid) => with_iid(&iid, |iid| issues::edit(state, iid, &params)),
        Route::CreateIssueNote(iid) => {
            with_iid(&iid, |iid| issues::create_note(state, iid, &params))
        }
        Route::GetIssue(iid) => with_iid(&iid, |iid| issues::get(state, iid)),
        Route::ListIssueNotes(iid) => {
            with_iid(&iid, |iid| issues::list_notes(state, req, iid, &params))
        }
        Route::GetIssueNote(iid, nid) => with_iid(&iid, |iid| {
            with_iid(&nid, |nid| issues::get_note(state, iid, nid))
        }),
        Route::IssueNoteAwards(iid, nid, aid) => with_iid(&iid, |iid| {
            with_iid(&nid, |nid| {
                issues::awards(state, req, iid, nid, aid.as_deref(), &params)
            })
        }),
        Route::DeleteIssueNote(iid, nid) => with_iid(&iid, |iid| {
            with_iid(&nid, |nid| issues::delete_note(state, iid, nid))
        }),
        Route::Awards(iid, nid, aid) => with_iid(&iid, |iid| {
            awards::endpoint(state, req, iid, nid.as_deref(), aid.as_deref(), &params)
        }),
    };
    (resp, true)
}

pub(crate) fn with_iid(s: &str, f: impl FnOnce(u64) -> Response) -> Response {
    match s.parse::<u64>() {
        Ok(n) => f(n),
        Err(_) => not_found(),
    }
}

fn authenticate(state: &State, req: &Request) -> Option<Response> {
    let token = &state.opts.token;
    let bearer = req.header("authorization").and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    });
    let write = !(req.method == "GET" || req.method == "HEAD");
    if req.header("private-token") == Some(token.as_str()) || bearer == Some(token.as_str()) {
        if write && state.opts.read_only {
            return Some(Response::json(
                403,
                &json!({
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than provided by the access token.",
                    "scope": "api"
                }),
            ));
        }
        return None;
    }
    if req.header("job-token") == Some(token.as_str()) {
        return write.then(|| msg(403, "403 Forbidden"));
    }
    Some(msg(401, "401 Unauthorized"))
}

// ---------------------------------------------------------------- users

pub(crate) fn user_json(state: &State, id: u64, full: bool) -> Value {
    let username = state.username(id).unwrap_or_else(|| format!("user{id}"));
    let is_bot = id == state.opts.bot_user_id;
    let name = if is_bot {
        "GitOps Bot".to_string()
    } else {
        let mut c = username.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    let mut v = json!({
        "id": id,
        "username": username,
        "name": name,
        "state": "active",
        "locked": false,
        "avatar_url": null,
        "web_url": format!("{}/{}", state.base_url, username),
    });
    if full {
        v["bot"] = json!(is_bot);
        v["email"] = json!(format!("{username}@example.com"));
    }
    v
}

fn users(state: &State, p: &Params) -> Response {
    let mut all = vec![state.opts.bot_user_id];
    all.extend(state.opts.users.iter().map(|(id, _)| *id));
    let list: Vec<Value> = match p.str("username") {
        Some(name) => all
            .into_iter()
            .filter(|id| {
                state
                    .username(*id)
                    .is_some_and(|u| u.eq_ignore_ascii_case(&name))
            })
            .map(|id| user_json(state, id, false))
            .collect(),
        None => all
            .into_iter()
            .map(|id| user_json(state, id, false))
            .collect(),
    };
    Response::json(200, &Value::Array(list))
}

/// `members/all/:user_id` (direct or inherited) and `members/:user_id` (direct).
fn member(state: &State, uid: u64, inherited: bool) -> Response {
    let level = if inherited {
        state.access_level(uid)
    } else {
        state
            .opts
            .members
            .iter()
            .find(|(id, _)| *id == uid)
            .map(|(_, l)| *l)
    };
    match level.map(|l| (uid, l)) {
        Some((id, level)) if state.username(id).is_some() => {
            let mut v = user_json(state, id, false);
            v["access_level"] = json!(level);
            v["created_at"] = json!("2024-01-01T00:00:00.000Z");
            v["expires_at"] = Value::Null;
            v["membership_state"] = json!("active");
            Response::json(200, &v)
        }
        _ => msg(404, "404 Not found"),
    }
}

// ---------------------------------------------------------------- project, branches, archive

pub(crate) fn project_json(state: &State) -> Value {
    let path_with_namespace = state.opts.project_path.clone();
    let path = path_with_namespace
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let namespace = path_with_namespace
        .rsplit_once('/')
        .map(|(n, _)| n.to_string())
        .unwrap_or_default();
    json!({
        "id": state.opts.project_id,
        "name": path,
        "path": path,
        "path_with_namespace": path_with_namespace,
        "name_with_namespace": path_with_namespace.replace('/', " / "),
        "namespace": { "path": namespace, "full_path": namespace, "kind": "group" },
        "default_branch": state.opts.default_branch,
        "visibility": "private",
        "archived": false,
        "empty_repo": false,
        "web_url": state.project_web_url(),
        "http_url_to_repo": format!("{}.git", state.project_web_url()),
        "merge_requests_enabled": true,
        "merge_method": state.opts.merge_method,
        "only_allow_merge_if_pipeline_succeeds": state.opts.only_allow_merge_if_pipeline_succeeds,
        "remove_source_branch_after_merge": true,
    })
}

pub(crate) fn commit_json(state: &State, c: &git::CommitInfo) -> Value {
    json!({
        "id": c.id,
        "short_id": &c.id[..8.min(c.id.len())],
        "created_at": c.committed_date,
        "parent_ids": c.parent_ids,
        "title": c.title(),
        "message": c.message,
        "author_name": c.author_name,
        "author_email": c.author_email,
        "authored_date": c.authored_date,
        "committer_name": c.committer_name,
        "committer_email": c.committer_email,
        "committed_date": c.committed_date,
        "trailers": {},
        "extended_trailers": {},
        "web_url": format!("{}/-/commit/{}", state.project_web_url(), c.id),
    })
}

fn branch(state: &State, name: &str) -> Response {
    let Some(head) = state.repo.branch_head(name) else {
        return msg(404, "404 Branch Not Found");
    };
    let Some(info) = state.repo.commit_info(&head) else {
        return msg(404, "404 Branch Not Found");
    };
    let default = name == state.opts.default_branch;
    Response::json(
        200,
        &json!({
            "name": name,
            "commit": commit_json(state, &info),
            "merged": false,
            "protected": default,
            "developers_can_push": false,
            "developers_can_merge": false,
            "can_push": true,
            "default": default,
            "web_url": format!("{}/-/tree/{}", state.project_web_url(), name),
        }),
    )
}

fn archive(state: &State, p: &Params, fmt: &str) -> Response {
    let reference = p
        .str("sha")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| state.opts.default_branch.clone());
    let Some(sha) = state.repo.resolve_commit(&reference) else {
        return msg(404, "404 File Not Found");
    };
    let name = state
        .opts
        .project_path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    // GitLab names the top-level directory <project>-<ref>-<sha>, with any
    // `/` of the ref turned into `-`.
    let stem = format!("{name}-{}-{sha}", reference.replace('/', "-"));
    let prefix = format!("{stem}/");
    let (bytes, ctype) = if fmt == "tar" {
        (state.repo.archive_tar(&sha, &prefix), "application/x-tar")
    } else {
        (
            state.repo.archive_tar_gz(&sha, &prefix),
            "application/x-gzip",
        )
    };
    match bytes {
        Ok(body) => Response {
            status: 200,
            headers: vec![
                ("Content-Type".into(), ctype.into()),
                (
                    "Content-Disposition".into(),
                    format!("attachment; filename=\"{stem}.{fmt}\""),
                ),
                ("Content-Transfer-Encoding".into(), "binary".into()),
            ],
            body,
        },
        Err(_) => msg(404, "404 File Not Found"),
    }
}

// ---------------------------------------------------------------- commits

enum Src {
    Blob(String),
    Content(Vec<u8>),
}

struct Action {
    action: String,
    file_path: String,
    previous_path: Option<String>,
    content: Option<Vec<u8>>,
    last_commit_id: Option<String>,
    execute_filemode: Option<bool>,
}

fn parse_actions(p: &Params) -> Result<Vec<Action>, Response> {
    let Some(list) = p.array("actions") else {
        return Err(param_error("actions is missing"));
    };
    if list.is_empty() {
        return Err(param_error("actions is empty"));
    }
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let ap = Params(a.as_object().cloned().unwrap_or_default());
        let action = ap.str("action").unwrap_or_default();
        if ap.str("action").is_none() {
            return Err(param_error(&format!("actions[{i}][action] is missing")));
        }
        if !["create", "delete", "move", "update", "chmod"].contains(&action.as_str()) {
            return Err(param_error(&format!(
                "actions[{i}][action] does not have a valid value"
            )));
        }
        let Some(file_path) = ap.str("file_path") else {
            return Err(param_error(&format!("actions[{i}][file_path] is missing")));
        };
        let encoding = ap.str("encoding").unwrap_or_else(|| "text".into());
        let content = match ap.str("content") {
            None => None,
            Some(c) if encoding == "text" => Some(c.into_bytes()),
            Some(c) if encoding == "base64" => match base64_decode(&c) {
                Some(b) => Some(b),
                None => return Err(msg(400, "Invalid base64 content")),
            },
            Some(_) => {
                return Err(param_error(&format!(
                    "actions[{i}][encoding] does not have a valid value"
                )));
            }
        };
        out.push(Action {
            action,
            file_path: file_path.trim_start_matches('/').to_string(),
            previous_path: ap
                .str("previous_path")
                .map(|s| s.trim_start_matches('/').to_string()),
            content,
            last_commit_id: ap.str("last_commit_id").filter(|s| !s.is_empty()),
            execute_filemode: ap.bool("execute_filemode"),
        });
    }
    Ok(out)
}

fn is_commit_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Gitaly's index errors for a path.
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("You must provide a file path".into());
    }
    if path.split('/').any(|c| c == "..") {
        return Err("Path cannot include directory traversal".into());
    }
    if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == ".git")
    {
        return Err(format!("invalid path: '{path}'"));
    }
    Ok(())
}

fn create_commit(state: &State, p: &Params) -> Response {
    let Some(branch) = p.str("branch").filter(|s| !s.is_empty()) else {
        return param_error("branch is missing");
    };
    let Some(message) = p.str("commit_message") else {
        return param_error("commit_message is missing");
    };
    let actions = match parse_actions(p) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let start_sha = p.str("start_sha").filter(|s| !s.is_empty());
    let explicit_start_branch = p.str("start_branch").filter(|s| !s.is_empty());
    if start_sha.is_some() && explicit_start_branch.is_some() {
        return param_error("start_branch, start_sha are mutually exclusive");
    }
    let force = p.bool("force").unwrap_or(false);
    let author_name = p.str("author_name");
    let author_email = p.str("author_email");

    let repo = &state.repo;
    let _w = super::lock(&repo.write_lock);

    // Commits::CreateService#validate! (lib/api/commits.rb sets
    // `start_branch ||= branch` unless start_sha is given).
    let start_branch = if start_sha.is_none() {
        Some(explicit_start_branch.unwrap_or_else(|| branch.clone()))
    } else {
        None
    };
    let base = if let Some(sha) = &start_sha {
        if !is_commit_id(sha) {
            return msg(400, &format!("Invalid start_sha '{sha}'"));
        }
        match repo.resolve_commit(sha) {
            Some(c) if c == *sha => c,
            _ => return msg(400, &format!("Cannot find start_sha '{sha}'")),
        }
    } else {
        let sb = start_branch.as_deref().unwrap_or_default();
        match repo.branch_head(sb) {
            Some(h) => h,
            None => {
                return msg(
                    400,
                    "You can only create or edit files when you are on a branch",
                );
            }
        }
    };
    let current = repo.branch_head(&branch);
    let different_branch = start_sha.is_some() || start_branch.as_deref() != Some(branch.as_str());
    if different_branch && current.is_some() && !force {
        return msg(
            400,
            &format!(
                "A branch called '{branch}' already exists. Switch to that branch in order to make changes"
            ),
        );
    }
    if different_branch
        && repo
            .run(&["check-ref-format", &format!("refs/heads/{branch}")])
            .is_err()
    {
        return msg(
            400,
            &format!(
                "Something went wrong when we tried to create '{branch}' for you: Branch name is invalid"
            ),
        );
    }

    // Files::MultiService#validate_file_status! (update/move/delete/chmod).
    for a in &actions {
        if a.action == "create" {
            continue;
        }
        let Some(given) = &a.last_commit_id else {
            continue;
        };
        let path = a.previous_path.as_deref().unwrap_or(&a.file_path);
        if let Some(last) = repo.last_commit_for_path(&base, path)
            && last != *given
        {
            return msg(
                400,
                &format!("The file has changed since you started editing it: {path}"),
            );
        }
    }

    // Apply the actions in order, as Gitaly does, on the base tree; then
    // write the difference between the base and the final state.
    let original: BTreeMap<String, git::Entry> = match repo.tree_entries(&base) {
        Ok(e) => e,
        Err(e) => return msg(500, &e),
    };
    let mut files: BTreeMap<String, (String, Src)> = original
        .iter()
        .map(|(k, (m, o))| (k.clone(), (m.clone(), Src::Blob(o.clone()))))
        .collect();
    let is_dir = |files: &BTreeMap<String, (String, Src)>, path: &str| {
        let prefix = format!("{path}/");
        files
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
    };
    for a in actions {
        if let Err(e) = check_path(&a.file_path) {
            return msg(400, &e);
        }
        let exec_mode = |default: &str| match a.execute_filemode {
            Some(true) => "100755".to_string(),
            Some(false) => "100644".to_string(),
            None => default.to_string(),
        };
        match a.action.as_str() {
            "create" => {
                if files.contains_key(&a.file_path) {
                    return msg(400, "A file with this name already exists");
                }
                if is_dir(&files, &a.file_path) {
                    return msg(400, "A directory with this name already exists");
                }
                let content = Src::Content(a.content.clone().unwrap_or_default());
                files.insert(a.file_path.clone(), (exec_mode("100644"), content));
            }
            "update" => {
                let Some((_, src)) = files.get_mut(&a.file_path) else {
                    return msg(400, "A file with this name doesn't exist");
                };
                *src = Src::Content(a.content.clone().unwrap_or_default());
            }
            "delete" => {
                if files.remove(&a.file_path).is_none() {
                    return msg(400, "A file with this name doesn't exist");
                }
            }
            "move" => {
                let prev = a.previous_path.clone().unwrap_or_default();
                if let Err(e) = check_path(&prev) {
                    return msg(400, &e);
                }
                let Some((mode, src)) = files.remove(&prev) else {
                    return msg(400, "A file with this name doesn't exist");
                };
                if files.contains_key(&a.file_path) {
                    return msg(400, "A file with this name already exists");
                }
                let src = match &a.content {
                    Some(c) => Src::Content(c.clone()),
                    None => src,
                };
                files.insert(a.file_path.clone(), (mode, src));
            }
            "chmod" => {
                let Some((mode, _)) = files.get_mut(&a.file_path) else {
                    return msg(400, "A file with this name doesn't exist");
                };
                *mode = exec_mode(mode);
            }
            _ => unreachable!(),
        }
    }
    let mut changes = Vec::new();
    for path in original.keys() {
        if !files.contains_key(path) {
            changes.push(Change::Remove(path.clone()));
        }
    }
    for (path, (mode, src)) in files {
        match src {
            Src::Blob(oid) => {
                if original.get(&path) != Some(&(mode.clone(), oid.clone())) {
                    changes.push(Change::Blob { path, mode, oid });
                }
            }
            Src::Content(content) => changes.push(Change::Write {
                path,
                mode,
                content,
            }),
        }
    }

    let tree = match repo.write_tree(Some(&base), &changes) {
        Ok(t) => t,
        Err(e) => return msg(400, &e),
    };
    let bot_email = format!("{}@example.com", state.opts.bot_username);
    let name = author_name.unwrap_or_else(|| "GitOps Bot".into());
    let email = author_email.unwrap_or(bot_email);
    let sha = match repo.commit_tree(&tree, Some(&base), &message, Some((&name, &email))) {
        Ok(s) => s,
        Err(e) => return msg(500, &e),
    };
    // Compare-and-swap against the head read above (under the write lock, so
    // this only fails if someone bypassed the fake); no retry: 400.
    let expected = if different_branch {
        current.clone()
    } else {
        Some(base.clone())
    };
    if repo.update_ref(&branch, &sha, expected.as_deref()).is_err() {
        return msg(
            400,
            &format!("Could not update {branch}. Please refresh and try again."),
        );
    }
    let old_head = if different_branch {
        current.clone()
    } else {
        Some(base.clone())
    };
    merge::source_moved(
        state,
        &branch,
        old_head.as_deref(),
        &sha,
        state.opts.bot_user_id,
    );
    drop(_w);
    let Some(info) = repo.commit_info(&sha) else {
        return msg(500, "commit vanished");
    };
    let (add, del) = repo.diff_numstat(Some(&base), &sha);
    let mut v = commit_json(state, &info);
    v["stats"] = json!({ "additions": add, "deletions": del, "total": add + del });
    v["status"] = Value::Null;
    v["project_id"] = json!(state.opts.project_id);
    v["last_pipeline"] = Value::Null;
    Response::json(201, &v)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' | b'-' => Some(62),
            b'/' | b'_' => Some(63),
            _ => None,
        }
    }
    let clean: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    if clean.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= val(*c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

// ---------------------------------------------------------------- pagination

pub(crate) fn paginate(state: &State, req: &Request, p: &Params, items: Vec<Value>) -> Response {
    let per_page = match p.u64("per_page") {
        Some(0) | None => 20,
        Some(n) => n.min(100),
    } as usize;
    let page = p.u64("page").filter(|n| *n >= 1).unwrap_or(1) as usize;
    let total = items.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let others: Vec<(String, String)> = super::params::pairs(&req.query)
        .into_iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .collect();
    let link_for = |n: usize| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &others {
            q.append_pair(k, v);
        }
        q.append_pair("page", &n.to_string());
        q.append_pair("per_page", &per_page.to_string());
        format!("{}{}?{}", state.base_url, req.path, q.finish())
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link_for(page - 1)));
    }
    if page < total_pages {
        links.push(format!("<{}>; rel=\"next\"", link_for(page + 1)));
    }
    links.push(format!("<{}>; rel=\"first\"", link_for(1)));
    links.push(format!("<{}>; rel=\"last\"", link_for(total_pages)));
    let next = if page < total_pages {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    Response::json(200, &Value::Array(slice))
        .with_header("Link", &links.join(", "))
        .with_header("X-Page", &page.to_string())
        .with_header("X-Per-Page", &per_page.to_string())
        .with_header("X-Next-Page", &next)
        .with_header("X-Prev-Page", &prev)
        .with_header("X-Total", &total.to_string())
        .with_header("X-Total-Pages", &total_pages.to_string())
}

// ---------------------------------------------------------------- merge requests

/// Branch heads and merge bases, read once per rendering.
pub(crate) struct Heads {
    pub heads: BTreeMap<String, String>,
    bases: HashMap<(String, String), Option<String>>,
}

impl Heads {
    pub fn read(state: &State) -> Heads {
        Heads {
            heads: state.repo.branches(),
            bases: HashMap::new(),
        }
    }

    pub fn merge_base(&mut self, state: &State, a: &str, b: &str) -> Option<String> {
        self.bases
            .entry((a.to_string(), b.to_string()))
            .or_insert_with(|| state.repo.merge_base(a, b))
            .clone()
    }
}

pub(crate) fn mr_json(state: &State, mr: &Mr, heads: &mut Heads) -> Value {
    let source = heads
        .heads
        .get(&mr.source_branch)
        .cloned()
        .or_else(|| mr.last_sha.clone());
    let target = heads.heads.get(&mr.target_branch).cloned();
    let base = match (&source, &target) {
        (Some(s), Some(t)) => heads.merge_base(state, s, t),
        _ => None,
    };
    let users =
        |ids: &[u64]| -> Vec<Value> { ids.iter().map(|id| user_json(state, *id, false)).collect() };
    let web_url = format!("{}/-/merge_requests/{}", state.project_web_url(), mr.iid);
    let user_notes = mr.notes.iter().filter(|n| !n.system).count();
    let detailed = merge::detailed_status(state, mr, heads);
    let merge_status = merge::legacy_merge_status(mr, &detailed);
    let pipeline = merge::pipeline_json(state, mr, source.as_deref());
    let mut author = user_json(state, mr.author_id, false);
    author["bot"] = json!(mr.author_id == state.opts.bot_user_id);
    let votes = |name: &str| {
        mr.awards
            .iter()
            .filter(|a| a.note_id.is_none() && a.name == name)
            .count()
    };
    let draft = merge::is_draft(&mr.title);
    let can_merge = state
        .access_level(state.opts.bot_user_id)
        .is_some_and(|l| l >= state.opts.merge_access_level);
    let mut v = json!({
        "id": mr.id,
        "iid": mr.iid,
        "project_id": state.opts.project_id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "merged_at": mr.merged_at,
        "closed_at": mr.closed_at,
        "closed_by": mr.closed_by.map(|id| user_json(state, id, false)),
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "source_project_id": state.opts.project_id,
        "target_project_id": state.opts.project_id,
        "author": author,
        "assignee": mr.assignee_ids.first().map(|id| user_json(state, *id, false)),
        "assignees": users(&mr.assignee_ids),
        "reviewers": users(&mr.reviewer_ids),
        "labels": mr.labels,
        "should_remove_source_branch": mr.merge_remove_source.or(mr.remove_source_branch),
        "force_remove_source_branch": mr.remove_source_branch.unwrap_or(false),
        "squash": mr.squash,
        "references": {
            "short": format!("!{}", mr.iid),
            "relative": format!("!{}", mr.iid),
            "full": format!("{}!{}", state.opts.project_path, mr.iid),
        },
        "web_url": web_url,
        "diff_refs": {
            "base_sha": base,
            "head_sha": source,
            "start_sha": target,
        },
    });
    let extra = json!({
        "draft": draft,
        "work_in_progress": draft,
        "milestone": null,
        "merge_when_pipeline_succeeds": mr.auto_merge.is_some(),
        "merge_user": mr.merge_user.map(|id| user_json(state, id, false)),
        "merged_by": mr.merged_by.map(|id| user_json(state, id, false)),
        "merge_after": null,
        "prepared_at": mr.created_at,
        "merge_status": merge_status,
        "detailed_merge_status": detailed,
        "has_conflicts": mr.conflicts,
        "blocking_discussions_resolved": mr.discussions_resolved,
        "discussion_locked": null,
        "sha": source,
        "merge_commit_sha": mr.merge_commit_sha,
        "squash_commit_sha": mr.squash_commit_sha,
        "user_notes_count": user_notes,
        "upvotes": votes("thumbsup"),
        "downvotes": votes("thumbsdown"),
        "head_pipeline": pipeline.as_ref().map(|(full, _)| full.clone()),
        "pipeline": pipeline.map(|(_, basic)| basic),
        "user": { "can_merge": can_merge },
    });
    if let (Value::Object(m), Value::Object(x)) = (&mut v, extra) {
        m.extend(x);
    }
    v
}

pub fn render_all_mrs(state: &State) -> Vec<Value> {
    let mut heads = Heads::read(state);
    let store = state.store();
    store
        .mrs
        .iter()
        .map(|mr| mr_json(state, mr, &mut heads))
        .collect()
}

fn list_mrs(state: &State, req: &Request, p: &Params) -> Response {
    let st = p.str("state").unwrap_or_else(|| "all".into());
    if !["opened", "closed", "merged", "locked", "all"].contains(&st.as_str()) {
        return param_error("state does not have a valid value");
    }
    let order_by = p.str("order_by").unwrap_or_else(|| "created_at".into());
    if !["created_at", "updated_at", "title", "merged_at"].contains(&order_by.as_str()) {
        return param_error("order_by does not have a valid value");
    }
    let sort = p.str("sort").unwrap_or_else(|| "desc".into());
    if sort != "asc" && sort != "desc" {
        return param_error("sort does not have a valid value");
    }
    let scope = p.str("scope").map(|s| s.replace('-', "_"));
    if scope
        .as_deref()
        .is_some_and(|s| !["created_by_me", "assigned_to_me", "all"].contains(&s))
    {
        return param_error("scope does not have a valid value");
    }
    let me = state.opts.bot_user_id;
    let labels = p.labels("labels");
    let iids = p.ids("iids");
    let source = p.str("source_branch");
    let target = p.str("target_branch");
    let author_username = p.str("author_username");
    let author_id = p.u64("author_id");
    let search = p.str("search");
    let mut heads = Heads::read(state);
    let store = state.store();
    let mut picked: Vec<&Mr> = store
        .mrs
        .iter()
        .filter(|m| st == "all" || m.state == st)
        .filter(|m| source.as_ref().is_none_or(|s| *s == m.source_branch))
        .filter(|m| target.as_ref().is_none_or(|t| *t == m.target_branch))
        .filter(|m| author_id.is_none_or(|a| a == m.author_id))
        .filter(|m| match scope.as_deref() {
            Some("created_by_me") => m.author_id == me,
            Some("assigned_to_me") => m.assignee_ids.contains(&me),
            _ => true,
        })
        .filter(|m| {
            author_username.as_ref().is_none_or(|u| {
                state
                    .username(m.author_id)
                    .is_some_and(|n| n.eq_ignore_ascii_case(u))
            })
        })
        .filter(|m| iids.as_ref().is_none_or(|ids| ids.contains(&m.iid)))
        .filter(|m| {
            search
                .as_ref()
                .is_none_or(|s| m.title.contains(s.as_str()) || m.description.contains(s.as_str()))
        })
        .filter(|m| match labels.as_deref() {
            None | Some([]) => true,
            Some([one]) if one.eq_ignore_ascii_case("none") => m.labels.is_empty(),
            Some([one]) if one.eq_ignore_ascii_case("any") => !m.labels.is_empty(),
            Some(ls) => ls.iter().all(|l| m.labels.contains(l)),
        })
        .collect();
    picked.sort_by(|a, b| {
        let ord = match order_by.as_str() {
            "updated_at" => a.updated_at.cmp(&b.updated_at),
            "title" => a.title.cmp(&b.title),
            "merged_at" => a.merged_at.cmp(&b.merged_at),
            _ => a.created_at.cmp(&b.created_at),
        }
        .then(a.id.cmp(&b.id));
        if sort == "asc" { ord } else { ord.reverse() }
    });
    let items: Vec<Value> = picked
        .into_iter()
        .map(|m| mr_json(state, m, &mut heads))
        .collect();
    drop(store);
    paginate(state, req, p, items)
}

/// `GET .../merge_requests/:iid`: consumes one scripted `detailed_merge_status`.
fn get_mr(state: &State, iid: u64) -> Response {
    let mut heads = Heads::read(state);
    let mut store = state.store();
    match store.mrs.iter_mut().find(|m| m.iid == iid) {
        Some(mr) => {
            let v = mr_json(state, mr, &mut heads);
            if mr.status_script.len() > 1 {
                mr.status_script.pop_front();
            }
            Response::json(200, &v)
        }
        None => msg(404, "404 Merge Request Not Found"),
    }
}

/// The MR as rendered now, without consuming a scripted status.
pub(crate) fn render_mr(state: &State, iid: u64) -> Response {
    let mut heads = Heads::read(state);
    let store = state.store();
    match store.mrs.iter().find(|m| m.iid == iid) {
        Some(mr) => Response::json(200, &mr_json(state, mr, &mut heads)),
        None => msg(404, "404 Merge Request Not Found"),
    }
}

/// Unknown users are silently dropped, as GitLab filters assignees and
/// reviewers to users who may be assigned.
fn known_users(state: &State, ids: Vec<u64>) -> Vec<u64> {
    let mut out = Vec::new();
    for id in ids {
        if state.username(id).is_some() && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

fn assignees_param(state: &State, p: &Params) -> Option<Vec<u64>> {
    if p.has("assignee_ids") {
        return p.ids("assignee_ids").map(|ids| known_users(state, ids));
    }
    if p.has("assignee_id") {
        return p.ids("assignee_id").map(|ids| known_users(state, ids));
    }
    None
}

fn too_long(field: &str, max: usize) -> Response {
    Response::json(
        400,
        &json!({ "message": { field: [format!("is too long (maximum is {max} characters)")] } }),
    )
}

fn conflict_for(store: &super::Store, source: &str, target: &str, except: u64) -> Option<u64> {
    store
        .mrs
        .iter()
        .find(|m| {
            m.state == "opened"
                && m.iid != except
                && m.source_branch == source
                && m.target_branch == target
        })
        .map(|m| m.iid)
}

fn conflict(iid: u64) -> Response {
    Response::json(
        409,
        &json!({ "message": [format!("Another open merge request already exists for this source branch: !{iid}")] }),
    )
}

fn create_mr(state: &State, p: &Params) -> Response {
    let Some(source) = p.str("source_branch") else {
        return param_error("source_branch is missing");
    };
    let Some(target) = p.str("target_branch") else {
        return param_error("target_branch is missing");
    };
    let Some(title) = p.str("title").filter(|t| !t.is_empty()) else {
        return param_error("title is missing");
    };
    let description = p.str("description").unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return too_long("description", MAX_DESCRIPTION_CHARS);
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return too_long("title", MAX_TITLE_CHARS);
    }
    if source == target {
        return Response::json(
            422,
            &json!({ "message": ["You can't use same project/branch for source and target"] }),
        );
    }
    let source_head = state.repo.branch_head(&source);
    if source_head.is_none() {
        return Response::json(
            400,
            &json!({ "message": { "source_branch": ["does not exist"] } }),
        );
    }
    if state.repo.branch_head(&target).is_none() {
        return Response::json(
            400,
            &json!({ "message": { "target_branch": ["does not exist"] } }),
        );
    }
    let assignees = assignees_param(state, p).unwrap_or_default();
    let reviewers = p
        .ids("reviewer_ids")
        .map(|ids| known_users(state, ids))
        .unwrap_or_default();
    let labels = p.labels("labels").unwrap_or_default();
    let now = now_rfc3339();
    let mut store = state.store();
    if let Some(iid) = conflict_for(&store, &source, &target, 0) {
        return conflict(iid);
    }
    let iid = store.mrs.len() as u64 + 1;
    let mr = Mr {
        id: 1000 + iid,
        iid,
        title,
        description,
        state: "opened".into(),
        source_branch: source,
        target_branch: target,
        author_id: state.opts.bot_user_id,
        assignee_ids: assignees,
        reviewer_ids: reviewers,
        labels,
        remove_source_branch: p.bool("remove_source_branch"),
        squash: p.bool("squash").unwrap_or(false),
        created_at: now.clone(),
        updated_at: now,
        closed_at: None,
        closed_by: None,
        merged_at: None,
        last_sha: source_head.clone(),
        notes: Vec::new(),
        pipeline: None,
        status_script: Default::default(),
        conflicts: false,
        discussions_resolved: true,
        auto_merge: None,
        merge_user: None,
        merged_by: None,
        merge_commit_sha: None,
        squash_commit_sha: None,
        merge_remove_source: None,
        versions: Vec::new(),
        awards: Vec::new(),
        approved_by: Vec::new(),
    };
    store.mrs.push(mr);
    drop(store);
    if let Some(head) = &source_head {
        merge::record_version(state, iid, head);
    }
    let mut heads = Heads::read(state);
    let store = state.store();
    let mr = store.mrs.iter().find(|m| m.iid == iid).unwrap();
    Response::json(201, &mr_json(state, mr, &mut heads))
}

const UPDATE_KEYS: &[&str] = &[
    "target_branch",
    "title",
    "assignee_id",
    "assignee_ids",
    "reviewer_ids",
    "milestone_id",
    "labels",
    "add_labels",
    "remove_labels",
    "description",
    "state_event",
    "remove_source_branch",
    "squash",
    "discussion_locked",
    "allow_collaboration",
    "merge_after",
];

fn update_mr(state: &State, iid: u64, p: &Params) -> Response {
    if !UPDATE_KEYS.iter().any(|k| p.has(k)) {
        return param_error(&format!(
            "{} are missing, at least one parameter must be provided",
            UPDATE_KEYS.join(", ")
        ));
    }
    let state_event = p.str("state_event");
    if let Some(ev) = &state_event
        && ev != "close"
        && ev != "reopen"
    {
        return param_error("state_event does not have a valid value");
    }
    if p.str("description")
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return too_long("description", MAX_DESCRIPTION_CHARS);
    }
    if p.str("title")
        .is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS)
    {
        return too_long("title", MAX_TITLE_CHARS);
    }
    if p.str("target_branch")
        .is_some_and(|t| state.repo.branch_head(&t).is_none())
    {
        return Response::json(
            400,
            &json!({ "message": { "target_branch": ["does not exist"] } }),
        );
    }
    let assignees = assignees_param(state, p);
    let reviewers = p.ids("reviewer_ids").map(|ids| known_users(state, ids));
    let source_heads = state.repo.branches();
    let now = now_rfc3339();
    let bot = state.opts.bot_user_id;
    let mut store = state.store();
    let Some(idx) = store.mrs.iter().position(|m| m.iid == iid) else {
        return msg(404, "404 Merge Request Not Found");
    };
    // Validation first (the model is saved as a whole or not at all).
    {
        let mr = &store.mrs[idx];
        let new_target = p
            .str("target_branch")
            .unwrap_or_else(|| mr.target_branch.clone());
        let reopening = state_event.as_deref() == Some("reopen") && mr.state == "closed";
        let will_be_open = mr.state == "opened" || reopening;
        if will_be_open
            && let Some(other) = conflict_for(&store, &mr.source_branch, &new_target, iid)
        {
            return conflict(other);
        }
    }
    let mut system_notes = Vec::new();
    {
        let mr = &mut store.mrs[idx];
        if let Some(t) = p.str("title") {
            mr.title = t;
        }
        if let Some(d) = p.str("description") {
            mr.description = d;
        }
        if let Some(t) = p.str("target_branch") {
            mr.target_branch = t;
        }
        if let Some(a) = assignees {
            mr.assignee_ids = a;
        }
        if let Some(r) = reviewers {
            mr.reviewer_ids = r;
        }
        if let Some(l) = p.labels("labels") {
            mr.labels = l;
        }
        if let Some(add) = p.labels("add_labels") {
            for l in add {
                if !mr.labels.contains(&l) {
                    mr.labels.push(l);
                }
            }
        }
        if let Some(rm) = p.labels("remove_labels") {
            mr.labels.retain(|l| !rm.contains(l));
        }
        if let Some(b) = p.bool("remove_source_branch") {
            mr.remove_source_branch = Some(b);
        }
        if let Some(b) = p.bool("squash") {
            mr.squash = b;
        }
        match state_event.as_deref() {
            Some("close") if mr.state == "opened" => {
                mr.state = "closed".into();
                mr.auto_merge = None;
                mr.merge_user = None;
                mr.closed_at = Some(now.clone());
                mr.closed_by = Some(bot);
                system_notes.push("closed");
            }
            Some("reopen") if mr.state == "closed" => {
                mr.state = "opened".into();
                mr.closed_at = None;
                mr.closed_by = None;
                system_notes.push("reopened");
            }
            _ => {}
        }
        if let Some(h) = source_heads.get(&mr.source_branch) {
            mr.last_sha = Some(h.clone());
        }
        mr.updated_at = now;
    }
    for body in system_notes {
        push_note(&mut store, idx, bot, body, true);
    }
    drop(store);
    render_mr(state, iid)
}

pub fn set_mr_state(state: &State, iid: u64, new_state: &str, by: u64) {
    let now = now_rfc3339();
    let heads = state.repo.branches();
    let mut store = state.store();
    let idx = store
        .mrs
        .iter()
        .position(|m| m.iid == iid)
        .unwrap_or_else(|| panic!("no MR !{iid}"));
    {
        let mr = &mut store.mrs[idx];
        if let Some(h) = heads.get(&mr.source_branch) {
            mr.last_sha = Some(h.clone());
        }
        mr.state = new_state.to_string();
        mr.updated_at = now.clone();
        mr.auto_merge = None;
        if new_state == "closed" {
            mr.closed_at = Some(now.clone());
            mr.closed_by = Some(by);
        }
        if new_state == "merged" {
            mr.merged_at = Some(now);
        }
    }
    let body = if new_state == "merged" {
        "merged"
    } else {
        "closed"
    };
    push_note(&mut store, idx, by, body, true);
}

// ---------------------------------------------------------------- notes

pub(crate) fn push_note(
    store: &mut super::Store,
    idx: usize,
    author: u64,
    body: &str,
    system: bool,
) -> u64 {
    let id = store.next_note_id;
    store.next_note_id += 1;
    let now = now_rfc3339();
    store.mrs[idx].notes.push(Note {
        id,
        body: body.to_string(),
        author_id: author,
        system,
        created_at: now.clone(),
        updated_at: now,
    });
    id
}

pub fn add_note(state: &State, iid: u64, author: u64, body: &str, system: bool) -> Option<u64> {
    let mut store = state.store();
    let idx = store.mrs.iter().position(|m| m.iid == iid)?;
    Some(push_note(&mut store, idx, author, body, system))
}

pub(crate) fn note_json(state: &State, iid: u64, n: &Note) -> Value {
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
        "noteable_type": "MergeRequest",
        "noteable_iid": iid,
        "project_id": state.opts.project_id,
        "resolvable": false,
        "confidential": false,
        "internal": false,
    })
}

pub fn render_notes(state: &State, iid: u64) -> Vec<Value> {
    let store = state.store();
    store
        .mrs
        .iter()
        .find(|m| m.iid == iid)
        .map(|m| m.notes.iter().map(|n| note_json(state, iid, n)).collect())
        .unwrap_or_default()
}

fn list_notes(state: &State, req: &Request, iid: u64, p: &Params) -> Response {
    let order_by = p.str("order_by").unwrap_or_else(|| "created_at".into());
    if order_by != "created_at" && order_by != "updated_at" {
        return param_error("order_by does not have a valid value");
    }
    let sort = p.str("sort").unwrap_or_else(|| "desc".into());
    if sort != "asc" && sort != "desc" {
        return param_error("sort does not have a valid value");
    }
    let store = state.store();
    let Some(mr) = store.mrs.iter().find(|m| m.iid == iid) else {
        return msg(404, "404 Merge Request Not Found");
    };
    let mut notes: Vec<&Note> = mr.notes.iter().collect();
    notes.sort_by(|a, b| {
        let ord = if order_by == "updated_at" {
            a.updated_at.cmp(&b.updated_at)
        } else {
            a.created_at.cmp(&b.created_at)
        }
        .then(a.id.cmp(&b.id));
        if sort == "asc" { ord } else { ord.reverse() }
    });
    let items: Vec<Value> = notes
        .into_iter()
        .map(|n| note_json(state, iid, n))
        .collect();
    drop(store);
    paginate(state, req, p, items)
}

fn note_too_long() -> Response {
    msg(
        400,
        &format!(
            "400 Bad request - Note {{:note=>[\"is too long (maximum is {MAX_NOTE_CHARS} characters)\"]}}"
        ),
    )
}

fn create_note(state: &State, iid: u64, p: &Params) -> Response {
    let Some(body) = p.str("body").filter(|b| !b.is_empty()) else {
        return param_error("body is missing");
    };
    if body.chars().count() > MAX_NOTE_CHARS {
        return note_too_long();
    }
    let mut store = state.store();
    let Some(idx) = store.mrs.iter().position(|m| m.iid == iid) else {
        return msg(404, "404 Merge Request Not Found");
    };
    let id = push_note(&mut store, idx, state.opts.bot_user_id, &body, false);
    let n = store.mrs[idx].notes.iter().find(|n| n.id == id).unwrap();
    Response::json(201, &note_json(state, iid, n))
}

fn get_note(state: &State, iid: u64, nid: u64) -> Response {
    let store = state.store();
    let Some(mr) = store.mrs.iter().find(|m| m.iid == iid) else {
        return msg(404, "404 Merge Request Not Found");
    };
    match mr.notes.iter().find(|n| n.id == nid) {
        Some(n) => Response::json(200, &note_json(state, iid, n)),
        None => msg(404, "404 Note Not Found"),
    }
}

fn update_note(state: &State, iid: u64, nid: u64, p: &Params) -> Response {
    let Some(body) = p.str("body").filter(|b| !b.is_empty()) else {
        return param_error("body is missing");
    };
    if body.chars().count() > MAX_NOTE_CHARS {
        return note_too_long();
    }
    let mut store = state.store();
    let Some(mr) = store.mrs.iter_mut().find(|m| m.iid == iid) else {
        return msg(404, "404 Merge Request Not Found");
    };
    let Some(n) = mr.notes.iter_mut().find(|n| n.id == nid) else {
        return msg(404, "404 Note Not Found");
    };
    if n.system || n.author_id != state.opts.bot_user_id {
        return msg(403, "403 Forbidden");
    }
    n.body = body;
    n.updated_at = now_rfc3339();
    let v = note_json(state, iid, n);
    Response::json(200, &v)
}

/// A user edits their own note (test hook).
pub fn edit_note(state: &State, iid: u64, nid: u64, body: &str) -> Option<()> {
    let now = now_rfc3339();
    let mut store = state.store();
    let mr = store.mrs.iter_mut().find(|m| m.iid == iid)?;
    let n = mr.notes.iter_mut().find(|n| n.id == nid)?;
    n.body = body.to_string();
    n.updated_at = now;
    Some(())
}

/// Marks an MR draft or ready through its title, with the system note.
pub fn set_draft(state: &State, iid: u64, draft: bool, by: u64) {
    let now = now_rfc3339();
    let mut store = state.store();
    let idx = store
        .mrs
        .iter()
        .position(|m| m.iid == iid)
        .unwrap_or_else(|| panic!("no MR !{iid}"));
    let mr = &mut store.mrs[idx];
    if merge::is_draft(&mr.title) == draft {
        return;
    }
    mr.title = if draft {
        format!("Draft: {}", mr.title)
    } else {
        merge::strip_draft(&mr.title)
    };
    mr.updated_at = now;
    let body = if draft {
        "marked this merge request as **draft**"
    } else {
        "marked this merge request as **ready**"
    };
    push_note(&mut store, idx, by, body, true);
}

/// `GET .../merge_requests/:iid/approvals`, the fields the docs list for it.
fn approvals(state: &State, iid: u64) -> Response {
    let store = state.store();
    let Some(mr) = store.mrs.iter().find(|m| m.iid == iid) else {
        return msg(404, "404 Merge Request Not Found");
    };
    let approvers = mr.approved_by.clone();
    let (id, mr_iid, project_id) = (mr.id, mr.iid, state.opts.project_id);
    drop(store);
    let approved_by: Vec<Value> = approvers
        .iter()
        .map(|(u, at)| {
            let mut entry = json!({ "user": user_json(state, *u, false) });
            if state.opts.approvals_with_time {
                entry["approved_at"] = json!(at);
            }
            entry
        })
        .collect();
    Response::json(
        200,
        &json!({
            "id": id,
            "iid": mr_iid,
            "project_id": project_id,
            "approved": !approved_by.is_empty(),
            "approvals_required": 0,
            "approvals_left": 0,
            "approved_by": approved_by,
        }),
    )
}

/// `GET .../repository/files/:file_path/raw?ref=REF` (`ref` defaults to the default branch).
fn file_raw(state: &State, path: &str, p: &Params) -> Response {
    let reference = p
        .str("ref")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| state.opts.default_branch.clone());
    match state.repo.show_file(&reference, path) {
        Some(bytes) => Response {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: bytes,
        },
        None => msg(404, "404 File Not Found"),
    }
}
