//! `auto_deploy: true`: after `bump --project` wrote an environment's merge request, the bot
//! asks GitLab to merge it when its pipeline succeeds, pinned to the head the bot wrote.
//!
//! The setting in `.gitops-bot.yaml` on the target branch is the authorisation: nobody
//! comments, so per-environment operators are not asked. Every other rule still holds: a
//! merge request on hold, an environment outside its window, or a branch holding commits
//! the bot did not make is left open, and the bump's output says why. The merge is pinned
//! (`sha`) to the head verified as the bot's own change, so a later push is never merged.
//!
//! A merge request left open only because the window was closed (or it was held) is not
//! forgotten: [`arm_waiting`], run by every `commands` and `promote` pass, arms the bot's
//! open, unarmed merge requests of `auto_deploy` environments once the window is open and
//! they are not held, after verifying their head the same way.

use std::fmt;

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use gitlab::api::projects::merge_requests::MergeRequestState;
use serde::Serialize;

use crate::bump::merge_request::Action;
use crate::config::{self, RepoConfig};
use crate::forms::Target;
use crate::gitlab::{GitlabClient, MergeOutcome, MergeRequest, UserRef};
use crate::marker;
use crate::workflows::comments::targets_of;
use crate::workflows::verify::{Head, verify_head};

/// What auto-deploy did with the merge request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum AutoDeploy {
    /// GitLab merges `sha` when the pipeline succeeds.
    Armed { iid: u64, sha: String },
    /// GitLab merged `sha` right away (no pipeline to wait for).
    Merged { iid: u64, sha: String },
    /// Left open: the merge request carries the hold label.
    Held { iid: u64, label: String },
    /// Left open: the environment's window is closed now.
    OutsideWindow {
        iid: u64,
        window: String,
        next_opening: DateTime<Utc>,
    },
    /// Left open: the branch holds commits the bot did not make.
    NotOurs { iid: u64 },
    /// Left open: GitLab refused the merge; its reason.
    Refused { iid: u64, reason: String },
    /// Left open: what deciding needs could not be read (fail closed); why.
    Unchecked { iid: u64, reason: String },
}

impl fmt::Display for AutoDeploy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |sha: &str| crate::commit_sha::short(sha).to_string();
        match self {
            AutoDeploy::Armed { iid, sha } => write!(
                f,
                "auto-deploy: GitLab merges !{iid} at {} when its pipeline succeeds",
                short(sha)
            ),
            AutoDeploy::Merged { iid, sha } => {
                write!(f, "auto-deploy: GitLab merged !{iid} at {}", short(sha))
            }
            AutoDeploy::Held { iid, label } => write!(
                f,
                "auto-deploy: !{iid} is on hold (label {label}); left open"
            ),
            AutoDeploy::OutsideWindow {
                iid,
                window,
                next_opening,
            } => write!(
                f,
                "auto-deploy: outside the window {window}; !{iid} left open (the window opens next at {})",
                next_opening.format("%Y-%m-%d %H:%M UTC")
            ),
            AutoDeploy::NotOurs { iid } => write!(
                f,
                "auto-deploy: the branch of !{iid} holds commits the bot did not make; left open"
            ),
            AutoDeploy::Refused { iid, reason } => {
                write!(
                    f,
                    "auto-deploy: GitLab did not merge !{iid}: {reason}; left open"
                )
            }
            AutoDeploy::Unchecked { iid, reason } => {
                write!(f, "auto-deploy: !{iid} left open: {reason}")
            }
        }
    }
}

/// Why a merge request that auto-deploys is left open at `now`, if it is: on hold, or outside
/// the environment's window. `None`: ask GitLab to merge.
pub fn held_back(
    config: &RepoConfig,
    environment: &str,
    mr: &MergeRequest,
    now: DateTime<Utc>,
) -> Option<AutoDeploy> {
    if mr.labels.iter().any(|l| l == &config.hold_label) {
        return Some(AutoDeploy::Held {
            iid: mr.iid,
            label: config.hold_label.clone(),
        });
    }
    let window = config.environments.get(environment)?.window.as_ref()?;
    (!window.contains(now)).then(|| AutoDeploy::OutsideWindow {
        iid: mr.iid,
        window: window.to_string(),
        next_opening: window.next_opening(now),
    })
}

