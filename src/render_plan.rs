//! What a merge request changes in what gets applied: which kustomize overlays and Helm
//! charts of the config repo its changed files feed, and which plain YAML files it changes.
//! Pure: works on the repository's file list at the two commits; rendering and diffing the
//! outputs is the `preview` mode's job.
//!
//! A kustomize directory is a *root* when no other kustomization of the repository refers
//! to it (an overlay Argo CD or Flux would point at); a root is affected when a changed file
//! lies under it or under anything it refers to, transitively (`resources`, `components`,
//! `bases`, patch and generator files). Remote references are ignored.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// The names kustomize looks for in a directory.
pub const KUSTOMIZATION_FILES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Whether a repository path names a kustomization file.
pub fn is_kustomization_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    KUSTOMIZATION_FILES.contains(&name)
}

/// What to render for the preview.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A kustomize root directory (`""` is the repository root).
    Kustomize(String),
    /// A Helm chart directory (holding `Chart.yaml`).
    Helm(String),
    /// A changed YAML file outside every kustomization and chart.
    Plain(String),
}

impl Source {
    pub fn path(&self) -> &str {
        match self {
            Source::Kustomize(p) | Source::Helm(p) | Source::Plain(p) => p,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Source::Kustomize(_) => "kustomize",
            Source::Helm(_) => "helm",
            Source::Plain(_) => "yaml",
        }
    }
}

/// The paths whose bytes differ between `base` and `head` (added, removed or changed).
pub fn changed_paths(
    base: &BTreeMap<String, Vec<u8>>,
    head: &BTreeMap<String, Vec<u8>>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, bytes) in head {
        if base.get(path) != Some(bytes) {
            out.insert(path.clone());
        }
    }
    for path in base.keys() {
        if !head.contains_key(path) {
            out.insert(path.clone());
        }
    }
    out
}

#[derive(Debug, Default, Deserialize)]
struct Kustomization {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    components: Vec<String>,
    #[serde(default)]
    bases: Vec<String>,
    #[serde(default, rename = "patchesStrategicMerge")]
    patches_strategic_merge: Vec<serde_json::Value>,
    #[serde(default)]
    patches: Vec<serde_json::Value>,
    #[serde(default, rename = "configMapGenerator")]
    config_map_generator: Vec<serde_json::Value>,
    #[serde(default, rename = "secretGenerator")]
    secret_generator: Vec<serde_json::Value>,
}

/// The sources a merge request affects, given the files at both commits (`files` is the
/// union of both trees: path → text, where only kustomization files' texts are read) and
/// the changed paths.
pub fn affected(files: &BTreeMap<String, String>, changed: &BTreeSet<String>) -> Vec<Source> {
    let dirs: BTreeSet<String> = files.keys().map(|p| parent(p).to_string()).collect();
    let kustomize_dirs: BTreeMap<String, Vec<String>> = dirs
        .iter()
        .filter_map(|d| {
            let text = KUSTOMIZATION_FILES
                .iter()
                .find_map(|f| files.get(&join(d, f)))?;
            Some((d.clone(), references(d, text)))
        })
        .collect();
    let referenced: BTreeSet<&String> = kustomize_dirs.values().flatten().collect();
    let charts: Vec<&String> = dirs
        .iter()
        .filter(|d| files.contains_key(&join(d, "Chart.yaml")))
        .collect();

    let mut out = BTreeSet::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    for root in kustomize_dirs.keys().filter(|d| !referenced.contains(d)) {
        let deps = closure(root, &kustomize_dirs);
        covered.extend(deps.iter().cloned());
        if changed.iter().any(|c| deps.iter().any(|d| under(c, d))) {
            out.insert(Source::Kustomize(root.clone()));
        }
    }
    for chart in charts {
        covered.insert(chart.clone());
        if changed.iter().any(|c| under(c, chart)) {
            out.insert(Source::Helm(chart.clone()));
        }
    }
    for path in changed {
        let yaml = path.ends_with(".yaml") || path.ends_with(".yml");
        let in_source = covered.iter().any(|d| under(path, d));
        if yaml && !in_source && !path.starts_with(".gitlab-ci") && !path.starts_with(".gitops-bot")
        {
            out.insert(Source::Plain(path.clone()));
        }
    }
    out.into_iter().collect()
}

