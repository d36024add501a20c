//! Comment commands: this module owns turning the body of a merge-request
//! comment into exactly one of three outcomes — a [`CommentCommand`] for the bot to
//! carry out, a [`Parsed::Reply`] to post back (help, usage, "unknown
//! command", "one command per comment"), or [`Parsed::Ignore`] when the
//! comment is not addressed to the bot. Bad user input is always a reply,
//! never an error, and parsing never panics.
//!
//! A command is a line that *starts* with one of the configured prefix words
//! (`gitops-bot`, or `@gitops-bot`) followed by a verb; it never starts with
//! `/`, because GitLab runs `/…` lines itself as quick actions. Lines inside
//! Markdown code (fenced or indented), blockquotes (`>` lines, the lines that
//! lazily continue them, and GitLab's `>>>` blocks), raw HTML blocks (`<pre>`,
//! `<script>`, `<style>`, `<textarea>`) and HTML comments (including the bot's own
//! `<!-- gitops-bot:{…} -->` markers) are never commands.
//!
//! What it refuses to do: no I/O, no authorisation (callers check
//! [`CommentCommand::is_write`] against the commenter's rights), no GitLab calls, no
//! shell — it only reads a string and returns a value.

mod markdown;

pub use crate::messages::code_span;

use markdown::{bounded, visible_lines};

/// Only this many bytes of a comment body are looked at.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest accepted `hold` reason, in characters.
const MAX_REASON_CHARS: usize = 200;
/// User text echoed in a reply is shortened to this many characters.
const MAX_ECHO_CHARS: usize = 64;
/// At most this many command lines are listed in a "one command" reply.
const MAX_LISTED: usize = 10;
/// Largest edit distance for a "did you mean" suggestion.
const MAX_SUGGEST_DISTANCE: usize = 2;
/// Used by [`Grammar::help`] when no prefix is configured.
const DEFAULT_PREFIX: &str = "gitops-bot";

