//! Benchmark (issue 12, "Performance"): one `gitops-bot drift` pass over 200 Argo CD
//! Applications in 20 environments (10 each, one namespace per environment), through the
//! fake GitLab and the fake Kubernetes API: wall time, GitLab reads and writes, Kubernetes
//! requests (counted on the fakes).
//!
//! Each round starts a fresh fake GitLab whose `.gitops-bot.yaml` (generated) lists the 200
//! Applications, with `drift.confirm: 0s` so that no pass waits; the fake cluster holds the
//! Applications, synced and healthy at the head except one in each of 3 environments
//! (OutOfSync). Then:
//! - **first pass**: sees the 3 drifted environments and opens their 3 issues;
//! - **rerun, nothing new**: the same cluster again; it finds the 3 issues already true, so
//!   it writes nothing.
//!
//! The wall time is the whole process (start, GitLab client set-up, the default branch's
//! head and settings, the cluster's discovery and lists, the issue searches and writes).
//!
//! Run: `cargo build --release && cargo bench --bench drift_pass` (ROUNDS=N, default 9;
//! GITOPS_BOT=path to measure another binary). Prints a Markdown table of medians. Not a
//! test: nothing here asserts a time (the counts are asserted in `tests/it/drift_scale.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gitops_bot_fakes::fake_gitlab::{FakeGitlab, Options as GitlabOptions};
use gitops_bot_fakes::fake_kube::{FakeKube, Options as KubeOptions};
use serde_json::{Value, json};

const PROJECT: &str = "group/helloworld-ops";
const ARGO: &str = "argoproj.io/v1alpha1";
const ENVIRONMENTS: usize = 20;
const APPS_PER_ENVIRONMENT: usize = 10;
/// (environment, application) that are OutOfSync.
const DRIFTED: [(usize, usize); 3] = [(3, 4), (11, 0), (17, 9)];

/// What one run cost.
#[derive(Default, Clone, Copy)]
struct Counts {
    gitlab_reads: usize,
    gitlab_writes: usize,
    kube_lists: usize,
    kube_gets: usize,
    kube_discovery: usize,
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = std::env::var_os("GITOPS_BOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/gitops-bot"));
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);

    let kube = FakeKube::start(KubeOptions::default());
    let mut first = Vec::new();
    let mut rerun = Vec::new();
    for _ in 0..rounds {
        let seed = tempfile::tempdir().expect("temp dir");
        std::fs::write(seed.path().join(".gitops-bot.yaml"), config()).expect("config");
        std::fs::write(seed.path().join("README.md"), "Platform config.\n").expect("readme");
        let gitlab = FakeGitlab::start(GitlabOptions {
            seed_dir: Some(seed.path().to_path_buf()),
            ..GitlabOptions::default()
        });
        let head = gitlab.git(&["rev-parse", "main"]).trim().to_string();
        for e in 0..ENVIRONMENTS {
            for a in 0..APPS_PER_ENVIRONMENT {
                let sync = if DRIFTED.contains(&(e, a)) {
                    "OutOfSync"
                } else {
                    "Synced"
                };
                kube.put(application(e, a, sync, &head));
            }
        }
        first.push(pass(&bin, &gitlab, &kube, DRIFTED.len()));
        rerun.push(pass(&bin, &gitlab, &kube, DRIFTED.len()));
        assert_eq!(
            gitlab.issues().len(),
            DRIFTED.len(),
            "one issue per drifted env"
        );
    }

    println!(
        "### drift pass: {} Argo CD Applications in {ENVIRONMENTS} environments (fake GitLab, fake Kubernetes API, {rounds} rounds)\n",
        ENVIRONMENTS * APPS_PER_ENVIRONMENT
    );
    println!(
        "| pass | median wall (s) | min (s) | max (s) | GitLab reads | GitLab writes | Kubernetes lists | gets | discovery |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, runs) in [
        ("first (3 environments drifted: 3 issues opened)", &first),
        ("rerun, nothing new", &rerun),
    ] {
        let times: Vec<Duration> = runs.iter().map(|(t, _)| *t).collect();
        let c = runs.iter().map(|(_, c)| *c).max_by_key(|c| {
            c.gitlab_reads + c.gitlab_writes + c.kube_lists + c.kube_gets + c.kube_discovery
        });
        let c = c.unwrap_or_default();
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} | {} |",
            median(&times).as_secs_f64(),
            times
                .iter()
                .min()
                .copied()
                .unwrap_or_default()
                .as_secs_f64(),
            times
                .iter()
                .max()
                .copied()
                .unwrap_or_default()
                .as_secs_f64(),
            c.gitlab_reads,
            c.gitlab_writes,
            c.kube_lists,
            c.kube_gets,
            c.kube_discovery,
        );
    }
}

