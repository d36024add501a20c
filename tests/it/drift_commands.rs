//! Comment commands on a drift issue through the real binary: `sync` (the controller applies
//! Git's state again at the head of the default branch, the report is refreshed), `status`,
//! `help`, merge request commands, refusals, and issues that are not the bot's drift issues.
//! The fake GitLab holds the config repo and the issue; the fake Kubernetes API holds the
//! Argo CD Application, moved by a scripted controller thread as Argo CD would.

use crate::common;
use crate::fake_gitlab;
use crate::fake_kube;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::Run;
use fake_gitlab::{FakeGitlab, NOTE_HOOK, Options as GitlabOptions};
use fake_kube::{FakeKube, Options as KubeOptions};
use serde_json::{Value, json};

const PROJECT: &str = "group/helloworld-ops";
const ARGO: &str = "argoproj.io/v1alpha1";
const OPERATOR: u64 = 2;
/// A Developer of the project, not an operator of prod.
const REVIEWER: u64 = 3;
/// prod lists its own operators: only they may sync it.
const CONFIG: &str = "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n    argocd_apps: [argocd/helloworld]\n    operators: [operator]\ndrift:\n  confirm: 0s\n";
/// How long a scripted controller or a wait lasts before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

struct World {
    gitlab: FakeGitlab,
    kube: Arc<FakeKube>,
    /// The head of the default branch.
    head: String,
    _seed: tempfile::TempDir,
}

/// A config repo holding [`CONFIG`], and a cluster where the app is OutOfSync at the head
/// (someone changed the Deployment by hand).
fn world() -> World {
    let seed = common::prod_only_repo();
    common::write(seed.path(), ".gitops-bot.yaml", CONFIG);
    let gitlab = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        ..GitlabOptions::default()
    });
    let head = gitlab.git(&["rev-parse", "main"]).trim().to_string();
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
            "sync": {"status": "OutOfSync", "revision": head},
            "health": {"status": "Healthy"},
            "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "hello", "name": "helloworld", "status": "OutOfSync", "health": {"status": "Healthy"}},
                {"version": "v1", "kind": "Service", "namespace": "hello", "name": "helloworld", "status": "Synced", "health": {"status": "Healthy"}},
            ],
        },
    }));
    World {
        gitlab,
        kube,
        head,
        _seed: seed,
    }
}

impl World {
    /// The binary with GitLab and cluster access to the fakes.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = common::bot_command(&self.gitlab.url(), self.gitlab.token(), args);
        cmd.env("KUBE_API_URL", self.kube.url())
            .env("KUBE_TOKEN", self.kube.token())
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CA_FILE")
            .env_remove("KUBE_NAMESPACE");
        cmd
    }

    fn bot(&self, args: &[&str]) -> Run {
        let run = common::run_without_leaking(self.command(args), self.gitlab.token());
        assert!(!run.stdout.contains(self.kube.token()) && !run.stderr.contains(self.kube.token()));
        run
    }

    /// `drift` opens the issue of prod (drifted); its iid.
    fn drift_issue(&self) -> u64 {
        let run = self.bot(&["drift", "--project", PROJECT]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let issues = self.gitlab.issues();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].state, "opened");
        issues[0].iid
    }

    /// `handle-event` with the note hook GitLab would send for `note_id` on issue #`iid`.
    fn handle_event(&self, iid: u64, note_id: u64) -> Run {
        let payload = tempfile::NamedTempFile::new().unwrap();
        let hook = self.gitlab.issue_note_hook(iid, note_id);
        std::fs::write(payload.path(), serde_json::to_vec(&hook).unwrap()).unwrap();
        let path = payload.path().display().to_string();
        self.bot(&["handle-event", "--project", PROJECT, "--payload", &path])
    }

    fn poll(&self) -> Run {
        let run = self.bot(&["commands", "--project", PROJECT]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        run
    }

    /// The bot's replies on issue #`iid`, oldest first.
    fn replies(&self, iid: u64) -> Vec<String> {
        self.gitlab
            .issues()
            .into_iter()
            .filter(|i| i.iid == iid)
            .flat_map(|i| i.thread)
            .filter(|n| n.author_id == self.gitlab.options().bot_user_id)
            .filter(|n| n.body.contains("\"reply_to\""))
            .map(|n| n.body)
            .collect()
    }

    fn app(&self) -> Value {
        self.kube
            .get(ARGO, "Application", Some("argocd"), "helloworld")
            .expect("the Application")
    }

    /// A controller thread: waits for the bot's sync operation on the Application, checks it
    /// names `revision`, then ends it synced and healthy at that revision.
    fn argo_syncs(&self, revision: &str) -> thread::JoinHandle<Value> {
        let kube = self.kube.clone();
        let revision = revision.to_string();
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
                a["status"]["health"] = json!({"status": "Healthy"});
                for r in a["status"]["resources"].as_array_mut().unwrap() {
                    r["status"] = json!("Synced");
                }
            });
            operation
        })
    }
}

