//! How a deploy ended: for one target ([`TargetReport`]) and for the whole sync
//! ([`Summary`]), in the words the job log, the result comment, the labels and the exit
//! status use. The health of each object is [`crate::health`]'s; this module only says what
//! the verdicts add up to.

use std::fmt;
use std::time::Duration;

use super::DeployTarget;
use crate::health::{Assessment, ResourceRow, Verdict, rollout};

/// How a target, or the whole deploy, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Healthy,
    Failed,
    TimedOut,
}

impl Outcome {
    /// How a wait on one object ended, from the last assessment it saw. A wait returns at
    /// the first verdict, so a last assessment still pending (or none at all) means the
    /// deadline passed first.
    pub fn of_wait(last: Option<&Assessment>) -> Outcome {
        match last.map(|a| a.verdict) {
            Some(Verdict::Healthy) => Outcome::Healthy,
            Some(Verdict::Failed) => Outcome::Failed,
            Some(Verdict::Pending) | None => Outcome::TimedOut,
        }
    }

    /// `healthy`, `failed` or `timed out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Healthy => "healthy",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed out",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one target's deploy ended, with what the job log and the result comment show of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetReport {
    pub outcome: Outcome,
    /// One line: why it failed or what it was waiting for; `None` when healthy.
    pub reason: Option<String>,
    pub rows: Vec<ResourceRow>,
    /// Longer explanations (pod states, the RBAC rule to add), one line each.
    pub details: Vec<String>,
}

impl TargetReport {
    /// A target whose deploy could not be carried out: the first line of `error`, after
    /// the target, is the reason; its other lines are details.
    pub fn not_carried_out(target: &DeployTarget, error: &str) -> Self {
        let mut lines = error.lines();
        TargetReport {
            outcome: Outcome::Failed,
            reason: Some(format!("{target}: {}", lines.next().unwrap_or_default())),
            rows: Vec::new(),
            details: lines.map(str::to_string).collect(),
        }
    }

    /// `self`, with a reason naming `target` when it is not healthy and has none.
    pub fn named(mut self, target: &DeployTarget) -> Self {
        if self.outcome != Outcome::Healthy && self.reason.is_none() {
            self.reason = Some(format!("{target}: {}", self.outcome));
        }
        self
    }
}

/// Why `label` is not healthy, in one line: the last message for a failure, what it still
/// was after `elapsed` for a timeout; `None` when healthy.
pub fn reason(
    outcome: Outcome,
    label: &str,
    last: Option<&Assessment>,
    elapsed: Duration,
) -> Option<String> {
    let message = last.map(|a| a.message.as_str()).filter(|m| !m.is_empty());
    match outcome {
        Outcome::Healthy => None,
        Outcome::Failed => Some(format!("{label}: {}", message.unwrap_or("failed"))),
        Outcome::TimedOut => Some(format!(
            "{label}: not healthy after {} ({})",
            human_duration(elapsed),
            last.map(|a| match (a.health.as_str(), message) {
                ("", Some(m)) => m.to_string(),
                (health, Some(m)) => format!("{health}: {m}"),
                (health, None) => health.to_string(),
            })
            .filter(|text| !text.is_empty())
            .unwrap_or_else(|| "no status seen".into())
        )),
    }
}

/// The namespaces of the workloads among `rows` that are not healthy, sorted, once each:
/// where the pods are worth explaining.
pub fn namespaces_to_explain(rows: &[ResourceRow]) -> Vec<&str> {
    let mut namespaces: Vec<&str> = rows
        .iter()
        .filter(|r| rollout::KINDS.contains(&r.kind.as_str()))
        .filter(|r| r.health.as_deref() != Some("Healthy"))
        .filter_map(|r| r.namespace.as_deref())
        .collect();
    namespaces.sort();
    namespaces.dedup();
    namespaces
}

/// `4.2 s`, `3 min 05 s`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min {:02} s", secs / 60, secs % 60)
    }
}

/// The whole sync, as reported.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The first failure's, else the first timeout's, else healthy.
    pub outcome: Outcome,
    pub environment: Option<String>,
    pub commit: String,
    pub duration: Duration,
    /// The first failure (else the first timeout), in one line; `None` when healthy.
    pub reason: Option<String>,
    pub rows: Vec<ResourceRow>,
    pub details: Vec<String>,
}

impl Summary {
    pub fn new(
        reports: &[TargetReport],
        environment: Option<String>,
        commit: &str,
        duration: Duration,
    ) -> Self {
        let failed = reports.iter().find(|r| r.outcome == Outcome::Failed);
        let timed_out = reports.iter().find(|r| r.outcome == Outcome::TimedOut);
        let (outcome, first) = match (failed, timed_out) {
            (Some(r), _) => (Outcome::Failed, Some(r)),
            (None, Some(r)) => (Outcome::TimedOut, Some(r)),
            (None, None) => (Outcome::Healthy, None),
        };
        Summary {
            outcome,
            environment,
            commit: commit.to_string(),
            duration,
            reason: first.map(|r| r.reason.clone().unwrap_or_else(|| outcome.to_string())),
            rows: reports.iter().flat_map(|r| r.rows.clone()).collect(),
            details: reports.iter().flat_map(|r| r.details.clone()).collect(),
        }
    }

    pub fn healthy(&self) -> bool {
        self.reason.is_none()
    }

