//! kustomize `images:` entries (also Flux `Kustomization.spec.images`): `name`, `newName`,
//! `newTag`, `digest`, `tagSuffix`, read the way kustomize's image transformer reads them
//! (`api/filters/imagetag/updater.go`, `api/image/image.go`):
//!
//! - `name` is matched against images as written, and may carry a tag (`postgres:11` matches
//!   only `postgres:11[@digest]`); the repository it deploys is `newName`, else `name`'s;
//! - `newTag` and `digest` replace the image's tag and digest (both, when both are set; a
//!   lone `newTag` drops the digest; a lone `digest` drops the tag); with neither, the
//!   image's own version stays, after `newName`;
//! - so a `newName` carrying a version (`registry/app:11@sha256:…`) renders as written only
//!   with neither key set (the usual `kustomize edit set image` result), or with a tag in
//!   `newName` and a lone `digest`. Other mixes render invalid references and are reported.
//!
//! The entry whose deployed repository is the target gets the version kustomize must render:
//! in `newTag`/`digest` (a missing key is added, a stale `digest` removed), or in `newName`
//! when that is where the version is written.

mod keys;

use super::{Form, Outcome, Reading, SiteKind, Source, Target, Walker, display, next_version};
use crate::image_ref::{ImageRef, Version};
use crate::manifest::{NodeId, Splice};

const TAG_SUFFIX: &str = "entry has `tagSuffix`: its tag is derived from the base image's, and setting newTag would silently drop the suffix";

#[derive(Debug, Clone)]
pub(super) struct Entry {
    mapping: NodeId,
    name: NodeId,
    new_name: Option<NodeId>,
    new_tag: Option<NodeId>,
    digest: Option<NodeId>,
    tag_suffix: bool,
}

pub(super) fn visit(walker: &mut Walker<'_>, mapping: NodeId) {
    let file = walker.source.file;
    let Some(images) = file.get(mapping, "images") else {
        return;
    };
    for &item in file.items(images) {
        let entry = file.resolve(item);
        let scalar_key = |key| {
            file.get(entry, key)
                .filter(|v| file.scalar(*v).is_some())
                .map(|v| file.resolve(v))
        };
        let Some(name) = scalar_key("name") else {
            continue;
        };
        let entry = Entry {
            mapping: entry,
            name,
            new_name: scalar_key("newName"),
            new_tag: scalar_key("newTag"),
            digest: scalar_key("digest"),
            tag_suffix: file.get(entry, "tagSuffix").is_some(),
        };
        walker.push(Form::KustomizeImages, name, SiteKind::Kustomize(entry));
    }
}

/// The entry's values, parsed.
struct Values<'a> {
    name: ImageRef,
    new_name: Option<ImageRef>,
    new_tag: Option<&'a str>,
    digest: Option<&'a str>,
}

impl Values<'_> {
    /// The repository the entry deploys, as written.
    fn deployed(&self) -> &ImageRef {
        self.new_name.as_ref().unwrap_or(&self.name)
    }

    /// The version kustomize renders, or why the entry renders no valid reference.
    fn rendered(&self) -> Result<(Option<&str>, Option<&str>), String> {
        let in_new_name = self.new_name.as_ref().filter(|n| n.has_version());
        let keys = (self.new_tag, self.digest);
        match (in_new_name, keys) {
            (None, (None, None)) => Ok((self.name.tag.as_deref(), self.name.digest.as_deref())),
            (None, (tag, digest)) => Ok((tag, digest)),
            (Some(n), (None, None)) if !self.name.has_version() => {
                Ok((n.tag.as_deref(), n.digest.as_deref()))
            }
            (Some(n), (None, Some(digest))) if n.digest.is_none() => {
                Ok((n.tag.as_deref(), Some(digest)))
            }
            (Some(n), _) => Err(format!(
                "newName `{n}` carries a version and the entry sets {}: kustomize appends one to the other, which is not a valid reference; keep the version in one place",
                match keys {
                    (None, None) => format!("`name: {}` with a version", self.name),
                    (Some(_), None) => "`newTag`".into(),
                    (None, Some(_)) => "`digest` after a digest".into(),
                    (Some(_), Some(_)) => "`newTag` and `digest`".into(),
                }
            )),
        }
    }
}

impl Entry {
    pub(super) fn nodes(&self) -> Vec<NodeId> {
        [Some(self.name), self.new_name, self.new_tag, self.digest]
            .into_iter()
            .flatten()
            .collect()
    }

