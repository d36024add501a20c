//! `bump --project P`: the change proposed as one merge request on GitLab.
//!
//! Reads the target branch head, the repository archive at that commit, computes the edit
//! with the same engine as `--local`, then converges: one commit on the bot branch (built on
//! the commit read, so it can never undo someone else's change) and one merge request for
//! it. Every step is safe to re-run: an unchanged version writes nothing, a new version
//! resets the branch and rewrites the same merge request.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use serde_json::json;

use crate::bump::merge_request::{self, Action, BASE_TRAILER, Request};
use crate::bump::{BumpPlan, Examined, MAX_FILE_SIZE, Warning, examine, is_yaml_path, needle};
use crate::cli::{BumpArgs, OutputFormat};
use crate::config::{self, RepoConfig};
use crate::forms::Target;
use crate::gitlab::{Commit, GitlabClient, GitlabError, Limits, MergeRequest, MergeRequestFields};
use crate::marker::{self, BumpState};
use crate::messages::{Messages, SourceInfo, SupersededView};
use crate::modes::{connect, resolve_scope};
use crate::output;

/// Repository templates live under this directory of the config repo.
const REPO_TEMPLATE_DIR: &str = ".gitops-bot/";

pub async fn run(args: &BumpArgs) -> Result<ExitCode> {
    let project = args
        .project
        .as_deref()
        .context("--project is required without --local")?;
    let gitlab = connect(&args.gitlab)?;
    let target = Target {
        image: args.image.clone(),
        setter: args.setter.clone(),
    };

    let target_branch = match &args.target_branch {
        Some(b) => b.clone(),
        None => gitlab
            .project(project)
            .await?
            .default_branch
            .with_context(|| format!("project {project} has no default branch (is the repository empty?); pass --target-branch"))?,
    };
    let head = gitlab
        .branch_head(project, &target_branch)
        .await?
        .with_context(|| format!("branch {target_branch:?} does not exist in project {project}"))?;

    let archive = gitlab
        .archive(
            project,
            &head.id,
            Limits {
                max_file: MAX_FILE_SIZE,
                max_total: 4 * 1024 * 1024 * 1024,
            },
            |path| {
                is_yaml_path(path)
                    || path == config::FILE_NAME
                    || path.starts_with(REPO_TEMPLATE_DIR)
            },
        )
        .await?;
    let file = |path: &str| archive.files.iter().find(|f| f.path == path);
    let config = match file(config::FILE_NAME) {
        Some(f) => RepoConfig::parse(&String::from_utf8_lossy(&f.bytes), config::FILE_NAME)?,
        None => RepoConfig::default(),
    };
    let scope = resolve_scope(&args.paths, args.environment.as_deref(), &config)?;

    let finder = needle(&target);
    let yaml: Vec<_> = archive
        .files
        .iter()
        .filter(|f| {
            is_yaml_path(&f.path)
                && f.path != config::FILE_NAME
                && crate::bump::in_scope(&f.path, &scope)
        })
        .collect();
    let examined: Vec<Examined> = yaml
        .par_iter()
        .map(|f| examine(&f.path, &f.bytes, &target, &finder))
        .collect();
    let mut plan = BumpPlan::gather(yaml.len(), examined);
    for (path, size) in &archive.oversized {
        plan.warnings.push(Warning::file(
            path,
            format!("{size} bytes is over the {MAX_FILE_SIZE}-byte limit; skipped"),
        ));
    }
    for path in &archive.links {
        plan.warnings
            .push(Warning::file(path, "symbolic link; not followed"));
    }

    let image = args.image.to_string();
    if let Err(e) = plan.check_found(&image) {
        output::print_warnings(&plan);
        return Err(e.into());
    }
    if args.strict {
        let problems = plan.warnings.len() + plan.skipped().count();
        if problems > 0 {
            output::print_warnings(&plan);
            bail!("--strict: {problems} warning(s) above; nothing written");
        }
    }

    let request = Request {
        image: args.image.clone(),
        environment: args.environment.clone(),
        paths: scope.clone(),
        target_branch: target_branch.clone(),
        base_sha: head.id.clone(),
        source: source_from_env(),
    };
    let branch = request.branch();
    let report = Report {
        plan: &plan,
        image: &image,
        branch: &branch,
        args,
    };

    if plan.changes().next().is_none() {
        return report.finish(Action::AlreadyDeployed, None);
    }

    let existing = gitlab
        .merge_requests(project, &branch, &target_branch)
        .await?;
    let open = existing.iter().find(|m| m.state == "opened");
    let open_state =
        open.and_then(|m| m.description.as_deref().and_then(marker::find::<BumpState>));
    if let (Some(mr), Some(state)) = (open, &open_state)
        && state.version() == request.version()
    {
        return report.finish(Action::Current, Some(mr));
    }
    let closed_same_version = match (open, existing.first()) {
        (None, Some(latest)) if latest.state == "closed" => latest
            .description
            .as_deref()
            .and_then(marker::find::<BumpState>)
            .filter(|s| s.version() == request.version())
            .map(|_| latest),
        _ => None,
    };
    if let Some(mr) = closed_same_version
        && !args.reopen
    {
        return report.finish(Action::ClosedNotReopened, Some(mr));
    }

    let template = match (&args.template, &config.templates.merge_request) {
        (Some(path), _) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --template {}", path.display()))?,
        ),
        (None, Some(path)) => {
            let f = file(path.trim_start_matches("./")).with_context(|| {
                format!("{}: templates.merge_request {path:?} is not in the repository (templates must live under {REPO_TEMPLATE_DIR})", config::FILE_NAME)
            })?;
            Some(String::from_utf8_lossy(&f.bytes).into_owned())
        }
        (None, None) => None,
    };
    let messages = Messages::new(template)?;
    let fields = MergeRequestFields {
        title: merge_request::title(&plan, &request),
        description: messages.merge_request(&merge_request::view(&plan, &request))?,
        assignee_ids: user_ids(
            &gitlab,
            pick(&args.assignees, &config.operators),
            "--assignee / operators",
        )
        .await?,
        reviewer_ids: user_ids(
            &gitlab,
            pick(&args.reviewers, &config.reviewers),
            "--reviewer / reviewers",
        )
        .await?,
        labels: pick(&args.labels, &config.labels).to_vec(),
    };

    if args.dry_run {
        output::print_dry_run_merge_request(&branch, &fields);
        return report.finish(Action::DryRun, None);
    }

    let files: Vec<(String, String)> = plan
        .changed_files()
        .map(|(f, edited)| (f.path.clone(), edited.to_string()))
        .collect();
    let message = merge_request::commit_message(&plan, &request);
    commit(&gitlab, project, &branch, &head, &message, &files).await?;

    let (action, mr) = match (open, closed_same_version) {
        (Some(mr), _) => {
            let updated = gitlab
                .update_merge_request(project, mr.iid, &fields, false)
                .await?;
            let note = messages.superseded(&SupersededView {
                previous: open_state
                    .map(|s| vec![s.version()])
                    .unwrap_or_else(|| merge_request::previous_versions(&plan)),
                version: request.version(),
                target_branch: target_branch.clone(),
                base_sha: head.id.clone(),
            })?;
            gitlab.create_note(project, mr.iid, &note).await?;
            (Action::Updated, updated)
        }
        (None, Some(mr)) => (
            Action::Reopened,
            gitlab
                .update_merge_request(project, mr.iid, &fields, true)
                .await?,
        ),
        (None, None) => {
            create_merge_request(&gitlab, project, &branch, &target_branch, &fields).await?
        }
    };
    report.finish(action, Some(&mr))
}

