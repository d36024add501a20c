//! One file, one or more targets: find the sites, plan each for every target, splice all
//! the edits at once, then re-check the result.
//!
//! The re-check parses the edited text again and plans again: if anything would still change
//! (or the text no longer parses), the edit is refused and the file left as it was. So a
//! successful edit is, by construction, one a second run leaves alone.

use serde::Serialize;

use super::documents::{Part, parts};
use crate::forms::mention::MentionFinder;
use crate::forms::{Form, Outcome, Site, Source, Target, find_sites, loose_mentions};
use crate::image_ref::ImageRef;
use crate::manifest::{Splice, TreeError, YamlFile, apply};

/// A reference that changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Which of the targets it belongs to (their index; 0 for a single-image bump).
    #[serde(skip)]
    pub image: usize,
    pub line: usize,
    pub column: usize,
    pub form: Form,
    pub old: String,
    pub new: String,
}

/// A reference that matched but stays as it is, with why (`None`: already current).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    /// Which of the targets it belongs to (their index; 0 for a single-image bump).
    #[serde(skip)]
    pub image: usize,
    pub line: usize,
    pub column: usize,
    pub form: Form,
    pub reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileBump {
    pub changes: Vec<Change>,
    pub current: Vec<Kept>,
    pub skipped: Vec<Kept>,
    /// The new text, when something changed.
    pub edited: Option<String>,
    /// Documents skipped for holding Go/Helm template actions.
    pub templated: usize,
}