    fn values<'s>(&self, source: Source<'s>) -> Option<Values<'s>> {
        let value = |id: Option<NodeId>| -> Option<&'s str> {
            id.and_then(|id| source.file.scalar(id))
                .map(|s| s.value.as_str())
                .filter(|v| !v.is_empty())
        };
        let new_name = match value(self.new_name) {
            Some(n) => Some(ImageRef::parse(n).ok()?),
            None => None,
        };
        Some(Values {
            name: ImageRef::parse(value(Some(self.name))?).ok()?,
            new_name,
            new_tag: value(self.new_tag),
            digest: value(self.digest),
        })
    }

    pub(super) fn reading(&self, source: Source<'_>) -> Option<Reading> {
        let values = self.values(source)?;
        let version = match values.rendered() {
            Ok(_) if self.tag_suffix => Err(TAG_SUFFIX.to_string()),
            Ok((tag, digest)) => Ok(Version::new(tag, digest)),
            Err(reason) => Err(reason),
        };
        Some(Reading {
            name: values.deployed().name.clone(),
            version,
        })
    }

    pub(super) fn plan(&self, source: Source<'_>, target: &Target) -> Outcome {
        let Some(values) = self.values(source) else {
            return Outcome::NoMatch;
        };
        let deployed = values.deployed();
        if !deployed.name.same_repository(&target.image.name) {
            return Outcome::NoMatch;
        }
        let name = deployed.name.as_str();
        let (tag, digest) = match values.rendered() {
            Ok(version) => version,
            Err(reason) => {
                return Outcome::Skipped {
                    reference: deployed.to_string(),
                    reason,
                };
            }
        };
        let current = display(name, tag, digest);
        if next_version(tag, digest, target).is_none() {
            return Outcome::Current { reference: current };
        }
        if self.tag_suffix {
            return Outcome::Skipped {
                reference: current,
                reason: TAG_SUFFIX.into(),
            };
        }
        let edits = match self.edits(source, &values, target) {
            Ok(edits) => edits,
            Err(reason) => {
                return Outcome::Skipped {
                    reference: current,
                    reason,
                };
            }
        };
        if edits.is_empty() {
            return Outcome::Current { reference: current };
        }
        Outcome::Update {
            edits,
            old: current,
            new: display(name, target.tag().or(tag), target.digest()),
        }
    }

    /// The splices that make kustomize render `target`'s version.
    fn edits(
        &self,
        source: Source<'_>,
        values: &Values<'_>,
        target: &Target,
    ) -> Result<Vec<Splice>, String> {
        match (&values.new_name, self.new_name) {
            (Some(n), Some(id)) if n.has_version() && values.digest.is_none() => {
                // The version is written in `newName` alone.
                let new = n.with_version(target.tag().or(n.tag.as_deref()), target.digest());
                Ok(source.rewrite(id, &new)?.into_iter().collect())
            }
            (Some(n), Some(id)) if n.has_version() => {
                // A tag in `newName` and a lone `digest` key.
                let Some(digest) = target.digest() else {
                    return Err(format!(
                        "the entry pins `digest` beside the tag in newName `{n}`: a bump without a digest would keep the old build; pass --image with its digest, or move the tag to newTag"
                    ));
                };
                let new = n.with_version(target.tag().or(n.tag.as_deref()), None);
                let mut edits: Vec<Splice> = source.rewrite(id, &new)?.into_iter().collect();
                edits.extend(self.write_keys(source, None, Some(digest), true)?);
                Ok(edits)
            }
            _ => self.write_keys(
                source,
                target.tag(),
                target.digest(),
                values.digest.is_some(),
            ),
        }
    }

    /// Sets `newTag` and `digest` (adding missing keys); without a new digest, a stale one is
    /// removed.
    fn write_keys(
        &self,
        source: Source<'_>,
        tag: Option<&str>,
        digest: Option<&str>,
        has_digest: bool,
    ) -> Result<Vec<Splice>, String> {
        let mut edits = Vec::new();
        let mut additions = Vec::new();
        for (id, key, value) in [
            (self.new_tag, "newTag", tag),
            (self.digest, "digest", digest),
        ] {
            match (id, value) {
                (Some(id), Some(value)) => edits.extend(source.rewrite(id, value)?),
                (None, Some(value)) => additions.push((key, value.to_string())),
                (_, None) => {}
            }
        }
        if let (Some(id), None, true) = (self.digest, digest, has_digest) {
            edits.push(self.remove_key(source, id)?);
        }
        if !additions.is_empty() {
            edits.push(self.insert_keys(source, &additions)?);
        }
        Ok(edits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(
        name: &str,
        new_name: Option<&str>,
        new_tag: Option<&str>,
        digest: Option<&str>,
    ) -> Result<String, String> {
        let values = Values {
            name: ImageRef::parse(name).unwrap(),
            new_name: new_name.map(|n| ImageRef::parse(n).unwrap()),
            new_tag,
            digest,
        };
        let (tag, digest) = values.rendered()?;
        Ok(display(values.deployed().name.as_str(), tag, digest))
    }

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    /// The cases checked against `kubectl kustomize` (kustomize v5.5.0), for an image the
    /// entry matches that carries no version of its own unless `name` says it does.
    #[test]
    fn the_version_kustomize_renders() {
        assert_eq!(rendered("app", None, Some("2"), None), Ok("app:2".into()));
        assert_eq!(rendered("app", None, None, Some(D)), Ok(format!("app@{D}")));
        assert_eq!(
            rendered("app", None, Some("2"), Some(D)),
            Ok(format!("app:2@{D}"))
        );
        assert_eq!(rendered("app:11", None, None, None), Ok("app:11".into()));
        assert_eq!(
            rendered("app:11", Some("reg/app"), Some("12"), None),
            Ok("reg/app:12".into())
        );
        assert_eq!(
            rendered("app", Some(&format!("reg/app:3@{D}")), None, None),
            Ok(format!("reg/app:3@{D}"))
        );
        assert_eq!(
            rendered("app", Some("reg/app:3"), None, Some(D)),
            Ok(format!("reg/app:3@{D}"))
        );
    }

    #[test]
    fn mixes_that_render_invalid_references_are_refused() {
        for (name, new_name, new_tag, digest) in [
            ("app", "reg/app:3", Some("x"), None),
            (
                "app",
                "reg/app@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                None,
                Some(D),
            ),
            ("app:8", "reg/app:3", None, None),
        ] {
            let err = rendered(name, Some(new_name), new_tag, digest).unwrap_err();
            assert!(err.contains("not a valid reference"), "{err}");
        }
    }
}
