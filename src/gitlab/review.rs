//! The GitLab calls behind comment commands: reading threads and versions, reacting,
//! checking membership, labelling and merging. Serde structs carry only the fields used.

use serde::Deserialize;

use super::api::{Commit, MergeRequest, MergeRequestState, UserRef};
use super::call::{Call, project_path, segment as encode};
use super::client::{GitlabClient, GitlabError};

/// What a comment is on: a merge request or an issue, by its iid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noteable {
    MergeRequest(u64),
    Issue(u64),
}

impl Noteable {
    /// Its path under the project: `merge_requests/7`, `issues/3`.
    pub(super) fn path(self) -> String {
        match self {
            Noteable::MergeRequest(iid) => format!("merge_requests/{iid}"),
            Noteable::Issue(iid) => format!("issues/{iid}"),
        }
    }
}

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

/// What GitLab did with a merge pinned to a head (`PUT .../merge` with `sha`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    Merged {
        target_branch: String,
    },
    /// Armed: GitLab merges once the running pipeline succeeds.
    WhenPipelineSucceeds {
        target_branch: String,
    },
    /// Accepted, and the merge request is in `state` (not merged yet).
    Accepted {
        state: String,
    },
    /// 409: the head is not the commit given.
    HeadMoved {
        message: String,
    },
    /// 405: not mergeable now; `detailed_merge_status` says why.
    NotMergeableNow,
    /// 422: GitLab tried and could not merge.
    Failed {
        message: String,
    },
    /// 401 or 403: the token's user may not merge here.
    Forbidden {
        message: String,
    },
}

/// A path a comparison lists as changed.
#[derive(Debug, Clone, Deserialize)]
pub struct ChangedPath {
    pub old_path: String,
    pub new_path: String,
    #[serde(default)]
    pub new_file: bool,
    #[serde(default)]
    pub renamed_file: bool,
    #[serde(default)]
    pub deleted_file: bool,
}

/// Whether a reaction was added now or was there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reacted {
    Added,
    Already,
}

/// An emoji reaction.
#[derive(Debug, Clone, Deserialize)]
pub struct Reaction {
    pub id: u64,
    pub name: String,
    pub user: UserRef,
    pub created_at: String,
}

/// One approval: who, and when (GitLab 17+ says when; older versions do not).
#[derive(Debug, Clone, Deserialize)]
pub struct Approval {
    pub user: UserRef,
    #[serde(default)]
    pub approved_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Member {
    access_level: u32,
}

impl GitlabClient {
    /// The user the token belongs to (the bot).
    pub async fn current_user(&self) -> Result<UserRef, GitlabError> {
        self.call(&Call::get("user".into())).await
    }

    pub async fn merge_request(
        &self,
        project: &str,
        iid: u64,
    ) -> Result<MergeRequest, GitlabError> {
        self.call(&Call::get(format!(
            "{}/merge_requests/{iid}",
            project_path(project)
        )))
        .await
    }

