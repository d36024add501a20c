//! Where a scalar's bytes are, and how to write a new value in the same quoting style.
//!
//! The tree only knows where a node starts. Here the exact span (quotes included) is
//! re-scanned from the source and checked against the parsed value, so an edit only ever
//! replaces bytes that provably spell the old value. Scalars whose source is not a plain
//! one-line spelling of their value (escapes, line folding, block scalars) are refused with a
//! reason instead of guessed at.

use std::ops::Range;

use saphyr_parser::ScalarStyle;

use super::tree::Scalar;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    Plain,
    Single,
    Double,
}

/// The bytes of one scalar in its file, quotes included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalarSpan {
    pub range: Range<usize>,
    pub quoting: Quoting,
}

/// Finds the exact bytes of `scalar` in `text`, or says why it cannot be edited safely.
pub fn locate(text: &str, scalar: &Scalar) -> Result<ScalarSpan, &'static str> {
    let start = skip_properties(text, scalar.start);
    let rest = &text[start..];
    let value = scalar.value.as_str();
    match scalar.style {
        ScalarStyle::Literal | ScalarStyle::Folded => Err("value is a block scalar (| or >)"),
        ScalarStyle::Plain => {
            if value.is_empty() {
                return Err("value is empty");
            }
            if value.contains(char::is_whitespace) || !rest.starts_with(value) {
                return Err("value spans several lines");
            }
            Ok(ScalarSpan {
                range: start..start + value.len(),
                quoting: Quoting::Plain,
            })
        }
        ScalarStyle::SingleQuoted => {
            let end = closing_single_quote(rest).ok_or("unterminated quoted value")?;
            let inner = &rest[1..end];
            if inner.contains('\n') || inner.contains('\r') || inner.replace("''", "'") != value {
                return Err("quoted value spans several lines");
            }
            Ok(ScalarSpan {
                range: start..start + end + 1,
                quoting: Quoting::Single,
            })
        }
        ScalarStyle::DoubleQuoted => {
            let end = closing_double_quote(rest).ok_or("unterminated quoted value")?;
            let inner = &rest[1..end];
            if inner.contains('\\') {
                return Err("value uses escape sequences");
            }
            if inner != value {
                return Err("quoted value spans several lines");
            }
            Ok(ScalarSpan {
                range: start..start + end + 1,
                quoting: Quoting::Double,
            })
        }
    }
}

/// Skips an anchor (`&a`) or tag (`!t`) written before the value, and the blanks after it.
fn skip_properties(text: &str, mut at: usize) -> usize {
    let bytes = text.as_bytes();
    while at < bytes.len() && (bytes[at] == b'&' || bytes[at] == b'!') {
        while at < bytes.len() && !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        while at < bytes.len() && matches!(bytes[at], b' ' | b'\t') {
            at += 1;
        }
    }
    at
}

