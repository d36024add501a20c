//! One environment's part of a sync, from its deployment record to its verdict: the
//! targets deployed concurrently, the result reported on GitLab, and on a healthy verdict
//! the [`healthy::on_healthy`] step. Environments of one sync run this side by side, each
//! with its own targets, namespace, record, label and comment.

use std::time::Instant;

use kube::Client;

use crate::config::RepoConfig;
use crate::deploy::outcome::Summary;
use crate::deploy::plan::Planned;
use crate::gitlab::{GitlabClient, UserRef};

use super::healthy::{self, HealthyVerdict};
use super::progress::Progress;
use super::report::{self, Brought};
use super::runner::Context;
use super::{deploy_all, names};

/// What every environment of one sync shares.
pub(crate) struct Shared<'a> {
    pub gitlab: &'a GitlabClient,
    pub project: &'a str,
    pub bot: &'a UserRef,
    pub brought: &'a [Brought],
    pub config: &'a RepoConfig,
    pub commit: &'a str,
    pub client: &'a Client,
    pub deadline: Instant,
    pub observe_only: bool,
    pub rollback_on_failure: bool,
    /// Shown in the Argo CD operation's info: who asked, from which job.
    pub info: &'a str,
    pub progress: &'a Progress,
}

/// How one environment's deploy ended.
pub struct Verdict {
    pub summary: Summary,
    /// Its targets, as the job log names them.
    pub targets: String,
}

/// Deploys `planned`, reports it, and runs the healthy step when it is healthy.
pub(crate) async fn deploy(shared: &Shared<'_>, planned: &Planned) -> Verdict {
    let environment = planned.environment.as_deref();
    let deployment = report::start_deployment(
        shared.gitlab,
        shared.project,
        environment,
        shared.commit,
        shared.brought,
    )
    .await;
    let default_namespace = planned
        .namespace
        .as_deref()
        .unwrap_or_else(|| shared.client.default_namespace());
    let context = Context {
        client: shared.client,
        commit: shared.commit,
        deadline: shared.deadline,
        observe_only: shared.observe_only,
        default_namespace,
        info: shared.info,
        progress: shared.progress,
    };
    let reports = deploy_all(&context, &planned.targets).await;
    let summary = Summary::new(
        &reports,
        planned.environment.clone(),
        shared.commit,
        shared.progress.elapsed(),
    );
    report::publish(
        shared.gitlab,
        shared.project,
        shared.bot,
        shared.brought,
        &summary,
        shared.rollback_on_failure,
        deployment,
    )
    .await;
    if let (true, Some(environment)) = (summary.healthy(), environment) {
        let verdict = HealthyVerdict {
            project: shared.project,
            config: shared.config,
            environment,
            commit: shared.commit,
            deployment,
            brought: shared
                .brought
                .iter()
                .map(|b| b.merge_request.clone())
                .collect(),
        };
        healthy::on_healthy(shared.gitlab, shared.bot, &verdict).await;
    }
    Verdict {
        summary,
        targets: names(&planned.targets),
    }
}
