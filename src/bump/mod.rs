//! A bump over a whole config repository, wherever its files come from (a checkout on disk
//! or a repository archive): each file is examined on its own ([`examine`]), then the
//! results are gathered into one [`BumpPlan`] that knows the changes, the diff and the
//! summary. Nothing here reads or writes files.

mod documents;
pub mod existing;
mod file;
pub mod merge_request;
pub mod revert;

use std::fmt;

use memchr::memmem;
use serde::Serialize;

pub use file::{
    Change, FileBump, FileError, Kept, bump_file, bump_targets, mentions_in_text, references,
};

use crate::diff::unified_diff;
use crate::forms::Target;
use crate::image_ref::ImageRef;
use crate::plural::count;
use crate::render_plan::is_kustomization_file;

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

/// The images of one bump must be of distinct repositories (one reference cannot take two
/// versions): else the usage error naming the repository given twice.
pub fn distinct_repositories(images: &[ImageRef]) -> Result<(), String> {
    for (i, image) in images.iter().enumerate() {
        if let Some(first) = images[..i]
            .iter()
            .find(|other| other.name.same_repository(&image.name))
        {
            return Err(format!(
                "--image: {first} and {image} are the same repository; give each image once"
            ));
        }
    }
    Ok(())
}

/// Whether a repository path names a YAML file: `*.yaml`, `*.yml`, or a kustomization by
/// any name kustomize reads (`Kustomization` has no extension).
pub fn is_yaml_path(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml") || is_kustomization_file(path)
}

/// The repository's own CI configuration (`.gitlab-ci.yml`, `.gitlab/`, `.github/`): pipeline
/// definitions that may name the image they build, not deployment config.
pub fn is_ci_path(path: &str) -> bool {
    path == ".gitlab-ci.yml" || path.starts_with(".gitlab/") || path.starts_with(".github/")
}

/// Whether `file` is searched for `scope` (see [`in_scope`]): CI files only when a scope
/// path names CI configuration itself (`--path .gitlab-ci.yml`, `--path .gitlab/ci`), never
/// through a wider one (`--path .`).
pub fn is_searched(file: &str, scope: &[String]) -> bool {
    if !is_ci_path(file) {
        return in_scope(file, scope);
    }
    scope.iter().any(|p| {
        (p == ".gitlab" || p == ".github" || is_ci_path(p))
            && in_scope(file, std::slice::from_ref(p))
    })
}

/// Why a CI file is listed instead of searched.
const CI_FILE_REASON: &str = "the repository's own CI configuration, not deployment config: searched only when --path or an environment's paths name it";

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
    /// Holds Go/Helm template actions (`{{ … }}`) and nothing of the image elsewhere: its
    /// templated documents are expected, so not a warning.
    Template,
    /// Not searched (a CI file outside the scope named): the mentions of the image it holds,
    /// listed as skipped.
    NotSearched(Option<FilePlan>),
    Warning(Warning),
}

/// Examines files for one or more targets (images of distinct repositories) and a scope.
pub struct Examiner {
    targets: Vec<Target>,
    scope: Vec<String>,
    needles: Vec<memmem::Finder<'static>>,
}

impl Examiner {
    /// `scope` as [`scope_path`] gives it (all files when empty).
    pub fn new(target: &Target, scope: &[String]) -> Self {
        Examiner::for_targets(std::slice::from_ref(target), scope)
    }

    /// One examiner for several targets: each file is read and parsed once for all of them.
    pub fn for_targets(targets: &[Target], scope: &[String]) -> Self {
        // The bytes every file that could reference a target must contain. Cheap to search
        // for, so most files of a large repository are never parsed.
        let needles = targets
            .iter()
            .map(|target| {
                let needle = match &target.setter {
                    Some(_) => "$imagepolicy",
                    None => target.image.name.last_component(),
                };
                memmem::Finder::new(needle.as_bytes()).into_owned()
            })
            .collect();
        Examiner {
            targets: targets.to_vec(),
            scope: scope.to_vec(),
            needles,
        }
    }

    /// Whether a file with these bytes could reference one of the targets.
    pub fn may_reference(&self, bytes: &[u8]) -> bool {
        self.needles.iter().any(|n| n.find(bytes).is_some())
    }

    /// Whether a repository path is searched at all (in scope, and not a CI file the scope
    /// leaves out).
    pub fn in_scope(&self, path: &str) -> bool {
        in_scope(path, &self.scope)
    }

