//! Project issues: found by labels, created, edited in place, commented, closed and
//! reopened. Needs a token with the `api` scope and at least the Reporter role.

use serde::Deserialize;

use super::api::{Note, UserRef};
use super::call::segment as encode;
use super::call::{Call, project_path};
use super::client::{GitlabClient, GitlabError};
use super::review::{Noteable, ThreadNote};

#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub iid: u64,
    /// `opened` or `closed`.
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    pub web_url: String,
    /// Who opened it.
    #[serde(default)]
    pub author: Option<UserRef>,
    #[serde(default)]
    pub labels: Vec<String>,
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
    /// The issues labelled `label` (open ones, or all), oldest first, every page read (one
    /// request per 100 issues).
    pub async fn issues_labeled(
        &self,
        project: &str,
        label: &str,
        open_only: bool,
    ) -> Result<Vec<Issue>, GitlabError> {
        let call = Call::get(format!("{}/issues", project_path(project)))
            .param("labels", label)
            .param("state", if open_only { "opened" } else { "all" });
        let mut found: Vec<Issue> = self.pages_until(&call, "issues", |_| false).await?;
        found.sort_by_key(|i| i.iid);
        Ok(found)
    }

    /// One issue, as GitLab has it now.
    pub async fn issue(&self, project: &str, iid: u64) -> Result<Issue, GitlabError> {
        self.call(&Call::get(format!(
            "{}/issues/{iid}",
            project_path(project)
        )))
        .await
    }

    /// One comment on issue #`iid`.
    pub async fn issue_note(
        &self,
        project: &str,
        iid: u64,
        note_id: u64,
    ) -> Result<ThreadNote, GitlabError> {
        let path = format!("projects/{}/issues/{iid}/notes/{note_id}", encode(project));
        self.get_json(&path, &[]).await
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

    /// Deletes comment `note_id` of issue #`iid`; one already gone (404) is fine.
    pub async fn delete_issue_note(
        &self,
        project: &str,
        iid: u64,
        note_id: u64,
    ) -> Result<(), GitlabError> {
        let call = Call::delete(format!(
            "{}/issues/{iid}/notes/{note_id}",
            project_path(project)
        ));
        match self.send(&call, &[]).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn create_issue_note(
        &self,
        project: &str,
        iid: u64,
        body: &str,
    ) -> Result<Note, GitlabError> {
        self.comment(project, Noteable::Issue(iid), body).await
    }
}
