//! A bump over a whole config repository, wherever its files come from (a checkout on disk
//! or a repository archive): each file is examined on its own ([`examine`]), then the
//! results are gathered into one [`BumpPlan`] that knows the changes, the diff and the
//! summary. Nothing here reads or writes files.

pub mod existing;
mod file;
pub mod merge_request;
pub mod revert;

use std::fmt;

use memchr::memmem;
use serde::Serialize;

pub use file::{Change, FileBump, FileError, Kept, bump_file, references};

use crate::diff::unified_diff;
use crate::forms::Target;
use crate::plural::count;

/// A `--path`/environment path as the repository-relative prefix it stands for, or why it
/// is not one.
pub fn scope_path(path: &str) -> Result<String, String> {
    let trimmed = path.trim_start_matches("./").trim_end_matches('/');
    if path.starts_with('/') || trimmed.split('/').any(|c| c == "..") {
        return Err(format!(
            "path {path:?} must be relative to the repository root, without '..'"
        ));
    }
    Ok(if trimmed == "." {
        String::new()
    } else {
        trimmed.to_string()
    })
}

/// Whether repository-relative `file` lies under one of `scope` (all files when empty).
pub fn in_scope(file: &str, scope: &[String]) -> bool {
    scope.is_empty()
        || scope.iter().any(|p| {
            p.is_empty()
                || file == p
                || (file.starts_with(p.as_str()) && file.as_bytes().get(p.len()) == Some(&b'/'))
        })
}

/// Whether a repository path names a YAML file.
pub fn is_yaml_path(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}

/// Larger files are skipped: no real manifest is near this, and it bounds memory per file.
pub const MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// Something the user should know about a file that was not (fully) processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl Warning {
    /// A file skipped for being over [`MAX_FILE_SIZE`].
    pub fn oversized(file: &str, size: u64) -> Self {
        Warning::file(
            file,
            format!("{size} bytes is over the {MAX_FILE_SIZE}-byte limit; skipped"),
        )
    }

    pub fn file(file: &str, message: impl Into<String>) -> Self {
        Warning {
            file: file.to_string(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

/// One file in which the image was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePlan {
    pub path: String,
    pub original: String,
    pub bump: FileBump,
}

#[derive(Debug)]
pub enum Examined {
    /// The file cannot mention the image (cheap byte search): not parsed.
    Unrelated,
    Matched(FilePlan),
    /// Not YAML because it is a Go/Helm template (`{{ … }}`): expected, so not a warning.
    Template,
    Warning(Warning),
}

/// The bytes every file that could reference the target must contain. Cheap to search for,
/// so most files of a large repository are never parsed.
pub fn needle(target: &Target) -> memmem::Finder<'static> {
    let needle = match &target.setter {
        Some(_) => "$imagepolicy".to_string(),
        None => target.image.name.last_component().to_string(),
    };
    memmem::Finder::new(needle.as_bytes()).into_owned()
}

/// Examines one file's bytes.
/// Only a file that may reference the target is copied and parsed.
pub fn examine(path: &str, bytes: &[u8], target: &Target, needle: &memmem::Finder) -> Examined {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Examined::Warning(Warning::file(path, "not UTF-8; skipped"));
    };
    if needle.find(bytes).is_none() {
        return Examined::Unrelated;
    }
    match bump_file(text, target) {
        Ok(bump)
            if bump.changes.is_empty() && bump.current.is_empty() && bump.skipped.is_empty() =>
        {
            Examined::Unrelated
        }
        Ok(bump) => Examined::Matched(FilePlan {
            path: path.to_string(),
            original: text.to_string(),
            bump,
        }),
        Err(FileError::Yaml(_)) if text.contains("{{") => {
            tracing::debug!(file = path, "Go/Helm template, not YAML; skipped");
            Examined::Template
        }
        Err(FileError::Yaml(e)) => Examined::Warning(Warning {
            file: path.to_string(),
            line: Some(e.line()),
            column: Some(e.column()),
            message: format!("not valid YAML, left unchanged: {}", e.message()),
        }),
        Err(e) => Examined::Warning(Warning::file(path, e.to_string())),
    }
}

