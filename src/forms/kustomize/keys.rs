//! Adding and removing keys of a kustomize `images:` entry, byte for byte: a missing key goes
//! on its own line with the entry's indentation (or inside the braces of a flow mapping), and
//! a stale `digest` line is removed (or emptied when it shares its line).

use super::Entry;
use crate::forms::Source;
use crate::manifest::{Node, NodeId, Quoting, Splice, encode, locate};

impl Entry {
    /// Adds `key: value` pairs after the entry's last value.
    pub(super) fn insert_keys(
        &self,
        source: Source<'_>,
        pairs: &[(&str, String)],
    ) -> Result<Splice, String> {
        let text = source.text;
        let file = source.file;
        let Node::Mapping { entries, start } = file.node(self.mapping) else {
            return Err("entry is not a mapping".into());
        };
        let (first_key, _) = entries.first().ok_or("entry is empty")?;
        let (_, last_value) = entries.last().ok_or("entry is empty")?;
        let last = file
            .scalar(*last_value)
            .filter(|_| !matches!(file.node(*last_value), Node::Alias(_)))
            .ok_or("the entry's last value is not a plain scalar")?;
        let end = locate(text, last).map_err(str::to_string)?.range.end;
        let pairs_text = |sep: &str| {
            pairs
                .iter()
                .map(|(k, v)| format!("{k}: {}", encode(v, Quoting::Plain)))
                .collect::<Vec<_>>()
                .join(sep)
        };
        if text.as_bytes().get(*start) == Some(&b'{') {
            let close = end
                + text[end..]
                    .find(|c: char| c != ' ' && c != '\t')
                    .unwrap_or(0);
            if text.as_bytes().get(close) != Some(&b'}') {
                return Err("flow-style entry spans several lines".into());
            }
            return Ok(Splice {
                range: close..close,
                text: format!(", {}", pairs_text(", ")),
            });
        }
        let indent = file.scalar(*first_key).map_or(0, |k| k.column - 1);
        let (at, eol, lead) = match text[end..].find('\n') {
            Some(i) => {
                let eol = if text[..end + i].ends_with('\r') {
                    "\r\n"
                } else {
                    "\n"
                };
                (end + i + 1, eol, "")
            }
            None => {
                let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
                (text.len(), eol, eol)
            }
        };
        let pad = " ".repeat(indent);
        let lines: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{pad}{k}: {}", encode(v, Quoting::Plain)))
            .collect();
        let mut inserted = format!("{lead}{}", lines.join(eol));
        if lead.is_empty() {
            inserted.push_str(eol);
        }
        Ok(Splice {
            range: at..at,
            text: inserted,
        })
    }

    /// Removes a stale `digest` line, or empties the value when it shares its line.
    pub(super) fn remove_key(&self, source: Source<'_>, value: NodeId) -> Result<Splice, String> {
        let text = source.text;
        let file = source.file;
        let key = file
            .entries(self.mapping)
            .iter()
            .find(|(_, v)| file.resolve(*v) == value)
            .and_then(|(k, _)| file.scalar(*k))
            .ok_or("digest key not found")?;
        let scalar = file.scalar(value).ok_or("digest is not a scalar")?;
        let span = locate(text, scalar).map_err(str::to_string)?;
        let line_start = text[..key.start].rfind('\n').map_or(0, |i| i + 1);
        let alone = text[line_start..key.start].bytes().all(|b| b == b' ');
        let line_end = text[span.range.end..]
            .find('\n')
            .map(|i| span.range.end + i + 1);
        match line_end {
            Some(line_end) if alone => Ok(Splice {
                range: line_start..line_end,
                text: String::new(),
            }),
            _ => source
                .rewrite(value, "")?
                .ok_or_else(|| "digest is already empty".to_string()),
        }
    }
}
