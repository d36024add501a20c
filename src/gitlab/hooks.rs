//! GitLab webhook payloads, reduced to the few typed facts the bot acts on.
//!
//! This module owns turning one delivery of a project/group webhook (`Note Hook`, `Merge Request
//! Hook`; or the same JSON read from `$TRIGGER_PAYLOAD` in a trigger pipeline) into an [`Event`],
//! and the key that identifies a delivery for de-duplication ([`delivery_key`]). It refuses the
//! rest: no HTTP (secret tokens, status codes, reading requests) and no authorisation decisions
//! (who may deploy, what counts as a command or as approved) — those belong to the callers.
//!
//! Tolerance: only the fields on the public types are read; all others are ignored, at any depth.
//! A read field that is absent, `null` or of an unexpected JSON type counts as absent. Optional
//! facts then default (`labels` → empty, `last_commit` → `None`, `system` → `false`, a note's
//! `action` → [`NoteAction::Create`] as before GitLab 16.11, an MR event's `action` and `title` →
//! `""`); required ones give [`HookError::Missing`] with the field's path (`object_attributes.id`).
//! Fallbacks: project id `project.id`, else top-level `project_id`; an MR's `project_id` is its
//! `target_project_id`, else the event's project (hooks fire on the target project); a note
//! author's id `user.id`, else `object_attributes.author_id`. An MR event has no fallback for
//! `user.id` (`object_attributes.author_id` is the MR's author, not the actor): `Missing`.
//! A note on an issue (`noteable_type: Issue`) is an [`Event::Note`] with `Some` issue and no
//! merge request; notes on commits and snippets are [`Event::Other`] with kind
//! `note:<noteable_type>`, so an [`Event::Note`] has exactly one of the two. GitLab sends no note hooks for system
//! notes (`Notes::PostProcessService` skips them); one that arrives has [`NoteEvent::system`] set.
//!
//! Why not `gitlab::hooktypes` (crate `gitlab` 0.1905.0): it has no payload types. The typed
//! `webhooks` module (`NoteHook`, `MergeRequestHook`) was deprecated in 0.1706.0 and removed;
//! `hooktypes` keeps `WebHookType::type_of` (a `match` on `object_kind`) and `HookDate`, which
//! rejects GitLab's documented "Comment on a merge request" example
//! (`merge_request.last_commit.timestamp: "2015-04-08T21: 00:25-07:00"`). With default features
//! it also pulls in reqwest and graphql_client (~170 crates). Hence these minimal serde structs.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::Value;

/// A GitLab user as sent in `user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookUser {
    pub id: u64,
    pub username: String,
}

/// The facts of a merge request, from a note's `merge_request` or an MR event's `object_attributes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookMergeRequest {
    pub iid: u64,
    /// The target project (`target_project_id`).
    pub project_id: u64,
    /// `opened`, `merged`, `closed` or `locked`.
    pub state: String,
    pub source_branch: String,
    pub target_branch: String,
    pub author_id: Option<u64>,
    /// `last_commit.id`: the head of the MR when the event fired.
    pub last_commit_sha: Option<String>,
    /// Label titles.
    pub labels: Vec<String>,
    pub title: String,
}

/// The facts of an issue, from a note's `issue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookIssue {
    pub iid: u64,
    /// `issue.project_id`, else the event's project.
    pub project_id: u64,
    pub author_id: Option<u64>,
    /// Label titles.
    pub labels: Vec<String>,
}

/// `object_attributes.action` of a note (GitLab ≥ 16.11; absent before, meaning a new note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteAction {
    Create,
    Update,
    Other(String),
}

impl NoteAction {
    /// The action as GitLab spells it.
    pub fn as_str(&self) -> &str {
        match self {
            NoteAction::Create => "create",
            NoteAction::Update => "update",
            NoteAction::Other(other) => other,
        }
    }
}

