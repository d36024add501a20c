//! Reporting a sync on GitLab: the result comment (upserted by its marker, one per
//! environment per merge request), the outcome label, the deployment record and the
//! rollback merge request. Reporting is best effort: a failure to comment is logged and
//! never changes the deploy's verdict or exit status.

use crate::bump::revert::image_change;
use crate::config::RepoConfig;
use crate::deploy::outcome::{Summary, human_duration};
use crate::env::var;
use crate::gitlab::{DeploymentOutcome, GitlabClient, GitlabError, MergeRequest, UserRef};
use crate::image_ref::Version;
use crate::marker::{self, BumpState, Marker, SyncRecord};
use crate::messages::{Messages, RollbackLink, SyncResultView};
use crate::workflows::propose::{Proposed, propose};
use crate::workflows::rollback::{
    Merged, Rollback, RollbackWhy, images_of, merged_file_changes, plan_rollback,
};

/// A merge request that brought the commit, with the bump it records (if the bot opened it).
pub struct Brought {
    pub merge_request: MergeRequest,
    pub bump: Option<BumpState>,
}

/// Records a running deployment when the environment is known and the CI job does not
/// already record one itself (a job with `environment:` has CI_ENVIRONMENT_NAME set).
pub async fn start_deployment(
    gitlab: &GitlabClient,
    project: &str,
    environment: Option<&str>,
    commit: &str,
    brought: &[Brought],
) -> Option<u64> {
    let environment = environment?;
    if var("CI_ENVIRONMENT_NAME").is_some() {
        return None;
    }
    let ref_ = var("CI_COMMIT_BRANCH").or_else(|| {
        brought
            .first()
            .map(|b| b.merge_request.target_branch.clone())
    })?;
    match gitlab
        .start_deployment(project, environment, commit, &ref_)
        .await
    {
        Ok(d) => Some(d.id),
        Err(e) => {
            // Said once per run, in the job log only: the merge request is about the
            // deploy, not about the bot's permissions.
            eprintln!("warning: {}", not_recorded(&e, project, environment));
            None
        }
    }
}

/// Why GitLab did not record the deployment, and the fix.
fn not_recorded(e: &GitlabError, project: &str, environment: &str) -> String {
    let fix = match e.status().map(|s| s.as_u16()) {
        Some(403) => format!(
            "the token's user needs the Developer role on {project} to record deployments (and to be allowed to deploy if {environment} is a protected environment); or run sync in a job with `environment: {environment}` and GitLab records it"
        ),
        Some(404) => format!(
            "the token's user cannot see project {project}: check --project and that the user is a member of it"
        ),
        _ => return format!("GitLab did not record the deployment to {environment}: {e}"),
    };
    format!(
        "GitLab did not record the deployment to {environment} ({}): {fix}",
        e.status_line().unwrap_or_default()
    )
}

/// Comments, labels, the deployment record and the rollback; failures are logged.
pub async fn publish(
    gitlab: &GitlabClient,
    project: &str,
    bot: &UserRef,
    brought: &[Brought],
    summary: &Summary,
    rollback_on_failure: bool,
    deployment: Option<u64>,
) {
    if let Some(id) = deployment {
        let outcome = if summary.healthy() {
            DeploymentOutcome::Success
        } else {
            DeploymentOutcome::Failed
        };
        if let Err(e) = gitlab.finish_deployment(project, id, outcome).await {
            eprintln!("warning: the GitLab deployment {id} keeps its running status: {e}");
        }
    }
    let messages = match Messages::new(None) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("cannot render the result comment: {e}");
            return;
        }
    };
    let mut deployed = Vec::new();
    for b in brought {
        deployed.push(what_merged(gitlab, project, b).await);
    }
    let results = Results {
        gitlab,
        project,
        bot,
        summary,
        messages: &messages,
    };
    // The result first, so that a rollback can link it; then the comment again with the
    // rollback's link (edited in place).
    let mut ids = Vec::new();
    for (b, changes) in brought.iter().zip(&deployed) {
        ids.push(results.post(b, changes, None).await);
    }
    if rollback_on_failure && !summary.healthy() {
        let result_url = brought
            .iter()
            .zip(&ids)
            .find(|(b, _)| b.bump.is_some())
            .and_then(|(b, id)| id.map(|id| format!("{}#note_{id}", b.merge_request.web_url)));
        let rollback = propose_rollback(gitlab, project, brought, summary, result_url).await;
        match &rollback {
            Some(Ok(link)) => println!("rollback proposed: !{} {}", link.iid, link.url),
            Some(Err(e)) => eprintln!("rollback not proposed: {e}"),
            None => eprintln!(
                "rollback not proposed: no bump merge request of the bot brought this commit"
            ),
        }
        if rollback.is_some() {
            for (b, changes) in brought.iter().zip(&deployed) {
                results.post(b, changes, rollback.as_ref()).await;
            }
        }
    }
    for b in brought {
        let iid = b.merge_request.iid;
        let (good, bad) = summary.labels();
        let (add, remove) = if summary.healthy() {
            (good, bad)
        } else {
            (bad, good)
        };
        if let Err(e) = gitlab.edit_labels(project, iid, &[&add], &[&remove]).await {
            eprintln!("warning: could not label !{iid} {add}: {e}");
        }
    }
}

