//! The comment-command engine: one implementation behind `serve` (webhooks), `handle-event`
//! (a pipeline-trigger payload) and `commands` (polling).
//!
//! Events are only hints: the engine re-reads the comment and the merge request from the
//! API before acting, so a forged or stale payload cannot make it do anything the API does
//! not confirm. It acts only on merge requests the bot opened in its project, answers each
//! command once (its reply carries a marker naming the comment), reacts on receipt and on
//! the outcome, and writes an audit line for every decision.

use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::commands::{Command, Grammar, Parsed, code_span};
use crate::config::{self, RepoConfig};
use crate::gitlab::{GitlabClient, GitlabError, MergeRequest, ThreadNote, UserRef};
use crate::marker::{self, BumpState};
use crate::modes::propose::{BumpSpec, Proposed, propose};
use crate::policy::{self, Actor, Decision, DeployFacts};

/// What caused the engine to look at a merge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A comment; `seen_sha` is the head of the merge request when it was written, when the
    /// event said (webhooks do); otherwise it is read from the merge request's versions.
    Note {
        iid: u64,
        note_id: u64,
        seen_sha: Option<String>,
    },
    /// An approval given in GitLab by `user`, at head `seen_sha`.
    Approval {
        iid: u64,
        user: UserRef,
        seen_sha: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Not for the bot, or not on a bot merge request: nothing done, nothing said.
    Ignored,
    /// Answered without changing anything (help, status, usage).
    Answered,
    /// The command was carried out.
    Done,
    /// Refused (authorisation, hold, stale head, not mergeable); the reply says why.
    Refused,
    /// Tried and failed (GitLab refused the merge, …); the reply says why.
    Failed,
}

/// The reply the bot leaves under a comment: it marks the comment as answered.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ReplyMarker {
    pub kind: String,
    pub reply_to: u64,
    pub command: String,
    pub outcome: String,
}

#[derive(Debug, Serialize)]
struct AuditLine<'a> {
    audit: bool,
    actor: &'a str,
    command: &'a str,
    project: &'a str,
    merge_request: u64,
    sha: Option<&'a str>,
    outcome: Outcome,
    detail: &'a str,
}

pub struct Engine {
    gitlab: GitlabClient,
    project: String,
    project_id: u64,
    bot: UserRef,
    grammar: Grammar,
}

/// Head pipeline states in which GitLab can still merge once the pipeline passes.
const PIPELINE_PENDING: &[&str] = &[
    "created",
    "waiting_for_resource",
    "preparing",
    "pending",
    "running",
    "scheduled",
];
/// `detailed_merge_status` values that change by themselves within seconds.
const MERGE_STATUS_SETTLING: &[&str] = &["checking", "preparing", "unchecked", "ci_still_running"];

impl Engine {
    /// Learns who the bot is and which project it serves.
    pub async fn new(gitlab: GitlabClient, project: &str, prefix: &str) -> Result<Engine> {
        let bot = gitlab
            .current_user()
            .await
            .context("cannot read the bot's own user (GET /user)")?;
        let project_id = gitlab.project(project).await?.id;
        let grammar = Grammar::new([prefix.to_string(), bot.username.clone()]);
        Ok(Engine {
            gitlab,
            project: project.to_string(),
            project_id,
            bot,
            grammar,
        })
    }

    pub fn project_id(&self) -> u64 {
        self.project_id
    }

    pub fn bot(&self) -> &UserRef {
        &self.bot
    }

    pub fn grammar(&self) -> &Grammar {
        &self.grammar
    }

