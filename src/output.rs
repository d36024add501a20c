//! What `bump` prints: a diff and a summary for people, or one JSON document for machines.
//! Results go to stdout, warnings to stderr.

use anyhow::Result;
use serde::Serialize;

use crate::bump::{BumpPlan, Change, Kept, Warning};
use crate::gitlab::MergeRequestFields;

/// The diff and the summary of a plan for `images` (the targets' names, in order).
pub fn print_text(plan: &BumpPlan, images: &[String], dry_run: bool) {
    print!("{}", plan.diff());
    print_summary(plan, images);
    if dry_run {
        println!("dry run: no files written");
    }
}

/// Warnings on stderr, then the summary line; for several images, a line for each first.
pub fn print_summary(plan: &BumpPlan, images: &[String]) {
    print_warnings(plan);
    if images.len() > 1 {
        for (index, image) in images.iter().enumerate() {
            println!("{image}: {}", plan.summary_of(index));
        }
    }
    println!("{}", plan.summary());
}

/// Warnings and skipped references, on stderr.
pub fn print_warnings(plan: &BumpPlan) {
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
}

/// The merge request a `--dry-run` would open or update, with the usernames behind its user
/// ids; its description holds the diff.
pub fn print_dry_run_merge_request(
    branch: &str,
    fields: &MergeRequestFields,
    assignees: &[String],
    reviewers: &[String],
) {
    let list = |items: &[String]| {
        if items.is_empty() {
            "(none)".to_string()
        } else {
            items.join(", ")
        }
    };
    println!("branch: {branch}");
    println!("title: {}", fields.title);
    println!("assignees: {}", list(assignees));
    println!("reviewers: {}", list(reviewers));
    println!("labels: {}", list(&fields.labels));
    println!("description:\n{}\n", fields.description);
}

#[derive(Serialize)]
struct Located<'a, T: Serialize> {
    file: &'a str,
    #[serde(flatten)]
    item: &'a T,
}

/// What a bump of several images did to each.
#[derive(Serialize)]
struct ImageReport<'a> {
    image: &'a str,
    summary: String,
    changes: Vec<Located<'a, Change>>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    /// The image; for several, all of them joined with `, ` (see `images`).
    image: String,
    /// For several images only: each with what changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<ImageReport<'a>>,
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

/// One JSON document: the plan, plus the fields of `extra` (an object) at the top level.
pub fn print_json(
    plan: &BumpPlan,
    images: &[String],
    dry_run: bool,
    extra: serde_json::Value,
) -> Result<()> {
    let per_image = if images.len() > 1 {
        images
            .iter()
            .enumerate()
            .map(|(index, image)| ImageReport {
                image,
                summary: plan.summary_of(index),
                changes: plan.changes_of(index).map(located).collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let report = JsonReport {
        image: images.join(", "),
        images: per_image,
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
    let mut value = serde_json::to_value(&report)?;
    if let (Some(object), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
        object.extend(extra);
    }
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}
