//! Argo CD `Application` (argoproj.io/v1alpha1): has the app reached the commit, synced and
//! healthy? Reads `status.sync`, `status.health`, `status.operationState` and the pending
//! top-level `operation`, the fields `argocd app wait` reads. An operation or a degraded
//! health that belongs to another revision is not ours and is only waited past.
//!
//! Operation phases (gitops-engine `pkg/sync/common/types.go`): `Running` and
//! `Terminating` are in progress (a sync being retried stays `Running`, its message saying
//! which attempt), `Succeeded`, `Failed` and `Error` are final; `argocd app sync` fails on
//! any final phase but `Succeeded`, and so does this. Health (`Healthy`, `Progressing`,
//! `Degraded`, `Suspended`, `Missing`, `Unknown`): only `Degraded` is a failure; `Suspended`
//! (a paused rollout) and `Missing` are waited on, as `argocd app wait --health` waits for
//! `Healthy`.

use serde_json::Value;

use super::{Assessment, ResourceRow, names_commit, qualified, text};

/// The assessment of `app` on the way to `commit`.
pub fn assess(app: &Value, commit: &str) -> Assessment {
    let sync = text(app, &["status", "sync", "status"]).unwrap_or("Unknown");
    let health = text(app, &["status", "health", "status"]).unwrap_or("Unknown");
    let health_message = text(app, &["status", "health", "message"]).unwrap_or("");
    let at_commit = synced_revisions(app)
        .iter()
        .any(|r| names_commit(r, commit));

    if app.get("operation").is_some_and(|o| !o.is_null()) {
        // Requested, not started: the status still describes the state before the request.
        return Assessment::waiting("waiting for Argo CD to start the sync operation");
    }
    let phase = text(app, &["status", "operationState", "phase"]).unwrap_or("");
    let op_message = text(app, &["status", "operationState", "message"]).unwrap_or("");
    if matches!(phase, "Running" | "Terminating") {
        return Assessment::pending(
            Some(sync),
            health,
            join("sync operation ", phase, op_message),
        );
    }
    if matches!(phase, "Failed" | "Error") && operation_is_for(app, commit) {
        let mut message = join("sync operation ", phase, op_message);
        for failed in failed_results(app) {
            message.push_str("; ");
            message.push_str(&failed);
        }
        return Assessment::failed(Some(sync), health, message);
    }
    if !at_commit {
        let current = synced_revisions(app)
            .first()
            .map(|r| short(r))
            .unwrap_or_else(|| "none".into());
        return Assessment::pending(
            Some(sync),
            health,
            format!("at revision {current}, waiting for {}", short(commit)),
        );
    }
    match (sync, health) {
        (_, "Degraded") => Assessment::failed(
            Some(sync),
            health,
            if health_message.is_empty() {
                degraded_resources(app).join("; ")
            } else {
                health_message.to_string()
            },
        ),
        ("Synced", "Healthy") => Assessment::healthy(Some(sync), health, "synced and healthy"),
        _ => Assessment::pending(Some(sync), health, health_message),
    }
}

/// A pending sync operation for another revision, or a running one: the caller must not
/// start a second (`argocd app sync` refuses the same way). `None` when the app is idle or
/// the running operation is already for `commit`.
pub fn busy_with_other_operation(app: &Value, commit: &str) -> Option<String> {
    let phase = text(app, &["status", "operationState", "phase"]).unwrap_or("");
    let (what, revision, initiated_by) = match app.get("operation").filter(|o| !o.is_null()) {
        Some(requested) => (
            "requested",
            requested.pointer("/sync/revision"),
            requested.get("initiatedBy"),
        ),
        None if matches!(phase, "Running" | "Terminating") => (
            phase,
            app.pointer("/status/operationState/operation/sync/revision"),
            app.pointer("/status/operationState/operation/initiatedBy"),
        ),
        None => return None,
    };
    if revision
        .and_then(Value::as_str)
        .is_some_and(|r| names_commit(r, commit))
    {
        return None;
    }
    let by = match initiated_by {
        Some(i) if i.get("automated").and_then(Value::as_bool) == Some(true) => {
            " (started by automated sync)".to_string()
        }
        Some(i) => i
            .get("username")
            .and_then(Value::as_str)
            .map(|u| format!(" (started by {u})"))
            .unwrap_or_default(),
        None => String::new(),
    };
    let since = text(app, &["status", "operationState", "startedAt"])
        .filter(|_| what != "requested")
        .map(|t| format!(" since {t}"))
        .unwrap_or_default();
    Some(format!("another operation is {what}{by}{since}"))
}

