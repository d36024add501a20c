//! Benchmark: `bump --project` through the fake GitLab on a large config repository, beside
//! the clone-based way of making the same change (`git clone --depth 1` + edit + commit +
//! push against the same bare repository).
//!
//! Run by `bench/run.sh` (which generates the repository), or by hand:
//! `BENCH_REPO=DIR cargo bench --bench gitlab_bump`. Prints a Markdown table; timings are
//! medians. Not a test: nothing here asserts a time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gitops_bot_fakes::fake_gitlab::{FakeGitlab, Options};

const IMAGE: &str = "registry.example.com/group/helloworld";
const PROJECT: &str = "group/helloworld-ops";

fn main() {
    let Some(seed) = std::env::var_os("BENCH_REPO").map(PathBuf::from) else {
        eprintln!(
            "set BENCH_REPO to a generated config repo (bench/gen_repo.py), or run bench/run.sh"
        );
        std::process::exit(2);
    };
    let bin = std::env::var_os("GITOPS_BOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/gitops-bot"));
    let files = walkdir::WalkDir::new(&seed)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count();

    let mut created = Vec::new();
    let mut created_requests = Vec::new();
    let mut fake = None;
    for round in 0..3 {
        let f = FakeGitlab::start(Options {
            seed_dir: Some(seed.clone()),
            ..Options::default()
        });
        // Warm the fake's archive cache (GitLab caches archives too): a dry run reads it.
        let warm = bump(
            &bin,
            &f,
            &["--image", &format!("{IMAGE}:ci-35"), "--dry-run"],
        );
        assert!(warm.0, "dry run failed");
        f.clear_log();
        let (ok, took) = bump(&bin, &f, &["--image", &format!("{IMAGE}:ci-35")]);
        assert!(ok, "bump failed in round {round}");
        created.push(took);
        created_requests.push(f.requests().len());
        fake = Some(f);
    }
    let fake = fake.expect("three rounds ran");

    let mut noop = Vec::new();
    let mut noop_requests = 0;
    for _ in 0..10 {
        fake.clear_log();
        let (ok, took) = bump(&bin, &fake, &["--image", &format!("{IMAGE}:ci-35")]);
        assert!(ok);
        noop.push(took);
        noop_requests = fake.requests().len();
    }

    let mut updated = Vec::new();
    let mut updated_requests = 0;
    for i in 0..5 {
        fake.clear_log();
        let (ok, took) = bump(&bin, &fake, &["--image", &format!("{IMAGE}:ci-{}", 36 + i)]);
        assert!(ok);
        updated.push(took);
        updated_requests = fake.requests().len();
    }

    let mut clone = Vec::new();
    for i in 0..5 {
        clone.push(clone_based(&bin, &fake.repo_dir(), i));
    }

    println!("### bump --project through the fake GitLab ({files} files)\n");
    println!("| case | median wall (s) | min (s) | requests |");
    println!("| --- | ---: | ---: | ---: |");
    row(
        "gitops-bot, new merge request (3 runs)",
        &created,
        &created_requests
            .iter()
            .max()
            .copied()
            .unwrap_or(0)
            .to_string(),
    );
    row(
        "gitops-bot, rerun, no-op (10 runs)",
        &noop,
        &noop_requests.to_string(),
    );
    row(
        "gitops-bot, newer tag updates the MR (5 runs)",
        &updated,
        &updated_requests.to_string(),
    );
    row(
        "clone-based: clone --depth 1 + edit + commit + push (5 runs)",
        &clone,
        "git protocol",
    );
    println!(
        "\nratio clone-based / gitops-bot (new MR, medians): {:.1}x",
        median(&clone).as_secs_f64() / median(&created).as_secs_f64()
    );
}

fn bump(bin: &Path, fake: &FakeGitlab, args: &[&str]) -> (bool, Duration) {
    let verbose = std::env::var_os("BENCH_VERBOSE").is_some();
    let start = Instant::now();
    let out = Command::new(bin)
        .args(if verbose { &["-v"][..] } else { &[][..] })
        .arg("bump")
        .args([
            "--project",
            PROJECT,
            "--gitlab-url",
            &fake.url(),
            "--target-branch",
            "main",
            "--output",
            "json",
        ])
        .args(args)
        .env("GITLAB_TOKEN", fake.token())
        .env_remove("CI_JOB_TOKEN")
        .output()
        .expect("run gitops-bot");
    let took = start.elapsed();
    if verbose {
        eprintln!(
            "--- {args:?} took {took:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    (out.status.success(), took)
}

/// What a clone-based tool does for the same change, against the same bare repository.
fn clone_based(bin: &Path, bare: &Path, round: usize) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path().join("work");
    let git = |args: &[&str], cwd: &Path| {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=bench",
                "-c",
                "user.email=bench@example.com",
            ])
            .args(args)
            .current_dir(cwd)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .expect("git");
        assert!(status.success(), "git {args:?}");
    };
    let start = Instant::now();
    git(
        &[
            "clone",
            "--quiet",
            "--depth",
            "1",
            &format!("file://{}", bare.display()),
            work.to_str().expect("utf-8 path"),
        ],
        dir.path(),
    );
    let status = Command::new(bin)
        .args([
            "bump",
            "--local",
            work.to_str().expect("utf-8 path"),
            "--image",
            &format!("{IMAGE}:peer-{round}"),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("bump --local");
    assert!(status.success());
    git(&["commit", "--quiet", "-am", "bump"], &work);
    git(
        &[
            "push",
            "--quiet",
            "origin",
            &format!("HEAD:refs/heads/peer-{round}"),
        ],
        &work,
    );
    start.elapsed()
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn row(case: &str, times: &[Duration], requests: &str) {
    let min = times.iter().min().copied().unwrap_or_default();
    println!(
        "| {case} | {:.3} | {:.3} | {requests} |",
        median(times).as_secs_f64(),
        min.as_secs_f64()
    );
}
