//! A fake GitLab (REST API v4) for integration tests.
//!
//! * HTTP: a hand-rolled HTTP/1.1 server on `127.0.0.1:0`, one thread per
//!   connection, one request per connection, every answer carries
//!   `Content-Length` and `Connection: close` (so reqwest never reuses a
//!   connection and never silently retries a dropped one). Request bodies may
//!   be `Content-Length` or chunked; `Expect: 100-continue` is honoured.
//! * Storage: a real bare git repository in a temp dir, driven through the
//!   `git` CLI only; merge requests and notes live in memory.
//! * Auth: `PRIVATE-TOKEN: <token>` or `Authorization: Bearer <token>`;
//!   anything else under `/api/v4` is 401 `{"message":"401 Unauthorized"}`.
//!   `JOB-TOKEN: <token>` may read, but any write with it is 403
//!   `{"message":"403 Forbidden"}` (a CI job token cannot push or open MRs
//!   here). With `Options::read_only` every write is 403 `insufficient_scope`.
//! * Faults: see [`Rule`] and [`Fault`].
//! * Merging (`PUT .../merge_requests/:iid/merge`, see `merge.rs`): checks in
//!   GitLab's order: 401 when the token's user is below
//!   [`Options::merge_access_level`]; 409 `SHA does not match HEAD of source
//!   branch: <head>` when `sha` is given and differs; then with
//!   `merge_when_pipeline_succeeds`/`auto_merge` and a running head pipeline
//!   the automatic merge is armed (200, still `opened`); otherwise 405 unless
//!   `detailed_merge_status` is `mergeable`, and 422 `Branch cannot be merged`
//!   when git cannot merge. A merge really moves the target branch (merge
//!   commit, or fast-forward per [`Options::merge_method`]), may squash and
//!   delete the source, and adds the `merged` system note. Test knobs:
//!   [`FakeGitlab::set_pipeline`], [`FakeGitlab::set_detailed_merge_status`],
//!   [`FakeGitlab::script_detailed_merge_status`], [`FakeGitlab::set_draft`],
//!   [`FakeGitlab::set_conflicts`], [`FakeGitlab::set_discussions_resolved`].
//! * Every change of an open MR's source head made through the fake (API
//!   commit, [`FakeGitlab::commit_files`], [`Fault::MoveBranchBefore`]) adds a
//!   diff version (`GET .../versions`), GitLab's "added N commits" system note,
//!   and aborts a pending automatic merge. A push with [`FakeGitlab::git`]
//!   bypasses all of this.
//! * Timestamps are `2026-01-02T03:04:05.678Z` and strictly increasing across
//!   the process, so versions, notes and MRs compare by `created_at`.
//! * Emoji reactions on MRs and notes (`awards.rs`); webhook bodies built from
//!   the state: [`FakeGitlab::note_hook`], [`FakeGitlab::merge_request_hook`].
//! * Log: [`LoggedRequest::path`] is the path exactly as sent on the wire,
//!   *including* the `/api/v4` prefix and percent-encoding; the token is never
//!   logged.
#![allow(dead_code)]

mod api;
mod awards;
mod commits;
mod deploys;
mod git;
mod groups;
mod hooks;
mod http;
mod issues;
mod merge;
mod params;

use std::collections::VecDeque;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

pub use issues::{Issue, IssueAward, IssueNote};

/// `X-Gitlab-Event` of [`FakeGitlab::note_hook`] payloads.
pub const NOTE_HOOK: &str = "Note Hook";
/// `X-Gitlab-Event` of [`FakeGitlab::merge_request_hook`] payloads.
pub const MERGE_REQUEST_HOOK: &str = "Merge Request Hook";

/// Access levels as GitLab numbers them.
pub const GUEST: u32 = 10;
pub const REPORTER: u32 = 20;
pub const DEVELOPER: u32 = 30;
pub const MAINTAINER: u32 = 40;
pub const OWNER: u32 = 50;

