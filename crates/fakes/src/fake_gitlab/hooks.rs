//! Webhook payloads built from the fake's state, shaped like the examples of
//! `doc/user/project/integrations/webhook_events.md` ("Comment on a merge
//! request" and "Merge request events"), timestamps included: the note hook
//! writes `2015-05-17 18:21:36 UTC`, the merge request hook's
//! `object_attributes` `2013-12-03T17:23:34Z` (both whole seconds).

use serde_json::{Value, json};

use super::api::{Heads, user_json};
use super::merge::{detailed_status, is_draft, legacy_merge_status};
use super::{Mr, State};

/// `2026-01-02T03:04:05.678Z` → `2026-01-02 03:04:05 UTC`.
fn utc(ts: &str) -> String {
    format!("{} {} UTC", &ts[..10], &ts[11..19])
}

/// `2026-01-02T03:04:05.678Z` → `2026-01-02T03:04:05Z`.
fn zulu(ts: &str) -> String {
    format!("{}Z", &ts[..19])
}

fn hook_user(state: &State, id: u64) -> Value {
    let u = user_json(state, id, true);
    json!({
        "id": id,
        "name": u["name"],
        "username": u["username"],
        "avatar_url": u["avatar_url"],
        "email": u["email"],
    })
}

fn hook_project(state: &State) -> Value {
    let path = &state.opts.project_path;
    let web = state.project_web_url();
    let host = state.base_url.trim_start_matches("http://");
    let name = path.rsplit('/').next().unwrap_or_default();
    let namespace = path.rsplit_once('/').map(|(n, _)| n).unwrap_or_default();
    json!({
        "id": state.opts.project_id,
        "name": name,
        "description": "",
        "web_url": web,
        "avatar_url": null,
        "git_ssh_url": format!("git@{host}:{path}.git"),
        "git_http_url": format!("{web}.git"),
        "namespace": namespace,
        "visibility_level": 0,
        "path_with_namespace": path,
        "default_branch": state.opts.default_branch,
        "ci_config_path": "",
        "homepage": web,
        "url": format!("git@{host}:{path}.git"),
        "ssh_url": format!("git@{host}:{path}.git"),
        "http_url": format!("{web}.git"),
    })
}

fn hook_repository(state: &State) -> Value {
    let web = state.project_web_url();
    json!({
        "name": state.opts.project_path.rsplit('/').next().unwrap_or_default(),
        "url": format!("{web}.git"),
        "description": "",
        "homepage": web,
    })
}

/// A stable id per label title (GitLab's labels are records with ids).
fn label_id(title: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in title.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    1 + h % 100_000
}

fn labels(state: &State, mr: &Mr) -> Value {
    Value::Array(
        mr.labels
            .iter()
            .map(|t| {
                json!({
                    "id": label_id(t),
                    "title": t,
                    "color": "#6699cc",
                    "project_id": state.opts.project_id,
                    "created_at": mr.created_at,
                    "updated_at": mr.created_at,
                    "template": false,
                    "description": null,
                    "type": "ProjectLabel",
                    "group_id": null,
                })
            })
            .collect(),
    )
}

fn last_commit(state: &State, sha: Option<&str>) -> Value {
    let Some(info) = sha.and_then(|s| state.repo.commit_info(s)) else {
        return Value::Null;
    };
    json!({
        "id": info.id,
        "message": format!("{}\n", info.message),
        "title": info.title(),
        "timestamp": info.committed_date,
        "url": format!("{}/-/commit/{}", state.project_web_url(), info.id),
        "author": { "name": info.author_name, "email": info.author_email },
    })
}

fn state_id(state: &str) -> u64 {
    match state {
        "opened" => 1,
        "closed" => 2,
        "merged" => 3,
        "locked" => 4,
        _ => 0,
    }
}

fn mr_url(state: &State, iid: u64) -> String {
    format!("{}/-/merge_requests/{iid}", state.project_web_url())
}

