//! The comment-command engine: one implementation behind `serve` (webhooks), `handle-event`
//! (a pipeline-trigger payload) and `commands` (polling).
//!
//! Events are only hints: the engine re-reads the comment and the merge request from the
//! API before acting, so a forged or stale payload cannot make it do anything the API does
//! not confirm. It acts only on merge requests the bot opened in its project, answers each
//! command once however many deliveries or workers see it (a reply names the comment, and
//! the 👀 reaction claims it first), and writes an audit line for every decision.
//!
//! A deploy fails closed: it needs the head the person reviewed, established from GitLab's
//! history of the merge request (or named by them), equal to the head now, and a branch that
//! holds exactly the bot's change. Anything unknown is a refusal that says what to do.

use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::bump::merge_request::{Request, RollbackOf, rollback_branch};
use crate::bump::revert::image_at;
use crate::commands::{Command, Grammar, Parsed, code_span};
use crate::config::{self, RepoConfig};
use crate::forms::Target;
use crate::gitlab::{
    Commit, GitlabClient, GitlabError, MergeRequest, Reacted, ThreadNote, UserRef,
};
use crate::image_ref::ImageRef;
use crate::marker::{self, BumpState};
use crate::messages::SourceInfo;
use crate::modes::propose::{self, BumpSpec, Head, Proposed, RollbackWhy, propose};
use crate::policy::{self, Actor, Decision, DeployFacts, Seen};
use crate::reviewed::{self, HeadVersion, Unestablished};

/// What caused the engine to look at a merge request. `claimed_head` is what the event said
/// the head was (a webhook's `last_commit.id`): only accepted when GitLab's history agrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A comment.
    Note {
        iid: u64,
        note_id: u64,
        claimed_head: Option<String>,
    },
    /// An approval given in GitLab by `user`.
    Approval {
        iid: u64,
        user: UserRef,
        claimed_head: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Not for the bot, not on a bot merge request, or already handled: nothing done.
    Ignored,
    /// Answered without changing anything (help, status, usage).
    Answered,
    /// The command was carried out.
    Done,
    /// Refused (authorisation, hold, stale head, foreign commits); the reply says why.
    Refused,
    /// Tried and failed (GitLab refused the merge, …); the reply says why.
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ignored => "ignored",
            Outcome::Answered => "answered",
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// The reply the bot leaves under a comment or an approval: it marks it as answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplyMarker {
    pub kind: String,
    /// The comment answered (0 for an approval).
    pub reply_to: u64,
    pub command: String,
    pub outcome: String,
    /// The approval answered: `<user id>@<when>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
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

/// The head someone reviewed, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SeenHead {
    Named(String),
    Head(String),
}

impl SeenHead {
    fn as_seen(&self) -> Seen<'_> {
        match self {
            SeenHead::Named(s) => Seen::Named(s),
            SeenHead::Head(s) => Seen::Head(s),
        }
    }
}

pub struct Engine {
    gitlab: GitlabClient,
    project: String,
    project_id: u64,
    bot: UserRef,
    grammar: Grammar,
    prefix: String,
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
/// A claim (the bot's 👀 on a comment) with no reply after this long is taken to be from a
/// worker that died: the comment may be claimed again.
const CLAIM_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
/// GitLab's system note for an approval, written by the approver.
const APPROVED_NOTE: &str = "approved this merge request";

impl Engine {
    /// Learns who the bot is, which project it serves and the command prefix: `prefix` when
    /// given, else `command_prefix` of `.gitops-bot.yaml` on the default branch.
    pub async fn new(gitlab: GitlabClient, project: &str, prefix: Option<&str>) -> Result<Engine> {
        let bot = gitlab
            .current_user()
            .await
            .context("cannot read the bot's own user (GET /user)")?;
        let info = gitlab.project(project).await?;
        let prefix = match prefix {
            Some(p) => p.to_string(),
            None => configured_prefix(&gitlab, project, info.default_branch.as_deref()).await,
        };
        let grammar = Grammar::new([prefix.clone(), bot.username.clone()]);
        Ok(Engine {
            gitlab,
            project: project.to_string(),
            project_id: info.id,
            bot,
            prefix: grammar.prefix(),
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
                claimed_head,
            } => self.on_note(*iid, *note_id, claimed_head.as_deref()).await,
            Trigger::Approval {
                iid,
                user,
                claimed_head,
            } => self.on_approval(*iid, user, claimed_head.as_deref()).await,
        }
    }