#[derive(Debug, Clone)]
pub struct Options {
    /// `"group/helloworld-ops"`.
    pub project_path: String,
    pub project_id: u64,
    pub default_branch: String,
    /// Files committed as the first commit on the default branch (byte for
    /// byte, executable bit kept, `.git` skipped). `None`: a one-line README.md.
    pub seed_dir: Option<PathBuf>,
    pub token: String,
    /// Writes with the token are 403 `insufficient_scope`.
    pub read_only: bool,
    pub bot_user_id: u64,
    pub bot_username: String,
    /// Other users (id, username). The first one is "the human" used by
    /// [`FakeGitlab::commit_files`], [`FakeGitlab::close_mr`] and
    /// [`Fault::MoveBranchBefore`].
    pub users: Vec<(u64, String)>,
    /// Project members (user id, access level), for `members/:user_id` and
    /// `members/all/:user_id`.
    pub members: Vec<(u64, u32)>,
    /// Members inherited from the group (user id, access level): listed by
    /// `members/all/:user_id` only. A direct membership wins over these.
    pub group_members: Vec<(u64, u32)>,
    /// The role the token's user needs to merge (GitLab: "Allowed to merge"
    /// of the target branch); below it `PUT .../merge` is 401.
    pub merge_access_level: u32,
    /// Project setting "Pipelines must succeed" (GitLab's default: off). On:
    /// an MR whose head has no successful pipeline is `ci_must_pass` /
    /// `ci_still_running` and cannot be merged immediately (405).
    pub only_allow_merge_if_pipeline_succeeds: bool,
    /// `GET .../approvals` lists `approved_at` for each approver (GitLab 17.x does);
    /// off: only the user, as older GitLab versions answer.
    pub approvals_with_time: bool,
    /// `"merge"` (merge commit, GitLab's default), `"rebase_merge"` (merge
    /// commit, source must contain the target) or `"ff"` (fast-forward only).
    pub merge_method: String,
    /// Other projects on the server, known by `GET /projects/:id` and listed by
    /// `GET /groups/:id/projects` (with the main project) only: every other endpoint of
    /// theirs is 404, as for a project whose repository the token cannot read.
    pub other_projects: Vec<OtherProject>,
}

/// A project besides the main one (see [`Options::other_projects`]).
#[derive(Debug, Clone)]
pub struct OtherProject {
    pub id: u64,
    /// `"group/sub/project"`.
    pub path: String,
    pub archived: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            project_path: "group/helloworld-ops".into(),
            project_id: 42,
            default_branch: "main".into(),
            seed_dir: None,
            token: "glpat-fake-token-0123456789".into(),
            read_only: false,
            bot_user_id: 1,
            bot_username: "gitops-bot".into(),
            users: vec![(2, "operator".into()), (3, "reviewer".into())],
            members: vec![(1, DEVELOPER), (2, MAINTAINER), (3, DEVELOPER)],
            group_members: Vec::new(),
            merge_access_level: DEVELOPER,
            only_allow_merge_if_pipeline_succeeds: false,
            approvals_with_time: true,
            merge_method: "merge".into(),
            other_projects: Vec::new(),
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    /// As on the wire: includes `/api/v4`, percent-encoding preserved, no query.
    pub path: String,
    /// Raw query string without `?` (may be empty).
    pub query: String,
    /// Status sent; `None` when the connection was dropped without an answer.
    pub status: Option<u16>,
    /// The fault applied, if any (e.g. `"drop after apply"`, `"status 429"`).
    pub fault: Option<String>,
    /// No endpoint of the fake matched (answered 404 `{"message":"404 Not Found"}`).
    pub unknown_endpoint: bool,
    /// When the request was read (for latency benchmarks).
    pub at: std::time::Instant,
    /// Request body (lossy UTF-8); empty for GET.
    pub body: String,
}

/// What the matched request suffers.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this instead; the request is not applied.
    Status {
        code: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Close the socket without answering or applying.
    DropBeforeApply,
    /// Apply the request fully, then close the socket without answering.
    DropAfterApply,
    /// Wait, then apply and answer normally (a client that gave up meanwhile
    /// still gets its request applied later, as with a slow real server).
    Delay(Duration),
    /// Apply, wait, then answer.
    DelayAfterApply(Duration),
    /// Just before handling the request, commit `files` (path, content) to
    /// `branch` as the first of `Options::users` (a concurrent human push).
    MoveBranchBefore {
        branch: String,
        files: Vec<(String, String)>,
    },
}

impl Fault {
    /// A 429 as GitLab's rate limiter sends it.
    pub fn rate_limited(retry_after_secs: u64) -> Fault {
        let reset = now_unix() + retry_after_secs;
        Fault::Status {
            code: 429,
            body: "Retry later\n".into(),
            headers: vec![
                ("Content-Type".into(), "text/plain".into()),
                ("Retry-After".into(), retry_after_secs.to_string()),
                ("RateLimit-Name".into(), "throttle_authenticated_api".into()),
                ("RateLimit-Limit".into(), "2000".into()),
                ("RateLimit-Observed".into(), "2001".into()),
                ("RateLimit-Remaining".into(), "0".into()),
                ("RateLimit-Reset".into(), reset.to_string()),
            ],
        }
    }

    /// `{"message":"<code> <reason>"}` with the given code (500, 502, 503…).
    pub fn status(code: u16) -> Fault {
        Fault::Status {
            code,
            body: serde_json::json!({ "message": format!("{code} {}", http::reason(code)) })
                .to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
        }
    }

