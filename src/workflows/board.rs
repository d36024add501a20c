//! The status view read from GitLab, and the deploy board issue kept from it.
//!
//! [`read`] makes a bounded number of requests whatever the number of environments and
//! images: the project, the default branch's head, `.gitops-bot.yaml`, one archive of the
//! head (every environment's paths at once), one deployments read per environment, the
//! open merge requests into the default branch (paged), and the holds: the bot user, its
//! merged merge requests once for every environment (paged), and per merged rollback its
//! merge, changed files, files and comments (see [`crate::workflows::holds`]). [`refresh`] adds one issue search
//! and at most one write. [`after_write`] is the one call `bump`, `sync` and `promote` make:
//! it never fails them, a board that cannot be refreshed is a warning in the job log.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::board::{self, Candidate, Plan};
use crate::bump::{in_scope, is_yaml_path};
use crate::config::RepoConfig;
use crate::gitlab::{GitlabClient, IssueFields, Limits};
use crate::messages::{DeployBoardView, Messages};
use crate::promotion::images_of;
use crate::status_view::{self, Inputs, MergeRequestInput, StatusView};
use crate::workflows::holds::holds_by_environment;
use crate::workflows::settings;

/// Deployment records read per environment: the latest decides.
const RECORDS: u8 = 1;

/// The settings at the head of the default branch and the status view.
pub struct Snapshot {
    pub config: RepoConfig,
    pub view: StatusView,
}

/// Reads the status of `project` at the head of its default branch, as of `now`.
pub async fn read(gitlab: &GitlabClient, project: &str, now: DateTime<Utc>) -> Result<Snapshot> {
    let settings::DefaultHead {
        project: info,
        branch,
        head,
    } = settings::default_head(gitlab, project).await?;
    let config = settings::settings_at(gitlab, project, &head.id, || {
        format!("{project} at {branch}")
    })
    .await?;
    let mut scopes = BTreeMap::new();
    for name in config.environments.keys() {
        let scope = config
            .environment_scope(name)
            .map_err(|e| anyhow::anyhow!("environment {e}"))?;
        scopes.insert(name.clone(), scope);
    }

    let mut images = BTreeMap::new();
    if !scopes.is_empty() {
        let all: Vec<Vec<String>> = scopes.values().cloned().collect();
        let archive = gitlab
            .archive(
                project,
                &head.id,
                Limits {
                    max_file: crate::bump::MAX_FILE_SIZE,
                    max_total: 1024 * 1024 * 1024,
                },
                move |path| is_yaml_path(path) && all.iter().any(|s| in_scope(path, s)),
                |_, _| true,
            )
            .await
            .with_context(|| {
                format!(
                    "cannot read the repository at {}",
                    crate::commit_sha::short(&head.id)
                )
            })?;
        for (name, scope) in &scopes {
            let files = archive
                .files
                .iter()
                .map(|f| (f.path.as_str(), f.bytes.as_slice()));
            let mut found = images_of(files, scope);
            for (path, size) in &archive.oversized {
                if in_scope(path, scope) {
                    found.unread_files.push((
                        path.clone(),
                        format!(
                            "{size} bytes, over the {}-byte limit",
                            crate::bump::MAX_FILE_SIZE
                        ),
                    ));
                }
            }
            images.insert(name.clone(), found);
        }
    }

    let mut deployments = BTreeMap::new();
    for name in config.environments.keys() {
        let records = gitlab
            .latest_deployments(project, name, RECORDS)
            .await
            .with_context(|| format!("cannot read the deployments of {name}"))?;
        deployments.insert(name.clone(), records);
    }

    let merge_requests: Vec<MergeRequestInput> = gitlab
        .open_merge_requests(project, &branch)
        .await
        .context("cannot list the open merge requests")?
        .into_iter()
        .map(|m| MergeRequestInput {
            iid: m.iid,
            title: m.title,
            web_url: m.web_url,
            source_branch: m.source_branch,
            description: m.description.unwrap_or_default(),
        })
        .collect();

    let bot = gitlab
        .current_user()
        .await
        .context("cannot tell which user the bot is, so its holds are unknown")?;
    let names = config.environments.keys().map(String::as_str);
    let holds = holds_by_environment(gitlab, project, &bot, &config, names)
        .await
        .context("cannot read the holds")?;

    let view = status_view::build(&Inputs {
        project: &info.path_with_namespace,
        project_url: &info.web_url,
        branch: &branch,
        head: &head.id,
        config: &config,
        images: &images,
        deployments: &deployments,
        merge_requests: &merge_requests,
        holds: &holds,
        now,
    });
    Ok(Snapshot { config, view })
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    Created { iid: u64, url: String },
    Edited { iid: u64 },
    Unchanged { iid: u64 },
}

impl std::fmt::Display for Refreshed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refreshed::Created { iid, url } => write!(f, "deploy board created: #{iid} {url}"),
            Refreshed::Edited { iid } => write!(f, "deploy board #{iid} updated"),
            Refreshed::Unchanged { iid } => write!(f, "deploy board #{iid} unchanged"),
        }
    }
}

/// Writes `view` to the deploy board of `project` when it shows something else (creating
/// the board on first use). Fails closed: when the search fails, nothing is created, since
/// a board may exist.
pub async fn refresh(gitlab: &GitlabClient, project: &str, view: &StatusView) -> Result<Refreshed> {
    // The marker names the project by path, whether it was given by path or by ID.
    let text = Messages::new(None)?.deploy_board(&DeployBoardView::new(
        view,
        board::marker_line(&view.project),
    ))?;
    let labelled = gitlab
        .issues_labeled(project, board::LABEL, false)
        .await
        .context("cannot search the deploy board issue; not creating one, since one may exist")?;
    let candidates: Vec<Candidate> = labelled
        .into_iter()
        .map(|i| Candidate {
            iid: i.iid,
            open: i.state == "opened",
            description: i.description.unwrap_or_default(),
        })
        .collect();
    let (plan, ignored) = board::plan(&view.project, &candidates, &text);
    if !ignored.is_empty() {
        tracing::warn!(?ignored, "several open deploy boards; keeping the oldest");
    }
    Ok(match plan {
        Plan::Unchanged { iid } => Refreshed::Unchanged { iid },
        Plan::Edit { iid } => {
            gitlab
                .edit_issue(project, iid, Some(&text), None)
                .await
                .with_context(|| format!("cannot update the deploy board #{iid}"))?;
            Refreshed::Edited { iid }
        }
        Plan::Create => {
            let fields = IssueFields {
                title: board::TITLE.to_string(),
                description: text,
                labels: vec![board::LABEL.to_string()],
                ..IssueFields::default()
            };
            let created = gitlab
                .create_issue(project, &fields)
                .await
                .context("cannot create the deploy board issue")?;
            Refreshed::Created {
                iid: created.iid,
                url: created.web_url,
            }
        }
    })
}

/// For the end of `bump`, `sync` and `promote`: with `enabled` (`board: true` in
/// `.gitops-bot.yaml`, and something was written), reads the status and refreshes the
/// board. Never fails its caller: a failure is a warning in the job log.
pub async fn after_write(gitlab: &GitlabClient, project: &str, enabled: bool) {
    if !enabled {
        return;
    }
    let result = async {
        let snapshot = read(gitlab, project, Utc::now()).await?;
        refresh(gitlab, project, &snapshot.view).await
    }
    .await;
    match result {
        Ok(done) => tracing::info!("{done}"),
        Err(e) => tracing::warn!(
            error = %format!("{e:#}"),
            "the deploy board was not refreshed; `gitops-bot status --board` refreshes it"
        ),
    }
}
