//! Merging: mergeability (`detailed_merge_status`), head pipelines,
//! `PUT .../merge` (immediately or when the pipeline succeeds), diff versions.
//!
//! Sources: `lib/api/merge_requests.rb` (`execute_merge`,
//! `execute_immediate_merge!`, `build_merge_params`, `check_sha_param!`),
//! `app/models/merge_request.rb` (`mergeable?`, `mergeable_state?`),
//! `doc/api/merge_requests.md` (merge status list, merge error table,
//! versions).

use serde_json::{Value, json};

use super::api::{Heads, msg, paginate, push_note, render_mr, user_json};
use super::http::{Request, Response};
use super::params::Params;
use super::{AutoMerge, Mr, Pipeline, State, Store, Version, lock, now_rfc3339};

/// `Ci::HasStatus` active statuses (plus `created`): a pipeline "in progress".
const ACTIVE: &[&str] = &[
    "created",
    "waiting_for_resource",
    "preparing",
    "waiting_for_callback",
    "pending",
    "running",
];

/// GitLab's draft title prefixes (`MergeRequest::DRAFT_REGEX`, simplified).
pub fn is_draft(title: &str) -> bool {
    draft_prefix_len(title).is_some()
}

fn draft_prefix_len(title: &str) -> Option<usize> {
    let lower = title.to_ascii_lowercase();
    let trimmed = lower.trim_start();
    let lead = lower.len() - trimmed.len();
    for p in ["[draft]", "(draft)", "draft:", "draft - "] {
        if trimmed.starts_with(p) {
            return Some(lead + p.len());
        }
    }
    (trimmed.trim_end() == "draft").then_some(lower.len())
}

pub fn strip_draft(title: &str) -> String {
    match draft_prefix_len(title) {
        Some(n) => title[n..].trim_start().to_string(),
        None => title.to_string(),
    }
}

fn source_head(mr: &Mr, heads: &Heads) -> Option<String> {
    heads
        .heads
        .get(&mr.source_branch)
        .cloned()
        .or_else(|| mr.last_sha.clone())
}

/// The head pipeline, if it was run for the current source head.
fn head_pipeline<'a>(mr: &'a Mr, head: Option<&str>) -> Option<&'a Pipeline> {
    mr.pipeline
        .as_ref()
        .filter(|p| Some(p.sha.as_str()) == head)
}

/// `detailed_merge_status` as shown now: `not_open` for a closed or merged
/// MR, else the forced/scripted value, else computed (GitLab's check order
/// approximated: draft, commits, discussions, CI, conflict, rebase).
pub fn detailed_status(state: &State, mr: &Mr, heads: &mut Heads) -> String {
    if mr.state != "opened" {
        return "not_open".into();
    }
    if let Some(forced) = mr.status_script.front() {
        return forced.clone();
    }
    computed_status(state, mr, heads)
}

fn computed_status(state: &State, mr: &Mr, heads: &mut Heads) -> String {
    if is_draft(&mr.title) {
        return "draft_status".into();
    }
    let Some(source) = heads.heads.get(&mr.source_branch).cloned() else {
        return "commits_status".into();
    };
    if !mr.discussions_resolved {
        return "discussions_not_resolved".into();
    }
    if state.opts.only_allow_merge_if_pipeline_succeeds {
        match head_pipeline(mr, Some(&source)).map(|p| p.status.as_str()) {
            Some("success") => {}
            Some(s) if ACTIVE.contains(&s) => return "ci_still_running".into(),
            _ => return "ci_must_pass".into(),
        }
    }
    if mr.conflicts {
        return "conflict".into();
    }
    if state.opts.merge_method != "merge"
        && let Some(target) = heads.heads.get(&mr.target_branch).cloned()
        && heads.merge_base(state, &source, &target).as_deref() != Some(target.as_str())
    {
        return "need_rebase".into();
    }
    "mergeable".into()
}

/// The deprecated `merge_status`, which only says whether git can merge.
pub fn legacy_merge_status(mr: &Mr, detailed: &str) -> &'static str {
    if mr.conflicts {
        return "cannot_be_merged";
    }
    match detailed {
        "checking" => "checking",
        "unchecked" => "unchecked",
        _ => "can_be_merged",
    }
}

