//! The direct-apply runner of `sync`: server-side apply of a directory's objects, then the
//! rollouts of its workloads, ended early when their new pods are stuck.

use serde_json::Value;

use crate::cluster::apply::{Applied, FIELD_MANAGER, Mode, apply_all};
use crate::cluster::{ClusterError, pods};
use crate::deploy::outcome::{Outcome, TargetReport};
use crate::health::{self, Assessment, ResourceRow, qualified, rollout};
use crate::{blocking, render};

use super::runner::{Context, first_line, settle};

pub(crate) async fn run(
    ctx: &Context<'_>,
    path: &std::path::Path,
) -> Result<TargetReport, ClusterError> {
    // `kustomize build` runs off the async workers, so the other targets' watches go on.
    let dir = path.to_path_buf();
    let objects = blocking::run(move || render::objects(&dir)).await?;
    if objects.is_empty() {
        return Err(ClusterError::NoObjects {
            path: path.display().to_string(),
        });
    }
    let applied = apply_all(ctx.client, &objects, ctx.default_namespace, Mode::Apply).await?;
    ctx.progress.note(&format!(
        "apply {}: {} applied (server-side, field manager {FIELD_MANAGER})",
        path.display(),
        crate::plural::count(applied.len(), "object")
    ));
    let waits = applied.iter().map(|a| async move {
        let kind = a.resource.kind.as_str();
        if !rollout::KINDS.contains(&kind) {
            let assessment = rollout::assess(&a.object, kind);
            return (Outcome::Healthy, Some(assessment), Vec::new());
        }
        wait_rollout(ctx, a).await
    });
    let ends = futures_util::future::join_all(waits).await;
    let mut report = TargetReport {
        outcome: Outcome::Healthy,
        reason: None,
        rows: Vec::new(),
        details: Vec::new(),
    };
    for (a, (outcome, last, explanation)) in applied.iter().zip(ends) {
        let label = format!(
            "{} {}",
            a.resource.kind,
            qualified(a.namespace.as_deref(), &a.name)
        );
        report.rows.push(ResourceRow::new(
            &a.resource.kind,
            a.namespace.as_deref(),
            &a.name,
            last.as_ref(),
        ));
        report.details.extend(explanation);
        // The first object that is not healthy says how the target ended.
        if outcome != Outcome::Healthy && report.outcome == Outcome::Healthy {
            report.outcome = outcome;
            report.reason = ctx.reason(outcome, &label, last.as_ref());
        }
    }
    Ok(report)
}

/// A rollout, ended early when its new pods are stuck.
async fn wait_rollout(
    ctx: &Context<'_>,
    applied: &Applied,
) -> (Outcome, Option<Assessment>, Vec<String>) {
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
            Ok((Outcome::Healthy, seen)) => (Outcome::Healthy, seen.assessment, Vec::new()),
            Ok((outcome, seen)) => {
                let details = match (selector.as_deref(), namespace) {
                    (Some(sel), Some(ns)) => pods::explain(ctx.client, ns, Some(sel), Some(&template_images)).await,
                    _ => Vec::new(),
                };
                (outcome, seen.assessment, details)
            }
            Err(e) => (Outcome::Failed, Some(Assessment::failed(None, "Unknown", first_line(&e))), Vec::new()),
        },
        Some(explanation) = stuck => {
            let first = explanation.first().cloned().unwrap_or_else(|| "pods are stuck".into());
            let assessment = Assessment::failed(Some("Applied"), "Degraded", first);
            ctx.progress.transition(&label, &assessment);
            (Outcome::Failed, Some(assessment), explanation)
        }
    }
}
