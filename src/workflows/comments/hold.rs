//! `hold [reason]` and `unhold`: the hold label, which blocks deploys.

use anyhow::Result;

use super::{Answer, Ctx, Outcome};
use crate::messages::Reply;

pub(super) async fn run(ctx: &Ctx<'_>, on: bool, reason: Option<&str>) -> Result<Answer> {
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
