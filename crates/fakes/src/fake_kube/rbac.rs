//! Authorization: deny rules a test adds with `FakeKube::forbid`.
//!
//! Simulates RBAC's answer to a denied request: 403 `Forbidden` with the real
//! message form, e.g. `applications.argoproj.io "helloworld" is forbidden:
//! User "system:serviceaccount:gitops:gitops-bot" cannot patch resource
//! "applications" in API group "argoproj.io" in the namespace "argocd"`, or
//! `pods is forbidden: User "…" cannot list resource "pods" in API group ""
//! at the cluster scope` for a request without a name. Like the real request
//! decoder, a list or watch with a `metadata.name=` field selector is named.
//! Checks happen before the object is looked up, so a denied request for a
//! missing object is 403, not 404 (as on a real server).
//!
//! Does not simulate: roles, bindings, `resourceNames`, or allow rules —
//! everything is allowed unless a deny rule matches.

use super::kinds::Kind;
use super::status::{ApiError, status};

/// One deny rule; `None` namespace denies in every namespace and at the
/// cluster scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub verb: String,
    pub group: String,
    /// A plural (`applications`) or plural/subresource (`deployments/status`).
    pub resource: String,
    pub namespace: Option<String>,
}

/// What a request asks to do, as an authorizer sees it.
pub(crate) struct Attributes<'a> {
    pub verb: &'a str,
    pub kind: &'a Kind,
    pub subresource: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

impl Attributes<'_> {
    fn resource(&self) -> String {
        match self.subresource {
            Some(sub) => format!("{}/{}", self.kind.plural, sub),
            None => self.kind.plural.to_string(),
        }
    }
}

fn matches(rule: &Rule, a: &Attributes<'_>) -> bool {
    (rule.verb == a.verb || rule.verb == "*")
        && rule.group == a.kind.group
        && (rule.resource == a.resource() || rule.resource == "*")
        && match (&rule.namespace, a.namespace) {
            (None, _) => true,
            (Some(r), Some(ns)) => r == ns,
            (Some(_), None) => false,
        }
}

/// `Err(403)` when a rule in `rules` denies `a` to `user`.
pub(crate) fn check(rules: &[Rule], user: &str, a: &Attributes<'_>) -> Result<(), ApiError> {
    if !rules.iter().any(|r| matches(r, a)) {
        return Ok(());
    }
    let scope = match a.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let why = format!(
        "User \"{user}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
        a.verb,
        a.resource(),
        a.kind.group
    );
    let subject = a.kind.qualified_plural();
    let message = match a.name.filter(|n| !n.is_empty()) {
        Some(name) => format!("{subject} \"{name}\" is forbidden: {why}"),
        None => format!("{subject} is forbidden: {why}"),
    };
    Err(status(
        403,
        "Forbidden",
        &message,
        Some(super::status::details(a.kind, a.name)),
    ))
}
