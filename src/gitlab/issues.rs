//! Project issues: found by labels, created, edited in place, commented, closed and
//! reopened. Needs a token with the `api` scope and at least the Reporter role.

use gitlab::api::issues::IssueType;
use gitlab::api::projects::issues::{self, IssueStateEvent};
use serde::Deserialize;

use super::api::{Note, build_error};
use super::client::{GitlabClient, GitlabError};
use super::review::ThreadNote;
use super::review::encode;

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

    pub async fn create_issue(
        &self,
        project: &str,
        fields: &IssueFields,
    ) -> Result<Issue, GitlabError> {
        let mut builder = issues::CreateIssue::builder();
        builder
            .project(project)
            .title(fields.title.as_str())
            .description(fields.description.as_str())
            .labels(fields.labels.iter().map(String::as_str));
        if !fields.assignee_ids.is_empty() {
            builder.assignee_ids(fields.assignee_ids.iter().copied());
        }
        if fields.incident {
            builder.issue_type(IssueType::Incident);
        }
        let endpoint = builder
            .build()
            .map_err(|e| build_error("create issue", e))?;
        self.call(&endpoint).await
    }

    /// Rewrites #`iid`'s description (when given) and closes or reopens it (when asked).
    pub async fn edit_issue(
        &self,
        project: &str,
        iid: u64,
        description: Option<&str>,
        change: Option<IssueChange>,
    ) -> Result<Issue, GitlabError> {
        let mut builder = issues::EditIssue::builder();
        builder.project(project).issue(iid);
        if let Some(d) = description {
            builder.description(d);
        }
        match change {
            Some(IssueChange::Close) => {
                builder.state_event(IssueStateEvent::Close);
            }
            Some(IssueChange::Reopen) => {
                builder.state_event(IssueStateEvent::Reopen);
            }
            None => {}
        }
        let endpoint = builder.build().map_err(|e| build_error("edit issue", e))?;
        self.call(&endpoint).await
    }

    /// Every comment of issue #`iid`, oldest first, every page read.
    pub async fn issue_notes(
        &self,
        project: &str,
        iid: u64,
    ) -> Result<Vec<ThreadNote>, GitlabError> {
        let path = format!("projects/{}/issues/{iid}/notes", encode(project));
        self.raw_pages_until(
            path,
            &[("order_by", "created_at".into()), ("sort", "asc".into())],
            "issue notes",
            |_| false,
        )
        .await
    }

    /// Deletes comment `note_id` of issue #`iid`; one already gone (404) is fine.
    pub async fn delete_issue_note(
        &self,
        project: &str,
        iid: u64,
        note_id: u64,
    ) -> Result<(), GitlabError> {
        let endpoint = issues::notes::DeleteIssueNote::builder()
            .project(project)
            .issue(iid)
            .note(note_id)
            .build()
            .map_err(|e| build_error("delete issue note", e))?;
        match self.send(&endpoint, &[]).await {
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
        let endpoint = issues::notes::CreateIssueNote::builder()
            .project(project)
            .issue(iid)
            .body(body)
            .build()
            .map_err(|e| build_error("create issue note", e))?;
        self.call(&endpoint).await
    }
}
