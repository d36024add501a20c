//! What to write to an environment's drift issue, decided from the verdict and the issue
//! found (if any). Pure: the clock comes in as `now`, and nothing here talks to GitLab.
//!
//! One issue per project and environment, true at every moment, with no write when nothing
//! changed:
//!
//! | issue found        | verdict                        | plan                          |
//! |--------------------|--------------------------------|-------------------------------|
//! | none               | converged                      | nothing                       |
//! | none               | not converged                  | create                        |
//! | open               | converged                      | closing comment, close        |
//! | open               | same fingerprint               | nothing (0 writes)            |
//! | open               | other fingerprint              | description, one comment      |
//! | closed             | converged                      | nothing                       |
//! | closed             | not converged                  | reopen, description, comment  |
//!
//! The fingerprint ([`super::fingerprint`]) is the state and the sorted objects: no reason,
//! time or duration takes part, so a rerun that sees the same thing writes nothing. For the
//! same reason the description carries no "last seen": it says what is true since `since`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{DriftState, EnvironmentReport, fingerprint};
use crate::marker::DriftRecord;

/// Format version of [`DriftRecord`].
pub const RECORD_VERSION: u32 = 1;

/// The bot's drift issue of an environment, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingIssue {
    pub iid: u64,
    pub open: bool,
    pub record: DriftRecord,
    /// Its description as found, marker included (to rewrite the marker alone).
    pub description: String,
}

/// What to write for one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing: no divergence and no open issue, or the open issue already says this.
    Nothing,
    /// A new issue describing `record`.
    Create(DriftRecord),
    /// The open issue's description rewritten to `record`, and one comment on the change.
    Update { iid: u64, record: DriftRecord },
    /// A closing comment (what it was, how long it lasted), then the issue closed.
    Close {
        iid: u64,
        was: DriftState,
        lasted: Option<Duration>,
    },
    /// The closed issue reopened for a new divergence, its description rewritten, and a
    /// comment.
    Reopen { iid: u64, record: DriftRecord },
}

impl Plan {
    /// Whether the plan writes anything to GitLab.
    pub fn writes(&self) -> bool {
        *self != Plan::Nothing
    }
}

impl std::fmt::Display for Plan {
    /// One line for `--dry-run`: `create issue (drifted)`, `close #4 after 2h 3m`…
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Plan::Nothing => f.write_str("no change"),
            Plan::Create(r) => write!(f, "create issue ({})", r.state),
            Plan::Update { iid, record } => {
                write!(f, "update #{iid} and comment ({})", record.state)
            }
            Plan::Close { iid, was, lasted } => {
                write!(f, "comment and close #{iid} (was {was}")?;
                if let Some(d) = lasted {
                    write!(f, " for {}", crate::deploy::outcome::human_duration(*d))?;
                }
                f.write_str(")")
            }
            Plan::Reopen { iid, record } => {
                write!(f, "reopen #{iid} and comment ({})", record.state)
            }
        }
    }
}

/// The plan for `report` of `project`, given the issue found and the time now.
pub fn plan(
    project: &str,
    report: &EnvironmentReport,
    existing: Option<&ExistingIssue>,
    now: DateTime<Utc>,
) -> Plan {
    let converged = report.state == DriftState::Converged;
    let record = |since: String| DriftRecord {
        v: RECORD_VERSION,
        project: project.to_string(),
        environment: report.environment.clone(),
        state: report.state,
        fingerprint: fingerprint(report),
        since,
        alert_undelivered: false,
    };
    let now_text = || now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match existing {
        None if converged => Plan::Nothing,
        None => Plan::Create(record(now_text())),
        Some(issue) if !issue.open && converged => Plan::Nothing,
        Some(issue) if !issue.open => Plan::Reopen {
            iid: issue.iid,
            record: record(now_text()),
        },
        Some(issue) if converged => Plan::Close {
            iid: issue.iid,
            was: issue.record.state,
            lasted: lasted(&issue.record.since, now),
        },
        Some(issue) if issue.record.fingerprint == fingerprint(report) => Plan::Nothing,
        Some(issue) => Plan::Update {
            iid: issue.iid,
            record: record(issue.record.since.clone()),
        },
    }
}