/// Whether the app's current or last operation syncs `commit`: its revisions say so, or,
/// for an operation without a revision (a multi-source app synced to each source's target,
/// which can end in `Error` before any sync result), the `Reason` this bot wrote into its
/// `info` names the commit.
fn operation_is_for(app: &Value, commit: &str) -> bool {
    let op = &app["status"]["operationState"];
    let mut revisions: Vec<&str> = Vec::new();
    if let Some(info) = op.pointer("/operation/info").and_then(Value::as_array) {
        revisions.extend(
            info.iter()
                .filter(|i| i.get("name").and_then(Value::as_str) == Some("Reason"))
                .filter_map(|i| i.get("value").and_then(Value::as_str)),
        );
    }
    for path in ["/operation/sync/revision", "/syncResult/revision"] {
        if let Some(r) = op.pointer(path).and_then(Value::as_str) {
            revisions.push(r);
        }
    }
    for path in ["/operation/sync/revisions", "/syncResult/revisions"] {
        if let Some(list) = op.pointer(path).and_then(Value::as_array) {
            revisions.extend(list.iter().filter_map(Value::as_str));
        }
    }
    if let Some(r) = app
        .pointer("/operation/sync/revision")
        .and_then(Value::as_str)
    {
        revisions.push(r);
    }
    revisions.iter().any(|r| names_commit(r, commit))
}

/// `status.sync.revision`, or `status.sync.revisions` of a multi-source app.
pub fn synced_revisions(app: &Value) -> Vec<String> {
    let sync = &app["status"]["sync"];
    let mut out: Vec<String> = sync
        .get("revision")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(|r| vec![r.to_string()])
        .unwrap_or_default();
    if let Some(list) = sync.get("revisions").and_then(Value::as_array) {
        out.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
    }
    out
}

