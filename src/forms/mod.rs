//! Where image references live in config-repo YAML, one module per shape.
//!
//! Finding is structural and image-independent: [`find_sites`] walks every document once
//! and returns [`Site`]s (which scalars hold a reference, and how). Planning an edit for one
//! target image is [`Site::plan`]: it answers no-match, already current, skipped (with a
//! reason a person can act on) or an update as byte splices. Nothing here reads files or
//! decides what to do with a skipped site.

mod accounting;
mod argocd;
mod flux;
mod helm;
mod kustomize;
pub mod mention;
mod workloads;

pub use accounting::{Loose, loose_mentions};

use std::collections::HashSet;

use serde::Serialize;

use crate::image_ref::{ImageRef, RepositoryName, Version};
use crate::manifest::{Node, NodeId, Scalar, Splice, YamlFile, encode, locate};

/// The shape a reference was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// `image:` of an item of `containers`, `initContainers` or `ephemeralContainers`.
    Container,
    /// Any other `image: repo:tag` string (CatalogSource, DevWorkspace, values files…), and
    /// strings under keys ending in `image`/`Image` (`initImage`, `inline_image`).
    ImageField,
    /// A pod's image volume: `volumes[].image.reference` (Kubernetes 1.31+).
    ImageVolume,
    /// Helm-style `{registry?, repository, tag, digest?}` mapping.
    HelmValues,
    /// kustomize (or Flux Kustomization) `images:` entry.
    KustomizeImages,
    /// Argo CD Application `kustomize.images` string (`[alias=]name:tag`).
    ArgocdKustomizeImages,
    /// A field marked with a Flux `{"$imagepolicy": …}` setter comment.
    FluxSetter,
    /// A mention of the repository in no form above (a string, a block scalar, a templated
    /// document, a CI file): reported, never edited.
    Mention,
}

impl Form {
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Container => "container",
            Form::ImageField => "image-field",
            Form::ImageVolume => "image-volume",
            Form::HelmValues => "helm-values",
            Form::KustomizeImages => "kustomize-images",
            Form::ArgocdKustomizeImages => "argocd-kustomize-images",
            Form::FluxSetter => "flux-setter",
            Form::Mention => "mention",
        }
    }
}

/// What to bump: the image (with tag and/or digest) and, for marker-driven repos, the Flux
/// image policy (`namespace:name`) whose marked fields are the only ones to change.
#[derive(Debug, Clone)]
pub struct Target {
    pub image: ImageRef,
    pub setter: Option<String>,
}

impl Target {
    pub fn tag(&self) -> Option<&str> {
        self.image.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.image.digest.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    NoMatch,
    Current {
        reference: String,
    },
    Skipped {
        reference: String,
        reason: String,
    },
    Update {
        edits: Vec<Splice>,
        old: String,
        new: String,
    },
}

#[derive(Debug, Clone)]
pub struct Site {
    pub form: Form,
    pub line: usize,
    pub column: usize,
    kind: SiteKind,
}

#[derive(Debug, Clone)]
enum SiteKind {
    /// A whole reference in one scalar, after `prefix` bytes (Argo CD's `alias=`).
    RefString {
        scalar: NodeId,
        prefix: usize,
    },
    Helm(helm::HelmImage),
    Kustomize(kustomize::Entry),
    Setter(flux::Setter),
}

/// What a site holds, read without a target: the repository it deploys (as written) and its
/// version, or why the version cannot be known from this file alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub name: RepositoryName,
    pub version: Result<Version, String>,
}

/// The file being edited, as text and as a tree.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    pub text: &'a str,
    pub file: &'a YamlFile,
}

