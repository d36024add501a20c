//! Deploying targets and waiting for their outcome: the runners behind `sync` (the mode),
//! the `sync` comment command on a drift issue and `serve --sync-on-merge`. One runner per
//! kind of target (Argo CD [`argo`], Flux [`flux_object`], direct apply [`direct`]) shares the
//! [`runner::Context`] of one deploy and prints every status transition through
//! [`progress::Progress`]; one environment's deploy, report and healthy step is
//! [`environment::deploy`]; [`sync_commit`] is the whole post-merge sync of a commit.

mod argo;
mod direct;
pub mod environment;
mod flux_object;
pub mod healthy;
pub mod progress;
pub mod report;
pub mod runner;

use std::time::Instant;

use anyhow::Result;
use kube::Client;

use crate::config::RepoConfig;
use crate::deploy::DeployTarget;
use crate::deploy::outcome::{Summary, TargetReport};
use crate::deploy::plan;
use crate::gitlab::{GitlabClient, UserRef};
use crate::marker;
use crate::workflows::checkout;
use crate::workflows::settings::settings_at;

use environment::{Shared, Verdict};
use report::Brought;

use progress::Progress;
use runner::Context;

/// Deploys `targets` concurrently with `ctx`, one report per target, in their order.
pub async fn deploy_all(ctx: &Context<'_>, targets: &[DeployTarget]) -> Vec<TargetReport> {
    futures_util::future::join_all(targets.iter().map(|t| deploy_one(ctx, t))).await
}

/// One target, from request to outcome. An error becomes a failed report naming the
/// target, so one broken target never hides the others' outcome.
async fn deploy_one(ctx: &Context<'_>, target: &DeployTarget) -> TargetReport {
    let report = match target {
        DeployTarget::ArgoApp { namespace, name } => argo::run(ctx, namespace, name).await,
        DeployTarget::Flux {
            kind,
            namespace,
            name,
        } => flux_object::run(ctx, *kind, namespace, name).await,
        DeployTarget::Apply { path } => direct::run(ctx, path).await,
    };
    match report {
        Ok(report) => report.named(target),
        Err(err) => {
            let report = TargetReport::not_carried_out(target, &err.to_string());
            if let Some(reason) = &report.reason {
                ctx.progress.note(reason);
            }
            report
        }
    }
}

