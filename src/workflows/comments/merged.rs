//! `serve --sync-on-merge`: when a bot merge request is merged, the sync the pipeline's
//! `sync` job would run for the merged commit, for teams without a post-merge pipeline.
//!
//! The event is a hint: the merge request is read again and must be merged and the bot's
//! (author and record); the commit comes from the API (its merge or squash commit, or its
//! head for a fast-forward), never from the payload. The bot's 🚀 on the merge request claims
//! the sync, so replicas (or a redelivery) sync once.

use std::time::Duration;

use anyhow::Result;

use super::{Dispatcher, Outcome};
use crate::gitlab::Reacted;
use crate::workflows::rollback::{Merged, merged_range};
use crate::workflows::sync;

/// How long the sync waits for the controllers: within what `serve` gives one event.
const SYNC_TIMEOUT: Duration = Duration::from_secs(240);
/// The bot's reaction on a merge request whose merge it synced (the claim).
pub(crate) const SYNCED_EMOJI: &str = "rocket";

impl Dispatcher {
    pub(super) async fn on_merged(&self, iid: u64) -> Result<Outcome> {
        let mr = self.gitlab.merge_request(&self.project, iid).await?;
        if mr.state != "merged" {
            tracing::info!(iid, state = %mr.state, "a merge event, but the merge request is not merged: ignored");
            return Ok(Outcome::Ignored);
        }
        if self.bump_state(&mr).is_none() {
            tracing::debug!(
                iid,
                "a merge of a merge request the bot did not open: ignored"
            );
            return Ok(Outcome::Ignored);
        }
        let commit = match merged_range(&self.gitlab, &self.project, &mr).await? {
            Merged::Known((_, after)) => after,
            Merged::Unclear(why) => {
                tracing::warn!(
                    iid,
                    "not synced: {why}; run `gitops-bot sync --commit <sha>`"
                );
                return Ok(Outcome::Refused);
            }
        };
        if self
            .gitlab
            .react_on_merge_request(&self.project, iid, SYNCED_EMOJI)
            .await?
            == Reacted::Already
        {
            tracing::info!(iid, "another worker syncs this merge: ignored");
            return Ok(Outcome::Ignored);
        }
        let info = format!("gitops-bot serve --sync-on-merge of {commit} (!{iid})");
        let verdicts = sync::sync_commit(
            &self.gitlab,
            &self.project,
            &self.bot,
            &commit,
            SYNC_TIMEOUT,
            &info,
        )
        .await?;
        let outcome = if verdicts.is_empty() {
            Outcome::Ignored
        } else if verdicts.iter().all(|v| v.summary.healthy()) {
            Outcome::Done
        } else {
            Outcome::Failed
        };
        let detail = verdicts
            .iter()
            .map(|v| {
                format!(
                    "{}: {}",
                    v.summary.environment.as_deref().unwrap_or("the cluster"),
                    v.summary.outcome
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        tracing::info!(
            target: "audit",
            actor = "gitops-bot",
            command = "sync-on-merge",
            project = %self.project,
            merge_request = iid,
            sha = %commit,
            outcome = outcome.as_str(),
            detail = %if detail.is_empty() { "no environment changed".to_string() } else { detail },
            "audit"
        );
        Ok(outcome)
    }
}