/// Flags win over the file.
fn pick<'a>(flags: &'a [String], config: &'a [String]) -> &'a [String] {
    if flags.is_empty() { config } else { flags }
}

async fn user_ids(gitlab: &GitlabClient, names: &[String], origin: &str) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    for name in names {
        let name = name.trim_start_matches('@');
        match gitlab.user_id(name).await? {
            Some(id) => ids.push(id),
            None => bail!("unknown GitLab user {name:?} (from {origin})"),
        }
    }
    Ok(ids)
}

/// One commit on the bot branch. If the answer was lost, the branch is checked before the
/// commit is sent again, so a retry never stacks a second commit.
async fn commit(
    gitlab: &GitlabClient,
    project: &str,
    branch: &str,
    base: &Commit,
    message: &str,
    files: &[(String, String)],
) -> Result<Commit> {
    match gitlab
        .commit_files(project, branch, &base.id, message, files)
        .await
    {
        Ok(c) => Ok::<Commit, GitlabError>(c),
        Err(GitlabError::Uncertain { .. }) => {
            if let Some(tip) = gitlab.branch_head(project, branch).await?
                && tip.parent_ids.first() == Some(&base.id)
                && tip.message.trim_end() == message.trim_end()
            {
                tracing::info!(branch, "the lost commit had been made");
                return Ok(tip);
            }
            tracing::info!(branch, "the lost commit was not made; sending it again");
            Ok(gitlab
                .commit_files(project, branch, &base.id, message, files)
                .await?)
        }
        Err(e) => Err(e),
    }
    .with_context(|| {
        format!(
            "cannot commit the change on branch {branch} ({BASE_TRAILER} {})",
            base.id
        )
    })
}

