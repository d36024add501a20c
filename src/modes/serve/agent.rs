//! `serve --drift-every`: the drift pass of `gitops-bot drift` ([`drift::observe`] then
//! [`drift_issue::report`]) in the background, for every allowed project, one project at a
//! time, about every `every` with random jitter so that replicas do not fire together. A
//! pass that fails is logged and counted; it never stops the service, and it writes nothing
//! it could not establish (the workflows fail closed). Replicas need no leader: see
//! [`drift_issue`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;
use tracing::Instrument;

use crate::alerts::AlertClient;
use crate::drift::{DriftState, Seen};
use crate::gitlab::GitlabClient;
use crate::project_pattern::ProjectPattern;
use crate::usage::UsageError;
use crate::workflows::drift::{self, Observed};
use crate::workflows::drift_issue;

use super::write_family;

/// Every state, in the order `/metrics` lists them.
const STATES: [DriftState; 5] = [
    DriftState::Converged,
    DriftState::Behind,
    DriftState::Drifted,
    DriftState::Degraded,
    DriftState::Unknown,
];

pub(super) struct Agent {
    pub gitlab: GitlabClient,
    pub cluster: kube::Client,
    pub patterns: Vec<ProjectPattern>,
    pub every: Duration,
    pub alerts: Option<AlertClient>,
    /// What the last pass saw of each project's environments (by `--project` value or listed
    /// path), so that consecutive passes count towards `drift.confirm`.
    pub seen: Mutex<HashMap<String, HashMap<String, Seen>>>,
}

/// What the drift loop did, for `/metrics`.
#[derive(Default)]
pub(super) struct DriftMetrics {
    rounds: AtomicU64,
    /// Globs (or projects) that could not be listed in a round.
    list_errors: AtomicU64,
    alerts_failed: AtomicU64,
    /// Per project: passes done, failed, skipped (no environment with targets).
    passes: Mutex<BTreeMap<String, [u64; 3]>>,
    /// The last observed state of each project and environment.
    states: Mutex<BTreeMap<(String, String), DriftState>>,
}

#[derive(Clone, Copy)]
enum PassOutcome {
    Done = 0,
    Failed = 1,
    Skipped = 2,
}

const OUTCOMES: [(&str, PassOutcome); 3] = [
    ("done", PassOutcome::Done),
    ("failed", PassOutcome::Failed),
    ("skipped", PassOutcome::Skipped),
];

impl DriftMetrics {
    fn count(&self, project: &str, outcome: PassOutcome) {
        let mut passes = self.passes.lock().unwrap_or_else(|e| e.into_inner());
        passes.entry(project.to_string()).or_default()[outcome as usize] += 1;
    }

    /// The drift families of `/metrics` (Prometheus text format).
    pub(super) fn render(&self, out: &mut String) {
        for (name, help, value) in [
            (
                "drift_rounds_total",
                "Rounds of the drift loop (each allowed project once).",
                &self.rounds,
            ),
            (
                "drift_list_errors_total",
                "Groups or projects of --project that could not be read in a round.",
                &self.list_errors,
            ),
            (
                "drift_alerts_failed_total",
                "Drift alerts that could not be delivered.",
                &self.alerts_failed,
            ),
        ] {
            write_family(
                out,
                name,
                "counter",
                help,
                &[("", value.load(Ordering::Relaxed))],
            );
        }
        let passes: Vec<(String, u64)> = self
            .passes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flat_map(|(project, counts)| {
                OUTCOMES.iter().map(move |(name, outcome)| {
                    (
                        format!("{{project=\"{}\",outcome=\"{name}\"}}", escape(project)),
                        counts[*outcome as usize],
                    )
                })
            })
            .collect();
        write_family(
            out,
            "drift_passes_total",
            "counter",
            "Drift passes per project, by outcome (skipped: no environment lists targets).",
            &passes,
        );
        let states: Vec<(String, u64)> = self
            .states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flat_map(|((project, environment), state)| {
                STATES.iter().map(move |s| {
                    (
                        format!(
                            "{{project=\"{}\",environment=\"{}\",state=\"{s}\"}}",
                            escape(project),
                            escape(environment)
                        ),
                        u64::from(s == state),
                    )
                })
            })
            .collect();
        write_family(
            out,
            "drift_state",
            "gauge",
            "The state each environment was last observed in (1 for its state, 0 for the others).",
            &states,
        );
    }
}

/// A label value in the Prometheus text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `every`, stretched by up to 20% at random.
fn jittered(every: Duration) -> Duration {
    every.mul_f64(1.0 + fastrand::f64() * 0.2)
}