impl Source<'_> {
    fn scalar(&self, id: NodeId) -> Option<&Scalar> {
        self.file.scalar(id)
    }

    /// A splice writing `value` over the scalar in its own quoting style; `None` if unchanged.
    fn rewrite(&self, id: NodeId, value: &str) -> Result<Option<Splice>, String> {
        let scalar = self.scalar(id).ok_or("value is not a scalar")?;
        if scalar.value == value {
            return Ok(None);
        }
        let span =
            locate(self.text, scalar).map_err(|why| format!("line {}: {why}", scalar.line))?;
        Ok(Some(Splice {
            range: span.range,
            text: encode(value, span.quoting),
        }))
    }
}

/// Every place in `file` that holds an image reference. Setter markers are only looked for
/// when `with_setters` (they need a scan of each value's line).
pub fn find_sites(text: &str, file: &YamlFile, with_setters: bool) -> Vec<Site> {
    let mut walker = Walker {
        source: Source { text, file },
        with_setters,
        visited: HashSet::new(),
        sites: Vec::new(),
        seen: HashSet::new(),
    };
    for &doc in &file.documents {
        walker.walk(doc, false);
    }
    walker.sites
}

struct Walker<'a> {
    source: Source<'a>,
    with_setters: bool,
    visited: HashSet<NodeId>,
    sites: Vec<Site>,
    /// The nodes of each site already reported (setter markers apart, as they overlay the
    /// other forms): aliases and merge keys lead back to the same nodes, and a value
    /// inherited through a merge key is one site, at its anchor.
    seen: HashSet<(bool, Vec<NodeId>)>,
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

impl Walker<'_> {
    fn walk(&mut self, id: NodeId, in_container: bool) {
        let file = self.source.file;
        let id = file.resolve(id);
        match file.node(id) {
            Node::Mapping { entries, .. } => {
                if !self.visited.insert(id) {
                    return;
                }
                workloads::visit(self, id, in_container);
                helm::visit(self, id);
                kustomize::visit(self, id);
                argocd::visit(self, id);
                for &(key, value) in entries {
                    let is_list = file
                        .scalar(key)
                        .is_some_and(|k| CONTAINER_LISTS.contains(&k.value.as_str()));
                    if is_list && matches!(file.node(file.resolve(value)), Node::Sequence { .. }) {
                        let list = file.resolve(value);
                        if self.visited.insert(list) {
                            for &item in file.items(list) {
                                self.walk(item, true);
                            }
                        }
                    } else {
                        self.walk(value, false);
                    }
                }
            }
            Node::Sequence { items } => {
                if self.visited.insert(id) {
                    for &item in items {
                        self.walk(item, false);
                    }
                }
            }
            Node::Scalar(_) => {
                if self.with_setters {
                    flux::visit(self, id);
                }
            }
            Node::Alias(_) => {}
        }
    }

    fn push(&mut self, form: Form, primary: NodeId, kind: SiteKind) {
        let marker = matches!(kind, SiteKind::Setter(_));
        if !self.seen.insert((marker, kind.nodes())) {
            return;
        }
        let (line, column) = self
            .source
            .scalar(primary)
            .map_or((0, 0), |s| (s.line, s.column));
        self.sites.push(Site {
            form,
            line,
            column,
            kind,
        });
    }
}

impl SiteKind {
    /// The scalars this site reads, in a fixed order.
    fn nodes(&self) -> Vec<NodeId> {
        match self {
            SiteKind::RefString { scalar, .. } => vec![*scalar],
            SiteKind::Helm(image) => image.nodes(),
            SiteKind::Kustomize(entry) => entry.nodes(),
            SiteKind::Setter(setter) => vec![setter.scalar()],
        }
    }
}

