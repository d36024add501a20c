//! A repository at a commit, read from GitLab and written to a temporary directory, for the
//! renderers (kustomize, helm) that need files on disk: `preview` and `drift` use it.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::gitlab::{GitlabClient, Limits};

/// The repository at `sha`: every file, by path.
pub async fn read_tree(
    gitlab: &GitlabClient,
    project: &str,
    sha: &str,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let archive = gitlab
        .archive(
            project,
            sha,
            Limits {
                max_file: crate::bump::MAX_FILE_SIZE,
                max_total: 1024 * 1024 * 1024,
            },
            |_| true,
            |_, _| true,
        )
        .await?;
    Ok(archive
        .files
        .into_iter()
        .map(|f| (f.path, f.bytes))
        .collect())
}

/// `files` written under a fresh temporary directory (paths come from the archive reader,
/// which refuses absolute paths and `..`).
pub fn write_tree(files: &BTreeMap<String, Vec<u8>>) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    for (path, bytes) in files {
        let target = dir.path().join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
    }
    Ok(dir)
}

/// Whether `path` (a direct-apply path of `.gitops-bot.yaml`) names a place inside the
/// repository: relative, not empty, without `..`; else why not.
pub fn check_repository_path(path: &std::path::Path) -> Result<(), String> {
    use std::path::Component;
    let inside = !path.as_os_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if inside {
        Ok(())
    } else {
        Err(format!(
            "apply path {} is not inside the repository (relative, without ..)",
            path.display()
        ))
    }
}
