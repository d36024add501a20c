//! The hidden state a bot-owned message carries: `<!-- gitops-bot:{json} -->`, one
//! [`Marker`] whose `kind` says what the message is (a bump or rollback description, a sync
//! result, a reply, a preview).
//!
//! Later runs and other modes read it back to find things. Anyone who can edit the message
//! can edit it too, so it is a hint, never the truth about what to deploy. The JSON is
//! escaped so that no value can close the HTML comment early.

use serde::{Deserialize, Serialize};

use crate::drift::DriftState;
use crate::image_ref::Version;
use crate::messages::SourceInfo;

const OPEN: &str = "<!-- gitops-bot:";
const CLOSE: &str = " -->";

/// A bot-owned message's hidden state, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Marker {
    /// A bump merge request's description.
    Bump(BumpState),
    /// A rollback merge request's description.
    Rollback(BumpState),
    /// A sync result comment.
    Sync(SyncRecord),
    /// A reply to a comment command or an approval.
    Reply(ReplyRecord),
    /// The preview comment.
    Preview(PreviewRecord),
    /// A drift issue's description: one issue per project and environment.
    Drift(DriftRecord),
    /// The deploy board issue's description: one issue per project.
    Board(BoardRecord),
}

/// What a bump (or rollback) merge request deploys, as recorded in its description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BumpState {
    /// Format version of this record.
    pub v: u32,
    /// The image repository as given to `--image`.
    pub image: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    /// The Flux image policy the bump was limited to (`--setter`).
    #[serde(default)]
    pub setter: Option<String>,
    /// On a rollback: the merge request it undoes.
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
    /// Every image of a bump of several, in the order proposed; the fields above then name
    /// the first. Empty (and not written) for a bump of one image, so records of one image
    /// read and write as they always have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<RecordedImage>,
    /// Set on a promotion merge request: where the versions were proven. Absent (and not
    /// written) otherwise, so older records read as they always have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionRecord>,
}

/// Where a promotion's versions come from: the source environment and its healthy
/// deployment record. A hint for finding things, like the rest of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionRecord {
    /// The environment promoted from.
    pub from: String,
    /// Its GitLab deployment record the promotion rests on.
    pub deployment: u64,
    /// The commit that deployment deployed.
    pub sha: String,
}

/// One image of a bump and the versions its changed references had before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedImage {
    /// The image repository as given to `--image`.
    pub image: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub previous: Vec<String>,
}

impl RecordedImage {
    pub fn version(&self) -> Version {
        Version::new(self.tag.as_deref(), self.digest.as_deref())
    }
}

/// What a proposal of `images` is, as one comparable text: the version for one image
/// (`ci-35`, as records have always said), `repository version` of each for several, in
/// repository order, so that the order they were given in does not matter.
pub fn proposes(images: &[RecordedImage]) -> String {
    match images {
        [one] => one.version().to_string(),
        _ => {
            let mut each: Vec<String> = images
                .iter()
                .map(|i| format!("{} {}", i.image, i.version()))
                .collect();
            each.sort();
            each.join(", ")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedChange {
    pub file: String,
    pub line: usize,
    pub old: String,
    pub new: String,
}

impl BumpState {
    /// The version it proposes (of the first image, when there are several).
    pub fn version(&self) -> Version {
        Version::new(self.tag.as_deref(), self.digest.as_deref())
    }

    /// Every image it proposes, in order: one for a record of a single image.
    pub fn recorded_images(&self) -> Vec<RecordedImage> {
        if !self.images.is_empty() {
            return self.images.clone();
        }
        vec![RecordedImage {
            image: self.image.clone(),
            tag: self.tag.clone(),
            digest: self.digest.clone(),
            previous: self.previous.clone(),
        }]
    }

    /// What it proposes, comparable with another proposal (see [`proposes`]).
    pub fn proposes(&self) -> String {
        proposes(&self.recorded_images())
    }

    pub fn is_rollback(&self) -> bool {
        self.rollback_of.is_some()
    }

    /// The marker of a description recording this.
    pub fn marker(&self) -> Marker {
        if self.is_rollback() {
            Marker::Rollback(self.clone())
        } else {
            Marker::Bump(self.clone())
        }
    }
}

/// A sync result comment: which environment and commit it reports on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub v: u32,
    pub environment: Option<String>,
    pub commit: String,
    pub outcome: String,
}

/// A reply: the comment (or approval) it answers, so it is answered once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRecord {
    /// The comment answered (0 for an approval).
    pub reply_to: u64,
    pub command: String,
    pub outcome: String,
    /// The approval answered: `<user id>@<when>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
}

/// The preview comment: the head it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRecord {
    pub v: u32,
    pub head: String,
}

