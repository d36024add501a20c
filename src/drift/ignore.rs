//! `drift.ignore`: the fields a direct-apply comparison skips, in the shape of Flux's
//! `spec.driftDetection.ignore` rules: `paths` (JSON pointers, RFC 6901) and an optional
//! `target` selecting objects by `group`, `version`, `kind`, `name` and `namespace`. As in
//! Flux (`fluxcd/pkg/ssa/jsondiff`'s `SelectorRegex`, copied from kustomize's selector),
//! each is a regular expression anchored to the whole value (`^(?:…)$`: `web` selects `web`
//! only, `web-.*` every `web-…`), and one that is absent or empty matches anything. A path
//! skips its subtree, on both sides, as Argo CD's `ignoreDifferences.jsonPointers` do.
//! Pure: the rules come from `.gitops-bot.yaml`, the object from the renderer.
//!
//! Not supported (refused when the file is read, with its line): Flux's `labelSelector` /
//! `annotationSelector` and Argo CD's `jqPathExpressions` / `managedFieldsManagers`. A
//! selector that is not a regular expression is refused the same way.

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

/// One rule of `drift.ignore`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreRule {
    pub paths: Vec<Pointer>,
    #[serde(default)]
    pub target: Option<Target>,
}

/// Which objects a rule applies to; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub group: Option<Pattern>,
    pub version: Option<Pattern>,
    pub kind: Option<Pattern>,
    pub name: Option<Pattern>,
    pub namespace: Option<Pattern>,
}

/// A selector's regular expression, anchored as Flux and kustomize anchor it (`^(?:…)$`);
/// empty matches anything.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Pattern {
    text: String,
    /// `None` for the empty pattern.
    regex: Option<Regex>,
}