    /// Examines one file's bytes. Only a file that may reference the target is copied and
    /// parsed.
    pub fn examine(&self, path: &str, bytes: &[u8]) -> Examined {
        let searched = is_searched(path, &self.scope);
        let Ok(text) = std::str::from_utf8(bytes) else {
            if !searched {
                return Examined::NotSearched(None);
            }
            return Examined::Warning(Warning::file(path, "not UTF-8; skipped"));
        };
        if !self.may_reference(bytes) {
            return if searched {
                Examined::Unrelated
            } else {
                Examined::NotSearched(None)
            };
        }
        if !searched {
            let skipped: Vec<Kept> = self
                .targets
                .iter()
                .enumerate()
                .flat_map(|(index, target)| {
                    mentions_in_text(text, target, 0, CI_FILE_REASON)
                        .into_iter()
                        .map(move |k| Kept { image: index, ..k })
                })
                .collect();
            return Examined::NotSearched((!skipped.is_empty()).then(|| FilePlan {
                path: path.to_string(),
                original: text.to_string(),
                bump: FileBump {
                    skipped,
                    ..FileBump::default()
                },
            }));
        }
        examine_text(path, text, &self.targets)
    }
}

fn examine_text(path: &str, text: &str, targets: &[Target]) -> Examined {
    let bump = bump_targets(text, targets);
    if let Ok(b) = &bump
        && b.templated > 0
    {
        tracing::debug!(
            file = path,
            documents = b.templated,
            "Go/Helm template documents, not YAML; skipped"
        );
    }
    match bump {
        Ok(bump) if bump.is_empty() && bump.templated > 0 => Examined::Template,
        Ok(bump) if bump.is_empty() => Examined::Unrelated,
        Ok(bump) => Examined::Matched(FilePlan {
            path: path.to_string(),
            original: text.to_string(),
            bump,
        }),
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
    #[error(
        "{}\nnothing written: a bump of {} changes all of them or none",
        failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
        count(*images, "image")
    )]
    NotAll {
        failures: Vec<PlanError>,
        images: usize,
    },
    #[error(
        "--strict: {} and {} above; nothing written",
        count(*warnings, "warning"),
        count(*skipped, "skipped reference")
    )]
    Strict { warnings: usize, skipped: usize },
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
                Examined::NotSearched(listed) => {
                    plan.files_searched = plan.files_searched.saturating_sub(1);
                    plan.files.extend(listed);
                }
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

    /// The same for the image of index `image` alone: what a bump of several images did to
    /// each.
    pub fn summary_of(&self, image: usize) -> String {
        let files = self
            .files
            .iter()
            .filter(|f| f.bump.changes.iter().any(|c| c.image == image))
            .count();
        format!(
            "{} updated in {} ({} already current)",
            count(self.changes_of(image).count(), "reference"),
            count(files, "file"),
            self.current().filter(|(_, k)| k.image == image).count()
        )
    }

    /// The changes to the image of index `image`.
    pub fn changes_of(&self, image: usize) -> impl Iterator<Item = (&str, &Change)> {
        self.changes().filter(move |(_, c)| c.image == image)
    }

    /// The unified diff of every changed file, in path order.
    pub fn diff(&self) -> String {
        self.changed_files()
            .map(|(f, edited)| unified_diff(&f.path, &f.original, edited))
            .collect()
    }

    /// Fails when an image (of `images`, the targets' names in order) was not found at all or
    /// found only where it cannot be edited, or (with `strict`) when anything was warned
    /// about or skipped. A bump of several images changes all of them or none: one image
    /// missing fails the whole bump, naming it.
    pub fn check(&self, images: &[String], strict: bool) -> Result<(), PlanError> {
        let mut failures: Vec<PlanError> = images
            .iter()
            .enumerate()
            .filter_map(|(index, image)| self.check_found(index, image).err())
            .collect();
        match failures.len() {
            0 => {}
            1 if images.len() == 1 => return Err(failures.remove(0)),
            _ => {
                return Err(PlanError::NotAll {
                    failures,
                    images: images.len(),
                });
            }
        }
        let (warnings, skipped) = (self.warnings.len(), self.skipped().count());
        if strict && warnings + skipped > 0 {
            return Err(PlanError::Strict { warnings, skipped });
        }
        Ok(())
    }

    fn check_found(&self, index: usize, image: &str) -> Result<(), PlanError> {
        let mine = |k: &(&str, &Kept)| k.1.image == index;
        if self.changes_of(index).next().is_some() || self.current().any(|k| mine(&k)) {
            return Ok(());
        }
        if !self.skipped().any(|k| mine(&k)) {
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
            .filter(mine)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| scope_path(p).unwrap()).collect()
    }

    #[test]
    fn ci_files_are_searched_only_when_a_path_names_ci_configuration() {
        for file in [
            ".gitlab-ci.yml",
            ".gitlab/ci/deploy.yml",
            ".github/workflows/x.yaml",
        ] {
            assert!(is_ci_path(file), "{file}");
            assert!(!is_searched(file, &[]), "{file}");
            assert!(!is_searched(file, &scope(&["."])), "{file}");
        }
        assert!(is_searched(".gitlab-ci.yml", &scope(&["./.gitlab-ci.yml"])));
        assert!(is_searched(".gitlab/ci/deploy.yml", &scope(&[".gitlab/"])));
        assert!(is_searched(
            ".gitlab/ci/deploy.yml",
            &scope(&[".gitlab/ci"])
        ));
        assert!(!is_searched(".gitlab/ci/deploy.yml", &scope(&[".github"])));
        assert!(is_searched("deploy/.gitlab-ci.yml", &[]));
        assert!(!is_ci_path(".gitlabx/a.yaml"));
    }

    #[test]
    fn images_of_one_bump_must_be_distinct_repositories() {
        let images = |list: &[&str]| -> Vec<ImageRef> {
            list.iter().map(|i| ImageRef::parse(i).unwrap()).collect()
        };
        assert!(distinct_repositories(&images(&["r.io/a:1", "r.io/b:1"])).is_ok());
        let err = distinct_repositories(&images(&[
            "nginx:1",
            "r.io/b:1",
            "docker.io/library/nginx:2",
        ]))
        .unwrap_err();
        assert!(
            err.contains("nginx:1 and docker.io/library/nginx:2"),
            "{err}"
        );
    }

    #[test]
    fn a_bump_of_several_images_fails_whole_naming_each_image_not_found() {
        let examiner = Examiner::for_targets(
            &[
                target("r.io/web:2"),
                target("r.io/gone:1"),
                target("r.io/worker:7"),
            ],
            &[],
        );
        let text = "containers:\n  - image: r.io/web:1\n  - image: r.io/worker:7\n";
        let plan = BumpPlan::gather(1, [examiner.examine("d.yaml", text.as_bytes())], vec![]);
        let names = ["r.io/web:2", "r.io/gone:1", "r.io/worker:7"].map(String::from);
        let err = plan.check(&names, false).unwrap_err();
        assert!(
            matches!(&err, PlanError::NotAll { failures, images: 3 } if failures.len() == 1),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "r.io/gone:1 is referenced nowhere in the 1 YAML file searched\nnothing written: a bump of 3 images changes all of them or none"
        );
        // Found, changed or current, each: the plan passes, and says what each image got.
        let found = ["r.io/web:2", "r.io/worker:7"].map(String::from);
        let examiner = Examiner::for_targets(&[target("r.io/web:2"), target("r.io/worker:7")], &[]);
        let plan = BumpPlan::gather(1, [examiner.examine("d.yaml", text.as_bytes())], vec![]);
        assert_eq!(plan.check(&found, true), Ok(()));
        assert_eq!(
            plan.summary_of(0),
            "1 reference updated in 1 file (0 already current)"
        );
        assert_eq!(
            plan.summary_of(1),
            "0 references updated in 0 files (1 already current)"
        );
        // One image keeps its own error, unwrapped.
        let one = ["r.io/gone:1".to_string()];
        let examiner = Examiner::new(&target("r.io/gone:1"), &[]);
        let plan = BumpPlan::gather(1, [examiner.examine("d.yaml", text.as_bytes())], vec![]);
        assert!(matches!(
            plan.check(&one, false),
            Err(PlanError::NotReferenced { .. })
        ));
    }

    fn target(image: &str) -> Target {
        Target {
            image: ImageRef::parse(image).unwrap(),
            setter: None,
        }
    }

    #[test]
    fn kustomization_files_are_yaml_whatever_their_name() {
        for path in ["a.yaml", "b/c.yml", "Kustomization", "base/Kustomization"] {
            assert!(is_yaml_path(path), "{path}");
        }
        for path in ["Kustomization.txt", "kustomization", "README.md"] {
            assert!(!is_yaml_path(path), "{path}");
        }
    }
}