/// `Note Hook` body for a comment on an MR.
pub fn note_hook(state: &State, iid: u64, note_id: u64) -> Option<Value> {
    let mut heads = Heads::read(state);
    let store = state.store();
    let mr = store.mrs.iter().find(|m| m.iid == iid)?;
    let n = mr.notes.iter().find(|n| n.id == note_id)?;
    let head = heads
        .heads
        .get(&mr.source_branch)
        .cloned()
        .or_else(|| mr.last_sha.clone());
    let detailed = detailed_status(state, mr, &mut heads);
    let project = hook_project(state);
    let action = if n.updated_at != n.created_at {
        "update"
    } else {
        "create"
    };
    let draft = is_draft(&mr.title);
    let mut merge_request = json!({
        "id": mr.id,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "source_project_id": state.opts.project_id,
        "author_id": mr.author_id,
        "assignee_id": mr.assignee_ids.first(),
        "assignee_ids": mr.assignee_ids,
        "reviewer_ids": mr.reviewer_ids,
        "title": mr.title,
        "created_at": utc(&mr.created_at),
        "updated_at": utc(&mr.updated_at),
        "milestone_id": null,
        "state": mr.state,
        "merge_status": legacy_merge_status(mr, &detailed),
        "target_project_id": state.opts.project_id,
        "iid": mr.iid,
        "description": mr.description,
        "position": 0,
        "labels": labels(state, mr),
        "source": project,
        "target": project,
        "last_commit": last_commit(state, head.as_deref()),
        "work_in_progress": draft,
        "draft": draft,
        "blocking_discussions_resolved": mr.discussions_resolved,
        "merge_commit_sha": mr.merge_commit_sha,
        "merge_when_pipeline_succeeds": mr.auto_merge.is_some(),
        "head_pipeline_id": mr.pipeline.as_ref().map(|p| p.id),
        "url": mr_url(state, mr.iid),
        "detailed_merge_status": detailed,
    });
    if let Some(a) = mr.assignee_ids.first() {
        let u = user_json(state, *a, false);
        merge_request["assignee"] = json!({
            "name": u["name"], "username": u["username"], "avatar_url": u["avatar_url"],
        });
    }
    Some(json!({
        "object_kind": "note",
        "event_type": "note",
        "user": hook_user(state, n.author_id),
        "project_id": state.opts.project_id,
        "project": project,
        "repository": hook_repository(state),
        "object_attributes": {
            "id": n.id,
            "note": n.body,
            "noteable_type": "MergeRequest",
            "author_id": n.author_id,
            "created_at": utc(&n.created_at),
            "updated_at": utc(&n.updated_at),
            "project_id": state.opts.project_id,
            "attachment": null,
            "line_code": null,
            "commit_id": "",
            "noteable_id": mr.id,
            "system": n.system,
            "st_diff": null,
            "type": null,
            "confidential": false,
            "internal": false,
            "action": action,
            "url": format!("{}#note_{}", mr_url(state, mr.iid), n.id),
        },
        "merge_request": merge_request,
    }))
}