/// A comment on a merge request (`object_kind: note`, `noteable_type: MergeRequest`) or on an
/// issue (`noteable_type: Issue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteEvent {
    pub project_id: u64,
    /// `project.path_with_namespace`.
    pub project_path: String,
    /// Who wrote it.
    pub user: HookUser,
    pub note_id: u64,
    pub body: String,
    pub system: bool,
    /// Missing in older GitLab → [`NoteAction::Create`].
    pub action: NoteAction,
    /// `object_attributes.created_at`, as sent.
    pub created_at: Option<String>,
    /// Present only for comments on merge requests.
    pub merge_request: Option<HookMergeRequest>,
    /// Present only for comments on issues.
    pub issue: Option<HookIssue>,
}

/// A merge request event (`object_kind: merge_request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequestEvent {
    pub project_id: u64,
    pub project_path: String,
    /// Who did it (e.g. who approved).
    pub user: HookUser,
    /// `object_attributes.action` (`open`, `update`, `approved`, `approval`, `unapproved`,
    /// `unapproval`, `merge`, `close`, `reopen`, …), `""` if absent.
    pub action: String,
    pub merge_request: HookMergeRequest,
}

/// One webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Note(NoteEvent),
    MergeRequest(MergeRequestEvent),
    /// Any other event kind (push, pipeline, issue…), or a note on something else than an MR: recognised and ignored.
    Other {
        kind: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("a {kind} event without {field}")]
    Missing { kind: String, field: String },
}

/// Parses one delivery. `event_header` is the `X-Gitlab-Event` header if any (e.g. "Note Hook"); the body's `object_kind` decides when both are present.
///
/// Without `object_kind`, the body's `event_name` (group member/project/subgroup events) and then
/// the header name the kind; with none of them the result is `Missing { field: "object_kind" }`.
/// A JSON body that is not an object is [`HookError::NotJson`].
pub fn parse_event(event_header: Option<&str>, body: &[u8]) -> Result<Event, HookError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| HookError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(HookError::NotJson("expected a JSON object".into()));
    }
    let raw: RawHook =
        serde_json::from_value(value).map_err(|e| HookError::NotJson(e.to_string()))?;
    let header_kind = event_header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| match h {
            "Note Hook" | "Confidential Note Hook" => "note".to_string(),
            "Merge Request Hook" => "merge_request".to_string(),
            other => other.to_string(),
        });
    let kind = raw
        .object_kind
        .0
        .clone()
        .or_else(|| raw.event_name.0.clone())
        .or(header_kind);
    let kind = need(kind, "webhook", "object_kind")?;
    match kind.as_str() {
        "note" => parse_note(raw),
        "merge_request" => parse_merge_request(raw),
        _ => Ok(Event::Other { kind }),
    }
}

/// The key that identifies one logical delivery for de-duplication: `Idempotency-Key` header if present, else `X-Gitlab-Event-UUID`, else for notes `note:<project>:<note id>:<action>`, for MR events `mr:<project>:<iid>:<action>:<last commit>`. Header names are matched case-insensitively.
///
/// Empty header values count as absent; a missing last commit is an empty last segment.
/// [`Event::Other`] without either header has no key (`None`).
pub fn delivery_key(headers: &[(String, String)], event: &Event) -> Option<String> {
    let header = |name: &str| {
        headers
            .iter()
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    };
    if let Some(key) = header("Idempotency-Key").or_else(|| header("X-Gitlab-Event-UUID")) {
        return Some(key.to_string());
    }
    match event {
        Event::Note(n) => Some(format!(
            "note:{}:{}:{}",
            n.project_id,
            n.note_id,
            n.action.as_str()
        )),
        // The acting user is part of the key: two people approving the same commit are two
        // events.
        Event::MergeRequest(m) => Some(format!(
            "mr:{}:{}:{}:{}:{}",
            m.project_id,
            m.merge_request.iid,
            m.action,
            m.merge_request.last_commit_sha.as_deref().unwrap_or(""),
            m.user.id
        )),
        Event::Other { .. } => None,
    }
}