/// Everything a bump found and would change in one repository.
#[derive(Debug, Default, Clone)]
pub struct BumpPlan {
    pub files_searched: usize,
    /// Files where the image was found, by path.
    pub files: Vec<FilePlan>,
    pub warnings: Vec<Warning>,
    /// Files skipped because they are templates, not YAML.
    pub templates: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{image} is referenced nowhere in the {} searched{hint}", count(*files, "YAML file"))]
    NotReferenced {
        image: String,
        files: usize,
        hint: String,
    },
    #[error("{image} is referenced but no reference can be updated:\n{reasons}")]
    NoneEditable { image: String, reasons: String },
    #[error("--strict: {} above; nothing written", count(*problems, "warning"))]
    Strict { problems: usize },
}

impl BumpPlan {
    /// Gathers examined files (in any order) and the warnings met while listing them into a
    /// plan sorted by path.
    pub fn gather(
        files_searched: usize,
        examined: impl IntoIterator<Item = Examined>,
        warnings: Vec<Warning>,
    ) -> Self {
        let mut plan = BumpPlan {
            files_searched,
            warnings,
            ..BumpPlan::default()
        };
        for e in examined {
            match e {
                Examined::Unrelated => {}
                Examined::Matched(f) => plan.files.push(f),
                Examined::Warning(w) => plan.warnings.push(w),
                Examined::Template => plan.templates += 1,
            }
        }
        plan.files.sort_by(|a, b| a.path.cmp(&b.path));
        plan.warnings
            .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        plan
    }

    pub fn changed_files(&self) -> impl Iterator<Item = (&FilePlan, &str)> {
        self.files
            .iter()
            .filter_map(|f| f.bump.edited.as_deref().map(|e| (f, e)))
    }

    pub fn changes(&self) -> impl Iterator<Item = (&str, &Change)> {
        self.files
            .iter()
            .flat_map(|f| f.bump.changes.iter().map(move |c| (f.path.as_str(), c)))
    }

    pub fn current(&self) -> impl Iterator<Item = (&str, &Kept)> {
        self.files
            .iter()
            .flat_map(|f| f.bump.current.iter().map(move |c| (f.path.as_str(), c)))
    }

    pub fn skipped(&self) -> impl Iterator<Item = (&str, &Kept)> {
        self.files
            .iter()
            .flat_map(|f| f.bump.skipped.iter().map(move |c| (f.path.as_str(), c)))
    }

    /// `N references updated in M files (K already current)`.
    pub fn summary(&self) -> String {
        format!(
            "{} updated in {} ({} already current)",
            count(self.changes().count(), "reference"),
            count(self.changed_files().count(), "file"),
            self.current().count()
        )
    }

    /// The unified diff of every changed file, in path order.
    pub fn diff(&self) -> String {
        self.changed_files()
            .map(|(f, edited)| unified_diff(&f.path, &f.original, edited))
            .collect()
    }

    /// Fails when the image was not found at all, found only where it cannot be edited, or
    /// (with `strict`) when anything was warned about.
    pub fn check(&self, image: &str, strict: bool) -> Result<(), PlanError> {
        self.check_found(image)?;
        let problems = self.warnings.len() + self.skipped().count();
        if strict && problems > 0 {
            return Err(PlanError::Strict { problems });
        }
        Ok(())
    }

    fn check_found(&self, image: &str) -> Result<(), PlanError> {
        if self.changes().next().is_some() || self.current().next().is_some() {
            return Ok(());
        }
        if self.skipped().next().is_none() {
            let invalid = self
                .warnings
                .iter()
                .filter(|w| w.message.starts_with("not valid YAML"))
                .count();
            let mut notes = Vec::new();
            if invalid > 0 {
                notes.push(format!(
                    "{} could not be parsed: see the warnings",
                    count(invalid, "file")
                ));
            }
            if self.templates > 0 {
                notes.push(format!(
                    "{} skipped",
                    count(self.templates, "Go/Helm template")
                ));
            }
            let hint = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            return Err(PlanError::NotReferenced {
                image: image.to_string(),
                files: self.files_searched,
                hint,
            });
        }
        let reasons = self
            .skipped()
            .map(|(path, k)| {
                format!(
                    "  {path}:{}:{}: {}: {}",
                    k.line,
                    k.column,
                    k.reference,
                    k.reason.as_deref().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        Err(PlanError::NoneEditable {
            image: image.to_string(),
            reasons,
        })
    }
}
