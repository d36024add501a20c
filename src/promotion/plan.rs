//! What promoting one environment's images to another means: per repository referenced by
//! both, the version the source runs and the versions the target carries. It fails closed:
//! anything ambiguous is skipped with its reason, and nothing is ever added to the target.

use serde::Serialize;

use super::images::EnvironmentImages;
use crate::image_ref::Version;

/// One image to move: the target's references of `repository` go from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImagePromotion {
    /// `domain/path`, the key images are matched by.
    pub repository: String,
    /// The name as written in the target, for people and for the bump (`--image NAME:TO`).
    pub name: String,
    /// The target's current versions (one, unless the target itself is mixed).
    pub from: Vec<Version>,
    pub to: Version,
}

/// Why a repository is not promoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Skip {
    /// The source references several versions: which one is proven is not knowable.
    SeveralVersions { versions: Vec<Version> },
    /// Only the source references it: a promotion never adds an image to the target.
    NotInTarget,
    /// A reference whose version is not written in the files (in the source or the target).
    Unreadable { environment: String, reason: String },
    /// A merged rollback of the target holds this version (see [`super::hold`]).
    Held {
        environment: String,
        version: Version,
        rollback_iid: u64,
        rollback_url: String,
        /// The command prefix, to say how to lift it.
        #[serde(skip)]
        prefix: String,
    },
}

