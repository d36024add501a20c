//! The alert of an environment's drift, in the shape GitLab's alert HTTP integration reads
//! (any JSON webhook gets the same document). Pure: built from the issue [`Plan`], so an
//! alert goes out exactly when the issue is written (a new confirmed divergence, another
//! state or set of objects, a resolution) and never on a rerun that sees the same thing.
//! Sending it is the alert adapter's business, not this module's.
//!
//! An alert that could not be delivered is owed: the issue's record says so
//! ([`DriftRecord::alert_undelivered`]) and [`owed`] is the alert the next run sends again
//! when nothing else changed.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::issue::{ExistingIssue, Plan};
use super::{DriftState, EnvironmentReport};
use crate::marker::DriftRecord;

/// What GitLab shows as the alert's source.
pub const MONITORING_TOOL: &str = "gitops-bot";

/// At most this many objects are named in `hosts`.
const MAX_HOSTS: usize = 20;

/// One alert, as GitLab's HTTP endpoint expects it: `fingerprint` groups every alert of one
/// environment, and an `end_time` resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// The config project.
    pub service: String,
    pub monitoring_tool: &'static str,
    /// `critical`, `high`, `medium`, `low`, `info` or `unknown`.
    pub severity: &'static str,
    /// `<project>/<environment>`.
    pub fingerprint: String,
    pub gitlab_environment_name: String,
    /// The objects that are not converged (`Kind namespace/name`), at most 20.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// The environment's state (`converged` on a resolution): not one of GitLab's fields,
    /// shown among the alert's details.
    pub state: String,
}

impl Alert {
    /// Whether this alert resolves the environment's earlier ones.
    pub fn resolves(&self) -> bool {
        self.end_time.is_some()
    }
}

