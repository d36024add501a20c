//! Benchmark: from a healthy verdict to the promotion merge request being open, through the
//! fake GitLab, for 1, 3 and 10 images: wall time and GitLab requests (counted on the fake).
//!
//! Each round starts a fresh fake GitLab whose `prod` runs every image at `ci-2` and was
//! just verified healthy there (a `success` deployment record at the head), and whose
//! `live` (`promote_from: prod`, no soak) runs them at `ci-1`; then the release binary runs
//! `gitops-bot promote --environment live`, which opens the promotion merge request. That is
//! the code path `sync` runs after its verdict (`gitops_bot::workflows::promotion`), plus
//! the process start and the client's set-up, so the time is an upper bound of the in-job
//! step.
//!
//! Run: `cargo build --release && cargo bench --bench promotion_latency` (ROUNDS=N, default
//! 9). Prints a Markdown table of medians. Not a test: nothing here asserts a time (the
//! request count is asserted in `tests/it/promote.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gitops_bot_fakes::fake_gitlab::{FakeGitlab, Options};

const PROJECT: &str = "group/helloworld-ops";
const REGISTRY: &str = "registry.example.com/team";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = std::env::var_os("GITOPS_BOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/gitops-bot"));
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);

    println!("### healthy verdict → promotion merge request open (fake GitLab, {rounds} rounds)\n");
    println!("| images | median wall (s) | min (s) | max (s) | GitLab requests |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for images in [1, 3, 10] {
        let mut times = Vec::new();
        let mut requests = Vec::new();
        for _ in 0..rounds {
            let seed = seed(images);
            let fake = FakeGitlab::start(Options {
                seed_dir: Some(seed.path().to_path_buf()),
                ..Options::default()
            });
            let head = fake.git(&["rev-parse", "main"]).trim().to_string();
            fake.add_deployment("prod", &head, "success");
            fake.clear_log();
            let start = Instant::now();
            let out = Command::new(&bin)
                .args([
                    "promote",
                    "--project",
                    PROJECT,
                    "--environment",
                    "live",
                    "--gitlab-url",
                    &fake.url(),
                ])
                .env("GITLAB_TOKEN", fake.token())
                .env_remove("CI_JOB_TOKEN")
                .output()
                .expect("run gitops-bot");
            times.push(start.elapsed());
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("created merge request !1"),
                "{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            requests.push(fake.requests().len());
        }
        let (min, max) = (
            times.iter().min().copied().unwrap_or_default(),
            times.iter().max().copied().unwrap_or_default(),
        );
        println!(
            "| {images} | {:.3} | {:.3} | {:.3} | {} |",
            median(&times).as_secs_f64(),
            min.as_secs_f64(),
            max.as_secs_f64(),
            requests.iter().max().copied().unwrap_or(0)
        );
    }
}

/// The config repository: `prod` at ci-2 and `live` at ci-1 for `images` images.
fn seed(images: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        ".gitops-bot.yaml",
        "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n  live:\n    paths: [envs/live]\n    promote_from: prod\n",
    );
    let overlay = |tag: &str| {
        let mut text = "resources: [../../base]\nimages:\n".to_string();
        for i in 0..images {
            text.push_str(&format!("  - name: {REGISTRY}/app{i}\n    newTag: {tag}\n"));
        }
        text
    };
    write("envs/prod/kustomization.yaml", &overlay("ci-2"));
    write("envs/live/kustomization.yaml", &overlay("ci-1"));
    dir
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}