/// After a bump: when `environment` has `auto_deploy` and the bump left an open merge
/// request holding the bot's change (written now or already there), asks GitLab to merge
/// it when its pipeline succeeds. `None`: auto-deploy does not apply.
pub async fn after_bump(
    gitlab: &GitlabClient,
    project: &str,
    config: &RepoConfig,
    environment: Option<&str>,
    action: Action,
    mr: Option<&MergeRequest>,
    targets: &[Target],
) -> Result<Option<AutoDeploy>> {
    let (Some(environment), Some(mr)) = (environment, mr) else {
        return Ok(None);
    };
    let wrote_or_holds = matches!(
        action,
        Action::Created | Action::Updated | Action::Reopened | Action::Current
    );
    let auto = config
        .environments
        .get(environment)
        .is_some_and(|e| e.auto_deploy);
    if !auto || !wrote_or_holds || mr.state != "opened" {
        return Ok(None);
    }
    // The real clock, at the moment of the decision.
    if let Some(open) = held_back(config, environment, mr, Utc::now()) {
        return Ok(Some(open));
    }
    let sha = match verify_head(gitlab, project, mr, targets).await? {
        Head::Ours(commit) => commit.id,
        Head::Foreign(_) => return Ok(Some(AutoDeploy::NotOurs { iid: mr.iid })),
    };
    arm(gitlab, project, mr.iid, sha).await.map(Some)
}

/// Asks GitLab to merge !`iid` at `sha` (verified) when its pipeline succeeds.
async fn arm(gitlab: &GitlabClient, project: &str, iid: u64, sha: String) -> Result<AutoDeploy> {
    let done = match gitlab.merge_at(project, iid, &sha, true).await? {
        MergeOutcome::Merged { .. } => AutoDeploy::Merged { iid, sha },
        MergeOutcome::WhenPipelineSucceeds { .. } | MergeOutcome::Accepted { .. } => {
            AutoDeploy::Armed { iid, sha }
        }
        MergeOutcome::HeadMoved { message }
        | MergeOutcome::Failed { message }
        | MergeOutcome::Forbidden { message } => AutoDeploy::Refused {
            iid,
            reason: message,
        },
        MergeOutcome::NotMergeableNow => AutoDeploy::Refused {
            iid,
            reason: "not mergeable now (405): a draft, unresolved threads, missing approvals or a failed pipeline".into(),
        },
    };
    Ok(done)
}

/// The pass that finishes what a bump left waiting: for every open merge request of the
/// bot's that is not armed yet and whose environments (read from Git) all have
/// `auto_deploy` in `.gitops-bot.yaml` on its target branch, arms it when the window is open
/// and it is not held, pinned to its verified head; otherwise says why it waits. Rollbacks
/// are left to people. One entry per merge request concerned; a merge request whose facts
/// cannot be read is left open and said so.
pub async fn arm_waiting(
    gitlab: &GitlabClient,
    project: &str,
    bot: &UserRef,
) -> Result<Vec<AutoDeploy>> {
    let open = gitlab
        .merge_requests_by(project, bot.id, MergeRequestState::Opened, None)
        .await
        .context("cannot read the bot's open merge requests")?;
    let mut configs: BTreeMap<String, RepoConfig> = BTreeMap::new();
    let mut out = Vec::new();
    for mr in &open {
        let is_ours = mr.author.as_ref().map(|a| a.id) == Some(bot.id);
        if !is_ours || mr.state != "opened" || mr.merge_when_pipeline_succeeds {
            continue;
        }
        let Some(hint) = mr.description.as_deref().and_then(marker::bump) else {
            continue;
        };
        if hint.is_rollback() {
            continue;
        }
        if !configs.contains_key(&mr.target_branch) {
            let config = match target_config(gitlab, project, &mr.target_branch).await {
                Ok(config) => config,
                Err(e) => {
                    out.push(unchecked(mr, &e));
                    continue;
                }
            };
            configs.insert(mr.target_branch.clone(), config);
        }
        let Some(config) = configs.get(&mr.target_branch) else {
            continue;
        };
        if !config.environments.values().any(|e| e.auto_deploy) {
            continue;
        }
        match waiting(gitlab, project, config, mr, hint.environment.as_deref()).await {
            Ok(Some(done)) => out.push(done),
            Ok(None) => {}
            Err(e) => out.push(unchecked(mr, &e)),
        }
    }
    Ok(out)
}

fn unchecked(mr: &MergeRequest, e: &anyhow::Error) -> AutoDeploy {
    AutoDeploy::Unchecked {
        iid: mr.iid,
        reason: format!("{e:#}"),
    }
}

