//! Unified diffs of edited files, as `git diff` prints them (`a/`/`b/`, 3 lines of context),
//! and what a diff of rendered manifests means in objects. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use similar::TextDiff;

use crate::health::qualified;
use crate::objects;

pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// What changed between two renders, in a few words: the one object that changed
/// (`ConfigMap hello/a`), `N objects changed`, `formatting only`, or `changed` when neither
/// is readable as objects (objects keyed by kind/namespace/name).
pub fn objects_changed(old: &str, new: &str) -> String {
    let index = |text: &str| -> BTreeMap<String, Value> {
        objects::parse(text, "render")
            .unwrap_or_default()
            .into_iter()
            .map(|o| {
                (
                    format!("{} {}", o.kind(), qualified(o.namespace(), o.name())),
                    o.value,
                )
            })
            .collect()
    };
    let (a, b) = (index(old), index(new));
    if a.is_empty() && b.is_empty() {
        return "changed".into();
    }
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let changed: Vec<&str> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(String::as_str)
        .collect();
    match changed.as_slice() {
        [] => "formatting only".into(),
        [one] => one.to_string(),
        many => format!("{} objects changed", many.len()),
    }
}

/// An object as YAML without the fields the server manages, to compare what is live with
/// what would be applied, as `kubectl diff` does.
pub fn comparable(object: &Value) -> String {
    let mut o = object.clone();
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(key);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if let Some(map) = o.as_object_mut() {
        map.remove("status");
    }
    yaml_serde::to_string(&o).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_has_git_style_headers_and_context() {
        let d = unified_diff("x.yaml", "a\nb\nc\n", "a\nB\nc\n");
        assert_eq!(
            d,
            "--- a/x.yaml\n+++ b/x.yaml\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        );
    }

    #[test]
    fn missing_final_newline_is_marked() {
        let d = unified_diff("x.yaml", "a: 1", "a: 2");
        assert!(d.contains("\\ No newline at end of file"), "{d}");
    }

    #[test]
    fn summaries_name_the_changed_objects() {
        let old = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: '1'}\n";
        let new = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: '2'}\n";
        assert_eq!(objects_changed(old, new), "ConfigMap a");
        assert_eq!(objects_changed(old, old), "formatting only");
        assert_eq!(objects_changed("", "not yaml: ["), "changed");
    }

    #[test]
    fn server_fields_are_not_compared() {
        let live = serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "7", "managedFields": []}, "status": {"x": 1}});
        assert_eq!(comparable(&live), "kind: ConfigMap\nmetadata:\n  name: a\n");
    }
}
