//! The Argo CD runner of `sync`: request a sync of exactly the commit (unless observing),
//! then watch the Application to an outcome.

use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::Value;

use crate::cluster::apply::FIELD_MANAGER;
use crate::cluster::{ClusterError, dynamic_api, resource_of};
use crate::commit_sha;
use crate::deploy::argocd::{SyncRequest, sync_request};
use crate::deploy::outcome::{Outcome, TargetReport};
use crate::health::{ResourceRow, argocd};

use super::runner::{Context, explain_rows, get, merge_patch, settle};

pub(crate) async fn run(
    ctx: &Context<'_>,
    namespace: &str,
    name: &str,
) -> Result<TargetReport, ClusterError> {
    let resource = resource_of(ctx.client, "argoproj.io", "Application").await?;
    let api = dynamic_api(ctx.client, &resource, Some(namespace));
    let label = format!("Application {namespace}/{name}");
    if !ctx.observe_only {
        request_argo_sync(ctx, &api, &resource, namespace, name, &label).await?;
    }
    let commit = ctx.commit;
    let (outcome, seen) = settle(ctx, &resource, Some(namespace), name, |v| {
        argocd::assess(v, commit)
    })
    .await?;
    let last = seen.assessment.as_ref();
    let mut rows = vec![ResourceRow::new("Application", Some(namespace), name, last)];
    let managed = argocd::resources(&seen.object);
    let mut details = Vec::new();
    if outcome != Outcome::Healthy {
        details = explain_rows(ctx, &managed).await;
    }
    rows.extend(managed);
    Ok(TargetReport {
        outcome,
        reason: ctx.reason(outcome, &label, last),
        rows,
        details,
    })
}

/// Sends the [`sync_request`] for the app as it is now; on a conflict (the app changed
/// between the read and the write) reads it again, three times at most.
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
        let patch = match sync_request(&value, ctx.commit, FIELD_MANAGER, ctx.info) {
            SyncRequest::Refuse { operation } => {
                return Err(ClusterError::OperationRunning { operation });
            }
            SyncRequest::Underway => {
                ctx.progress.note(&format!(
                    "{label}: already syncing or synced at this commit; watching"
                ));
                return Ok(());
            }
            SyncRequest::Start(patch) => patch,
        };
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
