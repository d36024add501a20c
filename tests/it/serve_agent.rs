//! `serve` for a platform team: many projects behind one webhook (`--project` globs), and
//! the always-on drift agent (`--drift-every`), run as two real replicas against one fake
//! GitLab and one fake Kubernetes API.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common;
use crate::fake_gitlab::{
    FakeGitlab, Fault, NOTE_HOOK, Options as GitlabOptions, OtherProject, Rule,
};
use crate::fake_kube::{FakeKube, Options as KubeOptions};
use crate::fake_webhook::FakeWebhook;
use crate::mr_thread::{self, OPERATOR, PROJECT, replies};

const ARGO: &str = "argoproj.io/v1alpha1";
/// How long a slowed-down write takes: longer than a replica's round (`--drift-every 1s`,
/// `drift.confirm: 1s`), so that the other replica makes the same write meanwhile.
const COLLIDE: Duration = Duration::from_secs(6);
const SECRET: &str = "s3cret";

/// A `serve` process; its stderr is kept for the assertions' messages.
struct Serve {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Serve {
    fn start(fake: &FakeGitlab, kube: Option<&FakeKube>, args: &[&str]) -> Serve {
        Serve::start_with(fake, kube, args, &[])
    }

    fn start_with(
        fake: &FakeGitlab,
        kube: Option<&FakeKube>,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Serve {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut cmd: Command = common::bot_command(&fake.url(), fake.token(), &all);
        cmd.env("GITOPS_BOT_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", "info")
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CA_FILE")
            .env_remove("KUBE_NAMESPACE")
            .env_remove("KUBE_API_URL")
            .env_remove("KUBE_TOKEN");
        cmd.envs(envs.iter().copied());
        if let Some(kube) = kube {
            cmd.env("KUBE_API_URL", kube.url())
                .env("KUBE_TOKEN", kube.token());
        }
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("start serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.wait();
                panic!("serve exited before listening:\n{}", log.lock().unwrap());
            };
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(a) = line.strip_prefix("listening on ") {
                break a.to_string();
            }
        };
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                keep.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Serve {
            child,
            url: format!("http://{addr}"),
            log,
        }
    }

    fn post(&self, body: &Value) -> (u16, String) {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/webhook", self.url))
            .header("X-Gitlab-Token", SECRET)
            .header("X-Gitlab-Event", NOTE_HOOK)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .expect("post");
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    }

    fn metrics(&self) -> String {
        reqwest::blocking::get(format!("{}/metrics", self.url))
            .expect("get /metrics")
            .text()
            .expect("metrics text")
    }

