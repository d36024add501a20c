//! The local checkout adapter: which YAML files a bump looks at, and writing edited files
//! back atomically. It knows nothing about YAML or images.
//!
//! Symbolic links are never followed (a bump must not write outside DIR, and the archive read
//! by the GitLab mode has no links to follow either): links leaving DIR are reported, links
//! inside it are skipped silently because their target is searched on its own.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use walkdir::WalkDir;

use crate::bump::{MAX_FILE_SIZE, Warning};

/// A YAML file to examine: its path relative to DIR (with `/`) and on disk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct YamlFileEntry {
    pub relative: String,
    pub path: PathBuf,
}

/// Lists `*.yaml`/`*.yml` under DIR, or under each of `subdirs` (relative to DIR).
pub fn list_yaml_files(
    dir: &Path,
    subdirs: &[PathBuf],
) -> Result<(Vec<YamlFileEntry>, Vec<Warning>)> {
    let root = dir
        .canonicalize()
        .with_context(|| format!("cannot open --local directory {}", dir.display()))?;
    if !root.is_dir() {
        bail!("--local {} is not a directory", dir.display());
    }
    let mut starts = Vec::new();
    for sub in subdirs {
        if sub.is_absolute() || sub.components().any(|c| matches!(c, Component::ParentDir)) {
            bail!(
                "--path {} must be a subdirectory of {} (relative, without '..')",
                sub.display(),
                dir.display()
            );
        }
        let start = root.join(sub);
        let real = start.canonicalize().with_context(|| {
            format!(
                "--path {} does not exist under {}",
                sub.display(),
                dir.display()
            )
        })?;
        if !real.starts_with(&root) {
            bail!("--path {} leads outside {}", sub.display(), dir.display());
        }
        starts.push(start);
    }
    if starts.is_empty() {
        starts.push(root.clone());
    }
    let mut files = BTreeSet::new();
    let mut warnings = Vec::new();
    for start in starts {
        let walk = WalkDir::new(&start)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| e.file_name() != ".git");
        for entry in walk {
            let entry =
                entry.with_context(|| format!("cannot read directory under {}", dir.display()))?;
            let path = entry.path();
            let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
            if !is_yaml {
                continue;
            }
            let relative = relative_path(&root, path);
            if entry.path_is_symlink() {
                let inside = path.canonicalize().is_ok_and(|t| t.starts_with(&root));
                if !inside {
                    warnings.push(Warning::file(
                        &relative,
                        "symbolic link leading outside the repository; skipped",
                    ));
                } else {
                    tracing::debug!(file = %relative, "symbolic link skipped; its target is searched on its own");
                }
                continue;
            }
            if !entry.file_type().is_file() {
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if size > MAX_FILE_SIZE {
                warnings.push(Warning::file(
                    &relative,
                    format!("{size} bytes is over the {MAX_FILE_SIZE}-byte limit; skipped"),
                ));
                continue;
            }
            files.insert(YamlFileEntry {
                relative,
                path: path.to_path_buf(),
            });
        }
    }
    Ok((files.into_iter().collect(), warnings))
}

fn relative_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Writes every file or none: each new content goes to a temporary file beside its target
/// first (keeping the target's permissions); only when all are written are they renamed over
/// their targets.
pub fn write_all(files: &[(&Path, &str)]) -> Result<()> {
    let mut staged = Vec::with_capacity(files.len());
    for (path, content) in files {
        let parent = path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".gitops-bot-")
            .tempfile_in(parent)
            .with_context(|| format!("cannot create a temporary file in {}", parent.display()))?;
        tmp.write_all(content.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(tmp.path(), meta.permissions())
                .with_context(|| format!("cannot copy permissions of {}", path.display()))?;
        }
        staged.push((tmp, *path));
    }
    for (tmp, path) in staged {
        tmp.persist(path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
    }
    Ok(())
}
