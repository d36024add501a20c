//! `auto_deploy: true`: after `bump --project` wrote an environment's merge request, the bot
//! asks GitLab to merge it when its pipeline succeeds, pinned to the head the bot wrote.
//!
//! The setting in `.gitops-bot.yaml` on the target branch is the authorisation: nobody
//! comments, so per-environment operators are not asked. Every other rule still holds: a
//! merge request on hold, an environment outside its window, a version a merged rollback of
//! the environment holds ([`crate::workflows::holds`]; holds that cannot be read count as
//! held), or a branch holding commits the bot did not make is left open, and the bump's
//! output says why. Holds are read last, only for a merge request about to be armed. The merge is pinned
//! (`sha`) to the head verified as the bot's own change, so a later push is never merged.
//!
//! A merge request left open only because the window was closed (or it was held) is not
//! forgotten: [`arm_waiting`], run by every `commands` and `promote` pass, arms the bot's
//! open, unarmed merge requests of `auto_deploy` environments once the window is open and
//! they are not held, after verifying their head the same way. A pass reads the bot's merged
//! merge requests at most once, and each environment's holds at most once.

use std::fmt;

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::bump::merge_request::Action;
use crate::config::{self, RepoConfig};
use crate::forms::Target;
use crate::gitlab::{GitlabClient, MergeOutcome, MergeRequest, UserRef};
use crate::image_ref::Version;
use crate::marker;
use crate::promotion::{Hold, Skip, held};
use crate::workflows::comments::targets_of;
use crate::workflows::holds::{holds_in, holds_of, merged_by_bot, scope_of};
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
    /// Left open: a merged rollback of the environment holds a version the merge request
    /// deploys (lifted by `unhold` on the rollback, or by a newer version).
    RolledBack {
        iid: u64,
        environment: String,
        repository: String,
        version: Version,
        rollback_iid: u64,
        rollback_url: String,
        /// The command prefix, to say how to lift it.
        #[serde(skip)]
        prefix: String,
    },
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
            AutoDeploy::RolledBack {
                iid,
                environment,
                repository,
                version,
                rollback_iid,
                rollback_url,
                prefix,
            } => {
                let why = Skip::Held {
                    environment: environment.clone(),
                    version: version.clone(),
                    rollback_iid: *rollback_iid,
                    rollback_url: rollback_url.clone(),
                    prefix: prefix.clone(),
                };
                write!(f, "auto-deploy: !{iid} left open: {repository}: {why}")
            }
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

/// Whether a merged rollback of `environment` (its `holds`) keeps one of `targets`, the
/// images merge request !`iid` deploys, out of it: then it is left open, saying which hold
/// and how to lift it.
pub fn rolled_back(
    config: &RepoConfig,
    environment: &str,
    iid: u64,
    holds: &[Hold],
    targets: &[Target],
) -> Option<AutoDeploy> {
    targets.iter().find_map(|target| {
        let repository = target.image.name.canonical();
        let version = target.image.version();
        let hold = held(holds, &repository, &version)?;
        Some(AutoDeploy::RolledBack {
            iid,
            environment: environment.to_string(),
            repository,
            version,
            rollback_iid: hold.rollback_iid,
            rollback_url: hold.rollback_url.clone(),
            prefix: config.command_prefix.clone(),
        })
    })
}

/// Left open because the holds of `environment` could not be read (fail closed).
fn holds_unknown(iid: u64, environment: &str, e: &str) -> AutoDeploy {
    AutoDeploy::Unchecked {
        iid,
        reason: format!("the holds of {environment} are unknown, so it is not armed: {e}"),
    }
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
    let holds = match environment_holds(gitlab, project, config, environment).await {
        Ok(holds) => holds,
        Err(e) => return Ok(Some(holds_unknown(mr.iid, environment, &format!("{e:#}")))),
    };
    if let Some(open) = rolled_back(config, environment, mr.iid, &holds, targets) {
        return Ok(Some(open));
    }
    arm(gitlab, project, mr.iid, sha).await.map(Some)
}

/// The holds of `environment`, read as the bot.
async fn environment_holds(
    gitlab: &GitlabClient,
    project: &str,
    config: &RepoConfig,
    environment: &str,
) -> Result<Vec<Hold>> {
    let bot = gitlab
        .current_user()
        .await
        .context("cannot tell which user the bot is")?;
    holds_of(gitlab, project, &bot, config, environment).await
}

