//! `drift` in GitLab: one issue per environment, found by its hidden marker in one paged
//! list of the project's drift issues per pass, written as [`crate::drift::issue::plan`]
//! decides. The marker in the description is written last in every plan, so a write that
//! fails part-way is redone by the next run (a comment may then repeat, a state is never
//! lost).
//!
//! Several workers (`serve` replicas, a scheduled job) may run the pass at once, with no
//! leader. Each one re-reads the issues right before it writes and plans again, so a write
//! another worker has made meanwhile is not made twice (a lost race is a no-op). GitLab has
//! no create-if-absent for issues: after creating one, the worker lists again and closes
//! every open issue with the same marker but the oldest, as its duplicate (a one-line note,
//! the marker removed). Of two workers creating at the same moment, the one that lists
//! second sees both, so exactly one issue stays open. Comments are made the same way: each
//! carries a hidden key of what it reports, and after commenting the worker deletes a copy
//! a simultaneous worker made ([`comment_once`]).

use anyhow::{Context, Result};
use chrono::Utc;

use crate::alerts::AlertClient;
use crate::config::RepoConfig;
use crate::drift::compare::diff_text;
use crate::drift::issue::{self, ExistingIssue, Plan};
use crate::drift::{EnvironmentReport, alert, fingerprint};
use crate::gitlab::Noteable;
use crate::gitlab::{GitlabClient, Issue, IssueChange, IssueFields};
use crate::marker::{self, DriftRecord, Marker};
use crate::messages::{DriftDiff, DriftIssueView, DriftRow, Messages};

/// The label every drift issue carries.
pub const DRIFT_LABEL: &str = "gitops-bot::drift";

