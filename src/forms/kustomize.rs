//! kustomize `images:` entries (also Flux `Kustomization.spec.images`): `name`, `newName`,
//! `newTag`, `digest`. The entry whose effective name (`newName`, else `name`) is the image
//! gets the new `newTag`/`digest`; a missing key is added on its own line with the entry's
//! indentation (or inside the braces of a flow mapping), and a stale `digest` is removed.

use super::{Form, Outcome, SiteKind, Source, Target, Walker, display};
use crate::image_ref::RepositoryName;
use crate::manifest::{Node, NodeId, Quoting, Splice, encode, locate};

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

impl Entry {
    pub(super) fn plan(&self, source: Source<'_>, target: &Target) -> Outcome {
        let value = |id: Option<NodeId>| -> Option<&str> {
            id.and_then(|id| source.scalar(id))
                .map(|s| s.value.as_str())
        };
        let Some(name) = value(self.new_name).or(value(Some(self.name))) else {
            return Outcome::NoMatch;
        };
        let Ok(parsed) = RepositoryName::parse(name) else {
            return Outcome::NoMatch;
        };
        if !parsed.same_repository(&target.image.name) {
            return Outcome::NoMatch;
        }
        let tag = value(self.new_tag).filter(|t| !t.is_empty());
        let digest = value(self.digest).filter(|d| !d.is_empty());
        let current = display(name, tag, digest);
        if target.digest().is_none() && target.tag() == tag {
            return Outcome::Current { reference: current };
        }
        if self.tag_suffix {
            return Outcome::Skipped {
                reference: current,
                reason: "entry has `tagSuffix`: kustomize would deploy newTag + suffix, not the tag given"
                    .into(),
            };
        }
        let edits = match self.edits(source, target, digest.is_some()) {
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
        let new_tag = target.tag().or(tag);
        Outcome::Update {
            edits,
            old: current,
            new: display(name, new_tag, target.digest()),
        }
    }

    fn edits(
        &self,
        source: Source<'_>,
        target: &Target,
        has_digest: bool,
    ) -> Result<Vec<Splice>, String> {
        let mut edits = Vec::new();
        let mut additions = Vec::new();
        let wanted = [
            (self.new_tag, "newTag", target.tag()),
            (self.digest, "digest", target.digest()),
        ];
        for (id, key, value) in wanted {
            match (id, value) {
                (Some(id), Some(value)) => edits.extend(source.rewrite(id, value)?),
                (None, Some(value)) => additions.push((key, value.to_string())),
                (_, None) => {}
            }
        }
        if let (Some(id), None, true) = (self.digest, target.digest(), has_digest) {
            edits.push(self.remove_key(source, id)?);
        }
        if !additions.is_empty() {
            edits.push(self.insert_keys(source, &additions)?);
        }
        Ok(edits)
    }

    /// Adds `key: value` pairs after the entry's last value.
    fn insert_keys(&self, source: Source<'_>, pairs: &[(&str, String)]) -> Result<Splice, String> {
        let text = source.text;
        let file = source.file;
        let Node::Mapping { entries, start } = file.node(self.mapping) else {
            return Err("entry is not a mapping".into());
        };
        let (first_key, _) = entries.first().ok_or("entry is empty")?;
        let (_, last_value) = entries.last().ok_or("entry is empty")?;
        let last = file
            .scalar(*last_value)
            .filter(|_| !matches!(file.node(*last_value), Node::Alias(_)))
            .ok_or("the entry's last value is not a plain scalar")?;
        let end = locate(text, last).map_err(str::to_string)?.range.end;
        let pairs_text = |sep: &str| {
            pairs
                .iter()
                .map(|(k, v)| format!("{k}: {}", encode(v, Quoting::Plain)))
                .collect::<Vec<_>>()
                .join(sep)
        };
        if text.as_bytes().get(*start) == Some(&b'{') {
            let close = end
                + text[end..]
                    .find(|c: char| c != ' ' && c != '\t')
                    .unwrap_or(0);
            if text.as_bytes().get(close) != Some(&b'}') {
                return Err("flow-style entry spans several lines".into());
            }
            return Ok(Splice {
                range: close..close,
                text: format!(", {}", pairs_text(", ")),
            });
        }
        let indent = file.scalar(*first_key).map_or(0, |k| k.column - 1);
        let (at, eol, lead) = match text[end..].find('\n') {
            Some(i) => {
                let eol = if text[..end + i].ends_with('\r') {
                    "\r\n"
                } else {
                    "\n"
                };
                (end + i + 1, eol, "")
            }
            None => {
                let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
                (text.len(), eol, eol)
            }
        };
        let pad = " ".repeat(indent);
        let lines: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{pad}{k}: {}", encode(v, Quoting::Plain)))
            .collect();
        let mut inserted = format!("{lead}{}", lines.join(eol));
        if lead.is_empty() {
            inserted.push_str(eol);
        }
        Ok(Splice {
            range: at..at,
            text: inserted,
        })
    }

    /// Removes a stale `digest` line, or empties the value when it shares its line.
    fn remove_key(&self, source: Source<'_>, value: NodeId) -> Result<Splice, String> {
        let text = source.text;
        let file = source.file;
        let key = file
            .entries(self.mapping)
            .iter()
            .find(|(_, v)| file.resolve(*v) == value)
            .and_then(|(k, _)| file.scalar(*k))
            .ok_or("digest key not found")?;
        let scalar = file.scalar(value).ok_or("digest is not a scalar")?;
        let span = locate(text, scalar).map_err(str::to_string)?;
        let line_start = text[..key.start].rfind('\n').map_or(0, |i| i + 1);
        let alone = text[line_start..key.start].bytes().all(|b| b == b' ');
        let line_end = text[span.range.end..]
            .find('\n')
            .map(|i| span.range.end + i + 1);
        match line_end {
            Some(line_end) if alone => Ok(Splice {
                range: line_start..line_end,
                text: String::new(),
            }),
            _ => source
                .rewrite(value, "")?
                .ok_or_else(|| "digest is already empty".to_string()),
        }
    }
}
