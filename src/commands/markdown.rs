//! Which lines of a Markdown comment are visible text: fenced and indented code,
//! blockquotes (`>` lines, their lazy continuations and GitLab's `>>>` blocks), raw HTML
//! blocks (`<pre>`, `<script>`, `<style>`, `<textarea>`) and HTML comments are removed, so
//! commands are only ever read from what a person sees as plain text. Bounded: only the
//! first 64 KiB of a body are looked at.

use std::borrow::Cow;

use super::MAX_BODY_BYTES;

/// Only the first 64 KiB are looked at; when the body is cut, the last
/// (possibly partial) line is dropped too, so a truncated command line cannot
/// turn into a different command.
pub(super) fn bounded(body: &str) -> &str {
    if body.len() <= MAX_BODY_BYTES {
        return body;
    }
    let mut end = MAX_BODY_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &body[..end];
    if body[end..].starts_with(['\n', '\r']) {
        return cut;
    }
    match cut.rfind(['\n', '\r']) {
        Some(i) => &cut[..i],
        None => "",
    }
}

/// Splits on `\n`, `\r\n` and lone `\r` (the Markdown line endings).
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(current)
            }
            Some(i) => {
                let skip = if current[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[i + skip..]);
                Some(&current[..i])
            }
        }
    })
}

/// Leading indentation in columns (tabs to the next multiple of 4) and the rest.
fn indentation(line: &str) -> (usize, &str) {
    let mut columns = 0;
    for (i, b) in line.bytes().enumerate() {
        match b {
            b' ' => columns += 1,
            b'\t' => columns += 4 - columns % 4,
            _ => return (columns, &line[i..]),
        }
    }
    (columns, "")
}

#[derive(Debug, Clone, Copy)]
struct Fence {
    ch: u8,
    len: usize,
}

/// `rest` is the line after fewer than 4 columns of indentation.
fn fence_open(rest: &str) -> Option<Fence> {
    let ch = *rest.as_bytes().first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = rest.bytes().take_while(|&b| b == ch).count();
    if len < 3 || (ch == b'`' && rest[len..].contains('`')) {
        return None;
    }
    Some(Fence { ch, len })
}

fn fence_closes(rest: &str, fence: Fence) -> bool {
    let len = rest.bytes().take_while(|&b| b == fence.ch).count();
    len >= fence.len && rest[len..].trim_matches([' ', '\t']).is_empty()
}

/// Removes HTML comments from `text`, given whether a comment is already
/// open, and updates that state; an unclosed comment hides the rest.
fn strip_comments<'a>(text: &'a str, in_comment: &mut bool) -> Cow<'a, str> {
    if !*in_comment && !text.contains("<!--") {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut rest = text;
    loop {
        if *in_comment {
            match rest.find("-->") {
                Some(i) => {
                    *in_comment = false;
                    rest = &rest[i + 3..];
                }
                None => return Cow::Owned(out),
            }
        } else {
            match rest.find("<!--") {
                Some(i) => {
                    out.push_str(&rest[..i]);
                    *in_comment = true;
                    rest = &rest[i + 4..];
                }
                None => {
                    out.push_str(rest);
                    return Cow::Owned(out);
                }
            }
        }
    }
}

/// The closing tag of a raw HTML block (CommonMark's first kind: `<pre>`, `<script>`,
/// `<style>`, `<textarea>`) that `rest` opens, if it opens one.
fn raw_html_open(rest: &str) -> Option<&'static str> {
    const BLOCKS: [(&str, &str); 4] = [
        ("<pre", "</pre>"),
        ("<script", "</script>"),
        ("<style", "</style>"),
        ("<textarea", "</textarea>"),
    ];
    let lower = rest.get(..10.min(rest.len()))?.to_ascii_lowercase();
    BLOCKS.iter().find_map(|(open, close)| {
        let after = lower.strip_prefix(open)?;
        (after.is_empty() || after.starts_with([' ', '\t', '>'])).then_some(*close)
    })
}

/// The lines of `body` that render as ordinary text: outside fenced and
/// indented code, blockquotes, GitLab `>>>` blocks and HTML comments.
pub(super) fn visible_lines(body: &str) -> Vec<Cow<'_, str>> {
    let mut out = Vec::new();
    let mut fence: Option<Fence> = None;
    let mut gitlab_quote = false;
    let mut in_comment = false;
    // A `>` line with text opens a paragraph that later lines continue lazily, without `>`:
    // they render inside the quote until a blank line.
    let mut lazy_quote = false;
    // Inside `<pre>`, `<script>`, `<style>` or `<textarea>`: the closing tag that ends it.
    let mut raw_html: Option<&'static str> = None;
    // Whether an indented line here would be code: at the start, after a
    // blank line, after a closed block, or inside indented code.
    let mut indented_code_ok = true;

    for raw in split_lines(body) {
        let (columns, rest) = indentation(raw);
        if in_comment {
            // The text after `-->` on the closing line is treated as part of the line.
            let visible = strip_comments(raw, &mut in_comment);
            indented_code_ok = visible.trim().is_empty();
            if !indented_code_ok {
                out.push(visible);
            }
            continue;
        }
        if let Some(open) = fence {
            if columns < 4 && fence_closes(rest, open) {
                fence = None;
                indented_code_ok = true;
            }
            continue;
        }
        if columns < 4
            && let Some(open) = fence_open(rest)
        {
            fence = Some(open);
            continue;
        }
        let gitlab_marker = columns < 4 && rest.trim_end_matches([' ', '\t']) == ">>>";
        if gitlab_quote {
            if gitlab_marker {
                gitlab_quote = false;
                indented_code_ok = true;
            }
            continue;
        }
        if let Some(close) = raw_html {
            if rest.to_ascii_lowercase().contains(close) {
                raw_html = None;
                indented_code_ok = true;
            }
            continue;
        }
        if rest.is_empty() {
            indented_code_ok = true;
            lazy_quote = false;
            continue;
        }
        if lazy_quote && !(columns < 4 && rest.starts_with('>')) {
            continue;
        }
        if columns < 4
            && let Some(close) = raw_html_open(rest)
        {
            if !rest.to_ascii_lowercase().contains(close) {
                raw_html = Some(close);
            }
            indented_code_ok = true;
            continue;
        }
        if columns >= 4 && indented_code_ok {
            continue;
        }
        if gitlab_marker {
            gitlab_quote = true;
            continue;
        }
        if columns < 4 && rest.starts_with('>') {
            indented_code_ok = false;
            lazy_quote = !rest.trim_start_matches(['>', ' ', '\t']).is_empty();
            continue;
        }
        let visible = strip_comments(raw, &mut in_comment);
        indented_code_ok = visible.trim().is_empty();
        if !indented_code_ok {
            out.push(visible);
        }
    }
    out
}