    /// The value of the series `series` (name and labels exactly), 0 when absent.
    fn metric(&self, series: &str) -> u64 {
        metric(&self.metrics(), series)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

/// Waits (polling, 60 s at most) until `done`; `context` says what was seen on a timeout.
fn wait_for(what: &str, mut done: impl FnMut() -> bool, context: impl Fn() -> String) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A note hook of `fake` that says it comes from project `id` at `path`.
fn relocated(mut hook: Value, id: u64, path: &str) -> Value {
    hook["project_id"] = json!(id);
    hook["project"]["id"] = json!(id);
    hook["project"]["path_with_namespace"] = json!(path);
    hook["object_attributes"]["project_id"] = json!(id);
    hook["merge_request"]["target_project_id"] = json!(id);
    hook["merge_request"]["source_project_id"] = json!(id);
    hook
}

/// The requests since the last `clear_log`, as `METHOD path[?query]`.
fn paths(fake: &FakeGitlab) -> Vec<String> {
    fake.requests()
        .iter()
        .map(|r| match r.query.as_str() {
            "" => format!("{} {}", r.method, r.path),
            q => format!("{} {}?{q}", r.method, r.path),
        })
        .collect()
}

/// Projects besides `group/helloworld-ops`: one more in the group, an archived one, one in
/// a subgroup.
fn others() -> Vec<OtherProject> {
    vec![
        OtherProject {
            id: 43,
            path: "group/other-ops".into(),
            archived: false,
        },
        OtherProject {
            id: 44,
            path: "group/old-ops".into(),
            archived: true,
        },
        OtherProject {
            id: 45,
            path: "group/sub/deep-ops".into(),
            archived: false,
        },
    ]
}

#[test]
fn a_group_glob_routes_by_project_confirms_it_and_two_replicas_reply_once() {
    let (fake, _seed) = mr_thread::setup_with(
        "operators: [operator]\n",
        GitlabOptions {
            other_projects: others(),
            ..GitlabOptions::default()
        },
    );
    fake.clear_log();
    let a = Serve::start(&fake, None, &["--project", "group/*"]);
    let b = Serve::start(&fake, None, &["--project", "group/*"]);

    // The same comment delivered to both replicas: one reply.
    let note = fake.add_note(1, OPERATOR, "gitops-bot status");
    let hook = fake.note_hook(1, note);
    assert_eq!(a.post(&hook), (200, "queued\n".into()), "{}", a.log());
    assert_eq!(b.post(&hook), (200, "queued\n".into()), "{}", b.log());
    let processed = |s: &Serve| {
        let text = s.metrics();
        ["done", "answered", "refused", "failed", "ignored"]
            .iter()
            .map(|o| {
                metric(
                    &text,
                    &format!("gitops_bot_events_processed_total{{outcome=\"{o}\"}}"),
                )
            })
            .sum::<u64>()
            + metric(&text, "gitops_bot_events_ignored_total")
    };
    wait_for(
        "both replicas to process the comment",
        || replies(&fake, 1).len() == 1 && processed(&a) + processed(&b) >= 2,
        || format!("{}\n{}", a.log(), b.log()),
    );
    assert_eq!(replies(&fake, 1).len(), 1, "{:?}", replies(&fake, 1));

    // A project no pattern allows: ignored before any request to GitLab.
    fake.clear_log();
    let elsewhere = relocated(hook.clone(), 77, "elsewhere/ops");
    assert_eq!(a.post(&elsewhere), (200, "ignored\n".into()));
    // A subgroup's project is not in `group/*`.
    let deep = relocated(hook.clone(), 45, "group/sub/deep-ops");
    assert_eq!(a.post(&deep), (200, "ignored\n".into()));
    assert_eq!(paths(&fake), Vec::<String>::new());

    // A payload that names an allowed path for project 45: GitLab says 45 is
    // group/sub/deep-ops, so nothing is done there, and nothing is written anywhere.
    let forged = relocated(hook.clone(), 45, "group/helloworld-ops");
    assert_eq!(a.post(&forged), (200, "ignored\n".into()), "{}", a.log());
    assert_eq!(paths(&fake), ["GET /api/v4/projects/45"]);
    assert!(
        a.log().contains("does not confirm"),
        "the log says why: {}",
        a.log()
    );
    assert_eq!(a.metric("gitops_bot_events_unmatched_total"), 3);
    assert_eq!(b.metric("gitops_bot_events_unmatched_total"), 0);
    assert_eq!(replies(&fake, 1).len(), 1);

    // Another project of the group: its own dispatcher, working in that project (here it
    // cannot read the merge request: that project has no data on the fake, so the command
    // fails there), and the bot's user is not read again.
    fake.clear_log();
    let other = relocated(hook.clone(), 43, "group/other-ops");
    assert_eq!(a.post(&other), (200, "queued\n".into()), "{}", a.log());
    wait_for(
        "the command in group/other-ops to fail",
        || a.metric("gitops_bot_events_processed_total{outcome=\"failed\"}") == 1,
        || a.log(),
    );
    let requests = paths(&fake);
    assert_eq!(requests[0], "GET /api/v4/projects/43", "{requests:?}");
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /api/v4/projects/group%2Fother")
                && r.contains("/merge_requests/1/")),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("helloworld-ops") || r == "GET /api/v4/user"),
        "{requests:?}"
    );
}

