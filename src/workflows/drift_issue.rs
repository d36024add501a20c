//! `drift` in GitLab: one issue per environment, found by its labels and hidden marker,
//! written as [`crate::drift::issue::plan`] decides. The marker in the description is
//! written last in every plan, so a write that fails part-way is redone by the next run
//! (a comment may then repeat, a state is never lost).

use anyhow::{Context, Result};
use chrono::Utc;

use crate::alerts::AlertClient;
use crate::config::RepoConfig;
use crate::drift::compare::diff_text;
use crate::drift::issue::{self, ExistingIssue, Plan};
use crate::drift::{EnvironmentReport, alert};
use crate::gitlab::{GitlabClient, Issue, IssueChange, IssueFields};
use crate::marker::{self, DriftRecord, Marker};
use crate::messages::{DriftDiff, DriftIssueView, DriftRow, Messages};

/// The label every drift issue carries.
pub const DRIFT_LABEL: &str = "gitops-bot::drift";

/// The labels of `environment`'s drift issue.
fn labels(environment: &str) -> Vec<String> {
    vec![DRIFT_LABEL.to_string(), format!("env::{environment}")]
}

/// What [`report`] did.
#[derive(Debug, Default)]
pub struct Reported {
    /// The planned actions, one line per environment.
    pub lines: Vec<String>,
    /// The alerts that could not be delivered, one line each (already logged).
    pub alerts_failed: Vec<String>,
}

/// Plans (and unless `dry_run`, writes) each environment's issue. After each write, the
/// environment's alert goes to `alerts` (when given): the same plan decides both, so an
/// alert is sent exactly when the issue changes. An alert that fails does not undo the
/// write and does not stop the other environments; its issue's record is corrected to say
/// it was not delivered (one more write, on that path only), and the next run that sees
/// nothing new sends it again, then clears the record.
pub async fn report(
    gitlab: &GitlabClient,
    project: &str,
    config: &RepoConfig,
    reports: &[EnvironmentReport],
    dry_run: bool,
    alerts: Option<&AlertClient>,
) -> Result<Reported> {
    let messages = Messages::new(None)?;
    let mut out = Reported::default();
    for report in reports {
        let existing = find(gitlab, project, &report.environment).await?;
        let now = Utc::now();
        let plan = issue::plan(project, report, existing.as_ref(), now);
        let alert = alerts.and_then(|_| alert::alert(project, report, &plan, now));
        let owed = alerts.and_then(|_| alert::owed(project, report, existing.as_ref(), &plan, now));
        let mut line = format!("{}: {plan}", report.environment);
        match (&alert, &owed) {
            (Some(a), _) => line.push_str(if a.resolves() {
                ", post a resolving alert"
            } else {
                ", post an alert"
            }),
            (None, Some(a)) => line.push_str(if a.resolves() {
                ", post the undelivered resolving alert again"
            } else {
                ", post the undelivered alert again"
            }),
            (None, None) => {}
        }
        out.lines.push(line);
        if dry_run {
            continue;
        }
        if let (Some(client), Some(issue), Some(owed)) = (alerts, &existing, &owed) {
            resend(gitlab, project, client, report, issue, owed, &mut out).await;
            continue;
        }
        if !plan.writes() {
            continue;
        }
        let Some(written) = write(gitlab, project, config, &messages, report, &plan)
            .await
            .with_context(|| format!("writing the drift issue of {}", report.environment))?
        else {
            continue;
        };
        if let (Some(client), Some(alert)) = (alerts, &alert) {
            match client.post(alert).await {
                Ok(()) => tracing::info!(
                    environment = %report.environment,
                    resolved = alert.resolves(),
                    "alert posted"
                ),
                Err(e) => {
                    let mut line =
                        format!("the alert of {} was not delivered: {e}", report.environment);
                    // The record just written says it was: correct it, so that the next run
                    // sends it again.
                    let description = written.description.as_deref().unwrap_or_default();
                    match mark_alert(gitlab, project, written.iid, description, true).await {
                        Ok(()) => line.push_str("; the next run sends it again"),
                        Err(e) => line.push_str(&format!(
                            "; and the issue could not record it, so the next run will not send it again: {e:#}"
                        )),
                    }
                    tracing::error!("{line}");
                    out.alerts_failed.push(line);
                }
            }
        }
    }
    Ok(out)
}