impl Skip {
    /// Skipped because a merged rollback holds the target for this version.
    pub fn is_hold(&self) -> bool {
        matches!(self, Skip::Held { .. })
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::SeveralVersions { versions } => {
                let list: Vec<String> = versions.iter().map(Version::to_string).collect();
                write!(
                    f,
                    "several versions in the source ({}): which one is proven is unknown",
                    list.join(", ")
                )
            }
            Skip::NotInTarget => f.write_str(
                "not referenced by the target: a promotion changes versions, it never adds an image",
            ),
            Skip::Unreadable {
                environment,
                reason,
            } => write!(f, "a version in {environment} is not readable: {reason}"),
            Skip::Held {
                environment,
                version,
                rollback_iid,
                rollback_url,
                prefix,
            } => write!(
                f,
                "{environment} is held for {version} since rollback !{rollback_iid} ({rollback_url}) merged: an operator of {environment} lifts it with `{prefix} unhold` on !{rollback_iid}, or a newer version is proposed"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub repository: String,
    pub name: String,
    pub reason: Skip,
}

/// The promotion from one environment to another, in repository order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Promotion {
    pub images: Vec<ImagePromotion>,
    /// Repositories both reference that are already at the source's version.
    pub current: Vec<String>,
    pub skipped: Vec<Skipped>,
}

impl Promotion {
    /// Nothing to move (skips apart).
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

/// The promotion from `source` (named `source_name`) to `target` (named `target_name`).
/// Repositories only the target references are not its business and are left out.
pub fn promotion(
    source_name: &str,
    source: &EnvironmentImages,
    target_name: &str,
    target: &EnvironmentImages,
) -> Promotion {
    let mut out = Promotion::default();
    for (repository, from) in &source.images {
        let skip = |reason| Skipped {
            repository: repository.clone(),
            name: from.name.clone(),
            reason,
        };
        let Some(to) = target.get(repository) else {
            out.skipped.push(skip(Skip::NotInTarget));
            continue;
        };
        let unreadable = [(source_name, from), (target_name, to)]
            .into_iter()
            .find_map(|(env, images)| Some((env, images.unreadable.first()?)));
        if let Some((environment, (place, reason))) = unreadable {
            out.skipped.push(skip(Skip::Unreadable {
                environment: environment.to_string(),
                reason: format!("{}:{}: {reason}", place.path, place.line),
            }));
            continue;
        }
        let [version] = from.versions.as_slice() else {
            out.skipped.push(skip(Skip::SeveralVersions {
                versions: from.versions.clone(),
            }));
            continue;
        };
        if to.versions.iter().all(|v| v == version) {
            out.current.push(repository.clone());
            continue;
        }
        out.images.push(ImagePromotion {
            repository: repository.clone(),
            name: to.name.clone(),
            from: to.versions.clone(),
            to: version.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promotion::images::images_of;

    fn env(files: &[(&str, &str)]) -> EnvironmentImages {
        images_of(files.iter().map(|(p, t)| (*p, t.as_bytes())), &[])
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    /// (case, source file, target file, promoted as `repository from→to`, skipped as
    /// `repository: reason kind`, current)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a [&'a str],
        &'a [&'a str],
        &'a [&'a str],
    );

    #[test]
    fn promotions() {
        let cases: &[Case] = &[
            (
                "a newer version moves, matched across spellings",
                "image: docker.io/library/nginx:1.26\n",
                "image: nginx:1.25\n",
                &["docker.io/library/nginx 1.25→1.26"],
                &[],
                &[],
            ),
            (
                "the same version is current",
                "image: nginx:1.25\n",
                "image: nginx:1.25\n",
                &[],
                &[],
                &["docker.io/library/nginx"],
            ),
            (
                "an older version moves too: the source is what is proven",
                "image: nginx:1.24\n",
                "image: nginx:1.25\n",
                &["docker.io/library/nginx 1.25→1.24"],
                &[],
                &[],
            ),
            (
                "several versions in the source are skipped",
                "a: {image: nginx:1.25}\nb: {image: nginx:1.26}\n",
                "image: nginx:1.24\n",
                &[],
                &["docker.io/library/nginx: several-versions"],
                &[],
            ),
            (
                "a mixed target gets all its versions listed as from",
                "image: nginx:1.26\n",
                "a: {image: nginx:1.25}\nb: {image: nginx:1.24}\n",
                &["docker.io/library/nginx 1.25,1.24→1.26"],
                &[],
                &[],
            ),
            (
                "an image only in the source is never added",
                "a: {image: nginx:1.26}\nb: {image: redis:7}\n",
                "image: nginx:1.25\n",
                &["docker.io/library/nginx 1.25→1.26"],
                &["docker.io/library/redis: not-in-target"],
                &[],
            ),
            (
                "an image only in the target is left alone",
                "image: nginx:1.26\n",
                "a: {image: nginx:1.26}\nb: {image: redis:7}\n",
                &[],
                &[],
                &["docker.io/library/nginx"],
            ),
            (
                "an unreadable version in the target is skipped",
                "image: {repository: nginx, tag: \"1.26\"}\n",
                "image: {repository: nginx}\n",
                &[],
                &["docker.io/library/nginx: unreadable"],
                &[],
            ),
        ];
        for (case, source, target, promoted, skipped, current) in cases {
            let p = promotion(
                "staging",
                &env(&[("s.yaml", source)]),
                "prod",
                &env(&[("t.yaml", target)]),
            );
            let got: Vec<String> = p
                .images
                .iter()
                .map(|i| {
                    let from: Vec<String> = i.from.iter().map(Version::to_string).collect();
                    format!("{} {}→{}", i.repository, from.join(","), i.to)
                })
                .collect();
            assert_eq!(got, *promoted, "{case}");
            let got: Vec<String> = p
                .skipped
                .iter()
                .map(|s| {
                    let kind = serde_json::to_value(&s.reason).unwrap()["kind"].clone();
                    format!("{}: {}", s.repository, kind.as_str().unwrap())
                })
                .collect();
            assert_eq!(got, *skipped, "{case}");
            assert_eq!(p.current, *current, "{case}");
        }
    }

    #[test]
    fn three_images_in_one_promotion_keep_the_target_spelling() {
        let source = "\
a: {image: registry.example.com/team/api:ci-40}
b: {image: registry.example.com/team/web:ci-41}
c: {repository: team/worker, registry: registry.example.com, tag: ci-42}
";
        let target = "\
images:
  - {name: registry.example.com/team/api, newTag: ci-30}
  - {name: registry.example.com/team/web, newTag: ci-31}
  - {name: registry.example.com/team/worker, newTag: ci-32}
";
        let p = promotion(
            "staging",
            &env(&[("s.yaml", source)]),
            "prod",
            &env(&[("kustomization.yaml", target)]),
        );
        assert_eq!(
            p.images,
            vec![
                ImagePromotion {
                    repository: "registry.example.com/team/api".into(),
                    name: "registry.example.com/team/api".into(),
                    from: vec![v("ci-30")],
                    to: v("ci-40"),
                },
                ImagePromotion {
                    repository: "registry.example.com/team/web".into(),
                    name: "registry.example.com/team/web".into(),
                    from: vec![v("ci-31")],
                    to: v("ci-41"),
                },
                ImagePromotion {
                    repository: "registry.example.com/team/worker".into(),
                    name: "registry.example.com/team/worker".into(),
                    from: vec![v("ci-32")],
                    to: v("ci-42"),
                },
            ]
        );
    }

    #[test]
    fn skip_reasons_read_as_sentences() {
        let several = Skip::SeveralVersions {
            versions: vec![v("1"), v("2")],
        };
        assert_eq!(
            several.to_string(),
            "several versions in the source (1, 2): which one is proven is unknown"
        );
    }
}