/// `(head_pipeline, pipeline)` JSON (`Entities::Ci::Pipeline` /
/// `PipelineBasic`), when the pipeline ran for `head`.
pub fn pipeline_json(state: &State, mr: &Mr, head: Option<&str>) -> Option<(Value, Value)> {
    let p = head_pipeline(mr, head)?;
    let web_url = format!("{}/-/pipelines/{}", state.project_web_url(), p.id);
    let basic = json!({
        "id": p.id,
        "iid": p.id - 100,
        "project_id": state.opts.project_id,
        "sha": p.sha,
        "ref": format!("refs/merge-requests/{}/head", mr.iid),
        "status": p.status,
        "source": "merge_request_event",
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "web_url": web_url,
    });
    let mut full = basic.clone();
    full["before_sha"] = json!(super::git::ZERO_OID);
    full["tag"] = json!(false);
    full["yaml_errors"] = Value::Null;
    full["user"] = user_json(state, state.opts.bot_user_id, false);
    full["detailed_status"] = json!({ "text": p.status, "label": p.status, "group": p.status });
    Some((full, basic))
}

fn can_merge(state: &State, user: u64) -> bool {
    state
        .access_level(user)
        .is_some_and(|l| l >= state.opts.merge_access_level)
}

/// `AutoMerge::BaseService#available_for?` for merge-when-pipeline-succeeds.
fn auto_merge_available(mr: &Mr, heads: &Heads) -> bool {
    let head = heads.heads.get(&mr.source_branch).cloned();
    mr.state == "opened"
        && head.is_some()
        && !is_draft(&mr.title)
        && mr.discussions_resolved
        && head_pipeline(mr, head.as_deref()).is_some_and(|p| ACTIVE.contains(&p.status.as_str()))
}

/// `PUT /projects/:id/merge_requests/:iid/merge`.
pub fn merge_endpoint(state: &State, iid: u64, p: &Params) -> Response {
    let bot = state.opts.bot_user_id;
    if !state.store().mrs.iter().any(|m| m.iid == iid) {
        return msg(404, "404 Merge Request Not Found");
    }
    // `unauthorized! unless merge_request.can_be_merged_by?(current_user)`
    if !can_merge(state, bot) {
        return msg(401, "401 Unauthorized");
    }
    let auto =
        p.bool("merge_when_pipeline_succeeds") == Some(true) || p.bool("auto_merge") == Some(true);
    // Serialised with pushes: the sha checked is the sha merged.
    let _w = lock(&state.repo.write_lock);
    let mut heads = Heads::read(state);
    let mut store = state.store();
    let Some(idx) = store.mrs.iter().position(|m| m.iid == iid) else {
        return msg(404, "404 Merge Request Not Found");
    };
    let head = source_head(&store.mrs[idx], &heads);
    // build_merge_params: check_sha_param! comes before any mergeability check.
    if let Some(sha) = p.str("sha")
        && Some(&sha) != head.as_ref()
    {
        return msg(
            409,
            &format!(
                "SHA does not match HEAD of source branch: {}",
                head.unwrap_or_default()
            ),
        );
    }
    if p.bool("squash") == Some(true) {
        store.mrs[idx].squash = true;
    }
    let params = AutoMerge {
        user: bot,
        sha: p.str("sha").or(head.clone()).unwrap_or_default(),
        commit_message: p.str("merge_commit_message").filter(|m| !m.is_empty()),
        squash_commit_message: p.str("squash_commit_message").filter(|m| !m.is_empty()),
        remove_source: p.bool("should_remove_source_branch"),
    };
    let mr = &store.mrs[idx];
    let immediate = if auto {
        if auto_merge_available(mr, &heads) {
            let was = mr.auto_merge.is_some();
            let mr = &mut store.mrs[idx];
            mr.auto_merge = Some(params.clone());
            mr.merge_user = Some(bot);
            mr.updated_at = now_rfc3339();
            if !was {
                let body = format!(
                    "enabled an automatic merge when the pipeline for {} succeeds",
                    params.sha
                );
                push_note(&mut store, idx, bot, &body, true);
            }
            drop(store);
            drop(_w);
            return render_mr(state, iid);
        }
        let pipeline_allows = match head_pipeline(mr, head.as_deref()) {
            None => true,
            Some(p) => p.status == "success",
        };
        if !pipeline_allows {
            return msg(405, "405 Method Not Allowed");
        }
        // execute_immediate_merge!: 422 unless mergeable?
        if detailed_status(state, mr, &mut heads) != "mergeable" {
            return msg(422, "Branch cannot be merged");
        }
        true
    } else {
        detailed_status(state, mr, &mut heads) == "mergeable"
    };
    if !immediate {
        return msg(405, "405 Method Not Allowed");
    }
    if do_merge(state, &mut store, idx, &heads, &params).is_err() {
        return msg(422, "Branch cannot be merged");
    }
    drop(store);
    drop(_w);
    render_mr(state, iid)
}