    /// The labels of a healthy and of a failed deploy: `deployed::prod` and
    /// `deploy-failed::prod` (no suffix without an environment).
    pub fn labels(&self) -> (String, String) {
        match &self.environment {
            Some(env) => (format!("deployed::{env}"), format!("deploy-failed::{env}")),
            None => ("deployed".into(), "deploy-failed".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome, reason: &str) -> TargetReport {
        TargetReport {
            outcome,
            reason: (!reason.is_empty()).then(|| reason.to_string()),
            rows: vec![ResourceRow::new(
                "Application",
                Some("argocd"),
                reason,
                None,
            )],
            details: vec![format!("{reason} details")],
        }
    }

    #[test]
    fn a_wait_ends_as_its_last_assessment_says() {
        let healthy = Assessment::healthy(Some("Synced"), "Healthy", "");
        let failed = Assessment::failed(None, "Degraded", "crash");
        let pending = Assessment::pending(None, "Progressing", "");
        assert_eq!(Outcome::of_wait(Some(&healthy)), Outcome::Healthy);
        assert_eq!(Outcome::of_wait(Some(&failed)), Outcome::Failed);
        assert_eq!(Outcome::of_wait(Some(&pending)), Outcome::TimedOut);
        assert_eq!(Outcome::of_wait(None), Outcome::TimedOut);
    }

    #[test]
    fn reasons_say_the_last_message_or_what_it_still_was() {
        let label = "Application argocd/web";
        let elapsed = Duration::from_secs(185);
        let degraded = Assessment::failed(Some("Synced"), "Degraded", "Deployment web: crash");
        assert_eq!(
            reason(Outcome::Healthy, label, Some(&degraded), elapsed),
            None
        );
        assert_eq!(
            reason(Outcome::Failed, label, Some(&degraded), elapsed).as_deref(),
            Some("Application argocd/web: Deployment web: crash")
        );
        assert_eq!(
            reason(Outcome::Failed, label, None, elapsed).as_deref(),
            Some("Application argocd/web: failed")
        );
        for (last, want) in [
            (
                Some(Assessment::pending(None, "Progressing", "1 of 2 updated")),
                "Application argocd/web: not healthy after 3 min 05 s (Progressing: 1 of 2 updated)",
            ),
            (
                Some(Assessment::waiting("waiting for Argo CD")),
                "Application argocd/web: not healthy after 3 min 05 s (waiting for Argo CD)",
            ),
            (
                Some(Assessment::pending(None, "Progressing", "")),
                "Application argocd/web: not healthy after 3 min 05 s (Progressing)",
            ),
            (
                Some(Assessment::waiting("")),
                "Application argocd/web: not healthy after 3 min 05 s (no status seen)",
            ),
            (
                None,
                "Application argocd/web: not healthy after 3 min 05 s (no status seen)",
            ),
        ] {
            assert_eq!(
                reason(Outcome::TimedOut, label, last.as_ref(), elapsed).as_deref(),
                Some(want)
            );
        }
    }

    #[test]
    fn a_target_not_carried_out_is_named_with_its_first_line() {
        let target = DeployTarget::argocd("web").unwrap();
        let report = TargetReport::not_carried_out(&target, "get failed: 403\nadd this rule");
        assert_eq!(report.outcome, Outcome::Failed);
        assert_eq!(
            report.reason.as_deref(),
            Some("Application argocd/web: get failed: 403")
        );
        assert_eq!(report.details, vec!["add this rule".to_string()]);
        let unnamed = report_without_reason(Outcome::TimedOut).named(&target);
        assert_eq!(
            unnamed.reason.as_deref(),
            Some("Application argocd/web: timed out")
        );
        assert_eq!(
            report_without_reason(Outcome::Healthy)
                .named(&target)
                .reason,
            None
        );
    }

    fn report_without_reason(outcome: Outcome) -> TargetReport {
        report(outcome, "")
    }

    #[test]
    fn a_failure_outranks_a_timeout_and_a_timeout_outranks_health() {
        let reports = [
            report(Outcome::Healthy, ""),
            report(Outcome::TimedOut, "slow"),
            report(Outcome::Failed, "broken"),
            report(Outcome::Failed, "broken too"),
        ];
        let summary = Summary::new(&reports, Some("prod".into()), "abc", Duration::ZERO);
        assert_eq!(summary.outcome, Outcome::Failed);
        assert_eq!(summary.reason.as_deref(), Some("broken"));
        assert_eq!(summary.rows.len(), 4);
        assert!(!summary.healthy());
        assert_eq!(
            summary.labels(),
            ("deployed::prod".into(), "deploy-failed::prod".into())
        );

        let summary = Summary::new(&reports[..2], None, "abc", Duration::ZERO);
        assert_eq!(
            (summary.outcome, summary.reason.as_deref()),
            (Outcome::TimedOut, Some("slow"))
        );
        let summary = Summary::new(&reports[..1], None, "abc", Duration::ZERO);
        assert_eq!(
            (summary.outcome, summary.reason.as_deref()),
            (Outcome::Healthy, None)
        );
        assert!(summary.healthy());
        assert_eq!(
            summary.labels(),
            ("deployed".into(), "deploy-failed".into())
        );
    }

    #[test]
    fn only_unhealthy_workloads_are_explained() {
        let row = |kind: &str, ns: &str, health: &str| ResourceRow {
            health: Some(health.to_string()),
            ..ResourceRow::new(kind, Some(ns), "web", None)
        };
        let rows = [
            row("Deployment", "b", "Progressing"),
            row("Deployment", "a", "Degraded"),
            row("StatefulSet", "b", "Degraded"),
            row("Deployment", "c", "Healthy"),
            row("Service", "d", "Degraded"),
        ];
        assert_eq!(namespaces_to_explain(&rows), vec!["a", "b"]);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_millis(4200)), "4.2 s");
        assert_eq!(human_duration(Duration::from_secs(185)), "3 min 05 s");
    }
}