/// `Application argocd/web, apply deploy`: the targets as the job log names them.
pub fn names(targets: &[DeployTarget]) -> String {
    targets
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One environment deployed again at `commit` (the head of the default branch), as `sync
/// --environment NAME` would: its Argo CD applications synced at the commit, its Flux objects
/// reconciled, its direct-apply paths rendered from the repository at the commit and applied.
/// Waits until `deadline`. What each target ended as, and the summary; nothing is reported
/// on GitLab (the caller says what happened).
pub struct Resynced {
    pub summary: Summary,
    /// Each target with how it ended, in the configured order.
    pub targets: Vec<(DeployTarget, TargetReport)>,
}

#[allow(clippy::too_many_arguments)]
pub async fn resync_environment(
    gitlab: &GitlabClient,
    client: &Client,
    project: &str,
    config: &RepoConfig,
    environment: &str,
    commit: &str,
    deadline: Instant,
    info: &str,
) -> Result<Resynced> {
    let planned = plan::environments(&[environment.to_string()], config, false, None)?;
    let Some(planned) = planned.into_iter().next() else {
        anyhow::bail!("environment {environment:?} has no targets");
    };
    let mut has_apply = false;
    for target in &planned.targets {
        if let DeployTarget::Apply { path } = target {
            checkout::check_repository_path(path).map_err(anyhow::Error::msg)?;
            has_apply = true;
        }
    }
    // Direct-apply paths are repository paths: render them from the commit, not from
    // wherever this process runs.
    let tree = if has_apply {
        let files = checkout::read_tree(gitlab, project, commit).await?;
        Some(checkout::write_tree(&files)?)
    } else {
        None
    };
    let local: Vec<DeployTarget> = planned
        .targets
        .iter()
        .map(|t| match (t, &tree) {
            (DeployTarget::Apply { path }, Some(tree)) => DeployTarget::Apply {
                path: tree.path().join(path),
            },
            _ => t.clone(),
        })
        .collect();
    let progress = Progress::new(false);
    let default_namespace = planned
        .namespace
        .as_deref()
        .unwrap_or_else(|| client.default_namespace());
    let ctx = Context {
        client,
        commit,
        deadline,
        observe_only: false,
        default_namespace,
        info,
        progress: &progress,
    };
    let reports = deploy_all(&ctx, &local).await;
    let summary = Summary::new(
        &reports,
        Some(environment.to_string()),
        commit,
        progress.elapsed(),
    );
    Ok(Resynced {
        summary,
        targets: planned.targets.into_iter().zip(reports).collect(),
    })
}

/// The merged merge requests that contain `commit`, with the bot's bump marker if the bot
/// opened them.
pub async fn brought_by(
    gitlab: &GitlabClient,
    project: &str,
    commit: &str,
    bot_id: u64,
) -> Result<Vec<Brought>> {
    let merge_requests = gitlab.merge_requests_for_commit(project, commit).await?;
    Ok(merge_requests
        .into_iter()
        .filter(|m| m.state == "merged")
        .map(|m| {
            let by_bot = m.author.as_ref().is_some_and(|a| a.id == bot_id);
            let bump = by_bot
                .then(|| marker::bump(m.description.as_deref().unwrap_or("")))
                .flatten()
                .filter(|b| !b.is_rollback());
            Brought {
                merge_request: m,
                bump,
            }
        })
        .collect())
}

/// The environments whose `paths` hold a file `commit` changed against its first parent.
pub async fn touched_by(
    gitlab: &GitlabClient,
    project: &str,
    commit: &str,
    config: &RepoConfig,
) -> Result<Vec<String>> {
    let changed: Vec<(String, String)> = gitlab
        .commit_changes(project, commit)
        .await?
        .into_iter()
        .map(|c| (c.old_path, c.new_path))
        .collect();
    Ok(plan::touched(config, &changed))
}

/// What the pipeline's `sync` job does for `commit` on the default branch with no flags:
/// every environment whose `paths` hold a file the commit changed (against its first
/// parent) deployed concurrently with its targets, each reported on the merge requests that
/// brought the commit (result comment, label, deployment record) and followed by its healthy
/// step, then the deploy board refreshed. Waits until `timeout` from now. No environment
/// touched: nothing is deployed and the list is empty.
pub async fn sync_commit(
    gitlab: &GitlabClient,
    project: &str,
    bot: &UserRef,
    commit: &str,
    timeout: std::time::Duration,
    info: &str,
) -> Result<Vec<Verdict>> {
    let brought = brought_by(gitlab, project, commit, bot.id).await?;
    let config = settings_at(gitlab, project, commit, || {
        format!("{project} at {}", crate::commit_sha::short(commit))
    })
    .await?;
    let touched = touched_by(gitlab, project, commit, &config).await?;
    let planned = plan::environments(&touched, &config, false, None)?;
    if planned.is_empty() {
        return Ok(Vec::new());
    }
    let client = crate::cluster::connect().await?;
    let progress = Progress::new(false);
    let shared = Shared {
        gitlab,
        project,
        bot,
        brought: &brought,
        config: &config,
        commit,
        client: &client,
        deadline: Instant::now() + timeout,
        observe_only: false,
        rollback_on_failure: false,
        info,
        progress: &progress,
    };
    let verdicts =
        futures_util::future::join_all(planned.iter().map(|p| environment::deploy(&shared, p)))
            .await;
    crate::workflows::board::after_write(gitlab, project, config.board).await;
    Ok(verdicts)
}