    pub fn gitlab(&self) -> &GitlabClient {
        &self.gitlab
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    pub async fn handle(&self, trigger: &Trigger) -> Result<Outcome> {
        match trigger {
            Trigger::Note {
                iid,
                note_id,
                seen_sha,
            } => self.on_note(*iid, *note_id, seen_sha.as_deref()).await,
            Trigger::Approval {
                iid,
                user,
                seen_sha,
            } => self.on_approval(*iid, user, seen_sha.as_deref()).await,
        }
    }

    /// Whether a comment author is the bot or another bot (GitLab names the users behind
    /// project and group access tokens `project_<id>_bot_…` / `group_<id>_bot_…`).
    pub fn is_bot(&self, user: &UserRef) -> bool {
        user.id == self.bot.id || is_token_bot(&user.username)
    }

    async fn on_note(&self, iid: u64, note_id: u64, seen_sha: Option<&str>) -> Result<Outcome> {
        let note = self.gitlab.note(&self.project, iid, note_id).await?;
        if note.system || self.is_bot(&note.author) {
            return Ok(Outcome::Ignored);
        }
        let parsed = self.grammar.parse(&note.body);
        if parsed == Parsed::Ignore {
            return Ok(Outcome::Ignored);
        }
        let mr = self.gitlab.merge_request(&self.project, iid).await?;
        let Some(state) = self.bump_state(&mr) else {
            tracing::debug!(
                iid,
                "a command on a merge request the bot did not open: ignored"
            );
            return Ok(Outcome::Ignored);
        };
        self.react(iid, note_id, "eyes").await;
        let verb = match &parsed {
            Parsed::Command(c) => c.verb(),
            _ => "invalid",
        };
        let (outcome, message) = match self.config(&mr).await {
            Err(e) => (
                Outcome::Failed,
                format!("cannot read `{}`: {e:#}", config::FILE_NAME),
            ),
            Ok(config) => match parsed {
                Parsed::Command(command) => {
                    self.run_command(&command, &note, &mr, &state, &config, seen_sha)
                        .await
                }
                Parsed::Reply(text) => (Outcome::Refused, text),
                Parsed::Ignore => (Outcome::Ignored, String::new()),
            },
        };
        self.answer(&mr, &note, verb, outcome, &message).await?;
        Ok(outcome)
    }

    async fn run_command(
        &self,
        command: &Command,
        note: &ThreadNote,
        mr: &MergeRequest,
        state: &BumpState,
        config: &RepoConfig,
        seen_sha: Option<&str>,
    ) -> (Outcome, String) {
        if command.is_write() {
            let actor = match self.actor(config, &note.author).await {
                Ok(a) => a,
                Err(e) => return (Outcome::Failed, format!("cannot check permissions: {e:#}")),
            };
            if let Decision::Refuse(why) = policy::authorize(config, command, &actor) {
                return (Outcome::Refused, why);
            }
        }
        let result = match command {
            Command::Help => Ok((Outcome::Answered, self.grammar.help())),
            Command::Status => Ok((Outcome::Answered, status_text(mr, state, config))),
            Command::Hold { reason } => self.hold(mr, config, true, reason.as_deref()).await,
            Command::Unhold => self.hold(mr, config, false, None).await,
            Command::Deploy { sha } => {
                let seen = match seen_sha {
                    Some(s) => Some(s.to_string()),
                    None => self.head_at(mr.iid, &note.created_at).await.unwrap_or(None),
                };
                self.deploy(mr, config, seen.as_deref(), sha.as_deref())
                    .await
            }
            Command::Rebase => self.rebase(mr, state).await,
            Command::Rollback => self.rollback(mr, state).await,
        };
        result.unwrap_or_else(|e| (Outcome::Failed, format!("{e:#}")))
    }

    async fn on_approval(
        &self,
        iid: u64,
        user: &UserRef,
        seen_sha: Option<&str>,
    ) -> Result<Outcome> {
        if self.is_bot(user) {
            return Ok(Outcome::Ignored);
        }
        let mr = self.gitlab.merge_request(&self.project, iid).await?;
        if self.bump_state(&mr).is_none() {
            return Ok(Outcome::Ignored);
        }
        let config = self.config(&mr).await?;
        if !config.deploy_on_approval {
            return Ok(Outcome::Ignored);
        }
        // Events are hints: the approval must be there now.
        if !self.gitlab.approved_by(&self.project, iid, user.id).await? {
            tracing::info!(iid, user = %user.username, "approval event, but the user does not approve now: ignored");
            return Ok(Outcome::Ignored);
        }
        let actor = self.actor(&config, user).await?;
        let deploy = Command::Deploy { sha: None };
        let (outcome, message) = match policy::authorize(&config, &deploy, &actor) {
            Decision::Refuse(why) => (
                Outcome::Refused,
                format!("this approval does not deploy: {why}"),
            ),
            Decision::Allow => self
                .deploy(&mr, &config, seen_sha, None)
                .await
                .unwrap_or_else(|e| (Outcome::Failed, format!("{e:#}"))),
        };
        let body = format!(
            "Approved by @{} (`deploy_on_approval`): {message}",
            user.username
        );
        self.gitlab.create_note(&self.project, iid, &body).await?;
        self.audit(&user.username, "approval", &mr, outcome, &message);
        Ok(outcome)
    }

    /// The bump state of a merge request the bot opened in its project, else `None`.
    fn bump_state(&self, mr: &MergeRequest) -> Option<BumpState> {
        if mr.author.as_ref().map(|a| a.id) != Some(self.bot.id) {
            return None;
        }
        mr.description
            .as_deref()
            .and_then(marker::find::<BumpState>)
    }

    async fn config(&self, mr: &MergeRequest) -> Result<RepoConfig> {
        match self
            .gitlab
            .file_text(&self.project, config::FILE_NAME, &mr.target_branch)
            .await?
        {
            Some(text) => Ok(RepoConfig::parse(&text, config::FILE_NAME)?),
            None => Ok(RepoConfig::default()),
        }
    }

    async fn actor(&self, config: &RepoConfig, user: &UserRef) -> Result<Actor> {
        let access_level = if policy::is_operator(config, &user.username) {
            None
        } else {
            self.gitlab.access_level(&self.project, user.id).await?
        };
        Ok(Actor {
            username: user.username.clone(),
            access_level,
        })
    }

    /// The head of the merge request when a comment was written: the newest version not
    /// younger than the comment.
    async fn head_at(&self, iid: u64, when: &str) -> Result<Option<String>> {
        let versions = self.gitlab.versions(&self.project, iid).await?;
        Ok(versions
            .into_iter()
            .filter(|v| v.created_at.as_str() <= when)
            .max_by(|a, b| a.created_at.cmp(&b.created_at))
            .map(|v| v.head_commit_sha))
    }

    async fn deploy(
        &self,
        mr: &MergeRequest,
        config: &RepoConfig,
        seen: Option<&str>,
        named: Option<&str>,
    ) -> Result<(Outcome, String)> {
        let head = mr
            .sha
            .clone()
            .context("GitLab did not say the head commit of the merge request")?;
        let facts = DeployFacts {
            state: &mr.state,
            labels: &mr.labels,
            seen_sha: seen,
            named_sha: named,
            head_sha: &head,
        };
        if let Decision::Refuse(why) = policy::may_deploy(config, &facts) {
            return Ok((Outcome::Refused, why));
        }
        let wait_for_pipeline = mr
            .head_pipeline
            .as_ref()
            .is_some_and(|p| PIPELINE_PENDING.contains(&p.status.as_str()));
        let short = &head[..head.len().min(12)];
        for attempt in 0..6u32 {
            match self
                .gitlab
                .merge(&self.project, mr.iid, &head, wait_for_pipeline)
                .await
            {
                Ok(m) if m.state == "merged" => {
                    return Ok((
                        Outcome::Done,
                        format!("merged `{short}` into `{}`.", m.target_branch),
                    ));
                }
                Ok(m) if m.merge_when_pipeline_succeeds || wait_for_pipeline => {
                    return Ok((
                        Outcome::Done,
                        format!(
                            "`{short}` will be merged into `{}` when its pipeline succeeds.",
                            m.target_branch
                        ),
                    ));
                }
                Ok(m) => {
                    return Ok((
                        Outcome::Done,
                        format!(
                            "GitLab accepted the merge of `{short}`; the merge request is {}.",
                            m.state
                        ),
                    ));
                }
                Err(e) => match e.status().map(|s| s.as_u16()) {
                    Some(409) => {
                        return Ok((
                            Outcome::Refused,
                            format!(
                                "the branch moved while merging (GitLab: {}): review the new diff and comment again.",
                                e.message()
                            ),
                        ));
                    }
                    Some(405) => {
                        let now = self.gitlab.merge_request(&self.project, mr.iid).await?;
                        let status = now.detailed_merge_status.unwrap_or_default();
                        if MERGE_STATUS_SETTLING.contains(&status.as_str()) && attempt < 5 {
                            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                            continue;
                        }
                        return Ok((Outcome::Refused, not_mergeable(&status)));
                    }
                    Some(422) => {
                        return Ok((
                            Outcome::Failed,
                            format!(
                                "GitLab could not merge: {}. `gitops-bot rebase` recomputes the change on the current target branch.",
                                e.message()
                            ),
                        ));
                    }
                    Some(401 | 403) => {
                        return Ok((
                            Outcome::Failed,
                            format!(
                                "the bot may not merge here ({}): give its token's user the Maintainer role or allow it to merge into `{}`.",
                                e.message(),
                                mr.target_branch
                            ),
                        ));
                    }
                    _ => return Err(e.into()),
                },
            }
        }
        Ok((Outcome::Refused, not_mergeable("checking")))
    }

    async fn hold(
        &self,
        mr: &MergeRequest,
        config: &RepoConfig,
        on: bool,
        reason: Option<&str>,
    ) -> Result<(Outcome, String)> {
        let label = [config.hold_label.as_str()];
        let (add, remove): (&[&str], &[&str]) = if on { (&label, &[]) } else { (&[], &label) };
        self.gitlab
            .edit_labels(&self.project, mr.iid, add, remove)
            .await?;
        Ok((
            Outcome::Done,
            if on {
                format!(
                    "on hold: deploys are blocked (label `{}`) until `gitops-bot unhold`.{}",
                    config.hold_label,
                    reason
                        .map(|r| format!(" Reason: {}", code_span(r)))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "hold lifted (label `{}` removed): `gitops-bot deploy` works again.",
                    config.hold_label
                )
            },
        ))
    }

    async fn rebase(&self, mr: &MergeRequest, state: &BumpState) -> Result<(Outcome, String)> {
        if mr.state != "opened" {
            return Ok((
                Outcome::Refused,
                format!(
                    "this merge request is {}; only an open one can be rebased.",
                    mr.state
                ),
            ));
        }
        let spec = BumpSpec::again(state)?;
        self.propose_reply(spec, "recomputed on the current target branch")
            .await
    }

    async fn rollback(&self, mr: &MergeRequest, state: &BumpState) -> Result<(Outcome, String)> {
        if mr.state != "merged" {
            return Ok((
                Outcome::Refused,
                format!(
                    "`rollback` works on a merged bump; this merge request is {}.",
                    mr.state
                ),
            ));
        }
        match BumpSpec::rollback(state)? {
            Ok(spec) => self.propose_reply(spec, "rollback proposed").await,
            Err(refusal) => Ok((Outcome::Refused, refusal)),
        }
    }

    async fn propose_reply(&self, spec: BumpSpec, what: &str) -> Result<(Outcome, String)> {
        match propose(&self.gitlab, &self.project, &spec).await? {
            Proposed::Rejected { error, .. } => Ok((Outcome::Failed, format!("{error}"))),
            Proposed::Done(p) => Ok(match &p.merge_request {
                Some(m) => (Outcome::Done, format!("{what}: !{} {}", m.iid, m.web_url)),
                None => (
                    Outcome::Done,
                    format!(
                        "{what}: the target branch already has this version, nothing to change."
                    ),
                ),
            }),
        }
    }

    async fn react(&self, iid: u64, note_id: u64, emoji: &str) {
        if let Err(e) = self.gitlab.react(&self.project, iid, note_id, emoji).await {
            tracing::warn!(iid, note_id, emoji, error = %e, "cannot react to the comment");
        }
    }

    /// One reply per command, with the outcome emoji and the audit line.
    async fn answer(
        &self,
        mr: &MergeRequest,
        note: &ThreadNote,
        verb: &str,
        outcome: Outcome,
        message: &str,
    ) -> Result<(), GitlabError> {
        let reply = ReplyMarker {
            kind: "reply".into(),
            reply_to: note.id,
            command: verb.to_string(),
            outcome: serde_json::to_value(outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        };
        let body = format!(
            "@{} {message}\n\n{}",
            note.author.username,
            marker::render(&reply)
        );
        self.gitlab
            .create_note(&self.project, mr.iid, &body)
            .await?;
        let emoji = match outcome {
            Outcome::Done | Outcome::Answered => "white_check_mark",
            _ => "x",
        };
        self.react(mr.iid, note.id, emoji).await;
        self.audit(&note.author.username, verb, mr, outcome, message);
        Ok(())
    }

    fn audit(&self, actor: &str, command: &str, mr: &MergeRequest, outcome: Outcome, detail: &str) {
        let line = AuditLine {
            audit: true,
            actor,
            command,
            project: &self.project,
            merge_request: mr.iid,
            sha: mr.sha.as_deref(),
            outcome,
            detail,
        };
        if let Ok(json) = serde_json::to_string(&line) {
            eprintln!("{json}");
        }
    }
}

/// `:tag`, `:tag@digest` or `@digest` after a repository name.
fn is_token_bot(username: &str) -> bool {
    (username.starts_with("project_") || username.starts_with("group_"))
        && username.contains("_bot")
}

/// Why GitLab will not merge now, in words (`detailed_merge_status`).
fn not_mergeable(status: &str) -> String {
    let why = match status {
        "not_approved" => "it still needs approvals: approve it first",
        "draft_status" => "it is a draft: mark it ready first",
        "ci_must_pass" => "its pipeline must succeed first",
        "ci_still_running" => "its pipeline is still running",
        "discussions_not_resolved" => "open threads must be resolved first",
        "conflict" | "broken_status" => "it has conflicts: comment `gitops-bot rebase`",
        "need_rebase" => "it must be rebased: comment `gitops-bot rebase`",
        "blocked_status" => "it is blocked by another merge request",
        "not_open" => "it is not open",
        "checking" | "preparing" | "unchecked" => {
            "GitLab is still checking whether it can be merged: try again in a minute"
        }
        _ => "GitLab does not allow merging it now",
    };
    if status.is_empty() {
        format!("GitLab will not merge this merge request now: {why}.")
    } else {
        format!("GitLab will not merge this merge request now (`{status}`): {why}.")
    }
}

fn status_text(mr: &MergeRequest, state: &BumpState, config: &RepoConfig) -> String {
    let held = mr.labels.iter().any(|l| l == &config.hold_label);
    let pipeline = mr
        .head_pipeline
        .as_ref()
        .map_or("none".to_string(), |p| p.status.clone());
    format!(
        "deploys `{}` **{}** to `{}` (previously {}). Merge request: {}{}; head `{}`; pipeline: {}; GitLab merge status: `{}`. Who may deploy: {}members with the {} role or higher.",
        state.image,
        state.version(),
        state.environment.as_deref().unwrap_or(&state.target_branch),
        if state.previous.is_empty() {
            "unknown".to_string()
        } else {
            state
                .previous
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        mr.state,
        if held {
            format!(", **on hold** (`{}`)", config.hold_label)
        } else {
            String::new()
        },
        mr.sha.as_deref().map_or("?", |s| &s[..s.len().min(12)]),
        pipeline,
        mr.detailed_merge_status.as_deref().unwrap_or("unknown"),
        if config.operators.is_empty() {
            String::new()
        } else {
            format!("the operators ({}) and ", config.operators.join(", "))
        },
        policy::role_name(config.deploy_access_level),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bots_are_recognised() {
        assert!(is_token_bot("project_42_bot_3f9a"));
        assert!(is_token_bot("group_7_bot"));
        assert!(!is_token_bot("operator"));
        assert!(!is_token_bot("project-lead"));
    }

    #[test]
    fn versions_rebuild_references() {}

    #[test]
    fn merge_statuses_are_explained() {
        assert!(not_mergeable("not_approved").contains("approvals"));
        assert!(not_mergeable("conflict").contains("gitops-bot rebase"));
        assert!(not_mergeable("").starts_with("GitLab will not merge"));
        assert_eq!(code_span("a`b"), "`` a`b ``");
    }
}
