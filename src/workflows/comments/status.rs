//! `status`: what the merge request deploys and where things stand, from the API.

use anyhow::Result;

use super::{Answer, Ctx, Outcome, targets_of};
use crate::bump::merge_request::rollback_branch;
use crate::gitlab::Noteable;
use crate::marker;
use crate::messages::{BranchState, DeployResult, HeldVersions, Link, Reply, Status};
use crate::policy;
use crate::workflows::holds::holds_of;
use crate::workflows::verify::{Head, verify_head};

pub(super) async fn run(ctx: &Ctx<'_>) -> Result<Answer> {
    let (mr, hint, config) = (ctx.mr, ctx.hint, ctx.config);
    let targets = targets_of(hint);
    let branch = match (mr.state.as_str(), &targets) {
        ("opened", Ok(targets)) => match verify_head(ctx.gitlab, ctx.project, mr, targets).await? {
            Head::Ours(_) => BranchState::Ours,
            Head::Foreign(commits) => BranchState::Foreign {
                commits: commits.into_iter().map(|c| c.id).collect(),
            },
        },
        ("opened", Err(why)) => BranchState::Unverified { why: why.clone() },
        _ => BranchState::Closed,
    };
    // A bump of several images is never rolled back by the bot (see `rollback`).
    let open_rollback = match targets.as_deref() {
        Ok([target]) if !hint.is_rollback() => {
            let branch = rollback_branch(
                &target.image,
                &mr.target_branch,
                hint.environment.as_deref(),
            );
            ctx.gitlab
                .merge_requests(ctx.project, &branch, &mr.target_branch)
                .await?
                .into_iter()
                .find(|m| m.state == "opened")
                .map(|m| Link {
                    iid: m.iid,
                    url: m.web_url,
                })
        }
        _ => None,
    };
    let several = hint.recorded_images().len() > 1;
    let who = policy::deployers(config, ctx.environments);
    let (holds, holds_unknown) = environment_holds(ctx).await;
    let status = Status {
        rollback: hint.is_rollback(),
        // Several images read as one list of `repository version`.
        image: if several {
            hint.proposes()
        } else {
            hint.image.clone()
        },
        version: if several {
            String::new()
        } else {
            hint.version().to_string()
        },
        destination: hint
            .environment
            .clone()
            .unwrap_or_else(|| mr.target_branch.clone()),
        source: hint.source.clone(),
        state: mr.state.clone(),
        head: mr.sha.clone(),
        branch,
        pipeline: mr
            .head_pipeline
            .as_ref()
            .map_or("none".to_string(), |p| p.status.clone()),
        merge_status: mr
            .detailed_merge_status
            .clone()
            .unwrap_or_else(|| "unknown".into()),
        held: mr.labels.iter().any(|l| l == &config.hold_label),
        hold_label: config.hold_label.clone(),
        results: deploy_results(ctx).await?,
        open_rollback,
        holds,
        holds_unknown,
        environment: who.environment,
        operators: who.operators,
        role: who.role,
    };
    Ok((Outcome::Answered, Reply::Status(Box::new(status))))
}

/// The deploy outcomes the sync report left on the merge request: its labels, each with the
/// result comment's address when there is one.
async fn deploy_results(ctx: &Ctx<'_>) -> Result<Vec<DeployResult>> {
    let mr = ctx.mr;
    let notes = ctx
        .gitlab
        .notes(ctx.project, Noteable::MergeRequest(mr.iid))
        .await?;
    let mut out = Vec::new();
    for label in &mr.labels {
        let (outcome, env) = if let Some(env) = label.strip_prefix("deployed::") {
            ("deployed", Some(env))
        } else if let Some(env) = label.strip_prefix("deploy-failed::") {
            ("failed", Some(env))
        } else if label == "deployed" {
            ("deployed", None)
        } else if label == "deploy-failed" {
            ("failed", None)
        } else {
            continue;
        };
        let url = notes
            .iter()
            .filter(|n| n.author.id == ctx.bot.id)
            .find(|n| marker::sync(&n.body).is_some_and(|r| r.environment.as_deref() == env))
            .map(|n| format!("{}#note_{}", mr.web_url, n.id));
        out.push(DeployResult {
            environment: env.unwrap_or(&mr.target_branch).to_string(),
            outcome: outcome.to_string(),
            url,
        });
    }
    Ok(out)
}

/// The unlifted holds of the environments the merge request concerns (those configured), or
/// why they could not be read: `status` only shows them, so an error is said, not raised.
async fn environment_holds(ctx: &Ctx<'_>) -> (Vec<HeldVersions>, Option<String>) {
    let mut out = Vec::new();
    let configured = ctx
        .environments
        .iter()
        .filter(|e| ctx.config.environments.contains_key(e.as_str()));
    for environment in configured {
        match holds_of(ctx.gitlab, ctx.project, ctx.bot, ctx.config, environment).await {
            Ok(holds) => {
                out.extend(
                    holds
                        .into_iter()
                        .filter(|h| !h.is_lifted())
                        .map(|h| HeldVersions {
                            environment: h.environment,
                            repository: h.repository,
                            versions: h.versions.iter().map(ToString::to_string).collect(),
                            rollback_iid: h.rollback_iid,
                            rollback_url: h.rollback_url,
                        }),
                )
            }
            Err(e) => return (out, Some(format!("{e:#}"))),
        }
    }
    (out, None)
}
