//! The Flux runner of `sync`: request a reconcile of the object and its source (unless
//! observing), then watch the Kustomization or HelmRelease to a verdict.

use kube::api::ApiResource;
use serde_json::{Value, json};

use crate::cluster::{ClusterError, dynamic_api, resource_of};
use crate::commit_sha;
use crate::deploy::FluxKind;
use crate::health::{Assessment, ResourceRow, flux};

use super::deploy::{
    Context, End, Ended, explain_rows, first_line, get, merge_patch, reason_for, result, row,
    settle,
};

pub(super) async fn run(
    ctx: &Context<'_>,
    kind: FluxKind,
    namespace: &str,
    name: &str,
) -> Result<Ended, ClusterError> {
    let resource = resource_of(ctx.client, kind.group(), kind.kind()).await?;
    let api = dynamic_api(ctx.client, &resource, Some(namespace));
    let label = format!("{} {namespace}/{name}", kind.kind());
    let object = get(&api, &resource, namespace, name).await?;
    let value = serde_json::to_value(&object).unwrap_or(Value::Null);
    if let Some(why) = flux::suspended(&value, kind.kind()) {
        // `flux reconcile` refuses the same way: the controller would never answer.
        let last = Assessment::failed(None, "Suspended", why);
        ctx.progress.transition(&label, &last);
        return Ok(result(
            End::Failed,
            reason_for(End::Failed, &label, Some(&last), ctx),
            vec![row(kind.kind(), Some(namespace), name, Some(&last))],
            Vec::new(),
        ));
    }
    let mut requested_at = None;
    if !ctx.observe_only {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let patch = json!({"metadata": {"annotations": {flux::REQUESTED_AT: now}}});
        if let Some((source_resource, source_ns, source_name)) =
            flux_source(ctx, &value, namespace).await
        {
            let source_api = dynamic_api(ctx.client, &source_resource, Some(&source_ns));
            match merge_patch(
                &source_api,
                &source_resource,
                &source_ns,
                &source_name,
                &patch,
            )
            .await
            {
                Ok(_) => ctx.progress.note(&format!(
                    "{} {source_ns}/{source_name}: fetch requested",
                    source_resource.kind
                )),
                Err(e) => ctx.progress.note(&format!(
                    "could not ask the source to fetch now, waiting for its interval: {}",
                    first_line(&e)
                )),
            }
        }
        merge_patch(&api, &resource, namespace, name, &patch).await?;
        ctx.progress.note(&format!(
            "{label}: reconcile of {} requested",
            commit_sha::short(ctx.commit)
        ));
        requested_at = Some(now);
    }
    let commit = ctx.commit;
    let kind_name = kind.kind();
    let (end, last, obj) = settle(ctx, &resource, Some(namespace), name, |v| {
        flux::assess(v, kind_name, commit, requested_at.as_deref())
    })
    .await?;
    let mut rows = vec![row(kind_name, Some(namespace), name, last.as_ref())];
    let inventory = inventory_rows(&obj);
    let mut details = Vec::new();
    if end != End::Healthy {
        details = explain_rows(ctx, &inventory).await;
    }
    rows.extend(inventory);
    Ok(result(
        end,
        reason_for(end, &label, last.as_ref(), ctx),
        rows,
        details,
    ))
}

/// The source a Flux object reads from (`spec.sourceRef`, or a HelmRelease's chart source).
async fn flux_source(
    ctx: &Context<'_>,
    obj: &Value,
    namespace: &str,
) -> Option<(ApiResource, String, String)> {
    let source = obj
        .pointer("/spec/sourceRef")
        .or_else(|| obj.pointer("/spec/chart/spec/sourceRef"))?;
    let kind = source.get("kind")?.as_str()?;
    let name = source.get("name")?.as_str()?.to_string();
    let ns = source
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(namespace)
        .to_string();
    let resource = resource_of(ctx.client, "source.toolkit.fluxcd.io", kind)
        .await
        .ok()?;
    Some((resource, ns, name))
}

/// `status.inventory.entries` of a Kustomization (`<ns>_<name>_<group>_<Kind>`).
fn inventory_rows(obj: &Value) -> Vec<ResourceRow> {
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
                    Some(row(kind, ns, name, None))
                })
                .collect()
        })
        .unwrap_or_default()
}
