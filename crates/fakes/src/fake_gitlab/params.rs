//! Request parameters: JSON bodies, `application/x-www-form-urlencoded`
//! bodies in the Rails array style gitops-bot sends (`assignee_ids[]=1`), and query
//! strings, all turned into one JSON object.

use serde_json::{Map, Value};

/// Decodes `k=v&...` pairs (`+` is a space).
pub fn pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Rails/Rack style nesting, enough for GitLab's API:
/// `a[]=1&a[]=2` is an array; `actions[][action]=x&actions[][file_path]=y…`
/// is an array of objects where a new object starts whenever a key repeats;
/// `a[b]=1` is an object; anything else is a string.
pub fn from_pairs(pairs: &[(String, String)]) -> Value {
    let mut root = Map::new();
    for (key, value) in pairs {
        let (name, rest) = match key.find('[') {
            Some(i) => (&key[..i], &key[i..]),
            None => (key.as_str(), ""),
        };
        if rest.is_empty() {
            root.insert(name.to_string(), Value::String(value.clone()));
        } else if rest == "[]" {
            let slot = root
                .entry(name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            slot.as_array_mut()
                .unwrap()
                .push(Value::String(value.clone()));
        } else if let Some(field) = rest.strip_prefix("[][").and_then(|r| r.strip_suffix(']')) {
            let slot = root
                .entry(name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            let arr = slot.as_array_mut().unwrap();
            let start_new = match arr.last() {
                Some(Value::Object(o)) => o.contains_key(field),
                _ => true,
            };
            if start_new {
                arr.push(Value::Object(Map::new()));
            }
            arr.last_mut()
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert(field.to_string(), Value::String(value.clone()));
        } else if let Some(field) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            // `actions[0][action]` style (indexed) or `a[b]`.
            if let Some((idx, sub)) = field.split_once("][")
                && let Ok(i) = idx.parse::<usize>()
            {
                {
                    let slot = root
                        .entry(name.to_string())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if !slot.is_array() {
                        *slot = Value::Array(Vec::new());
                    }
                    let arr = slot.as_array_mut().unwrap();
                    while arr.len() <= i {
                        arr.push(Value::Object(Map::new()));
                    }
                    if let Some(o) = arr[i].as_object_mut() {
                        o.insert(sub.to_string(), Value::String(value.clone()));
                    }
                    continue;
                }
            }
            let slot = root
                .entry(name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(o) = slot.as_object_mut() {
                o.insert(field.to_string(), Value::String(value.clone()));
            }
        } else {
            root.insert(key.clone(), Value::String(value.clone()));
        }
    }
    Value::Object(root)
}

/// Parameters of one request. Body parameters win over query parameters.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Map<String, Value>);

#[derive(Debug)]
pub enum ParseError {
    BadJson(String),
}

impl Params {
    pub fn parse(
        content_type: Option<&str>,
        body: &[u8],
        query: &str,
    ) -> Result<Params, ParseError> {
        let mut map = match from_pairs(&pairs(query)) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        let body_value = if body.iter().all(|b| b.is_ascii_whitespace()) {
            None
        } else if ct.starts_with("application/json")
            || (ct.is_empty() && body.first() == Some(&b'{'))
        {
            let v: Value =
                serde_json::from_slice(body).map_err(|e| ParseError::BadJson(e.to_string()))?;
            Some(v)
        } else {
            Some(from_pairs(&pairs(&String::from_utf8_lossy(body))))
        };
        if let Some(Value::Object(b)) = body_value {
            for (k, v) in b {
                map.insert(k, v);
            }
        }
        Ok(Params(map))
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_null())
    }

    pub fn str(&self, key: &str) -> Option<String> {
        scalar_str(self.0.get(key)?)
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.0.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => Some(n.as_i64() != Some(0)),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "t" => Some(true),
                "false" | "0" | "no" | "f" | "" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn u64(&self, key: &str) -> Option<u64> {
        match self.0.get(key)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A list of ids: a JSON array, `k[]=1&k[]=2`, a single value, or a
    /// comma-separated string. `0` entries are dropped (GitLab: "0 unassigns").
    pub fn ids(&self, key: &str) -> Option<Vec<u64>> {
        let v = self.0.get(key)?;
        let items: Vec<String> = match v {
            Value::Array(a) => a.iter().filter_map(scalar_str).collect(),
            other => scalar_str(other)?
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        };
        Some(
            items
                .iter()
                .filter_map(|s| s.parse::<u64>().ok())
                .filter(|id| *id != 0)
                .collect(),
        )
    }

    /// Labels: a comma-separated string or an array.
    pub fn labels(&self, key: &str) -> Option<Vec<String>> {
        let v = self.0.get(key)?;
        let items: Vec<String> = match v {
            Value::Array(a) => a
                .iter()
                .filter_map(scalar_str)
                .flat_map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>())
                .collect(),
            other => scalar_str(other)?.split(',').map(str::to_string).collect(),
        };
        let mut out: Vec<String> = Vec::new();
        for l in items {
            let l = l.trim().to_string();
            if !l.is_empty() && !out.contains(&l) {
                out.push(l);
            }
        }
        Some(out)
    }

    pub fn array(&self, key: &str) -> Option<&Vec<Value>> {
        self.0.get(key)?.as_array()
    }
}

pub fn scalar_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