#[test]
fn serve_refuses_a_bad_glob_and_drift_without_a_cluster() {
    let fake = FakeGitlab::start(GitlabOptions::default());
    let run = common::run_without_leaking(
        common::bot_command(
            &fake.url(),
            fake.token(),
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--project",
                "group/*/ops",
            ],
        ),
        fake.token(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("GROUP/*"), "{}", run.stderr);

    let mut cmd = common::bot_command(
        &fake.url(),
        fake.token(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--project",
            PROJECT,
            "--drift-every",
            "1m",
        ],
    );
    cmd.env("GITOPS_BOT_WEBHOOK_SECRET", SECRET)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBE_API_URL")
        .env_remove("KUBERNETES_SERVICE_HOST");
    let run = common::run_without_leaking(cmd, fake.token());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("--drift-every needs read access to the cluster"),
        "{}",
        run.stderr
    );
}

/// prod: an Argo CD app, of the production tier; a short `drift.confirm` for speed.
const DRIFT_CONFIG: &str = "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n    argocd_apps: [argocd/helloworld]\n    tier: production\ndrift:\n  confirm: 1s\n";

fn app(sync: &str, revision: &str, health: &str) -> Value {
    json!({
        "apiVersion": ARGO,
        "kind": "Application",
        "metadata": {"name": "helloworld", "namespace": "argocd"},
        "spec": {"project": "default", "source": {"repoURL": "https://gitlab.example.com/group/helloworld-ops.git", "path": "envs/prod", "targetRevision": "main"}},
        "status": {
            "sync": {"status": sync, "revision": revision},
            "health": {"status": health},
            "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "hello", "name": "helloworld", "status": sync, "health": {"status": "Healthy"}},
            ],
        },
    })
}

/// The issues carrying prod's drift marker, and the open ones among them.
fn marked(fake: &FakeGitlab) -> (Vec<crate::fake_gitlab::Issue>, usize) {
    let marked: Vec<_> = fake
        .issues()
        .into_iter()
        .filter(|i| i.description.contains("\"kind\":\"drift\""))
        .collect();
    let open = marked.iter().filter(|i| i.state == "opened").count();
    (marked, open)
}

