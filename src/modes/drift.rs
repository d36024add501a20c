//! `drift`: observe each environment read-only ([`crate::workflows::drift`]), print what it
//! saw, and keep each environment's GitLab issue up to date
//! ([`crate::workflows::drift_issue`]).

use std::process::ExitCode;

use anyhow::Result;

use crate::alerts::AlertClient;
use crate::cli::{DriftArgs, OutputFormat};
use crate::cluster;
use crate::drift::{DriftState, EnvironmentReport};
use crate::env;
use crate::gitlab::Token;
use crate::modes::{connect, project_or_ci};
use crate::workflows::drift::{self, Depth, Observed, Pass};
use crate::workflows::drift_issue;

use crate::alerts::TOKEN_VAR as ALERT_TOKEN_VAR;

pub async fn run(args: &DriftArgs) -> Result<ExitCode> {
    let project = project_or_ci(args.project.as_deref())?;
    let gitlab = connect(&args.gitlab)?;
    // Built before observing, so that a bad alert setup fails before anything is written.
    let alerts = match &args.alert_url {
        Some(url) => Some(AlertClient::new(
            url.clone(),
            env::var(ALERT_TOKEN_VAR).map(Token::new),
        )?),
        None => None,
    };
    let client = cluster::connect().await?;
    let pass = Pass {
        depth: if args.deep {
            Depth::DryRun
        } else {
            Depth::Fields
        },
        wait: true,
        prior: Default::default(),
    };
    let Observed {
        project,
        config,
        reports,
        ..
    } = drift::observe_with(&gitlab, &client, &project, &args.environments, &pass).await?;

    match args.output {
        OutputFormat::Text => print!("{}", text(&reports)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "environments": reports }))?
        ),
    }
    let reported = drift_issue::report(
        &gitlab,
        &project,
        &config,
        &reports,
        args.dry_run,
        alerts.as_ref(),
    )
    .await?;
    for line in &reported.alerts_failed {
        eprintln!("error: {line}");
    }
    if args.dry_run {
        // On stderr with --output json, so that stdout stays one JSON document.
        for line in reported.lines {
            match args.output {
                OutputFormat::Text => println!("dry run: {line}"),
                OutputFormat::Json => eprintln!("dry run: {line}"),
            }
        }
    }
    let all_converged = reports
        .iter()
        .all(|r| r.state == DriftState::Converged || r.unconfirmed);
    Ok(
        if (args.fail_on_drift && !all_converged) || !reported.alerts_failed.is_empty() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// `prod: drifted (head 1a2b…, live 0f9e…)` per environment, then its objects indented.
fn text(reports: &[EnvironmentReport]) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&format!(
            "{}: {} (head {}, live {}){}\n",
            r.environment,
            r.state,
            crate::commit_sha::short(&r.head_revision),
            r.live_revision.as_deref().unwrap_or("-"),
            if r.unconfirmed {
                ", not the same for drift.confirm yet"
            } else {
                ""
            }
        ));
        for o in &r.objects {
            out.push_str(&format!("  {o}\n"));
        }
    }
    out
}
