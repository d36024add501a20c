//! Comment commands: one dispatcher behind `serve` (webhooks), `handle-event` (a
//! pipeline-trigger payload) and `commands` (polling), and one small runner per command
//! (`deploy`, `hold`/`unhold`, `rebase`, `rollback`, `status`; `help` is the parser's), the
//! way Atlantis runs its commands.
//!
//! Events are only hints: the dispatcher re-reads the comment and the merge request from the
//! API before acting, so a forged or stale payload cannot make it do anything the API does
//! not confirm. It acts only on merge requests the bot opened in its project, answers each
//! command once however many deliveries or workers see it (a reply names the comment, and
//! the 👀 reaction claims it first), and logs an audit event for every decision. What the
//! replies say lives in `templates/messages/replies/`.

mod deploy;
mod hold;
mod issue;
mod merged;
mod rebase;
mod rollback;
mod status;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::commands::{CommentCommand, Grammar, Parsed};
use crate::config::{self, RepoConfig};
use crate::forms::Target;
use crate::gitlab::hooks::{Event, NoteAction};
use crate::gitlab::{
    GitlabClient, GitlabError, MergeRequest, Noteable, Project, Reacted, ThreadNote, UserRef,
};
use crate::image_ref::ImageRef;
use crate::marker::{self, BumpState, Marker, ReplyRecord};
use crate::messages::{Messages, Reply};
use crate::policy::{self, Actor, Decision};
use crate::reviewed::{self, HeadVersion, Unestablished};
use crate::workflows::propose::Proposed;

/// What caused the dispatcher to look at a merge request. `claimed_head` is what the event
/// said the head was (a webhook's `last_commit.id`): only accepted when GitLab's history
/// agrees.
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
    /// A comment on issue #`iid` (a drift issue, if the API says so).
    IssueNote { iid: u64, note_id: u64 },
    /// Merge request !`iid` was merged (`serve --sync-on-merge`).
    Merged { iid: u64 },
}

impl Trigger {
    /// The merge of a merge request in project `project_id` (a `merge` merge request
    /// event), which `serve --sync-on-merge` syncs.
    pub fn merged(event: &Event, project_id: u64) -> Option<Trigger> {
        match event {
            Event::MergeRequest(e) if e.project_id == project_id && e.action == "merge" => {
                Some(Trigger::Merged {
                    iid: e.merge_request.iid,
                })
            }
            _ => None,
        }
    }

    /// The work a webhook or trigger payload asks for in project `project_id`, if any: a new
    /// comment on a merge request or an issue (an edit is not a command), or an approval.
    pub fn from_event(event: &Event, project_id: u64) -> Option<Trigger> {
        match event {
            Event::Note(n)
                if n.project_id == project_id && n.action == NoteAction::Create && !n.system =>
            {
                if let Some(issue) = &n.issue {
                    return Some(Trigger::IssueNote {
                        iid: issue.iid,
                        note_id: n.note_id,
                    });
                }
                let mr = n.merge_request.as_ref()?;
                Some(Trigger::Note {
                    iid: mr.iid,
                    note_id: n.note_id,
                    claimed_head: mr.last_commit_sha.clone(),
                })
            }
            Event::MergeRequest(e) if e.project_id == project_id && e.action == "approved" => {
                Some(Trigger::Approval {
                    iid: e.merge_request.iid,
                    user: UserRef {
                        id: e.user.id,
                        username: e.user.username.clone(),
                    },
                    claimed_head: e.merge_request.last_commit_sha.clone(),
                })
            }
            _ => None,
        }
    }
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
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ignored => "ignored",
            Outcome::Answered => "answered",
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// What a runner decided, and the reply that says so.
type Answer = (Outcome, Reply);

/// What every runner works on: the merge request as re-read, its record (a hint) and the
/// repository's settings.
struct Ctx<'a> {
    gitlab: &'a GitlabClient,
    project: &'a str,
    bot: &'a UserRef,
    mr: &'a MergeRequest,
    hint: &'a BumpState,
    config: &'a RepoConfig,
    /// The environments the merge request concerns (see [`Dispatcher::environments`]).
    environments: &'a [String],
}

/// Runs comment commands for one project.
pub struct Dispatcher {
    gitlab: GitlabClient,
    project: String,
    /// The project's path with namespace, as drift records name it.
    project_path: String,
    project_id: u64,
    bot: UserRef,
    grammar: Grammar,
    prefix: String,
    messages: Messages,
    /// Sync the merged commit when a bot merge request is merged (`serve --sync-on-merge`).
    sync_on_merge: bool,
}