/// The resources the last sync could not apply, as `Kind ns/name: message`.
fn failed_results(app: &Value) -> Vec<String> {
    app.pointer("/status/operationState/syncResult/resources")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter(|r| {
                    matches!(
                        r.get("status").and_then(Value::as_str),
                        Some("SyncFailed") | Some("Failed")
                    ) || matches!(
                        r.get("hookPhase").and_then(Value::as_str),
                        Some("Failed") | Some("Error")
                    )
                })
                .map(|r| {
                    format!(
                        "{} {}: {}",
                        r["kind"].as_str().unwrap_or("?"),
                        resource_name(r),
                        r["message"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `Kind ns/name: message` for each degraded resource of the app.
fn degraded_resources(app: &Value) -> Vec<String> {
    resources(app)
        .into_iter()
        .filter(|r| r.health.as_deref() == Some("Degraded"))
        .map(|r| format!("{} {}: {}", r.kind, r.name, r.message))
        .collect()
}

/// `status.resources`: every resource the app manages.
pub fn resources(app: &Value) -> Vec<ResourceRow> {
    app.pointer("/status/resources")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|r| ResourceRow {
                    kind: r["kind"].as_str().unwrap_or("?").to_string(),
                    name: resource_name(r),
                    namespace: r["namespace"]
                        .as_str()
                        .filter(|n| !n.is_empty())
                        .map(str::to_string),
                    sync: r["status"].as_str().map(str::to_string),
                    health: r
                        .pointer("/health/status")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    message: r
                        .pointer("/health/message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `namespace/name` of a resource entry of the Application's status.
fn resource_name(r: &Value) -> String {
    qualified(r["namespace"].as_str(), r["name"].as_str().unwrap_or("?"))
}

fn join(prefix: &str, phase: &str, message: &str) -> String {
    if message.is_empty() {
        format!("{prefix}{phase}")
    } else {
        format!("{prefix}{phase}: {message}")
    }
}

fn short(revision: &str) -> String {
    let r = revision.rsplit(':').next().unwrap_or(revision);
    r.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::health::Verdict;

    const SHA: &str = "1111111111111111111111111111111111111111";
    const OLD: &str = "0000000000000000000000000000000000000000";

    fn app(sync: &str, revision: &str, health: &str) -> Value {
        json!({
            "metadata": {"name": "helloworld", "namespace": "argocd"},
            "status": {
                "sync": {"status": sync, "revision": revision},
                "health": {"status": health},
            }
        })
    }

    #[test]
    fn synced_and_healthy_at_the_commit_is_healthy() {
        let a = assess(&app("Synced", SHA, "Healthy"), SHA);
        assert_eq!(a.verdict, Verdict::Healthy);
        assert_eq!(a.sync.as_deref(), Some("Synced"));
    }

    #[test]
    fn healthy_at_an_older_revision_waits() {
        let a = assess(&app("Synced", OLD, "Healthy"), SHA);
        assert_eq!(a.verdict, Verdict::Pending);
        assert!(
            a.message.contains("at revision 000000000000"),
            "{}",
            a.message
        );
    }

    #[test]
    fn degraded_at_an_older_revision_is_not_ours() {
        assert_eq!(
            assess(&app("Synced", OLD, "Degraded"), SHA).verdict,
            Verdict::Pending
        );
    }

    #[test]
    fn degraded_at_the_commit_fails_with_the_resources() {
        let mut a = app("Synced", SHA, "Degraded");
        a["status"]["resources"] = json!([
            {"kind": "Deployment", "namespace": "hello", "name": "web", "status": "Synced",
             "health": {"status": "Degraded", "message": "Deployment \"web\" exceeded its progress deadline"}},
            {"kind": "Service", "namespace": "hello", "name": "web", "status": "Synced",
             "health": {"status": "Healthy"}}
        ]);
        let out = assess(&a, SHA);
        assert_eq!(out.verdict, Verdict::Failed);
        assert_eq!(
            out.message,
            "Deployment hello/web: Deployment \"web\" exceeded its progress deadline"
        );
        assert_eq!(resources(&a).len(), 2);
        assert_eq!(resources(&a)[0].name, "hello/web");
    }

    #[test]
    fn a_failed_operation_for_the_commit_fails() {
        let mut a = app("OutOfSync", OLD, "Healthy");
        a["status"]["operationState"] = json!({
            "phase": "Failed",
            "message": "one or more objects failed to apply",
            "operation": {"sync": {"revision": SHA}},
            "syncResult": {"revision": SHA, "resources": [
                {"kind": "Deployment", "namespace": "hello", "name": "web", "status": "SyncFailed",
                 "message": "admission webhook denied the request"}
            ]}
        });
        let out = assess(&a, SHA);
        assert_eq!(out.verdict, Verdict::Failed);
        assert_eq!(
            out.message,
            "sync operation Failed: one or more objects failed to apply; Deployment hello/web: admission webhook denied the request"
        );
    }

    #[test]
    fn a_failed_operation_for_another_revision_is_waited_past() {
        let mut a = app("OutOfSync", OLD, "Healthy");
        a["status"]["operationState"] =
            json!({"phase": "Failed", "operation": {"sync": {"revision": OLD}}});
        assert_eq!(assess(&a, SHA).verdict, Verdict::Pending);
    }

    #[test]
    fn requested_and_running_operations_wait() {
        let mut a = app("Synced", SHA, "Healthy");
        a["operation"] = json!({"sync": {"revision": SHA}});
        assert_eq!(assess(&a, SHA).verdict, Verdict::Pending);
        let mut a = app("Synced", SHA, "Healthy");
        a["status"]["operationState"] =
            json!({"phase": "Running", "operation": {"sync": {"revision": SHA}}});
        assert_eq!(assess(&a, SHA).verdict, Verdict::Pending);
    }

    #[test]
    fn a_requested_operation_reports_nothing_of_the_old_status() {
        let mut a = app("Synced", OLD, "Healthy");
        a["operation"] = json!({"sync": {"revision": SHA}});
        assert_eq!(
            assess(&a, SHA),
            Assessment::waiting("waiting for Argo CD to start the sync operation")
        );
    }

    #[test]
    fn an_errored_operation_without_revision_is_ours_when_its_reason_names_the_commit() {
        let errored = |reason: String| {
            let mut a = app("Unknown", OLD, "Healthy");
            a["status"]["operationState"] = json!({
                "phase": "Error",
                "message": "ComparisonError: Manifest generation error",
                "operation": {
                    "sync": {},
                    "initiatedBy": {"username": "gitops-bot"},
                    "info": [{"name": "Reason", "value": reason}]
                }
            });
            a
        };
        let ours = assess(&errored(format!("gitops-bot sync of {SHA}")), SHA);
        assert_eq!(ours.verdict, Verdict::Failed);
        assert_eq!(
            ours.message,
            "sync operation Error: ComparisonError: Manifest generation error"
        );
        assert_eq!(
            assess(&errored(format!("gitops-bot sync of {OLD}")), SHA).verdict,
            Verdict::Pending
        );
    }

    #[test]
    fn multi_source_revisions_count() {
        let mut a = app("Synced", "", "Healthy");
        a["status"]["sync"] = json!({"status": "Synced", "revisions": ["abc", SHA]});
        assert_eq!(assess(&a, SHA).verdict, Verdict::Healthy);
    }

    #[test]
    fn busy_only_with_an_operation_for_another_revision() {
        let idle = app("Synced", OLD, "Healthy");
        assert_eq!(busy_with_other_operation(&idle, SHA), None);

        let mut other = app("Synced", OLD, "Healthy");
        other["status"]["operationState"] = json!({
            "phase": "Running", "startedAt": "2026-11-21T10:00:00Z",
            "operation": {"sync": {"revision": OLD}, "initiatedBy": {"username": "alice"}}
        });
        assert_eq!(
            busy_with_other_operation(&other, SHA).as_deref(),
            Some("another operation is Running (started by alice) since 2026-11-21T10:00:00Z")
        );

        let mut ours = app("Synced", OLD, "Healthy");
        ours["status"]["operationState"] = json!({
            "phase": "Running",
            "operation": {"sync": {"revision": SHA}, "initiatedBy": {"automated": true}}
        });
        assert_eq!(busy_with_other_operation(&ours, SHA), None);

        let mut finished = app("Synced", OLD, "Healthy");
        finished["status"]["operationState"] =
            json!({"phase": "Succeeded", "operation": {"sync": {"revision": OLD}}});
        assert_eq!(busy_with_other_operation(&finished, SHA), None);
    }
}