/// One `drift` run; its wall time and what it asked of the fakes.
fn pass(bin: &Path, gitlab: &FakeGitlab, kube: &FakeKube, drifted: usize) -> (Duration, Counts) {
    gitlab.clear_log();
    kube.clear_requests();
    let start = Instant::now();
    let out = Command::new(bin)
        .args(["drift", "--project", PROJECT, "--gitlab-url", &gitlab.url()])
        .env("GITLAB_TOKEN", gitlab.token())
        .env("KUBE_API_URL", kube.url())
        .env("KUBE_TOKEN", kube.token())
        .env_remove("CI_JOB_TOKEN")
        .env_remove("CI_PROJECT_PATH")
        .env_remove("KUBECONFIG")
        .env_remove("KUBE_CA_FILE")
        .env_remove("KUBE_NAMESPACE")
        .env_remove("RUST_LOG")
        .output()
        .expect("run gitops-bot");
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stdout.lines().filter(|l| l.contains(": drifted (")).count() == drifted,
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = gitlab.requests();
    let writes = gitlab.writes().len();
    let mut counts = Counts {
        gitlab_reads: requests.len() - writes,
        gitlab_writes: writes,
        ..Counts::default()
    };
    for r in kube.requests() {
        let segments = r.path.trim_start_matches('/').split('/').count();
        // /apis/argoproj.io/v1alpha1/namespaces/NS/applications[/NAME]
        match (r.path.contains("/namespaces/"), segments) {
            (true, 6) => counts.kube_lists += 1,
            (true, _) => counts.kube_gets += 1,
            (false, _) => counts.kube_discovery += 1,
        }
    }
    (took, counts)
}

/// `.gitops-bot.yaml`: environments `env-00`..`env-19`, each listing its 10 Applications
/// in its namespace `apps-NN`.
fn config() -> String {
    let mut text = "operators: [operator]\nenvironments:\n".to_string();
    for e in 0..ENVIRONMENTS {
        let apps: Vec<String> = (0..APPS_PER_ENVIRONMENT)
            .map(|a| format!("apps-{e:02}/app-{a}"))
            .collect();
        text.push_str(&format!(
            "  env-{e:02}:\n    argocd_apps: [{}]\n",
            apps.join(", ")
        ));
    }
    text.push_str("drift:\n  confirm: 0s\n");
    text
}

fn application(e: usize, a: usize, sync: &str, revision: &str) -> Value {
    json!({
        "apiVersion": ARGO,
        "kind": "Application",
        "metadata": {"name": format!("app-{a}"), "namespace": format!("apps-{e:02}")},
        "spec": {"project": "default", "source": {"repoURL": "https://gitlab.example.com/group/helloworld-ops.git", "path": format!("envs/env-{e:02}/app-{a}"), "targetRevision": "main"}},
        "status": {
            "sync": {"status": sync, "revision": revision},
            "health": {"status": "Healthy"},
            "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": format!("env-{e:02}"), "name": format!("app-{a}"), "status": sync, "health": {"status": "Healthy"}},
            ],
        },
    })
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}