/// The alert that goes with `plan` for `report` of `project`, or `None` when the plan writes
/// nothing (then nothing changed, and nothing is alerted).
pub fn alert(
    project: &str,
    report: &EnvironmentReport,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Option<Alert> {
    match plan {
        Plan::Nothing => None,
        Plan::Create(record) | Plan::Update { record, .. } | Plan::Reopen { record, .. } => {
            Some(firing(project, report, record))
        }
        Plan::Close { was, lasted, .. } => Some(resolving(project, report, *was, *lasted, now)),
    }
}

/// The alert an earlier run could not deliver, owed when this run's `plan` writes nothing
/// and the issue's record says so: the open issue's divergence again (the same as `report`,
/// since nothing changed), or the closed issue's resolution. `None` when nothing is owed,
/// and when the plan writes (its own alert then supersedes the one owed).
pub fn owed(
    project: &str,
    report: &EnvironmentReport,
    existing: Option<&ExistingIssue>,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Option<Alert> {
    if plan.writes() {
        return None;
    }
    let issue = existing.filter(|i| i.record.alert_undelivered)?;
    Some(if issue.open {
        firing(project, report, &issue.record)
    } else {
        resolving(project, report, issue.record.state, None, now)
    })
}

fn base(
    project: &str,
    environment: &str,
    state: DriftState,
    title: String,
    description: String,
) -> Alert {
    Alert {
        title,
        description,
        start_time: None,
        end_time: None,
        service: project.to_string(),
        monitoring_tool: MONITORING_TOOL,
        severity: severity(state),
        fingerprint: fingerprint(project, environment),
        gitlab_environment_name: environment.to_string(),
        hosts: Vec::new(),
        state: state.to_string(),
    }
}

/// The alert of a divergence: `report` as `record` (its `since`) describes it.
fn firing(project: &str, report: &EnvironmentReport, record: &DriftRecord) -> Alert {
    let environment = &report.environment;
    Alert {
        start_time: Some(record.since.clone()),
        hosts: report
            .objects
            .iter()
            .take(MAX_HOSTS)
            .map(|o| {
                format!(
                    "{} {}",
                    o.kind,
                    crate::health::qualified(o.namespace.as_deref(), &o.name)
                )
            })
            .collect(),
        ..base(
            project,
            environment,
            report.state,
            format!("Drift: {environment} is {}", report.state),
            firing_description(project, report),
        )
    }
}

/// The alert that resolves the environment's divergence (`was`, for `lasted` if known).
fn resolving(
    project: &str,
    report: &EnvironmentReport,
    was: DriftState,
    lasted: Option<Duration>,
    now: DateTime<Utc>,
) -> Alert {
    let environment = &report.environment;
    let start = lasted
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .and_then(|d| now.checked_sub_signed(d));
    let lasted = lasted
        .map(|d| format!(" after {}", crate::deploy::outcome::human_duration(d)))
        .unwrap_or_default();
    Alert {
        start_time: start.map(time_text),
        end_time: Some(time_text(now)),
        ..base(
            project,
            environment,
            DriftState::Converged,
            format!("Drift: {environment} is converged again"),
            format!(
                "{environment} of {project} is converged again at {}: it was {was}{lasted}.",
                crate::commit_sha::short(&report.head_revision)
            ),
        )
    }
}

/// `<project>/<environment>`: one alert thread per environment.
pub fn fingerprint(project: &str, environment: &str) -> String {
    format!("{project}/{environment}")
}

/// GitLab's severity for a state: what is broken ranks above what is only late.
fn severity(state: DriftState) -> &'static str {
    match state {
        DriftState::Degraded => "high",
        DriftState::Drifted => "medium",
        DriftState::Behind => "low",
        DriftState::Unknown => "unknown",
        DriftState::Converged => "info",
    }
}

fn firing_description(project: &str, report: &EnvironmentReport) -> String {
    let mut text = format!(
        "{} of {project} is {}: head {}, live {}.",
        report.environment,
        report.state,
        crate::commit_sha::short(&report.head_revision),
        report.live_revision.as_deref().unwrap_or("-"),
    );
    for o in &report.objects {
        text.push_str(&format!("\n- {o}"));
    }
    text
}

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::issue::RECORD_VERSION;
    use crate::drift::{DriftObject, TargetId};

    const PROJECT: &str = "group/ops";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T12:30:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn report(state: DriftState) -> EnvironmentReport {
        let objects = if state == DriftState::Converged {
            Vec::new()
        } else {
            vec![DriftObject::new(
                &TargetId::new("Application", Some("argocd"), "web"),
                state,
                "OutOfSync",
            )]
        };
        EnvironmentReport {
            unconfirmed: false,
            environment: "prod".into(),
            state,
            head_revision: "1111111111".into(),
            live_revision: Some("0000".into()),
            objects,
        }
    }

    fn record(state: DriftState) -> DriftRecord {
        DriftRecord {
            v: RECORD_VERSION,
            project: PROJECT.into(),
            environment: "prod".into(),
            state,
            fingerprint: "f".into(),
            since: "2026-11-27T10:00:00Z".into(),
            alert_undelivered: false,
        }
    }

    #[test]
    fn no_write_no_alert() {
        assert_eq!(
            alert(PROJECT, &report(DriftState::Drifted), &Plan::Nothing, now()),
            None
        );
    }

    #[test]
    fn a_new_divergence_fires_from_since() {
        let plan = Plan::Create(record(DriftState::Drifted));
        let a = alert(PROJECT, &report(DriftState::Drifted), &plan, now());
        let a = a.as_ref();
        assert_eq!(a.map(|a| a.fingerprint.as_str()), Some("group/ops/prod"));
        assert_eq!(
            a.and_then(|a| a.start_time.as_deref()),
            Some("2026-11-27T10:00:00Z")
        );
        assert_eq!(a.map(Alert::resolves), Some(false));
        assert_eq!(a.map(|a| a.severity), Some("medium"));
        assert_eq!(
            a.map(|a| a.hosts.clone()),
            Some(vec!["Application argocd/web".to_string()])
        );
        assert_eq!(a.map(|a| a.title.as_str()), Some("Drift: prod is drifted"));
    }

    #[test]
    fn a_change_and_a_reopen_fire_again() {
        for plan in [
            Plan::Update {
                iid: 4,
                record: record(DriftState::Degraded),
            },
            Plan::Reopen {
                iid: 4,
                record: record(DriftState::Degraded),
            },
        ] {
            let a = alert(PROJECT, &report(DriftState::Degraded), &plan, now());
            assert_eq!(a.as_ref().map(|a| a.severity), Some("high"), "{plan}");
            assert_eq!(a.as_ref().map(Alert::resolves), Some(false), "{plan}");
        }
    }

    #[test]
    fn convergence_resolves_with_end_time() {
        let plan = Plan::Close {
            iid: 4,
            was: DriftState::Drifted,
            lasted: Some(Duration::from_secs(2 * 3600 + 30 * 60)),
        };
        let a = alert(PROJECT, &report(DriftState::Converged), &plan, now());
        let json = a.map(|a| serde_json::to_value(&a).unwrap_or_default());
        assert_eq!(
            json,
            Some(serde_json::json!({
                "title": "Drift: prod is converged again",
                "description": "prod of group/ops is converged again at 1111111111: it was drifted after 150 min 00 s.",
                "start_time": "2026-11-27T10:00:00Z",
                "end_time": "2026-11-27T12:30:00Z",
                "service": "group/ops",
                "monitoring_tool": "gitops-bot",
                "severity": "info",
                "fingerprint": "group/ops/prod",
                "gitlab_environment_name": "prod",
                "state": "converged",
            }))
        );
    }

    #[test]
    fn an_undelivered_alert_is_owed_until_a_write_supersedes_it() {
        let issue = |open: bool, undelivered: bool| ExistingIssue {
            iid: 4,
            open,
            record: DriftRecord {
                alert_undelivered: undelivered,
                ..record(DriftState::Drifted)
            },
            description: String::new(),
        };
        let drifted = report(DriftState::Drifted);
        let converged = report(DriftState::Converged);
        // Delivered (or never asked for): nothing owed.
        for open in [true, false] {
            let existing = issue(open, false);
            assert_eq!(
                owed(PROJECT, &drifted, Some(&existing), &Plan::Nothing, now()),
                None
            );
        }
        assert_eq!(owed(PROJECT, &drifted, None, &Plan::Nothing, now()), None);
        // Open: the same divergence again, as the write's own alert said it.
        let open = issue(true, true);
        let again = owed(PROJECT, &drifted, Some(&open), &Plan::Nothing, now());
        assert_eq!(
            again,
            alert(PROJECT, &drifted, &Plan::Create(open.record.clone()), now())
        );
        // Closed: the resolution, without a duration it cannot know.
        let closed = issue(false, true);
        let resolution = owed(PROJECT, &converged, Some(&closed), &Plan::Nothing, now());
        assert_eq!(resolution.as_ref().map(Alert::resolves), Some(true));
        assert_eq!(resolution.as_ref().and_then(|a| a.start_time.clone()), None);
        assert_eq!(
            resolution.map(|a| a.description),
            Some("prod of group/ops is converged again at 1111111111: it was drifted.".to_string())
        );
        // A plan that writes brings its own alert: nothing more is owed.
        let update = Plan::Update {
            iid: 4,
            record: record(DriftState::Degraded),
        };
        assert_eq!(owed(PROJECT, &drifted, Some(&open), &update, now()), None);
    }
}
