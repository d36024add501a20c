//! Byte splices: the only way gitops-bot changes a file.

use std::ops::Range;

/// Replace `range` of the original bytes with `text` (an empty range inserts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub range: Range<usize>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("two edits overlap at bytes {first:?} and {second:?}")]
pub struct OverlapError {
    pub first: Range<usize>,
    pub second: Range<usize>,
}

/// Applies splices (in any order; identical duplicates collapse) to `text`.
pub fn apply(text: &str, splices: &[Splice]) -> Result<String, OverlapError> {
    let mut sorted: Vec<&Splice> = splices.iter().collect();
    sorted.sort_by_key(|s| (s.range.start, s.range.end));
    sorted.dedup_by(|a, b| a == b);
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    let mut previous: Option<&Splice> = None;
    for s in sorted {
        if let Some(p) = previous
            && (s.range.start < p.range.end
                || (s.range.start == p.range.start && s.range.is_empty()))
        {
            return Err(OverlapError {
                first: p.range.clone(),
                second: s.range.clone(),
            });
        }
        out.push_str(&text[at..s.range.start]);
        out.push_str(&s.text);
        at = s.range.end;
        previous = Some(s);
    }
    out.push_str(&text[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(a: usize, b: usize, t: &str) -> Splice {
        Splice {
            range: a..b,
            text: t.into(),
        }
    }

    #[test]
    fn splices_apply_in_order_and_duplicates_collapse() {
        let out = apply(
            "abcdef",
            &[sp(4, 5, "X"), sp(0, 1, "YY"), sp(4, 5, "X"), sp(2, 2, "+")],
        );
        assert_eq!(out.unwrap(), "YYb+cdXf");
    }

    #[test]
    fn overlaps_are_refused() {
        assert!(apply("abcdef", &[sp(0, 3, "x"), sp(2, 4, "y")]).is_err());
        assert!(apply("abcdef", &[sp(1, 2, "x"), sp(1, 2, "y")]).is_err());
    }
}
