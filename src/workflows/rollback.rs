//! Rolling back a merged bump, from Git: the commit that merged it, the files it changed, the
//! versions those files had before. The description's record only names the image to look
//! for.

use std::path::PathBuf;

use anyhow::Result;

use super::propose::BumpSpec;
use crate::bump::is_yaml_path;
use crate::bump::merge_request::RollbackOf;
use crate::bump::revert::{FileChange, image_change};
use crate::gitlab::{GitlabClient, MergeRequest};
use crate::image_ref::ImageRef;
use crate::marker::BumpState;
use crate::messages::Reply;

/// What merging a merge request did, read from Git, or why that cannot be told.
#[derive(Debug, Clone)]
pub enum Merged<T> {
    Known(T),
    /// Why not (GitLab does not say which commit merged it; not a version change; …).
    Unclear(String),
}

/// The commits a merged merge request went from and to on its target branch: its merge (or
/// squash) commit and that commit's first parent; for a fast-forward, the merge base and its
/// head. Read from the API, never from the description.
pub(crate) async fn merged_range(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
) -> Result<Merged<(String, String)>> {
    let merged = mr
        .merge_commit_sha
        .as_deref()
        .or(mr.squash_commit_sha.as_deref());
    if let Some(merged) = merged {
        let commit = gitlab.commit(project, merged).await?;
        return Ok(match commit.parent_ids.first() {
            Some(parent) => Merged::Known((parent.clone(), commit.id)),
            None => Merged::Unclear(format!("the merge commit `{merged}` has no parent")),
        });
    }
    let base = mr.diff_refs.as_ref().and_then(|d| d.base_sha.clone());
    Ok(match (base, mr.sha.clone()) {
        (Some(base), Some(head)) if mr.state == "merged" => Merged::Known((base, head)),
        _ => Merged::Unclear(format!(
            "GitLab does not say which commit merged !{}",
            mr.iid
        )),
    })
}

/// The files merging `mr` changed.
pub async fn merged_files(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
) -> Result<Merged<Vec<String>>> {
    let (before, after) = match merged_range(gitlab, project, mr).await? {
        Merged::Known(range) => range,
        Merged::Unclear(why) => return Ok(Merged::Unclear(why)),
    };
    Ok(Merged::Known(
        gitlab
            .changed_files(project, &before, &after)
            .await?
            .into_iter()
            .map(|c| c.new_path)
            .collect(),
    ))
}

/// The YAML files merging `mr` changed, before and after (read once for all its images),
/// with the commit after it. What it did to one image is [`image_change`] of these.
pub async fn merged_file_changes(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
) -> Result<Merged<(Vec<FileChange>, String)>> {
    let (before, after) = match merged_range(gitlab, project, mr).await? {
        Merged::Known(range) => range,
        Merged::Unclear(why) => return Ok(Merged::Unclear(why)),
    };
    let mut files = Vec::new();
    for c in gitlab.changed_files(project, &before, &after).await? {
        if !is_yaml_path(&c.new_path) || c.new_file || c.deleted_file || c.renamed_file {
            continue;
        }
        let old = gitlab.file_text(project, &c.old_path, &before).await?;
        let new = gitlab.file_text(project, &c.new_path, &after).await?;
        if let (Some(before), Some(after)) = (old, new) {
            files.push(FileChange {
                path: c.new_path,
                before,
                after,
            });
        }
    }
    Ok(Merged::Known((files, after)))
}

/// Why a rollback is proposed.
#[derive(Debug, Clone)]
pub enum RollbackWhy {
    /// The deploy failed: the reason and the result comment's address, when known.
    Failed {
        reason: Option<String>,
        result_url: Option<String>,
    },
    /// A person asked for it.
    Requested { by: String },
}

/// A rollback to propose, or why there is none.
#[derive(Debug, Clone)]
pub enum Rollback {
    Propose(Box<BumpSpec>),
    /// What to say instead.
    Refuse(Reply),
}

/// The images a bump's record names (a hint: what to look for in Git), or why they cannot
/// be read.
pub fn images_of(hint: &BumpState) -> Result<Vec<ImageRef>, String> {
    hint.recorded_images()
        .iter()
        .map(|i| ImageRef::parse(&i.image).map_err(|e| e.to_string()))
        .collect()
}

/// The rollback of the merged bump `mr`: its files put back to the one version they had
/// before it merged, on its target branch, in the environment whose paths hold them. All of
/// it comes from Git and the API; `images` (from the description) only name what to look
/// for, and must match what the merge changed.
///
/// A bump of several images (a promotion, say) is rolled back as a whole, in one commit: each
/// image to the one version its files had before the merge. If any image's change is unclear
/// or had several versions before, nothing is proposed and the reply names that image.
pub async fn plan_rollback(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
    images: &[ImageRef],
    setter: Option<String>,
    why: RollbackWhy,
) -> Result<Rollback> {
    if images.is_empty() {
        return Ok(Rollback::Refuse(Reply::RollbackUnclear {
            iid: mr.iid,
            why: "its record names no image".to_string(),
            image: String::new(),
        }));
    }
    let unclear = |image: &ImageRef, why: String| {
        Rollback::Refuse(Reply::RollbackUnclear {
            iid: mr.iid,
            why,
            image: image.name.as_str().to_string(),
        })
    };
    let (merged, after) = match merged_file_changes(gitlab, project, mr).await? {
        Merged::Known(known) => known,
        Merged::Unclear(why) => return Ok(unclear(&images[0], why)),
    };
    let mut previous_images = Vec::new();
    let mut files: Vec<String> = Vec::new();
    let mut rolled_back_from = None;
    for image in images {
        let change = match image_change(&merged, image) {
            Ok(change) => change,
            Err(e) => return Ok(unclear(image, e.to_string())),
        };
        let [previous] = change.before.as_slice() else {
            return Ok(Rollback::Refuse(Reply::RollbackAmbiguous {
                iid: mr.iid,
                versions: change.before.iter().map(ToString::to_string).collect(),
                image: image.name.as_str().to_string(),
            }));
        };
        previous_images.push(image.at(previous));
        if rolled_back_from.is_none() {
            rolled_back_from = change.after.first().cloned();
        }
        for f in change.files {
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    let environment = environment_at(gitlab, project, &after, &files).await?;
    let (failed, reason, result_url, requested_by) = match why {
        RollbackWhy::Failed { reason, result_url } => (true, reason, result_url, None),
        RollbackWhy::Requested { by } => (false, None, None, Some(by)),
    };
    Ok(Rollback::Propose(Box::new(BumpSpec {
        images: previous_images,
        setter,
        paths: files.iter().map(PathBuf::from).collect(),
        environment,
        target_branch: Some(mr.target_branch.clone()),
        assignees: mr.assignees.iter().map(|a| a.username.clone()).collect(),
        reopen: true,
        rollback: Some(RollbackOf {
            iid: mr.iid,
            url: mr.web_url.clone(),
            version: rolled_back_from.unwrap_or_default(),
            failed,
            reason,
            result_url,
            requested_by,
        }),
        ..BumpSpec::default()
    })))
}

/// The environment whose paths hold `files`, by `.gitops-bot.yaml` at commit `at`.
async fn environment_at(
    gitlab: &GitlabClient,
    project: &str,
    at: &str,
    files: &[String],
) -> Result<Option<String>> {
    let config = super::settings::settings_at(gitlab, project, at, || {
        format!("{project} at {}", crate::commit_sha::short(at))
    })
    .await?;
    Ok(config.environment_of(files).map(str::to_string))
}