/// The holds read in one [`arm_waiting`] pass: the bot's merged merge requests once, and
/// each environment's holds once per target branch (its settings there), errors included.
#[derive(Default)]
struct HoldsRead {
    merged: Option<Result<Vec<MergeRequest>, String>>,
    holds: BTreeMap<(String, String), Result<Vec<Hold>, String>>,
}

impl HoldsRead {
    async fn of(
        &mut self,
        gitlab: &GitlabClient,
        project: &str,
        bot: &UserRef,
        (config, branch): (&RepoConfig, &str),
        environment: &str,
    ) -> Result<Vec<Hold>, String> {
        let key = (branch.to_string(), environment.to_string());
        if let Some(read) = self.holds.get(&key) {
            return read.clone();
        }
        if self.merged.is_none() {
            let merged = merged_by_bot(gitlab, project, bot)
                .await
                .map_err(|e| format!("cannot read the merged rollbacks: {e:#}"));
            self.merged = Some(merged);
        }
        let read = match &self.merged {
            Some(Ok(merged)) => match scope_of(config, environment) {
                Ok(scope) => holds_in(gitlab, project, bot, &scope, environment, merged)
                    .await
                    .map_err(|e| format!("{e:#}")),
                Err(e) => Err(format!("{e:#}")),
            },
            Some(Err(e)) => Err(e.clone()),
            None => Err("the merged rollbacks were not read".to_string()),
        };
        self.holds.insert(key, read.clone());
        read
    }
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
        .merge_requests_by(
            project,
            bot.id,
            crate::gitlab::MergeRequestState::Opened,
            None,
        )
        .await
        .context("cannot read the bot's open merge requests")?;
    let mut configs: BTreeMap<String, RepoConfig> = BTreeMap::new();
    let mut out = Vec::new();
    let mut holds = HoldsRead::default();
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
        let recorded = hint.environment.as_deref();
        let seen = (gitlab, project, bot);
        match waiting(seen, config, mr, recorded, &mut holds).await {
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
    (gitlab, project, bot): (&GitlabClient, &str, &UserRef),
    config: &RepoConfig,
    mr: &MergeRequest,
    recorded: Option<&str>,
    holds: &mut HoldsRead,
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
    for environment in &environments {
        let branch = mr.target_branch.as_str();
        let read = holds
            .of(gitlab, project, bot, (config, branch), environment)
            .await;
        let these = match read {
            Ok(these) => these,
            Err(e) => return Ok(Some(holds_unknown(mr.iid, environment, &e))),
        };
        if let Some(open) = rolled_back(config, environment, mr.iid, &these, &targets) {
            return Ok(Some(open));
        }
    }
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
    fn a_rolled_back_version_is_left_open_and_a_newer_one_is_not() {
        let config = RepoConfig::parse(
            "environments:\n  dev: {paths: [d], auto_deploy: true}\n",
            ".gitops-bot.yaml",
        )
        .expect("config");
        let hold = Hold {
            environment: "dev".into(),
            repository: "registry.example.com/team/api".into(),
            versions: vec![Version::parse("ci-40").expect("a version")],
            rollback_iid: 2,
            rollback_url: "https://gitlab.example.com/g/p/-/merge_requests/2".into(),
            lifted_by: None,
        };
        let target = |image: &str| Target {
            image: crate::image_ref::ImageRef::parse(image).expect("an image"),
            setter: None,
        };
        let held = rolled_back(
            &config,
            "dev",
            3,
            std::slice::from_ref(&hold),
            &[target("registry.example.com/team/api:ci-40")],
        );
        assert_eq!(
            held.map(|h| h.to_string()).as_deref(),
            Some(
                "auto-deploy: !3 left open: registry.example.com/team/api: dev is held for ci-40 since rollback !2 (https://gitlab.example.com/g/p/-/merge_requests/2) merged: an operator of dev lifts it with `gitops-bot unhold` on !2, or a newer version is proposed"
            )
        );
        let newer = [target("registry.example.com/team/api:ci-41")];
        assert_eq!(
            rolled_back(&config, "dev", 3, std::slice::from_ref(&hold), &newer),
            None
        );
        let lifted = Hold {
            lifted_by: Some("operator".into()),
            ..hold
        };
        let same = [target("registry.example.com/team/api:ci-40")];
        assert_eq!(rolled_back(&config, "dev", 3, &[lifted], &same), None);
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
