//! What `bump` prints: a diff and a summary for people, or one JSON document for machines.
//! Results go to stdout, warnings to stderr.

use anyhow::Result;
use serde::Serialize;

use crate::bump::{BumpPlan, Change, Kept, Warning};

pub fn print_text(plan: &BumpPlan, dry_run: bool) {
    print!("{}", plan.diff());
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    for (path, k) in plan.skipped() {
        eprintln!(
            "warning: {path}:{}:{}: {} not updated: {}",
            k.line,
            k.column,
            k.reference,
            k.reason.as_deref().unwrap_or_default()
        );
    }
    println!("{}", plan.summary());
    if dry_run {
        println!("dry run: no files written");
    }
}

#[derive(Serialize)]
struct Located<'a, T: Serialize> {
    file: &'a str,
    #[serde(flatten)]
    item: &'a T,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    image: &'a str,
    dry_run: bool,
    summary: String,
    files_searched: usize,
    files_changed: usize,
    changes: Vec<Located<'a, Change>>,
    already_current: Vec<Located<'a, Kept>>,
    skipped: Vec<Located<'a, Kept>>,
    warnings: &'a [Warning],
    diff: String,
}

fn located<'a, T: Serialize>((file, item): (&'a str, &'a T)) -> Located<'a, T> {
    Located { file, item }
}

pub fn print_json(plan: &BumpPlan, image: &str, dry_run: bool) -> Result<()> {
    let report = JsonReport {
        image,
        dry_run,
        summary: plan.summary(),
        files_searched: plan.files_searched,
        files_changed: plan.changed_files().count(),
        changes: plan.changes().map(located).collect(),
        already_current: plan.current().map(located).collect(),
        skipped: plan.skipped().map(located).collect(),
        warnings: &plan.warnings,
        diff: plan.diff(),
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