/// A claim (the bot's 👀 on a comment) with no reply after this long is taken to be from a
/// worker that died: the comment may be claimed again.
const CLAIM_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
/// GitLab's system note for an approval, written by the approver.
const APPROVED_NOTE: &str = "approved this merge request";

impl Dispatcher {
    /// Learns who the bot is, which project it serves and the command prefix: `prefix` when
    /// given, else `command_prefix` of `.gitops-bot.yaml` on the default branch.
    pub async fn new(
        gitlab: GitlabClient,
        project: &str,
        prefix: Option<&str>,
    ) -> Result<Dispatcher> {
        let bot = gitlab
            .current_user()
            .await
            .context("cannot read the bot's own user (GET /user)")?;
        let info = gitlab.project(project).await?;
        Dispatcher::for_project(gitlab, bot, project, &info, prefix).await
    }

    /// [`Dispatcher::new`] for a project already read (`info`, named `project` as the
    /// caller does) by a bot already known: `serve` reads the bot once for all projects.
    pub async fn for_project(
        gitlab: GitlabClient,
        bot: UserRef,
        project: &str,
        info: &Project,
        prefix: Option<&str>,
    ) -> Result<Dispatcher> {
        let prefix = match prefix {
            Some(p) => p.to_string(),
            None => configured_prefix(&gitlab, project, info.default_branch.as_deref()).await,
        };
        let grammar = Grammar::new([prefix.clone(), bot.username.clone()]);
        Ok(Dispatcher {
            gitlab,
            project: project.to_string(),
            project_path: info.path_with_namespace.clone(),
            project_id: info.id,
            bot,
            prefix: grammar.prefix(),
            grammar,
            messages: Messages::new(None)?,
            sync_on_merge: false,
        })
    }

    /// With `on`, a merge of a bot merge request (a `merge` merge request event) syncs the
    /// merged commit as the pipeline's `sync` job would ([`Trigger::Merged`]).
    pub fn sync_on_merge(mut self, on: bool) -> Dispatcher {
        self.sync_on_merge = on;
        self
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

    /// Whether `event` is worth queueing: [`Trigger::from_event`] (and with
    /// [`Dispatcher::sync_on_merge`], merges), without comments that
    /// cannot be commands (from a bot, or addressed to no one). Only a pre-filter: the
    /// dispatcher checks everything again from the API.
    pub fn trigger_for(&self, event: &Event) -> Option<Trigger> {
        if let Event::Note(n) = event {
            let author = UserRef {
                id: n.user.id,
                username: n.user.username.clone(),
            };
            if self.is_bot(&author) || self.grammar.parse(&n.body) == Parsed::Ignore {
                return None;
            }
        }
        if self.sync_on_merge
            && let Some(merged) = Trigger::merged(event, self.project_id)
        {
            return Some(merged);
        }
        Trigger::from_event(event, self.project_id)
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
            Trigger::IssueNote { iid, note_id } => self.on_issue_note(*iid, *note_id).await,
            Trigger::Merged { iid } => self.on_merged(*iid).await,
        }
    }

    /// Whether a comment author is the bot or another bot (GitLab names the users behind
    /// project and group access tokens `project_<id>_bot_…` / `group_<id>_bot_…`).
    pub fn is_bot(&self, user: &UserRef) -> bool {
        user.id == self.bot.id || is_token_bot(&user.username)
    }