    fn describe(&self) -> String {
        match self {
            Fault::Status { code, .. } => format!("status {code}"),
            Fault::DropBeforeApply => "drop before apply".into(),
            Fault::DropAfterApply => "drop after apply".into(),
            Fault::Delay(d) => format!("delay {}ms", d.as_millis()),
            Fault::DelayAfterApply(d) => format!("delay after apply {}ms", d.as_millis()),
            Fault::MoveBranchBefore { branch, .. } => format!("moved branch {branch} before"),
        }
    }
}

/// What a [`Rule`]'s predicate sees.
pub struct RequestView<'a> {
    pub method: &'a str,
    /// As on the wire (with `/api/v4`, percent-encoded).
    pub path: &'a str,
    /// Percent-decoded path.
    pub decoded_path: &'a str,
    pub query: &'a str,
    pub body: &'a [u8],
}

type Predicate = Arc<dyn Fn(&RequestView) -> bool + Send + Sync>;

/// A fault rule: which requests, which of them, and what happens.
///
/// Matching requests are counted from the moment the rule is injected; the
/// rule fires on matches number `nth ..= nth + times - 1` (defaults: the next
/// one). The first rule that fires wins; others still count the request.
#[derive(Clone)]
pub struct Rule {
    method: Option<String>,
    path_contains: Option<String>,
    predicate: Option<Predicate>,
    nth: usize,
    times: usize,
    fault: Fault,
}

impl Rule {
    /// `method` `"*"` matches any; `path_contains` is looked for in the raw
    /// and in the percent-decoded path.
    pub fn new(method: &str, path_contains: &str, fault: Fault) -> Rule {
        Rule {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path_contains: Some(path_contains.to_string()),
            predicate: None,
            nth: 1,
            times: 1,
            fault,
        }
    }

    /// Match with a closure instead.
    pub fn matching(
        pred: impl Fn(&RequestView) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) -> Rule {
        Rule {
            method: None,
            path_contains: None,
            predicate: Some(Arc::new(pred)),
            nth: 1,
            times: 1,
            fault,
        }
    }

    /// Fire on the `n`th matching request (1-based) instead of the next one.
    pub fn nth(mut self, n: usize) -> Rule {
        self.nth = n.max(1);
        self
    }

    /// Fire on `n` consecutive matching requests.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = n;
        self
    }

    /// Fire on every matching request.
    pub fn always(mut self) -> Rule {
        self.times = usize::MAX;
        self
    }

    fn matches(&self, v: &RequestView) -> bool {
        let method_ok = self
            .method
            .as_ref()
            .is_none_or(|m| v.method.eq_ignore_ascii_case(m));
        let path_ok = self
            .path_contains
            .as_ref()
            .is_none_or(|p| v.path.contains(p.as_str()) || v.decoded_path.contains(p.as_str()));
        method_ok && path_ok && self.predicate.as_ref().is_none_or(|pred| pred(v))
    }
}

struct RuleState {
    rule: Rule,
    seen: usize,
}

pub(crate) struct Mr {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: String,
    pub state: String,
    pub source_branch: String,
    pub target_branch: String,
    pub author_id: u64,
    pub assignee_ids: Vec<u64>,
    pub reviewer_ids: Vec<u64>,
    pub labels: Vec<String>,
    pub remove_source_branch: Option<bool>,
    pub squash: bool,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub closed_by: Option<u64>,
    pub merged_at: Option<String>,
    /// Last known source head (kept when the branch disappears).
    pub last_sha: Option<String>,
    pub notes: Vec<Note>,
    /// The head pipeline (set by [`FakeGitlab::set_pipeline`]).
    pub pipeline: Option<Pipeline>,
    /// Forced `detailed_merge_status` values: the front one is shown; each
    /// `GET .../merge_requests/:iid` drops it while more than one is left.
    /// Empty: computed from the MR's state.
    pub status_script: VecDeque<String>,
    pub conflicts: bool,
    pub discussions_resolved: bool,
    /// Merge when pipeline succeeds, when enabled.
    pub auto_merge: Option<AutoMerge>,
    pub merge_user: Option<u64>,
    pub merged_by: Option<u64>,
    pub merge_commit_sha: Option<String>,
    pub squash_commit_sha: Option<String>,
    /// `should_remove_source_branch` given to the merge endpoint.
    pub merge_remove_source: Option<bool>,
    /// Diff versions, oldest first.
    pub versions: Vec<Version>,
    /// Users who approve the merge request now, with when (see [`FakeGitlab::approve`]).
    pub approved_by: Vec<(u64, String)>,
    /// Emoji reactions on the MR and on its notes.
    pub awards: Vec<Award>,
}

#[derive(Clone)]
pub(crate) struct Pipeline {
    pub id: u64,
    pub sha: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone)]
