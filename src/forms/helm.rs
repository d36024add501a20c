//! Helm-style image mappings anywhere in a document: `{repository, tag}` with optional
//! `registry` (joined as `registry/repository`) and `digest`, under `image:` or any other key
//! (`redis:`, `sidecar:`…). A digest written inside `tag` (`1.2@sha256:…`) is kept there.
//! A mapping without `tag` takes the chart's default: it is reported, never given a new key.
//! Keys inherited through YAML merge keys count (`sidecar: {<<: *app-image, tag: v1}`): the
//! mapping's own `tag` is its own site, and an inherited one is edited once, at the anchor.

use super::{Form, Outcome, Reading, SiteKind, Source, Target, Walker, display, update};
use crate::image_ref::{RepositoryName, Version};
use crate::manifest::NodeId;

const NO_TAG: &str = "no `tag` key next to `repository` (the chart's default tag applies)";

#[derive(Debug, Clone)]
pub(super) struct HelmImage {
    registry: Option<NodeId>,
    repository: NodeId,
    tag: Option<NodeId>,
    digest: Option<NodeId>,
}

pub(super) fn visit(walker: &mut Walker<'_>, mapping: NodeId) {
    let file = walker.source.file;
    let Some(repository) = file.get(mapping, "repository") else {
        return;
    };
    // kustomize entries have their own module; a `repository` that is not a scalar is
    // something else (a chart source, a git remote).
    if file.scalar(repository).is_none() || file.get(mapping, "newName").is_some() {
        return;
    }
    let scalar_key = |key| file.get(mapping, key).filter(|v| file.scalar(*v).is_some());
    let image = HelmImage {
        registry: scalar_key("registry").map(|v| file.resolve(v)),
        repository: file.resolve(repository),
        tag: scalar_key("tag").map(|v| file.resolve(v)),
        digest: scalar_key("digest").map(|v| file.resolve(v)),
    };
    // Reported where the mapping says something of its own: its `repository`, or, when that
    // is inherited through a merge key, its own `tag`.
    let position = match (file.get_own(mapping, "repository"), image.tag) {
        (None, Some(tag)) => tag,
        _ => image.repository,
    };
    walker.push(Form::HelmValues, position, SiteKind::Helm(image));
}

impl HelmImage {
    pub(super) fn nodes(&self) -> Vec<NodeId> {
        [self.registry, Some(self.repository), self.tag, self.digest]
            .into_iter()
            .flatten()
            .collect()
    }

    /// `registry/repository` as written, parsed.
    fn name(&self, source: Source<'_>) -> Option<(String, RepositoryName)> {
        let repository = &source.scalar(self.repository)?.value;
        let registry = self
            .registry
            .and_then(|id| source.scalar(id))
            .map(|s| s.value.as_str())
            .filter(|r| !r.is_empty());
        let name = match registry {
            Some(registry) => format!("{}/{repository}", registry.trim_end_matches('/')),
            None => repository.to_string(),
        };
        let parsed = RepositoryName::parse(&name).ok()?;
        Some((name, parsed))
    }

    /// The tag (with a digest written inside it split off) and the digest, as written.
    fn version<'s>(&self, source: Source<'s>) -> (Option<&'s str>, Option<&'s str>) {
        let value = |id: Option<NodeId>| -> Option<&'s str> {
            id.and_then(|id| source.file.scalar(id))
                .map(|s| s.value.as_str())
        };
        let tag_value = value(self.tag);
        let digest_value = value(self.digest).filter(|d| !d.is_empty());
        match tag_value.map(|t| t.split_once('@')) {
            Some(Some((t, d))) => (Some(t), digest_value.or(Some(d))),
            Some(None) => (tag_value, digest_value),
            None => (None, digest_value),
        }
    }

    pub(super) fn reading(&self, source: Source<'_>) -> Option<Reading> {
        let (_, name) = self.name(source)?;
        let version = match self.tag {
            None => Err(NO_TAG.to_string()),
            Some(_) => {
                let (tag, digest) = self.version(source);
                Ok(Version::new(tag, digest))
            }
        };
        Some(Reading { name, version })
    }

    pub(super) fn plan(&self, source: Source<'_>, target: &Target) -> Outcome {
        let value = |id: Option<NodeId>| -> Option<&str> {
            id.and_then(|id| source.scalar(id))
                .map(|s| s.value.as_str())
        };
        let Some((name, parsed)) = self.name(source) else {
            return Outcome::NoMatch;
        };
        if !parsed.same_repository(&target.image.name) {
            return Outcome::NoMatch;
        }
        let tag_value = value(self.tag);
        let digest_value = value(self.digest).filter(|d| !d.is_empty());
        let (tag, inline_digest) = match tag_value.map(|t| t.split_once('@')) {
            Some(Some((t, d))) => (Some(t), Some(d)),
            Some(None) => (tag_value, None),
            None => (None, None),
        };
        let current = display(&name, tag, digest_value.or(inline_digest));
        let Some(tag_id) = self.tag else {
            return Outcome::Skipped {
                reference: current,
                reason: NO_TAG.into(),
            };
        };
        let new_tag = target.tag().or(tag).unwrap_or_default();
        let same_tag_only = target.digest().is_none() && tag == Some(new_tag);
        if same_tag_only {
            return Outcome::Current { reference: current };
        }
        let mut writes: Vec<(NodeId, String)> = Vec::new();
        match (target.digest(), self.digest) {
            (Some(d), Some(digest_id)) => {
                writes.push((tag_id, new_tag.to_string()));
                writes.push((digest_id, d.to_string()));
            }
            (Some(d), None) => writes.push((tag_id, format!("{new_tag}@{d}"))),
            (None, digest_id) => {
                writes.push((tag_id, new_tag.to_string()));
                if let (Some(id), Some(_)) = (digest_id, digest_value) {
                    writes.push((id, String::new()));
                }
            }
        }
        let new = display(&name, Some(new_tag), target.digest());
        let writes: Vec<(NodeId, &str)> = writes.iter().map(|(id, v)| (*id, v.as_str())).collect();
        update(source, &writes, current, new)
    }
}
