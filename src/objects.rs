//! Kubernetes objects read from rendered YAML: what `sync --apply` applies and `preview`
//! compares. Pure: text in, objects out; rendering the text is the `render` adapter's job.

use serde::Deserialize;
use serde_json::Value;

/// A YAML document that is not a Kubernetes object, named by file and document number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: document {index}: {message}")]
pub struct ObjectsError {
    pub path: String,
    pub index: usize,
    pub message: String,
}

/// One object with where it came from (`file` and document number, from 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub value: Value,
    pub source: String,
}

impl Object {
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or("")
    }
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    pub fn namespace(&self) -> Option<&str> {
        self.value["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
    }
}

/// The Kubernetes objects of a multi-document YAML text (`List` kinds expanded, empty
/// documents skipped); anything else is an error naming the document.
pub fn parse(text: &str, path: &str) -> Result<Vec<Object>, ObjectsError> {
    let mut out = Vec::new();
    for (i, doc) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let index = i + 1;
        let invalid = |message: String| ObjectsError {
            path: path.to_string(),
            index,
            message,
        };
        let value = Value::deserialize(doc).map_err(|e| invalid(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let items = match value.get("kind").and_then(Value::as_str) {
            Some(kind) if kind.ends_with("List") && value.get("items").is_some() => value["items"]
                .as_array()
                .cloned()
                .ok_or_else(|| invalid("`items` is not a list".into()))?,
            _ => vec![value],
        };
        for item in items {
            let object = Object {
                value: item,
                source: format!("{path}#{index}"),
            };
            if object.api_version().is_empty()
                || object.kind().is_empty()
                || object.name().is_empty()
            {
                return Err(invalid(
                    "not a Kubernetes object (apiVersion, kind and metadata.name are required)"
                        .into(),
                ));
            }
            out.push(object);
        }
    }
    Ok(out)
}