#[test]
fn an_operator_syncs_the_environment_from_its_drift_issue_at_the_head() {
    let w = world();
    let iid = w.drift_issue();
    let note = w.gitlab.add_issue_note(iid, OPERATOR, "gitops-bot sync");
    let controller = w.argo_syncs(&w.head);
    let run = w.handle_event(iid, note);
    let operation = controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.trim_end().lines().last(),
        Some("done"),
        "{}",
        run.stdout
    );
    // The sync operation Argo CD was asked for: the head of the default branch.
    assert_eq!(operation["sync"]["revision"], json!(w.head), "{operation}");
    assert!(
        operation["initiatedBy"]["username"]
            .as_str()
            .is_some_and(|u| u.contains("gitops-bot")),
        "{operation}"
    );

    let replies = w.replies(iid);
    assert_eq!(replies.len(), 1, "{replies:?}");
    let reply = &replies[0];
    let short = &w.head[..12];
    assert!(
        reply.starts_with("@operator :white_check_mark: Synced: `prod` at `"),
        "{reply}"
    );
    assert!(
        reply.contains(&format!("`{short}`, the head of the default branch")),
        "{reply}"
    );
    assert!(
        reply.contains("- `Application argocd/helloworld`: healthy"),
        "{reply}"
    );
    assert!(reply.contains("`prod` is **converged**"), "{reply}");
    assert!(reply.contains("Report: comment and close #1"), "{reply}");
    // The report was refreshed: converged, so the issue is closed with a note.
    let issue = &w.gitlab.issues()[0];
    assert_eq!(issue.state, "closed", "{issue:?}");
    assert!(
        issue.notes.iter().any(|n| n.contains("converged again")),
        "{:?}",
        issue.notes
    );
    // Claimed, then marked done.
    assert_eq!(
        w.gitlab.issue_awards(iid, note),
        [
            ("gitops-bot".to_string(), "eyes".to_string()),
            ("gitops-bot".to_string(), "white_check_mark".to_string()),
        ]
    );
    // The same delivery again, and a poll: answered once.
    let again = w.handle_event(iid, note);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout.trim_end().lines().last(), Some("ignored"));
    assert_eq!(w.replies(iid).len(), 1);
}

#[test]
fn a_developer_who_is_not_an_operator_of_the_environment_is_refused_and_nothing_syncs() {
    let w = world();
    let iid = w.drift_issue();
    let note = w.gitlab.add_issue_note(iid, REVIEWER, "gitops-bot sync");
    let run = w.poll();
    assert!(run.stdout.contains("1 refused"), "{}", run.stdout);
    let replies = w.replies(iid);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].contains("only the operators of `prod` (`operator`) may `sync` here"),
        "{}",
        replies[0]
    );
    assert!(
        w.app().get("operation").is_none(),
        "nothing synced: {}",
        w.app()
    );
    assert!(
        w.kube.requests().iter().all(|r| r.method == "GET"),
        "nothing written to the cluster"
    );
    assert_eq!(w.gitlab.issues()[0].state, "opened");
    assert_eq!(
        w.gitlab.issue_awards(iid, note),
        [
            ("gitops-bot".to_string(), "eyes".to_string()),
            ("gitops-bot".to_string(), "x".to_string()),
        ]
    );
}

#[test]
fn a_copy_of_the_drift_issue_by_someone_else_is_not_a_drift_issue() {
    let w = world();
    let iid = w.drift_issue();
    let original = w.gitlab.issues()[0].description.clone();
    // A person opens an issue with the bot's description, marker and labels.
    let copy = w
        .gitlab
        .add_issue_as(OPERATOR, &original, &["gitops-bot::drift", "env::prod"]);
    assert_ne!(copy, iid);
    let note = w.gitlab.add_issue_note(copy, OPERATOR, "gitops-bot sync");
    let run = w.handle_event(copy, note);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.trim_end().lines().last(),
        Some("refused"),
        "{}",
        run.stdout
    );
    assert!(
        w.app().get("operation").is_none(),
        "nothing synced: {}",
        w.app()
    );
    assert!(w.kube.requests().iter().all(|r| r.method == "GET"));
    let replies = w.replies(copy);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].contains("this issue is not one (the bot did not open it): nothing was done"),
        "{}",
        replies[0]
    );
    // The real drift issue is untouched.
    let issues = w.gitlab.issues();
    let real = issues.iter().find(|i| i.iid == iid).unwrap();
    assert_eq!(real.description, original);
    assert!(real.notes.is_empty(), "{:?}", real.notes);
}

