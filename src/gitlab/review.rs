//! The GitLab calls behind comment commands: reading threads and versions, reacting,
//! checking membership, labelling and merging. Serde structs carry only the fields used.

use gitlab::api::common::SortOrder;
use gitlab::api::projects;
use gitlab::api::projects::merge_requests as mrs;
use serde::Deserialize;

use super::api::{MergeRequest, UserRef, build_error};
use super::client::{GitlabClient, GitlabError};

/// A comment on a merge request.
#[derive(Debug, Clone, Deserialize)]
pub struct ThreadNote {
    pub id: u64,
    pub body: String,
    pub author: UserRef,
    #[serde(default)]
    pub system: bool,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// One version of a merge request's diff: the source head at a moment.
#[derive(Debug, Clone, Deserialize)]
pub struct Version {
    pub head_commit_sha: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Member {
    access_level: u32,
}

/// A project ID or path as one URL path segment.
fn encode(project: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(project, percent_encoding::NON_ALPHANUMERIC)
}

impl GitlabClient {
    /// The user the token belongs to (the bot).
    pub async fn current_user(&self) -> Result<UserRef, GitlabError> {
        let endpoint = gitlab::api::users::CurrentUser::builder()
            .build()
            .map_err(|e| build_error("user", e))?;
        self.call(&endpoint).await
    }

    pub async fn merge_request(
        &self,
        project: &str,
        iid: u64,
    ) -> Result<MergeRequest, GitlabError> {
        let endpoint = mrs::MergeRequest::builder()
            .project(project)
            .merge_request(iid)
            .build()
            .map_err(|e| build_error("merge request", e))?;
        self.call(&endpoint).await
    }

    /// Merge requests of `project` by `author_id` in `state` (`opened`, `merged`, …),
    /// only those updated after `since` when given.
    pub async fn merge_requests_by(
        &self,
        project: &str,
        author_id: u64,
        state: mrs::MergeRequestState,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<MergeRequest>, GitlabError> {
        let mut builder = mrs::MergeRequests::builder();
        builder.project(project).author(author_id).state(state);
        if let Some(since) = since {
            builder.updated_after(since);
        }
        let endpoint = builder
            .build()
            .map_err(|e| build_error("merge requests", e))?;
        self.all_pages(&endpoint).await
    }

    pub async fn note(
        &self,
        project: &str,
        iid: u64,
        note_id: u64,
    ) -> Result<ThreadNote, GitlabError> {
        let path = format!(
            "projects/{}/merge_requests/{iid}/notes/{note_id}",
            encode(project)
        );
        self.get_json(&path, &[]).await
    }

    /// Every comment of a merge request, oldest first.
    pub async fn notes(&self, project: &str, iid: u64) -> Result<Vec<ThreadNote>, GitlabError> {
        let endpoint = mrs::notes::MergeRequestNotes::builder()
            .project(project)
            .merge_request(iid)
            .order_by(mrs::notes::NoteOrderBy::CreatedAt)
            .sort(SortOrder::Ascending)
            .build()
            .map_err(|e| build_error("notes", e))?;
        self.all_pages(&endpoint).await
    }

    /// The diff versions of a merge request, newest first.
    pub async fn versions(&self, project: &str, iid: u64) -> Result<Vec<Version>, GitlabError> {
        let path = format!("projects/{}/merge_requests/{iid}/versions", encode(project));
        self.get_json(&path, &[("per_page", "100".into())]).await
    }

    /// An emoji reaction on a comment. Reacting twice with the same emoji is not an error.
    pub async fn react(
        &self,
        project: &str,
        iid: u64,
        note_id: u64,
        name: &str,
    ) -> Result<(), GitlabError> {
        let endpoint = mrs::notes::awards::CreateMergeRequestNoteAward::builder()
            .project(project)
            .merge_request(iid)
            .note(note_id)
            .name(name)
            .build()
            .map_err(|e| build_error("award emoji", e))?;
        match self.call::<_, serde_json::Value>(&endpoint).await {
            Ok(_) => Ok(()),
            Err(e) if e.message().contains("already been taken") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The user's access level on the project, inherited membership included; `None` when
    /// they are not a member.
    pub async fn access_level(
        &self,
        project: &str,
        user_id: u64,
    ) -> Result<Option<u32>, GitlabError> {
        let endpoint = projects::members::AllProjectMember::builder()
            .project(project)
            .user(user_id)
            .build()
            .map_err(|e| build_error("member", e))?;
        match self.call::<_, Member>(&endpoint).await {
            Ok(m) => Ok(Some(m.access_level)),
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Adds the labels `add` and removes the labels `remove`, in one edit.
    pub async fn edit_labels(
        &self,
        project: &str,
        iid: u64,
        add: &[&str],
        remove: &[&str],
    ) -> Result<MergeRequest, GitlabError> {
        let mut builder = mrs::EditMergeRequest::builder();
        builder.project(project).merge_request(iid);
        for label in add {
            builder.add_label(*label);
        }
        for label in remove {
            builder.remove_label(*label);
        }
        let endpoint = builder
            .build()
            .map_err(|e| build_error("edit merge request", e))?;
        self.call(&endpoint).await
    }

    /// Merges exactly `sha` (GitLab answers 409 if the head moved); with
    /// `when_pipeline_succeeds`, GitLab merges once the running pipeline passes.
    pub async fn merge(
        &self,
        project: &str,
        iid: u64,
        sha: &str,
        when_pipeline_succeeds: bool,
    ) -> Result<MergeRequest, GitlabError> {
        let mut builder = mrs::MergeMergeRequest::builder();
        builder
            .project(project)
            .merge_request(iid)
            .sha(sha)
            .should_remove_source_branch(true);
        if when_pipeline_succeeds {
            builder.merge_when_pipeline_succeeds(true);
        }
        let endpoint = builder.build().map_err(|e| build_error("merge", e))?;
        self.call(&endpoint).await
    }

    /// Whether `user_id` currently approves the merge request.
    pub async fn approved_by(
        &self,
        project: &str,
        iid: u64,
        user_id: u64,
    ) -> Result<bool, GitlabError> {
        #[derive(Deserialize)]
        struct Approver {
            user: UserRef,
        }
        #[derive(Deserialize)]
        struct Approvals {
            #[serde(default)]
            approved_by: Vec<Approver>,
        }
        let endpoint = mrs::approvals::MergeRequestApprovals::builder()
            .project(project)
            .merge_request(iid)
            .build()
            .map_err(|e| build_error("approvals", e))?;
        let approvals: Approvals = self.call(&endpoint).await?;
        Ok(approvals.approved_by.iter().any(|a| a.user.id == user_id))
    }

    /// A file's text at `reference`, or `None` when it does not exist there.
    pub async fn file_text(
        &self,
        project: &str,
        path: &str,
        reference: &str,
    ) -> Result<Option<String>, GitlabError> {
        let endpoint = projects::repository::files::FileRaw::builder()
            .project(project)
            .file_path(path)
            .ref_(reference)
            .build()
            .map_err(|e| build_error("file", e))?;
        match self.send(&endpoint, &[]).await {
            Ok(r) => Ok(Some(String::from_utf8_lossy(&r.body).into_owned())),
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
