//! `gitops-bot --version` prints `gitops-bot VERSION (COMMIT DATE)`, as stamped by build.rs,
//! and build.rs's date arithmetic agrees with chrono.

use std::process::Command;

use chrono::{Datelike, NaiveDate};

#[allow(dead_code)]
#[path = "../../build.rs"]
mod build_script;

fn version_output(flag: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gitops-bot"))
        .arg(flag)
        .output()
        .expect("run gitops-bot");
    assert!(out.status.success(), "{flag}: {:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{flag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 version")
}

/// `MAJOR.MINOR.PATCH[-PRE]`, numbers without leading zeros.
fn is_semver(s: &str) -> bool {
    let (core, pre) = s.split_once('-').map_or((s, None), |(c, p)| (c, Some(p)));
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() == 3
        && numbers.iter().all(|n| {
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && (*n == "0" || !n.starts_with('0'))
        })
        && pre.is_none_or(|p| {
            p.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        })
}

/// `unknown` or exactly 12 lowercase hex digits.
fn is_commit(s: &str) -> bool {
    s == "unknown"
        || (s.len() == 12
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// A real calendar day written `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    s.len() == 10
        && s.as_bytes()[4] == b'-'
        && s.as_bytes()[7] == b'-'
        && NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .is_ok_and(|d| d.format("%Y-%m-%d").to_string() == s)
}

/// Splits `gitops-bot VERSION (COMMIT DATE)\n` strictly, or says why it can't.
fn parse(line: &str) -> Result<(&str, &str, &str), String> {
    let rest = line.strip_suffix('\n').ok_or("no final newline")?;
    let rest = rest
        .strip_prefix("gitops-bot ")
        .ok_or("does not start with `gitops-bot `")?;
    let (version, rest) = rest.split_once(" (").ok_or("no ` (` after the version")?;
    let inner = rest.strip_suffix(')').ok_or("does not end with `)`")?;
    let (commit, date) = inner
        .split_once(' ')
        .ok_or("no space between commit and date")?;
    if !is_semver(version) {
        return Err(format!("version {version:?} is not MAJOR.MINOR.PATCH"));
    }
    if !is_commit(commit) {
        return Err(format!(
            "commit {commit:?} is neither 12 hex digits nor `unknown`"
        ));
    }
    if !is_date(date) {
        return Err(format!("date {date:?} is not a YYYY-MM-DD day"));
    }
    Ok((version, commit, date))
}

#[test]
fn version_names_the_release_commit_and_build_date() {
    let long = version_output("--version");
    let (version, commit, date) = parse(&long).unwrap_or_else(|e| panic!("{long:?}: {e}"));
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert_eq!(commit, env!("GITOPS_BOT_COMMIT"));
    assert_eq!(date, env!("GITOPS_BOT_BUILD_DATE"));
    assert_eq!(version_output("-V"), long);
}

#[test]
fn the_parser_is_strict() {
    assert!(parse("gitops-bot 0.1.0 (0123456789ab 2026-11-21)\n").is_ok());
    assert!(parse("gitops-bot 1.20.3-rc.1 (unknown 2024-02-29)\n").is_ok());
    for (bad, why) in [
        ("gitops-bot 0.1.0 (0123456789ab 2026-11-21)", "no newline"),
        ("gitops-bot 0.1.0\n", "clap's default"),
        ("gitops-bot 0.1 (0123456789ab 2026-11-21)\n", "not semver"),
        (
            "gitops-bot 0.01.0 (0123456789ab 2026-11-21)\n",
            "leading zero",
        ),
        ("gitops-bot 0.1.0 (0123456789a 2026-11-21)\n", "11 digits"),
        ("gitops-bot 0.1.0 (0123456789AB 2026-11-21)\n", "upper case"),
        (
            "gitops-bot 0.1.0 (0123456789ab-dirty 2026-11-21)\n",
            "suffix",
        ),
        (
            "gitops-bot 0.1.0 (0123456789ab 2023-02-29)\n",
            "no such day",
        ),
        (
            "gitops-bot 0.1.0 (0123456789ab 2026-1-21)\n",
            "not zero-padded",
        ),
        (
            "gitops-bot 0.1.0 (0123456789ab  2026-11-21)\n",
            "two spaces",
        ),
        ("other 0.1.0 (0123456789ab 2026-11-21)\n", "another name"),
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?} ({why})");
    }
}

#[test]
fn civil_from_days_known_days() {
    for (days, ymd) in [
        (0, (1970, 1, 1)),
        (-1, (1969, 12, 31)),
        (10_957, (2000, 1, 1)),
        (11_016, (2000, 2, 29)),
        (11_017, (2000, 3, 1)),
        (20_413, (2025, 11, 21)),
        (-719_468, (0, 3, 1)),
        (-719_469, (0, 2, 29)),
        (2_932_896, (9999, 12, 31)),
    ] {
        assert_eq!(build_script::civil_from_days(days), ymd, "day {days}");
    }
}

#[test]
fn civil_from_days_agrees_with_chrono_for_every_day_of_four_thousand_years() {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let mut date = epoch - chrono::Days::new(730_000); // 0001-04-…
    for days in -730_000..=730_000 {
        let expected = (i64::from(date.year()), date.month(), date.day());
        assert_eq!(build_script::civil_from_days(days), expected, "day {days}");
        date = date.succ_opt().unwrap();
    }
}

#[test]
fn commit_from_the_environment_is_cut_to_twelve_lowercase_digits() {
    let full = "0123456789ABCDEF0123456789abcdef01234567";
    assert_eq!(build_script::commit_from_env(full), "0123456789ab");
    assert_eq!(build_script::commit_from_env(&full[..12]), "0123456789ab");
}

#[test]
#[should_panic(expected = "GITOPS_BOT_COMMIT must be a commit id")]
fn commit_from_the_environment_rejects_a_short_sha() {
    build_script::commit_from_env("01234567"); // CI_COMMIT_SHORT_SHA
}

#[test]
#[should_panic(expected = "GITOPS_BOT_COMMIT must be a commit id")]
fn commit_from_the_environment_rejects_a_tag() {
    build_script::commit_from_env("v0.1.0-released");
}
