//! `preview`: in a merge request pipeline of the config repo, show what the merge request
//! changes in what gets applied. Reads the repository at the merge request's base and head
//! (two archive reads), renders each affected kustomize root (`kustomize build`) and Helm
//! chart (`helm template`) at both, diffs the outputs (plain YAML files are diffed as they
//! are), and with `--live` also diffs the head's objects against the cluster through a
//! server-side dry run (as `kubectl diff`). The result is one comment, edited in place.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::Value;

use crate::blocking;
use crate::cli::{PreviewArgs, UsageError};
use crate::cluster::apply::{Mode, apply_all};
use crate::cluster::{self, Subject};
use crate::diff::{comparable, objects_changed, unified_diff};
use crate::env::var;
use crate::health::qualified;
use crate::marker::{self, Marker, PreviewRecord};
use crate::messages::{Messages, PreviewSection, PreviewView};
use crate::modes::{connect, project_or_ci};
use crate::plural;
use crate::render::{self, RenderError, helm, kustomize};
use crate::render_plan::{Source, affected, changed_paths};
use crate::workflows::checkout::{read_tree, write_tree};

pub async fn run(args: &PreviewArgs) -> Result<ExitCode> {
    let project = project_or_ci(args.project.as_deref())?;
    let iid = match args.mr {
        Some(iid) => iid,
        None => var("CI_MERGE_REQUEST_IID")
            .ok_or_else(|| {
                UsageError::new(
                    "no --mr given (and no CI_MERGE_REQUEST_IID: is this a merge request pipeline?)",
                )
            })?
            .parse()
            .map_err(|_| UsageError::new("CI_MERGE_REQUEST_IID is not a number"))?,
    };
    let gitlab = connect(&args.gitlab)?;
    let mr = gitlab.merge_request(&project, iid).await?;
    let refs = mr.diff_refs.as_ref();
    let (Some(base), Some(head)) = (
        refs.and_then(|r| r.base_sha.clone()),
        refs.and_then(|r| r.head_sha.clone())
            .or_else(|| mr.sha.clone()),
    ) else {
        bail!(
            "merge request !{iid} has no diff yet (GitLab is still preparing it); run the job again"
        );
    };

    let base_files = read_tree(&gitlab, &project, &base).await?;
    let head_files = read_tree(&gitlab, &project, &head).await?;
    let changed = changed_paths(&base_files, &head_files);
    // Every path, with the text of the kustomization files (the head's where both have one).
    let texts: BTreeMap<String, String> = base_files
        .iter()
        .chain(&head_files)
        .map(|(p, b)| {
            let text = if kustomize::is_kustomization_file(p) {
                String::from_utf8_lossy(b).into_owned()
            } else {
                String::new()
            };
            (p.clone(), text)
        })
        .collect();
    let sources = affected(&texts, &changed);

    // Writing the trees and rendering them block: they run off the async workers.
    let live = args.live;
    let Rendered {
        mut sections,
        mut notes,
        head_objects,
    } = {
        let sources = sources.clone();
        blocking::run(move || render_changes(&base_files, &head_files, &sources, live)).await?
    };
    if args.live {
        match live_diff(&head_objects, args.namespace.as_deref()).await {
            Ok(live) => sections.extend(live),
            Err(e) => notes.push(format!("not diffed against the cluster: {e:#}")),
        }
    }

    let state = Marker::Preview(PreviewRecord {
        v: 1,
        head: head.clone(),
    });
    let view = PreviewView {
        head: head.clone(),
        pipeline_url: var("CI_JOB_URL"),
        sections,
        notes,
        marker: marker::render(&state),
    };
    let body = Messages::new(None)?.preview(&view)?;
    println!(
        "preview of !{iid}: {} affected, {} with changes",
        plural::count(sources.len(), "source"),
        plural::count(view.sections.len(), "section")
    );
    for s in &view.sections {
        println!("  {} {}: {}", s.kind, s.path, s.summary);
    }
    if args.dry_run {
        println!("\n{body}");
        return Ok(ExitCode::SUCCESS);
    }
    let bot = gitlab.current_user().await?;
    let (_, edited) = gitlab
        .ensure_note(&project, iid, bot.id, &body, |text| {
            marker::preview(text).is_some()
        })
        .await?;
    println!(
        "preview {} on !{iid}",
        if edited { "updated" } else { "posted" }
    );
    Ok(ExitCode::SUCCESS)
}

/// What [`render_changes`] found.
struct Rendered {
    sections: Vec<PreviewSection>,
    notes: Vec<String>,
    /// The head's objects, to diff against the cluster (only when asked to).
    head_objects: Vec<render::Object>,
}

