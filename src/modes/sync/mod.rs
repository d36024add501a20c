//! `sync`: deploy the merged commit to every environment it changed (or those named, or the
//! targets given), wait for the outcomes, and report each where people look: the job log
//! while waiting, then one comment per environment on each merge request that brought the
//! commit (edited in place on re-runs), a `deployed::<env>` or `deploy-failed::<env>`
//! label, a GitLab deployment record, and on request a rollback merge request. Environments
//! and their targets run concurrently; an environment is healthy only if all its targets
//! are, and the sync succeeds only if every environment is. One environment's flow (with
//! what follows a healthy verdict) lives in [`crate::workflows::sync`], shared with `serve
//! --sync-on-merge`; this mode plans from its flags and prints the verdicts.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use crate::cli::{SyncArgs, UsageError};
use crate::commit_sha::{self, is_commit_sha};
use crate::config::RepoConfig;
use crate::deploy::outcome::human_duration;
use crate::deploy::plan::{self, Planned};
use crate::deploy::{TargetsError, resolve};
use crate::env::var;
use crate::gitlab::GitlabClient;
use crate::modes::{connect, project_or_ci};
use crate::workflows::rollback::{Merged, merged_files};
use crate::workflows::settings::settings_at;

use crate::workflows::sync::environment::{self, Shared, Verdict};
use crate::workflows::sync::progress::Progress;
use crate::workflows::sync::report::Brought;
use crate::workflows::sync::{self, brought_by};

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
    if !args.targets().is_empty() && args.environment.len() > 1 {
        return Err(UsageError::new(
            "with --argocd-app, --flux or --apply, give at most one --environment (it names the result)",
        )
        .into());
    }
    let gitlab = connect(&args.gitlab)?;
    let bot = gitlab.current_user().await?;

    let brought = brought_by(&gitlab, &project, &commit, bot.id).await?;
    let config = settings_at(&gitlab, &project, &commit, || {
        format!("{project} at {}", commit_sha::short(&commit))
    })
    .await?;
    let planned = plan_sync(&gitlab, &project, &commit, args, &brought, &config).await?;
    if planned.is_empty() {
        println!(
            "sync: {} changed no file under the paths of {}: nothing to deploy",
            commit_sha::short(&commit),
            config
                .environments
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitCode::SUCCESS);
    }

    let client = crate::cluster::connect().await?;
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
    let info = format!(
        "gitops-bot sync of {commit}{}",
        var("CI_JOB_URL")
            .map(|u| format!(" ({u})"))
            .unwrap_or_default()
    );
    let shared = Shared {
        gitlab: &gitlab,
        project: &project,
        bot: &bot,
        brought: &brought,
        config: &config,
        commit: &commit,
        client: &client,
        deadline: Instant::now() + args.timeout,
        observe_only: args.observe_only,
        rollback_on_failure: args.rollback_on_failure,
        info: &info,
        progress: &progress,
    };
    progress.open(
        "gitops_bot_sync",
        &format!(
            "Deploying {} to {}",
            commit_sha::short(&commit),
            what(&planned)
        ),
    );
    let verdicts =
        futures_util::future::join_all(planned.iter().map(|p| environment::deploy(&shared, p)))
            .await;
    progress.close("gitops_bot_sync");
    crate::workflows::board::after_write(&gitlab, &project, config.board).await;
    Ok(conclude(&verdicts, &commit))
}

/// What this sync deploys: the target flags (named by at most one `--environment`, else by
/// the bot's merge requests), else the `--environment`s, else every environment whose
/// paths hold a file the commit changed against its first parent. Every environment is
/// checked before anything is deployed.
async fn plan_sync(
    gitlab: &GitlabClient,
    project: &str,
    commit: &str,
    args: &SyncArgs,
    brought: &[Brought],
    config: &RepoConfig,
) -> Result<Vec<Planned>> {
    let namespace = args.namespace.as_deref();
    let given = args.targets();
    let planned = if !given.is_empty() {
        let environment = match args.environment.first() {
            Some(env) => Some(env.clone()),
            None => environment_from_git(gitlab, project, brought, config).await?,
        };
        plan::flags(given, config, environment, namespace).map(|p| vec![p])
    } else if !args.environment.is_empty() {
        plan::environments(&args.environment, config, args.observe_only, namespace)
    } else if config.environments.is_empty() {
        resolve(Vec::new(), config, None, args.observe_only).map(|_| Vec::new())
    } else {
        let touched = sync::touched_by(gitlab, project, commit, config).await?;
        warn_unlike_records(brought, &touched);
        plan::environments(&touched, config, args.observe_only, namespace)
    };
    planned.map_err(targets_error)
}

fn targets_error(e: TargetsError) -> anyhow::Error {
    if e.is_usage() {
        anyhow::Error::new(UsageError(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}

/// A bump merge request whose description names an environment the commit's files do not
/// touch was edited (or is stale): Git decides, and the log says so.
fn warn_unlike_records(brought: &[Brought], touched: &[String]) {
    for b in brought {
        let Some(recorded) = b.bump.as_ref().and_then(|s| s.environment.as_ref()) else {
            continue;
        };
        if !touched.contains(recorded) {
            tracing::warn!(
                iid = b.merge_request.iid,
                "the description names environment {recorded:?}, the files the commit changed belong to {touched:?}: using those"
            );
        }
    }
}

/// `dev, staging: Application argocd/a, Application argocd/b`, or for one deploy
/// `prod: Application argocd/a` (`the cluster` when it has no environment).
fn what(planned: &[Planned]) -> String {
    let environments: Vec<&str> = planned
        .iter()
        .map(|p| p.environment.as_deref().unwrap_or("the cluster"))
        .collect();
    let targets: Vec<String> = planned
        .iter()
        .map(|p| crate::workflows::sync::names(&p.targets))
        .collect();
    format!("{}: {}", environments.join(", "), targets.join(", "))
}

/// Prints each environment's verdict (one deploy: as it always was) and the exit status:
/// failure when any environment is not healthy.
fn conclude(verdicts: &[Verdict], commit: &str) -> ExitCode {
    let several = verdicts.len() > 1;
    let mut failed = Vec::new();
    for v in verdicts {
        let s = &v.summary;
        let prefix = match (&s.environment, several) {
            (Some(env), true) => format!("sync of {env}"),
            _ => "sync".to_string(),
        };
        match &s.reason {
            None => println!(
                "{prefix}: healthy: {} at {} after {}",
                v.targets,
                commit_sha::short(commit),
                human_duration(s.duration)
            ),
            Some(reason) => {
                for line in &s.details {
                    eprintln!("  {line}");
                }
                eprintln!("{prefix} {}: {reason}", s.outcome);
                failed.push(s.environment.clone().unwrap_or_default());
            }
        }
    }
    match failed.as_slice() {
        [] => ExitCode::SUCCESS,
        [_] if !several => ExitCode::FAILURE,
        names => {
            eprintln!(
                "sync failed: {} of {} environments not healthy: {}",
                names.len(),
                verdicts.len(),
                names.join(", ")
            );
            ExitCode::FAILURE
        }
    }
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
