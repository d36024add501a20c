//! `bump --project P`: the change proposed as one merge request on GitLab (see
//! [`super::propose`]), reported for people and later CI jobs.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;

use crate::bump::BumpPlan;
use crate::bump::merge_request::Action;
use crate::cli::{BumpArgs, OutputFormat, UsageError};
use crate::env::var;
use crate::forms::Target;
use crate::gitlab::MergeRequest;
use crate::messages::SourceInfo;
use crate::modes::connect;
use crate::output;
use crate::workflows::auto_deploy::{self, AutoDeploy};
use crate::workflows::propose::{BumpSpec, Proposed, WouldWrite, propose, scope_paths};

pub async fn run(args: &BumpArgs) -> Result<ExitCode> {
    let project = args
        .project
        .as_deref()
        .ok_or_else(|| UsageError::new("bump needs --project ID|PATH or --local DIR"))?;
    // Checked here too, so that a bad --path or --image is refused before any request.
    scope_paths(&args.paths)?;
    let images = args.checked_images()?.to_vec();
    let gitlab = connect(&args.gitlab)?;
    let template = match &args.template {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --template {}", path.display()))?,
        ),
        None => None,
    };
    let spec = BumpSpec {
        promotion: None,
        base: None,
        images,
        setter: args.setter.clone(),
        paths: args.paths.clone(),
        environment: args.environment.clone(),
        target_branch: args.target_branch.clone(),
        assignees: args.assignees.clone(),
        reviewers: args.reviewers.clone(),
        labels: args.labels.clone(),
        template,
        reopen: args.reopen,
        dry_run: args.dry_run,
        strict: args.strict,
        refresh: false,
        source: source_from_env(),
        rollback: None,
        branch: None,
        section: None,
        read_at_base: None,
        known_users: Vec::new(),
    };
    match propose(&gitlab, project, &spec).await? {
        Proposed::Rejected { plan, error } => {
            output::print_warnings(&plan);
            Err(error.into())
        }
        Proposed::Done(proposal) => {
            let images: Vec<String> = args.images.iter().map(ToString::to_string).collect();
            let targets: Vec<Target> = args
                .images
                .iter()
                .map(|image| Target {
                    image: image.clone(),
                    setter: args.setter.clone(),
                })
                .collect();
            let (env, mr) = (args.environment.as_deref(), proposal.merge_request.as_ref());
            let auto = auto_deploy::after_bump(
                &gitlab,
                project,
                &proposal.config,
                env,
                proposal.action,
                mr,
                &targets,
            )
            .await?;
            let written = proposal.config.board && !args.dry_run;
            crate::workflows::board::after_write(&gitlab, project, written).await;
            let report = Report {
                auto_deploy: auto.as_ref(),
                plan: &proposal.plan,
                images: &images,
                branch: &proposal.branch,
                would_write: proposal.would_write.as_ref(),
                args,
            };
            report.finish(proposal.action, proposal.merge_request.as_ref())
        }
    }
}

/// Where the image came from: the predefined variables of the app pipeline running `bump`.
fn source_from_env() -> SourceInfo {
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
        triggered_by: var("GITLAB_USER_LOGIN"),
    }
}

struct Report<'a> {
    plan: &'a BumpPlan,
    images: &'a [String],
    branch: &'a str,
    /// With `--dry-run`: the merge request that would be written.
    would_write: Option<&'a WouldWrite>,
    /// What `auto_deploy` did, when it applies.
    auto_deploy: Option<&'a AutoDeploy>,
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
            (Action::Current, Some(mr)) => {
                format!(
                    "already proposed in merge request !{}: {}",
                    mr.iid, mr.web_url
                )
            }
            (Action::ClosedNotReopened, Some(mr)) => format!(
                "merge request !{} for this version was closed by a person; not reopening it (pass --reopen to reopen): {}",
                mr.iid, mr.web_url
            ),
            (Action::AlreadyDeployed, _) => {
                format!(
                    "already deployed: the target branch has {}",
                    self.images.join(", ")
                )
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
                if let Some(would) = self.would_write {
                    output::print_dry_run_merge_request(
                        self.branch,
                        &would.fields,
                        &would.assignees,
                        &would.reviewers,
                    );
                }
                match action {
                    Action::Created | Action::Updated | Action::Reopened => {
                        output::print_text(self.plan, self.images, false);
                    }
                    // A dry run's diff is in the description printed above; an already
                    // deployed version has none.
                    Action::DryRun | Action::AlreadyDeployed => {
                        output::print_summary(self.plan, self.images);
                    }
                    // Nothing was written: a summary of "updated" references would mislead.
                    Action::Current | Action::ClosedNotReopened => {
                        output::print_warnings(self.plan);
                    }
                }
                println!("{line}");
                if let Some(auto) = self.auto_deploy {
                    println!("{auto}");
                }
            }
            OutputFormat::Json => output::print_json(
                self.plan,
                self.images,
                self.args.dry_run,
                json!({
                    "action": action,
                    "branch": self.branch,
                    "merge_request": mr_json,
                    "would_write": self.would_write.map(|w| json!({
                        "title": w.fields.title,
                        "assignees": w.assignees,
                        "reviewers": w.reviewers,
                        "labels": w.fields.labels,
                        "description": w.fields.description,
                    })),
                    "message": line,
                    "auto_deploy": self.auto_deploy,
                }),
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
