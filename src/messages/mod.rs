//! Messages the bot writes on GitLab, rendered with minijinja from `templates/messages/`
//! (embedded in the binary; a user template can replace the merge request description).
//!
//! Filters for safe Markdown: `code` (an inline code span no content can break out of),
//! `cell` (escapes `|` inside table cells) and `fence` (a code fence longer than any backtick
//! run in the content). Rendering never touches the network or the clock.

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

mod replies;

pub use crate::health::ResourceRow;
use crate::image_ref::Version;
pub use replies::{
    BranchState, CommitLine, DeployResult, DriftObjectLine, DriftObservation, HeldVersions, Link,
    Reply, Status, SyncedTarget,
};

/// GitLab refuses descriptions over 1,048,576 characters; stay clearly below.
pub const DESCRIPTION_LIMIT: usize = 1_000_000;

const MERGE_REQUEST: &str = include_str!("../../templates/messages/merge_request.md.j2");
const SUPERSEDED: &str = include_str!("../../templates/messages/superseded.md.j2");
const SYNC_RESULT: &str = include_str!("../../templates/messages/sync_result.md.j2");
const PREVIEW: &str = include_str!("../../templates/messages/preview.md.j2");
const DRIFT_ISSUE: &str = include_str!("../../templates/messages/drift_issue.md.j2");
const DEPLOY_BOARD: &str = include_str!("../../templates/messages/deploy_board.md.j2");
const PROMOTION_CLOSED: &str = include_str!("../../templates/messages/promotion_closed.md.j2");
const PROMOTION_EVIDENCE: &str = include_str!("../../templates/messages/promotion_evidence.md.j2");

/// GitLab refuses notes over 1,000,000 characters; stay clearly below.
pub const NOTE_LIMIT: usize = 950_000;

/// Rows of the sync result table beyond this are counted, not listed.
pub const MAX_RESOURCE_ROWS: usize = 200;

/// Objects whose diff a drift issue shows; the others are counted.
pub const MAX_DRIFT_DIFFS: usize = 20;
/// Characters of all the diffs of a drift issue together; the diffs that would pass it are
/// counted instead (each one is already capped by [`crate::drift::compare`]).
pub const MAX_DRIFT_DIFF_CHARS: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("template {name}: {source}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error(
        "the merge request description is over {DESCRIPTION_LIMIT} characters even without the diff"
    )]
    TooLong,
    #[error("cannot prepare a message: {0}")]
    Data(String),
}

/// One changed reference, as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeRow {
    pub file: String,
    pub line: usize,
    pub form: String,
    pub old: String,
    pub new: String,
}

/// Where the image came from (GitLab CI predefined variables of the app pipeline).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SourceInfo {
    pub project_name: Option<String>,
    pub project_url: Option<String>,
    pub commit_sha: Option<String>,
    pub commit_url: Option<String>,
    pub pipeline_url: Option<String>,
    /// Who ran the pipeline (`GITLAB_USER_LOGIN`).
    #[serde(default)]
    pub triggered_by: Option<String>,
}

/// Everything a merge request description template can use.
#[derive(Debug, Clone, Serialize)]
pub struct MergeRequestView {
    /// Every image it deploys, in order (one for a bump of one image).
    pub images: Vec<ImageRow>,
    /// A section the caller adds after the changes (a promotion's evidence), as Markdown.
    pub section: Option<String>,
    /// The (first) image.
    pub image: String,
    pub version: String,
    pub previous: Vec<String>,
    /// The environment name, else the target branch.
    pub destination: String,
    pub environment: Option<String>,
    pub target_branch: String,
    pub changes: Vec<ChangeRow>,
    pub files: usize,
    pub diff: String,
    pub diff_truncated: bool,
    pub source: SourceInfo,
    /// Set on a rollback merge request.
    pub rollback: Option<RollbackOf>,
    /// How it gets deployed, for the "To deploy" section.
    pub deploy: DeployHelp,
    pub notices: Notices,
    /// The hidden state line; templates must keep it.
    pub marker: String,
}

