//! Helm: `helm template` of a chart directory, as Argo CD and Flux render charts. Runs a
//! subprocess and blocks.

use std::path::Path;
use std::process::Command;

use super::RenderError;

/// `helm template <name> <dir>`, the release named after the directory.
pub fn template(dir: &Path) -> Result<String, RenderError> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("release");
    let output = match Command::new("helm")
        .args(["template", name])
        .arg(dir)
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RenderError::NoHelm {
                path: dir.display().to_string(),
            });
        }
        Err(source) => {
            return Err(RenderError::Read {
                path: "helm".to_string(),
                source,
            });
        }
    };
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(RenderError::Helm {
            path: dir.display().to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}