/// Every source rendered at the base and at the head, and a section for each whose output
/// differs; with `live`, the head's objects too. Blocks (files, subprocesses).
fn render_changes(
    base_files: &BTreeMap<String, Vec<u8>>,
    head_files: &BTreeMap<String, Vec<u8>>,
    sources: &[Source],
    live: bool,
) -> Result<Rendered> {
    let base_dir = write_tree(base_files)?;
    let head_dir = write_tree(head_files)?;
    let mut sections = Vec::new();
    let mut notes = Vec::new();
    let mut head_objects = Vec::new();
    for source in sources {
        let old = render_source(base_dir.path(), source, &mut notes);
        let new = render_source(head_dir.path(), source, &mut notes);
        if live && let Some(text) = &new {
            match render::parse(text, source.path()) {
                Ok(objects) => head_objects.extend(objects),
                Err(e) => notes.push(format!(
                    "{}: not diffed against the cluster: {e}",
                    source.path()
                )),
            }
        }
        let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
        if old == new {
            continue;
        }
        let label = match source {
            Source::Plain(p) => p.clone(),
            other => format!("{} ({})", shown(other.path()), render_label(other)),
        };
        sections.push(PreviewSection {
            kind: source.kind().into(),
            path: shown(source.path()).into(),
            summary: objects_changed(&old, &new),
            diff: unified_diff(&label, &old, &new),
            truncated: false,
        });
    }
    Ok(Rendered {
        sections,
        notes,
        head_objects,
    })
}

/// A repository directory as shown: the root is `.`.
fn shown(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

fn render_label(source: &Source) -> &'static str {
    match source {
        Source::Kustomize(_) => "kustomize build",
        Source::Helm(_) => "helm template",
        Source::Plain(_) => "yaml",
    }
}

/// The output of `source` in the tree at `root`; `None` when it does not exist there.
fn render_source(root: &Path, source: &Source, notes: &mut Vec<String>) -> Option<String> {
    let path = root.join(source.path());
    if !path.exists() {
        return None;
    }
    match source {
        Source::Plain(_) => std::fs::read_to_string(&path).ok(),
        Source::Kustomize(p) => match kustomize::build(&path) {
            Ok(text) => Some(text),
            Err(RenderError::NoKustomize { .. }) => {
                note_once(
                    notes,
                    "neither kustomize nor kubectl is on PATH: kustomize directories are shown as their raw files",
                );
                Some(render::raw_files(&path))
            }
            Err(e) => Some(format!("# {}: {}\n", shown(p), first_line(&e.to_string()))),
        },
        Source::Helm(p) => match helm::template(&path) {
            Ok(text) => Some(text),
            Err(RenderError::NoHelm { .. }) => {
                note_once(
                    notes,
                    "helm is not on PATH: charts are shown as their raw files",
                );
                Some(render::raw_files(&path))
            }
            Err(RenderError::Helm { stderr, .. }) => Some(helm_failed(p, &stderr)),
            Err(RenderError::Read { source, .. }) => Some(helm_failed(p, &source.to_string())),
            Err(e) => Some(helm_failed(p, &e.to_string())),
        },
    }
}

fn note_once(notes: &mut Vec<String>, note: &str) {
    if !notes.iter().any(|n| n == note) {
        notes.push(note.to_string());
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// The comment line standing for a chart `helm template` could not render.
fn helm_failed(chart: &str, error: &str) -> String {
    format!("# {chart}: helm template failed: {}\n", first_line(error))
}

/// The head's objects against the cluster: server-side dry run (what they would become)
/// against what is live, as `kubectl diff` shows it.
async fn live_diff(
    objects: &[render::Object],
    namespace: Option<&str>,
) -> Result<Vec<PreviewSection>> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    let client = cluster::connect().await?;
    let default_ns = namespace
        .map(str::to_string)
        .unwrap_or_else(|| client.default_namespace().to_string());
    let would = apply_all(&client, objects, &default_ns, Mode::DryRun).await?;
    let mut sections = Vec::new();
    for applied in would {
        let api = cluster::dynamic_api(&client, &applied.resource, applied.namespace.as_deref());
        let live = match api.get_opt(&applied.name).await {
            Ok(live) => live.map(|l| serde_json::to_value(l).unwrap_or(Value::Null)),
            Err(e) => {
                return Err(Subject {
                    verb: "get",
                    resource: &applied.resource,
                    namespace: applied.namespace.as_deref(),
                    name: Some(&applied.name),
                }
                .error(e)
                .into());
            }
        };
        let label = format!(
            "{} {}",
            applied.resource.kind,
            qualified(applied.namespace.as_deref(), &applied.name)
        );
        let old = live.as_ref().map(comparable).unwrap_or_default();
        let new = comparable(&applied.object);
        if old == new {
            continue;
        }
        sections.push(PreviewSection {
            kind: "live".into(),
            path: label.clone(),
            summary: if live.is_none() {
                "new object".into()
            } else {
                "would change".into()
            },
            diff: unified_diff(&label, &old, &new),
            truncated: false,
        });
    }
    Ok(sections)
}