/// Every verb of a merge request, in the order help lists them.
pub const VERBS: [&str; 7] = [
    "deploy", "hold", "unhold", "rebase", "rollback", "status", "help",
];
/// The verbs that work on a drift issue, in the order its help lists them.
pub const ISSUE_VERBS: [&str; 3] = ["sync", "status", "help"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentCommand {
    /// Merge the bump MR now (or when its pipeline succeeds), pinned to a head commit.
    /// `sha`: an explicit 7–40 hex-digit commit prefix the operator gave (lowercased).
    Deploy {
        sha: Option<String>,
    },
    /// Block deploys of this MR; optional free-text reason (trimmed, ≤ 200 chars, no newlines; longer → usage reply).
    Hold {
        reason: Option<String>,
    },
    Unhold,
    /// Recompute the bump on the current target branch.
    Rebase,
    /// On a merged bump MR: propose a new MR restoring the previous references.
    Rollback,
    Status,
    Help,
    /// On a drift issue: make the controller apply Git's state again for its environment.
    Sync,
}

impl CommentCommand {
    /// The verb that names this command ("deploy", "hold", …).
    pub fn verb(&self) -> &'static str {
        match self {
            CommentCommand::Deploy { .. } => "deploy",
            CommentCommand::Hold { .. } => "hold",
            CommentCommand::Unhold => "unhold",
            CommentCommand::Rebase => "rebase",
            CommentCommand::Rollback => "rollback",
            CommentCommand::Status => "status",
            CommentCommand::Help => "help",
            CommentCommand::Sync => "sync",
        }
    }

    /// Whether the command changes anything (deploy, hold, unhold, rebase, rollback) —
    /// callers require authorisation for these.
    pub fn is_write(&self) -> bool {
        match self {
            CommentCommand::Deploy { .. }
            | CommentCommand::Hold { .. }
            | CommentCommand::Unhold
            | CommentCommand::Rebase
            | CommentCommand::Rollback
            | CommentCommand::Sync => true,
            CommentCommand::Status | CommentCommand::Help => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Command(CommentCommand),
    /// Something addressed to the bot that is not a valid command: the text to reply with (Markdown; user text quoted inside code spans built so that backticks in it cannot break out).
    Reply(String),
    /// Not addressed to the bot.
    Ignore,
}

#[derive(Debug, Clone)]
pub struct Grammar {
    /// Words that start a command line, without `@`, lowercase, e.g. ["gitops-bot"]; the bot's GitLab username is added by the caller.
    pub prefixes: Vec<String>,
}

impl Grammar {
    /// Builds a grammar from prefix words. Each is trimmed, lowercased and
    /// stripped of one leading `@`; empty words, words containing whitespace
    /// (a prefix is a single word) and duplicates are dropped.
    pub fn new(prefixes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let mut out: Vec<String> = Vec::new();
        for prefix in prefixes {
            let prefix: String = prefix.into();
            let prefix = normalise_prefix(&prefix);
            if !prefix.is_empty() && !prefix.contains(char::is_whitespace) && !out.contains(&prefix)
            {
                out.push(prefix);
            }
        }
        Grammar { prefixes: out }
    }

    /// `gitops-bot` and `@gitops-bot` both start a command when "gitops-bot" is a prefix.
    pub fn parse(&self, body: &str) -> Parsed {
        let lines = visible_lines(bounded(body));
        let addressed: Vec<Line<'_>> = lines.iter().filter_map(|l| self.address(l)).collect();
        match addressed.as_slice() {
            [] => Parsed::Ignore,
            [line] => self.interpret(line),
            many => {
                let mut listed: Vec<String> = many
                    .iter()
                    .take(MAX_LISTED)
                    .map(|l| {
                        if l.verb.is_empty() {
                            code("help")
                        } else {
                            code(&l.verb.to_lowercase())
                        }
                    })
                    .collect();
                if many.len() > MAX_LISTED {
                    listed.push(format!("and {} more", many.len() - MAX_LISTED));
                }
                reply(format!(
                    "one command per comment, found: {}.\n\nNothing was done; post each command in a comment of its own.",
                    listed.join(", ")
                ))
            }
        }
    }

    /// The help text (Markdown) listing every verb with one line each, using the first prefix.
    pub fn help(&self) -> String {
        let prefix = self.first_prefix();
        let mut text = format!(
            "**{} commands** — write the command on a line of its own, outside code blocks and quotes, one command per comment:\n\n",
            code(&prefix)
        );
        for verb in VERBS {
            let (synopsis, what) = describe(verb);
            text.push_str(&format!(
                "- {} — {what}\n",
                code(&format!("{prefix} {synopsis}"))
            ));
        }
        text.push_str(&format!(
            "\nThe prefix may also be written {}, and the verb is not case-sensitive.",
            code(&format!("@{prefix}"))
        ));
        neutralise_quick_actions(text)
    }

    /// The help text on a drift issue: the commands that work there, one line each.
    pub fn issue_help(&self) -> String {
        let prefix = self.first_prefix();
        let mut text = format!(
            "**{} commands on a drift issue** — write the command on a line of its own, outside code blocks and quotes, one command per comment:\n\n",
            code(&prefix)
        );
        for verb in ISSUE_VERBS {
            let (synopsis, what) = describe_on_issue(verb);
            text.push_str(&format!(
                "- {} — {what}\n",
                code(&format!("{prefix} {synopsis}"))
            ));
        }
        text.push_str(&format!(
            "\nThe other commands ({}) work on the bot's merge requests.",
            VERBS
                .iter()
                .filter(|v| !ISSUE_VERBS.contains(v))
                .map(|v| code(v))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        neutralise_quick_actions(text)
    }

    /// The word replies and help tell people to use: the first prefix.
    pub fn prefix(&self) -> String {
        self.first_prefix()
    }

    fn first_prefix(&self) -> String {
        self.prefixes
            .iter()
            .map(|p| normalise_prefix(p))
            .find(|p| !p.is_empty())
            .unwrap_or_else(|| DEFAULT_PREFIX.to_string())
    }

    fn is_prefix(&self, word: &str) -> bool {
        let word = normalise_prefix(word);
        !word.is_empty() && self.prefixes.iter().any(|p| normalise_prefix(p) == word)
    }

    /// If `line` (visible text, outside code/quotes/comments) starts with a
    /// prefix, splits it into verb and arguments.
    fn address<'a>(&self, line: &'a str) -> Option<Line<'a>> {
        let text = trim_trailing_punctuation(line.trim());
        let text = trim_trailing_punctuation(unwrap_code_span(text));
        let first = text.split_whitespace().next()?;
        if !self.is_prefix(first) {
            return None;
        }
        let after = text[first.len()..].trim_start();
        let (verb, args) = match after.find(char::is_whitespace) {
            Some(i) => (&after[..i], after[i..].trim()),
            None => (after, ""),
        };
        Some(Line { verb, args })
    }

    fn interpret(&self, line: &Line<'_>) -> Parsed {
        if line.verb.is_empty() {
            return reply(self.help());
        }
        let verb = line.verb.to_lowercase();
        let args = line.args;
        match verb.as_str() {
            "deploy" => self.parse_deploy(args),
            "hold" => self.parse_hold(args),
            "unhold" | "rebase" | "rollback" | "status" | "help" | "sync" => {
                if !args.is_empty() {
                    return self.usage(&verb, &format!("{} takes no arguments", code(&verb)));
                }
                Parsed::Command(match verb.as_str() {
                    "unhold" => CommentCommand::Unhold,
                    "rebase" => CommentCommand::Rebase,
                    "rollback" => CommentCommand::Rollback,
                    "status" => CommentCommand::Status,
                    "sync" => CommentCommand::Sync,
                    _ => CommentCommand::Help,
                })
            }
            _ => self.unknown(line.verb),
        }
    }

    fn parse_deploy(&self, args: &str) -> Parsed {
        let mut words = args.split_whitespace();
        match (words.next(), words.next()) {
            (None, _) => Parsed::Command(CommentCommand::Deploy { sha: None }),
            (Some(sha), None) if is_sha(sha) => Parsed::Command(CommentCommand::Deploy {
                sha: Some(sha.to_ascii_lowercase()),
            }),
            (Some(sha), None) => self.usage(
                "deploy",
                &format!(
                    "{} is not a commit SHA (expected 7–40 hex digits)",
                    code(sha)
                ),
            ),
            (Some(_), Some(_)) => self.usage("deploy", "`deploy` takes at most one argument"),
        }
    }

    fn parse_hold(&self, args: &str) -> Parsed {
        if args.is_empty() {
            return Parsed::Command(CommentCommand::Hold { reason: None });
        }
        if args.chars().count() > MAX_REASON_CHARS {
            return self.usage(
                "hold",
                &format!("the reason is longer than {MAX_REASON_CHARS} characters"),
            );
        }
        if args.chars().any(char::is_control) {
            return self.usage("hold", "the reason must be plain text on one line");
        }
        Parsed::Command(CommentCommand::Hold {
            reason: Some(args.to_string()),
        })
    }

    fn usage(&self, verb: &str, problem: &str) -> Parsed {
        let (synopsis, what) = describe(verb);
        let prefix = self.first_prefix();
        reply(format!(
            "{problem}.\n\nusage: {} — {what}",
            code(&format!("{prefix} {synopsis}"))
        ))
    }

    fn unknown(&self, verb: &str) -> Parsed {
        let mut text = format!("unknown command {}", code(verb));
        if let Some(suggestion) = suggest(&verb.to_lowercase()) {
            text.push_str(&format!("; did you mean {}?", code(suggestion)));
        } else {
            text.push('.');
        }
        let verbs: Vec<String> = VERBS.iter().map(|v| code(v)).collect();
        text.push_str(&format!(
            "\n\ncommands: {}; write {} for details.",
            verbs.join(", "),
            code(&format!("{} help", self.first_prefix()))
        ));
        reply(text)
    }
}

/// A line addressed to the bot, split after the prefix word.
struct Line<'a> {
    /// The word after the prefix, as typed (empty when there is none).
    verb: &'a str,
    /// Everything after the verb, trimmed.
    args: &'a str,
}

/// Synopsis (after the prefix) and one-line description of a verb.
fn describe(verb: &str) -> (&'static str, &'static str) {
    match verb {
        "deploy" => (
            "deploy [<sha>]",
            "merge this bump MR now (or when its pipeline succeeds); `<sha>`, 7–40 hex digits, pins the head commit to deploy",
        ),
        "hold" => (
            "hold [<reason>]",
            "block deploys of this MR; the optional reason is one line of at most 200 characters",
        ),
        "unhold" => ("unhold", "lift a hold placed on this MR"),
        "rebase" => ("rebase", "recompute the bump on the current target branch"),
        "rollback" => (
            "rollback",
            "on a merged bump MR, propose a new MR restoring the previous references",
        ),
        "status" => ("status", "show the state of this MR and its deploy"),
        "sync" => (
            "sync",
            "on a drift issue, make the controller apply Git's state again",
        ),
        _ => ("help", "show this list of commands"),
    }
}

/// Synopsis and one-line description of a verb on a drift issue.
fn describe_on_issue(verb: &str) -> (&'static str, &'static str) {
    match verb {
        "sync" => (
            "sync",
            "make the controller apply Git's state again for this environment, at the head of the default branch, and wait for the verdict",
        ),
        "status" => (
            "status",
            "observe this environment again and update this report",
        ),
        _ => ("help", "show this list of commands"),
    }
}

fn normalise_prefix(word: &str) -> String {
    let word = word.trim();
    word.strip_prefix('@').unwrap_or(word).to_lowercase()
}

fn is_sha(word: &str) -> bool {
    (7..=40).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_hexdigit())
}

