//! The Flux runner of `sync`: request a reconcile of the object and its source (unless
//! observing), then watch the Kustomization or HelmRelease to an outcome.

use serde_json::Value;

use crate::cluster::{ClusterError, dynamic_api, resource_of};
use crate::commit_sha;
use crate::deploy::FluxKind;
use crate::deploy::flux::{SOURCE_GROUP, reconcile_patch, source_ref};
use crate::deploy::outcome::{Outcome, TargetReport};
use crate::health::{Assessment, ResourceRow, flux};

use super::runner::{Context, explain_rows, first_line, get, merge_patch, settle};

pub(crate) async fn run(
    ctx: &Context<'_>,
    kind: FluxKind,
    namespace: &str,
    name: &str,
) -> Result<TargetReport, ClusterError> {
    let resource = resource_of(ctx.client, kind.group(), kind.kind()).await?;
    let api = dynamic_api(ctx.client, &resource, Some(namespace));
    let label = format!("{} {namespace}/{name}", kind.kind());
    let object = get(&api, &resource, namespace, name).await?;
    let value = serde_json::to_value(&object).unwrap_or(Value::Null);
    if let Some(why) = flux::suspended(&value, kind.kind()) {
        // `flux reconcile` refuses the same way: the controller would never answer.
        let last = Assessment::failed(None, "Suspended", why);
        ctx.progress.transition(&label, &last);
        return Ok(TargetReport {
            outcome: Outcome::Failed,
            reason: ctx.reason(Outcome::Failed, &label, Some(&last)),
            rows: vec![ResourceRow::new(
                kind.kind(),
                Some(namespace),
                name,
                Some(&last),
            )],
            details: Vec::new(),
        });
    }
    let mut requested_at = None;
    if !ctx.observe_only {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let patch = reconcile_patch(&now);
        request_source_fetch(ctx, &value, namespace, &patch).await;
        merge_patch(&api, &resource, namespace, name, &patch).await?;
        ctx.progress.note(&format!(
            "{label}: reconcile of {} requested",
            commit_sha::short(ctx.commit)
        ));
        requested_at = Some(now);
    }
    let commit = ctx.commit;
    let kind_name = kind.kind();
    let (outcome, seen) = settle(ctx, &resource, Some(namespace), name, |v| {
        flux::assess(v, kind_name, commit, requested_at.as_deref())
    })
    .await?;
    let last = seen.assessment.as_ref();
    let mut rows = vec![ResourceRow::new(kind_name, Some(namespace), name, last)];
    let inventory = flux::inventory(&seen.object);
    let mut details = Vec::new();
    if outcome != Outcome::Healthy {
        details = explain_rows(ctx, &inventory).await;
    }
    rows.extend(inventory);
    Ok(TargetReport {
        outcome,
        reason: ctx.reason(outcome, &label, last),
        rows,
        details,
    })
}

/// Asks the source `obj` reads from to fetch now, with the object's own reconcile `patch`.
/// Best effort, as `flux reconcile --with-source`: without it the source fetches at its
/// interval, so a failure is only noted.
async fn request_source_fetch(ctx: &Context<'_>, obj: &Value, namespace: &str, patch: &Value) {
    let Some(source) = source_ref(obj, namespace) else {
        return;
    };
    let Ok(resource) = resource_of(ctx.client, SOURCE_GROUP, source.kind).await else {
        return;
    };
    let api = dynamic_api(ctx.client, &resource, Some(source.namespace));
    match merge_patch(&api, &resource, source.namespace, source.name, patch).await {
        Ok(_) => ctx.progress.note(&format!(
            "{} {}/{}: fetch requested",
            resource.kind, source.namespace, source.name
        )),
        Err(e) => ctx.progress.note(&format!(
            "could not ask the source to fetch now, waiting for its interval: {}",
            first_line(&e)
        )),
    }
}
