//! `status --project P`: environments × images at the head of the default branch, their
//! last deployments, open bot merge requests and deploy windows; with `--board`, the same
//! view written to the deploy board issue. The reading and the board are
//! [`crate::workflows::board`]'s, the view [`crate::status_view`]'s.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;

use crate::cli::{OutputFormat, StatusArgs};
use crate::modes::{connect, project_or_ci};
use crate::status_view;
use crate::workflows::board;

pub async fn run(args: &StatusArgs) -> Result<ExitCode> {
    let project = project_or_ci(args.project.as_deref())?;
    let gitlab = connect(&args.gitlab)?;
    let snapshot = board::read(&gitlab, &project, Utc::now()).await?;
    match args.output {
        OutputFormat::Text => print!("{}", status_view::text(&snapshot.view)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&snapshot.view)?),
    }
    if args.board {
        let done = board::refresh(&gitlab, &project, &snapshot.view).await?;
        eprintln!("{done}");
    }
    Ok(ExitCode::SUCCESS)
}
