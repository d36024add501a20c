//! The three patch formats the fake accepts, applied to plain JSON values.
//!
//! Simulates: JSON merge patch (RFC 7386: objects merge recursively, `null`
//! deletes, anything else replaces), JSON patch (RFC 6902: add, remove,
//! replace, move, copy, test), and an approximation of server-side apply:
//! the applied configuration is merged into the live object with maps merged
//! recursively and lists (and scalars) replaced.
//!
//! Does not simulate: strategic merge patch (list merge keys, `$patch`
//! directives), and the field ownership of real server-side apply — a field
//! a manager stops applying is *not* removed, lists with merge keys
//! (containers, env, ports) are replaced whole, and no apply conflicts are
//! ever reported (so `force` changes nothing).

use serde_json::{Map, Value};

/// RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else {
        unreachable!("target was just made an object");
    };
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else {
            merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Server-side apply, approximated: maps merge recursively, every other value
/// (lists included) replaces the live one, `null` removes the field.
pub(crate) fn apply_merge(live: &mut Value, applied: &Value) {
    // Same recursion as a merge patch; kept separate so the approximation is
    // named at its call sites and can diverge from RFC 7386 later.
    merge_patch(live, applied);
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Splits a JSON pointer into its parent pointer and last unescaped token.
fn split_pointer(path: &str) -> Result<(&str, String), String> {
    if path.is_empty() {
        return Err("the root cannot be the target of this operation".into());
    }
    if !path.starts_with('/') {
        return Err(format!("invalid JSON pointer {path:?}"));
    }
    let cut = path.rfind('/').unwrap_or(0);
    Ok((&path[..cut], unescape(&path[cut + 1..])))
}

fn parent_mut<'a>(doc: &'a mut Value, parent: &str) -> Result<&'a mut Value, String> {
    doc.pointer_mut(parent)
        .ok_or_else(|| format!("the path {parent:?} does not exist"))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    match parent_mut(doc, parent)? {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(list) => {
            let index = if last == "-" {
                list.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| format!("invalid array index {last:?}"))?
            };
            if index > list.len() {
                return Err(format!("array index {index} out of bounds"));
            }
            list.insert(index, value);
            Ok(())
        }
        _ => Err(format!("the path {parent:?} is not a container")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    match parent_mut(doc, parent)? {
        Value::Object(map) => map
            .remove(&last)
            .ok_or_else(|| format!("the path {path:?} does not exist")),
        Value::Array(list) => {
            let index = last
                .parse::<usize>()
                .map_err(|_| format!("invalid array index {last:?}"))?;
            if index >= list.len() {
                return Err(format!("array index {index} out of bounds"));
            }
            Ok(list.remove(index))
        }
        _ => Err(format!("the path {parent:?} is not a container")),
    }
}

fn string_field<'a>(op: &'a Value, name: &str) -> Result<&'a str, String> {
    op.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("operation is missing the {name:?} string"))
}

fn value_field(op: &Value) -> Result<Value, String> {
    op.get("value")
        .cloned()
        .ok_or_else(|| "operation is missing \"value\"".to_string())
}

/// RFC 6902 JSON patch; `Err` is a message for a 422 answer.
pub(crate) fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or_else(|| "a JSON patch must be an array of operations".to_string())?;
    for op in ops {
        let path = string_field(op, "path")?;
        match string_field(op, "op")? {
            "add" => add(doc, path, value_field(op)?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                remove(doc, path)?;
                add(doc, path, value_field(op)?)?;
            }
            "move" => {
                let from = string_field(op, "from")?;
                let v = remove(doc, from)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let from = string_field(op, "from")?;
                let v = doc
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| format!("the path {from:?} does not exist"))?;
                add(doc, path, v)?;
            }
            "test" => {
                let expected = value_field(op)?;
                if doc.pointer(path) != Some(&expected) {
                    return Err(format!("testing value {path} failed"));
                }
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    Ok(())
}
