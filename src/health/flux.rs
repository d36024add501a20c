//! Flux `Kustomization` and `HelmRelease`: has the controller handled our reconcile request
//! and applied the commit? Follows Flux's documentation of these objects' status
//! (kustomize-controller `docs/spec/v1/kustomizations.md`, "Kustomization Status") and
//! `flux reconcile` (fluxcd/flux2 `cmd/flux/reconcile.go`):
//!
//! * the controller copies the `reconcile.fluxcd.io/requestedAt` annotation into
//!   `status.lastHandledReconcileAt` when it has finished acting on it, success or not;
//!   until then every condition describes the state from before the request;
//! * once handled, `Ready=True` is success, and `Ready=False` is a failure, whatever the
//!   `Reconciling` condition says: a failed attempt leaves `Reconciling=True` with reason
//!   `ProgressingWithRetry` because the controller will retry with backoff, but the attempt
//!   failed, and `flux reconcile` reports it at once. Two exceptions: `DependencyNotReady`,
//!   which the controller re-checks on its own (`--requeue-dependency`) and which says
//!   nothing about the commit (`flux reconcile` would call it failed: another object being
//!   reconciled at the same time is common after a merge), and a failure of another
//!   revision than the commit (the source had not fetched it yet; the controller tries
//!   again when it has);
//! * `Stalled=True` is a failure the controller will not retry;
//! * `spec.suspend: true` means the controller does not reconcile the object at all;
//! * on failure `status.observedGeneration` stays behind (it moves only on success or
//!   stall): the `Ready` condition's own `observedGeneration` says which spec it is about.
//!
//! A Kustomization must show the commit in `status.lastAppliedRevision` (`main@sha1:<sha>`).
//! A HelmRelease records chart versions, which carry the commit only with
//! `reconcileStrategy: Revision` (`1.2.0+<sha12>`); otherwise the handled request and
//! `Ready=True` are what the controller offers, and that is what is checked.

use serde_json::{Value, json};

use super::{Assessment, ResourceRow, condition, int, names_commit, text};

/// `reconcile.fluxcd.io/requestedAt`, the annotation `flux reconcile` sets.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// Ready=False reasons that mean "not tried yet", not "failed".
const NOT_TRIED: &[&str] = &["DependencyNotReady", "Progressing"];

