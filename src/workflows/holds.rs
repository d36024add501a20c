//! Reading an environment's holds from Git and the API (the decision is
//! [`crate::promotion::hold`]'s). A hold comes from a bot rollback merge request of the
//! environment: authored by the bot, on the environment's rollback branch, merged. What it
//! holds is what its merge changed in the environment's files, read from the merge commit
//! against its first parent, never from the description. It is lifted by the bot's own
//! `unhold` answer on that merge request after the merge, which the comment dispatcher
//! writes only for an authorised operator's unedited comment. Every read error is an error:
//! callers propose nothing when the holds are unknown.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::DateTime;

use crate::bump::merge_request::rollback_prefix;
use crate::bump::{in_scope, is_yaml_path};
use crate::config::RepoConfig;
use crate::gitlab::Noteable;
use crate::gitlab::{GitlabClient, MergeRequest, UserRef};
use crate::marker;
use crate::promotion::{Hold, images_of};
use crate::workflows::rollback::{Merged, merged_range};

/// The holds of `environment`, lifted ones included (marked so), oldest rollback first.
pub async fn holds_of(
    gitlab: &GitlabClient,
    project: &str,
    bot: &UserRef,
    config: &RepoConfig,
    environment: &str,
) -> Result<Vec<Hold>> {
    let scope = scope_of(config, environment)?;
    let merged = merged_by_bot(gitlab, project, bot)
        .await
        .with_context(|| format!("cannot read the merged rollbacks of {environment}"))?;
    holds_in(gitlab, project, bot, &scope, environment, &merged).await
}

/// The holds of each of `environments` (lifted ones included, marked so), from one read of
/// the bot's merged merge requests: the list is the same whatever the environment.
pub async fn holds_by_environment<'e>(
    gitlab: &GitlabClient,
    project: &str,
    bot: &UserRef,
    config: &RepoConfig,
    environments: impl IntoIterator<Item = &'e str>,
) -> Result<BTreeMap<String, Vec<Hold>>> {
    let merged = merged_by_bot(gitlab, project, bot)
        .await
        .context("cannot read the merged rollbacks")?;
    let mut out = BTreeMap::new();
    for environment in environments {
        let scope = scope_of(config, environment)?;
        let holds = holds_in(gitlab, project, bot, &scope, environment, &merged).await?;
        out.insert(environment.to_string(), holds);
    }
    Ok(out)
}

/// The bot's merged merge requests, where every environment's rollbacks are found.
pub async fn merged_by_bot(
    gitlab: &GitlabClient,
    project: &str,
    bot: &UserRef,
) -> Result<Vec<MergeRequest>> {
    Ok(gitlab
        .merge_requests_by(
            project,
            bot.id,
            crate::gitlab::MergeRequestState::Merged,
            None,
        )
        .await?)
}

/// The holds of `environment` (its paths `scope`) among the bot's `merged` merge requests,
/// oldest rollback first.
pub async fn holds_in(
    gitlab: &GitlabClient,
    project: &str,
    bot: &UserRef,
    scope: &[String],
    environment: &str,
    merged: &[MergeRequest],
) -> Result<Vec<Hold>> {
    let mut rollbacks: Vec<&MergeRequest> = merged
        .iter()
        .filter(|mr| is_rollback_of(mr, bot, environment))
        .collect();
    rollbacks.sort_by_key(|mr| mr.iid);
    let mut holds = Vec::new();
    for mr in rollbacks {
        let mut these = rollback_holds(gitlab, project, mr, scope, environment).await?;
        let lifted_by = lifted_by(gitlab, project, bot, mr).await?;
        for hold in &mut these {
            hold.lifted_by.clone_from(&lifted_by);
        }
        holds.extend(these);
    }
    Ok(holds)
}

/// Whether `mr` is a bot rollback merge request of `environment` that has merged.
pub fn is_rollback_of(mr: &MergeRequest, bot: &UserRef, environment: &str) -> bool {
    mr.state == "merged"
        && mr.author.as_ref().map(|a| a.id) == Some(bot.id)
        && mr.source_branch.starts_with(&rollback_prefix(environment))
}

/// Whether `branch` is a bot rollback branch, of whichever environment or target branch.
pub fn is_rollback_branch(branch: &str) -> bool {
    branch
        .strip_prefix("gitops-bot/")
        .is_some_and(|rest| rest.contains("/rollback/"))
}