/// Sends `owed`, the alert an earlier run could not deliver for `issue`; once delivered,
/// the issue's record says so (one write). Still undelivered, or delivered but not recorded:
/// reported in `out` (the run exits 1), and the other environments are still handled.
async fn resend(
    gitlab: &GitlabClient,
    project: &str,
    client: &AlertClient,
    report: &EnvironmentReport,
    issue: &ExistingIssue,
    owed: &alert::Alert,
    out: &mut Reported,
) {
    let environment = &report.environment;
    match client.post(owed).await {
        Ok(()) => {
            tracing::info!(
                environment = %environment,
                resolved = owed.resolves(),
                "undelivered alert posted"
            );
            if let Err(e) = mark_alert(gitlab, project, issue.iid, &issue.description, false).await
            {
                // Not lost: the next run sends it once more.
                let line = format!(
                    "the undelivered alert of {environment} was posted, but issue #{} still says it is owed, so the next run sends it again: {e:#}",
                    issue.iid
                );
                tracing::error!("{line}");
                out.alerts_failed.push(line);
            }
        }
        Err(e) => {
            let line = format!(
                "the alert of {environment} is still not delivered: {e}; the next run sends it again"
            );
            tracing::error!("{line}");
            out.alerts_failed.push(line);
        }
    }
}

/// Rewrites the drift marker in the `description` of issue #`iid` to say whether its alert
/// is undelivered: one write of the description, nothing else of it changed.
async fn mark_alert(
    gitlab: &GitlabClient,
    project: &str,
    iid: u64,
    description: &str,
    undelivered: bool,
) -> Result<()> {
    let record =
        marker::drift(description).with_context(|| format!("issue #{iid} has no drift marker"))?;
    let text = marker::replace_drift(
        description,
        &DriftRecord {
            alert_undelivered: undelivered,
            ..record
        },
    )
    .with_context(|| format!("issue #{iid} has no drift marker"))?;
    gitlab
        .edit_issue(project, iid, Some(&text), None)
        .await
        .with_context(|| format!("recording the alert's delivery on issue #{iid}"))?;
    Ok(())
}

/// The bot's issue for `environment`, open or closed. Fails closed: when the search fails,
/// so does the run, since creating an issue then could duplicate one.
async fn find(
    gitlab: &GitlabClient,
    project: &str,
    environment: &str,
) -> Result<Option<ExistingIssue>> {
    let found = gitlab
        .issues_labeled(project, &labels(environment))
        .await
        .with_context(|| {
            format!("cannot search the drift issue of {environment}; not creating one, since one may exist")
        })?;
    let mut ours = found.into_iter().filter_map(|i| {
        let record = marker::drift(i.description.as_deref().unwrap_or_default())
            .filter(|r| r.project == project && r.environment == environment)?;
        Some(ExistingIssue {
            iid: i.iid,
            open: i.state == "opened",
            record,
            description: i.description.unwrap_or_default(),
        })
    });
    let oldest = ours.next();
    let others: Vec<u64> = ours.map(|i| i.iid).collect();
    if let Some(first) = &oldest
        && !others.is_empty()
    {
        tracing::warn!(
            environment,
            using = first.iid,
            ignored = ?others,
            "several issues carry the drift marker of this environment; using the oldest"
        );
    }
    Ok(oldest)
}