/// One image a merge request deploys, for the image table of a bump of several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRow {
    pub image: String,
    pub version: String,
    /// The versions its changed references had.
    pub previous: Vec<String>,
}

/// What a rollback undoes: the merge request that brought the version, read from the API
/// and Git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackOf {
    pub iid: u64,
    pub url: String,
    /// The version rolled back from.
    pub version: Version,
    /// Whether its deploy failed (else a person asked for the rollback).
    pub failed: bool,
    /// Why the deploy failed (`ImagePullBackOff: …`), when known.
    pub reason: Option<String>,
    /// The deploy result comment.
    pub result_url: Option<String>,
    /// Who asked for it (`rollback` command).
    pub requested_by: Option<String>,
}

/// How a bump merge request is deployed, as its "To deploy" section tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeployHelp {
    /// The word that starts a comment command (`gitops-bot`).
    pub prefix: String,
    /// The environment whose own `operators` decide (no role stands in); `None`: the
    /// top-level operators and `role`.
    pub environment: Option<String>,
    /// Usernames of the operators who may deploy (the environment's, or the top-level list).
    pub operators: Vec<String>,
    /// The GitLab role that may deploy besides the operators (`Maintainer`).
    pub role: String,
    /// Whether an approval in GitLab deploys (`deploy_on_approval`).
    pub on_approval: bool,
    pub hold_label: String,
}

/// Other merge requests the reader must know about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notices {
    /// An open rollback of the same image and environment.
    pub open_rollback: Option<MergeRequestLink>,
    /// A merged merge request whose deploy of this same version failed.
    pub failed_before: Option<MergeRequestLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeRequestLink {
    pub iid: u64,
    pub url: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SupersededView {
    pub previous: Vec<String>,
    pub version: String,
    pub target_branch: String,
    pub base_sha: String,
}

/// A rollback merge request opened after a failed deploy.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackLink {
    pub iid: u64,
    pub url: String,
}

/// Everything the sync result template can use.
#[derive(Debug, Clone, Serialize)]
pub struct SyncResultView {
    /// `healthy`, `failed` or `timed out`.
    pub outcome: String,
    /// The environment name, else the branch.
    pub destination: String,
    pub commit: String,
    pub commit_url: Option<String>,
    pub pipeline_url: Option<String>,
    /// `1 min 12 s`.
    pub duration: String,
    pub reason: Option<String>,
    /// What the merge deployed, from Git: `registry/app ci-34 → ci-35`.
    pub deployed: Vec<String>,
    pub resources: Vec<ResourceRow>,
    pub hidden_resources: usize,
    /// What the pods say, one line each.
    pub details: Vec<String>,
    pub rollback: Option<RollbackLink>,
    pub rollback_error: Option<String>,
    /// The hidden state line; templates must keep it.
    pub marker: String,
}

/// One rendered source of a preview.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewSection {
    /// `kustomize`, `helm`, `yaml` or `live`.
    pub kind: String,
    pub path: String,
    /// `2 objects changed`, `new`, …
    pub summary: String,
    pub diff: String,
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewView {
    pub head: String,
    pub pipeline_url: Option<String>,
    pub sections: Vec<PreviewSection>,
    /// Things the reader should know (a renderer missing, a live diff skipped).
    pub notes: Vec<String>,
    pub marker: String,
}

/// One object of a drift issue's table (`name` is `namespace/name`).
#[derive(Debug, Clone, Serialize)]
pub struct DriftRow {
    pub kind: String,
    pub name: String,
    pub state: String,
    pub reason: String,
}

/// What differs in one object of a drift issue: the body of a `diff` block, masked and
/// capped ([`crate::drift::compare::diff_text`]).
#[derive(Debug, Clone, Serialize)]
pub struct DriftDiff {
    pub kind: String,
    /// `namespace/name`.
    pub name: String,
    pub diff: String,
}

