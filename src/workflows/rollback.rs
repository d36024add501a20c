//! Rolling back a merged bump, from Git: the commit that merged it, the files it changed, the
//! versions those files had before. The description's record only names the image to look
//! for.

use std::path::PathBuf;

use anyhow::Result;

use super::propose::BumpSpec;
use crate::bump::is_yaml_path;
use crate::bump::merge_request::RollbackOf;
use crate::bump::revert::{FileChange, ImageChange, image_change};
use crate::config::{self, RepoConfig};
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

/// What merging `mr` did to `image`'s references, with the commit after it.
pub async fn merged_change(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
    image: &ImageRef,
) -> Result<Merged<(ImageChange, String)>> {
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
    Ok(match image_change(&files, image) {
        Ok(change) => Merged::Known((change, after)),
        Err(e) => Merged::Unclear(e.to_string()),
    })
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
/// A bump of several images is not rolled back: reverting a set whose images may have moved
/// on separately since has no one right answer, so the reply says how to do it instead
/// (GitLab's Revert, or a bump to the versions from before, read from Git).
pub async fn plan_rollback(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
    images: &[ImageRef],
    setter: Option<String>,
    why: RollbackWhy,
) -> Result<Rollback> {
    let image = match images {
        [image] => image,
        _ => return refuse_several(gitlab, project, mr, images).await,
    };
    let (change, after) = match merged_change(gitlab, project, mr, image).await? {
        Merged::Known(c) => c,
        Merged::Unclear(why) => {
            return Ok(Rollback::Refuse(Reply::RollbackUnclear {
                iid: mr.iid,
                why,
                image: image.name.as_str().to_string(),
            }));
        }
    };
    let [previous] = change.before.as_slice() else {
        return Ok(Rollback::Refuse(Reply::RollbackAmbiguous {
            iid: mr.iid,
            versions: change.before.iter().map(ToString::to_string).collect(),
            image: image.name.as_str().to_string(),
        }));
    };
    let environment = environment_at(gitlab, project, &after, &change.files).await?;
    let (failed, reason, result_url, requested_by) = match why {
        RollbackWhy::Failed { reason, result_url } => (true, reason, result_url, None),
        RollbackWhy::Requested { by } => (false, None, None, Some(by)),
    };
    Ok(Rollback::Propose(Box::new(BumpSpec {
        images: vec![image.at(previous)],
        setter,
        paths: change.files.iter().map(PathBuf::from).collect(),
        environment,
        target_branch: Some(mr.target_branch.clone()),
        assignees: mr.assignees.iter().map(|a| a.username.clone()).collect(),
        reopen: true,
        rollback: Some(RollbackOf {
            iid: mr.iid,
            url: mr.web_url.clone(),
            version: change.after.first().cloned().unwrap_or_default(),
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
    let config = match gitlab.file_text(project, config::FILE_NAME, at).await? {
        Some(text) => RepoConfig::parse(&text, config::FILE_NAME)?,
        None => RepoConfig::absent(format!("{project} at {}", crate::commit_sha::short(at))),
    };
    Ok(config.environment_of(files).map(str::to_string))
}

/// The refusal for a bump of several images, with each image at the version it had before,
/// from Git (`<version>` where Git does not tell one).
async fn refuse_several(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
    images: &[ImageRef],
) -> Result<Rollback> {
    let mut previous = Vec::new();
    let mut files = Vec::new();
    let mut after = None;
    for image in images {
        match merged_change(gitlab, project, mr, image).await? {
            Merged::Known((change, at)) if change.before.len() == 1 => {
                previous.push(image.at(&change.before[0]).to_string());
                files.extend(change.files);
                after = Some(at);
            }
            _ => previous.push(format!("{}:<version>", image.name.as_str())),
        }
    }
    let environment = match after {
        Some(at) => environment_at(gitlab, project, &at, &files).await?,
        None => None,
    };
    Ok(Rollback::Refuse(Reply::RollbackSeveral {
        iid: mr.iid,
        previous,
        environment,
    }))
}
