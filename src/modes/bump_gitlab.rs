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
use crate::bump::{
    BumpPlan, Examined, MAX_FILE_SIZE, Warning, examine, in_scope, is_yaml_path, needle,
};
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

/// Re-reads when the target moved while the bot worked, at most this many times in all.
const MAX_READS: usize = 3;

/// The repository at one commit, as a bump sees it.
struct Snapshot {
    plan: BumpPlan,
    config: RepoConfig,
    scope: Vec<String>,
    /// The description template from the repository, if `.gitops-bot.yaml` names one.
    repo_template: Option<String>,
}

/// What the first read decided about existing merge requests.
enum Existing {
    None,
    /// An open merge request for an older version (with the version it proposes).
    Open(MergeRequest, Option<String>),
    /// The closed merge request for this version, to reopen (`--reopen`).
    Closed(MergeRequest),
}

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
    let image = args.image.to_string();

    let target_branch = match &args.target_branch {
        Some(b) => b.clone(),
        None => gitlab
            .project(project)
            .await?
            .default_branch
            .with_context(|| format!("project {project} has no default branch (is the repository empty?); pass --target-branch"))?,
    };
    let mut base = gitlab
        .branch_head(project, &target_branch)
        .await?
        .with_context(|| format!("branch {target_branch:?} does not exist in project {project}"))?
        .id;

    let mut existing = Existing::None;
    let mut people: Option<(Vec<u64>, Vec<u64>)> = None;
    // The merge request of an earlier pass, and what that pass did with it.
    let mut current: Option<MergeRequest> = None;
    let mut first_action: Option<Action> = None;
    for read in 1..=MAX_READS {
        let snapshot = read_snapshot(&gitlab, project, &base, args, &target).await?;
        let plan = &snapshot.plan;
        if let Err(e) = plan.check(&image, args.strict) {
            output::print_warnings(plan);
            return Err(e.into());
        }
        let request = Request {
            image: args.image.clone(),
            environment: args.environment.clone(),
            paths: snapshot.scope.clone(),
            target_branch: target_branch.clone(),
            base_sha: base.clone(),
            source: source_from_env(),
        };
        let branch = request.branch();
        let report = Report {
            plan,
            image: &image,
            branch: &branch,
            args,
        };
        if plan.changes().next().is_none() {
            return report.finish(Action::AlreadyDeployed, current.as_ref());
        }

        if read == 1 {
            let mrs = gitlab
                .merge_requests(project, &branch, &target_branch)
                .await?;
            let proposed = |mr: &MergeRequest| {
                mr.description
                    .as_deref()
                    .and_then(marker::find::<BumpState>)
                    .map(|s| s.version())
            };
            if let Some(open) = mrs.iter().find(|m| m.state == "opened") {
                let version = proposed(open);
                if version.as_deref() == Some(request.version().as_str()) {
                    return report.finish(Action::Current, Some(open));
                }
                existing = Existing::Open(open.clone(), version);
            } else if let Some(latest) = mrs.first().filter(|m| m.state == "closed")
                && proposed(latest).as_deref() == Some(request.version().as_str())
            {
                if !args.reopen {
                    return report.finish(Action::ClosedNotReopened, Some(latest));
                }
                existing = Existing::Closed(latest.clone());
            }
        }

        let template = match &args.template {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --template {}", path.display()))?,
            ),
            None => snapshot.repo_template.clone(),
        };
        let messages = Messages::new(template)?;
        let (assignee_ids, reviewer_ids) = match &people {
            Some(p) => p.clone(),
            None => {
                let config = &snapshot.config;
                let p = (
                    user_ids(
                        &gitlab,
                        pick(&args.assignees, &config.operators),
                        "--assignee / operators",
                    )
                    .await?,
                    user_ids(
                        &gitlab,
                        pick(&args.reviewers, &config.reviewers),
                        "--reviewer / reviewers",
                    )
                    .await?,
                );
                people = Some(p.clone());
                p
            }
        };
        let fields = MergeRequestFields {
            title: merge_request::title(plan, &request),
            description: messages.merge_request(&merge_request::view(plan, &request))?,
            assignee_ids,
            reviewer_ids,
            labels: pick(&args.labels, &snapshot.config.labels).to_vec(),
        };

        if args.dry_run {
            output::print_dry_run_merge_request(&branch, &fields);
            return report.finish(Action::DryRun, None);
        }

        let files: Vec<(String, String)> = plan
            .changed_files()
            .map(|(f, edited)| (f.path.clone(), edited.to_string()))
            .collect();
        let message = merge_request::commit_message(plan, &request);
        commit(&gitlab, project, &branch, &base, &message, &files).await?;

        let (action, mr) = match (&current, &existing) {
            (Some(mr), _) => (
                Action::Updated,
                gitlab
                    .update_merge_request(project, mr.iid, &fields, false)
                    .await?,
            ),
            (None, Existing::Open(mr, version)) => {
                let updated = gitlab
                    .update_merge_request(project, mr.iid, &fields, false)
                    .await?;
                let previous = match version {
                    Some(v) => vec![v.clone()],
                    None => merge_request::previous_versions(plan),
                };
                let note = messages.superseded(&SupersededView {
                    previous,
                    version: request.version(),
                    target_branch: target_branch.clone(),
                    base_sha: base.clone(),
                })?;
                gitlab.create_note(project, mr.iid, &note).await?;
                (Action::Updated, updated)
            }
            (None, Existing::Closed(mr)) => (
                Action::Reopened,
                gitlab
                    .update_merge_request(project, mr.iid, &fields, true)
                    .await?,
            ),
            (None, Existing::None) => {
                create_merge_request(&gitlab, project, &branch, &target_branch, &fields).await?
            }
        };

        // GitLab reports the target head it diffed against: if someone pushed to the target
        // meanwhile, read it again so the proposal and its description match the new head.
        let action = *first_action.get_or_insert(action);
        match mr.target_head() {
            Some(moved) if moved != base && read < MAX_READS => {
                tracing::info!(from = %base, to = %moved, "the target branch moved during the bump; reading it again");
                base = moved.to_string();
                current = Some(mr);
            }
            _ => return report.finish(action, Some(&mr)),
        }
    }
    unreachable!("the last read always returns")
}