/// Everything the drift issue description can use.
#[derive(Debug, Clone, Serialize)]
pub struct DriftIssueView {
    pub environment: String,
    pub state: String,
    /// When this divergence was first seen (RFC 3339).
    pub since: String,
    pub head_revision: String,
    pub live_revision: Option<String>,
    pub objects: Vec<DriftRow>,
    pub diffs: Vec<DriftDiff>,
    /// Diffs left out by [`Messages::drift_issue`] (set there).
    pub diffs_not_shown: usize,
    pub marker: String,
}

/// The deploy board issue's description: the status view, its merge requests, windows and
/// warnings listed across environments.
#[derive(Debug, Clone, Serialize)]
pub struct DeployBoardView {
    pub branch: String,
    pub head: String,
    pub project_url: String,
    pub environments: Vec<crate::status_view::EnvironmentStatus>,
    pub merge_requests: Vec<BoardMergeRequest>,
    pub windows: Vec<BoardWindow>,
    pub holds: Vec<BoardHold>,
    pub warnings: Vec<String>,
    pub marker: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BoardMergeRequest {
    /// `-` when no environment can be told.
    pub environment: String,
    pub kind: String,
    pub iid: u64,
    pub url: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BoardWindow {
    pub environment: String,
    pub window: String,
    pub open: bool,
    pub next_opening: Option<String>,
}

/// One active hold on the deploy board.
#[derive(Debug, Clone, Serialize)]
pub struct BoardHold {
    pub environment: String,
    pub repository: String,
    pub versions: Vec<String>,
    pub rollback_iid: u64,
    pub rollback_url: String,
    pub unhold: String,
}

impl DeployBoardView {
    pub fn new(view: &crate::status_view::StatusView, marker: String) -> Self {
        let mut merge_requests = Vec::new();
        let mut windows = Vec::new();
        let mut holds = Vec::new();
        let mut warnings = Vec::new();
        let row = |environment: &str, m: &crate::status_view::OpenMergeRequest| BoardMergeRequest {
            environment: environment.to_string(),
            kind: m.kind.to_string(),
            iid: m.iid,
            url: m.url.clone(),
            title: m.title.clone(),
        };
        for e in &view.environments {
            merge_requests.extend(e.merge_requests.iter().map(|m| row(&e.name, m)));
            if let Some(w) = &e.window {
                windows.push(BoardWindow {
                    environment: e.name.clone(),
                    window: w.window.clone(),
                    open: w.open,
                    next_opening: w.next_opening.clone(),
                });
            }
            holds.extend(e.holds.iter().map(|h| BoardHold {
                environment: e.name.clone(),
                repository: h.repository.clone(),
                versions: h.versions.clone(),
                rollback_iid: h.rollback_iid,
                rollback_url: h.rollback_url.clone(),
                unhold: h.unhold.clone(),
            }));
            warnings.extend(e.warnings.iter().map(|w| format!("{}: {w}", e.name)));
        }
        merge_requests.extend(view.other_merge_requests.iter().map(|m| row("-", m)));
        DeployBoardView {
            branch: view.branch.clone(),
            head: view.head.clone(),
            project_url: view.project_url.clone(),
            environments: view.environments.clone(),
            merge_requests,
            windows,
            holds,
            warnings,
            marker,
        }
    }
}

/// What a promotion rests on, for its merge request's evidence section.
#[derive(Debug, Clone, Serialize)]
pub struct PromotionEvidenceView {
    pub source: String,
    pub target: String,
    /// The source's GitLab deployment record.
    pub deployment: u64,
    pub sha: String,
    /// The merge request that brought `sha` to the default branch, when known.
    pub merge_request: Option<MergeRequestLink>,
    /// RFC 3339.
    pub healthy_since: String,
    /// As written in `.gitops-bot.yaml` (`30m`), `0s` for none.
    pub soak: String,
    /// RFC 3339.
    pub soak_met_at: String,
    pub images: Vec<PromotedImageRow>,
    /// Images left out because a merged rollback of the target holds their version.
    pub held: Vec<HeldImageRow>,
}

/// One image a promotion leaves out because a merged rollback of the target holds its
/// version.
#[derive(Debug, Clone, Serialize)]
pub struct HeldImageRow {
    pub name: String,
    pub version: String,
    pub rollback_iid: u64,
    pub rollback_url: String,
    /// The comment that lifts the hold, on the rollback merge request.
    pub unhold: String,
}

/// One promoted image: from → to, and the app build it came from when the source's bump
/// record says so (a hint).
#[derive(Debug, Clone, Serialize)]
pub struct PromotedImageRow {
    pub name: String,
    pub from: Vec<String>,
    pub to: String,
    pub source: Option<SourceInfo>,
}

pub struct Messages {
    env: Environment<'static>,
}

impl Messages {
    /// The built-in templates, with the merge request description replaced by `custom`.
    pub fn new(custom_merge_request: Option<String>) -> Result<Self, MessageError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .build()
            .map_err(|source| MessageError::Template {
                name: "syntax".into(),
                source,
            })?;
        env.set_syntax(syntax);
        env.add_filter("code", code);
        env.add_filter("cell", cell);
        env.add_filter("fence", fence);
        env.add_filter("short", |sha: String| {
            crate::commit_sha::short(&sha).to_string()
        });
        let add = |env: &mut Environment<'static>, name: &'static str, source: String| {
            env.add_template_owned(name, source)
                .map_err(|source| MessageError::Template {
                    name: name.to_string(),
                    source,
                })
        };
        add(
            &mut env,
            "merge_request.md.j2",
            custom_merge_request.unwrap_or_else(|| MERGE_REQUEST.to_string()),
        )?;
        add(&mut env, "superseded.md.j2", SUPERSEDED.to_string())?;
        add(&mut env, "sync_result.md.j2", SYNC_RESULT.to_string())?;
        add(&mut env, "preview.md.j2", PREVIEW.to_string())?;
        add(&mut env, "drift_issue.md.j2", DRIFT_ISSUE.to_string())?;
        add(&mut env, "deploy_board.md.j2", DEPLOY_BOARD.to_string())?;
        add(
            &mut env,
            "promotion_closed.md.j2",
            PROMOTION_CLOSED.to_string(),
        )?;
        add(
            &mut env,
            "promotion_evidence.md.j2",
            PROMOTION_EVIDENCE.to_string(),
        )?;
        for (name, source) in replies::TEMPLATES {
            add(&mut env, name, source.to_string())?;
        }
        Ok(Messages { env })
    }

    fn render<T: Serialize>(&self, name: &str, view: &T) -> Result<String, MessageError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|source| MessageError::Template {
                name: name.to_string(),
                source,
            })?;
        template
            .render(Serde(view))
            .map_err(|source| MessageError::Template {
                name: name.to_string(),
                source,
            })
    }

    /// The description, with the diff cut at a line boundary when the whole would be too long.
    pub fn merge_request(&self, view: &MergeRequestView) -> Result<String, MessageError> {
        let mut view = view.clone();
        for _ in 0..4 {
            let text = self.render("merge_request.md.j2", &view)?;
            let length = text.chars().count();
            if length <= DESCRIPTION_LIMIT {
                return Ok(text);
            }
            let over = length - DESCRIPTION_LIMIT;
            let keep = view.diff.chars().count().saturating_sub(over + 1000);
            if keep == 0 && view.diff_truncated {
                break;
            }
            view.diff = truncate_lines(&view.diff, keep);
            view.diff_truncated = true;
        }
        Err(MessageError::TooLong)
    }

    /// The note on a promotion merge request closed because nothing is left to promote.
    pub fn promotion_closed(&self, view: &PromotionEvidenceView) -> Result<String, MessageError> {
        self.render("promotion_closed.md.j2", view)
            .map(|s| s.trim_end().to_string())
    }

    /// The evidence section of a promotion merge request (placed after its change table).
    pub fn promotion_evidence(&self, view: &PromotionEvidenceView) -> Result<String, MessageError> {
        self.render("promotion_evidence.md.j2", view)
            .map(|s| s.trim_end().to_string())
    }

    pub fn superseded(&self, view: &SupersededView) -> Result<String, MessageError> {
        self.render("superseded.md.j2", view)
    }

    /// The preview comment, its diffs cut at line boundaries (largest first) when the whole
    /// would exceed [`NOTE_LIMIT`].
    pub fn preview(&self, view: &PreviewView) -> Result<String, MessageError> {
        let mut view = view.clone();
        for _ in 0..8 {
            let text = self.render("preview.md.j2", &view)?;
            let length = text.chars().count();
            if length <= NOTE_LIMIT {
                return Ok(text);
            }
            let Some(largest) = view.sections.iter_mut().max_by_key(|s| s.diff.len()) else {
                break;
            };
            let keep = largest
                .diff
                .chars()
                .count()
                .saturating_sub(length - NOTE_LIMIT + 1000);
            largest.diff = truncate_lines(&largest.diff, keep);
            largest.truncated = true;
        }
        Err(MessageError::TooLong)
    }

    /// A drift issue's description; rows beyond [`MAX_RESOURCE_ROWS`] are left out and counted
    /// in a last row, diffs beyond [`MAX_DRIFT_DIFFS`] or [`MAX_DRIFT_DIFF_CHARS`] counted.
    pub fn drift_issue(&self, view: &DriftIssueView) -> Result<String, MessageError> {
        let mut view = view.clone();
        let mut total = 0;
        let mut kept = Vec::new();
        for d in view.diffs.drain(..) {
            total += d.diff.chars().count();
            if kept.len() < MAX_DRIFT_DIFFS && total <= MAX_DRIFT_DIFF_CHARS {
                kept.push(d);
            } else {
                view.diffs_not_shown += 1;
            }
        }
        view.diffs = kept;
        if view.objects.len() > MAX_RESOURCE_ROWS {
            let hidden = view.objects.len() - MAX_RESOURCE_ROWS;
            view.objects.truncate(MAX_RESOURCE_ROWS);
            view.objects.push(DriftRow {
                kind: "…".into(),
                name: format!("{hidden} more"),
                state: String::new(),
                reason: String::new(),
            });
        }
        self.render("drift_issue.md.j2", &view)
    }

    /// The deploy board issue's description.
    pub fn deploy_board(&self, view: &DeployBoardView) -> Result<String, MessageError> {
        self.render("deploy_board.md.j2", view)
    }

    /// The sync result comment; rows beyond [`MAX_RESOURCE_ROWS`] are counted instead.
    pub fn sync_result(&self, view: &SyncResultView) -> Result<String, MessageError> {
        let mut view = view.clone();
        if view.resources.len() > MAX_RESOURCE_ROWS {
            view.hidden_resources += view.resources.len() - MAX_RESOURCE_ROWS;
            view.resources.truncate(MAX_RESOURCE_ROWS);
        }
        self.render("sync_result.md.j2", &view)
    }
}

