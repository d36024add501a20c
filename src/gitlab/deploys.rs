//! The GitLab calls behind `sync`: the merge requests that brought a commit, editing a
//! comment, and GitLab deployment records; and, for `promote`, an environment's latest
//! deployment records.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::api::{MergeRequest, Note};
use super::call::{Call, project_path};
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
        let call = Call::get(format!(
            "{}/repository/commits/{}/merge_requests",
            project_path(project),
            super::call::segment(sha)
        ));
        self.all_pages(&call).await
    }

    pub async fn update_note(
        &self,
        project: &str,
        iid: u64,
        note_id: u64,
        body: &str,
    ) -> Result<Note, GitlabError> {
        let call = Call::put(format!(
            "{}/merge_requests/{iid}/notes/{note_id}",
            project_path(project)
        ))
        .param("body", body);
        self.call(&call).await
    }

    /// The latest `limit` (at most 100) deployment records of `environment`, newest first
    /// (by id: the order they were created in). One request: the caller reads the latest.
    pub async fn latest_deployments(
        &self,
        project: &str,
        environment: &str,
        limit: u8,
    ) -> Result<Vec<crate::promotion::DeploymentRecord>, GitlabError> {
        let call = Call::get(format!("{}/deployments", project_path(project)))
            .param("order_by", "id")
            .param("sort", "desc")
            .param("environment", environment);
        let path = call.path().to_string();
        let response = self
            .send(
                &call,
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
        let call = Call::post(format!("{}/deployments", project_path(project)))
            .param("environment", environment)
            .param("sha", sha)
            .param("ref", ref_)
            .param("tag", false)
            .param("status", "running");
        self.call(&call).await
    }

    pub async fn finish_deployment(
        &self,
        project: &str,
        id: u64,
        outcome: DeploymentOutcome,
    ) -> Result<Deployment, GitlabError> {
        let status = match outcome {
            DeploymentOutcome::Success => "success",
            DeploymentOutcome::Failed => "failed",
        };
        let call = Call::put(format!("{}/deployments/{id}", project_path(project)))
            .param("status", status);
        self.call(&call).await
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