/// `POST .../cancel_merge_when_pipeline_succeeds`.
pub fn cancel_endpoint(state: &State, iid: u64) -> Response {
    let bot = state.opts.bot_user_id;
    let mut store = state.store();
    let Some(idx) = store.mrs.iter().position(|m| m.iid == iid) else {
        return msg(404, "404 Merge Request Not Found");
    };
    let mr = &mut store.mrs[idx];
    if !can_merge(state, bot) && mr.author_id != bot {
        return msg(401, "401 Unauthorized");
    }
    if mr.state != "opened" {
        return msg(405, "405 Method Not Allowed");
    }
    if mr.auto_merge.is_none() {
        return msg(406, "406 Not Acceptable");
    }
    mr.auto_merge = None;
    mr.merge_user = None;
    mr.updated_at = now_rfc3339();
    push_note(&mut store, idx, bot, "canceled the automatic merge", true);
    drop(store);
    let mut r = render_mr(state, iid);
    r.status = 201;
    r
}

#[derive(Debug)]
enum MergeFail {
    SourceMoved,
    Git(String),
}

/// `MergeRequests::MergeService`: squash if asked, merge commit or
/// fast-forward into the target (compare-and-swap), state `merged`, the
/// `merged` system note, source branch deleted if asked. The caller holds
/// the repository write lock.
fn do_merge(
    state: &State,
    store: &mut Store,
    idx: usize,
    heads: &Heads,
    params: &AutoMerge,
) -> Result<(), MergeFail> {
    let repo = &state.repo;
    let mr = &store.mrs[idx];
    let source = heads
        .heads
        .get(&mr.source_branch)
        .cloned()
        .ok_or_else(|| MergeFail::Git("source branch missing".into()))?;
    if params.sha != source {
        return Err(MergeFail::SourceMoved);
    }
    let target = heads
        .heads
        .get(&mr.target_branch)
        .cloned()
        .ok_or_else(|| MergeFail::Git("target branch missing".into()))?;
    let user = state
        .username(params.user)
        .unwrap_or_else(|| format!("user{}", params.user));
    let name = if params.user == state.opts.bot_user_id {
        "GitOps Bot".to_string()
    } else {
        user.clone()
    };
    let email = format!("{user}@example.com");
    let author = Some((name.as_str(), email.as_str()));
    let mut tip = source.clone();
    let mut squash_sha = None;
    if mr.squash {
        let base = repo
            .merge_base(&source, &target)
            .ok_or_else(|| MergeFail::Git("no merge base".into()))?;
        let tree = repo
            .run_str(&["rev-parse", &format!("{source}^{{tree}}")])
            .map_err(MergeFail::Git)?;
        let message = params
            .squash_commit_message
            .clone()
            .unwrap_or_else(|| mr.title.clone());
        let sq = repo
            .commit_tree_parents(&tree, &[&base], &message, author)
            .map_err(MergeFail::Git)?;
        squash_sha = Some(sq.clone());
        tip = sq;
    }
    let method = state.opts.merge_method.as_str();
    if method != "merge" && !repo.is_ancestor(&target, &tip) {
        return Err(MergeFail::Git("fast-forward not possible".into()));
    }
    let (new_target, merge_commit) = if method == "ff" {
        (tip.clone(), None)
    } else {
        let tree = repo
            .merge_tree(&target, &tip)
            .map_err(MergeFail::Git)?
            .ok_or_else(|| MergeFail::Git("conflict".into()))?;
        let message = params.commit_message.clone().unwrap_or_else(|| {
            format!(
                "Merge branch '{}' into '{}'\n\n{}\n\nSee merge request {}!{}",
                mr.source_branch, mr.target_branch, mr.title, state.opts.project_path, mr.iid
            )
        });
        let c = repo
            .commit_tree_parents(&tree, &[&target, &tip], &message, author)
            .map_err(MergeFail::Git)?;
        (c.clone(), Some(c))
    };
    repo.update_ref(&mr.target_branch, &new_target, Some(&target))
        .map_err(MergeFail::Git)?;
    let remove = params
        .remove_source
        .or(mr.remove_source_branch)
        .unwrap_or(false);
    if remove && mr.source_branch != state.opts.default_branch {
        let _ = repo.delete_ref(&mr.source_branch, &source);
    }
    let now = now_rfc3339();
    let mr = &mut store.mrs[idx];
    mr.state = "merged".into();
    mr.merged_at = Some(now.clone());
    mr.updated_at = now;
    mr.merged_by = Some(params.user);
    mr.merge_user = Some(params.user);
    mr.merge_commit_sha = merge_commit;
    mr.squash_commit_sha = squash_sha;
    mr.last_sha = Some(source);
    mr.auto_merge = None;
    if params.remove_source.is_some() {
        mr.merge_remove_source = params.remove_source;
    }
    push_note(store, idx, params.user, "merged", true);
    Ok(())
}

