//! What follows an environment's healthy verdict, in the same job: the one place for work
//! that must wait until an environment is verified healthy at the commit (the post-sync
//! promotion of the environments promoted from it). It runs after the deployment record is
//! `success` and the result is commented, once per healthy environment, while the other
//! environments of the same sync may still be rolling out. It never changes the verdict or
//! the exit status.

use crate::config::RepoConfig;
use crate::gitlab::{GitlabClient, MergeRequest, UserRef};
use crate::workflows::promotion;

/// One environment verified healthy at one commit.
pub(crate) struct HealthyVerdict<'a> {
    pub project: &'a str,
    /// `.gitops-bot.yaml` at the commit.
    pub config: &'a RepoConfig,
    pub environment: &'a str,
    pub commit: &'a str,
    /// The GitLab deployment record this sync marked `success`, when it made one (none
    /// when the job declares `environment:` itself or GitLab refused it).
    pub deployment: Option<u64>,
    /// The merged merge requests that brought the commit, as the sync read them.
    pub brought: Vec<MergeRequest>,
}

/// Called once per environment the sync found healthy, after its deployment record and
/// result comment: for each environment Y with `promote_from:` this one and no soak, open
/// or update Y's promotion merge request; with a soak, say when `promote` will propose it.
/// The deploy is what this job is for, so a failure here is a warning, never a failed job:
/// `promote` (scheduled, or by hand) proposes the same idempotently.
pub(crate) async fn on_healthy(gitlab: &GitlabClient, bot: &UserRef, verdict: &HealthyVerdict<'_>) {
    tracing::debug!(
        project = verdict.project,
        environment = verdict.environment,
        commit = verdict.commit,
        deployment = ?verdict.deployment,
        "healthy verdict"
    );
    let promoted = verdict
        .config
        .environments
        .values()
        .any(|env| env.promote_from.as_deref() == Some(verdict.environment));
    if !promoted {
        return;
    }
    let environment = verdict.environment;
    let now = chrono::Utc::now();
    match promotion::after_healthy(
        gitlab,
        bot,
        verdict.project,
        environment,
        verdict.commit,
        &verdict.brought,
        now,
    )
    .await
    {
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
