//! Mentions: where a text names an image repository, whether or not a form can edit it.
//!
//! A mention is a token (a run of the characters an image reference can hold) whose
//! repository part is the target's repository, as Docker normalises it, and that is written
//! as a reference: with a registry or path (`/`), a tag or a digest. So `app-extra:1` and
//! `https://registry/app` are not mentions of `app`, and neither is the bare word `nginx` (a
//! container name, a label) when the target is `nginx`. This is what makes "nothing missed
//! silently" checkable: every mention ends up edited, current, skipped with a reason, or
//! inside a form that proved it is another repository. Nothing here knows YAML.

use std::ops::Range;

use memchr::memmem;

use crate::image_ref::{ImageRef, RepositoryName};

/// Finds the mentions of one repository; build once per target, use on many texts.
pub struct MentionFinder {
    repository: RepositoryName,
    needle: memmem::Finder<'static>,
}

impl MentionFinder {
    pub fn new(repository: &RepositoryName) -> Self {
        MentionFinder {
            repository: repository.clone(),
            needle: memmem::Finder::new(repository.last_component().as_bytes()).into_owned(),
        }
    }

    /// The byte ranges of the tokens of `text` that mention the repository, in order.
    pub fn find(&self, text: &str) -> Vec<Range<usize>> {
        let bytes = text.as_bytes();
        let mut found: Vec<Range<usize>> = Vec::new();
        for at in self.needle.find_iter(bytes) {
            if found.last().is_some_and(|last| at < last.end) {
                continue;
            }
            let token = token_around(bytes, at);
            if self.mentions(&text[token.clone()]) {
                found.push(token);
            }
        }
        found
    }

    /// Whether `text` mentions the repository anywhere.
    pub fn is_in(&self, text: &str) -> bool {
        !self.find(text).is_empty()
    }

    /// Whether `text` may mention the repository (a cheap byte search, no false negatives).
    pub fn may_be_in(&self, text: &str) -> bool {
        self.needle.find(text.as_bytes()).is_some()
    }

    /// Whether one token is written as a reference to the repository.
    fn mentions(&self, token: &str) -> bool {
        let token = token.trim_end_matches([':', '@', '.', '-', '_']);
        let name = repository_part(token);
        let versioned = name.len() < token.len();
        (versioned || name.contains('/'))
            && RepositoryName::parse(name).is_ok_and(|n| n.same_repository(&self.repository))
    }
}

/// The version a mention carries when it is a whole reference (`app:1`, `app@sha256:…`).
pub fn version_of(token: &str) -> Option<ImageRef> {
    ImageRef::parse(token).ok().filter(ImageRef::has_version)
}

/// Characters an image reference can hold (`[registry[:port]/]path[:tag][@algo:hex]`).
fn is_reference_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b':' | b'@')
}

/// The maximal run of reference characters around byte `at`.
fn token_around(bytes: &[u8], at: usize) -> Range<usize> {
    let start = bytes[..at]
        .iter()
        .rposition(|&b| !is_reference_byte(b))
        .map_or(0, |i| i + 1);
    let end = bytes[at..]
        .iter()
        .position(|&b| !is_reference_byte(b))
        .map_or(bytes.len(), |i| at + i);
    start..end
}

/// `registry:5000/path/name` of `registry:5000/path/name:tag@digest`: up to the first `@`,
/// and up to a `:` after the last `/` (a `:` before it is a registry port).
fn repository_part(token: &str) -> &str {
    let name = token.split('@').next().unwrap_or(token);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].find(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mentions(repo: &str, text: &str) -> Vec<String> {
        let finder = MentionFinder::new(&RepositoryName::parse(repo).unwrap());
        finder
            .find(text)
            .into_iter()
            .map(|r| text[r].to_string())
            .collect()
    }

    #[test]
    fn references_in_any_text_are_found_with_their_version() {
        assert_eq!(
            mentions(
                "registry.example.com/group/app",
                "--image=registry.example.com/group/app:1 \"registry.example.com/group/app@sha256:ab\""
            ),
            [
                "registry.example.com/group/app:1",
                "registry.example.com/group/app@sha256:ab"
            ]
        );
        assert_eq!(
            mentions("ghcr.io/acme/app", "image: ghcr.io/acme/app:${TAG}"),
            ["ghcr.io/acme/app:"]
        );
        assert_eq!(
            mentions("nginx", "a nginx:1.25 b docker.io/library/nginx c"),
            ["nginx:1.25", "docker.io/library/nginx"]
        );
        assert_eq!(
            mentions("localhost:5000/app", "x localhost:5000/app:2 y"),
            ["localhost:5000/app:2"]
        );
    }

    #[test]
    fn other_repositories_words_and_urls_are_not_mentions() {
        for text in [
            "registry.example.com/group/app-extra:1",
            "registry.example.com/group/application",
            "registry.example.com/group/app/sidecar:1",
            "other.example.com/group/app:1",
            "https://registry.example.com/group/app",
            "group/app:1",
            "{{ .Values.image }}",
        ] {
            assert_eq!(
                mentions("registry.example.com/group/app", text),
                Vec::<String>::new(),
                "{text}"
            );
        }
        assert_eq!(mentions("nginx", "name: nginx"), Vec::<String>::new());
    }

    #[test]
    fn versions_of_whole_references() {
        assert_eq!(
            version_of("app:1").map(|r| r.to_string()),
            Some("app:1".into())
        );
        assert!(version_of("app").is_none());
        assert!(version_of("app:").is_none());
    }
}
