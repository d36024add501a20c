//! Accounting for every mention: after the sites are planned, each mention of the target's
//! repository in a scalar value that no site reads is returned here, with where it is and why
//! it is not edited (a string under `args`, a block scalar holding a patch, a key that is not
//! an image field). A mention already at the target version is reported as current. So the
//! only mentions a bump does not list are those inside a site that proved them to be another
//! repository (a Helm mapping on another registry, a kustomize entry renamed by `newName`).
//! Marker mode (`--setter`) edits marked fields only and accounts for nothing else.

use std::collections::{HashMap, HashSet};

use super::mention::{MentionFinder, version_of};
use super::{Site, Source, Target, next_version};
use crate::manifest::{Node, NodeId};

/// A mention of the target in no site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loose {
    /// 1-based, columns in characters.
    pub line: usize,
    pub column: usize,
    /// The reference as written (`registry/app:1`, `registry/app:` before a `${TAG}`).
    pub token: String,
    /// Why it is not edited; `None` when it already is at the target version.
    pub reason: Option<String>,
}

/// The mentions of `target` in `source` that none of `sites` reads.
pub fn loose_mentions(source: Source<'_>, sites: &[Site], target: &Target) -> Vec<Loose> {
    if target.setter.is_some() {
        return Vec::new();
    }
    let finder = MentionFinder::new(&target.image.name);
    let file = source.file;
    let claimed: HashSet<NodeId> = sites.iter().flat_map(Site::nodes).collect();
    let candidates: Vec<NodeId> = file
        .iter()
        .filter_map(|(id, node)| match node {
            Node::Scalar(s) if !claimed.contains(&id) && finder.may_be_in(&s.value) => Some(id),
            _ => None,
        })
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let keys = Keys::of(source);
    let mut loose = Vec::new();
    for id in candidates {
        let Some(scalar) = file.scalar(id) else {
            continue;
        };
        if keys.is_key(id) {
            continue;
        }
        for range in finder.find(&scalar.value) {
            let token = &scalar.value[range.clone()];
            let whole = range.len() == scalar.value.len();
            let current = version_of(token).is_some_and(|r| {
                next_version(r.tag.as_deref(), r.digest.as_deref(), target).is_none()
            });
            let at = source.text[scalar.start..]
                .find(token)
                .map_or(scalar.start, |i| scalar.start + i);
            let (line, column) = line_column(source.text, at);
            loose.push(Loose {
                line,
                column,
                token: token.to_string(),
                reason: (!current).then(|| keys.reason(source, id, whole)),
            });
        }
    }
    loose
}

/// Which scalars are keys, and the key each value (or list item) sits under.
struct Keys {
    keys: HashSet<NodeId>,
    parent: HashMap<NodeId, NodeId>,
}

impl Keys {
    fn of(source: Source<'_>) -> Self {
        let mut keys = HashSet::new();
        let mut parent = HashMap::new();
        // Parents come before their children in the arena, so one pass in id order sees a
        // list's key before its items.
        for (id, node) in source.file.iter() {
            match node {
                Node::Mapping { entries, .. } => {
                    for &(key, value) in entries {
                        keys.insert(key);
                        parent.insert(value, key);
                    }
                }
                Node::Sequence { items } => {
                    if let Some(&key) = parent.get(&id) {
                        for &item in items {
                            parent.insert(item, key);
                        }
                    }
                }
                Node::Scalar(_) | Node::Alias(_) => {}
            }
        }
        Keys { keys, parent }
    }

    fn is_key(&self, id: NodeId) -> bool {
        self.keys.contains(&id)
    }

    fn reason(&self, source: Source<'_>, id: NodeId, whole: bool) -> String {
        let file = source.file;
        let place = match self.parent.get(&id).and_then(|&k| file.scalar(k)) {
            Some(key) => format!("under `{}`", key.value),
            None => "in a value with no key".to_string(),
        };
        if file.scalar(id).is_some_and(|s| s.is_block()) {
            format!("inside the block scalar {place}: text (a patch, a script), never edited")
        } else if whole {
            format!("{place}, which is not an image field gitops-bot edits")
        } else {
            format!("inside the string {place}, not an image field of its own")
        }
    }
}

/// 1-based line and column (in characters) of byte `at`.
pub fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::find_sites;
    use crate::image_ref::ImageRef;
    use crate::manifest::YamlFile;

    fn loose(
        text: &str,
        image: &str,
        setter: Option<&str>,
    ) -> Vec<(usize, usize, String, Option<String>)> {
        let file = YamlFile::parse(text).unwrap();
        let source = Source { text, file: &file };
        let target = Target {
            image: ImageRef::parse(image).unwrap(),
            setter: setter.map(str::to_string),
        };
        let sites = find_sites(text, &file, false);
        loose_mentions(source, &sites, &target)
            .into_iter()
            .map(|l| (l.line, l.column, l.token, l.reason))
            .collect()
    }

    #[test]
    fn mentions_outside_sites_are_placed_and_explained() {
        let text = "containers:\n- image: r.io/a/app:1\n  args: [\"--img=r.io/a/app:1\"]\n  env: [{name: X, value: r.io/a/app:2}]\npatch: |\n  value: r.io/a/app:1\nr.io/a/app:1: key\n";
        let found = loose(text, "r.io/a/app:2", None);
        assert_eq!(
            found,
            [
                (3, 17, "r.io/a/app:1".into(), Some("inside the string under `args`, not an image field of its own".into())),
                (4, 26, "r.io/a/app:2".into(), None),
                (6, 10, "r.io/a/app:1".into(), Some("inside the block scalar under `patch`: text (a patch, a script), never edited".into())),
            ]
        );
        assert_eq!(loose(text, "r.io/a/app:2", Some("ns:p")), []);
        assert_eq!(loose(text, "r.io/a/other:2", None), []);
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("é\nab", 4), (2, 2));
        assert_eq!(line_column("ab", 0), (1, 1));
    }
}
