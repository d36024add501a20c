//! Build script: stamps the commit and the build date into `gitops-bot --version`.
//!
//! Sets, for the crate's own compilation (read with `env!`):
//! - `GITOPS_BOT_COMMIT`: the environment variable of that name when it is set and not empty
//!   (a container build has no `.git`: pass it as a build argument), else the commit of
//!   `HEAD` from `git`, else `unknown`. Always the first 12 hex digits of the commit id.
//! - `GITOPS_BOT_BUILD_DATE`: the UTC date (YYYY-MM-DD) of `SOURCE_DATE_EPOCH` when it is set
//!   (reproducible builds), else of now.
//!
//! No build-dependency: the date is computed by `civil_from_days` below, which
//! `tests/version.rs` checks against chrono (it includes this file as a module, hence the
//! `pub(crate)` items).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Hex digits of the commit shown by `--version`.
const COMMIT_LEN: usize = 12;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GITOPS_BOT_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));

    let commit = match env::var("GITOPS_BOT_COMMIT") {
        Ok(given) if !given.trim().is_empty() => commit_from_env(given.trim()),
        _ => {
            watch_git(&dir);
            git(&dir, &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
                .filter(|id| is_commit_id(id))
                .map(|id| id[..COMMIT_LEN].to_ascii_lowercase())
                .unwrap_or_else(|| "unknown".to_owned())
        }
    };
    let date = match env::var("SOURCE_DATE_EPOCH") {
        // An empty value is unset: a Dockerfile's `ARG SOURCE_DATE_EPOCH` with no build argument.
        Ok(epoch) if !epoch.trim().is_empty() => epoch.trim().parse::<u64>().unwrap_or_else(|_| {
            panic!("SOURCE_DATE_EPOCH must be whole seconds since 1970-01-01 UTC, got {epoch:?}")
        }),
        _ => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let days = i64::try_from(date / 86_400).expect("a date before the year 25 billion");
    let (y, m, d) = civil_from_days(days);

    println!("cargo:rustc-env=GITOPS_BOT_COMMIT={commit}");
    println!("cargo:rustc-env=GITOPS_BOT_BUILD_DATE={y:04}-{m:02}-{d:02}");
}

/// `GITOPS_BOT_COMMIT` as given: a full or abbreviated commit id of at least 12 hex digits
/// (`CI_COMMIT_SHA`, `git rev-parse HEAD`). Anything else stops the build rather than
/// printing a version nobody can trace.
pub(crate) fn commit_from_env(given: &str) -> String {
    if !is_commit_id(given) {
        panic!(
            "GITOPS_BOT_COMMIT must be a commit id of {COMMIT_LEN} to 64 hex digits \
             (e.g. CI_COMMIT_SHA or `git rev-parse HEAD`), got {given:?}"
        );
    }
    given[..COMMIT_LEN].to_ascii_lowercase()
}

fn is_commit_id(s: &str) -> bool {
    (COMMIT_LEN..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Rebuild when HEAD moves: HEAD itself (checkout, detached commits), the branch it names
/// (commits), packed-refs (gc, fetch). Paths come from git, so worktrees work; without git or
/// `.git` nothing is watched. Only existing paths are printed: cargo reruns a build script on
/// every build while a watched path is missing.
fn watch_git(dir: &Path) {
    let git_path = |name: &str| git(dir, &["rev-parse", "--git-path", name]).map(|p| dir.join(p));
    let Some(head) = git_path("HEAD").filter(|p| p.is_file()) else {
        return;
    };
    watch(&head);
    if let Some(branch) = git(dir, &["symbolic-ref", "--quiet", "HEAD"])
        && let Some(loose) = git_path(&branch)
    {
        if loose.is_file() {
            watch(&loose);
        } else if let Some(parent) = loose.parent().filter(|p| p.is_dir()) {
            // Only packed so far: the next commit creates the loose ref in here.
            watch(parent);
        }
    }
    if let Some(packed) = git_path("packed-refs").filter(|p| p.is_file()) {
        watch(&packed);
    }
}

fn watch(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}

/// `git ARGS` in `dir`: its trimmed stdout when it succeeded with some output.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_owned())
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01.
/// Howard Hinnant's `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>):
/// eras of 400 years (146 097 days) whose years start on 1 March, so the leap day is last.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year, [0, 365]
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