fn trim_trailing_punctuation(text: &str) -> &str {
    text.trim_end_matches(|c: char| c == '.' || c == '!' || c.is_whitespace())
}

/// `` `x` `` or ``` ``x`` ``` → `x`; anything not wrapped in one balanced pair
/// of backtick runs is returned unchanged.
fn unwrap_code_span(text: &str) -> &str {
    let open = text.bytes().take_while(|&b| b == b'`').count();
    let close = text.bytes().rev().take_while(|&b| b == b'`').count();
    if open == 0 || open != close || text.len() <= 2 * open {
        return text;
    }
    text[open..text.len() - close].trim()
}

/// A code span showing `text` literally: the delimiter is one backtick longer
/// than the longest backtick run inside, padded with spaces when needed, so
/// user text cannot close it early. Long text is shortened.
fn code(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(MAX_ECHO_CHARS)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if text.chars().nth(MAX_ECHO_CHARS).is_some() {
        shown.push('…');
    }
    if shown.trim().is_empty() {
        return "(empty)".to_string();
    }
    code_span(&shown)
}

/// Every reply goes through here: a line starting with `/` would be run by
/// GitLab as a quick action, so such a line gets its slash escaped.
fn reply(text: String) -> Parsed {
    Parsed::Reply(neutralise_quick_actions(text))
}