pub(crate) struct AutoMerge {
    pub user: u64,
    /// The head the merge was requested for (`sha` or the head then).
    pub sha: String,
    pub commit_message: Option<String>,
    pub squash_commit_message: Option<String>,
    pub remove_source: Option<bool>,
}

pub(crate) struct Version {
    pub id: u64,
    pub head: String,
    pub base: String,
    pub start: String,
    pub created_at: String,
    pub real_size: usize,
    pub patch_id: Option<String>,
}

pub(crate) struct Award {
    pub id: u64,
    pub name: String,
    pub user_id: u64,
    /// `None`: on the MR itself.
    pub note_id: Option<u64>,
    pub created_at: String,
}

pub(crate) struct Note {
    pub id: u64,
    pub body: String,
    pub author_id: u64,
    pub system: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A deployment record (`POST .../deployments`). Times are milliseconds since the epoch.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: u64,
    pub environment: String,
    pub sha: String,
    pub ref_: String,
    pub status: String,
    pub created_at: u64,
    pub updated_at: u64,
    /// Set when the status turns `success`, `failed` or `canceled`, as GitLab does.
    pub finished_at: Option<u64>,
}

#[derive(Default)]
pub(crate) struct Store {
    pub mrs: Vec<Mr>,
    pub issues: Vec<issues::Issue>,
    pub deployments: Vec<Deployment>,
    pub next_deployment_id: u64,
    pub next_note_id: u64,
    pub next_award_id: u64,
    pub next_version_id: u64,
    pub next_pipeline_id: u64,
}

pub(crate) struct State {
    pub opts: Options,
    pub base_url: String,
    pub repo: git::Repo,
    pub store: Mutex<Store>,
    log: Mutex<Vec<LoggedRequest>>,
    rules: Mutex<Vec<RuleState>>,
    stop: AtomicBool,
    // Last: removed after everything that points into it.
    _tmp: tempfile::TempDir,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub fn project_web_url(&self) -> String {
        format!("{}/{}", self.base_url, self.opts.project_path)
    }

    /// The human of the scenario: first of `Options::users`, else the bot.
    pub fn human(&self) -> (u64, String) {
        self.opts
            .users
            .first()
            .cloned()
            .unwrap_or((self.opts.bot_user_id, self.opts.bot_username.clone()))
    }

    pub fn username(&self, id: u64) -> Option<String> {
        if id == self.opts.bot_user_id {
            return Some(self.opts.bot_username.clone());
        }
        self.opts
            .users
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, u)| u.clone())
    }

    /// Commits `files` on top of `branch` (created from the default branch
    /// when missing), serialised with API writes, compare-and-swap on the ref.
    pub fn commit_files_as(
        &self,
        branch: &str,
        files: &[(String, Vec<u8>)],
        message: &str,
        author: (&str, &str),
    ) -> Result<String, String> {
        let _w = lock(&self.repo.write_lock);
        let old = self.repo.branch_head(branch);
        let base = match &old {
            Some(h) => h.clone(),
            None => self
                .repo
                .branch_head(&self.opts.default_branch)
                .ok_or("no default branch")?,
        };
        let existing = self.repo.tree_entries(&base)?;
        let changes: Vec<git::Change> = files
            .iter()
            .map(|(p, c)| git::Change::Write {
                path: p.clone(),
                mode: existing
                    .get(p)
                    .map(|(m, _)| m.clone())
                    .unwrap_or_else(|| "100644".into()),
                content: c.clone(),
            })
            .collect();
        let tree = self.repo.write_tree(Some(&base), &changes)?;
        let sha = self
            .repo
            .commit_tree(&tree, Some(&base), message, Some(author))?;
        self.repo.update_ref(branch, &sha, old.as_deref())?;
        merge::source_moved(self, branch, old.as_deref(), &sha, self.human().0);
        Ok(sha)
    }

    /// The access level of a user: a direct membership, else an inherited one.
    pub fn access_level(&self, user: u64) -> Option<u32> {
        self.opts
            .members
            .iter()
            .chain(self.opts.group_members.iter())
            .find(|(id, _)| *id == user)
            .map(|(_, l)| *l)
    }
}