/// Index in `s` (which starts with `'`) of the closing quote; `''` is an escaped quote.
fn closing_single_quote(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'\'') {
        return None;
    }
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Index in `s` (which starts with `"`) of the closing quote, skipping `\` escapes.
fn closing_double_quote(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Writes `value` in the given quoting. A plain value that YAML would read as something other
/// than that string (`1.10`, `true`, `""`, `#x`…) is double-quoted instead: keeping the style
/// would silently turn tag `1.10` into the number 1.1.
pub fn encode(value: &str, quoting: Quoting) -> String {
    match quoting {
        Quoting::Plain if is_plain_safe(value) => value.to_string(),
        Quoting::Single => format!("'{}'", value.replace('\'', "''")),
        Quoting::Plain | Quoting::Double => {
            let mut out = String::with_capacity(value.len() + 2);
            out.push('"');
            for c in value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    _ => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

/// Whether `value` written plain reads back as the same string under YAML 1.1 and 1.2.
pub fn is_plain_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !(first == '-' && value.len() > 1 && !value.starts_with("- "))
    {
        return false;
    }
    if value.contains(": ")
        || value.contains(" #")
        || value.ends_with(':')
        || value.contains(char::is_whitespace)
        || value.chars().any(|c| c.is_control())
    {
        return false;
    }
    !resolves_to_non_string(value)
}

/// YAML 1.1 and 1.2 core-schema null, bool, int and float spellings (the union, since Helm and
/// kustomize disagree on which YAML they speak).
fn resolves_to_non_string(v: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
        ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf", ".nan", ".NaN", ".NAN",
    ];
    if WORDS.contains(&v) {
        return true;
    }
    let body = v.strip_prefix(['-', '+']).unwrap_or(v);
    if body.is_empty() {
        return false;
    }
    let digits_with = |s: &str, extra: &str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || extra.contains(c))
    };
    // ints: decimal (with 1.1 underscores), 0x, 0o, 0b, sexagesimal 1:20
    if digits_with(body, "_") && body.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    }
    if let Some(oct) = body.strip_prefix("0o") {
        return digits_with(oct, "_");
    }
    if let Some(bin) = body.strip_prefix("0b") {
        return !bin.is_empty() && bin.chars().all(|c| matches!(c, '0' | '1' | '_'));
    }
    if body.contains(':') && body.split(':').all(|p| digits_with(p, "_.")) {
        return true;
    }
    is_float(body)
}

fn is_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let digits = |p: &str| p.chars().all(|c| c.is_ascii_digit() || c == '_');
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int) && exponent.is_some(),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tree::YamlFile;

    fn span_of(text: &str) -> Result<(String, Quoting), &'static str> {
        let f = YamlFile::parse(text).unwrap();
        let v = f.get(f.documents[0], "k").unwrap();
        let s = f.scalar(v).unwrap();
        locate(text, s).map(|sp| (text[sp.range].to_string(), sp.quoting))
    }

    #[test]
    fn spans_cover_exactly_the_written_value() {
        assert_eq!(
            span_of("k: nginx:1.25 # c\n"),
            Ok(("nginx:1.25".into(), Quoting::Plain))
        );
        assert_eq!(
            span_of("k: 'a''b' # c'\n"),
            Ok(("'a''b'".into(), Quoting::Single))
        );
        assert_eq!(
            span_of("k: \"x:1\"   # \"q\"\n"),
            Ok(("\"x:1\"".into(), Quoting::Double))
        );
        assert_eq!(
            span_of("k: &a !!str x:1\n"),
            Ok(("x:1".into(), Quoting::Plain))
        );
        assert_eq!(
            span_of("{k: x:1, b: 2}"),
            Ok(("x:1".into(), Quoting::Plain))
        );
        assert_eq!(span_of("k: x\r\n"), Ok(("x".into(), Quoting::Plain)));
    }

    #[test]
    fn unsafe_spellings_are_refused() {
        assert!(span_of("k: |\n  x:1\n").is_err());
        assert!(span_of("k: \"x\\u003a1\"\n").is_err());
        assert!(span_of("k: a\n  b\n").is_err());
        assert!(span_of("k: 'a\n  b'\n").is_err());
    }

    #[test]
    fn plain_values_that_would_change_type_get_quoted() {
        for v in [
            "1.10", "5", "1e3", "0x1F", "true", "no", "~", "", "1:20", ".5", "-1", "#x", "*a", "on",
        ] {
            assert!(encode(v, Quoting::Plain).starts_with('"'), "{v}");
        }
        for v in [
            "ci-35",
            "v1.2.3",
            "1.2.3",
            "nginx:1.26",
            "sha256:abc",
            "8.2.1-debian-12-r0",
            "latest",
            "e2e",
        ] {
            assert_eq!(encode(v, Quoting::Plain), v);
        }
        assert_eq!(encode("5", Quoting::Single), "'5'");
        assert_eq!(encode("5", Quoting::Double), "\"5\"");
    }
}
