//! The images an environment deploys, read from its files with the bump's own site finding
//! ([`crate::forms::find_sites`]): so promotion sees exactly the references a bump would
//! edit, grouped by normalised repository.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bump::documents::{Part, parts};
use crate::bump::{MAX_FILE_SIZE, is_searched, is_yaml_path};
use crate::forms::{Form, Source, find_sites};
use crate::image_ref::Version;

/// Where a reference was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    pub path: String,
    pub line: usize,
    pub form: Form,
}

/// One repository of an environment: the versions its references carry (in file order,
/// each once) and the references whose version cannot be read from the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageVersions {
    /// `domain/path`, e.g. `docker.io/library/nginx`.
    pub repository: String,
    /// The name as first written (`nginx`), for people.
    pub name: String,
    pub versions: Vec<Version>,
    pub places: Vec<Place>,
    /// References of the repository whose version is not in the file (a chart's default
    /// tag, a kustomize `tagSuffix`, a version-less name), with why.
    pub unreadable: Vec<(Place, String)>,
}

/// Everything under an environment's paths.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnvironmentImages {
    /// By canonical repository.
    pub images: BTreeMap<String, ImageVersions>,
    /// Files that were not read (not YAML, too large), with why: a version written there is
    /// not seen.
    pub unread_files: Vec<(String, String)>,
}

impl EnvironmentImages {
    pub fn get(&self, repository: &str) -> Option<&ImageVersions> {
        self.images.get(repository)
    }
}

/// The images of the environment whose `paths` are `scope` (repository-relative prefixes,
/// see [`crate::bump::scope_path`]), from `files` (path → bytes). Files outside the scope,
/// non-YAML files and CI configuration are ignored, as a bump ignores them; documents with
/// template actions hold no readable version and are left out.
pub fn images_of<'f>(
    files: impl IntoIterator<Item = (&'f str, &'f [u8])>,
    scope: &[String],
) -> EnvironmentImages {
    let mut files: Vec<(&str, &[u8])> = files
        .into_iter()
        .filter(|(path, _)| is_yaml_path(path) && is_searched(path, scope))
        .collect();
    files.sort_by_key(|(path, _)| *path);
    let mut out = EnvironmentImages::default();
    for (path, bytes) in files {
        if bytes.len() as u64 > MAX_FILE_SIZE {
            out.unread_files.push((
                path.to_string(),
                format!("over the {MAX_FILE_SIZE}-byte limit"),
            ));
            continue;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            out.unread_files
                .push((path.to_string(), "not UTF-8 text".to_string()));
            continue;
        };
        match parts(text) {
            Ok(parts) => {
                for part in parts {
                    if let Part::Yaml {
                        lines, text, file, ..
                    } = part
                    {
                        read_part(&mut out, path, text, &file, lines);
                    }
                }
            }
            Err(e) => out
                .unread_files
                .push((path.to_string(), format!("not valid YAML: {e}"))),
        }
    }
    out
}

