//! The rendering adapter: what a directory of a config repo applies, as `kubectl apply`
//! and the GitOps controllers would see it. A directory with a `kustomization.yaml` is
//! built with `kustomize build` (or `kubectl kustomize`, [`kustomize`]), a Helm chart with
//! `helm template` ([`helm`]); any other directory's own `*.yaml`/`*.yml`/`*.json` files
//! (not its subdirectories, as `kubectl apply -f DIR`) are read as they are. Parsing here is
//! for reading objects; edits never go through it. Everything here blocks (subprocesses,
//! files): async callers run it through [`crate::blocking`].

pub mod helm;
pub mod kustomize;

use std::path::{Path, PathBuf};

pub use crate::objects::{Object, ObjectsError, parse};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] ObjectsError),
    #[error(
        "{path} is a kustomize directory and neither `kustomize` nor `kubectl` is on PATH: install one, or point at plain manifests"
    )]
    NoKustomize { path: String },
    #[error("`{command}` failed for {path}: {stderr}")]
    Kustomize {
        command: String,
        path: String,
        stderr: String,
    },
    #[error("{path} is a Helm chart and `helm` is not on PATH")]
    NoHelm { path: String },
    /// `helm template` failed; `stderr` as helm wrote it.
    #[error("`helm template` failed for {path}: {stderr}")]
    Helm { path: String, stderr: String },
}

/// The objects `path` (a file or directory) applies; see the module documentation.
pub fn objects(path: &Path) -> Result<Vec<Object>, RenderError> {
    if kustomize::is_kustomization(path) {
        let text = kustomize::build(path)?;
        return Ok(parse(
            &text,
            &format!("{} (kustomize build)", path.display()),
        )?);
    }
    let files: Vec<PathBuf> = if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|source| RenderError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            })
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| RenderError::Read {
            path: file.display().to_string(),
            source,
        })?;
        out.extend(parse(&text, &file.display().to_string())?);
    }
    Ok(out)
}

/// Every YAML file under `dir` (and templates), concatenated with a `# file` header each:
/// what a directory is shown as when the tool that renders it is missing.
pub fn raw_files(dir: &Path) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_lists_become_objects() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: b}}\n";
        let objects = parse(text, "x.yaml").unwrap();
        let names: Vec<_> = objects
            .iter()
            .map(|o| (o.kind(), o.name(), o.source.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![("ConfigMap", "a", "x.yaml#1"), ("Service", "b", "x.yaml#3")]
        );
    }

    #[test]
    fn a_document_that_is_not_an_object_is_named() {
        let err = parse(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nfoo: bar\n",
            "x.yaml",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.yaml: document 2: not a Kubernetes object (apiVersion, kind and metadata.name are required)"
        );
    }
}