/// Opens the merge request; if one appeared meanwhile (another run, or a lost answer), that
/// one is brought up to date instead.
async fn create_merge_request(
    gitlab: &GitlabClient,
    project: &str,
    branch: &str,
    target_branch: &str,
    fields: &MergeRequestFields,
) -> Result<(Action, MergeRequest)> {
    match gitlab
        .create_merge_request(project, branch, target_branch, fields)
        .await
    {
        Ok(mr) => Ok((Action::Created, mr)),
        Err(e @ (GitlabError::Uncertain { .. } | GitlabError::Status { .. }))
            if matches!(e, GitlabError::Uncertain { .. })
                || e.status() == Some(reqwest::StatusCode::CONFLICT) =>
        {
            let open = gitlab
                .merge_requests(project, branch, target_branch)
                .await?
                .into_iter()
                .find(|m| m.state == "opened");
            match open {
                Some(mr) if mr.description.as_deref() == Some(fields.description.as_str()) => {
                    Ok((Action::Created, mr))
                }
                Some(mr) => Ok((
                    Action::Updated,
                    gitlab
                        .update_merge_request(project, mr.iid, fields, false)
                        .await?,
                )),
                None => Ok((
                    Action::Created,
                    gitlab
                        .create_merge_request(project, branch, target_branch, fields)
                        .await?,
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Where the image came from: the predefined variables of the app pipeline running `bump`.
fn source_from_env() -> SourceInfo {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let project_url = var("CI_PROJECT_URL");
    let commit_sha = var("CI_COMMIT_SHA");
    SourceInfo {
        project_name: var("CI_PROJECT_PATH"),
        commit_url: match (&project_url, &commit_sha) {
            (Some(p), Some(c)) => Some(format!("{p}/-/commit/{c}")),
            _ => None,
        },
        project_url,
        commit_sha,
        pipeline_url: var("CI_PIPELINE_URL"),
    }
}

struct Report<'a> {
    plan: &'a BumpPlan,
    image: &'a str,
    branch: &'a str,
    args: &'a BumpArgs,
}

impl Report<'_> {
    fn finish(&self, action: Action, mr: Option<&MergeRequest>) -> Result<ExitCode> {
        let line = match (action, mr) {
            (Action::Created, Some(mr)) => {
                format!("created merge request !{}: {}", mr.iid, mr.web_url)
            }
            (Action::Updated, Some(mr)) => {
                format!("updated merge request !{}: {}", mr.iid, mr.web_url)
            }
            (Action::Reopened, Some(mr)) => {
                format!("reopened merge request !{}: {}", mr.iid, mr.web_url)
            }
            (Action::Current, Some(mr)) => format!(
                "merge request !{} already proposes this version: {}",
                mr.iid, mr.web_url
            ),
            (Action::ClosedNotReopened, Some(mr)) => format!(
                "merge request !{} for this version was closed by a person; not reopening it (pass --reopen to reopen): {}",
                mr.iid, mr.web_url
            ),
            (Action::AlreadyDeployed, _) => {
                format!("already deployed: the target branch has {}", self.image)
            }
            (Action::DryRun, _) => format!(
                "dry run: would open or update a merge request from {}",
                self.branch
            ),
            (_, None) => String::new(),
        };
        let mr_json = mr.map(|mr| json!({"iid": mr.iid, "url": mr.web_url, "state": mr.state}));
        match self.args.output {
            OutputFormat::Text => {
                output::print_text(self.plan, false);
                println!("{line}");
            }
            OutputFormat::Json => output::print_json(
                self.plan,
                self.image,
                self.args.dry_run,
                json!({"action": action, "branch": self.branch, "merge_request": mr_json, "message": line}),
            )?,
        }
        if let (Some(path), Some(mr)) = (&self.args.dotenv, mr) {
            write_dotenv(path, mr, self.branch)?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn write_dotenv(path: &Path, mr: &MergeRequest, branch: &str) -> Result<()> {
    let text = format!(
        "GITOPS_BOT_MR_IID={}\nGITOPS_BOT_MR_URL={}\nGITOPS_BOT_BRANCH={}\n",
        mr.iid, mr.web_url, branch
    );
    std::fs::write(path, text).with_context(|| format!("cannot write --dotenv {}", path.display()))
}
