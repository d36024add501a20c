//! Flux `Kustomization` and `HelmRelease`: has the controller handled our reconcile request
//! and applied the commit? Reads `status.lastHandledReconcileAt` (the request the controller
//! answered, as `flux reconcile` does), `observedGeneration`, the `Ready`, `Reconciling` and
//! `Stalled` conditions, and the applied revision.
//!
//! A Kustomization must show the commit in `status.lastAppliedRevision` (`main@sha1:<sha>`).
//! A HelmRelease records chart versions, which carry the commit only with
//! `reconcileStrategy: Revision` (`1.2.0+<sha12>`); otherwise the handled request and
//! `Ready=True` are what the controller offers, and that is what is checked.

use serde_json::Value;

use super::{Assessment, condition, generation_observed, names_commit, text};

/// `reconcile.fluxcd.io/requestedAt`, the annotation `flux reconcile` sets.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// Ready=False reasons that mean "still working", not "failed".
const IN_PROGRESS: &[&str] = &[
    "Progressing",
    "ProgressingWithRetry",
    "DependencyNotReady",
    "ReconciliationInProgress",
];

/// The assessment of `obj` (`kind` is `Kustomization` or `HelmRelease`) on the way to
/// `commit`; `requested_at` is the annotation value this run set, if it set one.
pub fn assess(obj: &Value, kind: &str, commit: &str, requested_at: Option<&str>) -> Assessment {
    let ready = condition(obj, "Ready");
    let status = ready
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    let reason = ready
        .and_then(|c| c.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = ready
        .and_then(|c| c.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let health = match status {
        "True" => "Ready".to_string(),
        "False" => format!("NotReady ({reason})"),
        _ => "Unknown".to_string(),
    };
    let revision = applied_revision(obj, kind);
    let sync = revision.map(short);

    if !generation_observed(obj) {
        return Assessment::pending(
            sync.as_deref(),
            &health,
            "waiting for the controller to observe the new spec",
        );
    }
    if let Some(requested) = requested_at
        && text(obj, &["status", "lastHandledReconcileAt"]) != Some(requested)
    {
        {
            return Assessment::pending(
                sync.as_deref(),
                &health,
                "reconcile requested, not handled yet",
            );
        }
    }
    let stalled = condition(obj, "Stalled")
        .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"));
    let reconciling = condition(obj, "Reconciling")
        .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"));
    match status {
        "False" if stalled || !(reconciling || IN_PROGRESS.contains(&reason)) => {
            Assessment::failed(sync.as_deref(), &health, format!("{reason}: {message}"))
        }
        "True" if at_commit(obj, kind, revision, commit) => {
            Assessment::healthy(sync.as_deref(), &health, message)
        }
        "True" => Assessment::pending(
            sync.as_deref(),
            &health,
            format!(
                "applied {}, waiting for {}",
                revision.map(short).unwrap_or_else(|| "nothing".into()),
                short(commit)
            ),
        ),
        _ => Assessment::pending(sync.as_deref(), &health, message),
    }
}

/// The revision the controller last applied.
fn applied_revision<'a>(obj: &'a Value, kind: &str) -> Option<&'a str> {
    match kind {
        "HelmRelease" => text(obj, &["status", "lastAttemptedRevision"]).or_else(|| {
            obj.pointer("/status/history/0/chartVersion")
                .and_then(Value::as_str)
        }),
        _ => text(obj, &["status", "lastAppliedRevision"]),
    }
}

fn at_commit(obj: &Value, kind: &str, revision: Option<&str>, commit: &str) -> bool {
    match (kind, revision) {
        (_, Some(r)) if names_commit(r, commit) => true,
        // A chart version without build metadata cannot name a commit: trust the handled
        // request (checked by the caller's `requested_at`) and the Ready condition.
        ("HelmRelease", Some(r)) => {
            !r.contains('+') && text(obj, &["status", "lastHandledReconcileAt"]).is_some()
        }
        _ => false,
    }
}