pub struct FakeGitlab {
    state: Arc<State>,
    addr: std::net::SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl FakeGitlab {
    /// Creates the repository and starts serving on a background thread.
    pub fn start(opts: Options) -> FakeGitlab {
        let tmp = tempfile::tempdir().expect("temp dir");
        let repo = git::Repo::init(tmp.path(), &opts.default_branch, opts.seed_dir.as_deref());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            opts,
            base_url: format!("http://{addr}"),
            repo,
            store: Mutex::new(Store {
                mrs: Vec::new(),
                next_note_id: 1,
                next_award_id: 1,
                next_version_id: 1,
                next_pipeline_id: 101,
                ..Store::default()
            }),
            log: Mutex::new(Vec::new()),
            rules: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            _tmp: tmp,
        });
        let st = state.clone();
        let accept = std::thread::Builder::new()
            .name("fake-gitlab-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if st.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = conn else { continue };
                    let st = st.clone();
                    let _ = std::thread::Builder::new()
                        .name("fake-gitlab-conn".into())
                        .spawn(move || serve(&st, stream));
                }
            })
            .expect("spawn accept thread");
        FakeGitlab {
            state,
            addr,
            accept: Some(accept),
        }
    }

    /// `"http://127.0.0.1:PORT"` (no trailing slash, no `/api/v4`).
    pub fn url(&self) -> String {
        self.state.base_url.clone()
    }

    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.state.base_url)
    }

    /// `"<url>/group/helloworld-ops"`.
    pub fn project_web_url(&self) -> String {
        self.state.project_web_url()
    }

    pub fn token(&self) -> &str {
        &self.state.opts.token
    }

    pub fn options(&self) -> &Options {
        &self.state.opts
    }

    /// Every deployment recorded through the API, oldest first.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.state.store().deployments.clone()
    }

    /// Moves deployment `id`'s times (created, updated, finished) `by` into the past, as if
    /// it had been made that long ago. Panics on an unknown id (a test's mistake).
    pub fn age_deployment(&self, id: u64, by: std::time::Duration) {
        let by = by.as_millis() as u64;
        let mut store = self.state.store();
        let d = store
            .deployments
            .iter_mut()
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("no deployment {id}"));
        d.created_at = d.created_at.saturating_sub(by);
        d.updated_at = d.updated_at.saturating_sub(by);
        d.finished_at = d.finished_at.map(|t| t.saturating_sub(by));
    }

    /// Records a deployment as `sync` would (created, then finished with `status`), for
    /// tests of what reads them. Returns its id.
    pub fn add_deployment(&self, environment: &str, sha: &str, status: &str) -> u64 {
        deploys::record(&self.state, environment, sha, "main", status)
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.state.log).clone()
    }

    /// Every request that is not a GET (or HEAD).
    pub fn writes(&self) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET" && r.method != "HEAD")
            .collect()
    }

    /// Requests no endpoint of the fake matched.
    pub fn unknown_requests(&self) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.unknown_endpoint)
            .collect()
    }

    pub fn clear_log(&self) {
        lock(&self.state.log).clear();
    }

    pub fn inject(&self, rule: Rule) {
        lock(&self.state.rules).push(RuleState { rule, seen: 0 });
    }

    pub fn clear_faults(&self) {
        lock(&self.state.rules).clear();
    }

    pub fn branch_head(&self, branch: &str) -> Option<String> {
        self.state.repo.branch_head(branch)
    }

    pub fn branches(&self) -> Vec<String> {
        self.state.repo.branches().into_keys().collect()
    }

    /// The bytes of `path` at `rev` (`git show rev:path`), `None` if absent.
    pub fn file(&self, rev: &str, path: &str) -> Option<Vec<u8>> {
        self.state.repo.show_file(rev, path)
    }

    /// Someone else pushes `files` (path, content) to `branch` (created from
    /// the default branch when missing). Returns the new head.
    pub fn commit_files(&self, branch: &str, files: &[(&str, &str)], message: &str) -> String {
        let files: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect();
        let (_, who) = self.state.human();
        let email = format!("{who}@example.com");
        self.state
            .commit_files_as(branch, &files, message, (&who, &email))
            .expect("commit_files")
    }

    /// All merge requests, by iid, as `GET .../merge_requests/:iid` renders them.
    /// The project's issues, oldest first.
    pub fn issues(&self) -> Vec<Issue> {
        self.state.store().issues.clone()
    }

    /// An issue made by someone else (or an earlier run), open, with `labels`; its iid.
    /// Its author is the bot (an earlier run); see [`FakeGitlab::add_issue_as`].
    pub fn add_issue(&self, description: &str, labels: &[&str]) -> u64 {
        self.add_issue_as(self.state.opts.bot_user_id, description, labels)
    }

    /// An issue opened by `author_id`, open, with `labels`; its iid.
    pub fn add_issue_as(&self, author_id: u64, description: &str, labels: &[&str]) -> u64 {
        let mut store = self.state.store();
        let iid = store.issues.len() as u64 + 1;
        store.issues.push(Issue {
            iid,
            title: format!("issue {iid}"),
            description: description.to_string(),
            state: "opened".into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            assignee_ids: Vec::new(),
            issue_type: "issue".into(),
            created_at: now_rfc3339(),
            notes: Vec::new(),
            author_id,
            thread: Vec::new(),
            awards: Vec::new(),
        });
        iid
    }

    /// A user comments on issue #`iid`; returns the note id.
    pub fn add_issue_note(&self, iid: u64, user_id: u64, body: &str) -> u64 {
        issues::push_note(&self.state, iid, user_id, body).expect("no such issue")
    }

    /// A user reacts with `name` on a comment of issue #`iid`; returns the award id.
    pub fn issue_award(&self, iid: u64, note_id: u64, user_id: u64, name: &str) -> u64 {
        issues::add_award(&self.state, iid, note_id, user_id, name)
            .unwrap_or_else(|e| panic!("award: {e}"))
    }

    /// Emoji reactions on a comment of issue #`iid`, as (username, emoji name), oldest first.
    pub fn issue_awards(&self, iid: u64, note_id: u64) -> Vec<(String, String)> {
        let store = self.state.store();
        store
            .issues
            .iter()
            .filter(|i| i.iid == iid)
            .flat_map(|i| &i.awards)
            .filter(|a| a.note_id == note_id)
            .map(|a| {
                (
                    self.state
                        .username(a.user_id)
                        .unwrap_or_else(|| format!("user{}", a.user_id)),
                    a.name.clone(),
                )
            })
            .collect()
    }

    /// The body GitLab would POST for a comment on issue #`iid` (`X-Gitlab-Event: Note
    /// Hook`, `noteable_type: Issue`, with the `issue` object).
    pub fn issue_note_hook(&self, iid: u64, note_id: u64) -> Value {
        hooks::issue_note_hook(&self.state, iid, note_id).expect("no such issue or note")
    }

    pub fn merge_requests(&self) -> Vec<Value> {
        api::render_all_mrs(&self.state)
    }

    /// Notes of an MR (oldest first), as the API renders them.
    pub fn notes(&self, mr_iid: u64) -> Vec<Value> {
        api::render_notes(&self.state, mr_iid)
    }

    /// A human closes the MR (adds the `closed` system note).
    pub fn close_mr(&self, iid: u64) {
        let (who, _) = self.state.human();
        api::set_mr_state(&self.state, iid, "closed", who);
    }

    /// A human merges the MR (state only; the target branch is not moved).
    /// To merge for real, use `PUT .../merge` (the bot's token).
    pub fn mark_merged(&self, iid: u64) {
        let (who, _) = self.state.human();
        api::set_mr_state(&self.state, iid, "merged", who);
    }

    /// A user comments on an MR; returns the note id.
    pub fn add_note(&self, iid: u64, user_id: u64, body: &str) -> u64 {
        api::add_note(&self.state, iid, user_id, body, false).expect("no such MR")
    }

    /// A user edits their note (body and `updated_at` change, as when a
    /// human edits a comment in the UI).
    pub fn edit_note(&self, iid: u64, note_id: u64, body: &str) {
        api::edit_note(&self.state, iid, note_id, body).expect("no such MR or note");
    }

    /// The head pipeline of an MR: `Some("running" | "pending" | "success" |
    /// "failed" | "canceled" | …)` for the current source head, `None` for no
    /// pipeline. Shown as `head_pipeline` / `pipeline` while the source head is
    /// still the pipeline's sha. Going to `success` runs a pending
    /// merge-when-pipeline-succeeds (the MR really merges, or the automatic
    /// merge is aborted with a system note when the source moved since).
    pub fn set_pipeline(&self, iid: u64, status: Option<&str>) {
        merge::set_pipeline(&self.state, iid, status);
    }

    /// Forces `detailed_merge_status` (and the merge endpoint's view of it:
    /// anything but `"mergeable"` makes `PUT .../merge` answer 405) until
    /// [`FakeGitlab::clear_detailed_merge_status`]. A closed or merged MR
    /// still shows `not_open`.
    pub fn set_detailed_merge_status(&self, iid: u64, status: &str) {
        self.script_detailed_merge_status(iid, &[status]);
    }

    /// Successive `GET .../merge_requests/:iid` see these values in turn; the
    /// last one then sticks (e.g. `["checking", "checking", "mergeable"]`).
    /// Lists, the merge endpoint and hook payloads see the current value
    /// without consuming it.
    pub fn script_detailed_merge_status(&self, iid: u64, statuses: &[&str]) {
        self.with_mr(iid, |mr| {
            mr.status_script = statuses.iter().map(|s| s.to_string()).collect();
        });
    }

    /// Back to the computed `detailed_merge_status`.
    pub fn clear_detailed_merge_status(&self, iid: u64) {
        self.with_mr(iid, |mr| mr.status_script.clear());
    }

    /// A human marks the MR as draft (`Draft: ` title prefix) or ready, with
    /// GitLab's system note.
    pub fn set_draft(&self, iid: u64, draft: bool) {
        let (who, _) = self.state.human();
        api::set_draft(&self.state, iid, draft, who);
    }

    /// GitLab found (or no longer finds) conflicts: `has_conflicts`,
    /// `merge_status: cannot_be_merged`, `detailed_merge_status: conflict`,
    /// and the merge endpoint answers 405. (A real conflict GitLab has not
    /// noticed yet surfaces at merge time as 422 `Branch cannot be merged`.)
    pub fn set_conflicts(&self, iid: u64, conflicts: bool) {
        self.with_mr(iid, |mr| mr.conflicts = conflicts);
    }

    /// Unresolved blocking threads (`blocking_discussions_resolved: false`,
    /// `detailed_merge_status: discussions_not_resolved`, merge 405).
    pub fn set_discussions_resolved(&self, iid: u64, resolved: bool) {
        self.with_mr(iid, |mr| mr.discussions_resolved = resolved);
    }

    /// Diff versions of an MR, newest first, as `GET .../versions` renders them.
    /// A user approves the MR (in the UI); `GET .../approvals` lists them.
    pub fn approve(&self, iid: u64, user_id: u64) {
        let mut store = self.state.store();
        let Some(idx) = store.mrs.iter().position(|m| m.iid == iid) else {
            return;
        };
        if store.mrs[idx]
            .approved_by
            .iter()
            .any(|(u, _)| *u == user_id)
        {
            return;
        }
        // GitLab records the approval and says so in a system note by the approver.
        let note = api::push_note(
            &mut store,
            idx,
            user_id,
            "approved this merge request",
            true,
        );
        let when = store.mrs[idx]
            .notes
            .iter()
            .find(|n| n.id == note)
            .map(|n| n.created_at.clone())
            .unwrap_or_default();
        store.mrs[idx].approved_by.push((user_id, when));
    }

    /// A user withdraws their approval (GitLab: "unapproved this merge request").
    pub fn unapprove(&self, iid: u64, user_id: u64) {
        let mut store = self.state.store();
        let Some(idx) = store.mrs.iter().position(|m| m.iid == iid) else {
            return;
        };
        let before = store.mrs[idx].approved_by.len();
        store.mrs[idx].approved_by.retain(|(u, _)| *u != user_id);
        if store.mrs[idx].approved_by.len() != before {
            api::push_note(
                &mut store,
                idx,
                user_id,
                "unapproved this merge request",
                true,
            );
        }
    }

    pub fn versions(&self, iid: u64) -> Vec<Value> {
        merge::render_versions(&self.state, iid)
    }

    /// Emoji reactions on the MR (`note: None`) or on one of its notes, as
    /// (username, emoji name), oldest first.
    pub fn awards(&self, iid: u64, note: Option<u64>) -> Vec<(String, String)> {
        awards::list_for_test(&self.state, iid, note)
    }

    /// A user reacts with `name`; returns the award id.
    pub fn award(&self, iid: u64, note: Option<u64>, user_id: u64, name: &str) -> u64 {
        awards::add_for_test(&self.state, iid, note, user_id, name)
    }

    /// The body GitLab would POST for this note (`X-Gitlab-Event: Note Hook`,
    /// see [`NOTE_HOOK`]): `object_attributes.action` is `"update"` once the
    /// note was edited, else `"create"`.
    pub fn note_hook(&self, iid: u64, note_id: u64) -> Value {
        hooks::note_hook(&self.state, iid, note_id).expect("no such MR or note")
    }

    /// The body of a `Merge Request Hook` (see [`MERGE_REQUEST_HOOK`]) for
    /// `action` (`open`, `close`, `reopen`, `update`, `approved`,
    /// `unapproved`, `approval`, `unapproval`, `merge`) done by `user_id`.
    pub fn merge_request_hook(&self, iid: u64, action: &str, user_id: u64) -> Value {
        hooks::merge_request_hook(&self.state, iid, action, user_id).expect("no such MR")
    }

    /// A person edits the MR description (Developers may).
    pub fn set_description(&self, iid: u64, description: &str) {
        self.with_mr(iid, |mr| {
            mr.description = description.to_string();
            mr.updated_at = now_rfc3339();
        });
    }

    /// Labels put on the MR by someone else (the sync report, a person).
    pub fn add_labels(&self, iid: u64, labels: &[&str]) {
        self.with_mr(iid, |mr| {
            for l in labels {
                if !mr.labels.iter().any(|x| x == l) {
                    mr.labels.push(l.to_string());
                }
            }
        });
    }

    fn with_mr(&self, iid: u64, f: impl FnOnce(&mut Mr)) {
        let mut store = self.state.store();
        let mr = store
            .mrs
            .iter_mut()
            .find(|m| m.iid == iid)
            .unwrap_or_else(|| panic!("no MR !{iid}"));
        f(mr);
    }

    /// Runs git in the bare repo and returns stdout (panics on failure).
    pub fn git(&self, args: &[&str]) -> String {
        match self.state.repo.run(args) {
            Ok(out) => String::from_utf8_lossy(&out).into_owned(),
            Err(e) => panic!("{e}"),
        }
    }

    pub fn repo_dir(&self) -> PathBuf {
        self.state.repo.dir.clone()
    }
}