/// The labels of `environment`'s drift issue (only written: it is found by its marker).
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
    let issues = drift_issues(gitlab, project, reports).await?;
    for report in reports {
        if report.unconfirmed {
            // drift.confirm: only a state that stayed the same counts; nothing to write yet.
            out.lines.push(format!(
                "{}: {} but not the same for drift.confirm yet: nothing written",
                report.environment, report.state
            ));
            continue;
        }
        let now = Utc::now();
        let existing = find_in(&issues, project, &report.environment);
        let mut plan = issue::plan(project, report, existing.as_ref(), now);
        if plan.writes() && !dry_run {
            // Right before writing: another worker may have written the same meanwhile.
            let fresh = drift_issues(gitlab, project, std::slice::from_ref(report)).await?;
            let existing = find_in(&fresh, project, &report.environment);
            plan = issue::plan(project, report, existing.as_ref(), now);
            if !plan.writes() {
                tracing::info!(
                    environment = %report.environment,
                    "another worker wrote this drift issue meanwhile: nothing to do"
                );
            }
        }
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

/// The project's drift issues (label [`DRIFT_LABEL`], open and closed), oldest first, in
/// one paged list. Fails closed: when the list cannot be read, neither can the pass write,
/// since creating an issue then could duplicate one.
async fn drift_issues(
    gitlab: &GitlabClient,
    project: &str,
    reports: &[EnvironmentReport],
) -> Result<Vec<Issue>> {
    gitlab
        .issues_labeled(project, DRIFT_LABEL, false)
        .await
        .with_context(|| {
            let names: Vec<&str> = reports.iter().map(|r| r.environment.as_str()).collect();
            format!(
                "cannot search the drift issue of {}; not creating one, since one may exist",
                names.join(", ")
            )
        })
}

/// The issues of `issues` whose marker names `project` and `environment`, oldest first.
fn carrying_marker(issues: &[Issue], project: &str, environment: &str) -> Vec<ExistingIssue> {
    issues
        .iter()
        .filter_map(|i| {
            let record = marker::drift(i.description.as_deref().unwrap_or_default())
                .filter(|r| r.project == project && r.environment == environment)?;
            Some(ExistingIssue {
                iid: i.iid,
                open: i.state == "opened",
                record,
                description: i.description.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// The bot's issue for `environment` among `issues`, open or closed: the oldest carrying
/// its marker.
fn find_in(issues: &[Issue], project: &str, environment: &str) -> Option<ExistingIssue> {
    let mut ours = carrying_marker(issues, project, environment).into_iter();
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
    oldest
}

/// After a create: closes every open issue with `environment`'s marker but the oldest, as
/// its duplicate (see the module docs), with a one-line note; its description becomes that
/// line, so that its marker is never found again.
async fn close_duplicates(gitlab: &GitlabClient, project: &str, environment: &str) -> Result<()> {
    let issues = gitlab
        .issues_labeled(project, DRIFT_LABEL, false)
        .await
        .context("cannot list the drift issues again to check for a duplicate")?;
    let ours = carrying_marker(&issues, project, environment);
    let Some(kept) = ours.first() else {
        return Ok(());
    };
    for duplicate in ours.iter().skip(1).filter(|i| i.open) {
        let line = format!(
            "Duplicate of #{}: another gitops-bot worker opened both at the same moment.",
            kept.iid
        );
        gitlab
            .create_issue_note(project, duplicate.iid, &line)
            .await?;
        gitlab
            .edit_issue(
                project,
                duplicate.iid,
                Some(&line),
                Some(IssueChange::Close),
            )
            .await?;
        tracing::info!(
            environment,
            closed = duplicate.iid,
            kept = kept.iid,
            "closed a drift issue another worker opened at the same moment"
        );
    }
    Ok(())
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
            close_duplicates(gitlab, project, environment).await?;
            Some(created)
        }
        Plan::Update { iid, record } => {
            comment_once(gitlab, project, *iid, &change_note(report), report).await?;
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
            comment_once(gitlab, project, *iid, &note, report).await?;
            Some(
                gitlab
                    .edit_issue(project, *iid, None, Some(IssueChange::Close))
                    .await?,
            )
        }
        Plan::Reopen { iid, record } => {
            comment_once(gitlab, project, *iid, &change_note(report), report).await?;
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

/// Comments `body` on #`iid`, tagged with a hidden key of what it reports (the hash of
/// `report`'s fingerprint), then deletes the copies another worker made at the same
/// moment: among the bot's tagged comments, oldest first, one with the same key as the
/// tagged comment right before it is a copy (a real change always has another key than
/// the change before it). Of two workers commenting at once, the one that lists second
/// sees both, so exactly one stays.
async fn comment_once(
    gitlab: &GitlabClient,
    project: &str,
    iid: u64,
    body: &str,
    report: &EnvironmentReport,
) -> Result<()> {
    let key = format!("{:016x}", fnv1a(fingerprint(report).as_bytes()));
    let created = gitlab
        .create_issue_note(project, iid, &format!("{body}\n\n{NOTE_TAG}{key} -->\n"))
        .await?;
    let notes = gitlab
        .notes(project, Noteable::Issue(iid))
        .await
        .context("cannot list the issue's comments to check for a copy")?;
    let Some(bot) = notes
        .iter()
        .find(|n| n.id == created.id)
        .map(|n| n.author.id)
    else {
        return Ok(());
    };
    let tagged: Vec<(u64, &str)> = notes
        .iter()
        .filter(|n| n.author.id == bot && !n.system)
        .filter_map(|n| Some((n.id, note_key(&n.body)?)))
        .collect();
    for pair in tagged.windows(2) {
        if pair[0].1 == pair[1].1 {
            gitlab.delete_issue_note(project, iid, pair[1].0).await?;
            tracing::info!(
                issue = iid,
                note = pair[1].0,
                "deleted a copy of a drift comment another worker made at the same moment"
            );
        }
    }
    Ok(())
}

/// How a drift comment's hidden key starts.
const NOTE_TAG: &str = "<!-- gitops-bot drift-note ";

/// The hidden key of a drift comment.
fn note_key(body: &str) -> Option<&str> {
    let rest = &body[body.rfind(NOTE_TAG)? + NOTE_TAG.len()..];
    rest.split_once(" -->").map(|(key, _)| key)
}

/// 64-bit FNV-1a: a stable hash (the same in every build and replica).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_key_is_read_back_and_stable() {
        let key = format!("{:016x}", fnv1a(b"drifted: Application argocd/web drifted"));
        let body = format!("text\n\n{NOTE_TAG}{key} -->\n");
        assert_eq!(note_key(&body), Some(key.as_str()));
        assert_eq!(note_key("no key here"), None);
        // FNV-1a's published test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