fn abort_auto_merge(store: &mut Store, idx: usize, reason: &str) {
    let mr = &mut store.mrs[idx];
    let Some(am) = mr.auto_merge.take() else {
        return;
    };
    mr.merge_user = None;
    let body = format!("aborted the automatic merge because {reason}");
    push_note(store, idx, am.user, &body, true);
}

/// Test hook behind [`super::FakeGitlab::set_pipeline`].
pub fn set_pipeline(state: &State, iid: u64, status: Option<&str>) {
    let _w = lock(&state.repo.write_lock);
    let mut heads = Heads::read(state);
    let mut store = state.store();
    let idx = store
        .mrs
        .iter()
        .position(|m| m.iid == iid)
        .unwrap_or_else(|| panic!("no MR !{iid}"));
    let head = source_head(&store.mrs[idx], &heads).unwrap_or_default();
    let now = now_rfc3339();
    let Some(status) = status else {
        store.mrs[idx].pipeline = None;
        return;
    };
    let same = store.mrs[idx]
        .pipeline
        .as_ref()
        .is_some_and(|p| p.sha == head);
    if same {
        let p = store.mrs[idx].pipeline.as_mut().unwrap();
        p.status = status.to_string();
        p.updated_at = now;
    } else {
        let id = store.next_pipeline_id;
        store.next_pipeline_id += 1;
        store.mrs[idx].pipeline = Some(Pipeline {
            id,
            sha: head.clone(),
            status: status.to_string(),
            created_at: now.clone(),
            updated_at: now,
        });
    }
    if status != "success" || store.mrs[idx].state != "opened" {
        return;
    }
    let Some(am) = store.mrs[idx].auto_merge.clone() else {
        return;
    };
    if am.sha != head {
        abort_auto_merge(&mut store, idx, "source branch was updated");
        return;
    }
    if detailed_status(state, &store.mrs[idx], &mut heads) != "mergeable" {
        // Still waiting for the other checks.
        return;
    }
    if let Err(e) = do_merge(state, &mut store, idx, &heads, &am) {
        let reason = match e {
            MergeFail::SourceMoved => "source branch was updated",
            MergeFail::Git(_) => "the merge request cannot be merged",
        };
        abort_auto_merge(&mut store, idx, reason);
    }
}

