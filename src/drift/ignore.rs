//! `drift.ignore`: the fields a direct-apply comparison skips, in the shape of Flux's
//! `spec.driftDetection.ignore` rules: `paths` (JSON pointers, RFC 6901) and an optional
//! `target` selecting objects by `group`, `version`, `kind`, `name` and `namespace` (each
//! compared exactly; what is not given matches any). A path skips its subtree, on both
//! sides, as Argo CD's `ignoreDifferences.jsonPointers` do. Pure: the rules come from
//! `.gitops-bot.yaml`, the object from the renderer.
//!
//! Not supported (refused when the file is read, with its line): Flux's `labelSelector` /
//! `annotationSelector` and Argo CD's `jqPathExpressions` / `managedFieldsManagers`.

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
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
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
        let is = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| Some(w) == have)
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