impl FileBump {
    /// Nothing of the image here: no change, nothing current, nothing skipped.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.current.is_empty() && self.skipped.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("not valid YAML: {0}")]
    Yaml(#[from] TreeError),
    #[error("edits conflict: {0}; file left unchanged")]
    Conflict(String),
    #[error("the edited file would not re-read as intended ({0}); file left unchanged")]
    Recheck(String),
}

/// Bumps `target` in one file's text.
pub fn bump_file(text: &str, target: &Target) -> Result<FileBump, FileError> {
    bump_targets(text, std::slice::from_ref(target))
}

/// Bumps every one of `targets` (images of distinct repositories) in one file's text: each
/// is planned on the original text, so line numbers are the file's, and all edits are
/// spliced at once. Changes and kept references carry their target's index.
pub fn bump_targets(text: &str, targets: &[Target]) -> Result<FileBump, FileError> {
    let mut result = FileBump::default();
    let mut splices: Vec<Splice> = Vec::new();
    for part in parts(text)? {
        match part {
            Part::Yaml {
                offset,
                lines,
                text,
                file,
            } => {
                for (index, target) in targets.iter().enumerate() {
                    let found = bump_part(text, &file, (index, target), lines, &mut result);
                    splices.extend(found.into_iter().map(|s| Splice {
                        range: s.range.start + offset..s.range.end + offset,
                        text: s.text,
                    }));
                }
            }
            Part::Templated { lines, text, .. } => {
                result.templated += 1;
                let reason = format!(
                    "in the document of lines {}-{}, which holds Go/Helm template actions ({{{{ … }}}}): not YAML until rendered, so never edited",
                    lines + 1,
                    lines + text.lines().count()
                );
                for (index, target) in targets.iter().enumerate() {
                    let skipped = mentions_in_text(text, target, lines, &reason);
                    result
                        .skipped
                        .extend(skipped.into_iter().map(|k| Kept { image: index, ..k }));
                }
            }
        }
    }
    if targets.len() > 1 {
        // In file order, whichever image they belong to.
        result.changes.sort_by_key(|c| (c.line, c.column));
        result.current.sort_by_key(|k| (k.line, k.column));
        result.skipped.sort_by_key(|k| (k.line, k.column));
    }
    if splices.is_empty() {
        return Ok(result);
    }
    let edited = apply(text, &splices).map_err(|e| FileError::Conflict(e.to_string()))?;
    for target in targets {
        recheck(&edited, target)?;
    }
    result.edited = Some(edited);
    Ok(result)
}

/// Plans one YAML part (lines counted from the part's start + `lines`) for the target of
/// index `image` into `result`; returns its splices, relative to the part.
fn bump_part(
    text: &str,
    file: &YamlFile,
    (image, target): (usize, &Target),
    lines: usize,
    result: &mut FileBump,
) -> Vec<Splice> {
    let mut splices = Vec::new();
    let planned = plan(text, file, target);
    for (site, outcome) in &planned {
        let kept = |reference: &String, reason: Option<&String>| Kept {
            image,
            line: site.line + lines,
            column: site.column,
            form: site.form,
            reference: reference.clone(),
            reason: reason.cloned(),
        };
        match outcome {
            Outcome::NoMatch => {}
            Outcome::Current { reference } => result.current.push(kept(reference, None)),
            Outcome::Skipped { reference, reason } => {
                result.skipped.push(kept(reference, Some(reason)));
            }
            Outcome::Update { edits, old, new } => {
                let (line, column) = changed_at(text, edits).unwrap_or((site.line, site.column));
                splices.extend(edits.iter().cloned());
                result.changes.push(Change {
                    image,
                    line: line + lines,
                    column,
                    form: site.form,
                    old: old.clone(),
                    new: new.clone(),
                });
            }
        }
    }
    let sites: Vec<Site> = planned.into_iter().map(|(site, _)| site).collect();
    for loose in loose_mentions(Source { text, file }, &sites, target) {
        let kept = Kept {
            image,
            line: loose.line + lines,
            column: loose.column,
            form: Form::Mention,
            reference: loose.token,
            reason: loose.reason.clone(),
        };
        match loose.reason {
            None => result.current.push(kept),
            Some(_) => result.skipped.push(kept),
        }
    }
    splices
}

/// Each mention of `target` in `text` (not parsed: a templated document, a CI file), as a
/// skipped reference for `reason`; line numbers start after `lines`. Comment lines are left
/// out: they hold no value.
pub fn mentions_in_text(text: &str, target: &Target, lines: usize, reason: &str) -> Vec<Kept> {
    let finder = MentionFinder::new(&target.image.name);
    if target.setter.is_some() || !finder.may_be_in(text) {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        for range in finder.find(line) {
            found.push(Kept {
                image: 0,
                line: lines + n + 1,
                column: line[..range.start].chars().count() + 1,
                form: Form::Mention,
                reference: line[range].to_string(),
                reason: Some(reason.to_string()),
            });
        }
    }
    found
}

/// Every reference to `image`'s repository in `text`, in file order, as written (editable or
/// not). Used to read what a commit changed, so it sees exactly what a bump sees.
pub fn references(text: &str, image: &ImageRef) -> Result<Vec<String>, FileError> {
    // Planning a bump to a digest no image has makes every site of the repository report
    // its reference as it is now.
    let probe = ImageRef::parse(&format!(
        "{}@sha256:{}",
        image.name.as_str(),
        "0".repeat(64)
    ))
    .map_err(|e| FileError::Conflict(e.to_string()))?;
    let target = Target {
        image: probe,
        setter: None,
    };
    let mut found = Vec::new();
    for part in parts(text)? {
        if let Part::Yaml { text, file, .. } = part {
            found.extend(
                plan(text, &file, &target)
                    .into_iter()
                    .filter_map(|(_, outcome)| match outcome {
                        Outcome::NoMatch => None,
                        Outcome::Current { reference } | Outcome::Skipped { reference, .. } => {
                            Some(reference)
                        }
                        Outcome::Update { old, .. } => Some(old),
                    }),
            );
        }
    }
    Ok(found)
}

/// Where the first of `edits` puts new bytes: its 1-based line and column (in characters)
/// in `text`, or, for a key inserted on a line of its own, the line it will have. So a
/// change is reported at the `newTag` or `tag` line that changes, not at the `name` or
/// `repository` line that identifies the image.
fn changed_at(text: &str, edits: &[Splice]) -> Option<(usize, usize)> {
    let first = edits.iter().min_by_key(|e| e.range.start)?;
    let before = text.get(..first.range.start)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    // An insertion at the end of a file without final newline starts with the line break.
    let rest = first.text.trim_start_matches(['\r', '\n']);
    let leading = &first.text[..first.text.len() - rest.len()];
    match leading.matches('\n').count() {
        0 => Some((line, column)),
        n => Some((line + n, 1)),
    }
}

fn plan(text: &str, file: &YamlFile, target: &Target) -> Vec<(Site, Outcome)> {
    let source = Source { text, file };
    find_sites(text, file, target.setter.is_some())
        .into_iter()
        .map(|site| {
            let outcome = site.plan(source, target);
            (site, outcome)
        })
        .collect()
}

fn recheck(edited: &str, target: &Target) -> Result<(), FileError> {
    let parts = parts(edited).map_err(|e| FileError::Recheck(e.to_string()))?;
    for part in parts {
        let Part::Yaml {
            lines, text, file, ..
        } = part
        else {
            continue;
        };
        for (site, outcome) in plan(text, &file, target) {
            if let Outcome::Update { old, new, .. } = outcome {
                return Err(FileError::Recheck(format!(
                    "line {} would still change from {old} to {new}",
                    site.line + lines
                )));
            }
        }
    }
    Ok(())
}
