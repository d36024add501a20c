//! Idempotent writes: a commit, a merge request and a note that are made once, however many
//! times a job runs or an answer is lost on the way back. Each first does the write, and when
//! GitLab's answer is lost or says the thing exists, reads what is there before writing
//! again.

use super::api::{Commit, MergeRequest, MergeRequestFields};
use super::client::{GitlabClient, GitlabError};

/// Whether [`GitlabClient::ensure_merge_request`] opened the merge request or found one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Created,
    /// One was open already (another run, or a lost answer) and was brought up to date.
    Updated,
}

impl GitlabClient {
    /// One commit of `files` on `branch`, built on `base`. When the answer is lost, the
    /// branch is read before the commit is sent again, so a retry never stacks a second one.
    pub async fn ensure_commit(
        &self,
        project: &str,
        branch: &str,
        base: &str,
        message: &str,
        files: &[(String, String)],
    ) -> Result<Commit, GitlabError> {
        match self
            .commit_files(project, branch, base, message, files)
            .await
        {
            Ok(c) => Ok(c),
            Err(GitlabError::Uncertain { .. }) => {
                if let Some(tip) = self.branch_head(project, branch).await?
                    && tip.parent_ids.first().map(String::as_str) == Some(base)
                    && tip.message.trim_end() == message.trim_end()
                {
                    tracing::info!(branch, "the lost commit had been made");
                    return Ok(tip);
                }
                tracing::info!(branch, "the lost commit was not made; sending it again");
                self.commit_files(project, branch, base, message, files)
                    .await
            }
            Err(e) => Err(e),
        }
    }

    /// Opens the merge request from `branch`; if one is open already (another run, or a
    /// lost answer: GitLab answers 409), that one is brought up to date instead.
    pub async fn ensure_merge_request(
        &self,
        project: &str,
        branch: &str,
        target_branch: &str,
        fields: &MergeRequestFields,
    ) -> Result<(Ensured, MergeRequest), GitlabError> {
        match self
            .create_merge_request(project, branch, target_branch, fields)
            .await
        {
            Ok(mr) => Ok((Ensured::Created, mr)),
            Err(e)
                if matches!(e, GitlabError::Uncertain { .. })
                    || e.status() == Some(reqwest::StatusCode::CONFLICT) =>
            {
                let open = self
                    .merge_requests(project, branch, target_branch)
                    .await?
                    .into_iter()
                    .find(|m| m.state == "opened");
                match open {
                    Some(mr) if mr.description.as_deref() == Some(fields.description.as_str()) => {
                        Ok((Ensured::Created, mr))
                    }
                    Some(mr) => Ok((
                        Ensured::Updated,
                        self.update_merge_request(project, mr.iid, fields, false)
                            .await?,
                    )),
                    None => Ok((
                        Ensured::Created,
                        self.create_merge_request(project, branch, target_branch, fields)
                            .await?,
                    )),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Writes `body` as the bot's comment on !`iid`: edits the bot's comment that `is_same`
    /// recognises (by its hidden marker), else adds one. Returns the comment's id and
    /// whether it edited.
    pub async fn ensure_note(
        &self,
        project: &str,
        iid: u64,
        bot_id: u64,
        body: &str,
        is_same: impl Fn(&str) -> bool,
    ) -> Result<(u64, bool), GitlabError> {
        let existing = self
            .notes(project, super::Noteable::MergeRequest(iid))
            .await?
            .into_iter()
            .find(|n| n.author.id == bot_id && is_same(&n.body));
        match existing {
            Some(note) => {
                self.update_note(project, iid, note.id, body).await?;
                Ok((note.id, true))
            }
            None => Ok((self.create_note(project, iid, body).await?.id, false)),
        }
    }
}
