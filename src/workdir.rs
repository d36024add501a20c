//! The local checkout adapter: walking a checkout for YAML files (in parallel, reading each
//! once into a reused buffer) and writing edited files back atomically. It knows nothing
//! about YAML or images: each file's bytes go to a caller's function.
//!
//! Symbolic links are never followed (a bump must not write outside DIR, and the archive read
//! by the GitLab mode has no links to follow either): links leaving DIR are reported, links
//! inside it are skipped silently because their target is searched on its own.

use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use crate::bump::{Examined, MAX_FILE_SIZE, Warning, is_yaml_path};

/// What a walk found: one result per YAML file examined, and the problems met on the way.
#[derive(Debug, Default)]
pub struct Walk {
    pub examined: Vec<Examined>,
    pub files: usize,
    pub warnings: Vec<Warning>,
}

/// Where to walk: DIR itself, or each of `subdirs` (relative to DIR, inside it; a
/// directory or one file).
fn starts(root: &Path, dir: &Path, subdirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
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
        if !real.starts_with(root) {
            bail!("--path {} leads outside {}", sub.display(), dir.display());
        }
        // Nested or repeated --path values must not examine a file twice.
        if !starts.iter().any(|s: &PathBuf| real.starts_with(s)) {
            starts.retain(|s: &PathBuf| !s.starts_with(&real));
            starts.push(real);
        }
    }
    if starts.is_empty() {
        starts.push(root.to_path_buf());
    }
    Ok(starts)
}

/// Walks `*.yaml`/`*.yml` under DIR (or `subdirs`), skipping `.git`, and hands each file's
/// path relative to DIR (with `/`) and bytes to `examine`.
pub fn walk_yaml(
    dir: &Path,
    subdirs: &[PathBuf],
    examine: impl Fn(&str, &[u8]) -> Examined + Sync,
) -> Result<Walk> {
    let root = dir
        .canonicalize()
        .with_context(|| format!("cannot open --local directory {}", dir.display()))?;
    if !root.is_dir() {
        bail!("--local {} is not a directory", dir.display());
    }
    let out = Mutex::new(Walk::default());
    let walker = Walker {
        root: &root,
        examine: &examine,
        out: &out,
    };
    starts(&root, dir, subdirs)?
        .par_iter()
        .try_for_each(|start| walker.start(start))?;
    Ok(out.into_inner().unwrap_or_else(|e| e.into_inner()))
}

struct Walker<'a, F> {
    root: &'a Path,
    examine: &'a F,
    out: &'a Mutex<Walk>,
}

thread_local! {
    /// One read buffer per worker thread: most files are read, searched and dropped.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<F: Fn(&str, &[u8]) -> Examined + Sync> Walker<'_, F> {
    fn directory(&self, dir: &Path) -> Result<()> {
        let entries: Vec<fs::DirEntry> = fs::read_dir(dir)
            .and_then(|d| d.collect::<Result<_, _>>())
            .with_context(|| format!("cannot read directory {}", dir.display()))?;
        entries.par_iter().try_for_each(|entry| self.entry(entry))
    }

    /// A `--path` names a directory to walk or a single file.
    fn start(&self, start: &Path) -> Result<()> {
        if start.is_dir() {
            return self.directory(start);
        }
        let kind = fs::symlink_metadata(start)
            .with_context(|| format!("cannot read {}", start.display()))?
            .file_type();
        self.file(start.to_path_buf(), kind)
    }

    fn entry(&self, entry: &fs::DirEntry) -> Result<()> {
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        self.file(path, kind)
    }

    fn file(&self, path: PathBuf, kind: fs::FileType) -> Result<()> {
        if kind.is_dir() {
            return if path.file_name().is_some_and(|n| n == ".git") {
                Ok(())
            } else {
                self.directory(&path)
            };
        }
        let relative = relative_path(self.root, &path);
        if !is_yaml_path(&relative) {
            return Ok(());
        }
        if kind.is_symlink() {
            let inside = path.canonicalize().is_ok_and(|t| t.starts_with(self.root));
            if inside {
                tracing::debug!(file = %relative, "symbolic link skipped; its target is searched on its own");
            } else {
                self.warn(Warning::file(
                    &relative,
                    "symbolic link leading outside the repository; skipped",
                ));
            }
            return Ok(());
        }
        if !kind.is_file() {
            return Ok(());
        }
        let result = BUFFER.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            match read_capped(&path, &mut buffer) {
                Ok(None) => Some((self.examine)(&relative, &buffer)),
                Ok(Some(size)) => {
                    self.warn(Warning::oversized(&relative, size));
                    None
                }
                Err(e) => Some(Examined::Warning(Warning::file(
                    &relative,
                    format!("cannot read: {e}"),
                ))),
            }
        });
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.files += 1;
        if let Some(examined) = result {
            out.examined.push(examined);
        }
        Ok(())
    }

    fn warn(&self, warning: Warning) {
        self.out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .warnings
            .push(warning);
    }
}

/// Reads the file into `buffer`; `Some(size)` (and nothing read) when it is too large.
fn read_capped(path: &Path, buffer: &mut Vec<u8>) -> std::io::Result<Option<u64>> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_FILE_SIZE {
        return Ok(Some(size));
    }
    buffer.clear();
    file.take(MAX_FILE_SIZE + 1).read_to_end(buffer)?;
    Ok(None)
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
