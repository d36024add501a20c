//! The command line itself, through the real binary: what a mistyped invocation says and
//! which exit status it gets, the help texts, and when output carries colour codes.

use crate::common;

use std::process::Command;

use common::*;

const ESC: char = '\u{1b}';

#[test]
fn comment_commands_typed_as_subcommands_say_where_to_write_them() {
    for verb in ["deploy", "hold", "unhold", "rebase", "rollback"] {
        let run = gitops_bot(&[verb]);
        assert_eq!(run.code, 2, "{verb}: {}", run.stderr);
        assert_eq!(
            run.stderr,
            format!(
                "error: `{verb}` is a comment command: write `gitops-bot {verb}` in a comment on the bot's merge request\n"
            ),
            "{verb}"
        );
        assert!(run.stdout.is_empty(), "{verb}: {}", run.stdout);
    }
    // With arguments and global flags around it, too.
    let run = gitops_bot(&["-v", "deploy", "abc1234"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("`deploy` is a comment command"),
        "{}",
        run.stderr
    );
}

#[test]
fn clap_keeps_its_own_errors_and_help() {
    let run = gitops_bot(&["frobnicate"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: unrecognized subcommand 'frobnicate'"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("comment command"), "{}", run.stderr);

    let run = gitops_bot(&["help"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Usage: gitops-bot"), "{}", run.stdout);

    let run = gitops_bot(&["bump", "--image", "app:1", "--no-such-flag"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unexpected argument '--no-such-flag'"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_documents_exit_status_colour_and_comment_commands() {
    let run = gitops_bot(&["--help"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for says in [
        "Exit status: 0 on success (also when there is nothing to do), 1 on failure, 2 on usage errors.",
        "NO_COLOR",
        "only when writing to a terminal",
        "`deploy`, `hold`, `unhold`, `rebase`, `rollback` and `help` are comment commands",
        "`status` is both: as a subcommand it shows the whole project, as a comment one merge request.",
    ] {
        assert!(
            run.stdout.contains(says),
            "{says:?} not in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn bump_without_a_target_names_both_project_and_local() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops-bot"));
    cmd.args(["bump", "--image", "app:1"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("CI_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--project <ID|PATH>"), "{stderr}");
    assert!(stderr.contains("--local <DIR>"), "{stderr}");
}

/// A checkout with a Helm template mentioning the image: `-v` logs at debug level that it
/// was skipped, so there is a log line that colour would style.
fn repo_with_a_debug_log_line() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", "containers:\n- image: app:1\n");
    write(
        dir.path(),
        "chart/templates/d.yaml",
        "spec:\n  {{- if .Values.x }}\n  containers:\n  - image: app:1\n  {{- end }}\n",
    );
    dir
}

#[test]
fn piped_output_has_no_colour_codes_even_verbose_in_gitlab_ci() {
    let dir = repo_with_a_debug_log_line();
    let out = Command::new(env!("CARGO_BIN_EXE_gitops-bot"))
        .args(["-v", "bump", "--local"])
        .arg(dir.path())
        .args(["--image", "app:2", "--dry-run"])
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env("CI", "true")
        .env("GITLAB_CI", "true")
        .env("TERM", "xterm-256color")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("DEBUG"), "no debug log line: {stderr}");
    assert!(stdout.contains("1 reference updated"), "{stdout}");
    assert!(!stdout.contains(ESC), "{stdout:?}");
    assert!(!stderr.contains(ESC), "{stderr:?}");

    // Clap's errors, too.
    let run = gitops_bot(&["bump", "--image", "app:2", "--bogus"]);
    assert_eq!(run.code, 2);
    assert!(!run.stderr.contains(ESC), "{:?}", run.stderr);
}

/// Runs the binary with ARGS on a pseudo-terminal (through util-linux `script`), with
/// `NO_COLOR` set to `no_color` (unset when `None`), and returns what the terminal got.
fn on_a_terminal(args: &[&str], no_color: Option<&str>) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line = std::iter::once(env!("CARGO_BIN_EXE_gitops-bot"))
        .chain(args.iter().copied())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .env_remove("RUST_LOG")
        .env("TERM", "xterm-256color");
    match no_color {
        Some(v) => cmd.env("NO_COLOR", v),
        None => cmd.env_remove("NO_COLOR"),
    };
    let out = cmd
        .output()
        .expect("util-linux `script` runs the binary on a pseudo-terminal");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    let dir = repo_with_a_debug_log_line();
    let args = [
        "-v",
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        "app:2",
        "--dry-run",
    ];
    let coloured = on_a_terminal(&args, None);
    assert!(coloured.contains("DEBUG"), "{coloured:?}");
    assert!(
        coloured.contains(ESC),
        "no colour on a terminal: {coloured:?}"
    );

    // An empty NO_COLOR does not count (https://no-color.org).
    let empty = on_a_terminal(&args, Some(""));
    assert!(empty.contains(ESC), "{empty:?}");

    for value in ["1", "true"] {
        let plain = on_a_terminal(&args, Some(value));
        assert!(plain.contains("DEBUG"), "{plain:?}");
        assert!(!plain.contains(ESC), "NO_COLOR={value}: {plain:?}");
    }
}

/// The binary with none of the CI variables of the machine running the tests and a token
/// that is never sent (every case fails before any request).
fn without_ci(args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops-bot"));
    cmd.args(args).env("GITLAB_TOKEN", "glpat-never-sent");
    for (k, _) in std::env::vars() {
        if k.starts_with("CI_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn defaults_missing_from_both_flag_and_ci_are_usage_errors() {
    let url = "http://127.0.0.1:9";
    for (args, says) in [
        (
            vec!["commands", "--gitlab-url", url],
            "error: no --project given (and no CI_PROJECT_PATH)\n",
        ),
        (
            vec!["preview", "--project", "g/p", "--gitlab-url", url],
            "error: no --mr given (and no CI_MERGE_REQUEST_IID: is this a merge request pipeline?)\n",
        ),
        (
            vec![
                "sync",
                "--project",
                "g/p",
                "--argocd-app",
                "a",
                "--gitlab-url",
                url,
            ],
            "error: no --commit given (and no CI_COMMIT_SHA)\n",
        ),
        (
            vec!["bump", "--project", "g/p", "--image", "app:1"],
            "error: no GitLab URL: pass --gitlab-url, or run inside GitLab CI (CI_API_V4_URL)\n",
        ),
        (
            vec![
                "bump",
                "--project",
                "g/p",
                "--image",
                "app:1",
                "--gitlab-url",
                "ftp://x",
            ],
            "error: GitLab URL \"ftp://x\" must use http:// or https://\n",
        ),
    ] {
        let run = without_ci(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, says, "{args:?}");
    }
}
