//! `drift`: how far each environment's live state is from the head of the default branch,
//! decided from what the controllers report. Pure: the objects come in as the API server
//! returns them (JSON), the head commit's age is given, and nothing here reads the clock.
//!
//! States, from worst to best (the worst finding of an environment wins):
//!
//! 1. `unknown`: something could not be read or compared (403, 404, an Argo CD
//!    `ComparisonError`, a direct-apply directory that does not render). Fail closed: never `converged` when unsure,
//!    so it outranks everything.
//! 2. `degraded`: a controller reports an unhealthy object (Argo CD health other than
//!    `Healthy`, Flux `Ready=False`, `Stalled=True`, suspended).
//! 3. `drifted`: the live objects differ from Git (Argo CD `OutOfSync`, Flux `Drifted=True`,
//!    a directly applied object that differs or is missing: [`compare`]).
//! 4. `behind`: a controller has not reached the head commit `drift.grace` after it was
//!    committed.
//! 5. `converged`: none of the above.
//!
//! Degraded outranks drifted because an unhealthy service is what people must act on first;
//! a drift is often its cause and is listed with it.

pub mod alert;
pub mod compare;
pub mod ignore;
pub mod issue;
mod observe;

pub use observe::{Applied, apply, argo, flux};

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::health::names_commit;

/// The state of an environment, or of one object in it. Ordered by precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftState {
    Converged,
    Behind,
    Drifted,
    Degraded,
    Unknown,
}

impl std::fmt::Display for DriftState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DriftState::Converged => "converged",
            DriftState::Behind => "behind",
            DriftState::Drifted => "drifted",
            DriftState::Degraded => "degraded",
            DriftState::Unknown => "unknown",
        })
    }
}

/// One object that is not converged, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftObject {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub state: DriftState,
    pub reason: String,
    /// What differs from Git (direct apply only), masked and capped by
    /// [`compare::compare`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<compare::Difference>,
    /// How many more fields differ than `differences` lists.
    #[serde(skip_serializing_if = "is_zero")]
    pub differences_not_shown: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl std::fmt::Display for DriftObject {
    /// `drifted Deployment hello/web: <reason>`, as the job log and the alert list it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}: {}",
            self.state,
            self.kind,
            crate::health::qualified(self.namespace.as_deref(), &self.name),
            self.reason
        )
    }
}

impl DriftObject {
    pub fn new(target: &TargetId, state: DriftState, reason: impl Into<String>) -> DriftObject {
        DriftObject {
            kind: target.kind.clone(),
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            state,
            reason: reason.into(),
            differences: Vec::new(),
            differences_not_shown: 0,
        }
    }

    /// A directly applied object that differs from Git ([`compare::compare`]'s verdict).
    pub fn differing(target: &TargetId, drift: compare::ObjectDrift) -> DriftObject {
        DriftObject {
            reason: drift.reason(),
            differences: drift.differences,
            differences_not_shown: drift.not_shown,
            ..DriftObject::new(target, DriftState::Drifted, "")
        }
    }
}

/// The object a target is observed through (an Application, a Kustomization…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetId {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl TargetId {
    pub fn new(kind: &str, namespace: Option<&str>, name: &str) -> TargetId {
        TargetId {
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }
}

/// What was read of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetObservation {
    pub target: TargetId,
    /// The revision the controller last applied, as it records it.
    pub live_revision: Option<String>,
    /// Whether `live_revision` can name a commit at all (a HelmRelease of a chart from a
    /// Helm repository records chart versions only): if not, `behind` is not judged.
    pub tracks_commits: bool,
    /// The objects that are not converged, the target itself included.
    pub findings: Vec<DriftObject>,
}

impl TargetObservation {
    /// A target that could not be observed: `unknown`, with the reason.
    pub fn unknown(target: TargetId, reason: impl Into<String>) -> TargetObservation {
        let finding = DriftObject::new(&target, DriftState::Unknown, reason);
        TargetObservation {
            target,
            live_revision: None,
            tracks_commits: false,
            findings: vec![finding],
        }
    }
}

