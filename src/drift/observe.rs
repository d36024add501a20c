//! What an Argo CD Application or a Flux Kustomization / HelmRelease says about drift, read
//! from the object as the API server returns it. The fields are the ones `argocd app get`
//! and `flux get` show; the revision readers are `health`'s.

use serde_json::Value;

use super::compare::{compare, compare_served};
use super::ignore::{IgnoreRule, ignored_paths};
use super::{DriftObject, DriftState, TargetId, TargetObservation};
use crate::health::{argocd, condition, flux as flux_health, text};

/// Argo CD: the live revision is `status.sync.revision`, unless the last sync
/// (`status.operationState.syncResult.revision`) deployed another one and the app is
/// `OutOfSync`: then the newer revision is not deployed yet (see below). `status.conditions` errors (`ComparisonError`, `InvalidSpecError`, …) make the
/// comparison untrustworthy (unknown); `status.sync.status` `OutOfSync` is drift, with each
/// out-of-sync resource of `status.resources`; `status.health.status` other than `Healthy`
/// is degraded, with each resource not healthy; no sync or health status at all is
/// unknown.
pub fn argo(target: TargetId, app: &Value) -> TargetObservation {
    let mut findings = Vec::new();
    let conditions = app
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for c in conditions {
        let kind = c.get("type").and_then(Value::as_str).unwrap_or("");
        if kind.ends_with("Error") {
            let message = c.get("message").and_then(Value::as_str).unwrap_or("");
            findings.push(DriftObject::new(
                &target,
                DriftState::Unknown,
                format!("{kind}: {message}"),
            ));
        }
    }
    let sync = text(app, &["status", "sync", "status"]).unwrap_or("");
    let compared = argocd::synced_revisions(app).into_iter().next();
    // Argo CD compares with the newest revision it fetched; when its last sync deployed
    // another one, `OutOfSync` means "not deployed yet", not drift: the live revision is
    // the deployed one, and lagging is judged as `behind` (after the grace).
    let deployed = text(app, &["status", "operationState", "syncResult", "revision"])
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let not_deployed_yet = sync == "OutOfSync"
        && match (&compared, &deployed) {
            (Some(c), Some(d)) => c != d,
            _ => false,
        };
    let live_revision = if not_deployed_yet { deployed } else { compared };
    let health = text(app, &["status", "health", "status"]).unwrap_or("");
    let health_message = text(app, &["status", "health", "message"]).unwrap_or("");
    match sync {
        "Synced" => {}
        "OutOfSync" if not_deployed_yet => {}
        "OutOfSync" => findings.push(DriftObject::new(&target, DriftState::Drifted, "OutOfSync")),
        "" => findings.push(DriftObject::new(
            &target,
            DriftState::Unknown,
            "Argo CD reports no sync status",
        )),
        other => findings.push(DriftObject::new(
            &target,
            DriftState::Unknown,
            format!("sync status {other}"),
        )),
    }
    match health {
        "Healthy" => {}
        "" | "Unknown" => findings.push(DriftObject::new(
            &target,
            DriftState::Unknown,
            "Argo CD reports no health status",
        )),
        other => findings.push(DriftObject::new(
            &target,
            DriftState::Degraded,
            joined(other, health_message),
        )),
    }
    for r in argocd::resources(app) {
        let name = match &r.namespace {
            Some(ns) => r
                .name
                .strip_prefix(&format!("{ns}/"))
                .unwrap_or(&r.name)
                .to_string(),
            None => r.name.clone(),
        };
        let id = TargetId {
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name,
        };
        if r.sync.as_deref() == Some("OutOfSync") && !not_deployed_yet {
            findings.push(DriftObject::new(&id, DriftState::Drifted, "OutOfSync"));
        }
        if let Some(h) = r.health.as_deref().filter(|h| *h != "Healthy") {
            findings.push(DriftObject::new(
                &id,
                DriftState::Degraded,
                joined(h, &r.message),
            ));
        }
    }
    TargetObservation {
        target,
        live_revision,
        tracks_commits: true,
        findings,
    }
}

