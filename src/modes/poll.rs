//! `commands --project P`: one polling pass over the bot's merge requests, for a scheduled
//! pipeline. A comment is answered when a reply of the bot names it (its marker), so
//! overlapping or repeated passes act once. Edited comments are not acted on: the version
//! of a comment a person edited is not what they first asked (write a new comment).
//! Then the comments on the open drift issues (one list of open issues labelled
//! `gitops-bot::drift`, then the notes of each, those made within `--merged-within-days`),
//! and it arms the `auto_deploy` merge requests left waiting for their window
//! ([`auto_deploy::arm_waiting`]), one line each.

use std::collections::HashSet;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::PollArgs;
use crate::commands::Parsed;
use crate::gitlab::Noteable;
use crate::gitlab::ThreadNote;
use crate::marker;
use crate::plural;
use crate::reviewed;
use crate::workflows::auto_deploy;
use crate::workflows::comments::{Dispatcher, Outcome, Trigger};
use crate::workflows::drift_issue::DRIFT_LABEL;

pub async fn run(args: &PollArgs) -> Result<ExitCode> {
    let engine = super::dispatcher(&args.common).await?;
    let gitlab = engine.gitlab();
    let project = engine.project();
    let bot = engine.bot().id;
    let mut mrs = gitlab
        .merge_requests_by(project, bot, crate::gitlab::MergeRequestState::Opened, None)
        .await?;
    let since = chrono::Utc::now() - chrono::Duration::days(i64::from(args.merged_within_days));
    mrs.extend(
        gitlab
            .merge_requests_by(
                project,
                bot,
                crate::gitlab::MergeRequestState::Merged,
                Some(since),
            )
            .await?,
    );

    let mut outcomes: Vec<Outcome> = Vec::new();
    for mr in &mrs {
        let notes = gitlab
            .notes(project, Noteable::MergeRequest(mr.iid))
            .await?;
        for note in pending(&engine, &notes, None) {
            let trigger = Trigger::Note {
                iid: mr.iid,
                note_id: note.id,
                claimed_head: None,
            };
            outcomes.push(handle(&engine, &trigger, note.id).await);
        }
    }
    let drift_issues = gitlab.issues_labeled(project, DRIFT_LABEL, true).await?;
    for issue in &drift_issues {
        let notes = gitlab.notes(project, Noteable::Issue(issue.iid)).await?;
        for note in pending(&engine, &notes, Some(since)) {
            let trigger = Trigger::IssueNote {
                iid: issue.iid,
                note_id: note.id,
            };
            outcomes.push(handle(&engine, &trigger, note.id).await);
        }
    }
    let waiting = auto_deploy::arm_waiting(gitlab, project, engine.bot()).await;
    let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
    println!(
        "{}{} looked at, {}: {} done, {} answered, {} refused, {} failed",
        plural::count(mrs.len(), "merge request"),
        match drift_issues.len() {
            0 => String::new(),
            n => format!(" and {}", plural::count(n, "drift issue")),
        },
        plural::count(outcomes.len() - count(Outcome::Ignored), "command"),
        count(Outcome::Done),
        count(Outcome::Answered),
        count(Outcome::Refused),
        count(Outcome::Failed),
    );
    let pass_failed = match waiting {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            false
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "the auto-deploy pass failed");
            true
        }
    };
    Ok(if count(Outcome::Failed) > 0 || pass_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The comments of one thread that may be commands and have no reply of the bot yet: not
/// system notes, not the bot's, not edited, made since `since` when given.
fn pending<'a>(
    engine: &Dispatcher,
    notes: &'a [ThreadNote],
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> Vec<&'a ThreadNote> {
    let bot = engine.bot().id;
    let answered: HashSet<u64> = notes
        .iter()
        .filter(|n| n.author.id == bot)
        .filter_map(|n| marker::reply(&n.body))
        .map(|m| m.reply_to)
        .collect();
    notes
        .iter()
        .filter(|note| {
            let edited = reviewed::is_edited(&note.created_at, note.updated_at.as_deref());
            let old = since.is_some_and(|since| {
                chrono::DateTime::parse_from_rfc3339(&note.created_at).map_or(true, |at| at < since)
            });
            !(note.system
                || engine.is_bot(&note.author)
                || answered.contains(&note.id)
                || edited
                || old)
        })
        .filter(|note| engine.grammar().parse(&note.body) != Parsed::Ignore)
        .collect()
}

/// Runs `trigger`; a failure is logged and counted, and the pass goes on.
async fn handle(engine: &Dispatcher, trigger: &Trigger, note_id: u64) -> Outcome {
    match engine.handle(trigger).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::error!(?trigger, note = note_id, error = %format!("{e:#}"), "command failed");
            Outcome::Failed
        }
    }
}
