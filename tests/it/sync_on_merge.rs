//! `serve --sync-on-merge` through the real binary: a merge request hook for a merged bot
//! merge request makes `serve` run the sync the pipeline's `sync` job would (the Argo CD sync
//! at the merged commit, the result comment, the label, the deployment record), once.

use crate::common;
use crate::fake_gitlab;
use crate::fake_kube;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use fake_gitlab::{FakeGitlab, MERGE_REQUEST_HOOK, Options as GitlabOptions};
use fake_kube::{FakeKube, Options as KubeOptions};
use serde_json::{Value, json};

const PROJECT: &str = "group/helloworld-ops";
const IMAGE: &str = "registry.example.com/root/helloworld";
const ARGO: &str = "argoproj.io/v1alpha1";
const OPERATOR: u64 = 2;
const CONFIG: &str = "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n    argocd_apps: [argocd/helloworld]\n";
const PATIENCE: Duration = Duration::from_secs(30);

struct World {
    gitlab: FakeGitlab,
    kube: Arc<FakeKube>,
    /// The merge commit of bump !1 on main.
    commit: String,
    _seed: tempfile::TempDir,
}

/// Bump !1 (ci-34 → ci-35 in prod) merged by the operator's `deploy`, and the Application
/// synced and healthy at the commit before.
fn world() -> World {
    let seed = common::prod_only_repo();
    common::write(seed.path(), ".gitops-bot.yaml", CONFIG);
    let gitlab = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        ..GitlabOptions::default()
    });
    let before = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    let image = format!("{IMAGE}:ci-35");
    let bot = |args: &[&str]| {
        common::run_without_leaking(
            common::bot_command(&gitlab.url(), gitlab.token(), args),
            gitlab.token(),
        )
    };
    let run = bot(&[
        "bump",
        "--project",
        PROJECT,
        "--environment",
        "prod",
        "--image",
        &image,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    gitlab.add_note(1, OPERATOR, "gitops-bot deploy");
    let run = bot(&["commands", "--project", PROJECT]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let commit = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    assert_ne!(commit, before, "the bump was merged");
    let kube = Arc::new(FakeKube::start(KubeOptions::default()));
    kube.put(json!({
        "apiVersion": ARGO,
        "kind": "Application",
        "metadata": {"name": "helloworld", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://gitlab.example.com/group/helloworld-ops.git", "path": "envs/prod", "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "hello"},
        },
        "status": {
            "sync": {"status": "Synced", "revision": before},
            "health": {"status": "Healthy"},
            "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "hello", "name": "helloworld", "status": "Synced", "health": {"status": "Healthy"}},
            ],
        },
    }));
    World {
        gitlab,
        kube,
        commit,
        _seed: seed,
    }
}

struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(w: &World, extra: &[&str]) -> Serve {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--project", PROJECT];
        args.extend_from_slice(extra);
        let mut cmd: Command = common::bot_command(&w.gitlab.url(), w.gitlab.token(), &args);
        let mut child = cmd
            .env("KUBE_API_URL", w.kube.url())
            .env("KUBE_TOKEN", w.kube.token())
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CA_FILE")
            .env_remove("KUBE_NAMESPACE")
            .env("GITOPS_BOT_WEBHOOK_SECRET", "s3cret")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start serve");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines.next().expect("serve exited").unwrap();
            if let Some(a) = line.strip_prefix("listening on ") {
                break a.to_string();
            }
        };
        thread::spawn(move || for _ in lines {});
        Serve {
            child,
            url: format!("http://{addr}"),
        }
    }

    fn deliver(&self, hook: &Value, key: &str) -> (u16, String) {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/webhook", self.url))
            .header("X-Gitlab-Token", "s3cret")
            .header("X-Gitlab-Event", MERGE_REQUEST_HOOK)
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(hook).unwrap())
            .send()
            .expect("post");
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    }

    fn metrics(&self) -> String {
        reqwest::blocking::get(format!("{}/metrics", self.url))
            .expect("metrics")
            .text()
            .unwrap_or_default()
    }

    fn wait_for_metric(&self, line: &str) {
        let start = Instant::now();
        while !self.metrics().lines().any(|l| l == line) {
            assert!(
                start.elapsed() < PATIENCE,
                "never {line}:\n{}",
                self.metrics()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl World {
    /// The bot's sync result comments on !1.
    fn results(&self) -> Vec<String> {
        self.gitlab
            .notes(1)
            .into_iter()
            .filter_map(|n| n["body"].as_str().map(str::to_string))
            .filter(|b| b.contains("\"kind\":\"sync\""))
            .collect()
    }

    /// Argo CD: waits for the bot's sync operation, then ends it synced and healthy at the
    /// revision it names; returns the operation.
    fn argo_syncs(&self) -> thread::JoinHandle<Value> {
        let kube = self.kube.clone();
        thread::spawn(move || {
            let app = kube.wait_for(
                ARGO,
                "Application",
                Some("argocd"),
                "helloworld",
                PATIENCE,
                |a| a.get("operation").is_some_and(|o| !o.is_null()),
            );
            let operation = app["operation"].clone();
            let revision = operation["sync"]["revision"].clone();
            kube.update(ARGO, "Application", Some("argocd"), "helloworld", |a| {
                let op = a["operation"].take();
                a.as_object_mut().unwrap().remove("operation");
                a["status"]["sync"] = json!({"status": "Synced", "revision": revision});
                a["status"]["operationState"] = json!({
                    "phase": "Succeeded",
                    "operation": op,
                    "syncResult": {"revision": revision},
                    "startedAt": "2026-11-27T10:00:00Z",
                });
            });
            operation
        })
    }
}

#[test]
fn a_merged_bot_merge_request_is_synced_once_at_its_merge_commit() {
    let w = world();
    let server = Serve::start(&w, &["--sync-on-merge"]);
    let controller = w.argo_syncs();
    let hook = w.gitlab.merge_request_hook(1, "merge", OPERATOR);
    assert_eq!(
        server.deliver(&hook, "first"),
        (200, "queued\n".to_string())
    );
    let operation = controller.join().unwrap();
    assert_eq!(
        operation["sync"]["revision"],
        json!(w.commit),
        "{operation}"
    );
    server.wait_for_metric("gitops_bot_events_processed_total{outcome=\"done\"} 1");
    let results = w.results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(
        results[0].contains(":white_check_mark: **Deployed** to **`prod`**"),
        "{}",
        results[0]
    );
    let deployments = w.gitlab.deployments();
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(
        (
            deployments[0].environment.as_str(),
            deployments[0].sha.as_str(),
            deployments[0].status.as_str()
        ),
        ("prod", w.commit.as_str(), "success")
    );
    let mr = w
        .gitlab
        .merge_requests()
        .into_iter()
        .find(|m| m["iid"] == 1)
        .unwrap();
    assert!(
        mr["labels"]
            .as_array()
            .unwrap()
            .contains(&json!("deployed::prod")),
        "{mr}"
    );
    assert!(
        w.gitlab
            .awards(1, None)
            .contains(&("gitops-bot".to_string(), "rocket".to_string())),
        "claimed"
    );

    // Another delivery (a second hook, a replica): the claim makes it a no-op.
    w.kube.clear_requests();
    assert_eq!(
        server.deliver(&hook, "second"),
        (200, "queued\n".to_string())
    );
    server.wait_for_metric("gitops_bot_events_ignored_total 1");
    assert_eq!(w.results().len(), 1);
    assert_eq!(w.gitlab.deployments().len(), 1);
    assert!(
        w.kube.requests().iter().all(|r| r.method == "GET"),
        "nothing requested of Argo CD again"
    );
}

#[test]
fn without_the_flag_a_merge_is_not_synced() {
    let w = world();
    let server = Serve::start(&w, &[]);
    let hook = w.gitlab.merge_request_hook(1, "merge", OPERATOR);
    assert_eq!(
        server.deliver(&hook, "only"),
        (200, "ignored\n".to_string())
    );
    assert!(w.results().is_empty());
    assert!(w.gitlab.deployments().is_empty());
    assert!(w.kube.requests().is_empty(), "the cluster is not touched");
}
