//! The Argo CD runner of `sync`: request a sync of exactly the commit (unless observing),
//! then watch the Application to a verdict.

use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::{Value, json};

use crate::cluster::apply::FIELD_MANAGER;
use crate::cluster::{ClusterError, dynamic_api, resource_of};
use crate::commit_sha;
use crate::health::{Verdict, argocd};

use super::deploy::{
    Context, End, Ended, explain_rows, get, merge_patch, reason_for, result, row, settle,
};

pub(super) async fn run(
    ctx: &Context<'_>,
    namespace: &str,
    name: &str,
) -> Result<Ended, ClusterError> {
    let resource = resource_of(ctx.client, "argoproj.io", "Application").await?;
    let api = dynamic_api(ctx.client, &resource, Some(namespace));
    let label = format!("Application {namespace}/{name}");
    if !ctx.observe_only {
        request_argo_sync(ctx, &api, &resource, namespace, name, &label).await?;
    }
    let commit = ctx.commit;
    let (end, last, app) = settle(ctx, &resource, Some(namespace), name, |v| {
        argocd::assess(v, commit)
    })
    .await?;
    let mut rows = vec![row("Application", Some(namespace), name, last.as_ref())];
    let managed = argocd::resources(&app);
    let mut details = Vec::new();
    if end != End::Healthy {
        details = explain_rows(ctx, &managed).await;
    }
    rows.extend(managed);
    Ok(result(
        end,
        reason_for(end, &label, last.as_ref(), ctx),
        rows,
        details,
    ))
}

/// Sets `operation.sync.revision` as `argocd app sync --revision` does, unless the app is
/// already at the commit or busy with it; refuses when another operation runs. The
/// `resourceVersion` in the patch makes the check and the write one atomic step.
async fn request_argo_sync(
    ctx: &Context<'_>,
    api: &Api<DynamicObject>,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
    label: &str,
) -> Result<(), ClusterError> {
    for _ in 0..3 {
        let app = get(api, resource, namespace, name).await?;
        let value = serde_json::to_value(&app).unwrap_or(Value::Null);
        if let Some(busy) = argocd::busy_with_other_operation(&value, ctx.commit) {
            return Err(ClusterError::OperationRunning { operation: busy });
        }
        let ours_pending = value.get("operation").is_some_and(|o| !o.is_null())
            || matches!(
                value
                    .pointer("/status/operationState/phase")
                    .and_then(Value::as_str),
                Some("Running" | "Terminating")
            );
        if ours_pending || argocd::assess(&value, ctx.commit).verdict == Verdict::Healthy {
            ctx.progress.note(&format!(
                "{label}: already syncing or synced at this commit; watching"
            ));
            return Ok(());
        }
        let mut sync = json!({});
        if value.pointer("/spec/sources").is_none() {
            sync["revision"] = json!(ctx.commit);
        }
        if let Some(options) = value.pointer("/spec/syncPolicy/syncOptions") {
            sync["syncOptions"] = options.clone();
        }
        let mut operation = json!({
            "initiatedBy": {"username": FIELD_MANAGER},
            "info": [{"name": "Reason", "value": ctx.info}],
            "sync": sync,
        });
        if let Some(retry) = value.pointer("/spec/syncPolicy/retry") {
            operation["retry"] = retry.clone();
        }
        let patch = json!({
            "metadata": {"resourceVersion": app.metadata.resource_version},
            "operation": operation,
        });
        match merge_patch(api, resource, namespace, name, &patch).await {
            Ok(_) => {
                ctx.progress.note(&format!(
                    "{label}: sync of {} requested",
                    commit_sha::short(ctx.commit)
                ));
                return Ok(());
            }
            // The app changed between the read and the write: read it again.
            Err(e) if e.code() == Some(409) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ClusterError::KeptChanging {
        label: label.to_string(),
    })
}