/// One waiting merge request: `None` when auto-deploy does not apply to it.
async fn waiting(
    gitlab: &GitlabClient,
    project: &str,
    config: &RepoConfig,
    mr: &MergeRequest,
    recorded: Option<&str>,
) -> Result<Option<AutoDeploy>> {
    let environments = environments_of(gitlab, project, config, mr, recorded).await?;
    let auto = |name: &String| config.environments.get(name).is_some_and(|e| e.auto_deploy);
    if environments.is_empty() || !environments.iter().all(auto) {
        return Ok(None);
    }
    // The real clock, at the moment of the decision.
    let now = Utc::now();
    if let Some(open) = environments
        .iter()
        .find_map(|e| held_back(config, e, mr, now))
    {
        return Ok(Some(open));
    }
    let hint = mr.description.as_deref().and_then(marker::bump);
    let targets: Vec<Target> = match hint.as_ref().map(targets_of) {
        Some(Ok(targets)) => targets,
        Some(Err(_)) | None => return Ok(Some(AutoDeploy::NotOurs { iid: mr.iid })),
    };
    let sha = match verify_head(gitlab, project, mr, &targets).await? {
        Head::Ours(commit) => commit.id,
        Head::Foreign(_) => return Ok(Some(AutoDeploy::NotOurs { iid: mr.iid })),
    };
    arm(gitlab, project, mr.iid, sha).await.map(Some)
}

/// The environments `mr` concerns: the one its record names (a hint, which can only add a
/// guard) and those whose paths hold a file it changes (Git).
async fn environments_of(
    gitlab: &GitlabClient,
    project: &str,
    config: &RepoConfig,
    mr: &MergeRequest,
    recorded: Option<&str>,
) -> Result<Vec<String>> {
    let refs = mr.diff_refs.as_ref();
    let (Some(base), Some(head)) = (
        refs.and_then(|r| r.base_sha.as_deref()),
        refs.and_then(|r| r.head_sha.as_deref()),
    ) else {
        anyhow::bail!("GitLab did not say which commits it changes, so its environment is unknown");
    };
    let files: Vec<String> = gitlab
        .changed_files(project, base, head)
        .await
        .context("cannot read which files it changes")?
        .into_iter()
        .flat_map(|c| [c.old_path, c.new_path])
        .collect();
    let mut environments: Vec<String> = recorded.map(str::to_string).into_iter().collect();
    for name in config.environments_touching(&files) {
        if !environments.iter().any(|e| e == name) {
            environments.push(name.to_string());
        }
    }
    Ok(environments)
}

/// `.gitops-bot.yaml` on `branch`.
async fn target_config(gitlab: &GitlabClient, project: &str, branch: &str) -> Result<RepoConfig> {
    Ok(
        match gitlab
            .file_text(project, config::FILE_NAME, branch)
            .await
            .with_context(|| format!("cannot read {} on {branch}", config::FILE_NAME))?
        {
            Some(text) => RepoConfig::parse(&text, config::FILE_NAME)?,
            None => RepoConfig::absent(format!("{project} at {branch}")),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mr(labels: &[&str]) -> MergeRequest {
        serde_json::from_value(serde_json::json!({
            "iid": 3,
            "state": "opened",
            "title": "t",
            "web_url": "u",
            "source_branch": "s",
            "target_branch": "main",
            "labels": labels,
        }))
        .expect("a merge request")
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("an instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_hold_or_a_closed_window_leaves_the_merge_request_open() {
        let config = RepoConfig::parse(
            "environments:\n  dev: {paths: [d], auto_deploy: true}\n  prod:\n    paths: [p]\n    auto_deploy: true\n    window: Mon-Fri 09:00-17:00 UTC\n",
            ".gitops-bot.yaml",
        )
        .expect("config");
        // 2026-11-28 is a Saturday.
        let (saturday, friday) = (at("2026-11-28T12:00:00Z"), at("2026-11-27T12:00:00Z"));
        assert_eq!(held_back(&config, "dev", &mr(&[]), saturday), None);
        assert_eq!(held_back(&config, "prod", &mr(&["deploy"]), friday), None);
        assert_eq!(
            held_back(&config, "prod", &mr(&[]), saturday),
            Some(AutoDeploy::OutsideWindow {
                iid: 3,
                window: "Mon-Fri 09:00-17:00 UTC".into(),
                next_opening: at("2026-11-30T09:00:00Z"),
            })
        );
        let held = held_back(&config, "dev", &mr(&["gitops-bot::hold"]), friday);
        assert_eq!(
            held,
            Some(AutoDeploy::Held {
                iid: 3,
                label: "gitops-bot::hold".into()
            })
        );
        assert_eq!(
            held.map(|h| h.to_string()).as_deref(),
            Some("auto-deploy: !3 is on hold (label gitops-bot::hold); left open")
        );
    }
}