    /// Merge requests of `project` by `author_id` in `state` (`opened`, `merged`, …),
    /// only those updated after `since` when given.
    pub async fn merge_requests_by(
        &self,
        project: &str,
        author_id: u64,
        state: MergeRequestState,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<MergeRequest>, GitlabError> {
        let call = Call::get(format!("{}/merge_requests", project_path(project)))
            .param("state", state)
            .param_opt(
                "updated_after",
                since.map(|s| s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            )
            .param("author_id", author_id);
        self.all_pages(&call).await
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

    /// Every comment of a merge request or an issue, oldest first.
    pub async fn notes(&self, project: &str, on: Noteable) -> Result<Vec<ThreadNote>, GitlabError> {
        let call = Call::get(format!("{}/{}/notes", project_path(project), on.path()))
            .param("order_by", "created_at")
            .param("sort", "asc");
        self.all_pages(&call).await
    }

    /// The diff versions of a merge request, newest first, paged until `enough` says the
    /// pages read so far suffice (or the list ends). Longer than 100 pages is an error.
    pub async fn versions_until(
        &self,
        project: &str,
        iid: u64,
        enough: impl Fn(&[Version]) -> bool,
    ) -> Result<Vec<Version>, GitlabError> {
        let call = Call::get(format!(
            "{}/merge_requests/{iid}/versions",
            project_path(project)
        ));
        self.pages_until(&call, "versions", enough).await
    }

    /// The commits of a merge request (its latest diff version), newest first.
    pub async fn merge_request_commits(
        &self,
        project: &str,
        iid: u64,
    ) -> Result<Vec<Commit>, GitlabError> {
        let call = Call::get(format!(
            "{}/merge_requests/{iid}/commits",
            project_path(project)
        ));
        self.all_pages(&call).await
    }

    /// One commit.
    pub async fn commit(&self, project: &str, sha: &str) -> Result<Commit, GitlabError> {
        self.call(&Call::get(format!(
            "{}/repository/commits/{}",
            project_path(project),
            encode(sha)
        )))
        .await
    }

    /// The files that differ from `from` to `to` (a straight diff, not from the merge base).
    pub async fn changed_files(
        &self,
        project: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<ChangedPath>, GitlabError> {
        #[derive(Deserialize)]
        struct Comparison {
            #[serde(default)]
            diffs: Vec<ChangedPath>,
        }
        let path = format!("projects/{}/repository/compare", encode(project));
        let comparison: Comparison = self
            .get_json(
                &path,
                &[
                    ("from", from.to_string()),
                    ("to", to.to_string()),
                    ("straight", "true".into()),
                ],
            )
            .await?;
        Ok(comparison.diffs)
    }

    /// The files `sha` changed against its first parent (against the empty tree for a root
    /// commit): `GET .../repository/commits/:sha/diff`, which GitLab computes from
    /// `parents[0]` and pages (20 per page by default), so every page is read. Longer than
    /// 100 pages of 100 is an error, never a silently shorter list.
    pub async fn commit_changes(
        &self,
        project: &str,
        sha: &str,
    ) -> Result<Vec<ChangedPath>, GitlabError> {
        let call = Call::get(format!(
            "{}/repository/commits/{}/diff",
            project_path(project),
            encode(sha)
        ));
        self.pages_until(&call, "changed files", |_| false).await
    }

    /// An emoji reaction by the bot on a comment of a merge request or an issue. GitLab
    /// keeps one reaction per user, name and comment, so this doubles as a claim:
    /// [`Reacted::Already`] when it was there.
    pub async fn react(
        &self,
        project: &str,
        on: Noteable,
        note_id: u64,
        name: &str,
    ) -> Result<Reacted, GitlabError> {
        self.award(
            &format!(
                "{}/{}/notes/{note_id}/award_emoji",
                project_path(project),
                on.path()
            ),
            name,
        )
        .await
    }

    /// Posts the bot's emoji `name` to the award-emoji list at `path` (a merge request, an
    /// issue or a comment). GitLab keeps one per user, name and object, so this doubles as a
    /// claim: [`Reacted::Already`] when it was there.
    pub(super) async fn award(&self, path: &str, name: &str) -> Result<Reacted, GitlabError> {
        let call = Call::post(path.to_string()).param("name", name);
        match self.call::<serde_json::Value>(&call).await {
            Ok(_) => Ok(Reacted::Added),
            Err(e) if e.message().contains("already been taken") => Ok(Reacted::Already),
            Err(e) => Err(e),
        }
    }

    /// An emoji reaction by the bot on merge request !`iid` itself; [`Reacted::Already`]
    /// when it was there (one per user and name), so it doubles as a claim.
    pub async fn react_on_merge_request(
        &self,
        project: &str,
        iid: u64,
        name: &str,
    ) -> Result<Reacted, GitlabError> {
        self.award(
            &format!("{}/merge_requests/{iid}/award_emoji", project_path(project)),
            name,
        )
        .await
    }

    /// The reactions on a comment of a merge request or an issue.
    pub async fn note_reactions(
        &self,
        project: &str,
        on: Noteable,
        note_id: u64,
    ) -> Result<Vec<Reaction>, GitlabError> {
        let call = Call::get(format!(
            "{}/{}/notes/{note_id}/award_emoji",
            project_path(project),
            on.path()
        ));
        self.all_pages(&call).await
    }

    /// Removes a reaction of the bot's on a comment; one already gone is not an error.
    pub async fn remove_reaction(
        &self,
        project: &str,
        on: Noteable,
        note_id: u64,
        award_id: u64,
    ) -> Result<(), GitlabError> {
        let call = Call::delete(format!(
            "{}/{}/notes/{note_id}/award_emoji/{award_id}",
            project_path(project),
            on.path()
        ));
        match self.send(&call, &[]).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => Ok(()),
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
        let call = Call::get(format!("{}/members/all/{user_id}", project_path(project)));
        match self.call::<Member>(&call).await {
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
        let call = Call::put(format!("{}/merge_requests/{iid}", project_path(project)))
            .comma_list("add_labels", add)
            .comma_list("remove_labels", remove);
        self.call(&call).await
    }

    /// Merges exactly `sha`, and says what GitLab did: merged, armed to merge when the
    /// pipeline succeeds (with `when_pipeline_succeeds`), or why not, by GitLab's status.
    pub async fn merge_at(
        &self,
        project: &str,
        iid: u64,
        sha: &str,
        when_pipeline_succeeds: bool,
    ) -> Result<MergeOutcome, GitlabError> {
        let call = Call::put(format!(
            "{}/merge_requests/{iid}/merge",
            project_path(project)
        ))
        .param("should_remove_source_branch", true)
        .param_opt(
            "merge_when_pipeline_succeeds",
            when_pipeline_succeeds.then_some(true),
        )
        .param("sha", sha);
        match self.call::<MergeRequest>(&call).await {
            Ok(m) if m.state == "merged" => Ok(MergeOutcome::Merged {
                target_branch: m.target_branch,
            }),
            Ok(m) if m.merge_when_pipeline_succeeds || when_pipeline_succeeds => {
                Ok(MergeOutcome::WhenPipelineSucceeds {
                    target_branch: m.target_branch,
                })
            }
            Ok(m) => Ok(MergeOutcome::Accepted { state: m.state }),
            Err(e) => {
                let message = e.message().to_string();
                match e.status().map(|s| s.as_u16()) {
                    Some(409) => Ok(MergeOutcome::HeadMoved { message }),
                    Some(405) => Ok(MergeOutcome::NotMergeableNow),
                    Some(422) => Ok(MergeOutcome::Failed { message }),
                    Some(401 | 403) => Ok(MergeOutcome::Forbidden { message }),
                    _ => Err(e),
                }
            }
        }
    }

    /// `user_id`'s approval of the merge request as GitLab lists it now, if they approve.
    pub async fn approval(
        &self,
        project: &str,
        iid: u64,
        user_id: u64,
    ) -> Result<Option<Approval>, GitlabError> {
        #[derive(Deserialize)]
        struct Approvals {
            #[serde(default)]
            approved_by: Vec<Approval>,
        }
        let approvals: Approvals = self
            .call(&Call::get(format!(
                "{}/merge_requests/{iid}/approvals",
                project_path(project)
            )))
            .await?;
        Ok(approvals
            .approved_by
            .into_iter()
            .find(|a| a.user.id == user_id))
    }

    /// The open merge requests into `target_branch`, whatever their source branch.
    pub async fn open_merge_requests_into(
        &self,
        project: &str,
        target_branch: &str,
    ) -> Result<Vec<MergeRequest>, GitlabError> {
        let call = Call::get(format!("{}/merge_requests", project_path(project)))
            .param("state", MergeRequestState::Opened)
            .param("target_branch", target_branch);
        self.all_pages(&call).await
    }

    /// Merged or open merge requests into `target_branch` that carry `label`.
    pub async fn merge_requests_labelled(
        &self,
        project: &str,
        label: &str,
        target_branch: &str,
        state: MergeRequestState,
    ) -> Result<Vec<MergeRequest>, GitlabError> {
        let call = Call::get(format!("{}/merge_requests", project_path(project)))
            .param("state", state)
            .param("labels", label)
            .param("target_branch", target_branch);
        self.all_pages(&call).await
    }

    /// A file's text at `reference`, or `None` when it does not exist there.
    pub async fn file_text(
        &self,
        project: &str,
        path: &str,
        reference: &str,
    ) -> Result<Option<String>, GitlabError> {
        let call = Call::get(format!(
            "{}/repository/files/{}/raw",
            project_path(project),
            encode(path)
        ))
        .param("ref", reference);
        match self.send(&call, &[]).await {
            Ok(r) => Ok(Some(String::from_utf8_lossy(&r.body).into_owned())),
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::api::has_next_page;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_next_page_comes_from_x_next_page_else_from_link() {
        assert!(has_next_page(&headers(&[("x-next-page", "2")]), 1));
        assert!(!has_next_page(&headers(&[("x-next-page", "")]), 1));
        // x-next-page wins when present, even empty.
        let both = headers(&[
            ("x-next-page", ""),
            ("link", "<https://g/api/v4/x?page=2>; rel=\"next\""),
        ]);
        assert!(!has_next_page(&both, 1));
        let link = headers(&[(
            "link",
            "<https://g/api/v4/x?page=1>; rel=\"prev\", <https://g/api/v4/x?page=3>; rel=\"next\"",
        )]);
        assert!(has_next_page(&link, 2));
        let last = headers(&[("link", "<https://g/api/v4/x?page=1>; rel=\"first\"")]);
        assert!(!has_next_page(&last, 1));
        assert!(!has_next_page(&HeaderMap::new(), 1));
    }
}
