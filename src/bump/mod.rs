//! A bump over a whole config repository, wherever its files come from (a checkout on disk
//! or a repository archive): each file is examined on its own, once for all the images of
//! the bump ([`Examiner::examine`]), then the results are gathered into one [`BumpPlan`]
//! that knows the changes, the diff and the summary of each image. Nothing here reads or
//! writes files.

pub(crate) mod documents;
pub mod existing;
mod file;
pub mod merge_request;
mod plan;
pub mod revert;

use std::fmt;

use memchr::memmem;
use serde::Serialize;

pub use file::{
    Change, FileBump, FileError, Kept, bump_file, bump_targets, mentions_in_text, references,
};
pub use plan::{BumpPlan, PlanError};

use crate::forms::Target;
use crate::image_ref::ImageRef;
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
    fn kustomization_files_are_yaml_whatever_their_name() {
        for path in ["a.yaml", "b/c.yml", "Kustomization", "base/Kustomization"] {
            assert!(is_yaml_path(path), "{path}");
        }
        for path in ["Kustomization.txt", "kustomization", "README.md"] {
            assert!(!is_yaml_path(path), "{path}");
        }
    }
}
