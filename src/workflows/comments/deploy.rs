//! `deploy [SHA]` (and an approval with `deploy_on_approval`): merge exactly the commit the
//! person reviewed, if it is still the head, the branch holds only the bot's change, and
//! nothing holds the merge request back.

use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{Answer, Ctx, Outcome, targets_of};
use crate::gitlab::MergeOutcome;
use crate::messages::{CommitLine, Reply};
use crate::policy::{self, Decision, DeployFacts, Seen};
use crate::workflows::verify::{Head, verify_head};

/// The head someone reviewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SeenHead {
    /// Named in the command (a prefix).
    Named(String),
    /// The head when they commented or approved, from GitLab's history.
    Head(String),
}

/// Head pipeline states in which GitLab can still merge once the pipeline passes.
const PIPELINE_PENDING: &[&str] = &[
    "created",
    "waiting_for_resource",
    "preparing",
    "pending",
    "running",
    "scheduled",
];
/// `detailed_merge_status` values that change by themselves within seconds.
const MERGE_STATUS_SETTLING: &[&str] = &["checking", "preparing", "unchecked", "ci_still_running"];
/// Tries of a merge while GitLab is still checking (backing off from 0.5 s).
const MERGE_TRIES: u32 = 6;

pub(super) async fn run(ctx: &Ctx<'_>, seen: &SeenHead) -> Result<Answer> {
    let mr = ctx.mr;
    let head = mr
        .sha
        .clone()
        .context("GitLab did not say the head commit of the merge request")?;
    let facts = DeployFacts {
        state: &mr.state,
        labels: &mr.labels,
        seen: match seen {
            SeenHead::Named(s) => Seen::Named(s),
            SeenHead::Head(s) => Seen::Head(s),
        },
        head_sha: &head,
        environments: ctx.environments,
        // The real clock, at the moment of the decision.
        now: chrono::Utc::now(),
    };
    if let Decision::Refuse(reply) = policy::may_deploy(ctx.config, &facts) {
        return Ok((Outcome::Refused, reply));
    }
    // What merges must be what the bot proposed: a pushed commit makes the description's
    // diff a lie.
    let targets = match targets_of(ctx.hint) {
        Ok(t) => t,
        Err(error) => return Ok((Outcome::Refused, Reply::ProposalUnreadable { error })),
    };
    if let Head::Foreign(commits) = verify_head(ctx.gitlab, ctx.project, mr, &targets).await? {
        let commits = commits
            .into_iter()
            .map(|c| CommitLine {
                id: c.id,
                title: c.title,
                author: c.author_name,
            })
            .collect();
        return Ok((Outcome::Refused, Reply::Foreign { commits }));
    }
    merge(ctx, &head).await
}

/// Merges exactly `head`, retrying only while GitLab is still checking.
async fn merge(ctx: &Ctx<'_>, head: &str) -> Result<Answer> {
    let mr = ctx.mr;
    let wait_for_pipeline = mr
        .head_pipeline
        .as_ref()
        .is_some_and(|p| PIPELINE_PENDING.contains(&p.status.as_str()));
    let sha = head.to_string();
    for attempt in 0..MERGE_TRIES {
        let answer = match ctx
            .gitlab
            .merge_at(ctx.project, mr.iid, head, wait_for_pipeline)
            .await?
        {
            MergeOutcome::Merged { target_branch } => {
                (Outcome::Done, Reply::Merged { sha, target_branch })
            }
            MergeOutcome::WhenPipelineSucceeds { target_branch } => {
                (Outcome::Done, Reply::WillMerge { sha, target_branch })
            }
            MergeOutcome::Accepted { state } => {
                (Outcome::Done, Reply::MergeAccepted { sha, state })
            }
            MergeOutcome::HeadMoved { message } => {
                (Outcome::Refused, Reply::MovedWhileMerging { message })
            }
            MergeOutcome::Failed { message } => (Outcome::Failed, Reply::MergeFailed { message }),
            MergeOutcome::Forbidden { message } => (
                Outcome::Failed,
                Reply::MayNotMerge {
                    message,
                    target_branch: mr.target_branch.clone(),
                },
            ),
            MergeOutcome::NotMergeableNow => {
                let now = ctx.gitlab.merge_request(ctx.project, mr.iid).await?;
                let status = now.detailed_merge_status.unwrap_or_default();
                if MERGE_STATUS_SETTLING.contains(&status.as_str()) && attempt + 1 < MERGE_TRIES {
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                    continue;
                }
                (Outcome::Refused, Reply::NotMergeable { status })
            }
        };
        return Ok(answer);
    }
    Ok((
        Outcome::Refused,
        Reply::NotMergeable {
            status: "checking".into(),
        },
    ))
}
