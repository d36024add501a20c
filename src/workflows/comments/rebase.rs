//! `rebase`: the proposal recomputed on the current target branch, unless the branch already
//! holds the bot's change on the target's head (then nothing is written, so the head and the
//! reviews of it stay).

use anyhow::{Context as _, Result};

use super::{Answer, Ctx, Outcome, proposed, targets_of};
use crate::bump::merge_request::{Request, RollbackOf, promotion_branch, rollback_branch};
use crate::marker;
use crate::marker::BumpState;
use crate::messages::{Reply, SourceInfo};
use crate::workflows::promotion::{self as promotion_flow, How, Pair};
use crate::workflows::propose::{BumpSpec, propose};
use crate::workflows::verify::{Head, verify_head};

pub(super) async fn run(ctx: &Ctx<'_>) -> Result<Answer> {
    let (mr, hint) = (ctx.mr, ctx.hint);
    if mr.state != "opened" {
        return Ok((
            Outcome::Refused,
            Reply::RebaseNotOpen {
                state: mr.state.clone(),
            },
        ));
    }
    let unknown = |why: String| (Outcome::Refused, Reply::ProposalUnknown { why });
    let targets = match targets_of(hint) {
        Ok(t) => t,
        Err(e) => return Ok(unknown(e)),
    };
    let images: Vec<_> = targets.iter().map(|t| t.image.clone()).collect();
    let Some((first, also)) = images.split_first() else {
        return Ok(unknown("its description names no image".into()));
    };
    // The record only helps: the branch the bot made for it is named after what it
    // proposes, and GitLab does not let anyone rename a merge request's source branch.
    let expected = if let Some(environment) = promoted_to(hint) {
        promotion_branch(environment)
    } else if hint.is_rollback() {
        rollback_branch(first, &mr.target_branch, hint.environment.as_deref())
    } else {
        Request {
            image: first.clone(),
            also: also.to_vec(),
            branch: None,
            section: None,
            promotion: None,
            setter: hint.setter.clone(),
            environment: hint.environment.clone(),
            paths: hint.paths.clone(),
            target_branch: mr.target_branch.clone(),
            base_sha: String::new(),
            source: SourceInfo::default(),
            rollback: None,
        }
        .branch()
    };
    if expected != mr.source_branch {
        return Ok(unknown(format!(
            "its description does not match its branch `{}`",
            mr.source_branch
        )));
    }
    let target_head = ctx
        .gitlab
        .branch_head(ctx.project, &mr.target_branch)
        .await?
        .with_context(|| format!("the target branch {:?} does not exist", mr.target_branch))?;
    if let Head::Ours(commit) = verify_head(ctx.gitlab, ctx.project, mr, &targets).await?
        && commit.parent_ids.first() == Some(&target_head.id)
    {
        return Ok((
            Outcome::Answered,
            Reply::UpToDate {
                target_branch: mr.target_branch.clone(),
                target_head: target_head.id,
                head: commit.id,
            },
        ));
    }
    if let Some(environment) = promoted_to(hint) {
        return promotion(ctx, environment).await;
    }
    let rollback = match hint.rollback_of {
        Some(iid) => Some(rollback_of(ctx, iid).await?),
        None => None,
    };
    let spec = BumpSpec {
        images,
        setter: hint.setter.clone(),
        paths: hint.paths.iter().map(Into::into).collect(),
        environment: hint.environment.clone(),
        target_branch: Some(mr.target_branch.clone()),
        reopen: true,
        refresh: true,
        rollback,
        ..BumpSpec::default()
    };
    Ok(proposed(
        propose(ctx.gitlab, ctx.project, &spec).await?,
        false,
    ))
}

/// What the rollback merge request `iid` undoes, from the API.
async fn rollback_of(ctx: &Ctx<'_>, iid: u64) -> Result<RollbackOf> {
    let original = ctx.gitlab.merge_request(ctx.project, iid).await?;
    let version = original
        .description
        .as_deref()
        .and_then(marker::bump)
        .map(|s| s.version())
        .unwrap_or_default();
    Ok(RollbackOf {
        iid,
        failed: original
            .labels
            .iter()
            .any(|l| l.starts_with("deploy-failed")),
        url: original.web_url,
        version,
        reason: None,
        result_url: None,
        requested_by: None,
    })
}

/// The environment a promotion merge request promotes to (its record says both).
fn promoted_to(hint: &BumpState) -> Option<&str> {
    hint.promotion.as_ref()?;
    hint.environment.as_deref()
}

/// A promotion is recomputed as `promote` would now: from the source's latest healthy
/// deployment (soak checked again), so its evidence stays true. Not due now: left as it is.
async fn promotion(ctx: &Ctx<'_>, environment: &str) -> Result<Answer> {
    let (repo, mut trees) = promotion_flow::read_repo(ctx.gitlab, ctx.project).await?;
    let pairs = match promotion_flow::pairs(&[environment.to_string()], &repo.config) {
        Ok(pairs) => pairs,
        Err(e) => {
            return Ok((
                Outcome::Refused,
                Reply::ProposalUnknown { why: e.to_string() },
            ));
        }
    };
    let Some(pair) = pairs.first() else {
        return Ok((
            Outcome::Refused,
            Reply::ProposalUnknown {
                why: format!("{environment} is not promoted from another environment"),
            },
        ));
    };
    let holds =
        promotion_flow::read_holds(ctx.gitlab, ctx.project, ctx.bot, &repo.config, &pair.target)
            .await;
    let now = chrono::Utc::now();
    let outcome = promotion_flow::promote(
        ctx.gitlab,
        ctx.project,
        &repo,
        &mut trees,
        pair,
        promotion_flow::Gates { holds: &holds, now },
        How::Rebase,
    )
    .await?;
    let not_due = |pair: &Pair, why: String| {
        (
            Outcome::Refused,
            Reply::PromotionNotDue {
                environment: pair.target.clone(),
                why,
            },
        )
    };
    Ok(match outcome {
        promotion_flow::Outcome::Blocked(blocked) => {
            not_due(pair, promotion_flow::why_blocked(pair, &blocked))
        }
        promotion_flow::Outcome::UpToDate(..) => not_due(
            pair,
            format!(
                "{} already runs the versions {} runs healthy",
                pair.target, pair.source
            ),
        ),
        promotion_flow::Outcome::Proposed(_, proposed) => super::proposed(*proposed, false),
    })
}