impl Drop for FakeGitlab {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn take_fault(state: &State, req: &http::Request) -> Option<Fault> {
    let decoded = percent_encoding::percent_decode_str(&req.path)
        .decode_utf8_lossy()
        .into_owned();
    let view = RequestView {
        method: &req.method,
        path: &req.path,
        decoded_path: &decoded,
        query: &req.query,
        body: &req.body,
    };
    let mut rules = lock(&state.rules);
    let mut fired = None;
    for rs in rules.iter_mut() {
        if !rs.rule.matches(&view) {
            continue;
        }
        rs.seen += 1;
        let first = rs.rule.nth;
        let in_window = rs.seen >= first && (rs.seen - first) < rs.rule.times;
        if in_window && fired.is_none() {
            fired = Some(rs.rule.fault.clone());
        }
    }
    fired
}

fn serve(state: &Arc<State>, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    let req = match http::read_request(&mut stream) {
        Ok(Some(r)) => r,
        _ => return,
    };
    if state.stop.load(Ordering::SeqCst) {
        return;
    }
    let fault = take_fault(state, &req);
    let mut entry = LoggedRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        status: None,
        fault: fault.as_ref().map(Fault::describe),
        unknown_endpoint: false,
        at: std::time::Instant::now(),
        body: if req.method == "GET" {
            String::new()
        } else {
            String::from_utf8_lossy(&req.body).into_owned()
        },
    };
    let answer = |entry: &mut LoggedRequest| {
        let (resp, known) = api::handle(state, &req);
        entry.unknown_endpoint = !known;
        resp
    };
    match fault {
        Some(Fault::Status {
            code,
            body,
            headers,
        }) => {
            let resp = http::Response {
                status: code,
                headers,
                body: body.into_bytes(),
            };
            entry.status = Some(code);
            log(state, entry);
            let _ = http::write_response(&mut stream, &resp);
        }
        Some(Fault::DropBeforeApply) => {
            log(state, entry);
            let _ = stream.shutdown(Shutdown::Both);
        }
        Some(Fault::DropAfterApply) => {
            let resp = answer(&mut entry);
            entry.fault = Some(format!(
                "drop after apply (would have answered {})",
                resp.status
            ));
            log(state, entry);
            let _ = stream.shutdown(Shutdown::Both);
        }
        Some(Fault::Delay(d)) => {
            std::thread::sleep(d);
            let resp = answer(&mut entry);
            entry.status = Some(resp.status);
            log(state, entry);
            let _ = http::write_response(&mut stream, &resp);
        }
        Some(Fault::DelayAfterApply(d)) => {
            let resp = answer(&mut entry);
            entry.status = Some(resp.status);
            log(state, entry);
            std::thread::sleep(d);
            let _ = http::write_response(&mut stream, &resp);
        }
        Some(Fault::MoveBranchBefore { branch, files }) => {
            let files: Vec<(String, Vec<u8>)> = files
                .into_iter()
                .map(|(p, c)| (p, c.into_bytes()))
                .collect();
            let (_, who) = state.human();
            let email = format!("{who}@example.com");
            let moved = state.commit_files_as(
                &branch,
                &files,
                &format!("Concurrent change to {branch}"),
                (&who, &email),
            );
            if let Ok(sha) = &moved {
                entry.fault = Some(format!("moved branch {branch} to {sha} before"));
            }
            let resp = answer(&mut entry);
            entry.status = Some(resp.status);
            log(state, entry);
            let _ = http::write_response(&mut stream, &resp);
        }
        None => {
            let resp = answer(&mut entry);
            entry.status = Some(resp.status);
            log(state, entry);
            let _ = http::write_response(&mut stream, &resp);
        }
    }
}

fn log(state: &State, entry: LoggedRequest) {
    lock(&state.log).push(entry);
}

pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Last timestamp handed out (ms since the epoch), process-wide.
static LAST_MS: AtomicU64 = AtomicU64::new(0);

/// `2026-01-02T03:04:05.678Z`, strictly increasing across calls (a call in
/// the same millisecond as the previous one gets the next millisecond), so
/// notes, versions and MRs are totally ordered by `created_at`.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(now_ms())
}

/// Milliseconds since the epoch, strictly increasing across calls (see [`now_rfc3339`]).
pub(crate) fn now_ms() -> u64 {
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let prev = LAST_MS
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(real.max(last + 1))
        })
        .unwrap_or(0);
    real.max(prev + 1)
}

/// `ms` since the epoch as `2026-01-02T03:04:05.678Z`.
pub(crate) fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let millis = ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
