//! Modes: the small orchestrations behind each subcommand. They join the pure pieces with
//! the adapters; no YAML or HTTP details live here.

mod bump_gitlab;
mod bump_local;
pub mod engine;
mod handle_event;
mod http_server;
mod poll;
mod preview;
pub mod propose;
mod serve;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::bump::scope_path;
use crate::cli::{Cli, Command, CommandArgs, GitlabArgs, UsageError};
use crate::config::RepoConfig;
use crate::env::var;
use crate::gitlab::{GitlabClient, Token, api_base};

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Bump(args) if args.local.is_some() => bump_local::run(&args),
        Command::Bump(args) => runtime()?.block_on(bump_gitlab::run(&args)),
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(serve::run(&args)),
        Command::HandleEvent(args) => runtime()?.block_on(handle_event::run(&args)),
        Command::Commands(args) => runtime()?.block_on(poll::run(&args)),
        Command::Preview(args) => runtime()?.block_on(preview::run(&args)),
        Command::Sync(args) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(sync::run(&args)),
    }
}

/// The engine for the comment-command modes.
pub(crate) async fn engine(args: &CommandArgs) -> Result<engine::Engine> {
    let project = project_or_ci(args.project.as_deref())?;
    let gitlab = connect(&args.gitlab)?;
    engine::Engine::new(gitlab, &project, args.command_prefix.as_deref()).await
}

/// `--project`, else the pipeline's own project.
pub(crate) fn project_or_ci(project: Option<&str>) -> Result<String> {
    project
        .map(str::to_string)
        .or_else(|| var("CI_PROJECT_PATH"))
        .ok_or_else(|| UsageError::new("no --project given (and no CI_PROJECT_PATH)").into())
}

/// Writes `body` as the bot's comment on !`iid`: edits the bot's comment that `is_same`
/// recognises (by its hidden marker), else adds one. Returns the comment's id and whether
/// it edited.
pub(crate) async fn ensure_note(
    gitlab: &GitlabClient,
    project: &str,
    iid: u64,
    bot_id: u64,
    body: &str,
    is_same: impl Fn(&str) -> bool,
) -> Result<(u64, bool)> {
    let existing = gitlab
        .notes(project, iid)
        .await?
        .into_iter()
        .find(|n| n.author.id == bot_id && is_same(&n.body));
    match existing {
        Some(note) => {
            gitlab.update_note(project, iid, note.id, body).await?;
            Ok((note.id, true))
        }
        None => Ok((gitlab.create_note(project, iid, body).await?.id, false)),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The GitLab client from flags and the CI environment.
pub(crate) fn connect(args: &GitlabArgs) -> Result<GitlabClient> {
    let url = args
        .gitlab_url
        .clone()
        .or_else(|| var("CI_API_V4_URL"))
        .or_else(|| var("CI_SERVER_URL"))
        .ok_or_else(|| {
            UsageError::new(
                "no GitLab URL: pass --gitlab-url, or run inside GitLab CI (CI_API_V4_URL)",
            )
        })?;
    let api = api_base(&url).map_err(UsageError)?;
    let token = var("GITLAB_TOKEN").context(
        "GITLAB_TOKEN is not set: store a project access token with the `api` scope (role Developer or higher on the config project) as a masked CI/CD variable named GITLAB_TOKEN",
    )?;
    if var("CI_JOB_TOKEN").is_some_and(|job| job == token) {
        bail!(
            "GITLAB_TOKEN holds the CI job token, which cannot create commits, merge requests or notes: use a project access token with the `api` scope instead"
        );
    }
    Ok(GitlabClient::new(api, Token::new(token))?)
}

/// The repository paths a bump looks at: the given paths (a rollback gives the files it
/// reverts), else the environment's paths, else everything. A `--path` outside the
/// repository and an environment `.gitops-bot.yaml` does not define are usage errors.
pub(crate) fn resolve_scope(
    paths: &[PathBuf],
    environment: Option<&str>,
    config: &RepoConfig,
) -> Result<Vec<String>> {
    match environment {
        Some(env) if paths.is_empty() => {
            let paths = config
                .environment_paths(env)
                .map_err(|e| UsageError(e.to_string()))?;
            paths
                .iter()
                .map(|p| {
                    scope_path(p).map_err(|e| {
                        anyhow::anyhow!(
                            "{}: environments.{env}.paths: {e}",
                            crate::config::FILE_NAME
                        )
                    })
                })
                .collect()
        }
        _ => scope_paths(paths).map_err(Into::into),
    }
}

/// `--path`s as repository-relative prefixes, or the usage error of the first that is not one.
pub(crate) fn scope_paths(paths: &[PathBuf]) -> Result<Vec<String>, UsageError> {
    paths
        .iter()
        .map(|p| scope_path(&p.to_string_lossy()).map_err(|e| UsageError(format!("--path: {e}"))))
        .collect()
}
