//! The hidden state a bot-owned message carries: `<!-- gitops-bot:{json} -->`.
//!
//! Later runs and other modes read it back instead of re-deriving state from prose. The JSON
//! is escaped so that no value can close the HTML comment early.

use serde::{Deserialize, Serialize};

use crate::image_ref::Version;
use crate::messages::SourceInfo;

const OPEN: &str = "<!-- gitops-bot:";
const CLOSE: &str = " -->";

/// What a bump merge request deploys, as recorded in its description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BumpState {
    /// Format version of this record.
    pub v: u32,
    pub kind: String,
    /// The image repository as given to `--image`.
    pub image: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    /// The Flux image policy the bump was limited to (`--setter`).
    #[serde(default)]
    pub setter: Option<String>,
    /// On a rollback (`kind: rollback`): the merge request it undoes.
    #[serde(default)]
    pub rollback_of: Option<u64>,
    /// The versions the changed references had before.
    pub previous: Vec<String>,
    pub environment: Option<String>,
    /// The repository paths the bump was limited to (empty: all).
    #[serde(default)]
    pub paths: Vec<String>,
    pub target_branch: String,
    pub branch: String,
    /// The target commit the change was computed on.
    pub base_sha: String,
    pub changes: Vec<RecordedChange>,
    /// The app pipeline that asked for it.
    #[serde(default)]
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedChange {
    pub file: String,
    pub line: usize,
    pub old: String,
    pub new: String,
}

impl BumpState {
    /// The version it proposes.
    pub fn version(&self) -> Version {
        Version::new(self.tag.as_deref(), self.digest.as_deref())
    }
}

/// The marker line for `state`.
pub fn render<T: Serialize>(state: &T) -> String {
    let json = serde_json::to_string(state).unwrap_or_else(|_| "{}".into());
    // `>` and `<` never appear raw, so nothing inside can end or start a comment.
    let json = json.replace('>', "\\u003e").replace('<', "\\u003c");
    format!("{OPEN}{json}{CLOSE}")
}

/// The first well-formed marker of type `T` in `text`.
pub fn find<T: for<'de> Deserialize<'de>>(text: &str) -> Option<T> {
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let end = after.find(CLOSE)?;
        if let Ok(value) = serde_json::from_str(&after[..end]) {
            return Some(value);
        }
        rest = &after[end..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> BumpState {
        BumpState {
            v: 1,
            kind: "bump".into(),
            image: "registry.example.com/g/app".into(),
            tag: Some("ci-35".into()),
            digest: None,
            setter: None,
            rollback_of: None,
            previous: vec!["ci-34".into()],
            environment: Some("prod".into()),
            paths: vec![],
            target_branch: "main".into(),
            branch: "gitops-bot/prod/app".into(),
            base_sha: "abc".into(),
            changes: vec![RecordedChange {
                file: "x-->y.yaml".into(),
                line: 3,
                old: "app:ci-34".into(),
                new: "app:ci-35".into(),
            }],
            source: SourceInfo::default(),
        }
    }

    #[test]
    fn markers_round_trip_and_cannot_be_closed_early() {
        let line = render(&state());
        assert!(!line[4..line.len() - 3].contains("-->"), "{line}");
        let text = format!("intro\n<!-- gitops-bot:not json -->\n{line}\n");
        assert_eq!(find::<BumpState>(&text), Some(state()));
        assert_eq!(find::<BumpState>("no marker"), None);
    }

    #[test]
    fn the_record_names_its_version() {
        assert_eq!(state().version().to_string(), "ci-35");
    }
}