impl Agent {
    /// Runs rounds until `stop` changes (a round in progress is dropped: every write plan
    /// writes its marker last, so the next pass, here or in another replica, redoes it).
    pub(super) async fn run(
        self,
        metrics: std::sync::Arc<DriftMetrics>,
        mut stop: watch::Receiver<()>,
    ) {
        tracing::info!(every = ?self.every, "drift loop started");
        // The first round comes after a random part of one period, the next ones after one
        // period and some: replicas started together drift apart.
        let mut wait = self.every.mul_f64(fastrand::f64() * 0.2);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                () = tokio::time::sleep(wait) => {}
            }
            tokio::select! {
                _ = stop.changed() => break,
                () = self.round(&metrics) => {}
            }
            metrics.rounds.fetch_add(1, Ordering::Relaxed);
            wait = jittered(self.every);
        }
        tracing::info!("drift loop stopped");
    }

    /// One pass for every allowed project, one after the other.
    async fn round(&self, metrics: &DriftMetrics) {
        for project in self.projects(metrics).await {
            let (name, outcome) = self.pass(&project, metrics).await;
            metrics.count(&name, outcome);
        }
    }

    /// The projects of this round: exact ones as given, globs listed through the API now
    /// (archived projects left out), each project once.
    async fn projects(&self, metrics: &DriftMetrics) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for pattern in &self.patterns {
            let Some((group, recursive)) = pattern.group() else {
                if seen.insert(pattern.to_string()) {
                    out.push(pattern.to_string());
                }
                continue;
            };
            match self.gitlab.group_projects(group, recursive).await {
                Ok(found) => {
                    for p in found {
                        if pattern.matches(p.id, &p.path_with_namespace)
                            && seen.insert(p.path_with_namespace.clone())
                        {
                            out.push(p.path_with_namespace);
                        }
                    }
                }
                Err(e) => {
                    metrics.list_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(%pattern, error = %e, "cannot list the projects of --project {pattern}; they are left out of this drift round");
                }
            }
        }
        out
    }

    /// One project's pass, and the project's path (as GitLab names it once read, else as
    /// given) that `/metrics` labels it with.
    async fn pass(&self, project: &str, metrics: &DriftMetrics) -> (String, PassOutcome) {
        let span = tracing::info_span!("drift", project);
        let mut name = project.to_string();
        let outcome = match self
            .observe_and_report(project, &mut name, metrics)
            .instrument(span)
            .await
        {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(project, error = %format!("{e:#}"), "drift pass failed; nothing was written for what it could not read");
                PassOutcome::Failed
            }
        };
        (name, outcome)
    }

    /// Observes `project` and writes its issues; `name` becomes its path once read.
    async fn observe_and_report(
        &self,
        project: &str,
        name: &mut String,
        metrics: &DriftMetrics,
    ) -> Result<PassOutcome> {
        // Consecutive passes count towards drift.confirm: no wait within a pass.
        let pass = drift::Pass {
            prior: self
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(project)
                .cloned()
                .unwrap_or_default(),
            ..drift::Pass::default()
        };
        let Observed {
            project: path,
            config,
            reports,
            seen,
        } = match drift::observe_with(&self.gitlab, &self.cluster, project, &[], &pass).await {
            Ok(observed) => observed,
            Err(e) if e.downcast_ref::<UsageError>().is_some() => {
                tracing::debug!(reason = %e, "no drift pass for this project");
                return Ok(PassOutcome::Skipped);
            }
            Err(e) => return Err(e),
        };
        name.clone_from(&path);
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(project.to_string(), seen);
        {
            let mut states = metrics.states.lock().unwrap_or_else(|e| e.into_inner());
            states.retain(|(p, _), _| p != &path);
            for r in &reports {
                states.insert((path.clone(), r.environment.clone()), r.state);
            }
        }
        let reported = drift_issue::report(
            &self.gitlab,
            &path,
            &config,
            &reports,
            false,
            self.alerts.as_ref(),
        )
        .await?;
        metrics
            .alerts_failed
            .fetch_add(reported.alerts_failed.len() as u64, Ordering::Relaxed);
        for line in &reported.lines {
            tracing::debug!("{line}");
        }
        Ok(PassOutcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_jitter_stretches_by_at_most_a_fifth() {
        let every = Duration::from_secs(100);
        for _ in 0..100 {
            let d = jittered(every);
            assert!(d >= every && d <= Duration::from_secs(120), "{d:?}");
        }
    }

    #[test]
    fn metrics_list_every_state_of_every_environment() {
        let m = DriftMetrics::default();
        m.count("group/ops", PassOutcome::Done);
        m.count("group/ops", PassOutcome::Failed);
        m.states
            .lock()
            .expect("not poisoned")
            .insert(("group/ops".into(), "prod".into()), DriftState::Drifted);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains(
                "gitops_bot_drift_passes_total{project=\"group/ops\",outcome=\"done\"} 1\n"
            )
        );
        assert!(out.contains(
            "gitops_bot_drift_passes_total{project=\"group/ops\",outcome=\"failed\"} 1\n"
        ));
        assert!(out.contains("gitops_bot_drift_state{project=\"group/ops\",environment=\"prod\",state=\"drifted\"} 1\n"));
        assert!(out.contains("gitops_bot_drift_state{project=\"group/ops\",environment=\"prod\",state=\"converged\"} 0\n"));
        assert!(out.contains("# TYPE gitops_bot_drift_state gauge\n"));
    }
}
