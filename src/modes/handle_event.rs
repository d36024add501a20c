//! `handle-event --payload FILE`: one webhook payload, e.g. from a pipeline trigger.
//!
//! The trigger token is the only authentication of such a pipeline, so nothing in the
//! payload is trusted beyond "look at this merge request": the engine re-reads the comment
//! and the merge request, and the head a comment saw comes from the merge request's
//! versions; the payload's `last_commit.id` only counts when it agrees with them.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::HandleEventArgs;
use crate::gitlab::UserRef;
use crate::gitlab::hooks::{Event, NoteAction, parse_event};
use crate::modes::engine::Trigger;

pub async fn run(args: &HandleEventArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.payload)
        .with_context(|| format!("cannot read --payload {}", args.payload.display()))?;
    let event = parse_event(None, &bytes)
        .with_context(|| format!("--payload {}", args.payload.display()))?;
    let engine = super::engine(&args.common).await?;
    let trigger = match event {
        Event::Note(n)
            if n.project_id == engine.project_id()
                && n.action == NoteAction::Create
                && !n.system =>
        {
            n.merge_request.map(|mr| Trigger::Note {
                iid: mr.iid,
                note_id: n.note_id,
                claimed_head: mr.last_commit_sha,
            })
        }
        Event::MergeRequest(e) if e.project_id == engine.project_id() && e.action == "approved" => {
            Some(Trigger::Approval {
                iid: e.merge_request.iid,
                user: UserRef {
                    id: e.user.id,
                    username: e.user.username,
                },
                claimed_head: e.merge_request.last_commit_sha,
            })
        }
        _ => None,
    };
    let Some(trigger) = trigger else {
        println!("ignored: not a comment or approval on a merge request of this project");
        return Ok(ExitCode::SUCCESS);
    };
    let outcome = engine.handle(&trigger).await?;
    println!(
        "{}",
        serde_json::to_value(outcome)?.as_str().unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
