//! Environment variables as the bot reads them: a variable that is unset, empty or blank is
//! absent (GitLab CI defines many variables as empty strings).

/// The value of `name`, unless it is unset or blank.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
