//! Counts in messages: `1 file`, `2 files`, `0 files`.

/// `n` and `noun`, with the noun in the plural unless `n` is 1. For nouns whose plural adds
/// an `s` (every noun the bot counts).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_zero_and_many_are_plural() {
        assert_eq!(count(0, "merge request"), "0 merge requests");
        assert_eq!(count(1, "merge request"), "1 merge request");
        assert_eq!(count(2, "YAML file"), "2 YAML files");
    }
}
