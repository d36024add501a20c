//! How a commit is shown to people: its first 12 hexadecimal digits.

/// The first 12 characters of `sha` (all of it when shorter).
pub fn short(sha: &str) -> &str {
    match sha.char_indices().nth(12) {
        Some((i, _)) => &sha[..i],
        None => sha,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shas_are_cut_at_twelve() {
        assert_eq!(super::short("0123456789abcdef"), "0123456789ab");
        assert_eq!(super::short("abc"), "abc");
        assert_eq!(super::short(""), "");
    }
}