#[test]
fn status_observes_again_and_updates_the_report_and_other_commands_say_where_they_work() {
    let w = world();
    let iid = w.drift_issue();
    // The Deployment is now also degraded: a new set of objects.
    w.kube
        .update(ARGO, "Application", Some("argocd"), "helloworld", |a| {
            a["status"]["health"] = json!({"status": "Degraded"});
            a["status"]["resources"][0]["health"] =
                json!({"status": "Degraded", "message": "exceeded its progress deadline"});
        });
    let status = w.gitlab.add_issue_note(iid, REVIEWER, "gitops-bot status");
    let rollback = w
        .gitlab
        .add_issue_note(iid, OPERATOR, "gitops-bot rollback");
    let help = w.gitlab.add_issue_note(iid, REVIEWER, "gitops-bot help");
    let run = w.poll();
    assert!(
        run.stdout
            .contains("and 1 drift issue looked at, 3 commands"),
        "{}",
        run.stdout
    );
    let replies = w.replies(iid);
    assert_eq!(replies.len(), 3, "{replies:?}");
    let reply_to = |note: u64| {
        replies
            .iter()
            .find(|r| r.contains(&format!("\"reply_to\":{note},")))
            .unwrap_or_else(|| panic!("no reply to {note}: {replies:?}"))
    };
    let answer = reply_to(status);
    assert!(answer.contains("`prod` is **degraded**"), "{answer}");
    assert!(
        answer.contains(
            "- degraded Deployment `hello/helloworld`: `Degraded: exceeded its progress deadline`"
        ),
        "{answer}"
    );
    assert!(
        answer.contains("Report: update #1 and comment (degraded)"),
        "{answer}"
    );
    let issue = &w.gitlab.issues()[0];
    assert!(
        issue
            .notes
            .iter()
            .any(|n| n.contains("is now **degraded**")),
        "{:?}",
        issue.notes
    );
    assert!(
        issue.description.contains("degraded"),
        "{}",
        issue.description
    );
    let answer = reply_to(rollback);
    assert!(
        answer.contains(
            "`gitops-bot rollback` works on the bot's merge requests, not on a drift issue"
        ),
        "{answer}"
    );
    let answer = reply_to(help);
    assert!(answer.contains("- `gitops-bot sync` —"), "{answer}");
    assert!(!answer.contains("- `gitops-bot deploy"), "{answer}");
    assert!(w.app().get("operation").is_none(), "status never syncs");

    // A second pass sees nothing new: no reply, no write.
    w.gitlab.clear_log();
    let run = w.poll();
    assert!(run.stdout.contains("0 commands"), "{}", run.stdout);
    assert!(w.gitlab.writes().is_empty(), "{:?}", w.gitlab.writes());
}

/// `serve` as a child process with cluster access to the fake.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(w: &World) -> Serve {
        let mut child = w
            .command(&["serve", "--listen", "127.0.0.1:0", "--project", PROJECT])
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

    fn deliver(&self, hook: &Value) -> (u16, String) {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/webhook", self.url))
            .header("X-Gitlab-Token", "s3cret")
            .header("X-Gitlab-Event", NOTE_HOOK)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(hook).unwrap())
            .send()
            .expect("post");
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_runs_the_sync_from_a_note_hook_on_the_drift_issue() {
    let w = world();
    let iid = w.drift_issue();
    let note = w.gitlab.add_issue_note(iid, OPERATOR, "@gitops-bot sync");
    let server = Serve::start(&w);
    let controller = w.argo_syncs(&w.head);
    let (status, body) = server.deliver(&w.gitlab.issue_note_hook(iid, note));
    assert_eq!((status, body.as_str()), (200, "queued\n"));
    let operation = controller.join().unwrap();
    assert_eq!(operation["sync"]["revision"], json!(w.head));
    let start = Instant::now();
    while w.replies(iid).is_empty() {
        assert!(start.elapsed() < PATIENCE, "no reply");
        thread::sleep(Duration::from_millis(50));
    }
    let replies = w.replies(iid);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].contains(":white_check_mark: Synced: `prod`"),
        "{}",
        replies[0]
    );
}

#[test]
fn a_comment_another_worker_claimed_gets_no_second_answer() {
    let w = world();
    let iid = w.drift_issue();
    let note = w.gitlab.add_issue_note(iid, OPERATOR, "gitops-bot sync");
    // Another replica claimed it a moment ago (the bot's 👀), and is still working on it.
    let bot = w.gitlab.options().bot_user_id;
    w.gitlab.issue_award(iid, note, bot, "eyes");
    let run = w.handle_event(iid, note);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.trim_end().lines().last(),
        Some("ignored"),
        "{}",
        run.stdout
    );
    assert!(w.replies(iid).is_empty());
    assert!(
        w.app().get("operation").is_none(),
        "nothing synced: {}",
        w.app()
    );
}
