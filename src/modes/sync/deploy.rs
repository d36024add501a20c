//! One target of `sync`, from request to verdict: an Argo CD Application, a Flux object or a
//! directory applied directly. Each runner asks for the deploy (unless observing), waits on
//! a watch, and returns what the result comment and the job log need. Errors become failed
//! results naming the resource, so one broken target never hides the others' outcome.

use std::time::Instant;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use crate::cluster::wait::{WaitEnd, until_settled};
use crate::cluster::{ClusterError, Subject, pods};
use crate::deploy::DeployTarget;
use crate::health::{Assessment, ResourceRow, Verdict, qualified, rollout};

use super::progress::Progress;
use super::{argo, direct, flux_object};

/// How a target ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Healthy,
    Failed,
    TimedOut,
}

#[derive(Debug, Clone)]
pub struct TargetResult {
    pub target: DeployTarget,
    pub end: End,
    /// One line: why it failed or what it was waiting for.
    pub reason: Option<String>,
    pub rows: Vec<ResourceRow>,
    /// Longer explanations (pod states, the RBAC rule to add), one line each.
    pub details: Vec<String>,
}

/// What a runner found, before it is tied to its target.
pub(super) struct Ended {
    pub end: End,
    pub reason: Option<String>,
    pub rows: Vec<ResourceRow>,
    pub details: Vec<String>,
}

/// What every runner shares.
pub struct Context<'a> {
    pub client: &'a Client,
    pub commit: &'a str,
    pub deadline: Instant,
    pub observe_only: bool,
    pub default_namespace: &'a str,
    /// Shown in the Argo CD operation's info: who asked, from which job.
    pub info: &'a str,
    pub progress: &'a Progress,
}

pub async fn run(ctx: &Context<'_>, target: &DeployTarget) -> TargetResult {
    let outcome = match target {
        DeployTarget::ArgoApp { namespace, name } => argo::run(ctx, namespace, name).await,
        DeployTarget::Flux {
            kind,
            namespace,
            name,
        } => flux_object::run(ctx, *kind, namespace, name).await,
        DeployTarget::Apply { path } => direct::run(ctx, path).await,
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

pub(super) fn result(
    end: End,
    reason: Option<String>,
    rows: Vec<ResourceRow>,
    details: Vec<String>,
) -> Ended {
    Ended {
        end,
        reason,
        rows,
        details,
    }
}

pub(super) fn row(
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    a: Option<&Assessment>,
) -> ResourceRow {
    ResourceRow {
        kind: kind.to_string(),
        name: qualified(namespace, name),
        namespace: namespace.map(str::to_string),
        sync: a.and_then(|a| a.sync.clone()),
        health: a.map(|a| a.health.clone()).filter(|h| !h.is_empty()),
        message: a.map(|a| a.message.clone()).unwrap_or_default(),
    }
}

pub(super) async fn get(
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

pub(super) async fn merge_patch(
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
pub(super) async fn settle(
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

pub(super) fn reason_for(
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
            last.map(|a| match (a.health.as_str(), message) {
                ("", Some(m)) => m.to_string(),
                (health, Some(m)) => format!("{health}: {m}"),
                (health, None) => health.to_string(),
            })
            .filter(|text| !text.is_empty())
            .unwrap_or_else(|| "no status seen".into())
        )),
    }
}

/// Pod explanations for the namespaces of workloads among `rows` that are not healthy.
pub(super) async fn explain_rows(ctx: &Context<'_>, rows: &[ResourceRow]) -> Vec<String> {
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

pub(super) fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}
