//! Direct-apply drift: one rendered object (what Git sets) against the live object (what the
//! API server returns), field by field over the fields Git sets. Pure: both objects come in
//! as JSON; nothing here reads the cluster.
//!
//! What is compared, and what is not:
//! - only fields present in Git: a field the server added (defaults, annotations and labels
//!   of controllers, `status`) is never compared, and an extra live field is not drift;
//! - never the server-owned fields [`SERVER_FIELDS`], even when a manifest sets them, nor
//!   the identity the live object was found by ([`IDENTITY_FIELDS`]: list items often
//!   carry no `apiVersion`/`kind`, and the namespace may be the default one);
//! - maps key by key, lists element by element when both have the same length (a list of
//!   another length differs as a whole), numbers by value (`1` = `1.0`); under `resources`,
//!   `limits`, `requests` and `hard`, quantities by value, as the server normalises them
//!   (`cpu: 0.5` is stored as `500m`, `cpu: 1` as `"1"`);
//! - a `null`, empty map or empty list in Git is "not set" and equals an absent live field;
//! - a Secret's `stringData` is compared as the `data` the server stores it as (base64);
//! - the paths of [`super::ignore`] rules are skipped, subtrees included.
//!
//! [`compare_served`] is the `--deep` comparison: what the server's dry-run apply of the Git
//! object returned (defaults and mutating webhooks applied) against the live object, over
//! every field of either side (still skipping the server-owned fields, the identity and the
//! ignored paths): both come from the server, so a field only one of them has is drift.
//!
//! Masking happens here, as each difference is made: in a Secret no value is ever kept, only
//! the path (which names the key), so no later step can leak one.

use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};

/// Differences listed per object; the rest are counted.
pub const MAX_DIFFERENCES: usize = 10;
/// Characters of a shown value (JSON text); longer ones end with `…`.
pub const MAX_VALUE_CHARS: usize = 120;

/// Fields the server owns (JSON pointers): never compared.
pub const SERVER_FIELDS: &[&str] = &[
    "/status",
    "/metadata/managedFields",
    "/metadata/resourceVersion",
    "/metadata/uid",
    "/metadata/generation",
    "/metadata/creationTimestamp",
    "/metadata/deletionTimestamp",
    "/metadata/deletionGracePeriodSeconds",
    "/metadata/selfLink",
    "/metadata/ownerReferences",
];

/// What the live object was found by: not compared.
pub const IDENTITY_FIELDS: &[&str] = &[
    "/apiVersion",
    "/kind",
    "/metadata/name",
    "/metadata/namespace",
];

/// One field that differs, at a JSON pointer. `git`/`live` are the values as compact JSON
/// (capped), `None` when absent or masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub path: String,
    pub git: Option<String>,
    pub live: Option<String>,
    /// The values are withheld (a Secret's): only the path is shown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub masked: bool,
}

/// How one object differs from Git.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectDrift {
    /// The object does not exist in the cluster.
    pub missing: bool,
    /// At most [`MAX_DIFFERENCES`], keys in sorted order.
    pub differences: Vec<Difference>,
    /// How many more differ than are listed.
    pub not_shown: usize,
}