/// Writes `plan`; the issue as the last write left it (`None` for [`Plan::Nothing`]).
async fn write(
    gitlab: &GitlabClient,
    project: &str,
    config: &RepoConfig,
    messages: &Messages,
    report: &EnvironmentReport,
    plan: &Plan,
) -> Result<Option<Issue>> {
    let environment = &report.environment;
    let written = match plan {
        Plan::Nothing => None,
        Plan::Create(record) => {
            let incident = config
                .environments
                .get(environment)
                .is_some_and(|e| e.is_production());
            let fields = IssueFields {
                title: format!("Drift: {environment} is not converged"),
                description: description(messages, report, record)?,
                labels: labels(environment),
                assignee_ids: crate::workflows::propose::user_ids(
                    gitlab,
                    config.operators_of(Some(environment)),
                    "operators in .gitops-bot.yaml",
                    &[],
                )
                .await?,
                incident,
            };
            let created = gitlab.create_issue(project, &fields).await?;
            tracing::info!(environment, iid = created.iid, url = %created.web_url, "drift issue opened");
            Some(created)
        }
        Plan::Update { iid, record } => {
            gitlab
                .create_issue_note(project, *iid, &change_note(report))
                .await?;
            let text = description(messages, report, record)?;
            Some(gitlab.edit_issue(project, *iid, Some(&text), None).await?)
        }
        Plan::Close { iid, was, lasted } => {
            let lasted = lasted
                .map(|d| format!(" after {}", crate::deploy::outcome::human_duration(d)))
                .unwrap_or_default();
            let note = format!(
                ":white_check_mark: {} is converged again at {}: it was {was}{lasted}. Closing.",
                crate::messages::code_span(environment),
                crate::messages::code_span(crate::commit_sha::short(&report.head_revision)),
            );
            gitlab.create_issue_note(project, *iid, &note).await?;
            Some(
                gitlab
                    .edit_issue(project, *iid, None, Some(IssueChange::Close))
                    .await?,
            )
        }
        Plan::Reopen { iid, record } => {
            gitlab
                .create_issue_note(project, *iid, &change_note(report))
                .await?;
            let text = description(messages, report, record)?;
            Some(
                gitlab
                    .edit_issue(project, *iid, Some(&text), Some(IssueChange::Reopen))
                    .await?,
            )
        }
    };
    Ok(written)
}

/// The comment on a change: the new state and its objects.
fn change_note(report: &EnvironmentReport) -> String {
    let mut note = format!(
        ":warning: {} is now **{}**:\n\n",
        crate::messages::code_span(&report.environment),
        report.state
    );
    for o in &report.objects {
        note.push_str(&format!(
            "- {} {} {}: {}\n",
            o.state,
            o.kind,
            crate::messages::code_span(&crate::health::qualified(o.namespace.as_deref(), &o.name)),
            crate::messages::code_span(&o.reason)
        ));
    }
    note
}

fn description(
    messages: &Messages,
    report: &EnvironmentReport,
    record: &DriftRecord,
) -> Result<String> {
    let view = DriftIssueView {
        environment: report.environment.clone(),
        state: report.state.to_string(),
        since: record.since.clone(),
        head_revision: report.head_revision.clone(),
        live_revision: report.live_revision.clone(),
        objects: report
            .objects
            .iter()
            .map(|o| DriftRow {
                kind: o.kind.clone(),
                name: crate::health::qualified(o.namespace.as_deref(), &o.name),
                state: o.state.to_string(),
                reason: o.reason.clone(),
            })
            .collect(),
        diffs: report
            .objects
            .iter()
            .filter(|o| !o.differences.is_empty())
            .map(|o| DriftDiff {
                kind: o.kind.clone(),
                name: crate::health::qualified(o.namespace.as_deref(), &o.name),
                diff: diff_text(&o.differences, o.differences_not_shown),
            })
            .collect(),
        diffs_not_shown: 0,
        marker: marker::render(&Marker::Drift(record.clone())),
    };
    Ok(messages.drift_issue(&view)?)
}
