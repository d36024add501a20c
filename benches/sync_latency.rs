//! Benchmark: how long after the (fake) Argo CD controller marks the Application healthy at
//! the merged commit the result comment reaches GitLab. `sync` is watch-driven, so this is
//! the time to receive one watch event, render the comment and write it; the alternative is
//! polling (Argo CD's default `timeout.reconciliation`: 120 s plus up to 60 s of jitter, 180 s
//! in older releases; Kargo's wait step: every 30 s).
//!
//! Run: `cargo build --release && cargo bench --bench sync_latency` (ROUNDS=N to change the
//! number of rounds, default 15). Prints a Markdown table; the figure is the median. Not a
//! test: nothing here asserts a time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use gitops_bot_fakes::fake_gitlab::{FakeGitlab, Options as GitlabOptions};
use gitops_bot_fakes::fake_kube::{FakeKube, Options as KubeOptions};
use serde_json::json;

const PROJECT: &str = "group/helloworld-ops";
const ARGO: &str = "argoproj.io/v1alpha1";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = std::env::var_os("GITOPS_BOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/gitops-bot"));
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);

    let seed = tempfile::tempdir().expect("temp dir");
    copy_dir(&root.join("ci-examples/helloworld-ops"), seed.path());
    std::fs::write(
        seed.path().join(".gitops-bot.yaml"),
        "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n    argocd_apps: [argocd/helloworld]\n",
    )
    .expect("config");
    let gitlab = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        ..GitlabOptions::default()
    });
    let before = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    assert!(run(
        &bin,
        &gitlab,
        &[
            "bump",
            "--project",
            PROJECT,
            "--environment",
            "prod",
            "--image",
            "registry.example.com/root/helloworld:ci-35"
        ]
    ));
    gitlab.add_note(1, 2, "gitops-bot deploy");
    assert!(run(&bin, &gitlab, &["commands", "--project", PROJECT]));
    let commit = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    assert_ne!(commit, before, "the bump was merged");

    let kube = Arc::new(FakeKube::start(KubeOptions::default()));
    let mut latencies = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..rounds {
        kube.put(json!({
            "apiVersion": ARGO, "kind": "Application",
            "metadata": {"name": "helloworld", "namespace": "argocd"},
            "spec": {"source": {"repoURL": "https://gitlab.example.com/group/helloworld-ops.git", "targetRevision": "main"}},
            "status": {"sync": {"status": "Synced", "revision": before}, "health": {"status": "Healthy"}},
        }));
        gitlab.clear_log();
        let controller = {
            let kube = kube.clone();
            let commit = commit.clone();
            thread::spawn(move || {
                kube.wait_for(
                    ARGO,
                    "Application",
                    Some("argocd"),
                    "helloworld",
                    Duration::from_secs(30),
                    |a| a.get("operation").is_some_and(|o| !o.is_null()),
                );
                kube.update(ARGO, "Application", Some("argocd"), "helloworld", |app| {
                    let op = app["operation"].take();
                    app.as_object_mut().expect("object").remove("operation");
                    app["status"]["operationState"] = json!({"phase": "Running", "operation": op});
                    app["status"]["health"] = json!({"status": "Progressing"});
                });
                thread::sleep(Duration::from_millis(300));
                kube.update(ARGO, "Application", Some("argocd"), "helloworld", |app| {
                    app["status"]["sync"] = json!({"status": "Synced", "revision": commit});
                    app["status"]["operationState"]["phase"] = json!("Succeeded");
                    app["status"]["health"] = json!({"status": "Healthy"});
                });
                Instant::now()
            })
        };
        let started = Instant::now();
        let ok = sync(&bin, &gitlab, &kube, &commit);
        let total = started.elapsed();
        let healthy_at = controller.join().expect("controller");
        assert!(ok, "sync failed");
        let comment_at = gitlab
            .requests()
            .into_iter()
            .filter(|r| (r.method == "POST" || r.method == "PUT") && r.path.contains("/notes"))
            .map(|r| r.at)
            .min()
            .expect("a result comment");
        latencies.push(comment_at.saturating_duration_since(healthy_at));
        totals.push(total);
    }
    latencies.sort();
    totals.sort();
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!("| measure ({rounds} rounds) | median | min | max |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| healthy → result comment written (gitops-bot sync, watch) | {} | {} | {} |",
        ms(latencies[rounds / 2]),
        ms(latencies[0]),
        ms(latencies[rounds - 1])
    );
    println!(
        "| whole `sync` run (incl. 0.3 s the fake controller spends Progressing) | {} | {} | {} |",
        ms(totals[rounds / 2]),
        ms(totals[0]),
        ms(totals[rounds - 1])
    );
    println!(
        "| Argo CD default polling (`timeout.reconciliation` 120 s + up to 60 s jitter), for reference | 120–180 s | | |"
    );
    println!("| Kargo wait-step polling, for reference | up to 30 s | | |");
    println!(
        "\nratio: Argo CD's 120 s interval / gitops-bot median = {:.0}x; Kargo's 30 s / median = {:.0}x",
        120.0 / latencies[rounds / 2].as_secs_f64().max(1e-6),
        30.0 / latencies[rounds / 2].as_secs_f64().max(1e-6)
    );
}

fn run(bin: &Path, gitlab: &FakeGitlab, args: &[&str]) -> bool {
    Command::new(bin)
        .args(args)
        .args(["--gitlab-url", &gitlab.url()])
        .env("GITLAB_TOKEN", gitlab.token())
        .env_remove("CI_PROJECT_PATH")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn sync(bin: &Path, gitlab: &FakeGitlab, kube: &FakeKube, commit: &str) -> bool {
    Command::new(bin)
        .args([
            "sync",
            "--project",
            PROJECT,
            "--commit",
            commit,
            "--gitlab-url",
            &gitlab.url(),
        ])
        .env("GITLAB_TOKEN", gitlab.token())
        .env("KUBE_API_URL", kube.url())
        .env("KUBE_TOKEN", kube.token())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let rel = entry.path().strip_prefix(from).expect("prefix");
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