/// Records a diff version of MR `iid` for source head `head`.
pub fn record_version(state: &State, iid: u64, head: &str) {
    let Some(target_branch) = state
        .store()
        .mrs
        .iter()
        .find(|m| m.iid == iid)
        .map(|m| m.target_branch.clone())
    else {
        return;
    };
    let start = state.repo.branch_head(&target_branch).unwrap_or_default();
    let base = state
        .repo
        .merge_base(head, &start)
        .unwrap_or_else(|| start.clone());
    let (real_size, patch_id) = state.repo.diff_size_and_patch_id(&base, head);
    let mut store = state.store();
    let id = store.next_version_id;
    store.next_version_id += 1;
    if let Some(mr) = store.mrs.iter_mut().find(|m| m.iid == iid) {
        mr.versions.push(Version {
            id,
            head: head.to_string(),
            base,
            start,
            created_at: now_rfc3339(),
            real_size,
            patch_id,
        });
    }
}

/// Called (under the repository write lock) after `branch` moved from `old`
/// to `new` (pushed by user `by`): every open MR from it gets a new diff version, GitLab's
/// "added N commits" system note, and loses a pending automatic merge.
pub fn source_moved(state: &State, branch: &str, old: Option<&str>, new: &str, by: u64) {
    let iids: Vec<u64> = state
        .store()
        .mrs
        .iter()
        .filter(|m| m.state == "opened" && m.source_branch == branch)
        .map(|m| m.iid)
        .collect();
    if iids.is_empty() {
        return;
    }
    let commits: Vec<(String, String)> = match old {
        Some(o) if state.repo.is_ancestor(o, new) => state
            .repo
            .run_str(&[
                "log",
                "--reverse",
                "--format=%H%x00%s",
                &format!("{o}..{new}"),
            ])
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('\0'))
            .map(|(h, s)| (h[..8.min(h.len())].to_string(), s.to_string()))
            .collect(),
        _ => Vec::new(),
    };
    for iid in iids {
        record_version(state, iid, new);
        let mut store = state.store();
        let Some(idx) = store.mrs.iter().position(|m| m.iid == iid) else {
            continue;
        };
        let vid = store.mrs[idx].versions.last().map(|v| v.id).unwrap_or(0);
        store.mrs[idx].last_sha = Some(new.to_string());
        store.mrs[idx].updated_at = now_rfc3339();
        if !commits.is_empty() {
            let n = commits.len();
            let items: String = commits
                .iter()
                .map(|(h, s)| format!("<li>{h} - {s}</li>"))
                .collect();
            let body = format!(
                "added {n} commit{}\n\n<ul>{items}</ul>\n\n[Compare with previous version]({}/-/merge_requests/{iid}/diffs?diff_id={vid}&start_sha={})",
                if n == 1 { "" } else { "s" },
                state.project_web_url(),
                old.unwrap_or_default()
            );
            push_note(&mut store, idx, by, &body, true);
        }
        abort_auto_merge(&mut store, idx, "source branch was updated");
    }
}

fn version_json(mr: &Mr, v: &Version) -> Value {
    json!({
        "id": v.id,
        "head_commit_sha": v.head,
        "base_commit_sha": v.base,
        "start_commit_sha": v.start,
        "created_at": v.created_at,
        "merge_request_id": mr.id,
        "state": "collected",
        "real_size": v.real_size.to_string(),
        "patch_id_sha": v.patch_id,
    })
}

pub fn render_versions(state: &State, iid: u64) -> Vec<Value> {
    let store = state.store();
    store
        .mrs
        .iter()
        .find(|m| m.iid == iid)
        .map(|mr| {
            mr.versions
                .iter()
                .rev()
                .map(|v| version_json(mr, v))
                .collect()
        })
        .unwrap_or_default()
}

/// `GET .../merge_requests/:iid/versions`, newest first.
pub fn versions_endpoint(state: &State, req: &Request, iid: u64, p: &Params) -> Response {
    if !state.store().mrs.iter().any(|m| m.iid == iid) {
        return msg(404, "404 Merge Request Not Found");
    }
    paginate(state, req, p, render_versions(state, iid))
}