/// `Merge Request Hook` body; `changes` is left empty (the docs: it may be).
pub fn merge_request_hook(state: &State, iid: u64, action: &str, user: u64) -> Option<Value> {
    let mut heads = Heads::read(state);
    let store = state.store();
    let mr = store.mrs.iter().find(|m| m.iid == iid)?;
    let head = heads
        .heads
        .get(&mr.source_branch)
        .cloned()
        .or_else(|| mr.last_sha.clone());
    let detailed = detailed_status(state, mr, &mut heads);
    let project = hook_project(state);
    let draft = is_draft(&mr.title);
    let people = |ids: &[u64]| -> Value {
        Value::Array(
            ids.iter()
                .map(|id| {
                    let u = user_json(state, *id, false);
                    json!({
                        "id": id, "name": u["name"], "username": u["username"],
                        "avatar_url": u["avatar_url"],
                    })
                })
                .collect(),
        )
    };
    let labels = labels(state, mr);
    let mut attrs = json!({
            "id": mr.id,
            "iid": mr.iid,
            "target_branch": mr.target_branch,
            "source_branch": mr.source_branch,
            "source_project_id": state.opts.project_id,
            "author_id": mr.author_id,
            "assignee_ids": mr.assignee_ids,
            "assignee_id": mr.assignee_ids.first(),
            "reviewer_ids": mr.reviewer_ids,
            "title": mr.title,
            "created_at": zulu(&mr.created_at),
            "updated_at": zulu(&mr.updated_at),
            "last_edited_at": null,
            "last_edited_by_id": null,
            "milestone_id": null,
            "state_id": state_id(&mr.state),
            "state": mr.state,
            "blocking_discussions_resolved": mr.discussions_resolved,
            "work_in_progress": draft,
            "draft": draft,
            "first_contribution": false,
            "merge_status": legacy_merge_status(mr, &detailed),
            "target_project_id": state.opts.project_id,
            "description": mr.description,
            "prepared_at": zulu(&mr.created_at),
            "url": mr_url(state, mr.iid),
            "source": project,
            "target": project,
            "last_commit": last_commit(state, head.as_deref()),
            "labels": labels,
            "action": action,
            "detailed_merge_status": detailed,
    });
    let more = json!({
        "merge_commit_sha": mr.merge_commit_sha,
        "merge_when_pipeline_succeeds": mr.auto_merge.is_some(),
        "merge_user_id": mr.merge_user,
        "head_pipeline_id": mr.pipeline.as_ref().map(|p| p.id),
        "total_time_spent": 0,
        "time_change": 0,
        "human_total_time_spent": null,
        "human_time_change": null,
        "human_time_estimate": null,
    });
    if let (Value::Object(a), Value::Object(m)) = (&mut attrs, more) {
        a.extend(m);
    }
    Some(json!({
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": hook_user(state, user),
        "project": project,
        "repository": hook_repository(state),
        "object_attributes": attrs,
        "labels": labels,
        "changes": {},
        "assignees": people(&mr.assignee_ids),
        "reviewers": people(&mr.reviewer_ids),
    }))
}

/// A `Note Hook` body for a comment on an issue (GitLab's "Comment on an issue" example):
/// `object_attributes.noteable_type` is `Issue` and the issue is under `issue`.
pub fn issue_note_hook(state: &State, iid: u64, note_id: u64) -> Option<Value> {
    let store = state.store();
    let issue = store.issues.iter().find(|i| i.iid == iid)?;
    let n = issue.thread.iter().find(|n| n.id == note_id)?;
    let action = if n.updated_at != n.created_at {
        "update"
    } else {
        "create"
    };
    let url = format!("{}/-/issues/{}", state.project_web_url(), issue.iid);
    Some(json!({
        "object_kind": "note",
        "event_type": "note",
        "user": hook_user(state, n.author_id),
        "project_id": state.opts.project_id,
        "project": hook_project(state),
        "repository": hook_repository(state),
        "object_attributes": {
            "id": n.id,
            "note": n.body,
            "noteable_type": "Issue",
            "author_id": n.author_id,
            "created_at": utc(&n.created_at),
            "updated_at": utc(&n.updated_at),
            "project_id": state.opts.project_id,
            "attachment": null,
            "line_code": null,
            "commit_id": "",
            "noteable_id": 1000 + issue.iid,
            "system": n.system,
            "st_diff": null,
            "action": action,
            "url": format!("{url}#note_{}", n.id),
        },
        "issue": {
            "id": 1000 + issue.iid,
            "iid": issue.iid,
            "title": issue.title,
            "assignee_ids": issue.assignee_ids,
            "assignee_id": issue.assignee_ids.first(),
            "author_id": issue.author_id,
            "project_id": state.opts.project_id,
            "created_at": utc(&issue.created_at),
            "updated_at": utc(&issue.created_at),
            "position": 0,
            "branch_name": null,
            "description": issue.description,
            "milestone_id": null,
            "state": issue.state,
            "labels": issue.labels.iter().map(|t| json!({
                "id": label_id(t),
                "title": t,
                "color": "#6699cc",
                "project_id": state.opts.project_id,
                "created_at": issue.created_at,
                "updated_at": issue.created_at,
                "template": false,
                "description": null,
                "type": "ProjectLabel",
                "group_id": null,
            })).collect::<Vec<_>>(),
            "url": url,
        },
    }))
}
