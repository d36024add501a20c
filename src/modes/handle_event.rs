//! `handle-event --payload FILE`: one webhook payload, e.g. from a pipeline trigger.
//!
//! The trigger token is the only authentication of such a pipeline, so nothing in the
//! payload is trusted beyond "look at this merge request" (or issue): the engine re-reads the
//! comment and the merge request (or the issue, which must be one of the bot's drift issues), and the head a comment saw comes from the merge request's
//! versions; the payload's `last_commit.id` only counts when it agrees with them.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::HandleEventArgs;
use crate::gitlab::hooks::parse_event;
use crate::workflows::comments::Trigger;

pub async fn run(args: &HandleEventArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.payload)
        .with_context(|| format!("cannot read --payload {}", args.payload.display()))?;
    let event = parse_event(None, &bytes)
        .with_context(|| format!("--payload {}", args.payload.display()))?;
    let dispatcher = super::dispatcher(&args.common).await?;
    let trigger = Trigger::from_event(&event, dispatcher.project_id());
    let Some(trigger) = trigger else {
        println!(
            "ignored: not a comment or approval on a merge request, nor a comment on an issue, of this project"
        );
        return Ok(ExitCode::SUCCESS);
    };
    let outcome = dispatcher.handle(&trigger).await?;
    println!("{}", outcome.as_str());
    Ok(ExitCode::SUCCESS)
}