/// One environment's verdict (the `--output json` schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentReport {
    pub environment: String,
    pub state: DriftState,
    pub head_revision: String,
    /// The revision every target that records one is at; `None` when they disagree or
    /// none records one.
    pub live_revision: Option<String>,
    pub objects: Vec<DriftObject>,
    /// A state other than converged that has not stayed the same (state and objects) for
    /// `drift.confirm` yet: shown, never written to the issue or alerted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unconfirmed: bool,
}

/// The head commit, and how long ago it was committed (`None` when unknown: then the grace
/// is over, since an unknown age cannot excuse a lagging controller).
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub commit: &'a str,
    pub age: Option<Duration>,
}

/// The verdict for `environment` from its targets' observations.
pub fn assess(
    environment: &str,
    head: Head<'_>,
    grace: Duration,
    targets: &[TargetObservation],
) -> EnvironmentReport {
    let grace_over = head.age.is_none_or(|age| age >= grace);
    let mut objects: Vec<DriftObject> = Vec::new();
    for t in targets {
        objects.extend(t.findings.iter().cloned());
        let at_head = t
            .live_revision
            .as_deref()
            .is_some_and(|r| names_commit(r, head.commit));
        if t.tracks_commits && !at_head && grace_over {
            let live = t.live_revision.as_deref().unwrap_or("no revision");
            objects.push(DriftObject::new(
                &t.target,
                DriftState::Behind,
                format!(
                    "at {live}, not at the head {} of the default branch{}",
                    crate::commit_sha::short(head.commit),
                    head.age
                        .map(|a| format!(
                            " (committed {} ago)",
                            crate::deploy::outcome::human_duration(a)
                        ))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    let state = objects
        .iter()
        .map(|o| o.state)
        .max()
        .unwrap_or(DriftState::Converged);
    let revisions: BTreeSet<&str> = targets
        .iter()
        .filter_map(|t| t.live_revision.as_deref())
        .collect();
    let live_revision = match revisions.len() {
        1 => revisions.first().map(|r| r.to_string()),
        _ => None,
    };
    EnvironmentReport {
        unconfirmed: false,
        environment: environment.to_string(),
        state,
        head_revision: head.commit.to_string(),
        live_revision,
        objects,
    }
}

/// `drift.confirm` for one environment. A state other than converged counts only once it has
/// stayed the same (state and objects) for the window: observed again until then, and a
/// change starts the window again. A converged observation on the way ends it (what cleared
/// is converged). [`Seen`] carries what was seen between passes (`serve`), so that
/// consecutive passes count as well.
#[derive(Debug, Clone)]
pub struct Confirmation {
    current: Signature,
    since: Instant,
    latest: EnvironmentReport,
    changed: bool,
}

/// What a watcher remembers of an environment between passes: the state and objects it last
/// saw, and since when they have been the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    signature: Signature,
    since: Instant,
}

/// What must stay the same for a state to count: the state and the set of objects (with
/// the paths that differ, for directly applied objects).
type Signature = (DriftState, BTreeSet<ObjectSignature>);

/// Kind, namespace, name, state, and the differing paths listed (never their values).
type ObjectSignature = (String, Option<String>, String, DriftState, Vec<String>);

/// The [`Signature`] of `report` as one line (`drifted: Application argocd/web drifted;
/// Deployment hello/web drifted at /spec/replicas`), objects sorted: what a drift issue's
/// marker keeps to tell a change from a rerun. No reason, value, time or duration takes
/// part, so a rerun that sees the same thing has the same fingerprint.
pub fn fingerprint(report: &EnvironmentReport) -> String {
    let (state, objects) = signature(report);
    let objects: Vec<String> = objects
        .iter()
        .map(|(kind, namespace, name, state, paths)| {
            let at = if paths.is_empty() {
                String::new()
            } else {
                format!(" at {}", paths.join(", "))
            };
            format!(
                "{kind} {} {state}{at}",
                crate::health::qualified(namespace.as_deref(), name)
            )
        })
        .collect();
    format!("{state}: {}", objects.join("; "))
}

fn signature(report: &EnvironmentReport) -> Signature {
    let objects = report
        .objects
        .iter()
        .map(|o| {
            (
                o.kind.clone(),
                o.namespace.clone(),
                o.name.clone(),
                o.state,
                o.differences.iter().map(|d| d.path.clone()).collect(),
            )
        })
        .collect();
    (report.state, objects)
}

impl Confirmation {
    /// The window of `first`, seen at `now`; it started earlier when the previous pass saw the
    /// same (`prior`).
    pub fn start(first: EnvironmentReport, prior: Option<&Seen>, now: Instant) -> Confirmation {
        let current = signature(&first);
        let since = prior
            .filter(|p| p.signature == current)
            .map_or(now, |p| p.since);
        Confirmation {
            current,
            since,
            latest: first,
            changed: false,
        }
    }

    /// Whether the environment still needs observing: not converged, and not yet the same
    /// for `confirm`.
    pub fn open(&self, confirm: Duration, now: Instant) -> bool {
        self.latest.state != DriftState::Converged
            && now.saturating_duration_since(self.since) < confirm
    }

    /// One more observation at `now`. After a converged one, nothing more counts.
    pub fn observe(&mut self, report: EnvironmentReport, now: Instant) {
        if self.latest.state == DriftState::Converged {
            return;
        }
        let seen = signature(&report);
        if seen != self.current {
            self.current = seen;
            self.since = now;
            self.changed = true;
        }
        self.latest = report;
    }

    /// Whether the state or its objects changed during the window.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// What to remember for the next pass.
    pub fn seen(&self) -> Seen {
        Seen {
            signature: self.current.clone(),
            since: self.since,
        }
    }

    /// The verdict at `now`: the last observation, marked unconfirmed when it is not
    /// converged and has not stayed the same for `confirm`.
    pub fn finish(self, confirm: Duration, now: Instant) -> EnvironmentReport {
        let unconfirmed = self.open(confirm, now);
        EnvironmentReport {
            unconfirmed,
            ..self.latest
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "1111111111111111111111111111111111111111";
    const OLD: &str = "0000000000000000000000000000000000000000";
    const GRACE: Duration = Duration::from_secs(600);

    fn target(revision: Option<&str>, findings: &[(DriftState, &str)]) -> TargetObservation {
        let id = TargetId::new("Application", Some("argocd"), "web");
        TargetObservation {
            findings: findings
                .iter()
                .map(|(s, why)| DriftObject::new(&id, *s, *why))
                .collect(),
            target: id,
            live_revision: revision.map(str::to_string),
            tracks_commits: true,
        }
    }

    fn head(age_secs: Option<u64>) -> Head<'static> {
        Head {
            commit: HEAD,
            age: age_secs.map(Duration::from_secs),
        }
    }

    #[test]
    fn the_worst_finding_wins_and_lag_counts_only_after_the_grace() {
        use DriftState::*;
        // What, live revision, findings, head age in seconds, expected state.
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            &'a [(DriftState, &'a str)],
            Option<u64>,
            DriftState,
        );
        let cases: &[Case<'_>] = &[
            (
                "at head, nothing wrong",
                Some(HEAD),
                &[],
                Some(1),
                Converged,
            ),
            ("old, within grace", Some(OLD), &[], Some(599), Converged),
            ("old, grace over", Some(OLD), &[], Some(600), Behind),
            ("old, age unknown", Some(OLD), &[], None, Behind),
            ("no revision, grace over", None, &[], Some(900), Behind),
            (
                "drifted beats behind",
                Some(OLD),
                &[(Drifted, "x")],
                Some(900),
                Drifted,
            ),
            (
                "degraded beats drifted",
                Some(HEAD),
                &[(Drifted, "x"), (Degraded, "y")],
                Some(1),
                Degraded,
            ),
            (
                "unknown beats all",
                Some(OLD),
                &[(Degraded, "y"), (Unknown, "z"), (Drifted, "x")],
                Some(900),
                Unknown,
            ),
        ];
        for (what, revision, findings, age, want) in cases {
            let report = assess("prod", head(*age), GRACE, &[target(*revision, findings)]);
            assert_eq!(report.state, *want, "{what}");
        }
    }

    #[test]
    fn untracked_revisions_are_never_behind() {
        let mut t = target(Some("1.2.0"), &[]);
        t.tracks_commits = false;
        assert_eq!(
            assess("prod", head(Some(9999)), GRACE, &[t]).state,
            DriftState::Converged
        );
    }

    #[test]
    fn the_live_revision_is_shown_only_when_all_targets_agree() {
        let one = assess("prod", head(Some(1)), GRACE, &[target(Some(HEAD), &[])]);
        assert_eq!(one.live_revision.as_deref(), Some(HEAD));
        assert_eq!(one.head_revision, HEAD);
        let two = assess(
            "prod",
            head(Some(1)),
            GRACE,
            &[target(Some(HEAD), &[]), target(Some(OLD), &[])],
        );
        assert_eq!(two.live_revision, None);
    }

    #[test]
    fn behind_names_the_revisions() {
        let report = assess("prod", head(Some(720)), GRACE, &[target(Some(OLD), &[])]);
        assert_eq!(report.objects.len(), 1);
        assert_eq!(
            report.objects[0].reason,
            format!(
                "at {OLD}, not at the head 111111111111 of the default branch (committed 12 min 00 s ago)"
            )
        );
    }

    #[test]
    fn the_fingerprint_names_differing_paths_but_no_value() {
        let id = TargetId::new("Deployment", Some("hello"), "web");
        let drift = |live: &str| compare::ObjectDrift {
            missing: false,
            differences: vec![compare::Difference {
                path: "/spec/replicas".into(),
                git: Some("2".into()),
                live: Some(live.into()),
                masked: false,
            }],
            not_shown: 0,
        };
        let report = |live: &str| {
            let mut t = target(Some(HEAD), &[]);
            t.findings.push(DriftObject::differing(&id, drift(live)));
            assess("prod", head(Some(1)), GRACE, &[t])
        };
        let five = fingerprint(&report("5"));
        assert_eq!(
            five,
            "drifted: Deployment hello/web drifted at /spec/replicas"
        );
        assert_eq!(five, fingerprint(&report("6")), "values take no part");
    }

    #[test]
    fn a_state_that_clears_within_the_window_is_converged() {
        let drifted = |findings: &[(DriftState, &str)]| {
            assess(
                "prod",
                head(Some(1)),
                GRACE,
                &[target(Some(HEAD), findings)],
            )
        };
        let window = Duration::from_secs(120);
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let mut c = Confirmation::start(drifted(&[(DriftState::Drifted, "OutOfSync")]), None, t0);
        assert!(c.open(window, at(10)));
        c.observe(drifted(&[]), at(10));
        assert!(!c.open(window, at(11)));
        // Once cleared, later observations do not reopen it.
        c.observe(drifted(&[(DriftState::Drifted, "OutOfSync")]), at(20));
        let done = c.finish(window, at(20));
        assert_eq!(
            (done.state, done.unconfirmed),
            (DriftState::Converged, false)
        );

        let mut c = Confirmation::start(drifted(&[(DriftState::Drifted, "OutOfSync")]), None, t0);
        c.observe(drifted(&[(DriftState::Drifted, "OutOfSync again")]), at(60));
        assert!(!c.changed(), "the reason's words are not part of the state");
        assert!(
            !c.open(window, at(120)),
            "the same state for the whole window"
        );
        c.observe(
            drifted(&[(DriftState::Degraded, "CrashLoopBackOff")]),
            at(100),
        );
        assert!(c.changed());
        assert!(c.open(window, at(200)), "a change starts the window again");
        let flapping = c.clone().finish(window, at(200));
        assert_eq!(
            (flapping.state, flapping.unconfirmed),
            (DriftState::Degraded, true)
        );
        let settled = c.finish(window, at(220));
        assert_eq!(
            (settled.state, settled.unconfirmed),
            (DriftState::Degraded, false)
        );
    }

    #[test]
    fn consecutive_passes_count_towards_the_window() {
        let report = |state: DriftState| {
            assess(
                "prod",
                head(Some(1)),
                GRACE,
                &[target(Some(HEAD), &[(state, "why")])],
            )
        };
        let window = Duration::from_secs(120);
        let t0 = Instant::now();
        let first = Confirmation::start(report(DriftState::Drifted), None, t0);
        assert!(first.clone().finish(window, t0).unconfirmed);
        let seen = first.seen();
        let later = t0 + Duration::from_secs(300);
        let same = Confirmation::start(report(DriftState::Drifted), Some(&seen), later);
        assert!(!same.finish(window, later).unconfirmed, "seen since t0");
        let other = Confirmation::start(report(DriftState::Degraded), Some(&seen), later);
        assert!(
            other.finish(window, later).unconfirmed,
            "a new state starts again"
        );
    }
}
