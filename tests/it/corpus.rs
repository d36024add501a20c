//! The real-world corpus in `../shared/corpus`: every image listed in its INDEX.tsv is bumped
//! in every file. A file changes only where that image is referenced, only in those bytes,
//! and the YAML it holds is the same tree except for those values.

use crate::common;

use std::collections::BTreeMap;
use std::fs;

use gitops_bot::bump::bump_file;
use gitops_bot::forms::Target;
use gitops_bot::image_ref::ImageRef;
use similar::{ChangeTag, TextDiff};
use yaml_serde::Value;

const NEW_TAG: &str = "gitops-bot-test";

struct Indexed {
    file: String,
    refs: Vec<String>,
}

fn index() -> Vec<Indexed> {
    let text = fs::read_to_string(common::corpus_dir().join("INDEX.tsv"))
        .expect("../shared/corpus/INDEX.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Indexed {
                file: cols[0].to_string(),
                refs: cols[6].split(", ").map(str::to_string).collect(),
            }
        })
        .collect()
}

/// The image an INDEX entry names, when it names a matchable one: `a=>b:tag` and
/// `alias=b:tag` deploy `b`; `<chart-default-repo>` and `(none…)` name nothing.
fn indexed_image(raw: &str) -> Option<ImageRef> {
    let raw = raw.split(' ').next()?;
    let raw = raw.rsplit("=>").next()?;
    let raw = raw.rsplit('=').next()?;
    let raw = raw.trim_end_matches(":<empty>");
    ImageRef::parse(raw).ok()
}

/// Entries INDEX.tsv lists that are deliberately not edited, with why.
fn not_editable(raw: &str) -> Option<&'static str> {
    if raw.contains("[inside block scalar") {
        return Some("inside a block scalar (a kustomize patch string): not structural");
    }
    if raw.contains("(tagSuffix") {
        return Some("kustomize tagSuffix entry: no tag of its own to set");
    }
    if raw.ends_with(":<empty>") {
        return Some("Helm mapping without a tag key: the chart's appVersion applies");
    }
    if raw.contains("CONTAINER_IMAGES_REGISTRY/") {
        return Some("newName is a placeholder, not an image");
    }
    None
}

fn docs(text: &str) -> Option<Vec<Value>> {
    let mut out = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(text) {
        out.push(serde::Deserialize::deserialize(doc).ok()?);
    }
    Some(out)
}

