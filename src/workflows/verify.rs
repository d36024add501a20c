//! What a bot branch holds, read from Git: exactly the bot's change (one commit whose every
//! changed file is what bumping the targets, every image of the bump, in the file before
//! writes), or commits the bot did
//! not make. A merge request's description is a hint; this is the truth a deploy and a
//! "nothing to do" rely on.

use anyhow::Result;

use crate::bump::revert::is_bump_of;
use crate::forms::Target;
use crate::gitlab::{Commit, GitlabClient, MergeRequest};

/// Whether a merge request's branch holds exactly the bot's change.
#[derive(Debug, Clone)]
pub enum Head {
    /// One commit (this one) whose every changed file is what bumping the target in the
    /// file before writes.
    Ours(Commit),
    /// Commits the bot did not make (oldest first), or the bot's commit changed.
    Foreign(Vec<Commit>),
}

/// More changed files than this are not verified (the bump is refused as unverifiable).
const MAX_VERIFIED_FILES: usize = 500;

/// Reads the merge request's commits from GitLab and checks them against `targets` (all the
/// images of the bump): the description is a hint, the branch is the truth.
pub async fn verify_head(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
    targets: &[Target],
) -> Result<Head> {
    let mut commits = gitlab.merge_request_commits(project, mr.iid).await?;
    commits.reverse();
    let (Some(head), Some(first)) = (mr.sha.as_deref(), commits.first()) else {
        return Ok(Head::Foreign(commits));
    };
    // The bot's commit is the first one when it verifies; everything else is foreign.
    let first_is_ours = is_bump_commit(gitlab, project, first, targets).await?;
    if first_is_ours && commits.len() == 1 && first.id == head {
        return Ok(Head::Ours(first.clone()));
    }
    Ok(Head::Foreign(
        commits
            .into_iter()
            .skip(usize::from(first_is_ours))
            .collect(),
    ))
}

/// Whether `commit` changes, relative to its one parent, only files it bumps `targets` in,
/// byte for byte as the bot writes them.
async fn is_bump_commit(
    gitlab: &GitlabClient,
    project: &str,
    commit: &Commit,
    targets: &[Target],
) -> Result<bool> {
    let [parent] = commit.parent_ids.as_slice() else {
        return Ok(false);
    };
    let changed = gitlab.changed_files(project, parent, &commit.id).await?;
    if changed.is_empty() || changed.len() > MAX_VERIFIED_FILES {
        return Ok(false);
    }
    for c in &changed {
        if c.new_file || c.deleted_file || c.renamed_file || c.old_path != c.new_path {
            return Ok(false);
        }
        let before = gitlab.file_text(project, &c.old_path, parent).await?;
        let after = gitlab.file_text(project, &c.new_path, &commit.id).await?;
        let (Some(before), Some(after)) = (before, after) else {
            return Ok(false);
        };
        if !is_bump_of(&before, &after, targets) {
            return Ok(false);
        }
    }
    Ok(true)
}
