//! Unified diffs of edited files, as `git diff` prints them (`a/`/`b/`, 3 lines of context).

use similar::TextDiff;

pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
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
}