    /// Whether a comment author is the bot or another bot (GitLab names the users behind
    /// project and group access tokens `project_<id>_bot_…` / `group_<id>_bot_…`).
    pub fn is_bot(&self, user: &UserRef) -> bool {
        user.id == self.bot.id || is_token_bot(&user.username)
    }

    async fn on_note(&self, iid: u64, note_id: u64, claimed: Option<&str>) -> Result<Outcome> {
        let note = self.gitlab.note(&self.project, iid, note_id).await?;
        if note.system || self.is_bot(&note.author) {
            return Ok(Outcome::Ignored);
        }
        // What a person edited is not what they first asked (GitLab before 16.11 sends edits
        // without `action`): only new comments are commands.
        if reviewed::is_edited(&note.created_at, note.updated_at.as_deref()) {
            tracing::info!(iid, note_id, "an edited comment is not a command: ignored");
            return Ok(Outcome::Ignored);
        }
        let parsed = self.grammar.parse(&note.body);
        if parsed == Parsed::Ignore {
            return Ok(Outcome::Ignored);
        }
        let mr = self.gitlab.merge_request(&self.project, iid).await?;
        let Some(hint) = self.bump_state(&mr) else {
            tracing::debug!(
                iid,
                "a command on a merge request the bot did not open: ignored"
            );
            return Ok(Outcome::Ignored);
        };
        if self.answered(iid, |m| m.reply_to == note_id).await? {
            tracing::info!(iid, note_id, "already answered: ignored");
            return Ok(Outcome::Ignored);
        }
        if !self.claim(iid, note_id).await? {
            tracing::info!(iid, note_id, "another worker handles this comment: ignored");
            return Ok(Outcome::Ignored);
        }
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
                    self.run_command(&command, &note, &mr, &hint, &config, claimed)
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
        hint: &BumpState,
        config: &RepoConfig,
        claimed: Option<&str>,
    ) -> (Outcome, String) {
        if command.is_write() {
            let actor = match self.actor(config, &note.author).await {
                Ok(a) => a,
                Err(e) => {
                    return (
                        Outcome::Refused,
                        format!("cannot check your permissions, so nothing was done: {e:#}"),
                    );
                }
            };
            if let Decision::Refuse(why) = policy::authorize(config, command, &actor) {
                return (Outcome::Refused, why);
            }
        }
        let result = match command {
            Command::Help => Ok((Outcome::Answered, self.grammar.help())),
            Command::Status => self.status(mr, hint, config).await,
            Command::Hold { reason } => self.hold(mr, config, true, reason.as_deref()).await,
            Command::Unhold => self.hold(mr, config, false, None).await,
            Command::Deploy { sha } => {
                let seen = match sha {
                    Some(named) => Ok(SeenHead::Named(named.clone())),
                    None => self
                        .seen_head(mr.iid, &note.created_at, claimed, "comment")
                        .await
                        .map(SeenHead::Head),
                };
                match seen {
                    Ok(seen) => self.deploy(mr, hint, config, &seen).await,
                    Err(why) => Ok((
                        Outcome::Refused,
                        self.unestablished("you reviewed", &why, mr),
                    )),
                }
            }
            Command::Rebase => self.rebase(mr, hint).await,
            Command::Rollback => self.rollback(mr, hint, &note.author.username).await,
        };
        result.unwrap_or_else(|e| (Outcome::Failed, format!("{e:#}")))
    }