/// Flux: a status about an older spec (`observedGeneration`) is unknown; `spec.suspend` and `Stalled=True` are degraded, as is `Ready` other than `True`
/// (`Ready=Unknown` while reconciling, named with the `Reconciling` condition: the
/// confirmation window lets a reconciliation finish);
/// `Drifted=True`, where a controller sets it, is drift; no `Ready` condition at all is
/// unknown. The live revision is `lastAppliedRevision` (a HelmRelease's chart version, which
/// names a commit only when built from Git with `reconcileStrategy: Revision`).
pub fn flux(target: TargetId, obj: &Value) -> TargetObservation {
    let kind = target.kind.clone();
    let mut findings = Vec::new();
    let status_of = |type_: &str| {
        condition(obj, type_).map(|c| {
            let field = |f: &str| c.get(f).and_then(Value::as_str).unwrap_or("");
            (
                field("status").to_string(),
                joined(field("reason"), field("message")),
            )
        })
    };
    if !flux_health::spec_observed(obj) {
        // Every condition still describes an older spec: nothing can be trusted yet.
        findings.push(DriftObject::new(
            &target,
            DriftState::Unknown,
            "the controller has not observed the current spec (metadata.generation) yet",
        ));
    }
    if let Some(why) = flux_health::suspended(obj, &kind) {
        findings.push(DriftObject::new(&target, DriftState::Degraded, why));
    }
    match status_of("Ready") {
        None => findings.push(DriftObject::new(
            &target,
            DriftState::Unknown,
            "no Ready condition: the controller has not reported on it",
        )),
        Some((status, _)) if status == "True" => {}
        Some((status, why)) => {
            // Still at it (`Reconciling=True`, also when retrying a failure): say so.
            let reconciling = status_of("Reconciling")
                .filter(|(s, _)| s == "True")
                .map(|(_, how)| format!(" (Reconciling: {how})"))
                .unwrap_or_default();
            findings.push(DriftObject::new(
                &target,
                DriftState::Degraded,
                format!("Ready={status}: {why}{reconciling}"),
            ));
        }
    }
    if let Some((status, why)) = status_of("Stalled").filter(|(s, _)| s == "True") {
        findings.push(DriftObject::new(
            &target,
            DriftState::Degraded,
            format!("Stalled={status}: {why}"),
        ));
    }
    if let Some((status, why)) = status_of("Drifted").filter(|(s, _)| s == "True") {
        findings.push(DriftObject::new(
            &target,
            DriftState::Drifted,
            format!("Drifted={status}: {why}"),
        ));
    }
    let live_revision = flux_health::applied_revision(obj, &kind).map(str::to_string);
    let tracks_commits =
        kind != "HelmRelease" || live_revision.as_deref().is_some_and(|r| r.contains('+'));
    TargetObservation {
        target,
        live_revision,
        tracks_commits,
        findings,
    }
}

/// One rendered object of a direct-apply target, with where it lives (`None`:
/// cluster-scoped) and its live counterpart (`None`: missing).
#[derive(Debug, Clone, Copy)]
pub struct Applied<'a> {
    pub git: &'a Value,
    pub namespace: Option<&'a str>,
    pub live: Option<&'a Value>,
    /// With `--deep`: what the server's dry-run apply made of `git`, compared with `live`
    /// over every field of either ([`compare_served`]) instead of `git` over its own.
    pub served: Option<&'a Value>,
}