/// Same tree, except strings that now carry the new tag, added `newTag`/`digest` keys and
/// emptied or removed digests.
fn same_tree_except_refs(old: &Value, new: &Value, path: &str) -> Result<(), String> {
    match (old, new) {
        (Value::Mapping(a), Value::Mapping(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => same_tree_except_refs(va, vb, &format!("{path}.{k:?}"))?,
                    None if k.as_str() == Some("digest") => {}
                    None => return Err(format!("{path}: key {k:?} removed")),
                }
            }
            for (k, vb) in b {
                if a.get(k).is_none()
                    && !(matches!(k.as_str(), Some("newTag" | "digest"))
                        && vb
                            .as_str()
                            .is_some_and(|s| s.contains(NEW_TAG) || s.starts_with("sha256:")))
                {
                    return Err(format!("{path}: key {k:?} added"));
                }
            }
            Ok(())
        }
        (Value::Sequence(a), Value::Sequence(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .try_for_each(|(i, (x, y))| same_tree_except_refs(x, y, &format!("{path}[{i}]"))),
        (Value::Tagged(a), Value::Tagged(b)) if a.tag == b.tag => {
            same_tree_except_refs(&a.value, &b.value, path)
        }
        (a, b) if a == b => Ok(()),
        (_, Value::String(s)) if s.contains(NEW_TAG) || s.is_empty() => Ok(()),
        (a, b) => Err(format!("{path}: {a:?} became {b:?}")),
    }
}

/// Every line that changed held the image (or a tag/digest key of it), and kept its comment.
fn only_reference_lines_changed(old: &str, new: &str, image: &ImageRef) -> Result<(), String> {
    let name = image.name.last_component();
    let diff = TextDiff::from_lines(old, new);
    // A line that only gained a newline (an insertion after the last line) is unchanged.
    let inserted: Vec<&str> = diff
        .iter_all_changes()
        .filter(|c| c.tag() == ChangeTag::Insert)
        .map(|c| c.value().trim_end())
        .collect();
    for change in diff.iter_all_changes() {
        let line = change.value();
        if change.tag() == ChangeTag::Delete && inserted.contains(&line.trim_end()) {
            continue;
        }
        let ok = match change.tag() {
            ChangeTag::Equal => true,
            ChangeTag::Delete => {
                line.contains(name)
                    || line.contains("tag:")
                    || line.contains("newTag:")
                    || line.contains("digest:")
            }
            ChangeTag::Insert => line.contains(NEW_TAG) || line.contains("digest:"),
        };
        if !ok {
            return Err(format!("unexpected {:?} line {line:?}", change.tag()));
        }
    }
    let comments = |t: &str| -> Vec<String> {
        t.lines()
            .filter_map(|l| l.split_once(" #").map(|(_, c)| c.to_string()))
            .collect()
    };
    let (a, b) = (comments(old), comments(new));
    if a.len() == b.len() && a != b {
        return Err("a comment changed".into());
    }
    Ok(())
}

#[test]
fn every_indexed_image_bumps_exactly_its_references_in_every_file() {
    let index = index();
    assert!(index.len() >= 50, "INDEX.tsv lists {} files", index.len());
    let images: Vec<(String, ImageRef)> = index
        .iter()
        .flat_map(|e| e.refs.iter())
        .filter_map(|raw| indexed_image(raw).map(|i| (raw.clone(), i)))
        .collect();
    assert!(
        images.len() > 80,
        "only {} images parsed from INDEX.tsv",
        images.len()
    );
    let mut edits_per_file: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for entry in &index {
        let text = fs::read_to_string(common::corpus_dir().join(&entry.file)).unwrap();
        let old_docs = docs(&text);
        for (raw, image) in &images {
            let target = Target {
                image: ImageRef::parse(&image.with_version(Some(NEW_TAG), None)).unwrap(),
                setter: None,
            };
            let result = match bump_file(&text, &target) {
                Ok(r) => r,
                Err(e) => {
                    if old_docs.is_some() {
                        failures.push(format!("{}: failed on valid YAML: {e}", entry.file));
                    }
                    continue;
                }
            };
            let own = entry
                .refs
                .iter()
                .any(|r| indexed_image(r).is_some_and(|i| i.name.same_repository(&image.name)));
            let Some(edited) = &result.edited else {
                // A Go/Helm template's templated documents are listed, not edited.
                if entry.refs.contains(raw)
                    && old_docs.is_some()
                    && not_editable(raw).is_none()
                    && result.current.is_empty()
                {
                    failures.push(format!(
                        "{}: {raw} listed but not bumped (skipped: {:?})",
                        entry.file, result.skipped
                    ));
                }
                continue;
            };
            *edits_per_file.entry(entry.file.clone()).or_default() += result.changes.len();
            if !own {
                failures.push(format!(
                    "{}: changed for {raw}, which it does not reference",
                    entry.file
                ));
            }
            if let Err(e) = only_reference_lines_changed(&text, edited, image) {
                failures.push(format!("{} / {raw}: {e}", entry.file));
            }
            match (&old_docs, docs(edited)) {
                (Some(a), Some(b)) if a.len() == b.len() => {
                    for (x, y) in a.iter().zip(&b) {
                        if let Err(e) = same_tree_except_refs(x, y, "") {
                            failures.push(format!("{} / {raw}: {e}", entry.file));
                        }
                    }
                }
                (Some(_), _) => failures.push(format!(
                    "{} / {raw}: edited file no longer parses the same",
                    entry.file
                )),
                (None, _) => {}
            }
            let again = bump_file(edited, &target).unwrap();
            if !again.changes.is_empty() {
                failures.push(format!(
                    "{} / {raw}: second run changes {:?}",
                    entry.file, again.changes
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        edits_per_file.len() >= 40,
        "only {} files were ever edited: {edits_per_file:?}",
        edits_per_file.len()
    );
}

#[test]
fn binary_bumps_one_image_across_the_whole_corpus() {
    let dir = common::copy_tree(&common::corpus_dir());
    let before = common::snapshot(dir.path());
    let run = common::gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        "ghcr.io/stefanprodan/podinfo:6.15.0",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let changed: Vec<String> = before
        .iter()
        .zip(common::snapshot(dir.path()))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((p, _), _)| p.clone())
        .collect();
    assert_eq!(
        changed,
        [
            "stefanprodan__podinfo/charts__podinfo__values.yaml",
            "stefanprodan__podinfo/deploy__bases__database__cronjob-backup-daily.yaml",
            "stefanprodan__podinfo/deploy__bases__database__statefulset-primary.yaml",
            "stefanprodan__podinfo/deploy__bases__frontend__cronjob-warm-cache.yaml",
            "stefanprodan__podinfo/kustomize__deployment.yaml",
        ],
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("references updated in 5 files"),
        "{}",
        run.stdout
    );
}
