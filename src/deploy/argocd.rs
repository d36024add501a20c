//! The sync Argo CD is asked for: `operation.sync` of exactly the commit, as
//! `argocd app sync --revision` sets it, unless the Application is busy with another
//! operation (refused, as `argocd app sync` refuses) or already syncing or synced at the
//! commit (only watched). Decides from the Application as read; the read, the patch and
//! the retry on a conflict are the `sync` mode's.

use serde_json::{Value, json};

use crate::health::{Verdict, argocd};

/// What to do about an Application before watching it.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncRequest {
    /// Another operation runs or is requested (`operation` says which): starting ours
    /// would fight it.
    Refuse { operation: String },
    /// Ours is already requested, running or done: only watch.
    Underway,
    /// The merge patch that requests the sync. Its `resourceVersion` makes the check above
    /// and the write one atomic step: a changed Application refuses it with 409.
    Start(Value),
}

/// The request for `app` (as read from the cluster) to sync `commit`. `initiated_by` and
/// `info` are recorded in the operation, as `argocd app sync` records the user and
/// `--info`. The revision is set only for a single-source app (a multi-source app syncs
/// each source to its own target); the app's sync options and retry policy are kept, as
/// `argocd app sync` keeps them.
pub fn sync_request(app: &Value, commit: &str, initiated_by: &str, info: &str) -> SyncRequest {
    if let Some(operation) = argocd::busy_with_other_operation(app, commit) {
        return SyncRequest::Refuse { operation };
    }
    let ours_pending = app.get("operation").is_some_and(|o| !o.is_null())
        || matches!(
            app.pointer("/status/operationState/phase")
                .and_then(Value::as_str),
            Some("Running" | "Terminating")
        );
    if ours_pending || argocd::assess(app, commit).verdict == Verdict::Healthy {
        return SyncRequest::Underway;
    }
    let mut sync = json!({});
    if app.pointer("/spec/sources").is_none() {
        sync["revision"] = json!(commit);
    }
    if let Some(options) = app.pointer("/spec/syncPolicy/syncOptions") {
        sync["syncOptions"] = options.clone();
    }
    let mut operation = json!({
        "initiatedBy": {"username": initiated_by},
        "info": [{"name": "Reason", "value": info}],
        "sync": sync,
    });
    if let Some(retry) = app.pointer("/spec/syncPolicy/retry") {
        operation["retry"] = retry.clone();
    }
    SyncRequest::Start(json!({
        "metadata": {"resourceVersion": app.pointer("/metadata/resourceVersion")},
        "operation": operation,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "1111111111111111111111111111111111111111";
    const OLD: &str = "0000000000000000000000000000000000000000";

    fn app(extra: Value) -> Value {
        let mut app = json!({
            "metadata": {"name": "web", "namespace": "argocd", "resourceVersion": "42"},
            "spec": {"source": {"repoURL": "https://gitlab.example.com/ops.git", "path": "prod"}},
            "status": {
                "sync": {"status": "Synced", "revision": OLD},
                "health": {"status": "Healthy"},
            },
        });
        merge(&mut app, extra);
        app
    }

    fn merge(into: &mut Value, from: Value) {
        match (into, from) {
            (Value::Object(into), Value::Object(from)) => {
                for (k, v) in from {
                    merge(into.entry(k).or_insert(Value::Null), v);
                }
            }
            (into, from) => *into = from,
        }
    }

    #[test]
    fn an_idle_app_is_asked_to_sync_exactly_the_commit() {
        let got = sync_request(
            &app(json!({})),
            SHA,
            "gitops-bot",
            "gitops-bot sync of 1111",
        );
        assert_eq!(
            got,
            SyncRequest::Start(json!({
                "metadata": {"resourceVersion": "42"},
                "operation": {
                    "initiatedBy": {"username": "gitops-bot"},
                    "info": [{"name": "Reason", "value": "gitops-bot sync of 1111"}],
                    "sync": {"revision": SHA},
                },
            }))
        );
    }

    #[test]
    fn sync_options_and_retry_are_kept_and_multi_source_apps_get_no_revision() {
        let multi = app(json!({"spec": {
            "sources": [{"path": "a"}, {"path": "b"}],
            "syncPolicy": {
                "syncOptions": ["ServerSideApply=true"],
                "retry": {"limit": 2},
            },
        }}));
        let SyncRequest::Start(patch) = sync_request(&multi, SHA, "gitops-bot", "why") else {
            panic!("an idle app is started");
        };
        assert_eq!(
            patch["operation"]["sync"],
            json!({"syncOptions": ["ServerSideApply=true"]})
        );
        assert_eq!(patch["operation"]["retry"], json!({"limit": 2}));
    }

    #[test]
    fn an_app_already_on_its_way_to_the_commit_is_only_watched() {
        for underway in [
            app(json!({"operation": {"sync": {"revision": SHA}}})),
            app(json!({"status": {"operationState": {
                "phase": "Running",
                "operation": {"sync": {"revision": SHA}},
            }}})),
            app(json!({"status": {"sync": {"revision": SHA}}})),
        ] {
            assert_eq!(
                sync_request(&underway, SHA, "gitops-bot", "why"),
                SyncRequest::Underway,
                "{underway}"
            );
        }
    }

    #[test]
    fn another_operation_is_refused_with_what_it_is() {
        let busy = app(json!({"status": {"operationState": {
            "phase": "Running",
            "startedAt": "2024-05-01T10:00:00Z",
            "operation": {
                "sync": {"revision": OLD},
                "initiatedBy": {"username": "alice"},
            },
        }}}));
        assert_eq!(
            sync_request(&busy, SHA, "gitops-bot", "why"),
            SyncRequest::Refuse {
                operation:
                    "another operation is Running (started by alice) since 2024-05-01T10:00:00Z"
                        .into()
            }
        );
    }
}
