//! HTTP error statuses as people read them, shared by the GitLab and Kubernetes adapters:
//! the status code once, then the server's own words, on one line.

/// `<code> <reason>: <message>` on one line, saying the code once: a message that already
/// starts with the code (GitLab's `404 Project Not Found`, a proxy's `404 page not found`)
/// stands for the whole line, and one that only repeats the reason is left out. An empty
/// `reason` becomes the code's standard phrase (`Not Found`).
pub fn line(code: u16, reason: &str, message: &str) -> String {
    let message = one_line(message);
    let reason = match reason.trim() {
        "" => phrase(code),
        r => r,
    };
    let head = if code == 0 {
        reason.to_string()
    } else {
        format!("{code} {reason}")
    };
    if code != 0 && starts_with_code(&message, code) {
        return message;
    }
    if message.is_empty() || same_words(&message, reason) || same_words(&message, phrase(code)) {
        return head;
    }
    format!("{head}: {message}")
}

/// The standard reason phrase of `code` (`Not Found`), or `Error`.
pub fn phrase(code: u16) -> &'static str {
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// The lines of `text` joined by spaces.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn starts_with_code(message: &str, code: u16) -> bool {
    message
        .strip_prefix(&code.to_string())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ':']))
}

/// `NotFound` and `Not Found` are the same words.
fn same_words(a: &str, b: &str) -> bool {
    let letters = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    letters(a) == letters(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_said_once() {
        for (code, reason, message, want) in [
            (404, "", "404 Not Found", "404 Not Found"),
            (404, "", "404 Project Not Found", "404 Project Not Found"),
            (404, "Failed", "404 page not found", "404 page not found"),
            (403, "", "403 Forbidden", "403 Forbidden"),
            (401, "Unauthorized", "Unauthorized", "401 Unauthorized"),
            (404, "NotFound", "", "404 NotFound"),
            (
                404,
                "NotFound",
                "applications.argoproj.io \"x\" not found",
                "404 NotFound: applications.argoproj.io \"x\" not found",
            ),
            (
                403,
                "",
                "insufficient_scope: needs api",
                "403 Forbidden: insufficient_scope: needs api",
            ),
            (
                429,
                "",
                "Retry later\n",
                "429 Too Many Requests: Retry later",
            ),
            (
                500,
                "InternalError",
                "Internal error occurred:\n  failed calling webhook",
                "500 InternalError: Internal error occurred: failed calling webhook",
            ),
            (404, "", "4040 things", "404 Not Found: 4040 things"),
            (0, "Gone", "went away", "Gone: went away"),
        ] {
            assert_eq!(
                line(code, reason, message),
                want,
                "{code} {reason:?} {message:?}"
            );
        }
    }
}