/// The assessment of `obj` (`kind` is `Kustomization` or `HelmRelease`) on the way to
/// `commit`; `requested_at` is the annotation value this run set, if it set one.
pub fn assess(obj: &Value, kind: &str, commit: &str, requested_at: Option<&str>) -> Assessment {
    if let Some(why) = suspended(obj, kind) {
        return Assessment::failed(None, "Suspended", why);
    }
    if let Some(requested) = requested_at
        && text(obj, &["status", "lastHandledReconcileAt"]) != Some(requested)
    {
        return Assessment::waiting("waiting for the controller to handle the reconcile request");
    }
    let ready = condition(obj, "Ready");
    let field = |c: Option<&Value>, name: &str| {
        c.and_then(|c| c.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (reason, message) = (field(ready, "reason"), field(ready, "message"));
    let status = ready
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    let health = match status {
        "True" => "Ready".to_string(),
        "False" => format!("NotReady ({reason})"),
        _ => "Unknown".to_string(),
    };
    let revision = applied_revision(obj, kind);
    let sync = revision.map(short);

    if !spec_observed(obj) {
        return Assessment::pending(
            sync.as_deref(),
            &health,
            "waiting for the controller to observe the new spec",
        );
    }
    let stalled = condition(obj, "Stalled")
        .filter(|c| c.get("status").and_then(Value::as_str) == Some("True"));
    if let Some(stall) = stalled
        && status != "True"
    {
        let (reason, message) = (field(Some(stall), "reason"), field(Some(stall), "message"));
        return Assessment::failed(sync.as_deref(), &health, format!("{reason}: {message}"));
    }
    let failure = format!("{reason}: {message}");
    match status {
        "False" if NOT_TRIED.contains(&reason.as_str()) => {
            Assessment::pending(sync.as_deref(), &health, failure)
        }
        "False" => match attempted_revision(obj, kind) {
            Some(tried) if !tried_commit(kind, tried, commit) => Assessment::pending(
                sync.as_deref(),
                &health,
                format!(
                    "{reason} at {}: {message}; waiting for {}",
                    short(tried),
                    short(commit)
                ),
            ),
            _ => Assessment::failed(sync.as_deref(), &health, failure),
        },
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

/// Why the controller will not reconcile `obj`, if `spec.suspend` is set.
pub fn suspended(obj: &Value, kind: &str) -> Option<String> {
    if obj.pointer("/spec/suspend") != Some(&json!(true)) {
        return None;
    }
    let name = text(obj, &["metadata", "name"]).unwrap_or("NAME");
    let namespace = text(obj, &["metadata", "namespace"]).unwrap_or("NAMESPACE");
    Some(format!(
        "suspended (spec.suspend: true): Flux does not reconcile it; resume it with `flux resume {} {name} -n {namespace}`",
        kind.to_ascii_lowercase()
    ))
}

/// Whether the controller's status is about the current spec: `status.observedGeneration`,
/// or the `Ready` condition's own, which Flux moves on failure too.
pub fn spec_observed(obj: &Value) -> bool {
    let Some(generation) = int(obj, &["metadata", "generation"]) else {
        return true;
    };
    let ready_generation = condition(obj, "Ready")
        .and_then(|c| c.get("observedGeneration"))
        .and_then(Value::as_i64);
    [
        int(obj, &["status", "observedGeneration"]),
        ready_generation,
    ]
    .into_iter()
    .flatten()
    .any(|observed| observed >= generation)
}

/// The revision of the last attempt, successful or not.
fn attempted_revision<'a>(obj: &'a Value, kind: &str) -> Option<&'a str> {
    text(obj, &["status", "lastAttemptedRevision"])
        .filter(|r| !r.is_empty())
        .or_else(|| applied_revision(obj, kind))
}

/// Whether the attempt at `revision` was an attempt at `commit` (or cannot tell: a chart
/// version without build metadata names no commit).
fn tried_commit(kind: &str, revision: &str, commit: &str) -> bool {
    names_commit(revision, commit) || (kind == "HelmRelease" && !revision.contains('+'))
}

/// The revision the controller last applied.
pub fn applied_revision<'a>(obj: &'a Value, kind: &str) -> Option<&'a str> {
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

/// `status.inventory.entries` of a Kustomization (`<ns>_<name>_<group>_<Kind>`): every
/// object it applied, without health (Flux keeps none per object); entries of another
/// shape are left out.
pub fn inventory(obj: &Value) -> Vec<ResourceRow> {
    obj.pointer("/status/inventory/entries")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e.get("id").and_then(Value::as_str))
                .filter_map(|id| {
                    let parts: Vec<&str> = id.split('_').collect();
                    let [ns, name, _group, kind] = parts.as_slice() else {
                        return None;
                    };
                    let ns = (!ns.is_empty()).then_some(*ns);
                    Some(ResourceRow::new(kind, ns, name, None))
                })
                .collect()
        })
        .unwrap_or_default()
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

    /// Flux's failed Kustomization, as `finalizeStatus` leaves it: the request handled,
    /// `Ready=False` with the failure, `Reconciling=True` with `ProgressingWithRetry`, and
    /// `observedGeneration` still at the spec before.
    fn failed_at(attempted: &str, reason: &str) -> Value {
        json!({
            "metadata": {"name": "apps", "namespace": "flux-system", "generation": 3},
            "status": {
                "observedGeneration": 2,
                "lastHandledReconcileAt": ASKED,
                "lastAppliedRevision": "main@sha1:0000000000000000000000000000000000000000",
                "lastAttemptedRevision": attempted,
                "conditions": [
                    {"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry",
                     "message": "Detecting drift for revision main@sha1:2222222 with a timeout of 4m30s",
                     "observedGeneration": 3},
                    {"type": "Ready", "status": "False", "reason": reason,
                     "message": "health check failed after 30s", "observedGeneration": 3}
                ]
            }
        })
    }

    #[test]
    fn a_handled_request_that_left_ready_false_has_failed_even_while_flux_retries() {
        let a = assess(
            &failed_at(&format!("main@sha1:{SHA}"), "HealthCheckFailed"),
            "Kustomization",
            SHA,
            Some(ASKED),
        );
        assert_eq!(a.verdict, Verdict::Failed);
        assert_eq!(
            a.message,
            "HealthCheckFailed: health check failed after 30s"
        );
        assert_eq!(a.health, "NotReady (HealthCheckFailed)");
        // Observing only, the attempted revision tells the failure is the commit's.
        let a = assess(
            &failed_at(&format!("main@sha1:{SHA}"), "BuildFailed"),
            "Kustomization",
            SHA,
            None,
        );
        assert_eq!(a.verdict, Verdict::Failed);
        // A chart version without the commit cannot tell whose attempt it was: the handled
        // request decides, as for `flux reconcile helmrelease`.
        let a = assess(
            &failed_at("1.2.0", "UpgradeFailed"),
            "HelmRelease",
            SHA,
            Some(ASKED),
        );
        assert_eq!(a.verdict, Verdict::Failed);
    }

    #[test]
    fn a_failure_of_another_revision_or_a_dependency_is_waited_past() {
        let other = assess(
            &failed_at(
                "main@sha1:1111111111111111111111111111111111111111",
                "HealthCheckFailed",
            ),
            "Kustomization",
            SHA,
            Some(ASKED),
        );
        assert_eq!(other.verdict, Verdict::Pending);
        assert_eq!(
            other.message,
            "HealthCheckFailed at main@sha1:111111111111: health check failed after 30s; waiting for 222222222222"
        );
        let dependency = assess(
            &failed_at(&format!("main@sha1:{SHA}"), "DependencyNotReady"),
            "Kustomization",
            SHA,
            Some(ASKED),
        );
        assert_eq!(dependency.verdict, Verdict::Pending);
        assert_eq!(
            dependency.message,
            "DependencyNotReady: health check failed after 30s"
        );
    }

    #[test]
    fn stalled_fails_with_the_stall_reason() {
        let mut obj = failed_at(&format!("main@sha1:{SHA}"), "UpgradeFailed");
        obj["status"]["conditions"] = json!([
            {"type": "Stalled", "status": "True", "reason": "RetriesExceeded",
             "message": "Failed to upgrade after 3 attempts", "observedGeneration": 3},
            {"type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "x",
             "observedGeneration": 3}
        ]);
        let a = assess(&obj, "HelmRelease", SHA, Some(ASKED));
        assert_eq!(a.verdict, Verdict::Failed);
        assert_eq!(
            a.message,
            "RetriesExceeded: Failed to upgrade after 3 attempts"
        );
    }

    #[test]
    fn a_suspended_object_fails_with_how_to_resume_it() {
        let mut obj = ks("True", "ReconciliationSucceeded", "x", "earlier");
        obj["metadata"]["name"] = json!("apps");
        obj["metadata"]["namespace"] = json!("flux-system");
        obj["spec"] = json!({"suspend": true});
        let a = assess(&obj, "Kustomization", SHA, Some(ASKED));
        assert_eq!(a.verdict, Verdict::Failed);
        assert_eq!(
            a.message,
            "suspended (spec.suspend: true): Flux does not reconcile it; resume it with `flux resume kustomization apps -n flux-system`"
        );
        assert_eq!(
            suspended(&obj, "HelmRelease").map(|m| m.contains("flux resume helmrelease apps")),
            Some(true)
        );
        obj["spec"]["suspend"] = json!(false);
        assert_eq!(suspended(&obj, "Kustomization"), None);
    }

    #[test]
    fn an_unhandled_request_reports_nothing_of_the_old_status() {
        let a = assess(
            &ks("True", "ReconciliationSucceeded", "x", "earlier"),
            "Kustomization",
            SHA,
            Some(ASKED),
        );
        assert_eq!(
            a,
            Assessment::waiting("waiting for the controller to handle the reconcile request")
        );
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

    #[test]
    fn the_inventory_lists_every_applied_object() {
        let ks = json!({"status": {"inventory": {"entries": [
            {"id": "hello_web_apps_Deployment", "v": "v1"},
            {"id": "_hello__Namespace", "v": "v1"},
            {"id": "not-an-id"},
        ]}}});
        let rows: Vec<(String, String, Option<String>)> = inventory(&ks)
            .into_iter()
            .map(|r| (r.kind, r.name, r.namespace))
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    "Deployment".into(),
                    "hello/web".into(),
                    Some("hello".into())
                ),
                ("Namespace".into(), "hello".into(), None),
            ]
        );
        assert!(inventory(&json!({"status": {}})).is_empty());
    }
}