    async fn on_approval(
        &self,
        iid: u64,
        user: &UserRef,
        claimed: Option<&str>,
    ) -> Result<Outcome> {
        if self.is_bot(user) {
            return Ok(Outcome::Ignored);
        }
        let mr = self.gitlab.merge_request(&self.project, iid).await?;
        let Some(hint) = self.bump_state(&mr) else {
            return Ok(Outcome::Ignored);
        };
        let config = self.config(&mr).await?;
        if !config.deploy_on_approval {
            return Ok(Outcome::Ignored);
        }
        // Events are hints: the approval must be there now.
        let Some(approval) = self.gitlab.approval(&self.project, iid, user.id).await? else {
            tracing::info!(iid, user = %user.username, "approval event, but the user does not approve now: ignored");
            return Ok(Outcome::Ignored);
        };
        let moment = match approval.approved_at {
            Some(at) => Ok(at),
            None => self.approval_time(iid, user).await,
        };
        let key = format!("{}@{}", user.id, moment.as_deref().unwrap_or("unknown"));
        if self
            .answered(iid, |m| m.approval.as_deref() == Some(key.as_str()))
            .await?
        {
            return Ok(Outcome::Ignored);
        }
        let actor = self.actor(&config, user).await?;
        let deploy = Command::Deploy { sha: None };
        let (outcome, message) = match policy::authorize(&config, &deploy, &actor) {
            Decision::Refuse(why) => (Outcome::Refused, why),
            Decision::Allow => {
                let seen = match moment {
                    Ok(at) => self.seen_head(iid, &at, claimed, "approval").await,
                    Err(e) => Err(e),
                };
                match seen {
                    Ok(seen) => self
                        .deploy(&mr, &hint, &config, &SeenHead::Head(seen))
                        .await
                        .unwrap_or_else(|e| (Outcome::Failed, format!("{e:#}"))),
                    Err(why) => (
                        Outcome::Refused,
                        self.unestablished("you approved", &why, &mr),
                    ),
                }
            }
        };
        let verdict = if outcome == Outcome::Done {
            String::new()
        } else {
            "this approval does not deploy: ".to_string()
        };
        let reply = ReplyMarker {
            kind: "reply".into(),
            reply_to: 0,
            command: "approval".into(),
            outcome: outcome.as_str().into(),
            approval: Some(key),
        };
        let body = format!(
            "Approved by @{} (`deploy_on_approval`): {verdict}{message}\n\n{}",
            user.username,
            marker::render(&reply)
        );
        self.gitlab.create_note(&self.project, iid, &body).await?;
        self.audit(&user.username, "approval", &mr, outcome, &message);
        Ok(outcome)
    }

    /// When `user` last approved, from GitLab's system note (GitLab before 17 does not list
    /// `approved_at`).
    async fn approval_time(&self, iid: u64, user: &UserRef) -> Result<String, Unestablished> {
        let notes = self
            .gitlab
            .notes(&self.project, iid)
            .await
            .map_err(|e| Unestablished::Unreadable(e.to_string()))?;
        notes
            .into_iter()
            .filter(|n| n.system && n.author.id == user.id && n.body.trim() == APPROVED_NOTE)
            .map(|n| n.created_at)
            .next_back()
            .ok_or_else(|| Unestablished::NoApprovalTime(user.username.clone()))
    }

    /// The record of a merge request the bot opened in its project, else `None`. It only
    /// helps find things: what deploys is checked against Git.
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
            None => Ok(RepoConfig::absent(format!(
                "{} at {}",
                self.project, mr.target_branch
            ))),
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

    /// Whether a reply of the bot's on !`iid` matches `is_it`.
    async fn answered(&self, iid: u64, is_it: impl Fn(&ReplyMarker) -> bool) -> Result<bool> {
        Ok(self
            .gitlab
            .notes(&self.project, iid)
            .await?
            .iter()
            .filter(|n| n.author.id == self.bot.id)
            .filter_map(|n| marker::find::<ReplyMarker>(&n.body))
            .any(|m| is_it(&m)))
    }

