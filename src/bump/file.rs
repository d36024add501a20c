//! One file, one target: find the sites, plan each, splice, then re-check the result.
//!
//! The re-check parses the edited text again and plans again: if anything would still change
//! (or the text no longer parses), the edit is refused and the file left as it was. So a
//! successful edit is, by construction, one a second run leaves alone.

use serde::Serialize;

use crate::forms::{Form, Outcome, Source, Target, find_sites};
use crate::image_ref::ImageRef;
use crate::manifest::{Splice, TreeError, YamlFile, apply};

/// A reference that changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub line: usize,
    pub column: usize,
    pub form: Form,
    pub old: String,
    pub new: String,
}

/// A reference that matched but stays as it is, with why (`None`: already current).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
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
    let file = YamlFile::parse(text)?;
    let mut result = FileBump::default();
    let mut splices: Vec<Splice> = Vec::new();
    for site in plan(text, &file, target) {
        let (site, outcome) = site;
        let kept = |reference: String, reason: Option<String>| Kept {
            line: site.line,
            column: site.column,
            form: site.form,
            reference,
            reason,
        };
        match outcome {
            Outcome::NoMatch => {}
            Outcome::Current { reference } => result.current.push(kept(reference, None)),
            Outcome::Skipped { reference, reason } => {
                result.skipped.push(kept(reference, Some(reason)));
            }
            Outcome::Update { edits, old, new } => {
                let (line, column) = changed_at(text, &edits).unwrap_or((site.line, site.column));
                splices.extend(edits);
                result.changes.push(Change {
                    line,
                    column,
                    form: site.form,
                    old,
                    new,
                });
            }
        }
    }
    if splices.is_empty() {
        return Ok(result);
    }
    let edited = apply(text, &splices).map_err(|e| FileError::Conflict(e.to_string()))?;
    recheck(&edited, target)?;
    result.edited = Some(edited);
    Ok(result)
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
    let file = YamlFile::parse(text)?;
    Ok(plan(text, &file, &target)
        .into_iter()
        .filter_map(|(_, outcome)| match outcome {
            Outcome::NoMatch => None,
            Outcome::Current { reference } | Outcome::Skipped { reference, .. } => Some(reference),
            Outcome::Update { old, .. } => Some(old),
        })
        .collect())
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

fn plan(text: &str, file: &YamlFile, target: &Target) -> Vec<(crate::forms::Site, Outcome)> {
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
    let file = YamlFile::parse(edited).map_err(|e| FileError::Recheck(e.to_string()))?;
    for (site, outcome) in plan(edited, &file, target) {
        if let Outcome::Update { old, new, .. } = outcome {
            return Err(FileError::Recheck(format!(
                "line {} would still change from {old} to {new}",
                site.line
            )));
        }
    }
    Ok(())
}
