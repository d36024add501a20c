//! Field and label selectors, and the per-request object filter built from them.
//!
//! Simulates: `fieldSelector` with `=`, `==` and `!=` on `metadata.name`,
//! `metadata.namespace` and the per-kind fields of the table (for Events
//! `involvedObject.*`, `reason`, `type`, `source`, …), comma-separated and
//! ANDed; an unsupported field is 400 `BadRequest` (`field label not
//! supported: x`, or the CRD wording `"x" is not a known field selector: only
//! "metadata.name", "metadata.namespace"`). `labelSelector` with `=`, `==`,
//! `!=`, `in (…)`, `notin (…)`, `key` and `!key`, ANDed.
//!
//! Does not simulate: backslash escapes in field selector values, `>`/`<`
//! label operators, label key/value syntax validation beyond non-empty
//! keys, or CRD `selectableFields`.

use serde_json::Value;

use super::kinds::Kind;

#[derive(Clone, Debug)]
enum FieldReq {
    Eq(String, String),
    NotEq(String, String),
}

#[derive(Clone, Debug)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// Which objects of one kind a list or watch request selects.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    pub kind: usize,
    pub namespace: Option<String>,
    fields: Vec<FieldReq>,
    labels: Vec<LabelReq>,
}

impl Filter {
    /// Parses the selectors; `Err` carries the `BadRequest` message.
    pub fn new(
        kind: usize,
        k: &Kind,
        namespace: Option<String>,
        field_selector: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Self, String> {
        Ok(Filter {
            kind,
            namespace,
            fields: parse_fields(k, field_selector.unwrap_or(""))?,
            labels: parse_labels(label_selector.unwrap_or(""))?,
        })
    }

    /// The name a `metadata.name=` field selector pins, as the API server's
    /// request decoder reports it to the authorizer.
    pub fn pinned_name(&self) -> Option<&str> {
        self.fields.iter().find_map(|f| match f {
            FieldReq::Eq(path, v) if path == "metadata.name" => Some(v.as_str()),
            _ => None,
        })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        if let Some(ns) = &self.namespace
            && obj.pointer("/metadata/namespace").and_then(Value::as_str) != Some(ns.as_str())
        {
            return false;
        }
        let fields_ok = self.fields.iter().all(|f| match f {
            FieldReq::Eq(path, v) => field_value(obj, path) == *v,
            FieldReq::NotEq(path, v) => field_value(obj, path) != *v,
        });
        fields_ok && self.labels.iter().all(|l| label_matches(l, obj))
    }
}

fn field_value(obj: &Value, dotted: &str) -> String {
    let mut cur = obj;
    for part in dotted.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_fields(k: &Kind, selector: &str) -> Result<Vec<FieldReq>, String> {
    let mut out = Vec::new();
    for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (label, value, negate) = if let Some((l, v)) = term.split_once("!=") {
            (l, v, true)
        } else if let Some((l, v)) = term.split_once("==") {
            (l, v, false)
        } else if let Some((l, v)) = term.split_once('=') {
            (l, v, false)
        } else {
            return Err(format!(
                "invalid selector: '{selector}'; can't understand '{term}'"
            ));
        };
        let label = label.trim();
        let path = match label {
            "metadata.name" | "metadata.namespace" => label,
            _ => match k.fields.iter().find(|(l, _)| *l == label) {
                Some((_, path)) if !k.crd => path,
                _ if k.crd => {
                    return Err(format!(
                        "\"{label}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                    ));
                }
                _ => return Err(format!("field label not supported: {label}")),
            },
        };
        let value = value.trim().to_string();
        out.push(if negate {
            FieldReq::NotEq(path.to_string(), value)
        } else {
            FieldReq::Eq(path.to_string(), value)
        });
    }
    Ok(out)
}

/// Splits on commas that are not inside parentheses.
fn split_terms(selector: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&selector[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn parse_set(term: &str, rest: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("unable to parse requirement: {term}"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

fn parse_labels(selector: &str) -> Result<Vec<LabelReq>, String> {
    let mut out = Vec::new();
    for term in split_terms(selector) {
        let bad = || format!("unable to parse requirement: {term}");
        let words: Vec<&str> = term.split_whitespace().collect();
        let req = if words.len() >= 2 && (words[1] == "in" || words[1].starts_with("in(")) {
            let rest = term[words[0].len()..].trim_start()["in".len()..].to_string();
            LabelReq::In(words[0].to_string(), parse_set(term, &rest)?)
        } else if words.len() >= 2 && (words[1] == "notin" || words[1].starts_with("notin(")) {
            let rest = term[words[0].len()..].trim_start()["notin".len()..].to_string();
            LabelReq::NotIn(words[0].to_string(), parse_set(term, &rest)?)
        } else if let Some((k, v)) = term.split_once("!=") {
            LabelReq::NotEq(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = term.split_once("==") {
            LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = term.split_once('=') {
            LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
        } else if let Some(k) = term.strip_prefix('!') {
            LabelReq::NotExists(k.trim().to_string())
        } else if words.len() == 1 {
            LabelReq::Exists(term.to_string())
        } else {
            return Err(bad());
        };
        let key = match &req {
            LabelReq::Eq(k, _)
            | LabelReq::NotEq(k, _)
            | LabelReq::In(k, _)
            | LabelReq::NotIn(k, _)
            | LabelReq::Exists(k)
            | LabelReq::NotExists(k) => k,
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(bad());
        }
        out.push(req);
    }
    Ok(out)
}

fn label_matches(req: &LabelReq, obj: &Value) -> bool {
    let labels = obj.pointer("/metadata/labels");
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    match req {
        LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
        LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
        LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        LabelReq::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        LabelReq::Exists(k) => get(k).is_some(),
        LabelReq::NotExists(k) => get(k).is_none(),
    }
}