fn parse_note(raw: RawHook) -> Result<Event, HookError> {
    const K: &str = "note";
    let attrs = need(raw.object_attributes.0, K, "object_attributes")?;
    let on_mr = match attrs.noteable_type.0.as_deref() {
        Some(t) => t == "MergeRequest",
        None => raw.merge_request.0.is_some(),
    };
    let on_issue = attrs.noteable_type.0.as_deref() == Some("Issue");
    if !on_mr && !on_issue {
        let target = attrs.noteable_type.0.map(|t| format!("note:{t}"));
        return Ok(Event::Other {
            kind: target.unwrap_or_else(|| K.into()),
        });
    }
    let (project_id, project_path) = project(raw.project.0, raw.project_id.0, K)?;
    let user = user(raw.user.0, attrs.author_id.0, K)?;
    let (merge_request, issue) = if on_mr {
        let mr = need(raw.merge_request.0, K, "merge_request")?;
        (
            Some(merge_request(mr, K, "merge_request", project_id)?),
            None,
        )
    } else {
        let i = need(raw.issue.0, K, "issue")?;
        let issue = HookIssue {
            iid: need(i.iid.0, K, "issue.iid")?,
            project_id: i.project_id.0.unwrap_or(project_id),
            author_id: i.author_id.0,
            labels: i
                .labels
                .0
                .into_iter()
                .flatten()
                .filter_map(|l| l.title.0)
                .collect(),
        };
        (None, Some(issue))
    };
    Ok(Event::Note(NoteEvent {
        project_id,
        project_path,
        user,
        note_id: need(attrs.id.0, K, "object_attributes.id")?,
        body: need(attrs.note.0, K, "object_attributes.note")?,
        system: attrs.system.0.unwrap_or(false),
        action: match attrs.action.0.as_deref() {
            None | Some("create") => NoteAction::Create,
            Some("update") => NoteAction::Update,
            Some(other) => NoteAction::Other(other.into()),
        },
        created_at: attrs.created_at.0,
        merge_request,
        issue,
    }))
}

fn parse_merge_request(raw: RawHook) -> Result<Event, HookError> {
    const K: &str = "merge_request";
    let (project_id, project_path) = project(raw.project.0, raw.project_id.0, K)?;
    let user = user(raw.user.0, None, K)?;
    let mut attrs = need(raw.object_attributes.0, K, "object_attributes")?;
    let action = attrs.action.0.take().unwrap_or_default();
    Ok(Event::MergeRequest(MergeRequestEvent {
        project_id,
        project_path,
        user,
        action,
        merge_request: merge_request(attrs, K, "object_attributes", project_id)?,
    }))
}

/// `(project id, path_with_namespace)`.
fn project(
    p: Option<RawProject>,
    top: Option<u64>,
    kind: &str,
) -> Result<(u64, String), HookError> {
    let p = p.unwrap_or_default();
    let path = need(p.path_with_namespace.0, kind, "project.path_with_namespace")?;
    Ok((need(p.id.0.or(top), kind, "project.id")?, path))
}

fn user(u: Option<RawUser>, fallback_id: Option<u64>, kind: &str) -> Result<HookUser, HookError> {
    let u = u.unwrap_or_default();
    Ok(HookUser {
        id: need(u.id.0.or(fallback_id), kind, "user.id")?,
        username: need(u.username.0, kind, "user.username")?,
    })
}

fn merge_request(
    o: RawObject,
    kind: &str,
    at: &str,
    project_id: u64,
) -> Result<HookMergeRequest, HookError> {
    let req = |v: Option<String>, name: &str| need(v, kind, &format!("{at}.{name}"));
    Ok(HookMergeRequest {
        iid: need(o.iid.0, kind, &format!("{at}.iid"))?,
        project_id: o.target_project_id.0.unwrap_or(project_id),
        state: req(o.state.0, "state")?,
        source_branch: req(o.source_branch.0, "source_branch")?,
        target_branch: req(o.target_branch.0, "target_branch")?,
        author_id: o.author_id.0,
        last_commit_sha: o
            .last_commit
            .0
            .and_then(|c| c.id.0)
            .filter(|s| !s.is_empty()),
        labels: o
            .labels
            .0
            .into_iter()
            .flatten()
            .filter_map(|l| l.title.0)
            .collect(),
        title: o.title.0.unwrap_or_default(),
    })
}

