//! Commands on a drift issue: `sync` (the controller applies Git's state again for the
//! issue's environment, at the head of the default branch, and the report is refreshed),
//! `status` (a fresh observation, the report updated if it changed) and `help`; the merge
//! request commands get a reply saying where they work.
//!
//! An issue is a drift issue only when the API says so: opened by the bot, labelled
//! `gitops-bot::drift`, and carrying the bot's drift record of this project, naming an
//! environment of `.gitops-bot.yaml` at the head of the default branch. The record only
//! names the environment; what is deployed is the head of the default branch, and who may
//! ask is decided as for `deploy` of that environment.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{Dispatcher, Outcome};
use crate::commands::{CommentCommand, Parsed};
use crate::config::{self, RepoConfig};
use crate::deploy::outcome::Outcome as DeployOutcome;
use crate::drift::EnvironmentReport;
use crate::gitlab::{Noteable, ThreadNote};
use crate::marker;
use crate::messages::{DriftObjectLine, DriftObservation, Reply, SyncedTarget};
use crate::policy::{self, Decision};
use crate::reviewed;
use crate::workflows::drift_issue::{self, DRIFT_LABEL};
use crate::workflows::{drift, settings, sync};

/// How long a `sync` from a drift issue waits for the controller's verdict. With the
/// observation after it (at most `drift.confirm`), it stays within what `serve` gives one
/// event.
const SYNC_TIMEOUT: Duration = Duration::from_secs(150);

/// A drift issue, as the API confirmed it.
struct DriftIssue {
    iid: u64,
    environment: String,
    /// `.gitops-bot.yaml` at `head`.
    config: RepoConfig,
    /// The head of the default branch.
    head: String,
}

impl Dispatcher {
    pub(super) async fn on_issue_note(&self, iid: u64, note_id: u64) -> Result<Outcome> {
        let note = self.gitlab.issue_note(&self.project, iid, note_id).await?;
        if note.system || self.is_bot(&note.author) {
            return Ok(Outcome::Ignored);
        }
        if reviewed::is_edited(&note.created_at, note.updated_at.as_deref()) {
            tracing::info!(
                issue = iid,
                note_id,
                "an edited comment is not a command: ignored"
            );
            return Ok(Outcome::Ignored);
        }
        let parsed = self.grammar.parse(&note.body);
        if parsed == Parsed::Ignore {
            return Ok(Outcome::Ignored);
        }
        if self
            .answered(Noteable::Issue(iid), |m| m.reply_to == note_id)
            .await?
        {
            tracing::info!(issue = iid, note_id, "already answered: ignored");
            return Ok(Outcome::Ignored);
        }
        if !self.claim(Noteable::Issue(iid), note_id).await? {
            tracing::info!(
                issue = iid,
                note_id,
                "another worker handles this comment: ignored"
            );
            return Ok(Outcome::Ignored);
        }
        let verb = match &parsed {
            Parsed::Command(c) => c.verb(),
            _ => "invalid",
        };
        let (outcome, reply) = match self.drift_issue(iid).await {
            // Not confirmed: nothing is done, and the reply says why.
            Err(e) => (
                Outcome::Failed,
                Reply::Failed {
                    error: format!("cannot confirm that #{iid} is a drift issue of the bot: {e:#}"),
                },
            ),
            Ok(Err(why)) => (Outcome::Refused, Reply::NotDriftIssue { why }),
            Ok(Ok(drift)) => match parsed {
                Parsed::Command(command) => self.run_on_issue(&drift, &command, &note).await,
                Parsed::Reply(text) => (Outcome::Refused, Reply::Parse { text }),
                Parsed::Ignore => return Ok(Outcome::Ignored),
            },
        };
        self.answer_issue(iid, &note, verb, outcome, &reply).await?;
        Ok(outcome)
    }

    /// Whether issue #`iid` is one of the bot's drift issues, from the API: `Ok(Err(why))`
    /// when it is not; an error when that cannot be told.
    async fn drift_issue(&self, iid: u64) -> Result<Result<DriftIssue, String>> {
        let issue = self.gitlab.issue(&self.project, iid).await?;
        if issue.author.as_ref().map(|a| a.id) != Some(self.bot.id) {
            return Ok(Err("the bot did not open it".into()));
        }
        if !issue.labels.iter().any(|l| l == DRIFT_LABEL) {
            return Ok(Err(format!("it is not labelled `{DRIFT_LABEL}`")));
        }
        let Some(record) = marker::drift(issue.description.as_deref().unwrap_or_default())
            .filter(|r| r.project == self.project_path)
        else {
            return Ok(Err("it carries no drift report of this project".into()));
        };
        let settings::DefaultHead { branch, head, .. } =
            settings::default_head(&self.gitlab, &self.project).await?;
        let config = settings::settings_at(&self.gitlab, &self.project, &head.id, || {
            format!("{} at {branch}", self.project)
        })
        .await?;
        if !config.environments.contains_key(&record.environment) {
            return Ok(Err(format!(
                "its environment `{}` is not in {} at the head of `{branch}`",
                record.environment,
                config::FILE_NAME
            )));
        }
        Ok(Ok(DriftIssue {
            iid,
            environment: record.environment,
            config,
            head: head.id,
        }))
    }

