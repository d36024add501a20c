//! Reading a repository archive (`.tar.gz`) into memory, safely.
//!
//! GitLab archives hold one top-level directory (`<project>-<sha>-<sha>/`); entries are taken
//! relative to it. Only regular files are kept, and only those the caller wants; links are
//! never followed, and an entry whose path is absolute or climbs out (`..`) fails the whole
//! read. Sizes are capped before anything is allocated for them.

use std::io::Read;
use std::path::{Component, Path};

use flate2::read::GzDecoder;

/// Caps for one archive.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file kept; larger wanted files are reported, not read.
    pub max_file: u64,
    /// Largest total of all uncompressed entries (kept or not).
    pub max_total: u64,
}

/// A file from the archive, by path relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Archive {
    pub files: Vec<ArchiveFile>,
    /// Wanted files that were too large, with their size.
    pub oversized: Vec<(String, u64)>,
    /// Wanted paths that are symbolic or hard links.
    pub links: Vec<String>,
    /// Wanted files read but not kept (their content did not pass `keep`).
    pub dropped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("the archive is not a readable tar.gz: {0}")]
    Corrupt(#[from] std::io::Error),
    #[error("the archive holds an entry outside the repository: {0:?}")]
    UnsafePath(String),
    #[error("the archive is over {0} bytes uncompressed")]
    TooLarge(u64),
}

/// Reads a `.tar.gz` stream. Files for which `wanted(path)` is true are read, and kept when
/// `keep(path, bytes)` is true too: most files of a large repository can be dropped as soon
/// as they are read, so memory stays small.
pub fn read_archive(
    gz: impl Read,
    limits: Limits,
    wanted: impl Fn(&str) -> bool,
    keep: impl Fn(&str, &[u8]) -> bool,
) -> Result<Archive, ArchiveError> {
    let mut tar = tar::Archive::new(GzDecoder::new(gz));
    let mut archive = Archive::default();
    let mut total: u64 = 0;
    for entry in tar.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        let Some(path) = repo_relative(&raw)? else {
            continue;
        };
        let kind = entry.header().entry_type();
        let size = entry.header().size()?;
        total = total.saturating_add(size);
        if total > limits.max_total {
            return Err(ArchiveError::TooLarge(limits.max_total));
        }
        if !wanted(&path) {
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            archive.links.push(path);
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        if size > limits.max_file {
            archive.oversized.push((path, size));
            continue;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry
            .by_ref()
            .take(limits.max_file + 1)
            .read_to_end(&mut bytes)?;
        if keep(&path, &bytes) {
            archive.files.push(ArchiveFile { path, bytes });
        } else {
            archive.dropped.push(path);
        }
    }
    Ok(archive)
}

/// The entry's path below the top-level directory, `None` for that directory itself and for
/// the `pax_global_header` git writes; an error for paths that would leave the repository.
fn repo_relative(raw: &Path) -> Result<Option<String>, ArchiveError> {
    let shown = raw.to_string_lossy().into_owned();
    let mut parts = Vec::new();
    for component in raw.components() {
        match component {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(ArchiveError::UnsafePath(shown));
            }
        }
    }
    if parts.first().is_some_and(|p| p == "pax_global_header") || parts.len() < 2 {
        return Ok(None);
    }
    Ok(Some(parts[1..].join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(entries: &[(&str, &[u8])], link: Option<(&str, &str)>) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // Bypass the builder's own path checks: hostile archives do not use them.
            let name = header.as_old_mut().name.as_mut();
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        if let Some((path, target)) = link {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, path, target).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    const LIMITS: Limits = Limits {
        max_file: 100,
        max_total: 1000,
    };

    #[test]
    fn files_are_relative_to_the_top_directory_and_filtered() {
        let gz = tar_gz(
            &[
                ("p-abc/a.yaml", b"x: 1\n"),
                ("p-abc/dir/b.yml", b"y"),
                ("p-abc/c.txt", b"z"),
            ],
            Some(("p-abc/l.yaml", "/etc/passwd")),
        );
        let yaml = |p: &str| p.ends_with(".yaml") || p.ends_with(".yml");
        let a = read_archive(&gz[..], LIMITS, yaml, |_, b| b != b"y").unwrap();
        let paths: Vec<_> = a.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a.yaml"]);
        assert_eq!(a.dropped, ["dir/b.yml"]);
        assert_eq!(a.files[0].bytes, b"x: 1\n");
        assert_eq!(a.links, ["l.yaml"]);
    }

    #[test]
    fn escaping_paths_fail_the_read() {
        let gz = tar_gz(&[("p-abc/../../etc/x.yaml", b"x")], None);
        assert!(matches!(
            read_archive(&gz[..], LIMITS, |_| true, |_, _| true),
            Err(ArchiveError::UnsafePath(_))
        ));
        let gz = tar_gz(&[("/abs/x.yaml", b"x")], None);
        assert!(matches!(
            read_archive(&gz[..], LIMITS, |_| true, |_, _| true),
            Err(ArchiveError::UnsafePath(_))
        ));
    }

    #[test]
    fn sizes_are_capped() {
        let big = vec![b'a'; 200];
        let gz = tar_gz(&[("p/a.yaml", &big)], None);
        let a = read_archive(&gz[..], LIMITS, |_| true, |_, _| true).unwrap();
        assert_eq!(a.oversized, [("a.yaml".to_string(), 200)]);
        let gz = tar_gz(
            &[
                ("p/a", &big),
                ("p/b", &big),
                ("p/c", &big),
                ("p/d", &big),
                ("p/e", &big),
                ("p/f", &big),
            ],
            None,
        );
        assert!(matches!(
            read_archive(&gz[..], LIMITS, |_| false, |_, _| true),
            Err(ArchiveError::TooLarge(1000))
        ));
        assert!(read_archive(&b"not gzip"[..], LIMITS, |_| true, |_, _| true).is_err());
    }
}
