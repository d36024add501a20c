//! Project issues: found by labels, created, edited in place, commented, closed and
//! reopened. Needs a token with the `api` scope and at least the Reporter role.

use serde::Deserialize;

use super::api::Note;
use super::call::segment as encode;
use super::call::{Call, project_path};
use super::client::{GitlabClient, GitlabError};

/// The most issues read for one label set: more is an error, never a silent cut.
const MAX_ISSUES: usize = 100;

#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub iid: u64,
    /// `opened` or `closed`.
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    pub web_url: String,
}

/// What a new issue should look like.
#[derive(Debug, Clone, Default)]
pub struct IssueFields {
    pub title: String,
    pub description: String,
    pub labels: Vec<String>,
    pub assignee_ids: Vec<u64>,
    /// An incident (`issue_type: incident`) rather than a plain issue.
    pub incident: bool,
}

/// A change of an issue's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueChange {
    Close,
    Reopen,
}

impl GitlabClient {
    /// Every issue (open or closed) carrying all of `labels`, oldest first.
    pub async fn issues_labeled(
        &self,
        project: &str,
        labels: &[String],
    ) -> Result<Vec<Issue>, GitlabError> {
        let path = format!("projects/{}/issues", encode(project));
        let mut found: Vec<Issue> = self
            .get_json(
                &path,
                &[
                    ("labels", labels.join(",")),
                    ("state", "all".into()),
                    ("per_page", MAX_ISSUES.to_string()),
                ],
            )
            .await?;
        if found.len() >= MAX_ISSUES {
            return Err(GitlabError::Decode {
                method: reqwest::Method::GET,
                endpoint: path,
                detail: format!("{MAX_ISSUES} or more issues labelled {}", labels.join(",")),
            });
        }
        found.sort_by_key(|i| i.iid);
        Ok(found)
    }

    pub async fn create_issue(
        &self,
        project: &str,
        fields: &IssueFields,
    ) -> Result<Issue, GitlabError> {
        let call = Call::post(format!("{}/issues", project_path(project)))
            .param("title", &fields.title)
            .param("description", &fields.description)
            .ids("assignee_ids", &fields.assignee_ids)
            .param("labels", fields.labels.join(","))
            .param_opt("issue_type", fields.incident.then_some("incident"));
        self.call(&call).await
    }

    /// Rewrites #`iid`'s description (when given) and closes or reopens it (when asked).
    pub async fn edit_issue(
        &self,
        project: &str,
        iid: u64,
        description: Option<&str>,
        change: Option<IssueChange>,
    ) -> Result<Issue, GitlabError> {
        let state_event = change.map(|c| match c {
            IssueChange::Close => "close",
            IssueChange::Reopen => "reopen",
        });
        let call = Call::put(format!("{}/issues/{iid}", project_path(project)))
            .param_opt("description", description)
            .param_opt("state_event", state_event);
        self.call(&call).await
    }

    pub async fn create_issue_note(
        &self,
        project: &str,
        iid: u64,
        body: &str,
    ) -> Result<Note, GitlabError> {
        let call =
            Call::post(format!("{}/issues/{iid}/notes", project_path(project))).param("body", body);
        self.call(&call).await
    }
}