impl Site {
    /// The scalars this site reads: a mention in one of them is this site's to report.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.kind.nodes()
    }

    /// The reference this site holds now, read the way [`Site::plan`] reads it; `None` when
    /// it names no repository (a template, an invalid value) or is a setter marker (those
    /// overlay the other forms).
    pub fn reading(&self, source: Source<'_>) -> Option<Reading> {
        match &self.kind {
            SiteKind::RefString { scalar, prefix } => {
                let value = source.scalar(*scalar)?.value.get(*prefix..)?;
                let image = ImageRef::parse(value).ok()?;
                Some(Reading {
                    version: Ok(image.version()),
                    name: image.name,
                })
            }
            SiteKind::Helm(image) => image.reading(source),
            SiteKind::Kustomize(entry) => entry.reading(source),
            SiteKind::Setter(_) => None,
        }
    }

    /// What bumping `target` means for this site.
    pub fn plan(&self, source: Source<'_>, target: &Target) -> Outcome {
        let setter_mode = target.setter.is_some();
        match &self.kind {
            SiteKind::Setter(setter) if setter_mode => setter.plan(source, target),
            _ if setter_mode => Outcome::NoMatch,
            SiteKind::Setter(_) => Outcome::NoMatch,
            SiteKind::RefString { scalar, prefix } => {
                plan_ref_string(source, *scalar, *prefix, target)
            }
            SiteKind::Helm(image) => image.plan(source, target),
            SiteKind::Kustomize(entry) => entry.plan(source, target),
        }
    }
}

/// A whole `name[:tag][@digest]` in one scalar: the name keeps its spelling.
fn plan_ref_string(source: Source<'_>, id: NodeId, prefix: usize, target: &Target) -> Outcome {
    let Some(scalar) = source.scalar(id) else {
        return Outcome::NoMatch;
    };
    let Some(reference) = scalar.value.get(prefix..) else {
        return Outcome::NoMatch;
    };
    // Invalid and templated values (`{{ .Values.x }}`, `${TAG}`) never parse, so never
    // match; one that names the repository is reported, since its version is set elsewhere.
    let Ok(current) = ImageRef::parse(reference) else {
        if mention::MentionFinder::new(&target.image.name).is_in(reference) {
            return Outcome::Skipped {
                reference: reference.to_string(),
                reason: "not a literal image reference (a template or substitution): its version is set where the value comes from".into(),
            };
        }
        return Outcome::NoMatch;
    };
    if !current.name.same_repository(&target.image.name) {
        return Outcome::NoMatch;
    }
    let Some((tag, digest)) =
        next_version(current.tag.as_deref(), current.digest.as_deref(), target)
    else {
        return Outcome::Current {
            reference: reference.to_string(),
        };
    };
    let new = current.with_version(tag, digest);
    let value = format!("{}{new}", &scalar.value[..prefix]);
    update(source, &[(id, value.as_str())], reference.to_string(), new)
}

/// The tag and digest a reference should carry, or `None` when it already does. A tag-only
/// bump to the tag already written keeps a digest someone pinned; to another tag it drops
/// the now-stale digest.
pub(crate) fn next_version<'t>(
    tag: Option<&str>,
    digest: Option<&str>,
    target: &'t Target,
) -> Option<(Option<&'t str>, Option<&'t str>)> {
    let wanted = match (target.tag(), target.digest()) {
        (Some(t), None) if tag == Some(t) => return None,
        (t, d) => (t, d),
    };
    if (tag, digest) == wanted {
        return None;
    }
    Some(wanted)
}

/// Rewrites scalars, or explains why one cannot be rewritten.
fn update(source: Source<'_>, values: &[(NodeId, &str)], old: String, new: String) -> Outcome {
    let mut edits = Vec::new();
    for (id, value) in values {
        match source.rewrite(*id, value) {
            Ok(Some(splice)) => edits.push(splice),
            Ok(None) => {}
            Err(reason) => {
                return Outcome::Skipped {
                    reference: old,
                    reason,
                };
            }
        }
    }
    if edits.is_empty() {
        Outcome::Current { reference: old }
    } else {
        Outcome::Update { edits, old, new }
    }
}

/// `name[:tag][@digest]` for display.
fn display(name: &str, tag: Option<&str>, digest: Option<&str>) -> String {
    crate::image_ref::format_ref(name, &crate::image_ref::Version::new(tag, digest))
}

#[cfg(test)]
mod tests;
