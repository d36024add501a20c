//! The direct-apply runner of `sync`: server-side apply of a directory's objects, then the
//! rollouts of its workloads, ended early when their new pods are stuck.

use serde_json::Value;

use crate::cluster::apply::{FIELD_MANAGER, Mode, apply_all};
use crate::cluster::{ClusterError, pods};
use crate::health::{self, Assessment, qualified, rollout};
use crate::render;

use super::deploy::{Context, End, Ended, first_line, reason_for, result, row, settle};

pub(super) async fn run(ctx: &Context<'_>, path: &std::path::Path) -> Result<Ended, ClusterError> {
    let objects = render::objects(path)?;
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
