//! Project issues: found by labels, created, edited in place, commented, closed and
//! reopened. Needs a token with the `api` scope and at least the Reporter role.

use gitlab::api::issues::IssueType;
use gitlab::api::projects::issues::{self, IssueStateEvent};
use serde::Deserialize;

use super::api::{Note, UserRef, build_error};
use super::client::{GitlabClient, GitlabError};
use super::review::{Reacted, Reaction, ThreadNote, encode};

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
        let endpoint = issues::Issues::builder()
            .project(project)
            .labels(labels.iter().map(String::as_str))
            .state(issues::IssueState::Opened)
            .build()
            .map_err(|e| build_error("issues", e))?;
        let mut found: Vec<Issue> = self.all_pages(&endpoint).await?;
        found.sort_by_key(|i| i.iid);
        Ok(found)
    }

    /// One issue, as GitLab has it now.
    pub async fn issue(&self, project: &str, iid: u64) -> Result<Issue, GitlabError> {
        let endpoint = issues::Issue::builder()
            .project(project)
            .issue(iid)
            .build()
            .map_err(|e| build_error("issue", e))?;
        self.call(&endpoint).await
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
        let endpoint = issues::notes::IssueNotes::builder()
            .project(project)
            .issue(iid)
            .order_by(gitlab::api::projects::merge_requests::notes::NoteOrderBy::CreatedAt)
            .sort(gitlab::api::common::SortOrder::Ascending)
            .build()
            .map_err(|e| build_error("issue notes", e))?;
        self.all_pages(&endpoint).await
    }

    /// An emoji reaction by the bot on a comment of an issue; [`Reacted::Already`] when it
    /// was there (GitLab keeps one per user, name and comment), so it doubles as a claim.
    pub async fn react_on_issue_note(
        &self,
        project: &str,
        iid: u64,
        note_id: u64,
        name: &str,
    ) -> Result<Reacted, GitlabError> {
        let endpoint = issues::notes::awards::CreateIssueNoteAward::builder()
            .project(project)
            .issue(iid)
            .note(note_id)
            .name(name)
            .build()
            .map_err(|e| build_error("award emoji", e))?;
        match self.call::<_, serde_json::Value>(&endpoint).await {
            Ok(_) => Ok(Reacted::Added),
            Err(e) if e.message().contains("already been taken") => Ok(Reacted::Already),
            Err(e) => Err(e),
        }
    }

    /// The reactions on a comment of an issue.
    pub async fn issue_note_reactions(
        &self,
        project: &str,
        iid: u64,
        note_id: u64,
    ) -> Result<Vec<Reaction>, GitlabError> {
        let endpoint = issues::notes::awards::IssueNoteAwards::builder()
            .project(project)
            .issue(iid)
            .note(note_id)
            .build()
            .map_err(|e| build_error("award emoji", e))?;
        self.all_pages(&endpoint).await
    }

    /// Removes a reaction of the bot's on a comment of an issue; one already gone is not an
    /// error.
    pub async fn remove_issue_note_reaction(
        &self,
        project: &str,
        iid: u64,
        note_id: u64,
        award_id: u64,
    ) -> Result<(), GitlabError> {
        let endpoint = issues::notes::awards::DeleteIssueNoteAward::builder()
            .project(project)
            .issue(iid)
            .note(note_id)
            .award(award_id)
            .build()
            .map_err(|e| build_error("award emoji", e))?;
        match self.send(&endpoint, &[]).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => Ok(()),
            Err(e) => Err(e),
        }
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