/// A drift issue: which environment it reports on, and the divergence it last described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftRecord {
    pub v: u32,
    pub project: String,
    pub environment: String,
    pub state: DriftState,
    /// [`crate::drift::fingerprint`] of what was last reported: state and sorted objects.
    pub fingerprint: String,
    /// When this divergence was first seen (RFC 3339).
    pub since: String,
    /// The alert of the last write (`--alert-url`) was not delivered, so the next run with
    /// an alert URL sends it again. Absent when it was delivered (or none was asked for), so
    /// that the happy path writes nothing more than the issue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alert_undelivered: bool,
}

/// The deploy board issue: the project it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardRecord {
    pub v: u32,
    pub project: String,
}

/// The marker line for `marker`.
pub fn render(marker: &Marker) -> String {
    let json = serde_json::to_string(marker).unwrap_or_else(|_| "{}".into());
    // `>` and `<` never appear raw, so nothing inside can end or start a comment.
    let json = json.replace('>', "\\u003e").replace('<', "\\u003c");
    format!("{OPEN}{json}{CLOSE}")
}

/// The well-formed markers in `text`, in order.
pub fn all(text: &str) -> impl Iterator<Item = Marker> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find(OPEN)?;
            let after = &rest[start + OPEN.len()..];
            let end = after.find(CLOSE)?;
            rest = &after[end..];
            if let Ok(marker) = serde_json::from_str(&after[..end]) {
                return Some(marker);
            }
        }
    })
}

/// The first bump or rollback record in `text`.
pub fn bump(text: &str) -> Option<BumpState> {
    all(text).find_map(|m| match m {
        Marker::Bump(s) | Marker::Rollback(s) => Some(s),
        _ => None,
    })
}

/// The first sync record in `text`.
pub fn sync(text: &str) -> Option<SyncRecord> {
    all(text).find_map(|m| match m {
        Marker::Sync(r) => Some(r),
        _ => None,
    })
}

/// The first reply record in `text`.
pub fn reply(text: &str) -> Option<ReplyRecord> {
    all(text).find_map(|m| match m {
        Marker::Reply(r) => Some(r),
        _ => None,
    })
}

/// The first preview record in `text`.
pub fn preview(text: &str) -> Option<PreviewRecord> {
    all(text).find_map(|m| match m {
        Marker::Preview(r) => Some(r),
        _ => None,
    })
}

/// The first deploy board record in `text`.
pub fn board(text: &str) -> Option<BoardRecord> {
    all(text).find_map(|m| match m {
        Marker::Board(r) => Some(r),
        _ => None,
    })
}

/// The first drift record in `text`.
pub fn drift(text: &str) -> Option<DriftRecord> {
    all(text).find_map(|m| match m {
        Marker::Drift(r) => Some(r),
        _ => None,
    })
}

/// `text` with its first drift marker replaced by `record`'s; `None` when it has none.
pub fn replace_drift(text: &str, record: &DriftRecord) -> Option<String> {
    let mut from = 0;
    while let Some(start) = text[from..].find(OPEN).map(|i| from + i) {
        let after = start + OPEN.len();
        let end = after + text[after..].find(CLOSE)?;
        if let Ok(Marker::Drift(_)) = serde_json::from_str(&text[after..end]) {
            let line = render(&Marker::Drift(record.clone()));
            return Some(format!(
                "{}{line}{}",
                &text[..start],
                &text[end + CLOSE.len()..]
            ));
        }
        from = end;
    }
    None
}