#[test]
fn two_replicas_with_drift_every_keep_one_issue_with_one_note_per_change() {
    let seed = common::prod_only_repo();
    common::write(seed.path(), ".gitops-bot.yaml", DRIFT_CONFIG);
    let fake = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        other_projects: others(),
        ..GitlabOptions::default()
    });
    let head = fake.git(&["rev-parse", "main"]).trim().to_string();
    let kube = FakeKube::start(KubeOptions::default());
    kube.put(app("Synced", &head, "Healthy"));
    let args = ["--project", "group/*", "--drift-every", "1s"];
    let a = Serve::start(&fake, Some(&kube), &args);
    let b = Serve::start(&fake, Some(&kube), &args);
    let logs = || format!("--- a\n{}\n--- b\n{}", a.log(), b.log());
    let rounds = |s: &Serve| s.metric("gitops_bot_drift_rounds_total");
    // Until both replicas have finished two more rounds than now.
    let two_more_rounds = |what: &str| {
        let (ra, rb) = (rounds(&a), rounds(&b));
        wait_for(what, || rounds(&a) >= ra + 2 && rounds(&b) >= rb + 2, logs);
    };
    const OURS: &str = "project=\"group/helloworld-ops\"";

    // Converged: no issue. The glob is listed through the API: the archived project and
    // the subgroup's are not observed; the other project's pass fails without stopping
    // the loop.
    two_more_rounds("the first rounds");
    assert!(fake.issues().is_empty(), "{:?}", fake.issues());
    let text = a.metrics();
    assert!(
        metric(
            &text,
            &format!("gitops_bot_drift_passes_total{{{OURS},outcome=\"done\"}}")
        ) >= 2,
        "{text}"
    );
    assert!(
        metric(
            &text,
            "gitops_bot_drift_passes_total{project=\"group/other-ops\",outcome=\"failed\"}"
        ) >= 2,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            &format!("gitops_bot_drift_state{{{OURS},environment=\"prod\",state=\"converged\"}}")
        ),
        1,
        "{text}"
    );
    let requests = paths(&fake);
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /api/v4/groups/group/projects?")
                && r.contains("archived=false")),
        "{requests:?}"
    );
    assert!(
        !requests.iter().any(|r| r.contains("old-ops")
            || r.contains("deep-ops")
            || r.contains("/projects/44")
            || r.contains("/projects/45")),
        "{requests:?}"
    );

    // Drifted. Every write below is slowed down for the first two workers that make it, so
    // that both replicas decide to make it before either lands: a collision on purpose.
    // Still: exactly one open issue.
    let slow = |what: &'static str, path: String| {
        fake.inject(
            Rule::matching(
                move |r| r.method == what && r.decoded_path.ends_with(&path),
                Fault::Delay(COLLIDE),
            )
            .times(2),
        );
    };
    slow("POST", format!("/projects/{PROJECT}/issues"));
    kube.update(ARGO, "Application", Some("argocd"), "helloworld", |a| {
        a["status"]["sync"]["status"] = json!("OutOfSync");
        a["status"]["resources"][0]["status"] = json!("OutOfSync");
    });
    wait_for("a drift issue", || marked(&fake).1 == 1, logs);
    two_more_rounds("the replicas to settle on the drift issue");
    let (issues, open) = marked(&fake);
    assert_eq!(open, 1, "{issues:?}\n{}", logs());
    let kept = issues
        .iter()
        .find(|i| i.state == "opened")
        .expect("one open issue")
        .iid;
    assert_eq!(
        fake.issues().len(),
        2,
        "both replicas created one: {:?}",
        fake.issues()
    );
    for other in fake.issues().iter().filter(|i| i.iid != kept) {
        // A duplicate of a simultaneous create: closed, its marker gone.
        assert_eq!(other.state, "closed", "{other:?}");
        assert!(
            other
                .description
                .starts_with(&format!("Duplicate of #{kept}")),
            "{other:?}"
        );
    }
    let issue = |fake: &FakeGitlab| {
        fake.issues()
            .into_iter()
            .find(|i| i.iid == kept)
            .expect("the kept issue")
    };
    assert!(issue(&fake).notes.is_empty(), "{:?}", issue(&fake).notes);
    assert!(
        issue(&fake)
            .description
            .starts_with("**`prod` is drifted**"),
        "{}",
        issue(&fake).description
    );
    assert_eq!(
        a.metric(&format!(
            "gitops_bot_drift_state{{{OURS},environment=\"prod\",state=\"drifted\"}}"
        )),
        1
    );

    // Reruns that see the same: no write at all, and at most two reads per environment
    // per pass (the issue list; the project, its head and its settings are read by
    // every pass of the project).
    fake.clear_log();
    two_more_rounds("reruns");
    let writes: Vec<String> = fake
        .writes()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(writes, Vec::<String>::new());

    // The set changes: one note (both replicas comment; the copy is deleted), the
    // description rewritten.
    slow("POST", format!("/issues/{kept}/notes"));
    kube.update(ARGO, "Application", Some("argocd"), "helloworld", |a| {
        a["status"]["health"]["status"] = json!("Degraded");
    });
    wait_for(
        "the description to say degraded",
        || {
            issue(&fake)
                .description
                .starts_with("**`prod` is degraded**")
        },
        logs,
    );
    two_more_rounds("the replicas to settle on the change");
    assert_eq!(
        issue(&fake).notes.len(),
        1,
        "{:?}\n{}",
        issue(&fake).notes,
        logs()
    );
    assert!(issue(&fake).notes[0].contains("is now **degraded**"));
    let deleted = || {
        fake.requests()
            .iter()
            .filter(|r| r.method == "DELETE" && r.path.contains("/notes/"))
            .count()
    };
    assert!(deleted() >= 1, "the replicas collided: {:?}", paths(&fake));
    fake.clear_log();

    // Converged again: closed with one note.
    slow("POST", format!("/issues/{kept}/notes"));
    kube.update(ARGO, "Application", Some("argocd"), "helloworld", |a| {
        a["status"]["sync"]["status"] = json!("Synced");
        a["status"]["resources"][0]["status"] = json!("Synced");
        a["status"]["health"]["status"] = json!("Healthy");
    });
    wait_for(
        "the issue to close",
        || issue(&fake).state == "closed",
        logs,
    );
    two_more_rounds("the replicas to settle on the convergence");
    let closed = issue(&fake);
    assert_eq!(closed.notes.len(), 2, "{:?}\n{}", closed.notes, logs());
    assert!(
        closed.notes[1].contains("converged again"),
        "{:?}",
        closed.notes
    );
    assert!(deleted() >= 1, "the replicas collided: {:?}", paths(&fake));
    assert_eq!(marked(&fake).1, 0);
}

