//! The GitLab calls gitops-bot makes, typed: serde structs carry only the fields used.

use std::time::Duration;

use gitlab::api::projects;
use gitlab::api::projects::merge_requests::{self as mrs, MergeRequestStateEvent};
use gitlab::api::projects::repository::commits::{CommitAction, CommitActionType, CreateCommit};
use serde::Deserialize;

use super::archive::{Archive, Limits, read_archive};
use super::client::{GitlabClient, GitlabError};

#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub id: u64,
    pub path_with_namespace: String,
    pub default_branch: Option<String>,
    pub web_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Commit {
    pub id: String,
    #[serde(default)]
    pub parent_ids: Vec<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub author_name: String,
    /// When the commit was committed (ISO 8601), as GitLab reports it.
    #[serde(default)]
    pub committed_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Branch {
    commit: Commit,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserRef {
    pub id: u64,
    pub username: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MergeRequest {
    pub iid: u64,
    pub state: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub web_url: String,
    pub source_branch: String,
    pub target_branch: String,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub assignees: Vec<UserRef>,
    #[serde(default)]
    pub diff_refs: Option<DiffRefs>,
    #[serde(default)]
    pub author: Option<UserRef>,
    /// `mergeable`, `checking`, `ci_still_running`, `draft_status`, `not_approved`, …
    #[serde(default)]
    pub detailed_merge_status: Option<String>,
    #[serde(default)]
    pub head_pipeline: Option<Pipeline>,
    #[serde(default)]
    pub merge_when_pipeline_succeeds: bool,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub squash_commit_sha: Option<String>,
    /// When it merged (RFC 3339), for a merged one.
    #[serde(default)]
    pub merged_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Pipeline {
    pub status: String,
}

/// The commits GitLab diffed a merge request with; `start_sha` is the target head then.
#[derive(Debug, Clone, Deserialize)]
pub struct DiffRefs {
    pub start_sha: Option<String>,
    /// The merge base of source and target: what GitLab diffs the merge request against.
    #[serde(default)]
    pub base_sha: Option<String>,
    #[serde(default)]
    pub head_sha: Option<String>,
}

impl MergeRequest {
    /// The target branch head GitLab computed this merge request's diff against, if known.
    pub fn target_head(&self) -> Option<&str> {
        self.diff_refs.as_ref()?.start_sha.as_deref()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Note {
    pub id: u64,
}

/// What a merge request should look like.
#[derive(Debug, Clone, Default)]
pub struct MergeRequestFields {
    pub title: String,
    pub description: String,
    pub assignee_ids: Vec<u64>,
    pub reviewer_ids: Vec<u64>,
    pub labels: Vec<String>,
}

/// The longest list read, in pages of 100.
pub(super) const MAX_PAGES: u32 = 100;

/// Archives are compressed; this bounds the download, the entries have their own caps.
const MAX_ARCHIVE_DOWNLOAD: u64 = 512 * 1024 * 1024;
const ARCHIVE_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) fn build_error(what: &str, e: impl std::fmt::Display) -> GitlabError {
    GitlabError::Request {
        endpoint: what.to_string(),
        detail: e.to_string(),
    }
}

impl GitlabClient {
    pub async fn project(&self, project: &str) -> Result<Project, GitlabError> {
        let endpoint = projects::Project::builder()
            .project(project)
            .build()
            .map_err(|e| build_error("project", e))?;
        self.call(&endpoint).await
    }

    /// The head commit of `branch`, or `None` when the branch does not exist.
    pub async fn branch_head(
        &self,
        project: &str,
        branch: &str,
    ) -> Result<Option<Commit>, GitlabError> {
        let endpoint = projects::repository::branches::Branch::builder()
            .project(project)
            .branch(branch)
            .build()
            .map_err(|e| build_error("branch", e))?;
        match self.call::<_, Branch>(&endpoint).await {
            Ok(b) => Ok(Some(b.commit)),
            Err(e)
                if e.status() == Some(reqwest::StatusCode::NOT_FOUND)
                    && e.message().contains("Branch") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The repository at `sha`, as a `.tar.gz` read with `limits`, keeping `wanted` files.
    /// Decoding runs off the async workers (it is CPU work on a large download).
    pub async fn archive(
        &self,
        project: &str,
        sha: &str,
        limits: Limits,
        wanted: impl Fn(&str) -> bool + Send + 'static,
        keep: impl Fn(&str, &[u8]) -> bool + Send + 'static,
    ) -> Result<Archive, GitlabError> {
        let endpoint = projects::repository::Archive::builder()
            .project(project)
            .format(projects::repository::ArchiveFormat::TarGz)
            .sha(sha)
            .build()
            .map_err(|e| build_error("archive", e))?;
        let path = gitlab::api::Endpoint::endpoint(&endpoint).to_string();
        let response = self
            .get_raw(
                &path,
                &[("sha", sha.to_string())],
                ARCHIVE_TIMEOUT,
                MAX_ARCHIVE_DOWNLOAD,
            )
            .await?;
        let body = response.body;
        crate::blocking::run(move || read_archive(&body[..], limits, wanted, keep))
            .await
            .map_err(|e| GitlabError::Decode {
                method: reqwest::Method::GET,
                endpoint: path,
                detail: e.to_string(),
            })
    }

    /// One commit on `branch`, built on `start_sha` (the branch is reset onto it: `force`).
    pub async fn commit_files(
        &self,
        project: &str,
        branch: &str,
        start_sha: &str,
        message: &str,
        files: &[(String, String)],
    ) -> Result<Commit, GitlabError> {
        let actions = files
            .iter()
            .map(|(path, content)| {
                CommitAction::builder()
                    .action(CommitActionType::Update)
                    .file_path(path.as_str())
                    .content(content.as_bytes())
                    .build()
                    .map_err(|e| build_error("commit action", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let endpoint = CreateCommit::builder()
            .project(project)
            .branch(branch)
            .start_sha(start_sha)
            .force(true)
            .commit_message(message)
            .actions(actions)
            .build()
            .map_err(|e| build_error("commit", e))?;
        self.call(&endpoint).await
    }

    /// Every merge request (any state) from `source` into `target`, newest first.
    pub async fn merge_requests(
        &self,
        project: &str,
        source: &str,
        target: &str,
    ) -> Result<Vec<MergeRequest>, GitlabError> {
        let endpoint = mrs::MergeRequests::builder()
            .project(project)
            .source_branch(source)
            .target_branch(target)
            .build()
            .map_err(|e| build_error("merge requests", e))?;
        let mut all: Vec<MergeRequest> = self.all_pages(&endpoint).await?;
        all.sort_by_key(|m| std::cmp::Reverse(m.iid));
        Ok(all)
    }

    /// Every open merge request into `target`, by anyone (every page).
    pub async fn open_merge_requests(
        &self,
        project: &str,
        target: &str,
    ) -> Result<Vec<MergeRequest>, GitlabError> {
        let endpoint = mrs::MergeRequests::builder()
            .project(project)
            .target_branch(target)
            .state(mrs::MergeRequestState::Opened)
            .build()
            .map_err(|e| build_error("merge requests", e))?;
        self.all_pages(&endpoint).await
    }

    /// Every page of a list endpoint (100 per page, following `x-next-page`).
    pub async fn all_pages<E, T>(&self, endpoint: &E) -> Result<Vec<T>, GitlabError>
    where
        E: gitlab::api::Endpoint + Sync,
        T: serde::de::DeserializeOwned,
    {
        let mut all = Vec::new();
        let mut page = 1u32;
        loop {
            let response = self
                .send(
                    endpoint,
                    &[("per_page", "100".into()), ("page", page.to_string())],
                )
                .await?;
            let batch: Vec<T> =
                serde_json::from_slice(&response.body).map_err(|e| GitlabError::Decode {
                    method: reqwest::Method::GET,
                    endpoint: gitlab::api::Endpoint::endpoint(endpoint).to_string(),
                    detail: e.to_string(),
                })?;
            all.extend(batch);
            let next = response
                .headers
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok());
            match next {
                // Bounded: 100 pages of 100 is far beyond what the bot reads. A longer list is
                // an error, never silently cut: callers decide on whole lists.
                Some(n) if n > page && page < MAX_PAGES => page = n,
                Some(_) if page >= MAX_PAGES => {
                    return Err(GitlabError::Decode {
                        method: reqwest::Method::GET,
                        endpoint: gitlab::api::Endpoint::endpoint(endpoint).to_string(),
                        detail: format!("more than {MAX_PAGES} pages of 100; not read"),
                    });
                }
                _ => break,
            }
        }
        Ok(all)
    }

    pub async fn create_merge_request(
        &self,
        project: &str,
        source: &str,
        target: &str,
        fields: &MergeRequestFields,
    ) -> Result<MergeRequest, GitlabError> {
        let mut builder = mrs::CreateMergeRequest::builder();
        builder
            .project(project)
            .source_branch(source)
            .target_branch(target)
            .title(fields.title.as_str())
            .description(fields.description.as_str())
            .remove_source_branch(true)
            .labels(fields.labels.iter().map(String::as_str));
        if !fields.assignee_ids.is_empty() {
            builder.assignees(fields.assignee_ids.iter().copied());
        }
        if !fields.reviewer_ids.is_empty() {
            builder.reviewers(fields.reviewer_ids.iter().copied());
        }
        let endpoint = builder
            .build()
            .map_err(|e| build_error("create merge request", e))?;
        self.call(&endpoint).await
    }

    pub async fn update_merge_request(
        &self,
        project: &str,
        iid: u64,
        fields: &MergeRequestFields,
        reopen: bool,
    ) -> Result<MergeRequest, GitlabError> {
        let mut builder = mrs::EditMergeRequest::builder();
        builder
            .project(project)
            .merge_request(iid)
            .title(fields.title.as_str())
            .description(fields.description.as_str())
            .labels(fields.labels.iter().map(String::as_str));
        if !fields.assignee_ids.is_empty() {
            builder.assignees(fields.assignee_ids.iter().copied());
        }
        if !fields.reviewer_ids.is_empty() {
            builder.reviewers(fields.reviewer_ids.iter().copied());
        }
        if reopen {
            builder.state_event(MergeRequestStateEvent::Reopen);
        }
        let endpoint = builder
            .build()
            .map_err(|e| build_error("edit merge request", e))?;
        self.call(&endpoint).await
    }

    /// Closes merge request `iid` (its other fields unchanged).
    pub async fn close_merge_request(
        &self,
        project: &str,
        iid: u64,
    ) -> Result<MergeRequest, GitlabError> {
        let endpoint = mrs::EditMergeRequest::builder()
            .project(project)
            .merge_request(iid)
            .state_event(MergeRequestStateEvent::Close)
            .build()
            .map_err(|e| build_error("close merge request", e))?;
        self.call(&endpoint).await
    }

    pub async fn create_note(
        &self,
        project: &str,
        iid: u64,
        body: &str,
    ) -> Result<Note, GitlabError> {
        let endpoint = mrs::notes::CreateMergeRequestNote::builder()
            .project(project)
            .merge_request(iid)
            .body(body)
            .build()
            .map_err(|e| build_error("create note", e))?;
        self.call(&endpoint).await
    }

    /// The id of the user called `username`, if there is one.
    pub async fn user_id(&self, username: &str) -> Result<Option<u64>, GitlabError> {
        let endpoint = gitlab::api::users::Users::builder()
            .username(username)
            .build()
            .map_err(|e| build_error("users", e))?;
        let users: Vec<UserRef> = self.call(&endpoint).await?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
            .map(|u| u.id))
    }
}
