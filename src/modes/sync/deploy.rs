//! One target of `sync`, from request to verdict: an Argo CD Application, a Flux object or a
//! directory applied directly. Each runner asks for the deploy (unless observing), waits on
//! a watch, and returns what the result comment and the job log need. Errors become failed
//! results naming the resource, so one broken target never hides the others' outcome.

use std::time::Instant;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::cluster::apply::{FIELD_MANAGER, Mode, apply_all};
use crate::cluster::wait::{WaitEnd, until_settled};
use crate::cluster::{ClusterError, Subject, dynamic_api, pods, resource_of};
use crate::health::{self, Assessment, ResourceRow, Verdict, argocd, flux, rollout};
use crate::render;
use crate::targets::{FluxKind, Target};

use super::progress::Progress;

/// How a target ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Healthy,
    Failed,
    TimedOut,
}

#[derive(Debug, Clone)]
pub struct TargetResult {
    pub target: Target,
    pub end: End,
    /// One line: why it failed or what it was waiting for.
    pub reason: Option<String>,
    pub rows: Vec<ResourceRow>,
    /// Longer explanations (pod states, the RBAC rule to add), one line each.
    pub details: Vec<String>,
}

/// What a runner found, before it is tied to its target.
struct Ended {
    end: End,
    reason: Option<String>,
    rows: Vec<ResourceRow>,
    details: Vec<String>,
}

/// What every runner shares.
pub struct Context<'a> {
    pub client: &'a Client,
    pub commit: &'a str,
    pub deadline: Instant,
    pub observe_only: bool,
    pub default_namespace: &'a str,
    /// Shown in Argo CD's operation info and Flux's logs: who asked.
    pub reason: &'a str,
    pub progress: &'a Progress,
}

pub async fn run(ctx: &Context<'_>, target: &Target) -> TargetResult {
    let outcome = match target {
        Target::ArgoApp { namespace, name } => argo(ctx, namespace, name).await,
        Target::Flux {
            kind,
            namespace,
            name,
        } => flux_object(ctx, *kind, namespace, name).await,
        Target::Apply { path } => apply(ctx, path).await,
    };
    match outcome {
        Ok(ended) => TargetResult {
            target: target.clone(),
            end: ended.end,
            reason: ended.reason,
            rows: ended.rows,
            details: ended.details,
        },
        Err(err) => {
            let text = err.to_string();
            let mut lines = text.lines();
            let reason = format!("{target}: {}", lines.next().unwrap_or_default());
            ctx.progress.note(&reason);
            TargetResult {
                target: target.clone(),
                end: End::Failed,
                reason: Some(reason),
                rows: Vec::new(),
                details: lines.map(str::to_string).collect(),
            }
        }
    }
}

fn result(end: End, reason: Option<String>, rows: Vec<ResourceRow>, details: Vec<String>) -> Ended {
    Ended {
        end,
        reason,
        rows,
        details,
    }
}

fn row(kind: &str, namespace: Option<&str>, name: &str, a: Option<&Assessment>) -> ResourceRow {
    ResourceRow {
        kind: kind.to_string(),
        name: match namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        },
        namespace: namespace.map(str::to_string),
        sync: a.and_then(|a| a.sync.clone()),
        health: a.map(|a| a.health.clone()),
        message: a.map(|a| a.message.clone()).unwrap_or_default(),
    }
}

async fn get(
    api: &Api<DynamicObject>,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
) -> Result<DynamicObject, ClusterError> {
    api.get(name).await.map_err(|e| {
        Subject {
            verb: "get",
            resource,
            namespace: Some(namespace),
            name: Some(name),
        }
        .error(e)
    })
}

async fn merge_patch(
    api: &Api<DynamicObject>,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
    patch: &Value,
) -> Result<DynamicObject, ClusterError> {
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(|e| {
            Subject {
                verb: "patch",
                resource,
                namespace: Some(namespace),
                name: Some(name),
            }
            .error(e)
        })
}

/// Waits on one object and turns the end into a verdict and its last assessment.
async fn settle(
    ctx: &Context<'_>,
    resource: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    assess: impl FnMut(&Value) -> Assessment,
) -> Result<(End, Option<Assessment>, Value), ClusterError> {
    let label = match namespace {
        Some(ns) => format!("{} {ns}/{name}", resource.kind),
        None => format!("{} {name}", resource.kind),
    };
    let end = until_settled(
        ctx.client,
        resource,
        namespace,
        name,
        ctx.deadline,
        assess,
        |a| ctx.progress.transition(&label, a),
    )
    .await?;
    Ok(match end {
        WaitEnd::Settled(a, obj) if a.verdict == Verdict::Healthy => (End::Healthy, Some(a), obj),
        WaitEnd::Settled(a, obj) => (End::Failed, Some(a), obj),
        WaitEnd::TimedOut(a, obj) => (End::TimedOut, a, obj),
    })
}

fn reason_for(
    end: End,
    label: &str,
    last: Option<&Assessment>,
    ctx: &Context<'_>,
) -> Option<String> {
    let message = last.map(|a| a.message.as_str()).filter(|m| !m.is_empty());
    match end {
        End::Healthy => None,
        End::Failed => Some(format!("{label}: {}", message.unwrap_or("failed"))),
        End::TimedOut => Some(format!(
            "{label}: not healthy after {} ({})",
            super::progress::human(ctx.progress.elapsed()),
            last.map(|a| format!(
                "{}{}",
                a.health,
                message.map(|m| format!(": {m}")).unwrap_or_default()
            ))
            .unwrap_or_else(|| "no status seen".into())
        )),
    }
}

