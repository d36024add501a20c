//! Kustomize: which files and directories are kustomizations, and `kustomize build` (or
//! `kubectl kustomize` when only kubectl is installed). Runs a subprocess and blocks.

use std::path::Path;
use std::process::Command;

use super::RenderError;

pub use crate::render_plan::{KUSTOMIZATION_FILES, is_kustomization_file};

/// Whether `dir` is a kustomize directory.
pub fn is_kustomization(dir: &Path) -> bool {
    dir.is_dir() && KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file())
}

/// `kustomize build DIR`, else `kubectl kustomize DIR`.
pub fn build(dir: &Path) -> Result<String, RenderError> {
    let candidates: [(&str, &[&str]); 2] = [("kustomize", &["build"]), ("kubectl", &["kustomize"])];
    for (program, args) in candidates {
        let output = match Command::new(program).args(args).arg(dir).output() {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(RenderError::Read {
                    path: program.to_string(),
                    source,
                });
            }
        };
        if !output.status.success() {
            return Err(RenderError::Kustomize {
                command: format!("{program} {}", args.join(" ")),
                path: dir.display().to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(RenderError::NoKustomize {
        path: dir.display().to_string(),
    })
}