impl Pattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `value` matches the whole pattern.
    pub fn matches(&self, value: &str) -> bool {
        self.regex.as_ref().is_none_or(|r| r.is_match(value))
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

impl TryFrom<String> for Pattern {
    type Error = String;

    fn try_from(text: String) -> Result<Pattern, String> {
        if text.is_empty() {
            return Ok(Pattern { text, regex: None });
        }
        match Regex::new(&format!("^(?:{text})$")) {
            Ok(regex) => Ok(Pattern {
                text,
                regex: Some(regex),
            }),
            Err(e) => {
                // The crate's message draws the pattern over several lines; its last line
                // says what is wrong.
                let why = e.to_string();
                let why = why
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or_default()
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string();
                Err(format!(
                    "{text:?} is not a regular expression ({why}); target selectors are regular expressions matched against the whole value, as in Flux"
                ))
            }
        }
    }
}

/// A JSON pointer: empty is refused (it would skip the whole object; leave the object out of
/// Git instead), anything else must start with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Pointer(String);

impl Pointer {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Pointer {
    type Error = String;

    fn try_from(s: String) -> Result<Pointer, String> {
        if s.starts_with('/') && s.len() > 1 {
            Ok(Pointer(s))
        } else {
            Err(format!(
                "{s:?} is not a JSON pointer to a field (it starts with /, e.g. /spec/replicas)"
            ))
        }
    }
}

impl Target {
    /// Whether the object (as rendered, in `namespace`) is selected.
    fn selects(&self, object: &Value, namespace: Option<&str>) -> bool {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let text = |field: &str| object.pointer(field).and_then(Value::as_str);
        // As Flux: an absent value (a cluster-scoped object's namespace) is matched as "".
        let is = |want: &Option<Pattern>, have: Option<&str>| {
            want.as_ref().is_none_or(|w| w.matches(have.unwrap_or("")))
        };
        is(&self.group, Some(group))
            && is(&self.version, Some(version))
            && is(&self.kind, text("/kind"))
            && is(&self.name, text("/metadata/name"))
            && is(&self.namespace, namespace)
    }
}

/// The pointers `rules` skip for `object` (as rendered; `namespace` is where it lives, its
/// own or the default one, `None` for cluster-scoped objects).
pub fn ignored_paths(rules: &[IgnoreRule], object: &Value, namespace: Option<&str>) -> Vec<String> {
    rules
        .iter()
        .filter(|r| {
            r.target
                .as_ref()
                .is_none_or(|t| t.selects(object, namespace))
        })
        .flat_map(|r| r.paths.iter().map(|p| p.as_str().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules(yaml: &str) -> Vec<IgnoreRule> {
        yaml_serde::from_str(yaml).unwrap()
    }

    #[test]
    fn rules_select_by_target_fields() {
        let rules = rules(
            "- paths: [/spec/replicas]\n  target: {kind: Deployment, group: apps}\n\
             - paths: [/data/level]\n  target: {kind: ConfigMap, name: web, namespace: hello}\n\
             - paths: [/metadata/annotations/note]\n",
        );
        let deployment =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
        assert_eq!(
            ignored_paths(&rules, &deployment, Some("hello")),
            ["/spec/replicas", "/metadata/annotations/note"]
        );
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}});
        assert_eq!(
            ignored_paths(&rules, &cm, Some("hello")),
            ["/data/level", "/metadata/annotations/note"]
        );
        assert_eq!(
            ignored_paths(&rules, &cm, Some("other")),
            ["/metadata/annotations/note"]
        );
        let core_deployment =
            json!({"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "web"}});
        assert_eq!(
            ignored_paths(&rules, &core_deployment, None),
            ["/metadata/annotations/note"],
            "group apps does not select the core group"
        );
    }

    #[test]
    fn target_fields_are_regular_expressions_anchored_to_the_whole_value() {
        let rules = rules(
            "- paths: [/a]\n  target: {name: web}\n\
             - paths: [/b]\n  target: {name: 'web-.*', namespace: 'prod|staging'}\n\
             - paths: [/c]\n  target: {kind: 'Deploy.*|StatefulSet', group: apps, version: 'v1'}\n\
             - paths: [/d]\n  target: {group: '', kind: ''}\n\
             - paths: [/e]\n  target: {namespace: 'prod'}\n",
        );
        let object = |api_version: &str, kind: &str, name: &str| json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        let paths = |o: &Value, ns: Option<&str>| ignored_paths(&rules, o, ns);
        // `web` is `^(?:web)$`: not a substring match, not `web-api`, not `my-web`.
        assert_eq!(
            paths(&object("v1", "ConfigMap", "web"), Some("prod")),
            ["/a", "/d", "/e"]
        );
        assert_eq!(
            paths(&object("v1", "ConfigMap", "web-api"), Some("prod")),
            ["/b", "/d", "/e"]
        );
        assert_eq!(
            paths(&object("v1", "ConfigMap", "my-web"), Some("staging")),
            ["/d"]
        );
        // The alternation is inside the group: `prod|staging` does not select `prod-eu`.
        assert_eq!(
            paths(&object("v1", "ConfigMap", "web-api"), Some("prod-eu")),
            ["/d"]
        );
        assert_eq!(
            paths(&object("apps/v1", "Deployment", "x"), Some("dev")),
            ["/c", "/d"]
        );
        assert_eq!(
            paths(&object("apps/v1", "StatefulSet", "x"), Some("dev")),
            ["/c", "/d"]
        );
        assert_eq!(
            paths(&object("apps/v1beta2", "Deployment", "x"), Some("dev")),
            ["/d"],
            "version v1 is anchored"
        );
        // A cluster-scoped object has no namespace: a namespace selector does not select it.
        assert_eq!(paths(&object("v1", "Namespace", "prod"), None), ["/d"]);
    }

    #[test]
    fn a_selector_that_is_not_a_regular_expression_is_refused() {
        let err = yaml_serde::from_str::<Vec<IgnoreRule>>(
            "- paths: [/x]\n  target: {name: 'web-[0-9'}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("\"web-[0-9\" is not a regular expression (unclosed character class)"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn bad_pointers_and_unsupported_selectors_are_refused() {
        let err = yaml_serde::from_str::<Vec<IgnoreRule>>("- paths: [spec/replicas]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"spec/replicas\" is not a JSON pointer"),
            "{err}"
        );
        assert!(yaml_serde::from_str::<Vec<IgnoreRule>>("- paths: ['']\n").is_err());
        let err = yaml_serde::from_str::<Vec<IgnoreRule>>(
            "- paths: [/x]\n  target: {labelSelector: app=web}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("labelSelector"), "{err}");
    }
}
