//! `preview`: in a merge request pipeline of the config repo, show what the merge request
//! changes in what gets applied. Reads the repository at the merge request's base and head
//! (two archive reads), renders each affected kustomize root (`kustomize build`) and Helm
//! chart (`helm template`) at both, diffs the outputs (plain YAML files are diffed as they
//! are), and with `--live` also diffs the head's objects against the cluster through a
//! server-side dry run (as `kubectl diff`). The result is one comment, edited in place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cli::{PreviewArgs, UsageError};
use crate::cluster::apply::{Mode, apply_all};
use crate::cluster::{self, Subject};
use crate::diff::unified_diff;
use crate::env::var;
use crate::gitlab::{GitlabClient, Limits};
use crate::health::qualified;
use crate::marker;
use crate::messages::{Messages, PreviewSection, PreviewView};
use crate::modes::{connect, project_or_ci};
use crate::plural;
use crate::preview::{Source, affected, changed_paths};
use crate::render::{self, RenderError};

/// The hidden state of the preview comment.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PreviewMarker {
    v: u32,
    kind: String,
    head: String,
}

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
            let text = if render::is_kustomization_file(p) {
                String::from_utf8_lossy(b).into_owned()
            } else {
                String::new()
            };
            (p.clone(), text)
        })
        .collect();
    let sources = affected(&texts, &changed);

    let base_dir = write_tree(&base_files)?;
    let head_dir = write_tree(&head_files)?;
    let mut sections = Vec::new();
    let mut notes = Vec::new();
    let mut head_objects = Vec::new();
    for source in &sources {
        let old = render_source(base_dir.path(), source, &mut notes);
        let new = render_source(head_dir.path(), source, &mut notes);
        if args.live
            && let Some(text) = &new
        {
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
            summary: summarize(&old, &new),
            diff: unified_diff(&label, &old, &new),
            truncated: false,
        });
    }
    if args.live {
        match live_diff(&head_objects, args.namespace.as_deref()).await {
            Ok(live) => sections.extend(live),
            Err(e) => notes.push(format!("not diffed against the cluster: {e:#}")),
        }
    }

    let state = PreviewMarker {
        v: 1,
        kind: "preview".into(),
        head: head.clone(),
    };
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
            marker::find::<PreviewMarker>(text).is_some_and(|m| m.kind == "preview")
        })
        .await?;
    println!(
        "preview {} on !{iid}",
        if edited { "updated" } else { "posted" }
    );
    Ok(ExitCode::SUCCESS)
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

/// The repository at `sha`: every file, by path.
async fn read_tree(
    gitlab: &GitlabClient,
    project: &str,
    sha: &str,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let archive = gitlab
        .archive(
            project,
            sha,
            Limits {
                max_file: crate::bump::MAX_FILE_SIZE,
                max_total: 1024 * 1024 * 1024,
            },
            |_| true,
            |_, _| true,
        )
        .await?;
    Ok(archive
        .files
        .into_iter()
        .map(|f| (f.path, f.bytes))
        .collect())
}

/// `files` written under a fresh temporary directory (paths come from the archive reader,
/// which refuses absolute paths and `..`).
fn write_tree(files: &BTreeMap<String, Vec<u8>>) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    for (path, bytes) in files {
        let target = dir.path().join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
    }
    Ok(dir)
}

/// The output of `source` in the tree at `root`; `None` when it does not exist there.
fn render_source(root: &Path, source: &Source, notes: &mut Vec<String>) -> Option<String> {
    let path = root.join(source.path());
    if !path.exists() {
        return None;
    }
    match source {
        Source::Plain(_) => std::fs::read_to_string(&path).ok(),
        Source::Kustomize(p) => match render::kustomize_build(&path) {
            Ok(text) => Some(text),
            Err(RenderError::NoKustomize { .. }) => {
                note_once(
                    notes,
                    "neither kustomize nor kubectl is on PATH: kustomize directories are shown as their raw files",
                );
                Some(raw_files(&path))
            }
            Err(e) => Some(format!("# {}: {}\n", shown(p), first_line(&e.to_string()))),
        },
        Source::Helm(p) => match helm_template(&path) {
            Some(Ok(text)) => Some(text),
            Some(Err(e)) => Some(format!("# {p}: helm template failed: {}\n", first_line(&e))),
            None => {
                note_once(
                    notes,
                    "helm is not on PATH: charts are shown as their raw files",
                );
                Some(raw_files(&path))
            }
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

/// Every YAML file under `dir`, concatenated with a `# file` header each.
fn raw_files(dir: &Path) -> String {
    let mut out = String::new();
    for entry in walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
    {
        let p = entry.path();
        if entry.file_type().is_file()
            && matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "tpl")
            )
            && let Ok(text) = std::fs::read_to_string(p)
        {
            let rel = p.strip_prefix(dir).unwrap_or(p).display();
            out.push_str(&format!("# {rel}\n{text}"));
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

/// `helm template <name> <dir>`; `None` when helm is not installed.
fn helm_template(dir: &Path) -> Option<Result<String, String>> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("release");
    let output = match Command::new("helm")
        .args(["template", name])
        .arg(dir)
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(e.to_string())),
    };
    Some(if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    })
}

/// `N objects changed` from two renders (objects keyed by kind/namespace/name).
fn summarize(old: &str, new: &str) -> String {
    let index = |text: &str| -> BTreeMap<String, Value> {
        render::parse(text, "render")
            .unwrap_or_default()
            .into_iter()
            .map(|o| {
                (
                    format!("{} {}", o.kind(), qualified(o.namespace(), o.name())),
                    o.value,
                )
            })
            .collect()
    };
    let (a, b) = (index(old), index(new));
    if a.is_empty() && b.is_empty() {
        return "changed".into();
    }
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let changed: Vec<&str> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(String::as_str)
        .collect();
    match changed.as_slice() {
        [] => "formatting only".into(),
        [one] => one.to_string(),
        many => format!("{} objects changed", many.len()),
    }
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

/// An object as YAML without the fields the server manages.
fn comparable(object: &Value) -> String {
    let mut o = object.clone();
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(key);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if let Some(map) = o.as_object_mut() {
        map.remove("status");
    }
    yaml_serde::to_string(&o).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_name_the_changed_objects() {
        let old = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: '1'}\n";
        let new = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: '2'}\n";
        assert_eq!(summarize(old, new), "ConfigMap a");
        assert_eq!(summarize(old, old), "formatting only");
        assert_eq!(summarize("", "not yaml: ["), "changed");
    }

    #[test]
    fn server_fields_are_not_compared() {
        let live = serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "7", "managedFields": []}, "status": {"x": 1}});
        assert_eq!(comparable(&live), "kind: ConfigMap\nmetadata:\n  name: a\n");
    }
}