/// `environment`'s paths as repository-relative prefixes.
pub fn scope_of(config: &RepoConfig, environment: &str) -> Result<Vec<String>> {
    Ok(config.environment_scope(environment)?)
}

/// What the merged rollback `mr` holds `environment` for: per repository whose versions its
/// merge changed in the environment's files, the versions it moved away from. Lifts are
/// not looked at (`lifted_by` is `None`).
pub async fn rollback_holds(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
    scope: &[String],
    environment: &str,
) -> Result<Vec<Hold>> {
    let unclear = |why: String| {
        anyhow::anyhow!(
            "cannot tell which versions rollback !{} of {environment} rolled back: {why}",
            mr.iid
        )
    };
    let (before, after) = match merged_range(gitlab, project, mr)
        .await
        .with_context(|| format!("cannot read the merge of rollback !{}", mr.iid))?
    {
        Merged::Known(range) => range,
        Merged::Unclear(why) => return Err(unclear(why)),
    };
    let changes = gitlab
        .changed_files(project, &before, &after)
        .await
        .with_context(|| format!("cannot read what rollback !{} changed", mr.iid))?;
    let mut old_files = Vec::new();
    let mut new_files = Vec::new();
    for c in changes {
        let wanted = |path: &str| is_yaml_path(path) && in_scope(path, scope);
        if wanted(&c.old_path)
            && !c.new_file
            && let Some(text) = gitlab.file_text(project, &c.old_path, &before).await?
        {
            old_files.push((c.old_path.clone(), text));
        }
        if wanted(&c.new_path)
            && !c.deleted_file
            && let Some(text) = gitlab.file_text(project, &c.new_path, &after).await?
        {
            new_files.push((c.new_path.clone(), text));
        }
    }
    let was = images_of(
        old_files.iter().map(|(p, t)| (p.as_str(), t.as_bytes())),
        scope,
    );
    let is = images_of(
        new_files.iter().map(|(p, t)| (p.as_str(), t.as_bytes())),
        scope,
    );
    let mut holds = Vec::new();
    for (repository, before) in &was.images {
        let now = is
            .get(repository)
            .map(|i| i.versions.as_slice())
            .unwrap_or(&[]);
        let versions: Vec<_> = before
            .versions
            .iter()
            .filter(|v| !now.contains(v))
            .cloned()
            .collect();
        if versions.is_empty() {
            continue;
        }
        holds.push(Hold {
            environment: environment.to_string(),
            repository: repository.clone(),
            versions,
            rollback_iid: mr.iid,
            rollback_url: mr.web_url.clone(),
            lifted_by: None,
        });
    }
    Ok(holds)
}

/// Who lifted the hold of the merged rollback `mr`: the author of the comment the bot's
/// first successful `unhold` answer after the merge replies to. The bot's own notes are the
/// record (nobody else can write them); without a merge time nothing counts as lifted.
async fn lifted_by(
    gitlab: &GitlabClient,
    project: &str,
    bot: &UserRef,
    mr: &MergeRequest,
) -> Result<Option<String>> {
    let Some(merged_at) = mr.merged_at.as_deref().and_then(instant) else {
        return Ok(None);
    };
    let notes = gitlab
        .notes(project, Noteable::MergeRequest(mr.iid))
        .await
        .with_context(|| format!("cannot read the comments of rollback !{}", mr.iid))?;
    let lift = notes
        .iter()
        .filter(|n| n.author.id == bot.id && !n.system)
        .filter(|n| instant(&n.created_at).is_some_and(|at| at >= merged_at))
        .filter_map(|n| marker::reply(&n.body))
        .find(|r| r.command == "unhold" && r.outcome == "done");
    Ok(lift.map(|r| {
        notes
            .iter()
            .find(|n| n.id == r.reply_to)
            .map_or_else(|| "an operator".to_string(), |n| n.author.username.clone())
    }))
}

fn instant(text: &str) -> Option<DateTime<chrono::FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_branches_are_told_apart_from_bump_branches() {
        assert!(is_rollback_branch("gitops-bot/prod/rollback/api-1f2e3d"));
        assert!(is_rollback_branch(
            "gitops-bot/main/rollback/helloworld-000001"
        ));
        assert!(!is_rollback_branch("gitops-bot/prod/helloworld"));
        assert!(!is_rollback_branch("feature/rollback/x"));
    }
}