    async fn run_on_issue(
        &self,
        drift: &DriftIssue,
        command: &CommentCommand,
        note: &ThreadNote,
    ) -> (Outcome, Reply) {
        let result = match command {
            CommentCommand::Help => Ok((
                Outcome::Answered,
                Reply::Help {
                    text: self.grammar.issue_help(),
                },
            )),
            CommentCommand::Status => self.observe_and_report(drift).await.map(|observed| {
                (
                    Outcome::Answered,
                    Reply::DriftStatus {
                        environment: drift.environment.clone(),
                        observed: Box::new(observed),
                    },
                )
            }),
            CommentCommand::Sync => self.resync(drift, note).await,
            other => Ok((
                Outcome::Refused,
                Reply::OnlyOnMergeRequests {
                    verb: other.verb().to_string(),
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

    /// `sync`: authorised as `deploy` of the environment, then its targets deployed again at
    /// the head, then the environment observed again and its report refreshed.
    async fn resync(&self, drift: &DriftIssue, note: &ThreadNote) -> Result<(Outcome, Reply)> {
        let environments = [drift.environment.clone()];
        let actor = match self.actor(&drift.config, &note.author).await {
            Ok(a) => a,
            Err(e) => {
                return Ok((
                    Outcome::Refused,
                    Reply::PermissionsUnreadable {
                        error: format!("{e:#}"),
                    },
                ));
            }
        };
        if let Decision::Refuse(reply) =
            policy::authorize(&drift.config, &environments, &CommentCommand::Sync, &actor)
        {
            return Ok((Outcome::Refused, reply));
        }
        let client = crate::cluster::connect().await?;
        let info = format!(
            "gitops-bot sync of {} asked by @{} on drift issue #{}",
            drift.head, note.author.username, drift.iid
        );
        let resynced = sync::resync_environment(
            &self.gitlab,
            &client,
            &self.project,
            &drift.config,
            &drift.environment,
            &drift.head,
            Instant::now() + SYNC_TIMEOUT,
            &info,
        )
        .await?;
        let (observed, observe_error) = match self.observe_with(&client, drift).await {
            Ok(o) => (Some(Box::new(o)), None),
            Err(e) => {
                tracing::warn!(issue = drift.iid, error = %format!("{e:#}"), "no observation after the sync");
                (None, Some(format!("{e:#}")))
            }
        };
        let summary = &resynced.summary;
        let outcome = if summary.outcome == DeployOutcome::Healthy {
            Outcome::Done
        } else {
            Outcome::Failed
        };
        Ok((
            outcome,
            Reply::DriftSynced {
                environment: drift.environment.clone(),
                revision: drift.head.clone(),
                outcome: summary.outcome.to_string(),
                reason: summary.reason.clone(),
                targets: resynced
                    .targets
                    .iter()
                    .map(|(target, report)| SyncedTarget {
                        target: target.to_string(),
                        outcome: report.outcome.to_string(),
                        reason: report.reason.clone(),
                    })
                    .collect(),
                observed,
                observe_error,
            },
        ))
    }

    async fn observe_and_report(&self, drift: &DriftIssue) -> Result<DriftObservation> {
        let client = crate::cluster::connect().await?;
        self.observe_with(&client, drift).await
    }

    /// A fresh observation of the issue's environment (read-only, with `drift.confirm`),
    /// and its issue written as `drift` would.
    async fn observe_with(
        &self,
        client: &kube::Client,
        drift: &DriftIssue,
    ) -> Result<DriftObservation> {
        let observed = drift::observe(
            &self.gitlab,
            client,
            &self.project,
            std::slice::from_ref(&drift.environment),
        )
        .await?;
        let reported = drift_issue::report(
            &self.gitlab,
            &observed.project,
            &observed.config,
            &observed.reports,
            false,
            None,
        )
        .await?;
        let Some(report) = observed.reports.into_iter().next() else {
            anyhow::bail!("no observation of {}", drift.environment);
        };
        let prefix = format!("{}: ", drift.environment);
        let line = reported.lines.first().map_or("no change", |l| {
            l.strip_prefix(prefix.as_str()).unwrap_or(l.as_str())
        });
        Ok(observation(&report, line))
    }

    /// One reply per command on an issue, with the outcome emoji and the audit event.
    async fn answer_issue(
        &self,
        iid: u64,
        note: &ThreadNote,
        verb: &str,
        outcome: Outcome,
        reply: &Reply,
    ) -> Result<()> {
        let message = self
            .reply_on(Noteable::Issue(iid), note, verb, outcome, reply)
            .await?;
        tracing::info!(
            target: "audit",
            actor = %note.author.username,
            command = verb,
            project = %self.project,
            issue = iid,
            outcome = outcome.as_str(),
            detail = %message,
            "audit"
        );
        Ok(())
    }
}

/// What the replies show of one environment's observation.
fn observation(report: &EnvironmentReport, written: &str) -> DriftObservation {
    DriftObservation {
        state: report.state.to_string(),
        head_revision: report.head_revision.clone(),
        live_revision: report.live_revision.clone(),
        objects: report
            .objects
            .iter()
            .map(|o| DriftObjectLine {
                state: o.state.to_string(),
                kind: o.kind.clone(),
                name: crate::health::qualified(o.namespace.as_deref(), &o.name),
                reason: o.reason.clone(),
            })
            .collect(),
        report: written.to_string(),
    }
}
