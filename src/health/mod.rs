//! Health assessment: pure functions from an object's JSON (as the API server returns it) to
//! a verdict, one module per kind, as gitops-engine's `pkg/health` does. Nothing here talks
//! to a cluster or reads the clock; the waiting, and its timeout, belong to the caller.
//!
//! Every assessment checks that the controller has seen the current spec
//! (`observedGeneration`) and the revision being deployed before it trusts any condition,
//! because right after a change every status still describes the previous revision.

pub mod argocd;
pub mod flux;
pub mod pods;
pub mod rollout;

use serde::Serialize;
use serde_json::Value;

/// Where an object stands on the way to the deployed revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Not there yet; keep waiting.
    Pending,
    /// The revision is deployed and healthy.
    Healthy,
    /// The deploy failed; waiting longer will not help.
    Failed,
}

/// One assessment of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub verdict: Verdict,
    /// Sync status as the controller words it (`Synced`, `OutOfSync`, `Applied`…), if any.
    pub sync: Option<String>,
    /// Health as the controller words it (`Healthy`, `Progressing`, `Degraded`, `Ready`…);
    /// empty while the controller has not picked up the request yet, when the status it
    /// shows still describes the state from before the request.
    pub health: String,
    /// What a person needs to read: why it waits or why it failed.
    pub message: String,
}

impl Assessment {
    pub fn pending(sync: Option<&str>, health: &str, message: impl Into<String>) -> Self {
        Self::new(Verdict::Pending, sync, health, message)
    }

    pub fn healthy(sync: Option<&str>, health: &str, message: impl Into<String>) -> Self {
        Self::new(Verdict::Healthy, sync, health, message)
    }

    pub fn failed(sync: Option<&str>, health: &str, message: impl Into<String>) -> Self {
        Self::new(Verdict::Failed, sync, health, message)
    }

    fn new(verdict: Verdict, sync: Option<&str>, health: &str, message: impl Into<String>) -> Self {
        Assessment {
            verdict,
            sync: sync.map(str::to_string),
            health: health.to_string(),
            message: message.into(),
        }
    }

    /// A request the controller has not picked up yet: the object's status still describes
    /// what was there before, so none of it is reported.
    pub fn waiting(message: impl Into<String>) -> Self {
        Self::new(Verdict::Pending, None, "", message)
    }

    /// The object is gone (deleted while waiting, or never there).
    pub fn missing(what: &str) -> Self {
        Self::failed(None, "Missing", format!("{what} does not exist"))
    }
}

/// One resource, as the sync result table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRow {
    pub kind: String,
    /// `namespace/name`, or `name` for cluster-scoped resources.
    pub name: String,
    pub namespace: Option<String>,
    pub sync: Option<String>,
    pub health: Option<String>,
    pub message: String,
}

impl ResourceRow {
    /// The row of `kind` `namespace/name`, with what `assessment` (if any) says of it.
    pub fn new(
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        assessment: Option<&Assessment>,
    ) -> Self {
        ResourceRow {
            kind: kind.to_string(),
            name: qualified(namespace, name),
            namespace: namespace.map(str::to_string),
            sync: assessment.and_then(|a| a.sync.clone()),
            health: assessment
                .map(|a| a.health.clone())
                .filter(|h| !h.is_empty()),
            message: assessment.map(|a| a.message.clone()).unwrap_or_default(),
        }
    }
}

/// `namespace/name`, or `name` for cluster-scoped objects: how every message names an
/// object.
pub fn qualified(namespace: Option<&str>, name: &str) -> String {
    match namespace.filter(|ns| !ns.is_empty()) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// Whether `revision` (as a controller records it: a SHA, `main@sha1:<sha>`,
/// `1.2.0+<sha12>`) names `commit`. Both sides are compared in lower case on at least 12
/// hex digits, so a short SHA in one place still matches the full one in the other.
pub fn names_commit(revision: &str, commit: &str) -> bool {
    let commit = commit.trim().to_ascii_lowercase();
    let revision = revision.to_ascii_lowercase();
    if commit.len() < 7 {
        return false;
    }
    if revision.contains(&commit) {
        return true;
    }
    // A recorded short SHA (≥ 12 digits, as Flux puts in chart versions) of our commit.
    revision
        .split(|c: char| !c.is_ascii_hexdigit())
        .any(|word| word.len() >= 12 && commit.starts_with(word))
}

/// `obj[a][b]…` as a string.
pub(crate) fn text<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(obj, |v, key| v.get(key))?.as_str()
}

/// `obj[a][b]…` as an integer.
pub(crate) fn int(obj: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(obj, |v, key| v.get(key))?.as_i64()
}

/// The condition of `type_` in `status.conditions`.
pub(crate) fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.get("status")?
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// Whether the controller has seen the object's current spec.
pub(crate) fn generation_observed(obj: &Value) -> bool {
    match (
        int(obj, &["metadata", "generation"]),
        int(obj, &["status", "observedGeneration"]),
    ) {
        (Some(generation), Some(observed)) => observed >= generation,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_name_commits_in_every_spelling() {
        let sha = "7b54f4dc3e7e0e4a9d3c2b1a0f9e8d7c6b5a4f3e";
        assert!(names_commit(sha, sha));
        assert!(names_commit(&format!("main@sha1:{sha}"), sha));
        assert!(names_commit("1.2.0+7b54f4dc3e7e", sha));
        assert!(names_commit(&sha.to_uppercase(), sha));
        assert!(!names_commit(
            "main@sha1:0000000000000000000000000000000000000000",
            sha
        ));
        assert!(!names_commit("1.2.0+7b54f4", sha), "too short to be sure");
        assert!(!names_commit("", sha));
        assert!(!names_commit(sha, ""));
    }

    #[test]
    fn rows_show_what_the_assessment_knows() {
        let row = ResourceRow::new(
            "Deployment",
            Some("hello"),
            "web",
            Some(&Assessment::pending(
                Some("Applied"),
                "Progressing",
                "1 of 2 updated",
            )),
        );
        assert_eq!(
            row,
            ResourceRow {
                kind: "Deployment".into(),
                name: "hello/web".into(),
                namespace: Some("hello".into()),
                sync: Some("Applied".into()),
                health: Some("Progressing".into()),
                message: "1 of 2 updated".into(),
            }
        );
        let unknown = ResourceRow::new("Service", None, "web", Some(&Assessment::waiting("")));
        assert_eq!((unknown.name.as_str(), unknown.health), ("web", None));
    }

    #[test]
    fn generation_is_observed_only_when_the_status_caught_up() {
        let obj =
            serde_json::json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 2}});
        assert!(!generation_observed(&obj));
        let obj =
            serde_json::json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 3}});
        assert!(generation_observed(&obj));
        assert!(!generation_observed(
            &serde_json::json!({"metadata": {"generation": 1}})
        ));
    }
}