/// How long from `since` (RFC 3339) to `now`; `None` when `since` is unreadable.
fn lasted(since: &str, now: DateTime<Utc>) -> Option<Duration> {
    let since = DateTime::parse_from_rfc3339(since).ok()?;
    now.signed_duration_since(since).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::DriftObject;

    const SINCE: &str = "2026-11-27T10:00:00Z";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T12:30:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn object(name: &str, state: DriftState, reason: &str) -> DriftObject {
        DriftObject::new(
            &crate::drift::TargetId::new("Application", Some("argocd"), name),
            state,
            reason,
        )
    }

    fn report(state: DriftState, objects: Vec<DriftObject>) -> EnvironmentReport {
        EnvironmentReport {
            unconfirmed: false,
            environment: "prod".into(),
            state,
            head_revision: "1111".into(),
            live_revision: Some("0000".into()),
            objects,
        }
    }

    fn drifted(reason: &str) -> EnvironmentReport {
        report(
            DriftState::Drifted,
            vec![object("web", DriftState::Drifted, reason)],
        )
    }

    fn issue(open: bool, of: &EnvironmentReport) -> ExistingIssue {
        ExistingIssue {
            iid: 4,
            open,
            record: record(of, SINCE),
            description: String::new(),
        }
    }

    fn record(of: &EnvironmentReport, since: &str) -> DriftRecord {
        DriftRecord {
            v: RECORD_VERSION,
            project: "group/ops".into(),
            environment: "prod".into(),
            state: of.state,
            fingerprint: fingerprint(of),
            since: since.into(),
            alert_undelivered: false,
        }
    }

    #[test]
    fn every_issue_state_and_verdict_has_its_plan() {
        let converged = report(DriftState::Converged, vec![]);
        let first = drifted("OutOfSync");
        // The same set, with another reason (reasons carry durations): not a change.
        let same = drifted("OutOfSync (committed 3 min ago)");
        let grown = report(
            DriftState::Degraded,
            vec![
                object("web", DriftState::Drifted, "OutOfSync"),
                object("api", DriftState::Degraded, "Degraded"),
            ],
        );
        let now_text = "2026-11-27T12:30:00Z";
        let cases: Vec<(&str, &EnvironmentReport, Option<ExistingIssue>, Plan)> = vec![
            ("converged, no issue", &converged, None, Plan::Nothing),
            (
                "first divergence",
                &first,
                None,
                Plan::Create(record(&first, now_text)),
            ),
            (
                "rerun sees the same",
                &same,
                Some(issue(true, &first)),
                Plan::Nothing,
            ),
            (
                "the set changes",
                &grown,
                Some(issue(true, &first)),
                Plan::Update {
                    iid: 4,
                    record: record(&grown, SINCE),
                },
            ),
            (
                "converged again",
                &converged,
                Some(issue(true, &first)),
                Plan::Close {
                    iid: 4,
                    was: DriftState::Drifted,
                    lasted: Some(Duration::from_secs(9000)),
                },
            ),
            (
                "converged, issue closed",
                &converged,
                Some(issue(false, &first)),
                Plan::Nothing,
            ),
            (
                "drifted again",
                &first,
                Some(issue(false, &first)),
                Plan::Reopen {
                    iid: 4,
                    record: record(&first, now_text),
                },
            ),
        ];
        for (name, verdict, existing, want) in cases {
            let got = plan("group/ops", verdict, existing.as_ref(), now());
            assert_eq!(got, want, "{name}");
            assert_eq!(got.writes(), want != Plan::Nothing, "{name}");
        }
    }

    #[test]
    fn an_unreadable_since_closes_without_a_duration() {
        let mut open = issue(true, &drifted("OutOfSync"));
        open.record.since = "yesterday".into();
        let got = plan(
            "group/ops",
            &report(DriftState::Converged, vec![]),
            Some(&open),
            now(),
        );
        assert_eq!(
            got,
            Plan::Close {
                iid: 4,
                was: DriftState::Drifted,
                lasted: None
            }
        );
        assert_eq!(got.to_string(), "comment and close #4 (was drifted)");
    }

    #[test]
    fn plans_read_as_one_line() {
        let first = drifted("OutOfSync");
        assert_eq!(
            Plan::Create(record(&first, SINCE)).to_string(),
            "create issue (drifted)"
        );
        assert_eq!(
            Plan::Close {
                iid: 4,
                was: DriftState::Degraded,
                lasted: Some(Duration::from_secs(90)),
            }
            .to_string(),
            format!(
                "comment and close #4 (was degraded for {})",
                crate::deploy::outcome::human_duration(Duration::from_secs(90))
            )
        );
        assert_eq!(Plan::Nothing.to_string(), "no change");
    }
}
