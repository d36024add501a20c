//! `sync`: deploy the merged commit, wait for the outcome, and report it where people look:
//! the job log while waiting, then one comment per environment on each merge request that
//! brought the commit (edited in place on re-runs), a `deployed::<env>` or
//! `deploy-failed::<env>` label, a GitLab deployment record, and on request a rollback
//! merge request. The targets run concurrently; the deploy is healthy only if all are.

mod argo;
mod direct;
mod flux_object;
mod progress;
mod report;
mod runner;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use crate::cli::{SyncArgs, UsageError};
use crate::commit_sha::{self, is_commit_sha};
use crate::config::{self, RepoConfig};
use crate::deploy::outcome::{Summary, TargetReport, human_duration};
use crate::deploy::{DeployTarget, resolve};
use crate::env::var;
use crate::gitlab::GitlabClient;
use crate::marker;
use crate::modes::{connect, project_or_ci};
use crate::workflows::promotion;
use crate::workflows::rollback::{Merged, merged_files};

use progress::Progress;
use report::Brought;
use runner::Context;

pub async fn run(args: &SyncArgs) -> Result<ExitCode> {
    let project = project_or_ci(args.project.as_deref())?;
    let commit = args
        .commit
        .clone()
        .or_else(|| var("CI_COMMIT_SHA"))
        .ok_or_else(|| UsageError::new("no --commit given (and no CI_COMMIT_SHA)"))?
        .to_ascii_lowercase();
    if !is_commit_sha(&commit) {
        return Err(UsageError(format!("--commit {commit:?} is not a commit SHA")).into());
    }
    if args.observe_only && !args.apply.is_empty() {
        return Err(UsageError::new(
            "--observe-only waits for a controller; it cannot be combined with --apply",
        )
        .into());
    }
    let gitlab = connect(&args.gitlab)?;
    let bot = gitlab.current_user().await?;

    let brought = brought_by(&gitlab, &project, &commit, bot.id).await?;
    let config = match gitlab
        .file_text(&project, config::FILE_NAME, &commit)
        .await?
    {
        Some(text) => RepoConfig::parse(&text, config::FILE_NAME)?,
        None => RepoConfig::absent(format!("{project} at {}", commit_sha::short(&commit))),
    };
    let environment = match &args.environment {
        Some(env) => Some(env.clone()),
        None => environment_from_git(&gitlab, &project, &brought, &config).await?,
    };
    let targets = resolve(
        args.targets(),
        &config,
        environment.as_deref(),
        args.observe_only,
    )
    .map_err(|e| {
        if e.is_usage() {
            anyhow::Error::new(UsageError(e.to_string()))
        } else {
            anyhow::Error::new(e)
        }
    })?;
    let namespace = args.namespace.clone().or_else(|| {
        let env = environment.as_deref()?;
        config.environment(env).ok()?.namespace.clone()
    });

    let client = crate::cluster::connect().await?;
    let default_namespace = namespace.unwrap_or_else(|| client.default_namespace().to_string());
    let progress = Progress::new(var("GITLAB_CI").is_some());
    match brought.as_slice() {
        [] => progress.note(&format!(
            "no merge request brought {}: the result is reported in this job log only",
            commit_sha::short(&commit)
        )),
        list => progress.note(&format!(
            "brought by {}",
            list.iter()
                .map(|b| format!("!{}", b.merge_request.iid))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    let deployment =
        report::start_deployment(&gitlab, &project, environment.as_deref(), &commit, &brought)
            .await;

    let info = format!(
        "gitops-bot sync of {commit}{}",
        var("CI_JOB_URL")
            .map(|u| format!(" ({u})"))
            .unwrap_or_default()
    );
    let context = Context {
        client: &client,
        commit: &commit,
        deadline: Instant::now() + args.timeout,
        observe_only: args.observe_only,
        default_namespace: &default_namespace,
        info: &info,
        progress: &progress,
    };
    progress.open(
        "gitops_bot_sync",
        &format!(
            "Deploying {} to {}: {}",
            commit_sha::short(&commit),
            environment.as_deref().unwrap_or("the cluster"),
            names(&targets)
        ),
    );
    let reports =
        futures_util::future::join_all(targets.iter().map(|t| deploy_one(&context, t))).await;
    progress.close("gitops_bot_sync");

    let summary = Summary::new(&reports, environment.clone(), &commit, progress.elapsed());
    report::publish(
        &gitlab,
        &project,
        &bot,
        &brought,
        &summary,
        args.rollback_on_failure,
        deployment,
    )
    .await;

    match &summary.reason {
        None => {
            println!(
                "sync: healthy: {} at {} after {}",
                names(&targets),
                commit_sha::short(&commit),
                human_duration(summary.duration)
            );
            if let Some(env) = &environment {
                promote_after(&gitlab, &project, env, &commit).await;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(reason) => {
            for line in &summary.details {
                eprintln!("  {line}");
            }
            eprintln!("sync {}: {reason}", summary.outcome);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The promotions from `environment`, now verified healthy at `commit` (its deployment
/// record already marked a success): proposed in this job for environments without a soak.
/// The deploy is what this job is for, so a failure here is a warning, not a failed job:
/// `promote` (scheduled, or by hand) proposes the same idempotently.
async fn promote_after(gitlab: &GitlabClient, project: &str, environment: &str, commit: &str) {
    let now = chrono::Utc::now();
    match promotion::after_healthy(gitlab, project, environment, commit, now).await {
        Ok(after) => {
            for line in promotion::after_sync_lines(&after) {
                println!("sync: {line}");
            }
        }
        Err(e) => eprintln!(
            "sync: warning: the promotions from {environment} were not proposed: {e:#}; run `gitops-bot promote` to propose them"
        ),
    }
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
fn names(targets: &[DeployTarget]) -> String {
    targets
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The merged merge requests that contain `commit`, with the bot's bump marker if the bot
/// opened them.
async fn brought_by(
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

/// The environment the bot's merge requests deployed to, from Git: the one whose `paths` hold
/// every file their merges changed. The description's record is only compared with it.
async fn environment_from_git(
    gitlab: &GitlabClient,
    project: &str,
    brought: &[Brought],
    config: &RepoConfig,
) -> Result<Option<String>> {
    let mut found: Vec<String> = Vec::new();
    for b in brought.iter().filter(|b| b.bump.is_some()) {
        let files = match merged_files(gitlab, project, &b.merge_request).await? {
            Merged::Known(files) => files,
            Merged::Unclear(why) => {
                tracing::warn!(iid = b.merge_request.iid, "{why}");
                continue;
            }
        };
        let env = config.environment_of(&files).map(str::to_string);
        let recorded = b.bump.as_ref().and_then(|s| s.environment.clone());
        if env != recorded {
            tracing::warn!(
                iid = b.merge_request.iid,
                "the description names environment {recorded:?}, the files the merge changed belong to {env:?}: using {env:?}"
            );
        }
        if let Some(env) = env
            && !found.contains(&env)
        {
            found.push(env);
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(UsageError(format!(
            "the merge requests of this commit changed several environments ({}): pass --environment",
            many.join(", ")
        ))
        .into()),
    }
}
