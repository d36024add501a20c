//! The GitLab calls gitops-bot makes, typed: serde structs carry only the fields used.

use std::time::Duration;

use serde::Deserialize;

use super::archive::{Archive, Limits, read_archive};
use super::call::{Call, project_path};
use super::client::{GitlabClient, GitlabError};
use super::review::Noteable;

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

/// A merge request state to list by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeRequestState {
    Opened,
    Merged,
}

impl std::fmt::Display for MergeRequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MergeRequestState::Opened => "opened",
            MergeRequestState::Merged => "merged",
        })
    }
}

/// Whether the `x-next-page` header names a page after `page`; without that header (GitLab
/// leaves it out in some answers), whether a `Link` header has a `rel="next"`.
pub(super) fn has_next_page(headers: &reqwest::header::HeaderMap, page: u32) -> bool {
    match headers.get("x-next-page").and_then(|v| v.to_str().ok()) {
        Some(v) => v.trim().parse::<u32>().is_ok_and(|n| n > page),
        None => headers
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|link| {
                link.split(';')
                    .skip(1)
                    .any(|param| matches!(param.trim(), "rel=\"next\"" | "rel=next"))
            }),
    }
}

/// The longest list read, in pages of 100.
pub(super) const MAX_PAGES: u32 = 100;

/// Archives are compressed; this bounds the download, the entries have their own caps.
const MAX_ARCHIVE_DOWNLOAD: u64 = 512 * 1024 * 1024;
const ARCHIVE_TIMEOUT: Duration = Duration::from_secs(300);

impl GitlabClient {
    pub async fn project(&self, project: &str) -> Result<Project, GitlabError> {
        self.call(&Call::get(project_path(project))).await
    }

    /// The head commit of `branch`, or `None` when the branch does not exist.
    pub async fn branch_head(
        &self,
        project: &str,
        branch: &str,
    ) -> Result<Option<Commit>, GitlabError> {
        let call = Call::get(format!(
            "{}/repository/branches/{}",
            project_path(project),
            super::call::segment(branch)
        ));
        match self.call::<Branch>(&call).await {
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
        let path = format!("{}/repository/archive.tar.gz", project_path(project));
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
        let mut call = Call::post(format!("{}/repository/commits", project_path(project)));
        for (path, content) in files {
            call = call
                .param("actions[][action]", "update")
                .param("actions[][file_path]", path)
                .param("actions[][content]", content);
        }
        let call = call
            .param("branch", branch)
            .param("commit_message", message)
            .param("start_sha", start_sha)
            .param("force", true);
        self.call(&call).await
    }

    /// Every merge request (any state) from `source` into `target`, newest first.
    pub async fn merge_requests(
        &self,
        project: &str,
        source: &str,
        target: &str,
    ) -> Result<Vec<MergeRequest>, GitlabError> {
        let call = Call::get(format!("{}/merge_requests", project_path(project)))
            .param("source_branch", source)
            .param("target_branch", target);
        let mut all: Vec<MergeRequest> = self.all_pages(&call).await?;
        all.sort_by_key(|m| std::cmp::Reverse(m.iid));
        Ok(all)
    }

    /// Every open merge request into `target`, by anyone (every page).
    pub async fn open_merge_requests(
        &self,
        project: &str,
        target: &str,
    ) -> Result<Vec<MergeRequest>, GitlabError> {
        let call = Call::get(format!("{}/merge_requests", project_path(project)))
            .param("state", MergeRequestState::Opened)
            .param("target_branch", target);
        self.all_pages(&call).await
    }

    /// Every page of a list endpoint (100 per page, following `x-next-page`, else `Link:
    /// rel="next"`). Longer than 100 pages is an error, never a silently shorter list:
    /// callers decide on whole lists.
    pub async fn all_pages<T>(&self, call: &Call) -> Result<Vec<T>, GitlabError>
    where
        T: serde::de::DeserializeOwned,
    {
        self.pages_until(call, "100", |_| false).await
    }

    /// The pages of `call`'s list until it ends or `enough` says the items read so far
    /// suffice. Longer than 100 pages is an error naming `what` is listed.
    pub(super) async fn pages_until<T: serde::de::DeserializeOwned>(
        &self,
        call: &Call,
        what: &str,
        enough: impl Fn(&[T]) -> bool,
    ) -> Result<Vec<T>, GitlabError> {
        let mut all: Vec<T> = Vec::new();
        for page in 1..=MAX_PAGES {
            let response = self
                .send(
                    call,
                    &[("per_page", "100".into()), ("page", page.to_string())],
                )
                .await?;
            let batch: Vec<T> =
                serde_json::from_slice(&response.body).map_err(|e| GitlabError::Decode {
                    method: reqwest::Method::GET,
                    endpoint: call.path().to_string(),
                    detail: e.to_string(),
                })?;
            let last = batch.is_empty() || !has_next_page(&response.headers, page);
            all.extend(batch);
            if last || enough(&all) {
                return Ok(all);
            }
        }
        Err(GitlabError::Decode {
            method: reqwest::Method::GET,
            endpoint: call.path().to_string(),
            detail: format!("more than {MAX_PAGES} pages of {what}; not read"),
        })
    }

    pub async fn create_merge_request(
        &self,
        project: &str,
        source: &str,
        target: &str,
        fields: &MergeRequestFields,
    ) -> Result<MergeRequest, GitlabError> {
        let call = Call::post(format!("{}/merge_requests", project_path(project)))
            .param("source_branch", source)
            .param("target_branch", target)
            .param("title", &fields.title)
            .ids("assignee_ids", &fields.assignee_ids)
            .ids("reviewer_ids", &fields.reviewer_ids)
            .param("description", &fields.description)
            .param("labels", fields.labels.join(","))
            .param("remove_source_branch", true);
        self.call(&call).await
    }

    pub async fn update_merge_request(
        &self,
        project: &str,
        iid: u64,
        fields: &MergeRequestFields,
        reopen: bool,
    ) -> Result<MergeRequest, GitlabError> {
        let call = Call::put(format!("{}/merge_requests/{iid}", project_path(project)))
            .param("title", &fields.title)
            .ids("assignee_ids", &fields.assignee_ids)
            .ids("reviewer_ids", &fields.reviewer_ids)
            .param("description", &fields.description)
            .param("labels", fields.labels.join(","))
            .param_opt("state_event", reopen.then_some("reopen"));
        self.call(&call).await
    }

    /// Closes merge request `iid` (its other fields unchanged).
    pub async fn close_merge_request(
        &self,
        project: &str,
        iid: u64,
    ) -> Result<MergeRequest, GitlabError> {
        let call = Call::put(format!("{}/merge_requests/{iid}", project_path(project)))
            .param("state_event", "close");
        self.call(&call).await
    }

    /// A comment on merge request !`iid`.
    pub async fn create_note(
        &self,
        project: &str,
        iid: u64,
        body: &str,
    ) -> Result<Note, GitlabError> {
        self.comment(project, Noteable::MergeRequest(iid), body)
            .await
    }

    /// A comment on a merge request or an issue.
    pub async fn comment(
        &self,
        project: &str,
        on: Noteable,
        body: &str,
    ) -> Result<Note, GitlabError> {
        let call = Call::post(format!("{}/{}/notes", project_path(project), on.path()))
            .param("body", body);
        self.call(&call).await
    }

    /// The id of the user called `username`, if there is one.
    pub async fn user_id(&self, username: &str) -> Result<Option<u64>, GitlabError> {
        let users: Vec<UserRef> = self
            .call(&Call::get("users".into()).param("username", username))
            .await?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
            .map(|u| u.id))
    }
}
