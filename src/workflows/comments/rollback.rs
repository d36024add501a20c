//! `rollback`: on a merged bump, a rollback merge request computed from Git.

use anyhow::Result;

use super::{Answer, Ctx, Outcome, proposed};
use crate::messages::Reply;
use crate::workflows::propose::propose;
use crate::workflows::rollback::{Rollback, RollbackWhy, images_of, plan_rollback};

pub(super) async fn run(ctx: &Ctx<'_>, by: &str) -> Result<Answer> {
    let (mr, hint) = (ctx.mr, ctx.hint);
    if mr.state != "merged" {
        return Ok((
            Outcome::Refused,
            Reply::RollbackNotMerged {
                state: mr.state.clone(),
            },
        ));
    }
    let images = match images_of(hint) {
        Ok(i) => i,
        Err(error) => return Ok((Outcome::Refused, Reply::ImageUnreadable { error })),
    };
    let why = RollbackWhy::Requested {
        by: format!("@{by}"),
    };
    match plan_rollback(
        ctx.gitlab,
        ctx.project,
        mr,
        &images,
        hint.setter.clone(),
        why,
    )
    .await?
    {
        Rollback::Propose(spec) => Ok(proposed(
            propose(ctx.gitlab, ctx.project, &spec).await?,
            true,
        )),
        Rollback::Refuse(reply) => Ok((Outcome::Refused, reply)),
    }
}
