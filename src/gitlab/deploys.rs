//! The GitLab calls behind `sync`: the merge requests that brought a commit, editing a
//! comment, and GitLab deployment records.

use gitlab::api::projects;
use gitlab::api::projects::deployments::{CreateDeployment, DeploymentStatus, EditDeployment};
use gitlab::api::projects::merge_requests as mrs;
use serde::Deserialize;

use super::api::{MergeRequest, Note, build_error};
use super::client::{GitlabClient, GitlabError};

/// A deployment record.
#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    pub id: u64,
}

/// How a recorded deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentOutcome {
    Success,
    Failed,
}

impl GitlabClient {
    /// The merge requests that contain `sha` (GitLab: "merge requests associated with a
    /// commit"), merged or not.
    pub async fn merge_requests_for_commit(
        &self,
        project: &str,
        sha: &str,
    ) -> Result<Vec<MergeRequest>, GitlabError> {
        let endpoint = projects::repository::commits::MergeRequests::builder()
            .project(project)
            .sha(sha)
            .build()
            .map_err(|e| build_error("commit merge requests", e))?;
        self.all_pages(&endpoint).await
    }

    pub async fn update_note(
        &self,
        project: &str,
        iid: u64,
        note_id: u64,
        body: &str,
    ) -> Result<Note, GitlabError> {
        let endpoint = mrs::notes::EditMergeRequestNote::builder()
            .project(project)
            .merge_request(iid)
            .note(note_id)
            .body(body)
            .build()
            .map_err(|e| build_error("edit note", e))?;
        self.call(&endpoint).await
    }

    /// Records a running deployment of `sha` (from branch `ref_`) to `environment`.
    pub async fn start_deployment(
        &self,
        project: &str,
        environment: &str,
        sha: &str,
        ref_: &str,
    ) -> Result<Deployment, GitlabError> {
        let endpoint = CreateDeployment::builder()
            .project(project)
            .environment(environment)
            .sha(sha)
            .ref_(ref_)
            .tag(false)
            .status(DeploymentStatus::Running)
            .build()
            .map_err(|e| build_error("create deployment", e))?;
        self.call(&endpoint).await
    }

    pub async fn finish_deployment(
        &self,
        project: &str,
        id: u64,
        outcome: DeploymentOutcome,
    ) -> Result<Deployment, GitlabError> {
        let status = match outcome {
            DeploymentOutcome::Success => DeploymentStatus::Success,
            DeploymentOutcome::Failed => DeploymentStatus::Failed,
        };
        let endpoint = EditDeployment::builder()
            .project(project)
            .deployment_id(id)
            .status(status)
            .build()
            .map_err(|e| build_error("edit deployment", e))?;
        self.call(&endpoint).await
    }
}