/// The local paths a kustomization in `dir` refers to, normalised from the repo root.
fn references(dir: &str, text: &str) -> Vec<String> {
    let Ok(k) = yaml_serde::from_str::<Kustomization>(text) else {
        return Vec::new();
    };
    let mut paths: Vec<String> = k
        .resources
        .into_iter()
        .chain(k.components)
        .chain(k.bases)
        .collect();
    for v in k.patches_strategic_merge {
        if let Some(s) = v.as_str() {
            paths.push(s.to_string());
        }
    }
    for v in k.patches {
        if let Some(s) = v.get("path").and_then(serde_json::Value::as_str) {
            paths.push(s.to_string());
        }
    }
    for generator in k.config_map_generator.iter().chain(&k.secret_generator) {
        for key in ["files", "envs"] {
            for f in generator
                .get(key)
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(s) = f.as_str() {
                    // `key=path` names the key.
                    paths.push(s.rsplit('=').next().unwrap_or(s).to_string());
                }
            }
        }
    }
    paths
        .iter()
        .filter(|p| !p.contains("://") && !p.starts_with("github.com/") && !p.starts_with("git@"))
        .filter_map(|p| normalise(&join(dir, p)))
        .collect()
}

/// Every path `root` depends on: itself and what it refers to, transitively.
fn closure(root: &str, kustomize_dirs: &BTreeMap<String, Vec<String>>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_string()];
    while let Some(dir) = stack.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        if let Some(refs) = kustomize_dirs.get(&dir) {
            stack.extend(refs.iter().cloned());
        }
    }
    seen
}

/// Whether `path` is `dir` or lies under it (`""` is the root).
fn under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path == dir
        || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// `a/b/../c/./d/` → `a/c/d`; `None` when it climbs out of the repository.
fn normalise(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    fn changed(paths: &[&str]) -> BTreeSet<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn a_base_change_affects_the_overlays_that_use_it() {
        let files = repo(&[
            ("base/kustomization.yaml", "resources: [deployment.yml]\n"),
            ("base/deployment.yml", ""),
            (
                "overlays/prod/kustomization.yaml",
                "resources: [../../base]\n",
            ),
            (
                "overlays/dev/kustomization.yaml",
                "resources:\n- ../../base\n",
            ),
            ("other/kustomization.yaml", "resources: [cm.yaml]\n"),
            ("other/cm.yaml", ""),
        ]);
        assert_eq!(
            affected(&files, &changed(&["base/deployment.yml"])),
            vec![
                Source::Kustomize("overlays/dev".into()),
                Source::Kustomize("overlays/prod".into())
            ]
        );
        assert_eq!(
            affected(&files, &changed(&["overlays/prod/kustomization.yaml"])),
            vec![Source::Kustomize("overlays/prod".into())]
        );
    }

    #[test]
    fn charts_and_loose_yaml_files_are_previewed_too() {
        let files = repo(&[
            ("charts/web/Chart.yaml", "name: web\n"),
            ("charts/web/values.yaml", ""),
            ("apps/cm.yaml", ""),
            (".gitlab-ci.yml", ""),
        ]);
        assert_eq!(
            affected(
                &files,
                &changed(&[
                    "charts/web/values.yaml",
                    "apps/cm.yaml",
                    ".gitlab-ci.yml",
                    "README.md"
                ])
            ),
            vec![
                Source::Helm("charts/web".into()),
                Source::Plain("apps/cm.yaml".into())
            ]
        );
    }

    #[test]
    fn generator_files_and_patches_count_as_references() {
        let files = repo(&[
            (
                "app/kustomization.yaml",
                "configMapGenerator:\n- name: c\n  files: [conf=../conf/app.ini]\npatches:\n- path: ../patches/p.yaml\n",
            ),
            ("conf/app.ini", ""),
            ("patches/p.yaml", ""),
        ]);
        assert_eq!(
            affected(&files, &changed(&["conf/app.ini"])),
            vec![Source::Kustomize("app".into())]
        );
        assert_eq!(
            affected(&files, &changed(&["patches/p.yaml"])),
            vec![Source::Kustomize("app".into())]
        );
    }

    #[test]
    fn changed_paths_include_additions_and_removals() {
        let base: BTreeMap<_, _> = [
            ("a".to_string(), b"1".to_vec()),
            ("b".to_string(), b"2".to_vec()),
        ]
        .into();
        let head: BTreeMap<_, _> = [
            ("a".to_string(), b"1".to_vec()),
            ("c".to_string(), b"3".to_vec()),
        ]
        .into();
        assert_eq!(changed_paths(&base, &head), changed(&["b", "c"]));
    }

    #[test]
    fn paths_normalise_within_the_repository() {
        assert_eq!(
            normalise("overlays/prod/../../base").as_deref(),
            Some("base")
        );
        assert_eq!(normalise("a/./b/"), Some("a/b".into()));
        assert_eq!(normalise("../x"), None);
    }
}