#[cfg(test)]
impl BumpState {
    /// A bump of `registry.example.com/root/helloworld` from `ci-34` to `ci-35` in prod, for
    /// tests.
    pub(crate) fn example() -> BumpState {
        BumpState {
            v: 1,
            image: "registry.example.com/root/helloworld".into(),
            tag: Some("ci-35".into()),
            digest: None,
            setter: None,
            rollback_of: None,
            previous: vec!["ci-34".into()],
            environment: Some("prod".into()),
            paths: vec![],
            target_branch: "main".into(),
            branch: "gitops-bot/prod/helloworld-0a1b2c".into(),
            base_sha: "0123456789abcdef0123456789abcdef01234567".into(),
            changes: vec![RecordedChange {
                file: "deployment.yml".into(),
                line: 20,
                old: "registry.example.com/root/helloworld:ci-34".into(),
                new: "registry.example.com/root/helloworld:ci-35".into(),
            }],
            source: SourceInfo::default(),
            images: vec![],
            promotion: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example record, with a file name that would end an HTML comment.
    fn state() -> BumpState {
        let mut state = BumpState::example();
        state.changes[0].file = "x-->y.yaml".into();
        state
    }

    #[test]
    fn markers_round_trip_and_cannot_be_closed_early() {
        let line = render(&state().marker());
        assert!(
            line.starts_with("<!-- gitops-bot:{\"kind\":\"bump\",\"v\":1,"),
            "{line}"
        );
        assert!(!line[4..line.len() - 3].contains("-->"), "{line}");
        let text = format!("intro\n<!-- gitops-bot:not json -->\n{line}\n");
        assert_eq!(bump(&text), Some(state()));
        assert_eq!(bump("no marker"), None);
        assert_eq!(sync(&text), None);
    }

    #[test]
    fn each_kind_is_found_by_its_own_reader() {
        let rollback = BumpState {
            rollback_of: Some(7),
            ..state()
        };
        let answer = ReplyRecord {
            reply_to: 3,
            command: "deploy".into(),
            outcome: "done".into(),
            approval: None,
        };
        let text = [
            render(&Marker::Reply(answer.clone())),
            render(&rollback.marker()),
            render(&Marker::Sync(SyncRecord {
                v: 1,
                environment: None,
                commit: "abc".into(),
                outcome: "healthy".into(),
            })),
        ]
        .join("\n");
        assert!(text.contains("\"kind\":\"rollback\""), "{text}");
        assert_eq!(bump(&text), Some(rollback));
        assert_eq!(reply(&text), Some(answer));
        assert_eq!(sync(&text).map(|s| s.commit), Some("abc".into()));
        assert_eq!(preview(&text), None);
        assert_eq!(drift(&text), None);
        let record = DriftRecord {
            v: 1,
            project: "group/ops".into(),
            environment: "prod".into(),
            state: DriftState::Drifted,
            fingerprint: "drifted: Application argocd/web drifted".into(),
            since: "2026-11-27T10:00:00Z".into(),
            alert_undelivered: false,
        };
        let line = render(&Marker::Drift(record.clone()));
        assert!(line.contains("\"kind\":\"drift\""), "{line}");
        assert!(!line.contains("alert_undelivered"), "{line}");
        assert_eq!(drift(&format!("{text}\n{line}")), Some(record.clone()));

        // The drift marker, and only it, is replaced in place.
        let described = format!("{text}\nbefore {line} after\n");
        let owed = DriftRecord {
            alert_undelivered: true,
            ..record.clone()
        };
        let replaced = replace_drift(&described, &owed).unwrap();
        assert_eq!(drift(&replaced), Some(owed.clone()));
        assert!(replaced.starts_with(&format!("{text}\nbefore <!-- gitops-bot:")));
        assert!(replaced.ends_with(" --> after\n"), "{replaced}");
        assert_eq!(bump(&replaced), bump(&described));
        assert_eq!(
            replace_drift(&replaced, &record).as_deref(),
            Some(described.as_str())
        );
        assert_eq!(replace_drift(&text, &record), None);
        // Records written before the kinds were an enum read the same.
        let old = r#"<!-- gitops-bot:{"v":1,"kind":"bump","image":"a","tag":"1","digest":null,"previous":[],"environment":null,"target_branch":"main","branch":"b","base_sha":"c","changes":[]} -->"#;
        assert_eq!(bump(old).map(|s| s.image), Some("a".into()));
    }

    #[test]
    fn the_record_names_its_version() {
        assert_eq!(state().version().to_string(), "ci-35");
        assert_eq!(state().proposes(), "ci-35");
    }

    #[test]
    fn records_of_several_images_name_each_and_records_of_one_are_unchanged() {
        let one = render(&state().marker());
        assert!(!one.contains("\"images\""), "{one}");
        let image = |name: &str, tag: &str, previous: &str| RecordedImage {
            image: name.into(),
            tag: Some(tag.into()),
            digest: None,
            previous: vec![previous.into()],
        };
        let two = BumpState {
            images: vec![
                image("registry.example.com/root/worker", "7", "6"),
                image("registry.example.com/root/helloworld", "ci-35", "ci-34"),
            ],
            ..state()
        };
        let line = render(&two.marker());
        let read = bump(&line).unwrap();
        assert_eq!(read, two);
        assert_eq!(read.recorded_images().len(), 2);
        // The order given does not change what is proposed.
        let mut swapped = two.clone();
        swapped.images.reverse();
        assert_eq!(swapped.proposes(), two.proposes());
        assert_eq!(
            two.proposes(),
            "registry.example.com/root/helloworld ci-35, registry.example.com/root/worker 7"
        );
        // A record of one image, written before records had `images`, reads as one image.
        let old = r#"<!-- gitops-bot:{"v":1,"kind":"bump","image":"a","tag":"1","digest":null,"previous":["0"],"environment":null,"target_branch":"main","branch":"b","base_sha":"c","changes":[]} -->"#;
        let old = bump(old).unwrap();
        assert_eq!(old.recorded_images(), [image("a", "1", "0")]);
        assert_eq!(old.proposes(), "1");
    }
}