impl ObjectDrift {
    /// One line: `missing from the cluster`, `differs at /spec/replicas, /data/password`
    /// (`… and 3 more`). Paths only: no value, so it is safe for Secrets too.
    pub fn reason(&self) -> String {
        if self.missing {
            return "missing from the cluster".into();
        }
        let paths: Vec<&str> = self.differences.iter().map(|d| d.path.as_str()).collect();
        let more = match self.not_shown {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        format!("differs at {}{more}", paths.join(", "))
    }
}

/// `differences` as the body of a `diff` block: per path an `@@ /path @@` line, then `-`
/// Git's value and `+` the live one (`(absent)` when there is none); a masked path says
/// so instead of showing values. `not_shown` more paths are counted in a last line.
pub fn diff_text(differences: &[Difference], not_shown: usize) -> String {
    let mut out = String::new();
    for d in differences {
        if d.masked {
            out.push_str(&format!(
                "@@ {} @@ differs (a Secret: values are not shown)\n",
                d.path
            ));
            continue;
        }
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        out.push_str(&format!(
            "@@ {} @@\n- {}\n+ {}\n",
            d.path,
            shown(&d.git),
            shown(&d.live)
        ));
    }
    if not_shown > 0 {
        out.push_str(&format!(
            "@@ … @@ {} not listed\n",
            crate::plural::count(not_shown, "more path")
        ));
    }
    out
}

/// Whether `object` (as rendered or as read) is a core `Secret`.
pub fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// How `live` differs from `git` over the fields `git` sets, skipping the `ignored`
/// JSON pointers (and their subtrees); `None` when it does not.
pub fn compare(git: &Value, live: Option<&Value>, ignored: &[String]) -> Option<ObjectDrift> {
    let Some(live) = live else {
        return Some(ObjectDrift {
            missing: true,
            ..ObjectDrift::default()
        });
    };
    let secret = is_secret(git);
    let git = if secret {
        secret_as_stored(git)
    } else {
        git.clone()
    };
    walk(&git, Some(live), ignored, secret, false)
}

/// `--deep`: how `live` differs from `served`, the server's dry-run apply of the Git object,
/// over every field either of them sets (the server-owned fields, the identity and the
/// `ignored` pointers excepted); `None` when it does not. A missing live object is drift.
pub fn compare_served(
    served: &Value,
    live: Option<&Value>,
    ignored: &[String],
) -> Option<ObjectDrift> {
    let Some(live) = live else {
        return Some(ObjectDrift {
            missing: true,
            ..ObjectDrift::default()
        });
    };
    walk(served, Some(live), ignored, is_secret(served), true)
}

fn walk(
    git: &Value,
    live: Option<&Value>,
    ignored: &[String],
    masked: bool,
    both_sides: bool,
) -> Option<ObjectDrift> {
    let mut walk = Walk {
        ignored,
        masked,
        both_sides,
        found: ObjectDrift::default(),
    };
    walk.value("", Some(git), live);
    let found = walk.found;
    (!found.differences.is_empty()).then_some(found)
}

struct Walk<'a> {
    ignored: &'a [String],
    masked: bool,
    /// Compare the fields only `live` sets too (`--deep`), not only those of `git`.
    both_sides: bool,
    found: ObjectDrift,
}

impl Walk<'_> {
    fn value(&mut self, path: &str, git: Option<&Value>, live: Option<&Value>) {
        if self.skipped(path) {
            return;
        }
        let Some(git) = git.filter(|g| !is_unset(g)) else {
            if let Some(l) = live.filter(|l| self.both_sides && !is_unset(l)) {
                self.differs(path, None, Some(l));
            }
            return;
        };
        match (git, live) {
            (Value::Object(g), None) => self.object(path, g, None),
            (Value::Object(g), Some(Value::Object(l))) => self.object(path, g, Some(l)),
            (Value::Array(g), Some(Value::Array(l))) if g.len() == l.len() => {
                for (i, (g, l)) in g.iter().zip(l).enumerate() {
                    self.value(&format!("{path}/{i}"), Some(g), Some(l));
                }
            }
            (g, Some(l)) if same_scalar(g, l) || same_quantity(path, g, l) => {}
            (g, l) => self.differs(path, Some(g), l),
        }
    }

    fn object(&mut self, path: &str, git: &Map<String, Value>, live: Option<&Map<String, Value>>) {
        let mut keys: Vec<&String> = git.keys().collect();
        if self.both_sides {
            let only_live = live.into_iter().flatten().map(|(key, _)| key);
            keys.extend(only_live.filter(|key| !git.contains_key(*key)));
            keys.sort();
        }
        for key in keys {
            self.value(
                &format!("{path}/{}", escape(key)),
                git.get(key),
                live.and_then(|l| l.get(key)),
            );
        }
    }

    fn skipped(&self, path: &str) -> bool {
        let under = |pointer: &str| {
            path == pointer
                || path
                    .strip_prefix(pointer)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        SERVER_FIELDS
            .iter()
            .chain(IDENTITY_FIELDS)
            .any(|p| under(p))
            || self.ignored.iter().any(|p| under(p))
    }

    fn differs(&mut self, path: &str, git: Option<&Value>, live: Option<&Value>) {
        if self.found.differences.len() >= MAX_DIFFERENCES {
            self.found.not_shown += 1;
            return;
        }
        let shown = |v: Option<&Value>| {
            if self.masked {
                None
            } else {
                v.filter(|v| !v.is_null()).map(capped)
            }
        };
        self.found.differences.push(Difference {
            path: path.to_string(),
            git: shown(git),
            live: shown(live),
            masked: self.masked,
        });
    }
}

/// `null`, `{}` and `[]` set nothing.
fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn same_scalar(git: &Value, live: &Value) -> bool {
    match (git, live) {
        (Value::Number(g), Value::Number(l)) => g == l || g.as_f64() == l.as_f64(),
        _ => git == live,
    }
}

