//! Project issues: found by labels, created, edited in place, commented, closed and
//! reopened. Needs a token with the `api` scope and at least the Reporter role.

use serde::Deserialize;

use super::api::{Note, UserRef};
use super::call::segment as encode;
use super::call::{Call, project_path};
use super::client::{GitlabClient, GitlabError};
use super::review::{Noteable, ThreadNote};

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

    /// The open issues carrying all of `labels`, oldest first.
    pub async fn open_issues_labeled(
        &self,
        project: &str,
        labels: &[String],
    ) -> Result<Vec<Issue>, GitlabError> {
        let call = Call::get(format!("{}/issues", project_path(project)))
            .param("state", "opened")
            .comma_list("labels", labels);
        let mut found: Vec<Issue> = self.all_pages(&call).await?;
        found.sort_by_key(|i| i.iid);
        Ok(found)
    }

    /// Every issue (open or closed) labelled `label`, oldest first, every page read (one
    /// request per 100 issues).
    pub async fn issues_with_label(
        &self,
        project: &str,
        label: &str,
    ) -> Result<Vec<Issue>, GitlabError> {
        let path = format!("projects/{}/issues", encode(project));
        let mut found: Vec<Issue> = self
            .raw_pages_until(
                path,
                &[("labels", label.to_string()), ("state", "all".into())],
                "issues",
                |_| false,
            )
            .await?;
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

    /// Every comment of issue #`iid`, oldest first.
    pub async fn issue_notes(
        &self,
        project: &str,
        iid: u64,
    ) -> Result<Vec<ThreadNote>, GitlabError> {
        let call = Call::get(format!("{}/issues/{iid}/notes", project_path(project)))
            .param("order_by", "created_at")
            .param("sort", "asc");
        self.all_pages(&call).await
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