/// What merging `brought` did to each of its images, from Git: `helloworld ci-34 → ci-35`.
async fn what_merged(gitlab: &GitlabClient, project: &str, brought: &Brought) -> Vec<String> {
    let Some(hint) = &brought.bump else {
        return Vec::new();
    };
    let Ok(images) = images_of(hint) else {
        return Vec::new();
    };
    let iid = brought.merge_request.iid;
    let files = match merged_file_changes(gitlab, project, &brought.merge_request).await {
        Ok(Merged::Known((files, _))) => files,
        Ok(Merged::Unclear(why)) => {
            tracing::warn!(iid, "what the merge changed is not a version change: {why}");
            return Vec::new();
        }
        Err(e) => {
            tracing::warn!(iid, "cannot read what the merge changed: {e:#}");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for image in images {
        match image_change(&files, &image) {
            Ok(change) => out.push(format!(
                "{} {} → {}",
                image.name.as_str(),
                list(&change.before),
                list(&change.after)
            )),
            Err(why) => {
                tracing::warn!(iid, "what the merge changed is not a version change: {why}");
            }
        }
    }
    out
}

/// Writes the result comments of one sync.
struct Results<'a> {
    gitlab: &'a GitlabClient,
    project: &'a str,
    bot: &'a UserRef,
    summary: &'a Summary,
    messages: &'a Messages,
}

impl Results<'_> {
    /// The result comment on one merge request; its id, or `None` when it could not be
    /// written (logged).
    async fn post(
        &self,
        brought: &Brought,
        deployed: &[String],
        rollback: Option<&Result<RollbackLink, String>>,
    ) -> Option<u64> {
        match self.comment(brought, deployed, rollback).await {
            Ok(id) => Some(id),
            Err(e) => {
                let iid = brought.merge_request.iid;
                eprintln!("warning: could not comment the result on !{iid}: {e:#}");
                None
            }
        }
    }

    async fn comment(
        &self,
        brought: &Brought,
        deployed: &[String],
        rollback: Option<&Result<RollbackLink, String>>,
    ) -> anyhow::Result<u64> {
        let Results {
            gitlab,
            project,
            bot,
            summary,
            messages,
        } = *self;
        let state = Marker::Sync(SyncRecord {
            v: 1,
            environment: summary.environment.clone(),
            commit: summary.commit.clone(),
            outcome: summary.outcome.to_string(),
        });
        let view = SyncResultView {
            outcome: summary.outcome.to_string(),
            destination: summary
                .environment
                .clone()
                .unwrap_or_else(|| brought.merge_request.target_branch.clone()),
            commit: summary.commit.clone(),
            commit_url: var("CI_PROJECT_URL").map(|u| format!("{u}/-/commit/{}", summary.commit)),
            pipeline_url: var("CI_JOB_URL").or_else(|| var("CI_PIPELINE_URL")),
            duration: human_duration(summary.duration),
            reason: summary.reason.clone(),
            deployed: deployed.to_vec(),
            resources: summary.rows.clone(),
            hidden_resources: 0,
            details: summary.details.clone(),
            rollback: rollback.and_then(|r| r.as_ref().ok()).cloned(),
            rollback_error: rollback.and_then(|r| r.as_ref().err()).cloned(),
            marker: marker::render(&state),
        };
        let body = messages.sync_result(&view)?;
        let (id, _) = gitlab
            .ensure_note(project, brought.merge_request.iid, bot.id, &body, |text| {
                marker::sync(text).is_some_and(|m| m.environment == summary.environment)
            })
            .await?;
        Ok(id)
    }
}

/// The rollback of the first bump that brought the commit, from Git (see
/// [`rollback_spec`]), assigned to its assignees.
async fn propose_rollback(
    gitlab: &GitlabClient,
    project: &str,
    brought: &[Brought],
    summary: &Summary,
    result_url: Option<String>,
) -> Option<Result<RollbackLink, String>> {
    let b = brought.iter().find(|b| b.bump.is_some())?;
    let hint = b.bump.as_ref()?;
    let images = match images_of(hint) {
        Ok(i) => i,
        Err(e) => return Some(Err(format!("cannot read the merge request's image: {e}"))),
    };
    let why = RollbackWhy::Failed {
        reason: summary.reason.clone(),
        result_url,
    };
    let spec = match plan_rollback(
        gitlab,
        project,
        &b.merge_request,
        &images,
        hint.setter.clone(),
        why,
    )
    .await
    {
        Ok(Rollback::Propose(spec)) => *spec,
        Ok(Rollback::Refuse(reply)) => {
            let prefix = RepoConfig::default().command_prefix;
            return Some(Err(Messages::new(None)
                .and_then(|m| m.reply(&reply, &prefix))
                .unwrap_or_else(|e| e.to_string())));
        }
        Err(e) => return Some(Err(format!("{e:#}"))),
    };
    Some(match propose(gitlab, project, &spec).await {
        Ok(Proposed::Done(p)) => match p.merge_request {
            Some(m) => Ok(RollbackLink {
                iid: m.iid,
                url: m.web_url,
            }),
            None => Err("the target branch already has the previous version".into()),
        },
        Ok(Proposed::Rejected { error, .. }) => Err(error.to_string()),
        Err(e) => Err(format!("{e:#}")),
    })
}

/// `ci-34, ci-35`.
fn list(versions: &[Version]) -> String {
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
