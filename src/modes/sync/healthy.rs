//! What follows an environment's healthy verdict, in the same job: the one place for work
//! that must wait until an environment is verified healthy at the commit (the post-sync
//! promotion of the environments promoted from it). It runs after the deployment record is
//! `success` and the result is commented, once per healthy environment, while the other
//! environments of the same sync may still be rolling out. It never changes the verdict or
//! the exit status.

use crate::config::RepoConfig;
use crate::gitlab::{GitlabClient, UserRef};

/// One environment verified healthy at one commit.
pub(super) struct HealthyVerdict<'a> {
    pub project: &'a str,
    /// `.gitops-bot.yaml` at the commit.
    pub config: &'a RepoConfig,
    pub environment: &'a str,
    pub commit: &'a str,
    /// The GitLab deployment record this sync marked `success`, when it made one (none
    /// when the job declares `environment:` itself or GitLab refused it).
    pub deployment: Option<u64>,
}

/// Called once per environment the sync found healthy, after its deployment record and
/// result comment. The post-sync promotion goes here: for each environment Y with
/// `promote_from:` this one, open or update Y's promotion merge request (through
/// `_gitlab`, as `_bot`). Best effort: a failure is logged, never returned.
pub(super) async fn on_healthy(
    _gitlab: &GitlabClient,
    _bot: &UserRef,
    verdict: &HealthyVerdict<'_>,
) {
    let next: Vec<&str> = verdict
        .config
        .environments
        .iter()
        .filter(|(_, env)| env.promote_from.as_deref() == Some(verdict.environment))
        .map(|(name, _)| name.as_str())
        .collect();
    tracing::debug!(
        project = verdict.project,
        environment = verdict.environment,
        commit = verdict.commit,
        deployment = ?verdict.deployment,
        promoted_to = ?next,
        "healthy verdict"
    );
}
