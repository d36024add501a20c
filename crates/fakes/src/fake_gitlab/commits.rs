//! Reading commits: one commit, its diff, a merge request's commits, and a comparison of two
//! commits.
//!
//! Sources: `doc/api/commits.md` ("Get a single commit": 404 `404 Commit Not Found`),
//! `doc/api/merge_requests.md` ("Get single merge request commits": newest first, paginated,
//! from the latest diff version, so it still answers after the merge and the deletion of the
//! source branch), `doc/api/repositories.md` ("Compare branches, tags or commits": `from`
//! and `to` are required; without `straight=true` the diff runs from the merge base; the
//! answer has `commit`, `commits` (oldest first), `diffs`, `compare_timeout`,
//! `compare_same_ref`, `web_url`), "Get the diff of a commit": from the first parent,
//! paginated (GitLab's `Gitlab::GitalyClient::CommitService#diff_from_parent` diffs
//! `commit.parents[0]` against the commit).

use serde_json::{Value, json};

use super::State;
use super::api::{commit_json, msg, paginate, param_error};
use super::http::{Request, Response};
use super::params::Params;

/// `GET .../repository/commits/:sha`.
pub fn single(state: &State, sha: &str) -> Response {
    match state
        .repo
        .resolve_commit(sha)
        .and_then(|id| state.repo.commit_info(&id))
    {
        Some(c) => Response::json(200, &commit_json(state, &c)),
        None => msg(404, "404 Commit Not Found"),
    }
}

/// The empty tree's id: what a root commit is diffed against.
const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// `GET .../repository/commits/:sha/diff`: the changes against the first parent (the
/// empty tree for a root commit), paginated (20 per page by default), as GitLab's
/// `diff_from_parent` computes them.
pub fn diff(state: &State, req: &Request, sha: &str, p: &Params) -> Response {
    let Some(info) = state
        .repo
        .resolve_commit(sha)
        .and_then(|id| state.repo.commit_info(&id))
    else {
        return msg(404, "404 Commit Not Found");
    };
    let parent = info
        .parent_ids
        .first()
        .map_or(EMPTY_TREE, String::as_str)
        .to_string();
    paginate(state, req, p, diffs(state, &parent, &info.id))
}

/// Commit ids of `from..to`, newest first.
fn range(state: &State, from: &str, to: &str) -> Vec<String> {
    state
        .repo
        .run_str(&["rev-list", &format!("{from}..{to}")])
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `GET .../merge_requests/:iid/commits`: the commits of the latest diff version.
pub fn of_merge_request(state: &State, req: &Request, iid: u64, p: &Params) -> Response {
    let (base, head) = {
        let store = state.store();
        let Some(mr) = store.mrs.iter().find(|m| m.iid == iid) else {
            return msg(404, "404 Merge Request Not Found");
        };
        match mr.versions.last() {
            Some(v) => (v.base.clone(), v.head.clone()),
            None => return paginate(state, req, p, Vec::new()),
        }
    };
    let items: Vec<Value> = range(state, &base, &head)
        .iter()
        .filter_map(|id| state.repo.commit_info(id))
        .map(|c| commit_json(state, &c))
        .collect();
    paginate(state, req, p, items)
}

/// `GET .../repository/compare?from=A&to=B[&straight=true]`.
pub fn compare(state: &State, p: &Params) -> Response {
    let (Some(from), Some(to)) = (p.str("from"), p.str("to")) else {
        return param_error("from is missing, to is missing");
    };
    let (Some(from), Some(to)) = (
        state.repo.resolve_commit(&from),
        state.repo.resolve_commit(&to),
    ) else {
        return msg(404, "404 Ref Not Found");
    };
    let straight = p.str("straight").as_deref() == Some("true");
    let base = if straight {
        from.clone()
    } else {
        state
            .repo
            .merge_base(&from, &to)
            .unwrap_or_else(|| from.clone())
    };
    let mut commits: Vec<Value> = range(state, &base, &to)
        .iter()
        .filter_map(|id| state.repo.commit_info(id))
        .map(|c| commit_json(state, &c))
        .collect();
    commits.reverse();
    let diffs = diffs(state, &base, &to);
    let commit = state
        .repo
        .commit_info(&to)
        .map(|c| commit_json(state, &c))
        .unwrap_or(Value::Null);
    Response::json(
        200,
        &json!({
            "commit": commit,
            "commits": commits,
            "diffs": diffs,
            "compare_timeout": false,
            "compare_same_ref": from == to,
            "web_url": format!("{}/-/compare/{from}...{to}", state.project_web_url()),
        }),
    )
}

/// One entry per changed path, as `git diff --name-status -M` sees it.
fn diffs(state: &State, from: &str, to: &str) -> Vec<Value> {
    let out = state
        .repo
        .run_str(&["diff", "--name-status", "-M", "-z", from, to, "--"])
        .unwrap_or_default();
    let mut fields = out.split('\0').filter(|f| !f.is_empty());
    let mut diffs = Vec::new();
    while let Some(status) = fields.next() {
        let renamed = status.starts_with('R') || status.starts_with('C');
        let Some(old_path) = fields.next() else { break };
        let new_path = if renamed {
            match fields.next() {
                Some(n) => n,
                None => break,
            }
        } else {
            old_path
        };
        let patch = state
            .repo
            .run_str(&[
                "diff",
                "--no-color",
                "-M",
                from,
                to,
                "--",
                old_path,
                new_path,
            ])
            .unwrap_or_default();
        // GitLab's `diff` starts at the first hunk.
        let hunks = patch
            .find("\n@@")
            .map_or("", |i| &patch[i + 1..])
            .to_string();
        diffs.push(json!({
            "old_path": old_path,
            "new_path": new_path,
            "a_mode": if status == "A" { "0" } else { "100644" },
            "b_mode": if status == "D" { "0" } else { "100644" },
            "diff": hunks,
            "new_file": status == "A",
            "renamed_file": renamed,
            "deleted_file": status == "D",
            "generated_file": false,
        }));
    }
    diffs
}