    /// Claims a comment with the bot's 👀: GitLab keeps one per user and comment, so of
    /// several workers (replicas, a project and a group hook, a poll) one wins. A claim with
    /// no reply after [`CLAIM_TTL`] is from a worker that died and is taken over.
    async fn claim(&self, iid: u64, note_id: u64) -> Result<bool> {
        if self.react(iid, note_id, "eyes").await? == Reacted::Added {
            return Ok(true);
        }
        let reactions = self
            .gitlab
            .note_reactions(&self.project, iid, note_id)
            .await?;
        let Some(old) = reactions
            .iter()
            .find(|r| r.user.id == self.bot.id && r.name == "eyes")
        else {
            return Ok(self.react(iid, note_id, "eyes").await? == Reacted::Added);
        };
        let stale = chrono::DateTime::parse_from_rfc3339(&old.created_at)
            .is_ok_and(|at| chrono::Utc::now().signed_duration_since(at) > CLAIM_TTL);
        if !stale {
            return Ok(false);
        }
        tracing::warn!(
            iid,
            note_id,
            "a claim without a reply is older than {} min: taking it over",
            CLAIM_TTL.num_minutes()
        );
        self.gitlab
            .remove_reaction(&self.project, iid, note_id, old.id)
            .await?;
        Ok(self.react(iid, note_id, "eyes").await? == Reacted::Added)
    }

    async fn react(&self, iid: u64, note_id: u64, emoji: &str) -> Result<Reacted, GitlabError> {
        self.gitlab.react(&self.project, iid, note_id, emoji).await
    }

    /// The head of the merge request at the moment `when` of a `what`, from GitLab's diff
    /// versions, confirmed against the event's claim.
    async fn seen_head(
        &self,
        iid: u64,
        when: &str,
        claimed: Option<&str>,
        what: &'static str,
    ) -> Result<String, Unestablished> {
        let versions = self
            .gitlab
            .versions_until(&self.project, iid, |vs| {
                reviewed::reaches(vs.iter().map(|v| v.created_at.as_str()), when)
            })
            .await
            .map_err(|e| Unestablished::Unreadable(e.to_string()))?;
        let versions: Vec<HeadVersion> = versions
            .into_iter()
            .map(|v| HeadVersion {
                head: v.head_commit_sha,
                created_at: v.created_at,
            })
            .collect();
        let recorded = reviewed::head_at(&versions, when, what)?;
        reviewed::confirm(recorded, claimed)
    }

    /// The refusal when the reviewed head is unknown, with the explicit way to deploy.
    fn unestablished(&self, verb: &str, why: &Unestablished, mr: &MergeRequest) -> String {
        let head = mr.sha.as_deref().map_or("<sha>", short);
        format!(
            "cannot tell which commit {verb}: {why}. Nothing was merged. Review the current head, then comment `{} deploy {head}` to deploy exactly that commit.",
            self.prefix
        )
    }

    async fn deploy(
        &self,
        mr: &MergeRequest,
        hint: &BumpState,
        config: &RepoConfig,
        seen: &SeenHead,
    ) -> Result<(Outcome, String)> {
        let head = mr
            .sha
            .clone()
            .context("GitLab did not say the head commit of the merge request")?;
        let facts = DeployFacts {
            state: &mr.state,
            labels: &mr.labels,
            seen: seen.as_seen(),
            head_sha: &head,
        };
        if let Decision::Refuse(why) = policy::may_deploy(config, &facts, &self.prefix) {
            return Ok((Outcome::Refused, why));
        }
        // What merges must be what the bot proposed: a pushed commit makes the description's
        // diff a lie.
        let target = match target_of(hint) {
            Ok(t) => t,
            Err(e) => {
                return Ok((
                    Outcome::Refused,
                    format!(
                        "cannot read what this merge request proposes ({e}); nothing was merged."
                    ),
                ));
            }
        };
        if let Head::Foreign(commits) =
            propose::verify_head(&self.gitlab, &self.project, mr, &target).await?
        {
            return Ok((Outcome::Refused, self.foreign(&commits)));
        }
        self.merge(mr, &head).await
    }