fn need<T>(value: Option<T>, kind: &str, field: &str) -> Result<T, HookError> {
    value.ok_or_else(|| HookError::Missing {
        kind: kind.into(),
        field: field.into(),
    })
}

/// A field read leniently: `None` when absent, `null` or not of type `T`.
struct Lax<T>(Option<T>);

impl<T> Default for Lax<T> {
    fn default() -> Self {
        Lax(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Lax(T::deserialize(Value::deserialize(d)?).ok()))
    }
}

/// Declares payload structs whose fields are all [`Lax`], so that every field we read may be
/// absent, `null` or mistyped, and every field we do not read is ignored.
macro_rules! raw_structs {
    ($($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(Default, Deserialize)]
        #[serde(default)]
        struct $name { $($field: Lax<$ty>),* }
    )*};
}

raw_structs! {
    RawHook {
        object_kind: String, event_name: String, project_id: u64, project: RawProject, user: RawUser,
        object_attributes: RawObject, merge_request: RawObject, issue: RawObject,
    }
    RawProject { id: u64, path_with_namespace: String }
    RawUser { id: u64, username: String }
    /// A note's `object_attributes`, an MR event's `object_attributes` or a note's
    /// `merge_request`: the union of the fields read from them.
    RawObject {
        id: u64, note: String, noteable_type: String, system: bool, created_at: String, action: String,
        author_id: u64, iid: u64, project_id: u64, target_project_id: u64, state: String, source_branch: String,
        target_branch: String, title: String, last_commit: RawCommit, labels: Vec<RawLabel>,
    }
    RawCommit { id: String }
    RawLabel { title: String }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/fixtures/hooks/", $name, ".json"))
        };
    }

    const NOTE_MR: &str = fixture!("note_merge_request");
    const MR_OPEN: &str = fixture!("merge_request_open");

    fn parse(body: &str) -> Result<Event, HookError> {
        parse_event(None, body.as_bytes())
    }

    fn parse_value(v: &Value) -> Result<Event, HookError> {
        parse_event(None, &serde_json::to_vec(v).unwrap())
    }

    fn value(body: &str) -> Value {
        serde_json::from_str(body).unwrap()
    }

    /// Removes the field at a dotted path (e.g. `merge_request.labels`).
    fn without(body: &str, path: &str) -> Value {
        let mut v = value(body);
        let (parent, key) = path.rsplit_once('.').map_or(("", path), |(p, k)| (p, k));
        let pointer = if parent.is_empty() {
            String::new()
        } else {
            format!("/{}", parent.replace('.', "/"))
        };
        let removed = v
            .pointer_mut(&pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        assert!(removed.is_some(), "{path} is not in the fixture");
        v
    }

    fn note(event: Event) -> NoteEvent {
        match event {
            Event::Note(n) => n,
            other => panic!("not a note: {other:?}"),
        }
    }

    fn mr_event(event: Event) -> MergeRequestEvent {
        match event {
            Event::MergeRequest(m) => m,
            other => panic!("not an MR event: {other:?}"),
        }
    }

    fn expected_mr_note() -> NoteEvent {
        NoteEvent {
            project_id: 5,
            project_path: "gitlab-org/gitlab-test".into(),
            user: HookUser {
                id: 1,
                username: "root".into(),
            },
            note_id: 1244,
            body: "This MR needs work.".into(),
            system: false,
            action: NoteAction::Create,
            created_at: Some("2015-05-17 18:21:36 UTC".into()),
            merge_request: Some(HookMergeRequest {
                iid: 1,
                project_id: 5,
                state: "opened".into(),
                source_branch: "master".into(),
                target_branch: "markdown".into(),
                author_id: Some(8),
                last_commit_sha: Some("562e173be03b8ff2efb05345d12df18815438a4b".into()),
                labels: vec!["Afterpod".into(), "Element".into()],
                title: "Tempora et eos debitis quae laborum et.".into(),
            }),
            issue: None,
        }
    }

    fn expected_mr_event(action: &str, state: &str) -> MergeRequestEvent {
        MergeRequestEvent {
            project_id: 1,
            project_path: "gitlabhq/gitlab-test".into(),
            user: HookUser {
                id: 1,
                username: "root".into(),
            },
            action: action.into(),
            merge_request: HookMergeRequest {
                iid: 1,
                project_id: 14,
                state: state.into(),
                source_branch: "ms-viewport".into(),
                target_branch: "master".into(),
                author_id: Some(51),
                last_commit_sha: Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7".into()),
                labels: vec!["API".into()],
                title: "MS-Viewport".into(),
            },
        }
    }

    #[test]
    fn comment_on_a_merge_request() {
        assert_eq!(parse(NOTE_MR).unwrap(), Event::Note(expected_mr_note()));
        // Same result with the header, as with the trigger-pipeline payload alone.
        assert_eq!(
            parse_event(Some("Note Hook"), NOTE_MR.as_bytes()).unwrap(),
            parse(NOTE_MR).unwrap()
        );
    }

    #[test]
    fn edited_comment_on_a_merge_request() {
        let n = note(parse(fixture!("note_merge_request_update")).unwrap());
        let expected = NoteEvent {
            action: NoteAction::Update,
            body: "This MR needs work. (edited)".into(),
            ..expected_mr_note()
        };
        assert_eq!(n, expected);
    }

    #[test]
    fn system_note_on_a_merge_request() {
        let n = note(parse(fixture!("note_merge_request_system")).unwrap());
        assert!(n.system);
        assert_eq!(n.note_id, 1245);
        assert!(n.body.starts_with("added 1 commit\n\n<ul><li>562e173b"));
        assert_eq!(n.merge_request, expected_mr_note().merge_request);
    }

    #[test]
    fn comments_on_other_things_are_other() {
        assert_eq!(
            parse(fixture!("note_commit")).unwrap(),
            Event::Other {
                kind: "note:Commit".into()
            }
        );
        // Comments on issues are notes with their issue (the drift issue's commands).
        let n = note(parse(fixture!("note_issue")).unwrap());
        assert_eq!(n.merge_request, None);
        assert_eq!(n.note_id, 1241);
        assert_eq!(n.body, "Hello world");
        assert_eq!(
            n.issue,
            Some(HookIssue {
                iid: 17,
                project_id: 5,
                author_id: Some(1),
                labels: vec!["Afterpod".into(), "Element".into()],
            })
        );
        let v = without(fixture!("note_issue"), "issue");
        assert!(
            matches!(parse_value(&v), Err(HookError::Missing { field, .. }) if field == "issue"),
            "an issue note without its issue"
        );
        let mut v = without(fixture!("note_issue"), "object_attributes.noteable_type");
        assert_eq!(
            parse_value(&v).unwrap(),
            Event::Other {
                kind: "note".into()
            }
        );
        // Without noteable_type, a `merge_request` object makes it an MR note.
        v = without(NOTE_MR, "object_attributes.noteable_type");
        assert_eq!(parse_value(&v).unwrap(), Event::Note(expected_mr_note()));
    }

    #[test]
    fn other_event_kinds() {
        assert_eq!(
            parse(fixture!("push")).unwrap(),
            Event::Other {
                kind: "push".into()
            }
        );
        let member = r#"{"event_name":"user_add_to_group","group_id":100,"user_id":64}"#;
        assert_eq!(
            parse_event(Some("Member Hook"), member.as_bytes()).unwrap(),
            Event::Other {
                kind: "user_add_to_group".into()
            }
        );
        assert_eq!(
            parse_event(Some("Pipeline Hook"), b"{}").unwrap(),
            Event::Other {
                kind: "Pipeline Hook".into()
            }
        );
    }

    #[test]
    fn merge_request_events_for_every_action() {
        let cases = [
            (fixture!("merge_request_open"), "open", "opened"),
            (fixture!("merge_request_update"), "update", "opened"),
            (fixture!("merge_request_approved"), "approved", "opened"),
            (fixture!("merge_request_approval"), "approval", "opened"),
            (fixture!("merge_request_unapproved"), "unapproved", "opened"),
            (fixture!("merge_request_unapproval"), "unapproval", "opened"),
            (fixture!("merge_request_merge"), "merge", "merged"),
            (fixture!("merge_request_close"), "close", "closed"),
            (fixture!("merge_request_reopen"), "reopen", "opened"),
        ];
        for (body, action, state) in cases {
            assert_eq!(
                parse(body).unwrap(),
                Event::MergeRequest(expected_mr_event(action, state)),
                "{action}"
            );
        }
    }

    #[test]
    fn object_kind_in_the_body_beats_the_header() {
        let e = parse_event(Some("Merge Request Hook"), NOTE_MR.as_bytes()).unwrap();
        assert_eq!(e, Event::Note(expected_mr_note()));
        let e = parse_event(Some("Note Hook"), MR_OPEN.as_bytes()).unwrap();
        assert_eq!(e, Event::MergeRequest(expected_mr_event("open", "opened")));
    }

    #[test]
    fn header_decides_without_object_kind() {
        let v = without(NOTE_MR, "object_kind");
        let bytes = serde_json::to_vec(&v).unwrap();
        assert_eq!(
            parse_event(Some("Note Hook"), &bytes).unwrap(),
            Event::Note(expected_mr_note())
        );
        assert_eq!(
            parse_event(Some("Confidential Note Hook"), &bytes).unwrap(),
            Event::Note(expected_mr_note())
        );
        let v = without(MR_OPEN, "object_kind");
        let bytes = serde_json::to_vec(&v).unwrap();
        let e = parse_event(Some(" Merge Request Hook "), &bytes).unwrap();
        assert_eq!(e, Event::MergeRequest(expected_mr_event("open", "opened")));
        let err = parse_event(None, &bytes).unwrap_err();
        assert!(
            matches!(&err, HookError::Missing { field, .. } if field == "object_kind"),
            "{err:?}"
        );
        assert!(parse_event(Some(""), &bytes).is_err());
    }

    /// Adds unknown fields (of several JSON types) to every object in `v`; returns how many objects.
    fn inject_unknown(v: &mut Value) -> usize {
        match v {
            Value::Object(map) => {
                let mut n = 1;
                for child in map.values_mut() {
                    n += inject_unknown(child);
                }
                map.insert(
                    "zz_unknown_object".into(),
                    serde_json::json!({"a": [1, "b", null], "c": {"d": true}}),
                );
                map.insert(
                    "zz_unknown_array".into(),
                    serde_json::json!([{"id": "x"}, 2.5]),
                );
                map.insert("zz_unknown_null".into(), Value::Null);
                n
            }
            Value::Array(items) => items.iter_mut().map(inject_unknown).sum(),
            _ => 0,
        }
    }

    #[test]
    fn unknown_fields_are_ignored_at_every_level() {
        let mut v = value(NOTE_MR);
        let objects = inject_unknown(&mut v);
        assert!(objects >= 12, "only {objects} objects");
        assert_eq!(parse_value(&v).unwrap(), Event::Note(expected_mr_note()));
        let mut v = value(MR_OPEN);
        inject_unknown(&mut v);
        assert_eq!(
            parse_value(&v).unwrap(),
            Event::MergeRequest(expected_mr_event("open", "opened"))
        );
    }

    #[test]
    fn missing_optional_fields_take_defaults() {
        let n = note(parse_value(&without(NOTE_MR, "merge_request.labels")).unwrap());
        assert_eq!(n.merge_request.unwrap().labels, Vec::<String>::new());
        let n = note(parse_value(&without(NOTE_MR, "merge_request.last_commit")).unwrap());
        assert_eq!(n.merge_request.unwrap().last_commit_sha, None);
        let n = note(parse_value(&without(NOTE_MR, "object_attributes.action")).unwrap());
        assert_eq!(n, expected_mr_note());
        let n = note(parse_value(&without(NOTE_MR, "object_attributes.system")).unwrap());
        assert_eq!(n, expected_mr_note());
        let n = note(parse_value(&without(NOTE_MR, "object_attributes.created_at")).unwrap());
        assert_eq!(n.created_at, None);
        let n = note(parse_value(&without(NOTE_MR, "merge_request.author_id")).unwrap());
        assert_eq!(n.merge_request.unwrap().author_id, None);
        let n = note(parse_value(&without(NOTE_MR, "merge_request.target_project_id")).unwrap());
        assert_eq!(n.merge_request.unwrap().project_id, 5);

        let m = mr_event(parse_value(&without(MR_OPEN, "object_attributes.action")).unwrap());
        assert_eq!(m, expected_mr_event("", "opened"));
        let m = mr_event(parse_value(&without(MR_OPEN, "object_attributes.labels")).unwrap());
        assert!(m.merge_request.labels.is_empty());
        let m = mr_event(parse_value(&without(MR_OPEN, "object_attributes.last_commit")).unwrap());
        assert_eq!(m.merge_request.last_commit_sha, None);
        let m = mr_event(parse_value(&without(MR_OPEN, "object_attributes.title")).unwrap());
        assert_eq!(m.merge_request.title, "");
    }

    #[test]
    fn nulls_and_wrong_types_in_optional_fields_are_tolerated() {
        let mut v = value(NOTE_MR);
        v["merge_request"]["labels"] = Value::Null;
        v["merge_request"]["last_commit"] = Value::Null;
        v["object_attributes"]["action"] = Value::Null;
        v["object_attributes"]["system"] = Value::Null;
        let mut expected = expected_mr_note();
        let mr = expected.merge_request.as_mut().unwrap();
        mr.labels.clear();
        mr.last_commit_sha = None;
        assert_eq!(parse_value(&v).unwrap(), Event::Note(expected));
        v["merge_request"]["labels"] = serde_json::json!("API");
        v["merge_request"]["author_id"] = serde_json::json!("8");
        let mr = note(parse_value(&v).unwrap()).merge_request.unwrap();
        assert!(mr.labels.is_empty());
        assert_eq!(mr.author_id, None);
    }

    #[test]
    fn fallbacks_for_project_and_user_ids() {
        // Notes carry a top-level project_id and object_attributes.author_id.
        assert_eq!(
            parse_value(&without(NOTE_MR, "project.id")).unwrap(),
            Event::Note(expected_mr_note())
        );
        assert_eq!(
            parse_value(&without(NOTE_MR, "user.id")).unwrap(),
            Event::Note(expected_mr_note())
        );
        let mut v = without(NOTE_MR, "user.id");
        v["object_attributes"]["author_id"] = Value::Null;
        let err = parse_value(&v).unwrap_err();
        assert!(
            matches!(&err, HookError::Missing { kind, field } if kind == "note" && field == "user.id"),
            "{err:?}"
        );
    }

    #[test]
    fn missing_required_fields_are_named() {
        let note_fields = [
            "object_attributes",
            "object_attributes.id",
            "object_attributes.note",
            "merge_request",
            "merge_request.iid",
            "merge_request.state",
            "merge_request.source_branch",
            "merge_request.target_branch",
            "user.username",
            "project.path_with_namespace",
        ];
        let mr_fields = [
            "object_attributes",
            "object_attributes.iid",
            "object_attributes.state",
            "object_attributes.source_branch",
            "object_attributes.target_branch",
            "user.id",
            "user.username",
            "project.id",
            "project.path_with_namespace",
        ];
        let cases = note_fields.iter().map(|f| (NOTE_MR, "note", *f));
        for (body, expected_kind, path) in
            cases.chain(mr_fields.iter().map(|f| (MR_OPEN, "merge_request", *f)))
        {
            let err = parse_value(&without(body, path)).unwrap_err();
            match &err {
                HookError::Missing { kind, field } => {
                    assert_eq!((kind.as_str(), field.as_str()), (expected_kind, path))
                }
                other => panic!("{path}: {other:?}"),
            }
            assert_eq!(
                err.to_string(),
                format!("a {expected_kind} event without {path}")
            );
        }
        // Whole objects gone, or a required field of the wrong type.
        let err = parse_value(&without(NOTE_MR, "user")).unwrap_err();
        assert!(
            matches!(&err, HookError::Missing { field, .. } if field == "user.username"),
            "{err:?}"
        );
        let mut v = value(MR_OPEN);
        v["object_attributes"]["iid"] = serde_json::json!("1");
        let err = parse_value(&v).unwrap_err();
        assert!(
            matches!(&err, HookError::Missing { field, .. } if field == "object_attributes.iid"),
            "{err:?}"
        );
    }

    #[test]
    fn bodies_that_are_not_json_objects() {
        for body in [
            &b""[..],
            b"not json",
            b"{\"object_kind\": \"note\"",
            b"\xff\xfe",
            b"[1, 2]",
            b"\"note\"",
            b"null",
        ] {
            let err = parse_event(Some("Note Hook"), body).unwrap_err();
            assert!(matches!(err, HookError::NotJson(_)), "{body:?}: {err:?}");
            assert!(err.to_string().starts_with("the body is not JSON: "));
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn delivery_key_precedence() {
        let n = parse(NOTE_MR).unwrap();
        let both = headers(&[
            ("X-Gitlab-Event-UUID", "uuid-1"),
            ("Idempotency-Key", "idem-1"),
        ]);
        assert_eq!(delivery_key(&both, &n).as_deref(), Some("idem-1"));
        let lower = headers(&[
            ("x-gitlab-event-uuid", "uuid-1"),
            ("idempotency-key", "idem-1"),
        ]);
        assert_eq!(delivery_key(&lower, &n).as_deref(), Some("idem-1"));
        let uuid = headers(&[("X-GITLAB-EVENT-UUID", "uuid-1"), ("Idempotency-Key", " ")]);
        assert_eq!(delivery_key(&uuid, &n).as_deref(), Some("uuid-1"));
        let unrelated = headers(&[("X-Gitlab-Event", "Note Hook")]);
        assert_eq!(
            delivery_key(&unrelated, &n).as_deref(),
            Some("note:5:1244:create")
        );
        let edited = parse(fixture!("note_merge_request_update")).unwrap();
        assert_eq!(
            delivery_key(&[], &edited).as_deref(),
            Some("note:5:1244:update")
        );

        let m = parse(fixture!("merge_request_approved")).unwrap();
        assert_eq!(
            delivery_key(&[], &m).as_deref(),
            Some("mr:1:1:approved:da1560886d4f094c3e6c9ef40349f7d38b5d27d7:1")
        );
        assert_eq!(delivery_key(&uuid, &m).as_deref(), Some("uuid-1"));
        let m = parse_value(&without(MR_OPEN, "object_attributes.last_commit")).unwrap();
        assert_eq!(delivery_key(&[], &m).as_deref(), Some("mr:1:1:open::1"));

        let push = parse(fixture!("push")).unwrap();
        assert_eq!(delivery_key(&[], &push), None);
        assert_eq!(delivery_key(&both, &push).as_deref(), Some("idem-1"));
    }
}