#[test]
fn serve_drift_every_sends_the_drift_alert_once_for_a_project_named_exactly() {
    let seed = common::prod_only_repo();
    common::write(seed.path(), ".gitops-bot.yaml", DRIFT_CONFIG);
    let fake = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        ..GitlabOptions::default()
    });
    let head = fake.git(&["rev-parse", "main"]).trim().to_string();
    let kube = FakeKube::start(KubeOptions::default());
    kube.put(app("OutOfSync", &head, "Healthy"));
    let hook = FakeWebhook::start();
    let url = format!("{}/alerts/notify/drift/1.json", hook.url());
    let token = "alert-token-0123456789";
    let serve = Serve::start_with(
        &fake,
        Some(&kube),
        &[
            "--project",
            PROJECT,
            "--drift-every",
            "1s",
            "--alert-url",
            &url,
        ],
        &[("GITOPS_BOT_ALERT_TOKEN", token)],
    );
    wait_for("the alert", || !hook.requests().is_empty(), || serve.log());
    let rounds = serve.metric("gitops_bot_drift_rounds_total");
    wait_for(
        "two more rounds",
        || serve.metric("gitops_bot_drift_rounds_total") >= rounds + 2,
        || serve.log(),
    );
    let sent = hook.requests();
    assert_eq!(sent.len(), 1, "one alert, not one per round: {sent:?}");
    assert_eq!(sent[0].body["fingerprint"], format!("{PROJECT}/prod"));
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(marked(&fake).1, 1);
    assert!(
        !serve.log().contains(token),
        "the token leaked: {}",
        serve.log()
    );
    assert_eq!(serve.metric("gitops_bot_drift_alerts_failed_total"), 0);
}

