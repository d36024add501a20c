//! `auto_deploy: true`: after `bump --project` wrote an environment's merge request, the bot
//! asks GitLab to merge it when its pipeline succeeds, pinned to the head the bot wrote.
//!
//! The setting in `.gitops-bot.yaml` on the target branch is the authorisation: nobody
//! comments, so per-environment operators are not asked. Every other rule still holds: a
//! merge request on hold, an environment outside its window, or a branch holding commits
//! the bot did not make is left open, and the bump's output says why. The merge is pinned
//! (`sha`) to the head verified as the bot's own change, so a later push is never merged.
//! It does not wait, retry or re-arm: a later `bump` of the same version asks again.

use std::fmt;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::bump::merge_request::Action;
use crate::config::RepoConfig;
use crate::forms::Target;
use crate::gitlab::{GitlabClient, MergeOutcome, MergeRequest};
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
    let iid = mr.iid;
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
    Ok(Some(done))
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