/// Under a quantity map (`…/resources/…`, `…/limits/…`, `…/requests/…`, `…/hard/…`),
/// whether `git` and `live` are the same quantity (`0.5` = `"500m"`, `1` = `"1"`, `1Gi` =
/// `1073741824`).
fn same_quantity(path: &str, git: &Value, live: &Value) -> bool {
    const MAPS: &[&str] = &["/resources/", "/limits/", "/requests/", "/hard/"];
    if !MAPS.iter().any(|m| path.contains(m)) {
        return false;
    }
    match (quantity(git), quantity(live)) {
        (Some(g), Some(l)) => (g - l).abs() <= f64::EPSILON * g.abs().max(l.abs()).max(1.0),
        _ => false,
    }
}

/// A Kubernetes quantity (`500m`, `1.5`, `2Gi`, `1e3`) as a number; `None` when it is not one.
fn quantity(v: &Value) -> Option<f64> {
    let text = match v {
        Value::Number(n) => return n.as_f64(),
        Value::String(s) => s.trim(),
        _ => return None,
    };
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, factor)| text.strip_suffix(suffix).map(|n| (n, *factor)))
        .unwrap_or((text, 1.0));
    let starts_numeric = number
        .trim_start_matches(['+', '-'])
        .starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if !starts_numeric {
        return None;
    }
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// A Secret as the API server stores it: `stringData` merged into `data`, base64-encoded
/// (`stringData` wins, as on the server).
fn secret_as_stored(secret: &Value) -> Value {
    let mut out = secret.clone();
    let Some(obj) = out.as_object_mut() else {
        return out;
    };
    let Some(Value::Object(strings)) = obj.remove("stringData") else {
        return out;
    };
    let data = obj
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in strings {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(
                key,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
    out
}

/// A JSON pointer segment (RFC 6901): `~` is `~0`, `/` is `~1`.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A value as compact JSON, at most [`MAX_VALUE_CHARS`] characters.
fn capped(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(replicas: u64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "hello", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "web", "image": image, "ports": [{"containerPort": 80}]}
            ]}}},
        })
    }

    /// `git` as a server returns it: defaults, server fields, controller labels, status.
    fn as_served(git: &Value) -> Value {
        let mut live = git.clone();
        live["metadata"]["uid"] = json!("u-1");
        live["metadata"]["resourceVersion"] = json!("1001");
        live["metadata"]["generation"] = json!(4);
        live["metadata"]["creationTimestamp"] = json!("2026-11-27T10:00:00Z");
        live["metadata"]["managedFields"] = json!([{"manager": "gitops-bot"}]);
        live["metadata"]["labels"]["pod-template-hash"] = json!("abc");
        live["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "3"});
        live["spec"]["strategy"] = json!({"type": "RollingUpdate"});
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
        live["status"] = json!({"replicas": 2});
        live
    }

    fn paths(d: &ObjectDrift) -> Vec<&str> {
        d.differences.iter().map(|d| d.path.as_str()).collect()
    }

    #[test]
    fn server_fields_defaults_and_extra_live_fields_are_not_drift() {
        let git = deployment(2, "web:1");
        assert_eq!(compare(&git, Some(&as_served(&git)), &[]), None);
        // A list item without apiVersion/kind, found in the default namespace.
        let mut item = as_served(&git);
        let meta = item.as_object_mut().unwrap();
        meta.remove("apiVersion");
        meta.remove("kind");
        item["metadata"]["namespace"] = json!("default");
        assert_eq!(compare(&git, Some(&item), &[]), None);
    }

    #[test]
    fn a_changed_field_is_named_by_its_pointer_with_both_values() {
        let git = deployment(2, "web:1");
        let mut live = as_served(&git);
        live["spec"]["replicas"] = json!(5);
        live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:2");
        let drift = compare(&git, Some(&live), &[]).unwrap();
        assert_eq!(
            drift.differences,
            [
                Difference {
                    path: "/spec/replicas".into(),
                    git: Some("2".into()),
                    live: Some("5".into()),
                    masked: false,
                },
                Difference {
                    path: "/spec/template/spec/containers/0/image".into(),
                    git: Some("\"web:1\"".into()),
                    live: Some("\"web:2\"".into()),
                    masked: false,
                },
            ]
        );
        assert_eq!(
            drift.reason(),
            "differs at /spec/replicas, /spec/template/spec/containers/0/image"
        );
    }

    #[test]
    fn absent_live_fields_lists_of_another_length_and_missing_objects() {
        let git = deployment(2, "web:1");
        let mut live = as_served(&git);
        live["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app");
        live["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "sidecar"}));
        let drift = compare(&git, Some(&live), &[]).unwrap();
        assert_eq!(
            paths(&drift),
            ["/metadata/labels/app", "/spec/template/spec/containers"]
        );
        assert_eq!(drift.differences[0].live, None);
        assert_eq!(
            compare(&git, None, &[]).map(|d| d.reason()).as_deref(),
            Some("missing from the cluster")
        );
    }

    #[test]
    fn unset_values_numbers_and_escaped_keys() {
        let git = json!({"metadata": {"annotations": {"a/b~c": "x"}, "labels": {}},
                         "spec": {"ratio": 1, "gone": null, "list": []}});
        let live = json!({"metadata": {"annotations": {"a/b~c": "y"}}, "spec": {"ratio": 1.0}});
        let drift = compare(&git, Some(&live), &[]).unwrap();
        assert_eq!(paths(&drift), ["/metadata/annotations/a~1b~0c"]);
    }

    #[test]
    fn quantities_compare_by_value_under_resources_only() {
        let git = json!({"spec": {"containers": [{"resources": {
            "limits": {"cpu": 1, "memory": "1Gi"}, "requests": {"cpu": 0.5, "memory": "512Mi"}}}]},
            "data": {"size": 1}});
        let live = json!({"spec": {"containers": [{"resources": {
            "limits": {"cpu": "1", "memory": "1073741824"}, "requests": {"cpu": "500m", "memory": "512Mi"}}}]},
            "data": {"size": "1"}});
        let drift = compare(&git, Some(&live), &[]).unwrap();
        assert_eq!(
            paths(&drift),
            ["/data/size"],
            "not a quantity outside resources"
        );
        let mut more = live.clone();
        more["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("600m");
        let drift = compare(&git, Some(&more), &[]).unwrap();
        assert_eq!(
            paths(&drift),
            ["/data/size", "/spec/containers/0/resources/requests/cpu"]
        );
        assert_eq!(quantity(&json!("abc")), None);
        assert_eq!(quantity(&json!("m")), None);
        assert_eq!(quantity(&json!("1e3")), Some(1000.0));
    }

    #[test]
    fn ignored_pointers_skip_their_subtrees_only() {
        let git = deployment(2, "web:1");
        let mut live = as_served(&git);
        live["spec"]["replicas"] = json!(5);
        live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:2");
        let ignored = ["/spec/template".to_string(), "/spec/replica".to_string()];
        let drift = compare(&git, Some(&live), &ignored).unwrap();
        assert_eq!(
            paths(&drift),
            ["/spec/replicas"],
            "a prefix must end at a /"
        );
        let ignored = ["/spec/replicas".to_string(), "/spec/template".to_string()];
        assert_eq!(compare(&git, Some(&live), &ignored), None);
    }

    #[test]
    fn differences_are_capped_and_counted() {
        let keys: Map<String, Value> = (0..15).map(|i| (format!("k{i:02}"), json!("a"))).collect();
        let git = json!({"data": keys});
        let drift = compare(&git, Some(&json!({"data": {}})), &[]).unwrap();
        assert_eq!(drift.differences.len(), MAX_DIFFERENCES);
        assert_eq!(drift.not_shown, 5);
        assert!(
            drift.reason().ends_with("/data/k09 and 5 more"),
            "{}",
            drift.reason()
        );
        let long = json!({"v": "x".repeat(500)});
        let drift = compare(&long, Some(&json!({"v": "y"})), &[]).unwrap();
        let git_text = drift.differences[0].git.as_deref().unwrap();
        assert_eq!(git_text.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(git_text.ends_with('…'));
    }

    #[test]
    fn the_diff_text_shows_git_against_live_and_never_a_masked_value() {
        let d = |path: &str, git: Option<&str>, live: Option<&str>, masked| Difference {
            path: path.into(),
            git: git.map(str::to_string),
            live: live.map(str::to_string),
            masked,
        };
        let text = diff_text(
            &[
                d("/spec/replicas", Some("2"), Some("5"), false),
                d("/metadata/labels/app", Some("\"web\""), None, false),
                d("/data/password", None, None, true),
            ],
            3,
        );
        assert_eq!(
            text,
            "@@ /spec/replicas @@\n- 2\n+ 5\n@@ /metadata/labels/app @@\n- \"web\"\n+ (absent)\n@@ /data/password @@ differs (a Secret: values are not shown)\n@@ … @@ 3 more paths not listed\n"
        );
    }

    #[test]
    fn served_against_live_compares_every_field_of_either_side() {
        let git = deployment(2, "web:1");
        let live = as_served(&git);
        // The dry run answers the live object with Git's fields applied, and newer
        // bookkeeping (resourceVersion, managedFields): no drift.
        let mut served = live.clone();
        served["metadata"]["resourceVersion"] = json!("1002");
        served["metadata"]["managedFields"] = json!([{"manager": "gitops-bot", "time": "now"}]);
        assert_eq!(compare_served(&served, Some(&live), &[]), None);
        // A list item has no apiVersion/kind: identity, not drift.
        let mut item = live.clone();
        item.as_object_mut().unwrap().remove("kind");
        assert_eq!(compare_served(&served, Some(&item), &[]), None);

        // A field only the live object has (the apply would remove it), one only the dry
        // run has (the apply would add it), and one that differs: all drift, in key order.
        let mut served = live.clone();
        served["spec"]["replicas"] = json!(2);
        served["spec"]["paused"] = json!(false);
        let mut live = live;
        live["spec"]["replicas"] = json!(5);
        live["metadata"]["labels"]["stale"] = json!("yes");
        let drift = compare_served(&served, Some(&live), &[]).unwrap();
        assert_eq!(
            drift.differences,
            [
                Difference {
                    path: "/metadata/labels/stale".into(),
                    git: None,
                    live: Some("\"yes\"".into()),
                    masked: false,
                },
                Difference {
                    path: "/spec/paused".into(),
                    git: Some("false".into()),
                    live: None,
                    masked: false,
                },
                Difference {
                    path: "/spec/replicas".into(),
                    git: Some("2".into()),
                    live: Some("5".into()),
                    masked: false,
                },
            ]
        );
        // Ignored paths are skipped on both sides; a missing object is drift.
        let ignored = [
            "/metadata/labels".to_string(),
            "/spec/paused".to_string(),
            "/spec/replicas".to_string(),
        ];
        assert_eq!(compare_served(&served, Some(&live), &ignored), None);
        assert!(compare_served(&served, None, &[]).unwrap().missing);
        // What only Git-side comparison would miss: the shallow one sees nothing here.
        assert_eq!(
            compare(&git, Some(&live), &["/spec/replicas".to_string()]),
            None
        );
    }

    #[test]
    fn served_secrets_are_masked_both_ways() {
        let secret = |data: Value| {
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "db", "namespace": "hello"}, "data": data})
        };
        let served = secret(json!({"password": "c2VydmVk"}));
        let live = secret(json!({"password": "bGl2ZQ==", "extra": "ZXh0cmE="}));
        let drift = compare_served(&served, Some(&live), &[]).unwrap();
        assert_eq!(paths(&drift), ["/data/extra", "/data/password"]);
        let text = format!("{drift:?}");
        for value in ["c2VydmVk", "bGl2ZQ==", "ZXh0cmE="] {
            assert!(!text.contains(value), "{value} in {text}");
        }
    }

    #[test]
    fn secrets_name_keys_and_never_keep_a_value() {
        let git = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "hello"},
            "type": "Opaque",
            "data": {"user": "YWRtaW4="},
            "stringData": {"password": "hunter2", "token": "same"}});
        let live = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "hello", "uid": "u"},
            "type": "kubernetes.io/basic-auth",
            "data": {"user": "YWRtaW4=", "password": "c3dvcmRmaXNo", "token": "c2FtZQ=="}});
        let drift = compare(&git, Some(&live), &[]).unwrap();
        assert_eq!(paths(&drift), ["/data/password", "/type"]);
        assert!(
            drift
                .differences
                .iter()
                .all(|d| d.masked && d.git.is_none() && d.live.is_none())
        );
        let everything = format!(
            "{drift:?} {}",
            serde_json::to_string(&drift.differences).unwrap()
        );
        for secret in [
            "hunter2",
            "aHVudGVyMg==",
            "c3dvcmRmaXNo",
            "Opaque",
            "basic-auth",
        ] {
            assert!(!everything.contains(secret), "{secret} in {everything}");
        }
        // stringData that matches what is stored is no drift.
        let mut same = git.clone();
        same["stringData"]["password"] = json!("swordfish");
        same["type"] = json!("kubernetes.io/basic-auth");
        assert_eq!(compare(&same, Some(&live), &[]), None);
    }
}
