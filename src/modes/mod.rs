//! Modes: the small orchestrations behind each subcommand. They join the pure pieces with
//! the adapters; no YAML or HTTP details live here.

mod bump_gitlab;
mod bump_local;
mod drift;
mod handle_event;
mod poll;
mod preview;
mod promote;
mod serve;
mod status;
mod sync;

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::cli::{Cli, CommentModeArgs, GitlabArgs, Mode, UsageError};
use crate::env::var;
use crate::gitlab::{GitlabClient, Token, api_base};
use crate::workflows::comments::Dispatcher;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.mode {
        Mode::Bump(args) if args.local.is_some() => bump_local::run(&args),
        Mode::Bump(args) => runtime()?.block_on(bump_gitlab::run(&args)),
        Mode::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(serve::run(&args)),
        Mode::HandleEvent(args) => runtime()?.block_on(handle_event::run(&args)),
        Mode::Commands(args) => runtime()?.block_on(poll::run(&args)),
        Mode::Preview(args) => runtime()?.block_on(preview::run(&args)),
        Mode::Sync(args) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(sync::run(&args)),
        Mode::Drift(args) => runtime()?.block_on(drift::run(&args)),
        Mode::Promote(args) => runtime()?.block_on(promote::run(&args)),
        Mode::Status(args) => runtime()?.block_on(status::run(&args)),
    }
}

/// The engine for the comment-command modes.
pub(crate) async fn dispatcher(args: &CommentModeArgs) -> Result<Dispatcher> {
    let project = project_or_ci(args.project.as_deref())?;
    let gitlab = connect(&args.gitlab)?;
    Dispatcher::new(gitlab, &project, args.command_prefix.as_deref()).await
}

/// `--project`, else the pipeline's own project.
pub(crate) fn project_or_ci(project: Option<&str>) -> Result<String> {
    project
        .map(str::to_string)
        .or_else(|| var("CI_PROJECT_PATH"))
        .ok_or_else(|| UsageError::new("no --project given (and no CI_PROJECT_PATH)").into())
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
