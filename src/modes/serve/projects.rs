//! The projects `serve` answers for: one comment dispatcher per project, created on first
//! use (after GitLab confirms the project) and kept. The bot's user is read once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use crate::gitlab::{GitlabClient, Project, UserRef};
use crate::project_pattern::{self, ProjectPattern};
use crate::workflows::comments::Dispatcher;

pub(super) struct Projects {
    gitlab: GitlabClient,
    bot: UserRef,
    patterns: Vec<ProjectPattern>,
    prefix: Option<String>,
    /// `serve --sync-on-merge`, for every project's dispatcher.
    sync_on_merge: bool,
    dispatchers: Mutex<HashMap<u64, Arc<Dispatcher>>>,
}

/// Why a delivery's project gets no dispatcher.
pub(super) enum Refused {
    /// No pattern allows it (by the payload's path, or by GitLab's answer): ignored.
    Unmatched,
    /// GitLab could not be asked: answered 503 so that GitLab delivers it again.
    Unconfirmed(anyhow::Error),
}

impl Projects {
    pub(super) fn new(
        gitlab: GitlabClient,
        bot: UserRef,
        patterns: Vec<ProjectPattern>,
        prefix: Option<String>,
        sync_on_merge: bool,
    ) -> Projects {
        Projects {
            gitlab,
            bot,
            patterns,
            prefix,
            sync_on_merge,
            dispatchers: Mutex::default(),
        }
    }

    /// `serve --sync-on-merge`.
    pub(super) fn sync_on_merge(&self) -> bool {
        self.sync_on_merge
    }

    pub(super) fn patterns(&self) -> &[ProjectPattern] {
        &self.patterns
    }

    /// Creates the dispatchers of the projects named exactly (not by a glob), so that a
    /// wrong path or ID fails the start instead of every delivery.
    pub(super) async fn preload(&self) -> Result<()> {
        for pattern in &self.patterns {
            if pattern.group().is_some() {
                continue;
            }
            let info = self
                .gitlab
                .project(&pattern.to_string())
                .await
                .with_context(|| format!("cannot read the project {pattern} (--project)"))?;
            let dispatcher = self.create(&info).await?;
            self.keep(info.id, dispatcher);
        }
        Ok(())
    }

    /// The dispatcher of project `id`, which a delivery says is at `claimed_path`. The
    /// claim only routes: a project seen for the first time is read from the API, and its
    /// real path must match a pattern.
    pub(super) async fn dispatcher(
        &self,
        id: u64,
        claimed_path: &str,
    ) -> Result<Arc<Dispatcher>, Refused> {
        if !project_pattern::allowed(&self.patterns, id, claimed_path) {
            return Err(Refused::Unmatched);
        }
        if let Some(found) = self.locked().get(&id) {
            return Ok(found.clone());
        }
        let info = match self.gitlab.project(&id.to_string()).await {
            Ok(info) => info,
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => {
                tracing::info!(
                    project = id,
                    claimed_path,
                    "the token cannot see this project: ignored"
                );
                return Err(Refused::Unmatched);
            }
            Err(e) => {
                return Err(Refused::Unconfirmed(
                    anyhow::Error::new(e).context(format!("cannot read project {id}")),
                ));
            }
        };
        if info.id != id
            || !project_pattern::allowed(&self.patterns, info.id, &info.path_with_namespace)
        {
            tracing::warn!(
                project = id,
                claimed_path,
                path = %info.path_with_namespace,
                "the delivery names a project path that GitLab does not confirm: ignored"
            );
            return Err(Refused::Unmatched);
        }
        let dispatcher = self.create(&info).await.map_err(Refused::Unconfirmed)?;
        tracing::info!(project = %info.path_with_namespace, "now answering commands in this project");
        Ok(self.keep(info.id, dispatcher))
    }

    /// A new dispatcher for the project `info`, with this service's prefix and flags.
    async fn create(&self, info: &Project) -> Result<Dispatcher> {
        Ok(Dispatcher::for_project(
            self.gitlab.clone(),
            self.bot.clone(),
            &info.path_with_namespace,
            info,
            self.prefix.as_deref(),
        )
        .await?
        .sync_on_merge(self.sync_on_merge))
    }

    /// Keeps `dispatcher` for `id`, unless another delivery created one first (that one is
    /// kept and returned).
    fn keep(&self, id: u64, dispatcher: Dispatcher) -> Arc<Dispatcher> {
        self.locked()
            .entry(id)
            .or_insert_with(|| Arc::new(dispatcher))
            .clone()
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Dispatcher>>> {
        self.dispatchers.lock().unwrap_or_else(|e| e.into_inner())
    }
}
