//! `hold [reason]` and `unhold`: the hold label, which blocks deploys. `unhold` on a merged
//! rollback merge request lifts the environment hold its merge set instead (see
//! [`crate::workflows::holds`]): the answer says what it lifted, and that answer is the
//! record `promote` reads.

use anyhow::Result;

use super::{Answer, Ctx, Outcome};
use crate::messages::Reply;
use crate::workflows::holds::{is_rollback_branch, is_rollback_of, rollback_holds, scope_of};

pub(super) async fn run(ctx: &Ctx<'_>, on: bool, reason: Option<&str>) -> Result<Answer> {
    if !on && ctx.mr.state == "merged" {
        let environments: Vec<&String> = ctx
            .environments
            .iter()
            .filter(|e| is_rollback_of(ctx.mr, ctx.bot, e))
            .collect();
        if !environments.is_empty() {
            return lift(ctx, &environments).await;
        }
        // A merged rollback whose environment is not established from Git and the settings:
        // its `unhold` must not read as a lift (`promote` counts the bot's `unhold` answers
        // after the merge), so it is refused.
        if is_rollback_branch(&ctx.mr.source_branch) {
            return Ok((
                Outcome::Refused,
                Reply::HoldEnvironmentUnknown {
                    iid: ctx.mr.iid,
                    branch: ctx.mr.source_branch.clone(),
                },
            ));
        }
    }
    let label = [ctx.config.hold_label.as_str()];
    let (add, remove): (&[&str], &[&str]) = if on { (&label, &[]) } else { (&[], &label) };
    ctx.gitlab
        .edit_labels(ctx.project, ctx.mr.iid, add, remove)
        .await?;
    let label = ctx.config.hold_label.clone();
    Ok((
        Outcome::Done,
        if on {
            Reply::Held {
                label,
                reason: reason.map(str::to_string),
            }
        } else {
            Reply::Unheld { label }
        },
    ))
}

/// Lifts the holds the merged rollback set on `environments` (authorised already): says
/// which versions, read from Git, may be proposed again.
async fn lift(ctx: &Ctx<'_>, environments: &[&String]) -> Result<Answer> {
    let mut images = Vec::new();
    for environment in environments {
        let scope = scope_of(ctx.config, environment)?;
        for hold in rollback_holds(ctx.gitlab, ctx.project, ctx.mr, &scope, environment).await? {
            let versions: Vec<String> = hold.versions.iter().map(ToString::to_string).collect();
            images.push(format!("{} {}", hold.repository, versions.join(", ")));
        }
    }
    Ok((
        Outcome::Done,
        Reply::HoldLifted {
            iid: ctx.mr.iid,
            environments: environments.iter().map(|e| e.to_string()).collect(),
            images,
        },
    ))
}
