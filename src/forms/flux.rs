//! Flux image-automation setter markers: a field followed on its line by the comment
//! `# {"$imagepolicy": "namespace:policy[:tag|:name|:digest]"}`. With `--setter ns:policy`
//! exactly the fields marked for that policy change (and nothing else); the marker says which
//! part of the reference the field holds.

use serde::Deserialize;

use super::{Form, Outcome, SiteKind, Source, Target, Walker, update};
use crate::image_ref::{ImageRef, RepositoryName};
use crate::manifest::{NodeId, locate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Image,
    Name,
    Tag,
    Digest,
}

#[derive(Debug, Clone)]
pub(super) struct Setter {
    scalar: NodeId,
    policy: String,
    field: Field,
}

#[derive(Deserialize)]
struct Marker {
    #[serde(rename = "$imagepolicy")]
    policy: String,
}

pub(super) fn visit(walker: &mut Walker<'_>, scalar_id: NodeId) {
    let source = walker.source;
    let Some(scalar) = source.scalar(scalar_id) else {
        return;
    };
    let Ok(span) = locate(source.text, scalar) else {
        return;
    };
    let rest = &source.text[span.range.end..];
    let line = rest.split('\n').next().unwrap_or_default();
    let Some(comment) = line.trim_start().strip_prefix('#') else {
        return;
    };
    let Ok(marker) = serde_json::from_str::<Marker>(comment.trim()) else {
        return;
    };
    let Some((policy, field)) = parse_policy(&marker.policy) else {
        return;
    };
    let setter = Setter {
        scalar: scalar_id,
        policy,
        field,
    };
    walker.push(Form::FluxSetter, scalar_id, SiteKind::Setter(setter));
}

/// `ns:name` → whole image; `ns:name:tag|name|digest` → that part.
fn parse_policy(marker: &str) -> Option<(String, Field)> {
    let parts: Vec<&str> = marker.split(':').collect();
    let field = match parts.as_slice() {
        [_, _] => Field::Image,
        [_, _, "tag"] => Field::Tag,
        [_, _, "name"] => Field::Name,
        [_, _, "digest"] => Field::Digest,
        _ => return None,
    };
    Some((format!("{}:{}", parts[0], parts[1]), field))
}

impl Setter {
    pub(super) fn scalar(&self) -> NodeId {
        self.scalar
    }

    pub(super) fn plan(&self, source: Source<'_>, target: &Target) -> Outcome {
        if target.setter.as_deref() != Some(self.policy.as_str()) {
            return Outcome::NoMatch;
        }
        let Some(current) = source.scalar(self.scalar).map(|s| s.value.clone()) else {
            return Outcome::NoMatch;
        };
        let new = match self.field {
            Field::Image => match ImageRef::parse(&current) {
                Ok(cur) if cur.name.same_repository(&target.image.name) => {
                    cur.with_version(target.tag(), target.digest())
                }
                _ => target.image.to_string(),
            },
            Field::Name => match RepositoryName::parse(&current) {
                Ok(cur) if cur.same_repository(&target.image.name) => current.clone(),
                _ => target.image.name.as_str().to_string(),
            },
            Field::Tag | Field::Digest => {
                let part = if self.field == Field::Tag {
                    target.tag()
                } else {
                    target.digest()
                };
                let Some(part) = part else {
                    return Outcome::Skipped {
                        reference: current,
                        reason: format!(
                            "marked as the {} of {} but --image has none",
                            if self.field == Field::Tag {
                                "tag"
                            } else {
                                "digest"
                            },
                            self.policy
                        ),
                    };
                };
                part.to_string()
            }
        };
        update(source, &[(self.scalar, new.as_str())], current, new.clone())
    }
}
