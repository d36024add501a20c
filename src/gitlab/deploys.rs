//! The GitLab calls behind `sync`: the merge requests that brought a commit, editing a
//! comment, and GitLab deployment records; and, for `promote`, an environment's latest
//! deployment records.

use chrono::{DateTime, Utc};
use gitlab::api::common::SortOrder;
use gitlab::api::projects;
use gitlab::api::projects::deployments::{
    CreateDeployment, DeploymentOrderBy, DeploymentStatus, Deployments, EditDeployment,
};
use gitlab::api::projects::merge_requests as mrs;
use serde::Deserialize;

use super::api::{MergeRequest, Note, build_error};
use super::client::{GitlabClient, GitlabError};

/// A deployment record.
#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    pub id: u64,
}

/// A deployment record as listed (only the fields read).
#[derive(Debug, Clone, Deserialize)]
struct ListedDeployment {
    id: u64,
    sha: String,
    status: String,
    updated_at: String,
    /// Set when the deployment reached a final status (GitLab 15.x and later).
    #[serde(default)]
    finished_at: Option<String>,
}

impl ListedDeployment {
    fn record(self, endpoint: &str) -> Result<crate::promotion::DeploymentRecord, GitlabError> {
        let time = self.finished_at.as_deref().unwrap_or(&self.updated_at);
        let finished_at = DateTime::parse_from_rfc3339(time)
            .map_err(|e| GitlabError::Decode {
                method: reqwest::Method::GET,
                endpoint: endpoint.to_string(),
                detail: format!("deployment {}: time {time:?}: {e}", self.id),
            })?
            .with_timezone(&Utc);
        Ok(crate::promotion::DeploymentRecord {
            id: self.id,
            sha: self.sha,
            status: self.status,
            finished_at,
        })
    }
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

    /// The latest `limit` (at most 100) deployment records of `environment`, newest first
    /// (by id: the order they were created in). One request: the caller reads the latest.
    pub async fn latest_deployments(
        &self,
        project: &str,
        environment: &str,
        limit: u8,
    ) -> Result<Vec<crate::promotion::DeploymentRecord>, GitlabError> {
        let endpoint = Deployments::builder()
            .project(project)
            .environment(environment)
            .order_by(DeploymentOrderBy::Id)
            .sort(SortOrder::Descending)
            .build()
            .map_err(|e| build_error("deployments", e))?;
        let path = gitlab::api::Endpoint::endpoint(&endpoint).to_string();
        let response = self
            .send(
                &endpoint,
                &[
                    ("per_page", limit.clamp(1, 100).to_string()),
                    ("page", "1".into()),
                ],
            )
            .await?;
        let listed: Vec<ListedDeployment> =
            serde_json::from_slice(&response.body).map_err(|e| GitlabError::Decode {
                method: reqwest::Method::GET,
                endpoint: path.clone(),
                detail: e.to_string(),
            })?;
        listed.into_iter().map(|d| d.record(&path)).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(json: &str) -> Result<crate::promotion::DeploymentRecord, GitlabError> {
        let d: ListedDeployment = serde_json::from_str(json).unwrap();
        d.record("projects/1/deployments")
    }

    #[test]
    fn healthy_since_is_finished_at_else_updated_at() {
        let finished = listed(
            r#"{"id": 3, "sha": "c3", "status": "success", "updated_at": "2026-01-01T11:00:00.000Z", "finished_at": "2026-01-01T10:00:00.000Z"}"#,
        )
        .unwrap();
        assert_eq!(
            finished.finished_at.to_rfc3339(),
            "2026-01-01T10:00:00+00:00"
        );
        assert_eq!((finished.id, finished.sha.as_str()), (3, "c3"));
        let older_gitlab = listed(
            r#"{"id": 3, "sha": "c3", "status": "success", "updated_at": "2026-01-01T11:00:00.000Z", "finished_at": null}"#,
        )
        .unwrap();
        assert_eq!(
            older_gitlab.finished_at.to_rfc3339(),
            "2026-01-01T11:00:00+00:00"
        );
        let bad =
            listed(r#"{"id": 3, "sha": "c3", "status": "success", "updated_at": "yesterday"}"#);
        assert!(bad.unwrap_err().to_string().contains("deployment 3"));
    }
}