/// Reads the archive at `sha` and plans the bump on it.
async fn read_snapshot(
    gitlab: &GitlabClient,
    project: &str,
    sha: &str,
    args: &BumpArgs,
    target: &Target,
) -> Result<Snapshot> {
    let archive = gitlab
        .archive(
            project,
            sha,
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
    let repo_template = match &config.templates.merge_request {
        Some(path) => {
            let f = file(path.trim_start_matches("./")).with_context(|| {
                format!("{}: templates.merge_request {path:?} is not in the repository (templates must live under {REPO_TEMPLATE_DIR})", config::FILE_NAME)
            })?;
            Some(String::from_utf8_lossy(&f.bytes).into_owned())
        }
        None => None,
    };

    let finder = needle(target);
    let yaml: Vec<_> = archive
        .files
        .iter()
        .filter(|f| {
            is_yaml_path(&f.path) && f.path != config::FILE_NAME && in_scope(&f.path, &scope)
        })
        .collect();
    let examined: Vec<Examined> = yaml
        .par_iter()
        .map(|f| examine(&f.path, &f.bytes, target, &finder))
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
    Ok(Snapshot {
        plan,
        config,
        scope,
        repo_template,
    })
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
    base: &str,
    message: &str,
    files: &[(String, String)],
) -> Result<Commit> {
    match gitlab
        .commit_files(project, branch, base, message, files)
        .await
    {
        Ok(c) => Ok::<Commit, GitlabError>(c),
        Err(GitlabError::Uncertain { .. }) => {
            if let Some(tip) = gitlab.branch_head(project, branch).await?
                && tip.parent_ids.first().map(String::as_str) == Some(base)
                && tip.message.trim_end() == message.trim_end()
            {
                tracing::info!(branch, "the lost commit had been made");
                return Ok(tip);
            }
            tracing::info!(branch, "the lost commit was not made; sending it again");
            Ok(gitlab
                .commit_files(project, branch, base, message, files)
                .await?)
        }
        Err(e) => Err(e),
    }
    .with_context(|| format!("cannot commit the change on branch {branch} ({BASE_TRAILER} {base})"))
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
