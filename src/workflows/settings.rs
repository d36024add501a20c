//! Where the modes start: the project's default branch and its head, and `.gitops-bot.yaml`
//! at a commit (the defaults, naming where it was looked for, when there is none).

use anyhow::{Context, Result};

use crate::config::{self, RepoConfig};
use crate::gitlab::{Commit, GitlabClient, Project};

/// A project, its default branch and the commit at its head.
pub struct DefaultHead {
    pub project: Project,
    pub branch: String,
    pub head: Commit,
}

/// The default branch of `project` and the commit at its head.
pub async fn default_head(gitlab: &GitlabClient, project: &str) -> Result<DefaultHead> {
    let info = gitlab.project(project).await?;
    let branch = info.default_branch.clone().with_context(|| {
        format!("project {project} has no default branch (an empty repository?)")
    })?;
    let head = gitlab
        .branch_head(project, &branch)
        .await?
        .with_context(|| format!("the default branch {branch} of {project} does not exist"))?;
    Ok(DefaultHead {
        project: info,
        branch,
        head,
    })
}

/// `.gitops-bot.yaml` at `at` (a commit or branch); without the file, the defaults, with
/// `place` naming where it was looked for.
pub async fn settings_at(
    gitlab: &GitlabClient,
    project: &str,
    at: &str,
    place: impl FnOnce() -> String,
) -> Result<RepoConfig> {
    Ok(
        match gitlab.file_text(project, config::FILE_NAME, at).await? {
            Some(text) => RepoConfig::parse(&text, config::FILE_NAME)?,
            None => RepoConfig::absent(place()),
        },
    )
}