    fn ctx<'a>(
        &'a self,
        mr: &'a MergeRequest,
        hint: &'a BumpState,
        config: &'a RepoConfig,
        environments: &'a [String],
    ) -> Ctx<'a> {
        Ctx {
            gitlab: &self.gitlab,
            project: &self.project,
            bot: &self.bot,
            mr,
            hint,
            config,
            environments,
        }
    }

    /// The environments `command` is judged for: read from Git for write commands (an error
    /// refuses them) and for `status`, where an unreadable answer falls back to the record's
    /// environment with a warning (it only names who may deploy). `help` needs none.
    async fn command_environments(
        &self,
        mr: &MergeRequest,
        hint: &BumpState,
        config: &RepoConfig,
        command: &CommentCommand,
    ) -> Result<Vec<String>> {
        let from_record = || hint.environment.iter().cloned().collect::<Vec<_>>();
        if command.is_write() {
            return self.environments(mr, hint, config).await;
        }
        if *command != CommentCommand::Status {
            return Ok(from_record());
        }
        match self.environments(mr, hint, config).await {
            Ok(environments) => Ok(environments),
            Err(e) => {
                tracing::warn!(
                    iid = mr.iid,
                    "{e:#}; status names the record's environment only"
                );
                Ok(from_record())
            }
        }
    }

    /// The environments a merge request concerns: the one its record names (a hint, which
    /// can only add a guard) and those whose paths hold a file it changes (Git). Git is read
    /// only when some environment lists its own operators or a window, the things this
    /// decides; an answer that cannot be had is an error, so write commands fail closed.
    async fn environments(
        &self,
        mr: &MergeRequest,
        hint: &BumpState,
        config: &RepoConfig,
    ) -> Result<Vec<String>> {
        let mut environments: Vec<String> = hint.environment.iter().cloned().collect();
        if !config.has_environment_operators() && !config.has_windows() {
            return Ok(environments);
        }
        let refs = mr.diff_refs.as_ref();
        let (Some(base), Some(head)) = (
            refs.and_then(|r| r.base_sha.as_deref()),
            refs.and_then(|r| r.head_sha.as_deref()),
        ) else {
            anyhow::bail!(
                "GitLab did not say which commits merge request !{} changes, so its environment is unknown",
                mr.iid
            );
        };
        let files: Vec<String> = self
            .gitlab
            .changed_files(&self.project, base, head)
            .await
            .context("cannot read which files the merge request changes")?
            .into_iter()
            .flat_map(|c| [c.old_path, c.new_path])
            .collect();
        for name in config.environments_touching(&files) {
            if !environments.iter().any(|e| e == name) {
                environments.push(name.to_string());
            }
        }
        Ok(environments)
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
        if self
            .answered(Noteable::MergeRequest(iid), |m| m.reply_to == note_id)
            .await?
        {
            tracing::info!(iid, note_id, "already answered: ignored");
            return Ok(Outcome::Ignored);
        }
        if !self.claim(Noteable::MergeRequest(iid), note_id).await? {
            tracing::info!(iid, note_id, "another worker handles this comment: ignored");
            return Ok(Outcome::Ignored);
        }
        let verb = match &parsed {
            Parsed::Command(c) => c.verb(),
            _ => "invalid",
        };
        let (outcome, reply) = match self.config(&mr).await {
            Err(e) => (
                Outcome::Failed,
                Reply::ConfigUnreadable {
                    error: format!("{e:#}"),
                },
            ),
            Ok(config) => match parsed {
                Parsed::Command(command) => {
                    match self
                        .command_environments(&mr, &hint, &config, &command)
                        .await
                    {
                        Ok(environments) => {
                            let ctx = self.ctx(&mr, &hint, &config, &environments);
                            self.run(&ctx, &command, &note, claimed).await
                        }
                        Err(e) => (
                            Outcome::Refused,
                            Reply::PermissionsUnreadable {
                                error: format!("{e:#}"),
                            },
                        ),
                    }
                }
                Parsed::Reply(text) => (Outcome::Refused, Reply::Parse { text }),
                Parsed::Ignore => return Ok(Outcome::Ignored),
            },
        };
        self.answer(&mr, &note, verb, outcome, &reply).await?;
        Ok(outcome)
    }

    /// Authorises a write command, then runs its runner; an error is a failed reply.
    async fn run(
        &self,
        ctx: &Ctx<'_>,
        command: &CommentCommand,
        note: &ThreadNote,
        claimed: Option<&str>,
    ) -> Answer {
        if *command == CommentCommand::Sync {
            return (
                Outcome::Refused,
                Reply::OnlyOnDriftIssues {
                    verb: command.verb().to_string(),
                },
            );
        }
        if command.is_write() {
            let actor = match self.actor(ctx.config, &note.author).await {
                Ok(a) => a,
                Err(e) => {
                    return (
                        Outcome::Refused,
                        Reply::PermissionsUnreadable {
                            error: format!("{e:#}"),
                        },
                    );
                }
            };
            if let Decision::Refuse(reply) =
                policy::authorize(ctx.config, ctx.environments, command, &actor)
            {
                return (Outcome::Refused, reply);
            }
        }
        let result = match command {
            CommentCommand::Help => Ok((
                Outcome::Answered,
                Reply::Help {
                    text: self.grammar.help(),
                },
            )),
            CommentCommand::Status => status::run(ctx).await,
            CommentCommand::Hold { reason } => hold::run(ctx, true, reason.as_deref()).await,
            CommentCommand::Unhold => hold::run(ctx, false, None).await,
            CommentCommand::Deploy { sha } => {
                let seen = match sha {
                    Some(named) => Ok(deploy::SeenHead::Named(named.clone())),
                    None => self
                        .seen_head(ctx.mr.iid, &note.created_at, claimed, "comment")
                        .await
                        .map(deploy::SeenHead::Head),
                };
                match seen {
                    Ok(seen) => deploy::run(ctx, &seen).await,
                    Err(why) => Ok((Outcome::Refused, unestablished("reviewed", &why, ctx.mr))),
                }
            }
            CommentCommand::Rebase => rebase::run(ctx).await,
            CommentCommand::Rollback => rollback::run(ctx, &note.author.username).await,
            // Answered above: it works on drift issues only.
            CommentCommand::Sync => Ok((
                Outcome::Refused,
                Reply::OnlyOnDriftIssues {
                    verb: command.verb().to_string(),
                },
            )),
        };
        result.unwrap_or_else(|e| {
            (
                Outcome::Failed,
                Reply::Failed {
                    error: format!("{e:#}"),
                },
            )
        })
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
            .answered(Noteable::MergeRequest(iid), |m| {
                m.approval.as_deref() == Some(key.as_str())
            })
            .await?
        {
            return Ok(Outcome::Ignored);
        }
        let actor = self.actor(&config, user).await?;
        let environments = self.environments(&mr, &hint, &config).await?;
        let deploy = CommentCommand::Deploy { sha: None };
        let (outcome, reply) = match policy::authorize(&config, &environments, &deploy, &actor) {
            Decision::Refuse(reply) => (Outcome::Refused, reply),
            Decision::Allow => {
                let seen = match moment {
                    Ok(at) => self.seen_head(iid, &at, claimed, "approval").await,
                    Err(e) => Err(e),
                };
                match seen {
                    Ok(seen) => deploy::run(
                        &self.ctx(&mr, &hint, &config, &environments),
                        &deploy::SeenHead::Head(seen),
                    )
                    .await
                    .unwrap_or_else(|e| {
                        (
                            Outcome::Failed,
                            Reply::Failed {
                                error: format!("{e:#}"),
                            },
                        )
                    }),
                    Err(why) => (Outcome::Refused, unestablished("approved", &why, &mr)),
                }
            }
        };
        let marker = marker::render(&Marker::Reply(ReplyRecord {
            reply_to: 0,
            command: "approval".into(),
            outcome: outcome.as_str().into(),
            approval: Some(key),
        }));
        let message = self.messages.reply(&reply, &self.prefix)?;
        let body = self.messages.approval_answer(
            &user.username,
            outcome == Outcome::Done,
            &message,
            &marker,
        )?;
        self.gitlab.create_note(&self.project, iid, &body).await?;
        self.audit(&user.username, "approval", &mr, outcome, &message);
        Ok(outcome)
    }

    /// When `user` last approved, from GitLab's system note (GitLab before 17 does not list
    /// `approved_at`).
    async fn approval_time(&self, iid: u64, user: &UserRef) -> Result<String, Unestablished> {
        let notes = self
            .gitlab
            .notes(&self.project, Noteable::MergeRequest(iid))
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
        mr.description.as_deref().and_then(marker::bump)
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

    /// Whether a reply of the bot's on `on` matches `is_it`.
    async fn answered(&self, on: Noteable, is_it: impl Fn(&ReplyRecord) -> bool) -> Result<bool> {
        Ok(self
            .gitlab
            .notes(&self.project, on)
            .await?
            .iter()
            .filter(|n| n.author.id == self.bot.id)
            .filter_map(|n| marker::reply(&n.body))
            .any(|m| is_it(&m)))
    }

    /// Claims a comment with the bot's 👀: GitLab keeps one per user and comment, so of
    /// several workers (replicas, a project and a group hook, a poll) one wins. A claim with
    /// no reply after [`CLAIM_TTL`] is from a worker that died and is taken over.
    async fn claim(&self, on: Noteable, note_id: u64) -> Result<bool> {
        if self.react(on, note_id, "eyes").await? == Reacted::Added {
            return Ok(true);
        }
        let reactions = self
            .gitlab
            .note_reactions(&self.project, on, note_id)
            .await?;
        let Some(old) = reactions
            .iter()
            .find(|r| r.user.id == self.bot.id && r.name == "eyes")
        else {
            return Ok(self.react(on, note_id, "eyes").await? == Reacted::Added);
        };
        let stale = chrono::DateTime::parse_from_rfc3339(&old.created_at)
            .is_ok_and(|at| chrono::Utc::now().signed_duration_since(at) > CLAIM_TTL);
        if !stale {
            return Ok(false);
        }
        tracing::warn!(
            ?on,
            note_id,
            "a claim without a reply is older than {} min: taking it over",
            CLAIM_TTL.num_minutes()
        );
        self.gitlab
            .remove_reaction(&self.project, on, note_id, old.id)
            .await?;
        Ok(self.react(on, note_id, "eyes").await? == Reacted::Added)
    }

    async fn react(&self, on: Noteable, note_id: u64, emoji: &str) -> Result<Reacted, GitlabError> {
        self.gitlab.react(&self.project, on, note_id, emoji).await
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

    /// One reply per command, with the outcome emoji and the audit event.
    async fn answer(
        &self,
        mr: &MergeRequest,
        note: &ThreadNote,
        verb: &str,
        outcome: Outcome,
        reply: &Reply,
    ) -> Result<()> {
        let on = Noteable::MergeRequest(mr.iid);
        let message = self.reply_on(on, note, verb, outcome, reply).await?;
        self.audit(&note.author.username, verb, mr, outcome, &message);
        Ok(())
    }

    /// Writes the reply to `note` on `on` (with its hidden record) and marks the comment
    /// with the outcome's emoji; the reply's text, for the audit event.
    async fn reply_on(
        &self,
        on: Noteable,
        note: &ThreadNote,
        verb: &str,
        outcome: Outcome,
        reply: &Reply,
    ) -> Result<String> {
        let marker = marker::render(&Marker::Reply(ReplyRecord {
            reply_to: note.id,
            command: verb.to_string(),
            outcome: outcome.as_str().into(),
            approval: None,
        }));
        let message = self.messages.reply(reply, &self.prefix)?;
        let body = self
            .messages
            .answer(&note.author.username, &message, &marker)?;
        self.gitlab.comment(&self.project, on, &body).await?;
        let emoji = match outcome {
            Outcome::Done | Outcome::Answered => "white_check_mark",
            _ => "x",
        };
        if let Err(e) = self.react(on, note.id, emoji).await {
            tracing::warn!(?on, note_id = note.id, emoji, error = %e, "cannot react to the comment");
        }
        Ok(message)
    }

    /// The audit event of a decision, allowed or refused (target `audit`, on by default).
    fn audit(&self, actor: &str, command: &str, mr: &MergeRequest, outcome: Outcome, detail: &str) {
        tracing::info!(
            target: "audit",
            actor,
            command,
            project = %self.project,
            merge_request = mr.iid,
            sha = mr.sha.as_deref().unwrap_or(""),
            outcome = outcome.as_str(),
            detail,
            "audit"
        );
    }
}

/// What the record says was proposed, as bump targets (to recompute and compare): one per
/// image.
pub(crate) fn targets_of(hint: &BumpState) -> Result<Vec<Target>, String> {
    hint.recorded_images()
        .iter()
        .map(|recorded| {
            let image = ImageRef::parse(&recorded.image).map_err(|e| e.to_string())?;
            Ok(Target {
                image: image.at(&recorded.version()),
                setter: hint.setter.clone(),
            })
        })
        .collect()
}

/// The answer to a proposal written by `rebase` or `rollback`.
fn proposed(result: Proposed, rollback: bool) -> Answer {
    match result {
        Proposed::Rejected { error, .. } => (
            Outcome::Failed,
            Reply::Failed {
                error: error.to_string(),
            },
        ),
        Proposed::Done(p) => match p.merge_request {
            Some(m) => (
                Outcome::Done,
                Reply::Proposed {
                    rollback,
                    iid: m.iid,
                    url: m.web_url,
                },
            ),
            None => (Outcome::Done, Reply::AlreadyThere { rollback }),
        },
    }
}

/// The refusal when the head someone reviewed (or approved) is not known.
fn unestablished(action: &str, why: &Unestablished, mr: &MergeRequest) -> Reply {
    Reply::Unestablished {
        action: action.to_string(),
        why: why.to_string(),
        head: mr.sha.clone().unwrap_or_else(|| "<sha>".to_string()),
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

/// Users behind project and group access tokens.
fn is_token_bot(username: &str) -> bool {
    (username.starts_with("project_") || username.starts_with("group_"))
        && username.contains("_bot")
}

#[cfg(test)]
mod tests;