/// `main@sha1:<sha>` → `main@sha1:<sha12>`; other revisions as they are.
fn short(revision: &str) -> String {
    match revision.rsplit_once(':') {
        Some((head, sha)) if sha.len() > 12 => format!("{head}:{}", &sha[..12]),
        _ if revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()) => {
            revision[..12].to_string()
        }
        _ => revision.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::health::Verdict;

    const SHA: &str = "2222222222222222222222222222222222222222";
    const ASKED: &str = "2026-11-21T10:00:00.123456789Z";

    fn ks(ready: &str, reason: &str, revision: &str, handled: &str) -> Value {
        json!({
            "metadata": {"generation": 2},
            "status": {
                "observedGeneration": 2,
                "lastHandledReconcileAt": handled,
                "lastAppliedRevision": revision,
                "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": "msg"}]
            }
        })
    }

    #[test]
    fn ready_with_the_commit_applied_is_healthy() {
        let a = assess(
            &ks(
                "True",
                "ReconciliationSucceeded",
                &format!("main@sha1:{SHA}"),
                ASKED,
            ),
            "Kustomization",
            SHA,
            Some(ASKED),
        );
        assert_eq!(a.verdict, Verdict::Healthy);
        assert_eq!(a.sync.as_deref(), Some("main@sha1:222222222222"));
    }

    #[test]
    fn an_unhandled_request_waits_even_when_ready() {
        let a = assess(
            &ks(
                "True",
                "ReconciliationSucceeded",
                &format!("main@sha1:{SHA}"),
                "earlier",
            ),
            "Kustomization",
            SHA,
            Some(ASKED),
        );
        assert_eq!(a.verdict, Verdict::Pending);
    }

    #[test]
    fn ready_at_an_older_revision_waits_for_the_source() {
        let a = assess(
            &ks(
                "True",
                "ReconciliationSucceeded",
                "main@sha1:0000000000000000000000000000000000000000",
                ASKED,
            ),
            "Kustomization",
            SHA,
            Some(ASKED),
        );
        assert_eq!(a.verdict, Verdict::Pending);
        assert_eq!(
            a.message,
            "applied main@sha1:000000000000, waiting for 222222222222"
        );
    }

    #[test]
    fn not_ready_fails_unless_still_progressing() {
        let failed = assess(
            &ks("False", "HealthCheckFailed", "x", ASKED),
            "Kustomization",
            SHA,
            Some(ASKED),
        );
        assert_eq!(failed.verdict, Verdict::Failed);
        assert_eq!(failed.message, "HealthCheckFailed: msg");
        let progressing = assess(
            &ks("False", "Progressing", "x", ASKED),
            "Kustomization",
            SHA,
            Some(ASKED),
        );
        assert_eq!(progressing.verdict, Verdict::Pending);
    }

    #[test]
    fn an_unobserved_generation_waits() {
        let mut obj = ks("True", "ReconciliationSucceeded", SHA, ASKED);
        obj["metadata"]["generation"] = json!(3);
        assert_eq!(
            assess(&obj, "Kustomization", SHA, Some(ASKED)).verdict,
            Verdict::Pending
        );
    }

    #[test]
    fn helm_releases_match_revision_charts_or_trust_the_handled_request() {
        let mut hr = ks("True", "UpgradeSucceeded", "", ASKED);
        hr["status"]["lastAttemptedRevision"] = json!("1.2.0+222222222222");
        assert_eq!(
            assess(&hr, "HelmRelease", SHA, Some(ASKED)).verdict,
            Verdict::Healthy
        );
        hr["status"]["lastAttemptedRevision"] = json!("1.2.0+000000000000");
        assert_eq!(
            assess(&hr, "HelmRelease", SHA, Some(ASKED)).verdict,
            Verdict::Pending
        );
        hr["status"]["lastAttemptedRevision"] = json!("1.2.0");
        assert_eq!(
            assess(&hr, "HelmRelease", SHA, Some(ASKED)).verdict,
            Verdict::Healthy
        );
    }
}