fn read_part(
    out: &mut EnvironmentImages,
    path: &str,
    text: &str,
    file: &crate::manifest::YamlFile,
    lines: usize,
) {
    let source = Source { text, file };
    for site in find_sites(text, file, false) {
        let Some(reading) = site.reading(source) else {
            continue;
        };
        let place = Place {
            path: path.to_string(),
            line: site.line + lines,
            form: site.form,
        };
        let repository = reading.name.canonical();
        let entry = out
            .images
            .entry(repository.clone())
            .or_insert_with(|| ImageVersions {
                repository,
                name: reading.name.as_str().to_string(),
                versions: Vec::new(),
                places: Vec::new(),
                unreadable: Vec::new(),
            });
        match reading.version {
            Ok(version) if version == Version::default() => entry.unreadable.push((
                place,
                "no tag or digest written (whatever `latest` is at pull time)".to_string(),
            )),
            Ok(version) => {
                if !entry.versions.contains(&version) {
                    entry.versions.push(version);
                }
                entry.places.push(place);
            }
            Err(reason) => entry.unreadable.push((place, reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(files: &[(&str, &str)], scope: &[&str]) -> EnvironmentImages {
        let scope: Vec<String> = scope.iter().map(|s| s.to_string()).collect();
        images_of(files.iter().map(|(p, t)| (*p, t.as_bytes())), &scope)
    }

    fn versions(env: &EnvironmentImages, repository: &str) -> Vec<String> {
        env.get(repository)
            .map(|i| i.versions.iter().map(Version::to_string).collect())
            .unwrap_or_default()
    }

    const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25
        - name: api
          image: registry.example.com/team/api:ci-35
";

    #[test]
    fn every_form_is_read_and_grouped_by_normalised_repository() {
        let values = "\
image:
  registry: docker.io
  repository: library/nginx
  tag: \"1.25\"
worker:
  repository: registry.example.com/team/worker
  tag: v7
";
        let kustomization = "\
resources: [deploy.yaml]
images:
  - name: registry.example.com/team/api
    newTag: ci-36
";
        let env = images(
            &[
                ("envs/dev/deploy.yaml", DEPLOYMENT),
                ("envs/dev/values.yaml", values),
                ("envs/dev/kustomization.yaml", kustomization),
            ],
            &["envs/dev"],
        );
        assert_eq!(versions(&env, "docker.io/library/nginx"), ["1.25"]);
        assert_eq!(
            versions(&env, "registry.example.com/team/api"),
            ["ci-35", "ci-36"],
            "in path order; both count, though kustomize renders only ci-36: the promotion refuses such a mix"
        );
        assert_eq!(versions(&env, "registry.example.com/team/worker"), ["v7"]);
        let nginx = env.get("docker.io/library/nginx").unwrap();
        assert_eq!(nginx.name, "nginx", "the name as first written");
        assert_eq!(nginx.places.len(), 2);
        assert_eq!(nginx.places[0].form, Form::Container);
        assert_eq!(nginx.places[1].form, Form::HelmValues);
    }

    #[test]
    fn files_outside_the_paths_and_non_yaml_files_are_not_read() {
        let env = images(
            &[
                ("envs/prod/deploy.yaml", DEPLOYMENT),
                ("envs/dev/README.md", "image: nginx:9\n"),
                ("envs/devel/deploy.yaml", "image: nginx:8\n"),
            ],
            &["envs/dev"],
        );
        assert!(env.images.is_empty(), "{env:?}");
    }

    #[test]
    fn versions_not_written_in_the_file_are_unreadable_with_why() {
        let values = "\
image:
  repository: nginx
bare:
  image: nginx
";
        let env = images(&[("values.yaml", values)], &[]);
        let nginx = env.get("docker.io/library/nginx").unwrap();
        assert!(nginx.versions.is_empty());
        let reasons: Vec<&str> = nginx.unreadable.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("chart's default tag"), "{reasons:?}");
        assert!(reasons[1].contains("no tag or digest"), "{reasons:?}");
    }

    #[test]
    fn kustomize_entries_are_read_as_kustomize_renders_them() {
        let kustomization = "\
images:
  - name: app
    newName: registry.example.com/team/app
    newTag: \"3\"
  - name: suffixed
    newTag: v1
    tagSuffix: -debug
  - name: mixed
    newName: registry.example.com/team/mixed:2
    newTag: \"3\"
";
        let env = images(&[("kustomization.yaml", kustomization)], &[]);
        assert_eq!(versions(&env, "registry.example.com/team/app"), ["3"]);
        assert!(
            env.get("docker.io/library/app").is_none(),
            "the name is replaced"
        );
        for repository in [
            "docker.io/library/suffixed",
            "registry.example.com/team/mixed",
        ] {
            let image = env.get(repository).unwrap();
            assert!(image.versions.is_empty(), "{image:?}");
            assert_eq!(image.unreadable.len(), 1, "{image:?}");
        }
    }

    #[test]
    fn invalid_and_templated_files_are_listed_or_left_out() {
        let templated = "\
image: nginx:1.25
---
image: {{ .Values.image }}
";
        let env = images(
            &[("a.yaml", "image: [unclosed\n"), ("b.yaml", templated)],
            &[],
        );
        assert_eq!(env.unread_files.len(), 1);
        assert_eq!(env.unread_files[0].0, "a.yaml");
        assert_eq!(versions(&env, "docker.io/library/nginx"), ["1.25"]);
    }
}