#[test]
fn a_worker_that_finds_the_write_done_when_it_reads_again_writes_nothing() {
    let seed = common::prod_only_repo();
    common::write(
        seed.path(),
        ".gitops-bot.yaml",
        DRIFT_CONFIG.replace("confirm: 1s", "confirm: 0s"),
    );
    let fake = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        ..GitlabOptions::default()
    });
    let head = fake.git(&["rev-parse", "main"]).trim().to_string();
    let kube = FakeKube::start(KubeOptions::default());
    kube.put(app("OutOfSync", &head, "Healthy"));
    let drift = || {
        let mut cmd =
            common::bot_command(&fake.url(), fake.token(), &["drift", "--project", PROJECT]);
        cmd.env("KUBE_API_URL", kube.url())
            .env("KUBE_TOKEN", kube.token())
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CA_FILE")
            .env_remove("KUBE_NAMESPACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    // Worker A's second read of the issues (the one right before it writes) is held back
    // until worker B has run from start to end.
    let lists = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = lists.clone();
    fake.inject(Rule::matching(
        move |r| {
            r.method == "GET"
                && r.decoded_path.ends_with("/issues")
                && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == 2
        },
        Fault::Delay(COLLIDE),
    ));
    let a = drift()
        .env("RUST_LOG", "info")
        .spawn()
        .expect("start worker A");
    wait_for(
        "worker A to read the issues again",
        || lists.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        String::new,
    );
    let b = common::run_without_leaking(drift(), fake.token());
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(marked(&fake).1, 1, "worker B opened the issue");
    let a = a.wait_with_output().expect("worker A");
    let a_err = String::from_utf8_lossy(&a.stderr);
    assert!(a.status.success(), "{a_err}");
    assert!(
        a_err.contains("another worker wrote this drift issue meanwhile"),
        "{a_err}"
    );
    assert_eq!(
        fake.issues().len(),
        1,
        "A created nothing: {:?}",
        fake.issues()
    );
    let posts = fake
        .writes()
        .iter()
        .filter(|w| w.method == "POST" && w.path.ends_with("/issues"))
        .count();
    assert_eq!(posts, 1);
}

#[test]
fn a_rerun_that_sees_nothing_new_reads_at_most_two_requests_per_environment() {
    // Three environments observing one Argo CD app; 120 more issues with the label, so
    // that the drift issues' list takes two pages.
    let seed = common::prod_only_repo();
    common::write(
        seed.path(),
        ".gitops-bot.yaml",
        "environments:\n  prod:\n    argocd_apps: [argocd/helloworld]\n  staging:\n    argocd_apps: [argocd/helloworld]\n  qa:\n    argocd_apps: [argocd/helloworld]\ndrift:\n  confirm: 0s\n",
    );
    let fake = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        ..GitlabOptions::default()
    });
    let head = fake.git(&["rev-parse", "main"]).trim().to_string();
    let kube = FakeKube::start(KubeOptions::default());
    kube.put(app("OutOfSync", &head, "Healthy"));
    let drift = || {
        let mut cmd =
            common::bot_command(&fake.url(), fake.token(), &["drift", "--project", PROJECT]);
        cmd.env("KUBE_API_URL", kube.url())
            .env("KUBE_TOKEN", kube.token())
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CA_FILE")
            .env_remove("KUBE_NAMESPACE");
        let run = common::run_without_leaking(cmd, fake.token());
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    };
    drift();
    assert_eq!(marked(&fake).1, 3, "one issue per environment");
    // Newer issues with the label push the drift issues to the second page of the list.
    for n in 0..120 {
        fake.add_issue(&format!("an old report {n}"), &["gitops-bot::drift"]);
    }

    fake.clear_log();
    drift();
    assert_eq!(fake.writes().len(), 0, "{:?}", paths(&fake));
    let reads = paths(&fake);
    assert!(reads.len() <= 2 * 3, "{reads:?}");
    let lists: Vec<&String> = reads.iter().filter(|r| r.contains("/issues")).collect();
    assert_eq!(lists.len(), 2, "one list of two pages: {reads:?}");
    assert!(
        lists[0].contains("labels=gitops-bot%3A%3Adrift") && lists[0].contains("state=all"),
        "{lists:?}"
    );
}

/// issue 12: "In serve, consecutive passes count as well". A pass does not wait for
/// `drift.confirm` (3s here, with a pass every 1s): the first passes see the drift, write
/// nothing and say so; a later pass, at least 3s after the first one saw it, opens the issue.
#[test]
fn serve_confirms_a_drift_across_consecutive_passes() {
    let seed = common::prod_only_repo();
    common::write(
        seed.path(),
        ".gitops-bot.yaml",
        DRIFT_CONFIG.replace("confirm: 1s", "confirm: 3s"),
    );
    let fake = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        ..GitlabOptions::default()
    });
    let head = fake.git(&["rev-parse", "main"]).trim().to_string();
    let kube = FakeKube::start(KubeOptions::default());
    kube.put(app("OutOfSync", &head, "Healthy"));
    let serve = Serve::start(
        &fake,
        Some(&kube),
        &["--project", PROJECT, "--drift-every", "1s"],
    );
    wait_for(
        "a pass that sees the drift and writes nothing",
        || serve.log().contains("not the same for drift.confirm yet"),
        || serve.log(),
    );
    assert_eq!(marked(&fake).1, 0, "not confirmed yet: no issue");
    wait_for("the issue", || marked(&fake).1 == 1, || serve.log());
    let passes = serve.metric(&format!(
        "gitops_bot_drift_passes_total{{project=\"{PROJECT}\",outcome=\"done\"}}"
    ));
    assert!(
        passes >= 3,
        "confirmed by a later pass, not by waiting within one: {passes} passes\n{}",
        serve.metrics()
    );
}