async fn argo(ctx: &Context<'_>, namespace: &str, name: &str) -> Result<Ended, ClusterError> {
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
            return Err(ClusterError::Invalid(format!(
                "{busy}; not starting another sync. Wait for it to finish and run the job again, or use --observe-only"
            )));
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
            "info": [{"name": "Reason", "value": ctx.reason}],
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
                ctx.progress
                    .note(&format!("{label}: sync of {} requested", short(ctx.commit)));
                return Ok(());
            }
            Err(ClusterError::Api { source, .. }) if matches!(*source, kube::Error::Api(ref s) if s.code == 409) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Err(ClusterError::Invalid(format!(
        "{label} kept changing while the sync was requested; run the job again"
    )))
}

async fn flux_object(
    ctx: &Context<'_>,
    kind: FluxKind,
    namespace: &str,
    name: &str,
) -> Result<Ended, ClusterError> {
    let resource = resource_of(ctx.client, kind.group(), kind.kind()).await?;
    let api = dynamic_api(ctx.client, &resource, Some(namespace));
    let label = format!("{} {namespace}/{name}", kind.kind());
    let object = get(&api, &resource, namespace, name).await?;
    let mut requested_at = None;
    if !ctx.observe_only {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let patch = json!({"metadata": {"annotations": {flux::REQUESTED_AT: now}}});
        let value = serde_json::to_value(&object).unwrap_or(Value::Null);
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
        ctx.progress.note(&format!("{label}: reconcile requested"));
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

/// Pod explanations for the namespaces of workloads among `rows` that are not healthy.
async fn explain_rows(ctx: &Context<'_>, rows: &[ResourceRow]) -> Vec<String> {
    let mut namespaces: Vec<&str> = rows
        .iter()
        .filter(|r| rollout::KINDS.contains(&r.kind.as_str()))
        .filter(|r| r.health.as_deref() != Some("Healthy"))
        .filter_map(|r| r.namespace.as_deref())
        .collect();
    namespaces.sort();
    namespaces.dedup();
    let mut out = Vec::new();
    for ns in namespaces {
        out.extend(pods::explain(ctx.client, ns, None, None).await);
    }
    out
}

async fn apply(ctx: &Context<'_>, path: &std::path::Path) -> Result<Ended, ClusterError> {
    let objects = render::objects(path).map_err(|e| ClusterError::Invalid(e.to_string()))?;
    if objects.is_empty() {
        return Err(ClusterError::Invalid(format!(
            "{} holds no Kubernetes objects",
            path.display()
        )));
    }
    let applied = apply_all(ctx.client, &objects, ctx.default_namespace, Mode::Apply).await?;
    ctx.progress.note(&format!(
        "apply {}: {} objects applied (server-side, field manager {FIELD_MANAGER})",
        path.display(),
        applied.len()
    ));
    let waits = applied.iter().map(|a| async move {
        let kind = a.resource.kind.as_str();
        if !rollout::KINDS.contains(&kind) {
            let assessment = rollout::assess(&a.object, kind);
            return (End::Healthy, Some(assessment), Vec::new());
        }
        wait_rollout(ctx, a).await
    });
    let outcomes = futures_util::future::join_all(waits).await;
    let mut rows = Vec::new();
    let mut details = Vec::new();
    let mut end = End::Healthy;
    let mut reason = None;
    for (a, (object_end, last, explanation)) in applied.iter().zip(outcomes) {
        let label = format!(
            "{} {}",
            a.resource.kind,
            qualified(a.namespace.as_deref(), &a.name)
        );
        rows.push(row(
            &a.resource.kind,
            a.namespace.as_deref(),
            &a.name,
            last.as_ref(),
        ));
        details.extend(explanation);
        if object_end != End::Healthy && end == End::Healthy {
            end = object_end;
            reason = reason_for(object_end, &label, last.as_ref(), ctx);
        }
    }
    Ok(result(end, reason, rows, details))
}

/// A rollout, ended early when its new pods are stuck.
async fn wait_rollout(
    ctx: &Context<'_>,
    applied: &crate::cluster::apply::Applied,
) -> (End, Option<Assessment>, Vec<String>) {
    let kind = applied.resource.kind.clone();
    let namespace = applied.namespace.as_deref();
    let template_images = health::pods::images(
        applied
            .object
            .pointer("/spec/template/spec")
            .unwrap_or(&Value::Null),
    );
    let selector = pods::selector_of(&applied.object);
    let rollout = settle(ctx, &applied.resource, namespace, &applied.name, |v| {
        rollout::assess(v, &kind)
    });
    let stuck = async {
        match (selector.as_deref(), namespace) {
            (Some(sel), Some(ns)) => {
                pods::first_stuck(ctx.client, ns, sel, &template_images, ctx.deadline).await
            }
            _ => None,
        }
    };
    let label = format!("{} {}", kind, qualified(namespace, &applied.name));
    tokio::select! {
        end = rollout => match end {
            Ok((End::Healthy, last, _)) => (End::Healthy, last, Vec::new()),
            Ok((end, last, _)) => {
                let details = match (selector.as_deref(), namespace) {
                    (Some(sel), Some(ns)) => pods::explain(ctx.client, ns, Some(sel), Some(&template_images)).await,
                    _ => Vec::new(),
                };
                (end, last, details)
            }
            Err(e) => (End::Failed, Some(Assessment::failed(None, "Unknown", first_line(&e))), Vec::new()),
        },
        Some(explanation) = stuck => {
            let first = explanation.first().cloned().unwrap_or_else(|| "pods are stuck".into());
            let assessment = Assessment::failed(Some("Applied"), "Degraded", first);
            ctx.progress.transition(&label, &assessment);
            (End::Failed, Some(assessment), explanation)
        }
    }
}

fn qualified(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