    /// Merges exactly `head`, retrying only while GitLab is still checking.
    async fn merge(&self, mr: &MergeRequest, head: &str) -> Result<(Outcome, String)> {
        let wait_for_pipeline = mr
            .head_pipeline
            .as_ref()
            .is_some_and(|p| PIPELINE_PENDING.contains(&p.status.as_str()));
        let short = short(head);
        for attempt in 0..6u32 {
            match self
                .gitlab
                .merge(&self.project, mr.iid, head, wait_for_pipeline)
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
                        return Ok((Outcome::Refused, not_mergeable(&status, &self.prefix)));
                    }
                    Some(422) => {
                        return Ok((
                            Outcome::Failed,
                            format!(
                                "GitLab could not merge: {}. `{} rebase` recomputes the change on the current target branch.",
                                e.message(),
                                self.prefix
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
        Ok((Outcome::Refused, not_mergeable("checking", &self.prefix)))
    }

    /// The refusal naming commits on the branch that the bot did not make.
    fn foreign(&self, commits: &[Commit]) -> String {
        let listed = if commits.is_empty() {
            "the branch holds no commit of the bot's".to_string()
        } else {
            commits
                .iter()
                .map(|c| {
                    format!(
                        "{} {} ({})",
                        code_span(short(&c.id)),
                        code_span(&c.title),
                        code_span(&c.author_name)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "this merge request's branch holds changes the bot did not propose, so its description no longer shows what would merge: {listed}. Nothing was merged. Comment `{} rebase` to put the bot's change back on the current target branch, or close this merge request.",
            self.prefix
        )
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
                    "on hold: deploys are blocked (label `{}`) until `{} unhold`.{}",
                    config.hold_label,
                    self.prefix,
                    reason
                        .map(|r| format!(" Reason: {}", code_span(r)))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "hold lifted (label `{}` removed): `{} deploy` works again.",
                    config.hold_label, self.prefix
                )
            },
        ))
    }

    async fn rebase(&self, mr: &MergeRequest, hint: &BumpState) -> Result<(Outcome, String)> {
        if mr.state != "opened" {
            return Ok((
                Outcome::Refused,
                format!(
                    "this merge request is {}; only an open one can be rebased.",
                    mr.state
                ),
            ));
        }
        let unknown = |e: String| {
            (
                Outcome::Refused,
                format!(
                    "cannot tell what this merge request proposes ({e}); run the bump again from the app pipeline, or close this merge request."
                ),
            )
        };
        let target = match target_of(hint) {
            Ok(t) => t,
            Err(e) => return Ok(unknown(e)),
        };
        // The record only helps: the branch the bot made for it is named after what it
        // proposes, and GitLab does not let anyone rename a merge request's source branch.
        let expected = if hint.kind == "rollback" {
            rollback_branch(
                &target.image,
                &mr.target_branch,
                hint.environment.as_deref(),
            )
        } else {
            Request {
                image: target.image.clone(),
                setter: hint.setter.clone(),
                environment: hint.environment.clone(),
                paths: hint.paths.clone(),
                target_branch: mr.target_branch.clone(),
                base_sha: String::new(),
                source: SourceInfo::default(),
                rollback: None,
            }
            .branch()
        };
        if expected != mr.source_branch {
            return Ok(unknown(format!(
                "its description does not match its branch `{}`",
                mr.source_branch
            )));
        }
        let target_head = self
            .gitlab
            .branch_head(&self.project, &mr.target_branch)
            .await?
            .with_context(|| format!("the target branch {:?} does not exist", mr.target_branch))?;
        if let Head::Ours(commit) =
            propose::verify_head(&self.gitlab, &self.project, mr, &target).await?
            && commit.parent_ids.first() == Some(&target_head.id)
        {
            return Ok((
                Outcome::Answered,
                format!(
                    "already up to date with `{}` (`{}`): nothing to do. The head stays `{}`, so reviews and approvals stay valid.",
                    mr.target_branch,
                    short(&target_head.id),
                    short(&commit.id)
                ),
            ));
        }
        let rollback = match hint.rollback_of {
            Some(iid) => Some(self.rollback_of(iid).await?),
            None => None,
        };
        let spec = BumpSpec {
            image: Some(target.image),
            setter: hint.setter.clone(),
            paths: hint.paths.iter().map(Into::into).collect(),
            environment: hint.environment.clone(),
            target_branch: Some(mr.target_branch.clone()),
            reopen: true,
            refresh: true,
            rollback,
            ..BumpSpec::default()
        };
        self.propose_reply(spec, "recomputed on the current target branch")
            .await
    }

    /// What the rollback merge request `iid` undoes, from the API.
    async fn rollback_of(&self, iid: u64) -> Result<RollbackOf> {
        let original = self.gitlab.merge_request(&self.project, iid).await?;
        let version = original
            .description
            .as_deref()
            .and_then(marker::find::<BumpState>)
            .map(|s| s.version())
            .unwrap_or_default();
        Ok(RollbackOf {
            iid,
            failed: original
                .labels
                .iter()
                .any(|l| l.starts_with("deploy-failed")),
            url: original.web_url,
            version,
            reason: None,
            result_url: None,
            requested_by: None,
        })
    }

    async fn rollback(
        &self,
        mr: &MergeRequest,
        hint: &BumpState,
        by: &str,
    ) -> Result<(Outcome, String)> {
        if mr.state != "merged" {
            return Ok((
                Outcome::Refused,
                format!(
                    "`rollback` works on a merged bump; this merge request is {}.",
                    mr.state
                ),
            ));
        }
        let image = match ImageRef::parse(&hint.image) {
            Ok(i) => i,
            Err(e) => {
                return Ok((
                    Outcome::Refused,
                    format!("cannot read which image this merge request deployed ({e})."),
                ));
            }
        };
        let why = RollbackWhy::Requested {
            by: format!("@{by}"),
        };
        match propose::rollback_spec(
            &self.gitlab,
            &self.project,
            mr,
            &image,
            hint.setter.clone(),
            why,
        )
        .await?
        {
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

    /// `status`: what the merge request deploys and where things stand, from the API.
    async fn status(
        &self,
        mr: &MergeRequest,
        hint: &BumpState,
        config: &RepoConfig,
    ) -> Result<(Outcome, String)> {
        let head = match (mr.state.as_str(), target_of(hint)) {
            ("opened", Ok(target)) => {
                match propose::verify_head(&self.gitlab, &self.project, mr, &target).await? {
                    Head::Ours(_) => "the bot's own change".to_string(),
                    Head::Foreign(commits) => format!(
                        "**with commits the bot did not make** ({})",
                        commits
                            .iter()
                            .map(|c| code_span(short(&c.id)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
            ("opened", Err(e)) => format!("unverified ({e})"),
            (state, _) => state.to_string(),
        };
        let rollback = match target_of(hint) {
            Ok(target) if hint.kind != "rollback" => {
                let branch = rollback_branch(
                    &target.image,
                    &mr.target_branch,
                    hint.environment.as_deref(),
                );
                self.gitlab
                    .merge_requests(&self.project, &branch, &mr.target_branch)
                    .await?
                    .into_iter()
                    .find(|m| m.state == "opened")
            }
            _ => None,
        };
        let results = self.deploy_results(mr).await?;
        Ok((
            Outcome::Answered,
            status_text(&StatusFacts {
                mr,
                hint,
                config,
                prefix: &self.prefix,
                head: &head,
                rollback: rollback.as_ref(),
                results: &results,
            }),
        ))
    }

    /// The deploy outcomes the sync report left on !iid: the labels, each with the result
    /// comment's address when there is one.
    async fn deploy_results(
        &self,
        mr: &MergeRequest,
    ) -> Result<Vec<(String, String, Option<String>)>> {
        #[derive(Deserialize)]
        struct SyncRecord {
            kind: String,
            environment: Option<String>,
        }
        let notes = self.gitlab.notes(&self.project, mr.iid).await?;
        let mut out = Vec::new();
        for label in &mr.labels {
            let (outcome, env) = if let Some(env) = label.strip_prefix("deployed::") {
                ("deployed", Some(env))
            } else if let Some(env) = label.strip_prefix("deploy-failed::") {
                ("failed", Some(env))
            } else if label == "deployed" {
                ("deployed", None)
            } else if label == "deploy-failed" {
                ("failed", None)
            } else {
                continue;
            };
            let url = notes
                .iter()
                .filter(|n| n.author.id == self.bot.id)
                .find(|n| {
                    marker::find::<SyncRecord>(&n.body)
                        .is_some_and(|r| r.kind == "sync" && r.environment.as_deref() == env)
                })
                .map(|n| format!("{}#note_{}", mr.web_url, n.id));
            out.push((
                env.unwrap_or(&mr.target_branch).to_string(),
                outcome.to_string(),
                url,
            ));
        }
        Ok(out)
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
            outcome: outcome.as_str().into(),
            approval: None,
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
        if let Err(e) = self.react(mr.iid, note.id, emoji).await {
            tracing::warn!(iid = mr.iid, note_id = note.id, emoji, error = %e, "cannot react to the comment");
        }
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

/// `command_prefix` of `.gitops-bot.yaml` on the default branch; the built-in word when the
/// file cannot be read (the commands that need the file then refuse on it).
async fn configured_prefix(gitlab: &GitlabClient, project: &str, branch: Option<&str>) -> String {
    let fallback = RepoConfig::default().command_prefix;
    let Some(branch) = branch else {
        return fallback;
    };
    match gitlab.file_text(project, config::FILE_NAME, branch).await {
        Ok(Some(text)) => match RepoConfig::parse(&text, config::FILE_NAME) {
            Ok(c) => c.command_prefix,
            Err(e) => {
                tracing::warn!("{e}; the command prefix is {fallback:?}");
                fallback
            }
        },
        Ok(None) => fallback,
        Err(e) => {
            tracing::warn!(
                "cannot read {}: {e}; the command prefix is {fallback:?}",
                config::FILE_NAME
            );
            fallback
        }
    }
}

/// What the record says was proposed, as a bump target (to recompute and compare).
fn target_of(hint: &BumpState) -> Result<Target, String> {
    let image = image_at(&hint.image, &hint.version()).map_err(|e| e.to_string())?;
    Ok(Target {
        image,
        setter: hint.setter.clone(),
    })
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Users behind project and group access tokens.
fn is_token_bot(username: &str) -> bool {
    (username.starts_with("project_") || username.starts_with("group_"))
        && username.contains("_bot")
}

/// Why GitLab will not merge now, in words (`detailed_merge_status`).
fn not_mergeable(status: &str, prefix: &str) -> String {
    let rebase = format!("comment `{prefix} rebase`");
    let why = match status {
        "not_approved" => "it still needs approvals: approve it first".to_string(),
        "draft_status" => "it is a draft: mark it ready first".to_string(),
        "ci_must_pass" => "its pipeline must succeed first".to_string(),
        "ci_still_running" => "its pipeline is still running".to_string(),
        "discussions_not_resolved" => "open threads must be resolved first".to_string(),
        "conflict" | "broken_status" => format!("it has conflicts: {rebase}"),
        "need_rebase" => format!("it must be rebased: {rebase}"),
        "blocked_status" => "it is blocked by another merge request".to_string(),
        "not_open" => "it is not open".to_string(),
        "checking" | "preparing" | "unchecked" => {
            "GitLab is still checking whether it can be merged: try again in a minute".to_string()
        }
        _ => "GitLab does not allow merging it now".to_string(),
    };
    if status.is_empty() {
        format!("GitLab will not merge this merge request now: {why}.")
    } else {
        format!("GitLab will not merge this merge request now (`{status}`): {why}.")
    }
}

/// Everything `status` shows.
struct StatusFacts<'a> {
    mr: &'a MergeRequest,
    hint: &'a BumpState,
    config: &'a RepoConfig,
    prefix: &'a str,
    /// How the head reads: "the bot's own change", "merged", …
    head: &'a str,
    rollback: Option<&'a MergeRequest>,
    /// (environment, `deployed`/`failed`, result comment).
    results: &'a [(String, String, Option<String>)],
}

fn status_text(f: &StatusFacts<'_>) -> String {
    let StatusFacts {
        mr, hint, config, ..
    } = f;
    let destination = hint.environment.as_deref().unwrap_or(&mr.target_branch);
    let what = if hint.kind == "rollback" {
        format!(
            "rolls {} in {} back to {}",
            code_span(&hint.image),
            code_span(destination),
            code_span(&hint.version())
        )
    } else {
        format!(
            "deploys {} {} to {}",
            code_span(&hint.image),
            code_span(&hint.version()),
            code_span(destination)
        )
    };
    let source = &hint.source;
    let mut proposed = match (&source.project_name, &source.pipeline_url) {
        (Some(p), Some(url)) => format!("Proposed by the {} [pipeline]({url})", code_span(p)),
        (Some(p), None) => format!("Proposed by the {} pipeline", code_span(p)),
        (None, Some(url)) => format!("Proposed by a [pipeline]({url})"),
        (None, None) => "Proposed by `gitops-bot bump`".to_string(),
    };
    if let Some(c) = &source.commit_sha {
        proposed.push_str(&format!(" (commit {})", code_span(short(c))));
    }
    if let Some(u) = &source.triggered_by {
        proposed.push_str(&format!(" for {}", code_span(&format!("@{u}"))));
    }
    let held = mr.labels.iter().any(|l| l == &config.hold_label);
    let pipeline = mr
        .head_pipeline
        .as_ref()
        .map_or("none".to_string(), |p| p.status.clone());
    let results = if f.results.is_empty() {
        "not deployed yet".to_string()
    } else {
        f.results
            .iter()
            .map(|(env, outcome, url)| match url {
                Some(u) => format!("{}: {outcome} ([result]({u}))", code_span(env)),
                None => format!("{}: {outcome}", code_span(env)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let operators = if config.operators.is_empty() {
        String::new()
    } else {
        format!(
            "the operators ({}) and ",
            config
                .operators
                .iter()
                .map(|o| code_span(o.trim_start_matches('@')))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut lines = vec![
        format!("this merge request {what}."),
        String::new(),
        format!("- {proposed}."),
        format!(
            "- State: {}; head {}: {}; pipeline: {pipeline}; GitLab merge status: `{}`.",
            mr.state,
            mr.sha
                .as_deref()
                .map_or("`?`".to_string(), |s| code_span(short(s))),
            f.head,
            mr.detailed_merge_status.as_deref().unwrap_or("unknown"),
        ),
        if held {
            format!(
                "- **On hold** (label `{}`): `{} unhold` lifts it.",
                config.hold_label, f.prefix
            )
        } else {
            "- Not on hold.".to_string()
        },
        format!("- Deploys: {results}."),
    ];
    if let Some(r) = f.rollback {
        lines.push(format!("- Rollback open: !{} {}", r.iid, r.web_url));
    }
    lines.push(format!(
        "- Who may deploy: {operators}members with the {} role or higher (`{} deploy`).",
        policy::role_name(config.deploy_access_level),
        f.prefix
    ));
    lines.join("\n")
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
    fn merge_statuses_are_explained_with_the_prefix() {
        assert!(not_mergeable("not_approved", "bot").contains("approvals"));
        assert!(not_mergeable("conflict", "ship").contains("comment `ship rebase`"));
        assert!(not_mergeable("", "bot").starts_with("GitLab will not merge"));
    }

    #[test]
    fn reply_markers_keep_what_they_answer() {
        let m = ReplyMarker {
            kind: "reply".into(),
            reply_to: 7,
            command: "deploy".into(),
            outcome: Outcome::Refused.as_str().into(),
            approval: None,
        };
        let line = marker::render(&m);
        assert!(!line.contains("approval"), "{line}");
        assert_eq!(marker::find::<ReplyMarker>(&line), Some(m));
    }
}
