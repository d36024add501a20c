//! Commit SHAs as people give and read them: [`short`] is how every message of the bot
//! shows one (its first 12 characters), [`is_commit_sha`] what a command line accepts as
//! one. Pure; nothing here asks Git whether the commit exists.

/// The first 12 characters of `sha` (all of it when shorter): how the bot shows a commit.
pub fn short(sha: &str) -> &str {
    match sha.char_indices().nth(12) {
        Some((end, _)) => &sha[..end],
        None => sha,
    }
}

/// Whether `text` is a commit SHA, full or abbreviated: 7 to 64 hex digits (SHA-1 or
/// SHA-256 object names).
pub fn is_commit_sha(text: &str) -> bool {
    (7..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_shas_keep_twelve_characters() {
        assert_eq!(
            short("7b54f4dc3e7e0e4a9d3c2b1a0f9e8d7c6b5a4f3e"),
            "7b54f4dc3e7e"
        );
        assert_eq!(short("7b54f4d"), "7b54f4d");
        assert_eq!(short(""), "");
        assert_eq!(
            short("ééééééééééééé"),
            "éééééééééééé",
            "never cuts a character"
        );
    }

    #[test]
    fn commit_shas_are_seven_to_sixty_four_hex_digits() {
        assert!(is_commit_sha("7b54f4d"));
        assert!(is_commit_sha("7B54F4DC3E7E0E4A9D3C2B1A0F9E8D7C6B5A4F3E"));
        assert!(is_commit_sha(&"a".repeat(64)));
        assert!(!is_commit_sha("7b54f4"));
        assert!(!is_commit_sha(&"a".repeat(65)));
        assert!(!is_commit_sha("main"));
        assert!(!is_commit_sha("7b54f4d-"));
    }
}