/// Direct apply: each rendered object against its live counterpart over the fields Git
/// sets, skipping what `rules` ignore ([`compare`]; with `--deep` the server's dry run
/// against the live object, [`compare_served`]); each one that differs or is missing is
/// drift. There is no revision to read: direct apply records none.
pub fn apply(target: TargetId, objects: &[Applied<'_>], rules: &[IgnoreRule]) -> TargetObservation {
    let findings = objects
        .iter()
        .filter_map(|o| {
            let ignored = ignored_paths(rules, o.git, o.namespace);
            let drift = match o.served {
                Some(served) => compare_served(served, o.live, &ignored)?,
                None => compare(o.git, o.live, &ignored)?,
            };
            let text = |p: &str| o.git.pointer(p).and_then(Value::as_str).unwrap_or("");
            let id = TargetId::new(text("/kind"), o.namespace, text("/metadata/name"));
            Some(DriftObject::differing(&id, drift))
        })
        .collect();
    TargetObservation {
        target,
        live_revision: None,
        tracks_commits: false,
        findings,
    }
}

/// `Reason: message`, or just the one that is there.
fn joined(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (_, true) => first.to_string(),
        (true, false) => second.to_string(),
        (false, false) => format!("{first}: {second}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SHA: &str = "1111111111111111111111111111111111111111";

    fn app(sync: &str, health: &str) -> Value {
        json!({"status": {
            "sync": {"status": sync, "revision": SHA},
            "health": {"status": health},
            "resources": [
                {"kind": "Deployment", "namespace": "hello", "name": "web", "status": "Synced",
                 "health": {"status": "Healthy"}},
            ],
        }})
    }

    fn id(kind: &str) -> TargetId {
        TargetId::new(kind, Some("ns"), "x")
    }

    fn states(o: &TargetObservation) -> Vec<(String, DriftState)> {
        o.findings
            .iter()
            .map(|f| (format!("{} {}", f.kind, f.name), f.state))
            .collect()
    }

    #[test]
    fn argo_findings_per_field() {
        use DriftState::*;
        let ok = argo(id("Application"), &app("Synced", "Healthy"));
        assert!(ok.findings.is_empty());
        assert_eq!(ok.live_revision.as_deref(), Some(SHA));

        let mut out = app("OutOfSync", "Healthy");
        out["status"]["resources"][0]["status"] = json!("OutOfSync");
        assert_eq!(
            states(&argo(id("Application"), &out)),
            [
                ("Application x".into(), Drifted),
                ("Deployment web".into(), Drifted)
            ]
        );

        // A new revision fetched, not synced yet: not drift, the deployed one is live.
        let old = "0000000000000000000000000000000000000000";
        out["status"]["operationState"] =
            json!({"phase": "Succeeded", "syncResult": {"revision": old}});
        let o = argo(id("Application"), &out);
        assert!(o.findings.is_empty(), "{:?}", o.findings);
        assert_eq!(o.live_revision.as_deref(), Some(old));
        out["status"]["operationState"]["syncResult"]["revision"] = json!(SHA);
        assert_eq!(
            argo(id("Application"), &out).findings.len(),
            2,
            "drift after a sync of it"
        );

        let mut sick = app("Synced", "Degraded");
        sick["status"]["resources"][0]["health"] =
            json!({"status": "Degraded", "message": "CrashLoopBackOff"});
        let o = argo(id("Application"), &sick);
        assert_eq!(
            states(&o),
            [
                ("Application x".into(), Degraded),
                ("Deployment web".into(), Degraded)
            ]
        );
        assert_eq!(o.findings[1].reason, "Degraded: CrashLoopBackOff");
        assert_eq!(o.findings[1].namespace.as_deref(), Some("hello"));

        let mut broken = app("Unknown", "Healthy");
        broken["status"]["conditions"] = json!([
            {"type": "ComparisonError", "message": "repository not accessible"},
            {"type": "SharedResourceWarning", "message": "shared"},
        ]);
        let o = argo(id("Application"), &broken);
        assert_eq!(
            o.findings[0].reason,
            "ComparisonError: repository not accessible"
        );
        assert!(o.findings.iter().all(|f| f.state == Unknown));

        assert_eq!(
            states(&argo(id("Application"), &json!({}))),
            [
                ("Application x".into(), Unknown),
                ("Application x".into(), Unknown)
            ]
        );
    }

    fn ks(conditions: Value) -> Value {
        json!({"metadata": {"name": "apps", "namespace": "flux-system"},
               "status": {"lastAppliedRevision": format!("main@sha1:{SHA}"), "conditions": conditions}})
    }

    #[test]
    fn flux_findings_per_condition() {
        use DriftState::*;
        let ready = json!({"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"});
        let o = flux(id("Kustomization"), &ks(json!([ready])));
        assert!(o.findings.is_empty());
        assert!(o.tracks_commits);

        let not_ready = json!({"type": "Ready", "status": "False", "reason": "HealthCheckFailed", "message": "timeout"});
        let o = flux(id("Kustomization"), &ks(json!([not_ready])));
        assert_eq!(o.findings[0].state, Degraded);
        assert_eq!(
            o.findings[0].reason,
            "Ready=False: HealthCheckFailed: timeout"
        );

        let retrying = json!([
            {"type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "reconciliation in progress"},
            {"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry", "message": "retrying"},
        ]);
        let o = flux(id("Kustomization"), &ks(retrying));
        assert_eq!(
            o.findings[0].reason,
            "Ready=Unknown: Progressing: reconciliation in progress (Reconciling: ProgressingWithRetry: retrying)"
        );

        let drifted = json!({"type": "Drifted", "status": "True", "reason": "DriftDetected", "message": "Deployment/hello/web changed"});
        let stalled = json!({"type": "Stalled", "status": "True", "reason": "InvalidPath"});
        let o = flux(id("Kustomization"), &ks(json!([ready, drifted, stalled])));
        assert_eq!(
            states(&o),
            [
                ("Kustomization x".into(), Degraded),
                ("Kustomization x".into(), Drifted)
            ]
        );

        let o = flux(id("Kustomization"), &ks(json!([])));
        assert_eq!(states(&o), [("Kustomization x".into(), Unknown)]);

        let mut changed = ks(json!([ready]));
        changed["metadata"]["generation"] = json!(3);
        changed["status"]["observedGeneration"] = json!(2);
        assert_eq!(
            states(&flux(id("Kustomization"), &changed)),
            [("Kustomization x".into(), Unknown)]
        );

        let mut suspended = ks(json!([ready]));
        suspended["spec"] = json!({"suspend": true});
        assert_eq!(
            flux(id("Kustomization"), &suspended).findings[0].state,
            Degraded
        );
    }

    #[test]
    fn applied_objects_that_differ_or_are_missing_are_drift_unless_ignored() {
        let cm = |level: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "web"}, "data": {"level": level}})
        };
        let (git, same, other) = (cm("info"), cm("info"), cm("debug"));
        fn one<'a>(git: &'a Value, live: Option<&'a Value>) -> [Applied<'a>; 1] {
            [Applied {
                git,
                namespace: Some("hello"),
                live,
                served: None,
            }]
        }
        let target = || TargetId::new("Apply", None, "deploy/prod");
        assert!(
            apply(target(), &one(&git, Some(&same)), &[])
                .findings
                .is_empty()
        );
        let o = apply(target(), &one(&git, Some(&other)), &[]);
        assert_eq!(o.findings.len(), 1);
        assert_eq!(
            (
                o.findings[0].kind.as_str(),
                o.findings[0].namespace.as_deref(),
                o.findings[0].name.as_str()
            ),
            ("ConfigMap", Some("hello"), "web")
        );
        assert_eq!(o.findings[0].state, DriftState::Drifted);
        assert_eq!(o.findings[0].reason, "differs at /data/level");
        assert!(!o.tracks_commits);
        assert_eq!(
            apply(target(), &one(&git, None), &[]).findings[0].reason,
            "missing from the cluster"
        );
        let rules: Vec<IgnoreRule> =
            yaml_serde::from_str("- paths: [/data/level]\n  target: {kind: ConfigMap}\n").unwrap();
        assert!(
            apply(target(), &one(&git, Some(&other)), &rules)
                .findings
                .is_empty()
        );
    }

    #[test]
    fn a_helm_release_of_a_repository_chart_does_not_track_commits() {
        let ready = json!({"type": "Ready", "status": "True"});
        let hr = |version: &str| json!({"status": {"lastAttemptedRevision": version, "conditions": [ready]}});
        assert!(!flux(id("HelmRelease"), &hr("1.2.0")).tracks_commits);
        assert!(flux(id("HelmRelease"), &hr("1.2.0+111111111111")).tracks_commits);
    }
}