fn neutralise_quick_actions(text: String) -> String {
    if !text.lines().any(|line| line.trim_start().starts_with('/')) {
        return text;
    }
    text.split('\n')
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with('/') {
                format!("{}\\{trimmed}", &line[..line.len() - trimmed.len()])
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The closest verb within [`MAX_SUGGEST_DISTANCE`] edits (ties: first listed).
fn suggest(word: &str) -> Option<&'static str> {
    let word: Vec<char> = word.chars().collect();
    VERBS
        .iter()
        .filter_map(|verb| {
            let verb_chars: Vec<char> = verb.chars().collect();
            if word.len().abs_diff(verb_chars.len()) > MAX_SUGGEST_DISTANCE {
                return None;
            }
            let distance = edit_distance(&word, &verb_chars);
            (distance <= MAX_SUGGEST_DISTANCE).then_some((distance, *verb))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, verb)| verb)
}

/// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            d[i * width + j] = if i == 0 {
                j
            } else if j == 0 {
                i
            } else {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (d[(i - 1) * width + j] + 1)
                    .min(d[i * width + j - 1] + 1)
                    .min(d[(i - 1) * width + j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(d[(i - 2) * width + j - 2] + 1);
                }
                best
            };
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    enum Want {
        Cmd(CommentCommand),
        Ignore,
        /// A reply containing every one of these fragments.
        Reply(&'static [&'static str]),
    }
    use Want::*;

    fn grammar() -> Grammar {
        Grammar::new(["gitops-bot", "@Deploy-Bot"])
    }

    fn deploy(sha: Option<&str>) -> Want {
        Cmd(CommentCommand::Deploy {
            sha: sha.map(str::to_string),
        })
    }

    fn hold(reason: Option<&str>) -> Want {
        Cmd(CommentCommand::Hold {
            reason: reason.map(str::to_string),
        })
    }

    fn assert_no_quick_action(text: &str) {
        for line in text.lines() {
            assert!(
                !line.trim_start().starts_with('/'),
                "line starts with `/`: {line:?} in {text:?}"
            );
        }
    }

    fn check(name: &str, body: &str, want: &Want) {
        let got = grammar().parse(body);
        if let Parsed::Reply(text) = &got {
            assert_no_quick_action(text);
        }
        match (want, &got) {
            (Cmd(c), Parsed::Command(g)) if c == g => {}
            (Ignore, Parsed::Ignore) => {}
            (Reply(fragments), Parsed::Reply(text)) => {
                for f in *fragments {
                    assert!(text.contains(f), "{name}: reply lacks {f:?}: {text}");
                }
            }
            _ => panic!("{name}: body {body:?} parsed as {got:?}"),
        }
    }

    const SHA7: &str = "abc1234";
    const SHA40: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    #[rustfmt::skip]
    fn table() {
        let long_reason = format!("gitops-bot hold {}", "x".repeat(201));
        let reason_200 = "y".repeat(200);
        let hold_200 = format!("gitops-bot hold {reason_200}");
        let sha41 = format!("gitops-bot deploy {SHA40}a");
        let deploy40 = format!("gitops-bot deploy {}", SHA40.to_uppercase());
        let cases: Vec<(&str, String, Want)> = vec![
            // Each verb, with and without `@`.
            ("deploy", "gitops-bot deploy".into(), deploy(None)),
            ("@deploy", "@gitops-bot deploy".into(), deploy(None)),
            ("hold", "gitops-bot hold".into(), hold(None)),
            ("@hold", "@gitops-bot hold".into(), hold(None)),
            ("unhold", "gitops-bot unhold".into(), Cmd(CommentCommand::Unhold)),
            ("@unhold", "@gitops-bot unhold".into(), Cmd(CommentCommand::Unhold)),
            ("rebase", "gitops-bot rebase".into(), Cmd(CommentCommand::Rebase)),
            ("@rebase", "@gitops-bot rebase".into(), Cmd(CommentCommand::Rebase)),
            ("rollback", "gitops-bot rollback".into(), Cmd(CommentCommand::Rollback)),
            ("@rollback", "@gitops-bot rollback".into(), Cmd(CommentCommand::Rollback)),
            ("status", "gitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("@status", "@gitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("help", "gitops-bot help".into(), Cmd(CommentCommand::Help)),
            ("@help", "@gitops-bot help".into(), Cmd(CommentCommand::Help)),
            ("second prefix", "@deploy-bot status".into(), Cmd(CommentCommand::Status)),
            ("second prefix no @", "DEPLOY-BOT status".into(), Cmd(CommentCommand::Status)),
            // Case, whitespace and trailing punctuation.
            ("upper", "GITOPS-BOT DEPLOY".into(), deploy(None)),
            ("mixed", "@GitOps-Bot Status".into(), Cmd(CommentCommand::Status)),
            ("spaces", "   gitops-bot    rebase   ".into(), Cmd(CommentCommand::Rebase)),
            ("tab between", "gitops-bot\tstatus".into(), Cmd(CommentCommand::Status)),
            ("dot", "gitops-bot deploy.".into(), deploy(None)),
            ("bang", "gitops-bot deploy!".into(), deploy(None)),
            ("bangs", "gitops-bot rollback!!".into(), Cmd(CommentCommand::Rollback)),
            ("dot after sha", format!("gitops-bot deploy {SHA7}."), deploy(Some(SHA7))),
            ("leading blank lines", "\n\n  gitops-bot status\n\n".into(), Cmd(CommentCommand::Status)),
            // Backticks around the whole line.
            ("backticks", "`gitops-bot deploy`".into(), deploy(None)),
            ("double backticks", "``@gitops-bot status``".into(), Cmd(CommentCommand::Status)),
            ("backticks + dot", "`gitops-bot deploy`.".into(), deploy(None)),
            ("triple inline", "```gitops-bot status```".into(), Cmd(CommentCommand::Status)),
            ("unbalanced backticks", "`gitops-bot deploy``".into(), Ignore),
            // Deploy arguments.
            ("short sha", format!("gitops-bot deploy {SHA7}"), deploy(Some(SHA7))),
            ("full sha", format!("gitops-bot deploy {SHA40}"), deploy(Some(SHA40))),
            ("upper sha lowercased", deploy40, deploy(Some(SHA40))),
            ("backticked sha line", format!("`@gitops-bot deploy {SHA7}`"), deploy(Some(SHA7))),
            ("bad sha", "gitops-bot deploy xyz".into(), Reply(&["`xyz`", "usage:", "gitops-bot deploy [<sha>]"])),
            ("sha too short", "gitops-bot deploy 123".into(), Reply(&["`123`", "usage:"])),
            ("sha 6", "gitops-bot deploy abcdef".into(), Reply(&["usage:"])),
            ("sha 41", sha41, Reply(&["not a commit SHA", "usage:"])),
            ("two args", format!("gitops-bot deploy {SHA7} now"), Reply(&["at most one argument", "usage:"])),
            ("sha with backtick", "gitops-bot deploy a`b".into(), Reply(&["``a`b``", "usage:"])),
            // No-argument verbs.
            ("status extra", "gitops-bot status please".into(), Reply(&["`status` takes no arguments", "usage:"])),
            ("unhold extra", "gitops-bot unhold now".into(), Reply(&["`unhold` takes no arguments"])),
            ("rebase extra", "gitops-bot rebase main".into(), Reply(&["usage:"])),
            ("rollback extra", "gitops-bot rollback abc1234".into(), Reply(&["usage:"])),
            ("help extra", "gitops-bot help deploy".into(), Reply(&["usage:"])),
            // Hold reasons.
            ("hold reason", "gitops-bot hold waiting for QA sign-off".into(), hold(Some("waiting for QA sign-off"))),
            ("hold reason trimmed", "@gitops-bot HOLD   INC-42 open  ".into(), hold(Some("INC-42 open"))),
            ("hold reason punct", "gitops-bot hold freeze until Monday!".into(), hold(Some("freeze until Monday"))),
            ("hold bang only", "gitops-bot hold !".into(), hold(None)),
            ("hold 200", hold_200, hold(Some(&reason_200))),
            ("hold 201", long_reason, Reply(&["longer than 200 characters", "usage:"])),
            ("hold next line is not reason", "gitops-bot hold\nbecause reasons".into(), hold(None)),
            // Unknown verbs and the prefix alone.
            ("typo", "gitops-bot deplyo".into(), Reply(&["unknown command `deplyo`", "did you mean `deploy`?", "`rollback`"])),
            ("typo hold", "@gitops-bot hodl".into(), Reply(&["did you mean `hold`?"])),
            ("typo upper", "gitops-bot STATSU".into(), Reply(&["unknown command `STATSU`", "did you mean `status`?"])),
            ("no suggestion", "gitops-bot frobnicate".into(), Reply(&["unknown command `frobnicate`.", "`deploy`", "`help`"])),
            ("slash verb", "gitops-bot /approve".into(), Reply(&["unknown command `/approve`"])),
            ("prefix alone", "gitops-bot".into(), Reply(&["commands**", "gitops-bot deploy [<sha>]"])),
            ("@prefix alone", "@gitops-bot".into(), Reply(&["gitops-bot status"])),
            ("prefix alone bang", "@gitops-bot!".into(), Reply(&["gitops-bot help"])),
            // Code, quotes and comments hide commands.
            ("backtick fence", "```\ngitops-bot deploy\n```".into(), Ignore),
            ("fence with info", "```text\ngitops-bot deploy\n```".into(), Ignore),
            ("tilde fence", "~~~\ngitops-bot deploy\n~~~".into(), Ignore),
            ("longer fence", "````\n```\ngitops-bot deploy\n````".into(), Ignore),
            ("short close does not close", "````\ngitops-bot deploy\n```\ngitops-bot hold\n".into(), Ignore),
            ("other char does not close", "~~~\n```\ngitops-bot deploy\n".into(), Ignore),
            ("unclosed fence", "look:\n```\ngitops-bot deploy".into(), Ignore),
            ("after fence", "```\ngitops-bot hold\n```\ngitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("indented fence", "   ```\ngitops-bot deploy\n   ```".into(), Ignore),
            ("4-space code", "    gitops-bot deploy".into(), Ignore),
            ("tab code", "\tgitops-bot deploy".into(), Ignore),
            ("code after blank", "example:\n\n    gitops-bot deploy\n".into(), Ignore),
            ("code continues past blank", "    x\n\n    gitops-bot deploy".into(), Ignore),
            ("indent continues paragraph", "please\n    gitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("quote", "> gitops-bot deploy".into(), Ignore),
            ("quote no space", ">gitops-bot deploy".into(), Ignore),
            ("quote indented", "   > gitops-bot deploy".into(), Ignore),
            ("nested quote", "> > gitops-bot deploy".into(), Ignore),
            ("gitlab quote", ">>>\ngitops-bot deploy\n>>>".into(), Ignore),
            ("gitlab quote then command", ">>>\ngitops-bot deploy\n>>>\ngitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("gitlab quote unclosed", ">>>\ngitops-bot deploy".into(), Ignore),
            ("gitlab quote with fence", ">>>\n```\n>>>\n```\ngitops-bot deploy\n>>>".into(), Ignore),
            ("html comment", "<!-- gitops-bot deploy -->".into(), Ignore),
            ("marker", r#"<!-- gitops-bot:{"v":1} -->"#.into(), Ignore),
            ("marker + text", "Bump ready.\n<!-- gitops-bot:{\"v\":1,\"mr\":3} -->\n".into(), Ignore),
            ("multi-line comment", "<!--\ngitops-bot deploy\n-->".into(), Ignore),
            ("unclosed comment", "hi <!--\ngitops-bot deploy\n".into(), Ignore),
            ("after comment", "<!--\ngitops-bot hold\n-->\ngitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("comment then command", "<!-- note -->gitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("command then comment", "gitops-bot status <!-- why -->".into(), Cmd(CommentCommand::Status)),
            ("comment in fence is code", "```\n<!--\n```\ngitops-bot status".into(), Cmd(CommentCommand::Status)),
            // Not addressed.
            ("empty", "".into(), Ignore),
            ("whitespace", " \n\t\r\n".into(), Ignore),
            ("approve", "/approve".into(), Ignore),
            ("quick actions", "/approve\n/merge\n/label ~deploy".into(), Ignore),
            ("thanks", "thanks @gitops-bot".into(), Ignore),
            ("thanks bang", "thanks @gitops-bot!".into(), Ignore),
            ("sentence", "see gitops-bot docs".into(), Ignore),
            ("possessive", "@gitops-bot's rollback failed".into(), Ignore),
            ("glued", "gitops-botdeploy".into(), Ignore),
            ("double @", "@@gitops-bot deploy".into(), Ignore),
            ("colon", "gitops-bot: deploy".into(), Ignore),
            ("list item", "- gitops-bot deploy".into(), Ignore),
            ("other bot", "@renovate-bot deploy".into(), Ignore),
            // Several command lines.
            ("two", "gitops-bot deploy\ngitops-bot hold".into(), Reply(&["one command per comment, found: `deploy`, `hold`"])),
            ("two same", "gitops-bot deploy\n@gitops-bot deploy".into(), Reply(&["found: `deploy`, `deploy`"])),
            ("two with bare prefix", "gitops-bot deploy\ngitops-bot\n".into(), Reply(&["found: `deploy`, `help`"])),
            ("two with typo", "gitops-bot deploy\ngitops-bot hodl\n".into(), Reply(&["found: `deploy`, `hodl`"])),
            ("two mixed case", "gitops-bot DEPLOY\ngitops-bot Status".into(), Reply(&["`deploy`, `status`"])),
            ("quoted then real", "> gitops-bot deploy\n\ngitops-bot hold".into(), hold(None)),
            // A line right after a quoted one continues the quote (lazy continuation).
            ("quoted then lazy continuation", "> gitops-bot deploy\ngitops-bot status".into(), Ignore),
            ("lazy continuation of text", "> what does\ngitops-bot deploy\ndo?".into(), Ignore),
            ("quote closed by an empty quote line", "> a\n>\ngitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("pre block", "<pre>\ngitops-bot deploy\n</pre>".into(), Ignore),
            ("pre block, attributes and case", "<PRE class=\"x\">\ngitops-bot deploy\n</Pre>\n".into(), Ignore),
            ("after a one-line pre", "<pre>x</pre>\ngitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("after a pre block", "<pre>\nx\n</pre>\ngitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("textarea", "<textarea>\ngitops-bot deploy".into(), Ignore),
            ("not pre", "<prefix>\ngitops-bot status".into(), Cmd(CommentCommand::Status)),
            ("reply with quote", "> @gitops-bot hold flaky\n> (from Ann)\n\nok, @gitops-bot unhold".into(), Ignore),
            ("fenced then real", "```\ngitops-bot deploy\n```\n\ngitops-bot deploy abcdef0".into(), deploy(Some("abcdef0"))),
            ("prose around", "Looks good to me.\n\ngitops-bot deploy\n\nThanks!".into(), deploy(None)),
            // Line endings.
            ("crlf", "hello\r\ngitops-bot status\r\n".into(), Cmd(CommentCommand::Status)),
            ("crlf fence", "```\r\ngitops-bot deploy\r\n```\r\n".into(), Ignore),
            ("crlf two", "gitops-bot deploy\r\ngitops-bot hold\r\n".into(), Reply(&["`deploy`, `hold`"])),
            ("cr only", "gitops-bot deploy\rgitops-bot hold".into(), Reply(&["`deploy`, `hold`"])),
            ("crlf hold reason", "gitops-bot hold why not\r\n".into(), hold(Some("why not"))),
            ("crlf quote", "> gitops-bot deploy\r\n\r\ngitops-bot status\r\n".into(), Cmd(CommentCommand::Status)),
        ];
        for (name, body, want) in &cases {
            check(name, body, want);
        }
        assert!(cases.len() >= 100, "{} cases", cases.len());
    }

    #[test]
    fn large_bodies() {
        // 1 MB of junk: ignored, quickly, without panicking.
        let junk: String = "lorem ipsum ✓ dolor `sit` amet\n".repeat(1 << 15);
        assert!(junk.len() > 1_000_000);
        assert_eq!(grammar().parse(&junk), Parsed::Ignore);
        // A command in the first 64 KiB is found; one after it is not.
        let mut body = String::from("gitops-bot status\n");
        body.push_str(&junk);
        assert_eq!(
            grammar().parse(&body),
            Parsed::Command(CommentCommand::Status)
        );
        let mut body = junk.clone();
        body.push_str("gitops-bot deploy\n");
        assert_eq!(grammar().parse(&body), Parsed::Ignore);
        // Multi-byte characters straddling the 64 KiB boundary.
        for pad in 0..4 {
            let body = format!("{}{}", "x".repeat(pad), "é€😀".repeat(MAX_BODY_BYTES / 3));
            assert_eq!(grammar().parse(&body), Parsed::Ignore);
        }
        // A command line cut at the boundary is dropped, not misread.
        let filler = "a".repeat(MAX_BODY_BYTES - 30) + "\n";
        let body = format!("{filler}gitops-bot deploy {SHA40}\n");
        assert!(body.len() > MAX_BODY_BYTES);
        assert_eq!(grammar().parse(&body), Parsed::Ignore);
        // A huge unknown verb is echoed shortened.
        let body = format!("gitops-bot {}", "q".repeat(60_000));
        match grammar().parse(&body) {
            Parsed::Reply(text) => assert!(text.len() < 1_000 && text.contains('…')),
            other => panic!("{other:?}"),
        }
        // Many command lines: listed, bounded.
        let body = "gitops-bot status\n".repeat(1_000);
        match grammar().parse(&body) {
            Parsed::Reply(text) => assert!(text.contains("and 990 more")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn verbs_and_writes() {
        let all = [
            (CommentCommand::Deploy { sha: None }, "deploy", true),
            (CommentCommand::Hold { reason: None }, "hold", true),
            (CommentCommand::Unhold, "unhold", true),
            (CommentCommand::Rebase, "rebase", true),
            (CommentCommand::Rollback, "rollback", true),
            (CommentCommand::Status, "status", false),
            (CommentCommand::Help, "help", false),
            (CommentCommand::Sync, "sync", true),
        ];
        for (command, verb, write) in all {
            assert_eq!(command.verb(), verb);
            assert_eq!(command.is_write(), write, "{verb}");
            assert!(VERBS.contains(&verb) || ISSUE_VERBS.contains(&verb));
            // The verb round-trips through the parser.
            let parsed = grammar().parse(&format!("gitops-bot {verb}"));
            assert_eq!(parsed, Parsed::Command(command));
        }
    }

    #[test]
    fn issue_help_lists_the_drift_issue_commands_only() {
        let help = grammar().issue_help();
        assert_no_quick_action(&help);
        for verb in ISSUE_VERBS {
            assert!(
                help.contains(&format!("- `gitops-bot {verb}")),
                "{verb} in {help}"
            );
        }
        assert!(!help.contains("- `gitops-bot deploy"), "{help}");
        assert!(
            help.contains("`deploy`") && help.contains("merge requests"),
            "{help}"
        );
    }

    #[test]
    fn help_text() {
        let help = grammar().help();
        assert_no_quick_action(&help);
        for verb in VERBS {
            let lines = help
                .lines()
                .filter(|l| l.starts_with(&format!("- `gitops-bot {verb}")))
                .count();
            assert_eq!(lines, 1, "{verb} in {help}");
        }
        assert!(help.contains("`@gitops-bot`"));
        // No prefixes: a fallback, never a panic.
        assert!(
            Grammar::new(Vec::<String>::new())
                .help()
                .contains("gitops-bot deploy")
        );
        assert_eq!(
            Grammar::new(Vec::<String>::new()).parse("gitops-bot deploy"),
            Parsed::Ignore
        );
        // Odd prefixes cannot produce quick-action lines.
        let odd = Grammar::new(["/bot", "a`b"]);
        assert_no_quick_action(&odd.help());
        assert!(
            odd.help().contains("`` /bot deploy [<sha>] ``")
                || odd.help().contains("`/bot deploy [<sha>]`")
        );
        assert_eq!(
            odd.parse("A`B status"),
            Parsed::Command(CommentCommand::Status)
        );
        assert_eq!(odd.prefixes, vec!["/bot".to_string(), "a`b".to_string()]);
    }

    #[test]
    fn grammar_new_normalises() {
        let g = Grammar::new(["  @GitOps-Bot ", "gitops-bot", "", "two words", "deployer"]);
        assert_eq!(
            g.prefixes,
            vec!["gitops-bot".to_string(), "deployer".to_string()]
        );
        assert_eq!(
            g.parse("@deployer rebase"),
            Parsed::Command(CommentCommand::Rebase)
        );
    }

    #[test]
    fn code_spans_cannot_be_broken() {
        assert_eq!(code("abc"), "`abc`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("``x"), "``` ``x ```");
        assert_eq!(code("`"), "`` ` ``");
        assert_eq!(code(""), "(empty)");
        assert_eq!(code("/x"), "`/x`");
    }

    #[test]
    fn quick_action_lines_are_escaped() {
        assert_eq!(
            neutralise_quick_actions("ok\n/approve\n  /merge".to_string()),
            "ok\n\\/approve\n  \\/merge"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("deplyo"), Some("deploy"));
        assert_eq!(suggest("rollbak"), Some("rollback"));
        assert_eq!(suggest("unhld"), Some("unhold"));
        assert_eq!(suggest("stats"), Some("status"));
        assert_eq!(suggest("xyzzy"), None);
        assert_eq!(suggest(""), None);
    }

    const FRAGMENTS: &[&str] = &[
        "gitops-bot",
        "@gitops-bot",
        "GITOPS-BOT",
        "deploy",
        "hold",
        "unhold",
        "rebase",
        "rollback",
        "status",
        "help",
        "deplyo",
        "```",
        "~~~",
        "````",
        ">",
        ">>>",
        "`",
        "``",
        "\n",
        "\r\n",
        "\r",
        " ",
        "    ",
        "\t",
        ".",
        "!",
        "/",
        "/approve",
        "<!--",
        "-->",
        "abc1234",
        "é",
        "😀",
        "\u{0}",
        "\u{a0}",
        "€",
    ];

    fn fragment_body() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
            1 => "[0-9a-fA-F]{1,45}",
            1 => "\\PC{0,6}",
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    fn check_total(body: &str) {
        let g = grammar();
        match g.parse(body) {
            Parsed::Reply(text) => assert_no_quick_action(&text),
            Parsed::Command(CommentCommand::Deploy { sha: Some(sha) }) => {
                assert!(is_sha(&sha) && sha == sha.to_ascii_lowercase());
            }
            Parsed::Command(CommentCommand::Hold {
                reason: Some(reason),
            }) => {
                assert!(reason.chars().count() <= MAX_REASON_CHARS);
                assert!(!reason.contains(['\n', '\r']));
                assert_eq!(reason.trim(), reason);
            }
            _ => {}
        }
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(body in any::<String>()) {
            check_total(&body);
        }

        #[test]
        fn fragment_strings_never_panic(body in fragment_body()) {
            check_total(&body);
        }

        #[test]
        fn quoted_lines_are_ignored(lines in prop::collection::vec("[^\r\n]{0,30}", 0..10)) {
            let body: Vec<String> = lines.iter().map(|l| format!("> {l}")).collect();
            prop_assert_eq!(grammar().parse(&body.join("\n")), Parsed::Ignore);
        }

        #[test]
        fn comments_are_ignored(inner in fragment_body()) {
            prop_assume!(!inner.contains("-->"));
            prop_assert_eq!(grammar().parse(&format!("<!--{inner}-->")), Parsed::Ignore);
        }

        #[test]
        fn fenced_blocks_are_ignored(inner in prop::collection::vec(fragment_body(), 0..5)) {
            // Nothing inside can close a backtick fence once backticks are removed.
            let fence = "`".repeat(10);
            let inner: Vec<String> = inner.iter().map(|s| s.replace('`', "'")).collect();
            let body = format!("{fence}\n{}", inner.join("\n"));
            prop_assert_eq!(grammar().parse(&body), Parsed::Ignore);
        }
    }
}