/// At most `chars` characters of `text`, ending at a line break.
fn truncate_lines(text: &str, chars: usize) -> String {
    let cut = text
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i);
    let end = text[..cut].rfind('\n').map_or(0, |i| i + 1);
    text[..end].to_string()
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// The `code` filter: [`code_span`] of the value on one line.
fn code(value: String) -> String {
    code_span(&value.replace(['\n', '\r'], " "))
}

/// An inline code span that `shown` cannot close (CommonMark): delimited by one backtick
/// more than its longest backtick run, and padded with a space on each side when it starts
/// or ends with a backtick, or starts and ends with a space (which CommonMark would strip).
/// The one rule for every code span the bot writes.
pub fn code_span(shown: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(shown) + 1);
    let stripped = shown.len() >= 2
        && shown.starts_with(' ')
        && shown.ends_with(' ')
        && !shown.trim().is_empty();
    if shown.starts_with('`') || shown.ends_with('`') || stripped {
        format!("{ticks} {shown} {ticks}")
    } else {
        format!("{ticks}{shown}{ticks}")
    }
}

/// Escapes the table cell separator.
fn cell(value: String) -> String {
    value.replace('|', "\\|")
}

/// A fence of backticks longer than any run inside `content` (at least three).
fn fence(content: String) -> String {
    "`".repeat((longest_backtick_run(&content) + 1).max(3))
}

#[cfg(test)]
mod tests;
