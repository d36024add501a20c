//! `sync` through the real binary, against the fake GitLab and the fake Kubernetes API, with
//! a scripted controller thread moving the Argo CD Application, Flux Kustomization or
//! Deployment through the states a real controller would.

use crate::common;
use crate::fake_gitlab;
use crate::fake_kube;

use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::Run;
use fake_gitlab::{FakeGitlab, Options as GitlabOptions};
use fake_kube::{FakeKube, FluxObject, FluxOutcome, LoggedRequest, Options as KubeOptions};
use serde_json::{Value, json};

const PROJECT: &str = "group/helloworld-ops";
const IMAGE: &str = "registry.example.com/root/helloworld";
const OPERATOR: u64 = 2;
const ARGO: &str = "argoproj.io/v1alpha1";
const CONFIG: &str = "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n    argocd_apps: [argocd/helloworld]\n";
/// How long a scripted controller waits for the bot before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

struct World {
    gitlab: FakeGitlab,
    kube: Arc<FakeKube>,
    /// The merge commit of bump !1 (ci-34 → ci-35), on main.
    commit: String,
    _seed: tempfile::TempDir,
}

/// A config repo whose bump merge request !1 was merged by the operator, and a cluster
/// holding the Argo CD Application `argocd/helloworld`, synced and healthy at the commit
/// before.
fn world(config: &str) -> World {
    world_with(config, &[], &["--environment", "prod"], &["helloworld"])
}

/// A config repo (the example plus `files`) whose bump merge request !1 (made with
/// `bump_args`, ci-34 → ci-35) was merged by the operator, and a cluster holding the Argo
/// CD Applications `argocd/<apps>`, synced and healthy at the commit before.
fn world_with(config: &str, files: &[(&str, &str)], bump_args: &[&str], apps: &[&str]) -> World {
    let seed = common::prod_only_repo();
    common::write(seed.path(), ".gitops-bot.yaml", config);
    for (path, text) in files {
        common::write(seed.path(), path, text);
    }
    let gitlab = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        ..GitlabOptions::default()
    });
    let before = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    let image = format!("{IMAGE}:ci-35");
    let mut args = vec!["bump", "--project", PROJECT];
    args.extend_from_slice(bump_args);
    args.extend_from_slice(&["--image", &image]);
    let run = gitlab_bot(&gitlab, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    gitlab.add_note(1, OPERATOR, "gitops-bot deploy");
    let run = gitlab_bot(&gitlab, &["commands", "--project", PROJECT]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let commit = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    assert_ne!(commit, before, "the bump was merged");

    let kube = Arc::new(FakeKube::start(KubeOptions::default()));
    for app in apps {
        kube.put(json!({
            "apiVersion": ARGO,
            "kind": "Application",
            "metadata": {"name": app, "namespace": "argocd"},
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
                    {"version": "v1", "kind": "Service", "namespace": "hello", "name": "helloworld", "status": "Synced", "health": {"status": "Healthy"}},
                ],
            },
        }));
    }
    World {
        gitlab,
        kube,
        commit,
        _seed: seed,
    }
}

fn gitlab_bot(gitlab: &FakeGitlab, args: &[&str]) -> Run {
    common::run_without_leaking(
        common::bot_command(&gitlab.url(), gitlab.token(), args),
        gitlab.token(),
    )
}

impl World {
    /// `gitops-bot sync --project P --commit C ARGS` with cluster access to the fake.
    fn sync(&self, args: &[&str]) -> Run {
        self.sync_with_env(args, &[])
    }

    /// [`World::sync`] with more environment variables.
    fn sync_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all = vec!["sync", "--project", PROJECT, "--commit", &self.commit];
        all.extend_from_slice(args);
        let mut cmd: Command = common::bot_command(&self.gitlab.url(), self.gitlab.token(), &all);
        cmd.envs(env.iter().copied());
        cmd.env("KUBE_API_URL", self.kube.url())
            .env("KUBE_TOKEN", self.kube.token())
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CA_FILE")
            .env_remove("KUBE_NAMESPACE");
        let run = common::run_without_leaking(cmd, self.gitlab.token());
        assert!(!run.stdout.contains(self.kube.token()) && !run.stderr.contains(self.kube.token()));
        run
    }

    /// The bot's sync result comments on !1.
    fn results(&self) -> Vec<String> {
        self.gitlab
            .notes(1)
            .into_iter()
            .filter(|n| {
                n["body"]
                    .as_str()
                    .unwrap_or("")
                    .contains("\"kind\":\"sync\"")
            })
            .map(|n| n["body"].as_str().unwrap().to_string())
            .collect()
    }

    fn labels(&self) -> Vec<String> {
        let mr = self
            .gitlab
            .merge_requests()
            .into_iter()
            .find(|m| m["iid"] == 1)
            .unwrap();
        mr["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect()
    }

    /// A controller thread: waits for the bot's sync request on the Application, then runs
    /// `script`.
    fn after_sync_request(
        &self,
        script: impl FnOnce(&FakeKube) + Send + 'static,
    ) -> thread::JoinHandle<()> {
        let kube = self.kube.clone();
        thread::spawn(move || {
            kube.wait_for(
                ARGO,
                "Application",
                Some("argocd"),
                "helloworld",
                PATIENCE,
                |app| app.get("operation").is_some_and(|o| !o.is_null()),
            );
            script(&kube);
        })
    }

    /// A controller thread that plays `steps` on the Application after the bot's sync
    /// request, as the bot watches (see [`play_watched`]).
    fn argo_controller(&self, steps: Vec<Step>) -> thread::JoinHandle<()> {
        self.after_sync_request(move |kube| play_watched(kube, steps))
    }
}

/// Applies one controller step to the Application.
fn play(kube: &FakeKube, step: Step) {
    kube.update(ARGO, "Application", Some("argocd"), "helloworld", step);
}

/// Plays `steps` once the bot watches (a watch stream is open), each step once the one
/// before has been sent on the watch: driven by the fake's events, not by pauses. No wait
/// after the last step (the bot may be done by then).
fn play_watched(kube: &FakeKube, steps: Vec<Step>) {
    kube.wait_for_open_watches(1, PATIENCE);
    let mut sent_before = None;
    for step in steps {
        if let Some(n) = sent_before {
            kube.wait_for_events_sent(n + 1, PATIENCE);
        }
        sent_before = Some(kube.events_sent());
        play(kube, step);
    }
}

type Step = Box<dyn FnOnce(&mut Value) + Send>;

/// The operation is picked up: `Running` for the requested revision.
fn running() -> Step {
    Box::new(|app| {
        let op = app["operation"].take();
        app.as_object_mut().unwrap().remove("operation");
        app["status"]["operationState"] =
            json!({"phase": "Running", "operation": op, "startedAt": "2026-11-21T10:00:00Z"});
        app["status"]["health"] = json!({"status": "Progressing"});
    })
}

fn synced_at(commit: &str, health: &str) -> Step {
    let commit = commit.to_string();
    let health = health.to_string();
    Box::new(move |app| {
        app["status"]["sync"] = json!({"status": "Synced", "revision": commit});
        app["status"]["operationState"]["phase"] = json!("Succeeded");
        app["status"]["operationState"]["syncResult"] = json!({"revision": commit});
        app["status"]["health"] = json!({"status": health});
        for r in app["status"]["resources"].as_array_mut().unwrap() {
            if r["kind"] == "Deployment" {
                r["health"] = json!({"status": health, "message": if health == "Degraded" { "Deployment \"helloworld\" exceeded its progress deadline" } else { "" }});
            }
        }
    })
}

/// prod as in [`CONFIG`], and `live` promoted from it (with `extra` settings), its overlay
/// still at ci-34.
fn promoted_world(extra: &str) -> World {
    let config =
        format!("{CONFIG}  live:\n    paths: [overlays/live]\n    promote_from: prod\n{extra}");
    let live = format!("resources: [../../base]\nimages:\n  - name: {IMAGE}\n    newTag: ci-34\n");
    world_with(
        &config,
        &[("overlays/live/kustomization.yaml", &live)],
        &["--environment", "prod"],
        &["helloworld"],
    )
}

fn healthy_sync(w: &World) -> Run {
    let controller = w.argo_controller(vec![running(), synced_at(&w.commit, "Healthy")]);
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run
}

#[test]
fn a_healthy_sync_opens_the_promotion_of_an_environment_without_soak_in_the_same_run() {
    let w = promoted_world("");
    let run = healthy_sync(&w);
    assert!(
        run.stdout
            .contains("sync: promotion to live: 1 image: created merge request !2: "),
        "{}",
        run.stdout
    );
    let deployments = w.gitlab.deployments();
    assert_eq!(
        deployments.len(),
        1,
        "the record is made before the promotion reads it"
    );
    let mrs = w.gitlab.merge_requests();
    let promotion = mrs.iter().find(|m| m["iid"] == 2).expect("the promotion");
    assert_eq!(promotion["title"], "Promote 1 image from prod to live");
    assert_eq!(promotion["source_branch"], "gitops-bot/live/promote");
    let description = promotion["description"].as_str().unwrap();
    assert!(
        description.contains(&format!(
            "deployment {} of commit `{}`, brought by !1 (",
            deployments[0].id,
            &w.commit[..12]
        )),
        "{description}"
    );
    let live = String::from_utf8(
        w.gitlab
            .file(
                "gitops-bot/live/promote",
                "overlays/live/kustomization.yaml",
            )
            .unwrap(),
    )
    .unwrap();
    assert!(live.contains("newTag: ci-35"), "{live}");
}

#[test]
fn a_healthy_sync_only_announces_the_promotion_of_an_environment_with_a_soak() {
    let w = promoted_world("    soak: 30m\n");
    let run = healthy_sync(&w);
    assert!(
        run.stdout.contains(
            "sync: promotion to live: it has a soak of 30m; the scheduled `promote` proposes it after "
        ),
        "{}",
        run.stdout
    );
    assert_eq!(w.gitlab.merge_requests().len(), 1, "only the bump");
}

#[test]
fn a_healthy_argo_cd_sync_is_commented_labelled_and_recorded() {
    let w = world(CONFIG);
    let controller = w.argo_controller(vec![
        running(),
        synced_at(&w.commit, "Progressing"),
        synced_at(&w.commit, "Healthy"),
    ]);
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Application argocd/helloworld: sync of"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("health=Healthy"), "{}", run.stdout);
    assert!(
        run.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("sync: healthy: Application argocd/helloworld at "),
        "{}",
        run.stdout
    );

    // Exactly the merged revision was requested, the way `argocd app sync --revision` does.
    let patches: Vec<_> = w
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 1, "{patches:?}");
    let patch: Value = serde_json::from_str(&patches[0].body).unwrap();
    assert_eq!(patch["operation"]["sync"]["revision"], w.commit);
    assert_eq!(patch["operation"]["initiatedBy"]["username"], "gitops-bot");
    assert!(patch["metadata"]["resourceVersion"].is_string());
    // Watched, not polled: no more than a handful of reads of the Application.
    let gets = w
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/applications/helloworld"))
        .count();
    assert!(gets <= 2, "{gets} GETs of the Application");

    let results = w.results();
    assert_eq!(results.len(), 1);
    assert!(
        results[0].contains(":white_check_mark: **Deployed** to **`prod`**"),
        "{}",
        results[0]
    );
    assert!(
        results[0].contains("| Application | `argocd/helloworld` | Synced | Healthy |"),
        "{}",
        results[0]
    );
    assert!(
        results[0].contains("| Deployment | `hello/helloworld` | Synced | Healthy |"),
        "{}",
        results[0]
    );
    assert!(
        w.labels().contains(&"deployed::prod".to_string()),
        "{:?}",
        w.labels()
    );
    let deployments = w.gitlab.deployments();
    assert_eq!(deployments.len(), 1);
    assert_eq!(
        (
            deployments[0].environment.as_str(),
            deployments[0].sha.as_str(),
            deployments[0].status.as_str()
        ),
        ("prod", w.commit.as_str(), "success")
    );
}

#[test]
fn in_gitlab_ci_the_log_has_section_markers_but_no_colour() {
    let w = world(CONFIG);
    let controller = w.argo_controller(vec![running(), synced_at(&w.commit, "Healthy")]);
    let run = w.sync_with_env(
        &["-v"],
        &[
            ("CI", "true"),
            ("GITLAB_CI", "true"),
            ("TERM", "xterm-256color"),
        ],
    );
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // GitLab's collapsible section: `ESC[0Ksection_start:TIME:NAME[collapsed=false]\rESC[0K`.
    assert!(
        run.stdout.contains("\u{1b}[0Ksection_start:")
            && run.stdout.contains("\u{1b}[0Ksection_end:"),
        "{:?}",
        run.stdout
    );
    // Those erase-line codes are the only escapes: no colour in the piped job log.
    assert!(
        run.stdout
            .split('\u{1b}')
            .skip(1)
            .all(|after| after.starts_with("[0K")),
        "{:?}",
        run.stdout
    );
    assert!(run.stderr.contains("DEBUG"), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);

    // Outside GitLab CI: plain lines.
    let run = w.sync(&[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains('\u{1b}'), "{:?}", run.stdout);
}

#[test]
fn a_rerun_edits_the_same_comment() {
    let w = world(CONFIG);
    let controller = w.argo_controller(vec![running(), synced_at(&w.commit, "Healthy")]);
    assert_eq!(w.sync(&[]).code, 0);
    controller.join().unwrap();
    let first = w.results();
    // Already at the commit: the rerun requests nothing and edits the comment.
    let run = w.sync(&[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("already syncing or synced at this commit"),
        "{}",
        run.stdout
    );
    assert_eq!(
        w.kube
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count(),
        1
    );
    let second = w.results();
    assert_eq!((first.len(), second.len()), (1, 1));
    assert!(
        w.gitlab
            .requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("/notes/"))
    );
}

#[test]
fn degraded_with_image_pull_back_off_names_the_image_and_fails() {
    let w = world(CONFIG);
    w.kube.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "helloworld-7d9c-x2x", "namespace": "hello", "labels": {"app": "helloworld"}},
        "spec": {"containers": [{"name": "helloworld", "image": format!("{IMAGE}:ci-35")}]},
        "status": {"phase": "Pending", "containerStatuses": [{
            "name": "helloworld", "image": format!("{IMAGE}:ci-35"), "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{IMAGE}:ci-35\"")}}
        }]}
    }));
    w.kube.put(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "helloworld-7d9c-x2x.1", "namespace": "hello"},
        "involvedObject": {"kind": "Pod", "name": "helloworld-7d9c-x2x", "namespace": "hello"},
        "type": "Warning", "reason": "Failed", "lastTimestamp": "2026-11-21T10:00:05Z",
        "message": format!("Failed to pull image \"{IMAGE}:ci-35\": manifest unknown")
    }));
    let controller = w.argo_controller(vec![running(), synced_at(&w.commit, "Degraded")]);
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert!(last.starts_with("sync failed: Application argocd/helloworld: Deployment hello/helloworld: Deployment \"helloworld\" exceeded its progress deadline"), "{last}");
    assert!(
        run.stderr
            .contains("ImagePullBackOff (image registry.example.com/root/helloworld:ci-35)"),
        "{}",
        run.stderr
    );
    let comment = &w.results()[0];
    assert!(comment.contains(":x: **Deploy failed**"), "{comment}");
    assert!(comment.contains("container helloworld: ImagePullBackOff (image registry.example.com/root/helloworld:ci-35)"), "{comment}");
    assert!(comment.contains("manifest unknown"), "{comment}");
    assert!(
        w.labels().contains(&"deploy-failed::prod".to_string()),
        "{:?}",
        w.labels()
    );
    assert_eq!(w.gitlab.deployments()[0].status, "failed");
}

#[test]
fn a_failed_sync_operation_fails_with_its_message() {
    let w = world(CONFIG);
    let commit = w.commit.clone();
    let controller = w.argo_controller(vec![
        running(),
        Box::new(move |app| {
            app["status"]["operationState"]["phase"] = json!("Failed");
            app["status"]["operationState"]["message"] = json!("one or more objects failed to apply");
            app["status"]["operationState"]["syncResult"] = json!({"revision": commit, "resources": [
                {"kind": "Deployment", "namespace": "hello", "name": "helloworld", "status": "SyncFailed",
                 "message": "Deployment.apps \"helloworld\" is invalid: spec.template.spec.containers[0].image: Required value"}
            ]});
        }),
    ]);
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert!(last.contains("sync operation Failed: one or more objects failed to apply; Deployment hello/helloworld: Deployment.apps"), "{last}");
}

#[test]
fn a_timeout_reports_what_it_was_waiting_for() {
    let w = world(CONFIG);
    let controller = w.argo_controller(vec![running()]);
    let run = w.sync(&["--timeout", "2s"]);
    controller.join().unwrap();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("sync timed out: Application argocd/helloworld: not healthy after"),
        "{last}"
    );
    assert!(last.contains("sync operation Running"), "{last}");
    assert!(w.results()[0].contains(":hourglass: **Deploy timed out**"));
}

#[test]
fn a_dropped_watch_resumes_without_missing_the_transition() {
    let w = world(CONFIG);
    let commit = w.commit.clone();
    let controller = w.after_sync_request(move |kube| {
        kube.wait_for_open_watches(1, PATIENCE);
        // The transition happens while no watch is open: the bot's new watch is answered
        // only after it.
        kube.hold_watches();
        kube.drop_watches();
        play(kube, running());
        play(kube, synced_at(&commit, "Healthy"));
        kube.release_watches();
    });
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let watches = w
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.query.contains("watch=true"))
        .count();
    assert!(
        watches >= 2,
        "the watch was resumed: {watches} watch requests"
    );
}

#[test]
fn gone_410_relists_and_still_sees_the_outcome() {
    let w = world(CONFIG);
    let commit = w.commit.clone();
    let controller = w.after_sync_request(move |kube| {
        kube.wait_for_open_watches(1, PATIENCE);
        // The bot's watch is cut; its new watch is answered only after the transition and
        // a compaction, so it resumes from a resourceVersion that is gone: 410 Expired.
        kube.hold_watches();
        kube.drop_watches();
        play(kube, running());
        play(kube, synced_at(&commit, "Healthy"));
        kube.compact();
        kube.release_watches();
    });
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // The 410 happened (a watch from before the compaction), and a list of the Application
    // followed it: the outcome was seen by re-listing, not on the old watch.
    let compacted = w.kube.compacted_resource_version();
    let requests = w.kube.requests();
    let on_app = |r: &LoggedRequest| {
        r.method == "GET" && r.path.ends_with("/namespaces/argocd/applications")
    };
    let seen: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}?{} -> {}", r.method, r.path, r.query, r.status))
        .collect();
    let gone = requests
        .iter()
        .position(|r| {
            on_app(r)
                && r.is_watch()
                && r.param("resourceVersion")
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|rv| rv < compacted)
        })
        .unwrap_or_else(|| {
            panic!(
                "no watch from before the compaction at {compacted} (answered 410):\n{}",
                seen.join("\n")
            )
        });
    assert!(
        requests[gone + 1..]
            .iter()
            .any(|r| on_app(r) && !r.is_watch()),
        "no list of the Application after the 410:\n{}",
        seen.join("\n")
    );
}

#[test]
fn another_running_operation_is_refused_politely() {
    let w = world(CONFIG);
    w.kube.update(ARGO, "Application", Some("argocd"), "helloworld", |app| {
        app["status"]["operationState"] = json!({
            "phase": "Running", "startedAt": "2026-11-21T09:59:00Z",
            "operation": {"sync": {"revision": "0123456789012345678901234567890123456789"}, "initiatedBy": {"username": "alice"}}
        });
    });
    let run = w.sync(&[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert!(last.contains("another operation is Running (started by alice) since 2026-11-21T09:59:00Z; not starting another sync"), "{last}");
    assert_eq!(
        w.kube
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count(),
        0
    );
    assert!(w.results()[0].contains("another operation is Running"));
}

/// What a person reads never carries Rust debug output or a doubled status.
fn assert_plain(text: &str) {
    for bad in [
        "{",
        "Some(",
        "Status {",
        "ApiError",
        "404 NotFound: 404",
        "403 Forbidden: 403",
    ] {
        assert!(!text.contains(bad), "{bad:?} in:\n{text}");
    }
}

#[test]
fn a_forbidden_patch_names_the_rbac_rule_to_add() {
    let w = world(CONFIG);
    w.kube
        .forbid("patch", "argoproj.io", "applications", Some("argocd"));
    let run = w.sync(&[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let last = run.stderr.lines().last().unwrap();
    let want = "sync failed: Application argocd/helloworld: patch applications.argoproj.io \"helloworld\" in namespace argocd: 403 Forbidden: applications.argoproj.io \"helloworld\" is forbidden: User \"system:serviceaccount:gitops:gitops-bot\" cannot patch resource \"applications\" in API group \"argoproj.io\" in the namespace \"argocd\" — add this rule to the Role bound to the bot's service account in namespace argocd: apiGroups: [\"argoproj.io\"], resources: [\"applications\"], verbs: [\"patch\"]";
    assert_eq!(last, want);
    assert_plain(&run.stderr);
    let comment = &w.results()[0];
    assert!(
        comment.contains(&want["sync failed: ".len()..]),
        "{comment}"
    );
    assert_plain(comment.split("<!--").next().unwrap());
}

#[test]
fn a_missing_application_is_one_not_found_line() {
    let w = world(CONFIG);
    let run = w.sync(&["--argocd-app", "argocd/nope"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let last = run.stderr.lines().last().unwrap();
    let want = "sync failed: Application argocd/nope: get applications.argoproj.io \"nope\" in namespace argocd: 404 NotFound: applications.argoproj.io \"nope\" not found — check the name and namespace";
    assert_eq!(last, want);
    assert_plain(&run.stderr);
    let comment = &w.results()[0];
    assert!(
        comment.contains(&want["sync failed: ".len()..]),
        "{comment}"
    );
    assert_plain(comment.split("<!--").next().unwrap());
}

/// A token the cluster refuses is said as such, not as a controller that is not installed.
#[test]
fn a_refused_cluster_token_is_one_line_about_the_credentials() {
    let w = world(CONFIG);
    let mut cmd: Command = common::bot_command(
        &w.gitlab.url(),
        w.gitlab.token(),
        &["sync", "--project", PROJECT, "--commit", &w.commit],
    );
    cmd.env("KUBE_API_URL", w.kube.url())
        .env("KUBE_TOKEN", "expired-token")
        .env_remove("KUBECONFIG");
    let run = common::run_without_leaking(cmd, w.gitlab.token());
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert_eq!(
        last,
        "sync failed: Application argocd/helloworld: discover API group argoproj.io: 401 Unauthorized — the cluster did not accept the credentials: check KUBE_TOKEN (or the kubeconfig's user) and that the token has not expired"
    );
    assert!(!run.stderr.contains("expired-token"));
}

#[test]
fn a_kind_the_cluster_does_not_serve_is_one_line() {
    let w = world("operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n");
    let dir = tempfile::tempdir().unwrap();
    common::write(
        dir.path(),
        "monitor.yaml",
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: helloworld\nspec:\n  endpoints: [{port: http}]\n",
    );
    let run = w.sync(&[
        "--apply",
        dir.path().to_str().unwrap(),
        "--namespace",
        "hello",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let last = run.stderr.lines().last().unwrap();
    let dir = dir.path().display();
    assert_eq!(
        last,
        format!(
            "sync failed: apply {dir}: monitoring.coreos.com/v1 ServiceMonitor ({dir}/monitor.yaml#1) is not served by this cluster (is its controller installed?): 404 NotFound: the server could not find the requested resource"
        )
    );
    assert_plain(&run.stderr);
}

/// A multi-source Application is synced without a revision (Argo CD resolves each
/// source's); when that operation errors before any sync result, it is still ours and a
/// failure, not something to wait past until --timeout.
#[test]
fn a_failed_operation_of_a_multi_source_app_fails_at_once() {
    let w = world(CONFIG);
    w.kube.update(ARGO, "Application", Some("argocd"), "helloworld", |app| {
        let source = app["spec"]["source"].take();
        app["spec"].as_object_mut().unwrap().remove("source");
        app["spec"]["sources"] = json!([source, {"repoURL": "https://charts.example.com", "chart": "base", "targetRevision": "1.0.0"}]);
    });
    let controller = w.argo_controller(vec![
        running(),
        Box::new(|app| {
            app["status"]["operationState"]["phase"] = json!("Error");
            app["status"]["operationState"]["message"] = json!(
                "ComparisonError: rpc error: code = Unknown desc = Manifest generation error: kustomize build failed"
            );
        }),
    ]);
    let run = w.sync(&["--timeout", "60s"]);
    controller.join().unwrap();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert_eq!(
        last,
        "sync failed: Application argocd/helloworld: sync operation Error: ComparisonError: rpc error: code = Unknown desc = Manifest generation error: kustomize build failed"
    );
    assert!(!run.stderr.contains("timed out"), "{}", run.stderr);
}

/// The job log lines of one object, without the elapsed-time prefix.
fn lines_of<'a>(stdout: &'a str, label: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter_map(|l| l.split_once("s] ").map(|(_, rest)| rest))
        .filter(|l| l.starts_with(label))
        .collect()
}

#[test]
fn the_first_argo_line_after_the_request_shows_the_request_not_the_old_status() {
    let w = world(CONFIG);
    let kube = w.kube.clone();
    let commit = w.commit.clone();
    let controller = thread::spawn(move || {
        // Argo CD picks the operation up only once the bot watches.
        kube.wait_for_request(PATIENCE, |r| {
            r.is_watch() && r.path.ends_with("/applications")
        });
        play_watched(&kube, vec![running(), synced_at(&commit, "Healthy")]);
    });
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let lines = lines_of(&run.stdout, "Application argocd/helloworld:");
    assert_eq!(
        lines[..2],
        [
            format!(
                "Application argocd/helloworld: sync of {} requested",
                &w.commit[..12]
            )
            .as_str(),
            "Application argocd/helloworld: waiting for Argo CD to start the sync operation",
        ],
        "{}",
        run.stdout
    );
}

#[test]
fn the_first_flux_line_after_the_request_shows_the_request_not_the_old_status() {
    let w = flux_world();
    let kube = w.kube.clone();
    let revision = format!("main@sha1:{}", w.commit);
    let controller = thread::spawn(move || {
        kube.wait_for_request(PATIENCE, |r| {
            r.is_watch() && r.path.ends_with("/kustomizations")
        });
        kube.flux_reconcile(&APPS, &revision, FluxOutcome::Applied, PATIENCE);
    });
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let lines = lines_of(&run.stdout, "Kustomization flux-system/apps:");
    assert_eq!(
        lines[..2],
        [
            format!(
                "Kustomization flux-system/apps: reconcile of {} requested",
                &w.commit[..12]
            )
            .as_str(),
            "Kustomization flux-system/apps: waiting for the controller to handle the reconcile request",
        ],
        "{}",
        run.stdout
    );
}

/// GitLab's own message already carries the status ("404 Project Not Found"): it is
/// said once, with a hint that matches it.
#[test]
fn a_project_gitlab_does_not_know_is_one_line_with_the_status_once() {
    let w = world(CONFIG);
    let run = gitlab_bot(
        &w.gitlab,
        &[
            "sync",
            "--project",
            "group/nope",
            "--commit",
            &w.commit,
            "--argocd-app",
            "helloworld",
        ],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stderr.trim_end(),
        format!(
            "error: GET projects/group%2Fnope/repository/commits/{}/merge_requests: 404 Project Not Found — not found: check --project (a numeric ID or the full path, e.g. group/helloworld-ops) and that the token's user is a member of the project (GitLab answers 404 for projects it hides from the user)",
            w.commit
        )
    );
}

/// A token that may not record deployments gets one warning line naming the fix, in the
/// job log only; no deployment that was never started is finished.
#[test]
fn a_forbidden_deployment_record_is_one_warning_with_the_fix() {
    let w = world(CONFIG);
    w.gitlab.inject(
        fake_gitlab::Rule::new("POST", "/deployments", fake_gitlab::Fault::status(403)).always(),
    );
    let controller = w.argo_controller(vec![running(), synced_at(&w.commit, "Healthy")]);
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.to_lowercase().contains("deployment"))
        .collect();
    assert_eq!(
        warnings,
        [
            "warning: GitLab did not record the deployment to prod (403 Forbidden): the token's user needs the Developer role on group/helloworld-ops to record deployments (and to be allowed to deploy if prod is a protected environment); or run sync in a job with `environment: prod` and GitLab records it"
        ],
        "{}",
        run.stderr
    );
    assert!(
        !w.gitlab
            .requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("/deployments")),
        "a deployment never started is not finished"
    );
    assert!(
        !w.results()[0].contains("did not record"),
        "{}",
        w.results()[0]
    );
}

#[test]
fn a_deployment_record_for_a_project_not_found_says_so_once() {
    let w = world(CONFIG);
    w.gitlab.inject(
        fake_gitlab::Rule::new(
            "POST",
            "/deployments",
            fake_gitlab::Fault::Status {
                code: 404,
                body: r#"{"message":"404 Project Not Found"}"#.into(),
                headers: vec![("Content-Type".into(), "application/json".into())],
            },
        )
        .always(),
    );
    let controller = w.argo_controller(vec![running(), synced_at(&w.commit, "Healthy")]);
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.to_lowercase().contains("deployment"))
        .collect();
    assert_eq!(
        warnings,
        [
            "warning: GitLab did not record the deployment to prod (404 Project Not Found): the token's user cannot see project group/helloworld-ops: check --project and that the user is a member of it"
        ],
        "{}",
        run.stderr
    );
}

#[test]
fn observe_only_waits_for_auto_sync_without_writing() {
    let w = world(CONFIG);
    w.kube
        .forbid("patch", "argoproj.io", "applications", Some("argocd"));
    let kube = w.kube.clone();
    let commit = w.commit.clone();
    let controller = thread::spawn(move || {
        // Auto-sync notices the commit on its own, while the bot watches.
        play_watched(
            &kube,
            vec![
                Box::new(|app| app["status"]["sync"]["status"] = json!("OutOfSync")),
                synced_at(&commit, "Healthy"),
            ],
        );
    });
    let run = w.sync(&["--observe-only"]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        w.kube.requests().iter().all(|r| r.method == "GET"),
        "observe-only only reads"
    );
}

#[test]
fn rollback_on_failure_opens_the_revert_merge_request() {
    let w = world(CONFIG);
    let controller = w.argo_controller(vec![running(), synced_at(&w.commit, "Degraded")]);
    let run = w.sync(&["--rollback-on-failure"]);
    controller.join().unwrap();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let revert = w
        .gitlab
        .merge_requests()
        .into_iter()
        .find(|m| m["iid"] == 2)
        .expect("a rollback MR");
    assert_eq!(
        revert["title"],
        "Roll back helloworld in prod to ci-34 (ci-35 failed)"
    );
    assert!(
        revert["source_branch"]
            .as_str()
            .unwrap()
            .starts_with("gitops-bot/prod/rollback/helloworld-"),
        "{}",
        revert["source_branch"]
    );
    assert_eq!(revert["assignees"][0]["username"], "operator");
    let description = revert["description"].as_str().unwrap();
    let result_note = w
        .gitlab
        .notes(1)
        .into_iter()
        .find(|n| {
            n["body"]
                .as_str()
                .unwrap_or("")
                .contains("\"kind\":\"sync\"")
        })
        .unwrap();
    assert!(
        description.contains(&format!(
            "undoing `ci-35` from !1 ({})",
            w.gitlab.merge_requests()[0]["web_url"].as_str().unwrap()
        )),
        "{description}"
    );
    assert!(
        description.contains(&format!("#note_{})", result_note["id"])),
        "the rollback links the deploy result: {description}"
    );
    assert!(description.contains("Its deploy failed"), "{description}");
    assert!(description.contains("`gitops-bot deploy`"), "{description}");
    let results = w.results();
    assert_eq!(results.len(), 1, "one result comment, edited in place");
    assert!(
        results[0].contains("Rollback proposed in !2:"),
        "{}",
        results[0]
    );
    assert!(
        results[0].contains(&format!("**Change:** `{IMAGE} ci-34 → ci-35`.")),
        "the result names what was deployed: {}",
        results[0]
    );
}

#[test]
fn the_environment_comes_from_the_files_the_merge_changed_not_the_description() {
    let w = world(
        "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n    argocd_apps: [argocd/helloworld]\n  dev:\n    paths: [base]\n    argocd_apps: [argocd/helloworld-dev]\n",
    );
    let description = w.gitlab.merge_requests()[0]["description"]
        .as_str()
        .unwrap()
        .replace("\"environment\":\"prod\"", "\"environment\":\"dev\"");
    assert!(description.contains("\"environment\":\"dev\""));
    w.gitlab.set_description(1, &description);
    let controller = w.argo_controller(vec![running(), synced_at(&w.commit, "Healthy")]);
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("sync: healthy: Application argocd/helloworld at "),
        "{}",
        run.stdout
    );
    assert!(
        w.labels().contains(&"deployed::prod".to_string()),
        "{:?}",
        w.labels()
    );
}

#[test]
fn an_edited_description_cannot_steer_the_rollback() {
    let w = world(CONFIG);
    // A Developer edits !1's record to point the rollback at another version and place.
    let mr = w.gitlab.merge_requests()[0].clone();
    let description = mr["description"]
        .as_str()
        .unwrap()
        .replace(
            "\"previous\":[\"ci-34\"]",
            "\"previous\":[\"ci-34-backdoor\"]",
        )
        .replace("\"paths\":[\"envs/prod\"]", "\"paths\":[\"base\"]")
        .replace("\"target_branch\":\"main\"", "\"target_branch\":\"evil\"");
    assert!(description.contains("ci-34-backdoor"), "{description}");
    w.gitlab.set_description(1, &description);
    let controller = w.argo_controller(vec![running(), synced_at(&w.commit, "Degraded")]);
    let run = w.sync(&["--rollback-on-failure"]);
    controller.join().unwrap();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let revert = w
        .gitlab
        .merge_requests()
        .into_iter()
        .find(|m| m["iid"] == 2)
        .expect("a rollback MR");
    assert_eq!(
        revert["title"],
        "Roll back helloworld in prod to ci-34 (ci-35 failed)"
    );
    assert_eq!(revert["target_branch"], "main");
    let branch = revert["source_branch"].as_str().unwrap();
    let changed = w
        .gitlab
        .git(&["diff", "--name-only", &format!("main...{branch}")]);
    assert_eq!(
        changed.trim(),
        "envs/prod/kustomization.yaml",
        "only what !1 changed"
    );
    let diff = w.gitlab.git(&["diff", &format!("main...{branch}")]);
    assert!(!diff.contains("backdoor"), "{diff}");
    // A revert: the file is again what it was before !1 merged.
    let file = "envs/prod/kustomization.yaml";
    assert_eq!(
        w.gitlab.git(&["show", &format!("{branch}:{file}")]),
        w.gitlab.git(&["show", &format!("{}^1:{file}", w.commit)]),
    );
}

const FLUX_CONFIG: &str = "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n    flux: [Kustomization/flux-system/apps]\n";
const KUSTOMIZE: &str = "kustomize.toolkit.fluxcd.io/v1";
const APPS: FluxObject<'static> = FluxObject {
    api_version: KUSTOMIZE,
    kind: "Kustomization",
    namespace: "flux-system",
    name: "apps",
};

/// The world with a GitRepository and the Kustomization `flux-system/apps`, ready at the
/// commit before (as kustomize-controller leaves it after a successful reconcile).
fn flux_world() -> World {
    let w = world(FLUX_CONFIG);
    let before = w.gitlab.git(&["rev-parse", "main~1"]).trim().to_string();
    w.kube.put(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "helloworld-ops", "namespace": "flux-system"},
        "spec": {"url": "https://gitlab.example.com/group/helloworld-ops.git", "interval": "5m"},
    }));
    w.kube.put(json!({
        "apiVersion": KUSTOMIZE, "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"path": "./envs/prod", "sourceRef": {"kind": "GitRepository", "name": "helloworld-ops"}, "interval": "10m", "prune": true},
        "status": {"observedGeneration": 1,
                   "lastAppliedRevision": format!("main@sha1:{before}"),
                   "lastAttemptedRevision": format!("main@sha1:{before}"),
                   "inventory": {"entries": [{"id": "hello_helloworld_apps_Deployment", "v": "v1"}]},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                                   "message": format!("Applied revision: main@sha1:{before}"), "observedGeneration": 1}]},
    }));
    w
}

impl World {
    /// kustomize-controller answering the bot's reconcile request on `flux-system/apps`.
    fn flux_controller(&self, outcome: FluxOutcome) -> thread::JoinHandle<()> {
        let kube = self.kube.clone();
        let revision = format!("main@sha1:{}", self.commit);
        thread::spawn(move || {
            kube.flux_reconcile(&APPS, &revision, outcome, PATIENCE);
        })
    }
}

#[test]
fn flux_kustomizations_are_reconciled_and_watched() {
    let w = flux_world();
    let controller = w.flux_controller(FluxOutcome::Applied);
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let source = w
        .kube
        .get(
            "source.toolkit.fluxcd.io/v1",
            "GitRepository",
            Some("flux-system"),
            "helloworld-ops",
        )
        .unwrap();
    assert!(
        source
            .pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt")
            .is_some(),
        "the source was asked to fetch"
    );
    let comment = &w.results()[0];
    assert!(
        comment.contains("| Kustomization | `flux-system/apps` |"),
        "{comment}"
    );
    assert!(
        comment.contains("| Deployment | `hello/helloworld` |"),
        "{comment}"
    );
}

/// Flux's documented failed state (Ready=False, Reconciling=True with reason
/// ProgressingWithRetry, the request handled) is a failure as soon as it is seen, as
/// `flux reconcile` reports it, not a wait until --timeout.
#[test]
fn a_failed_flux_reconcile_fails_as_soon_as_the_request_is_handled() {
    let w = flux_world();
    let message = "timeout waiting for: [Deployment/hello/helloworld status: 'InProgress']";
    let controller = w.flux_controller(FluxOutcome::Failed {
        reason: "HealthCheckFailed".into(),
        message: message.into(),
    });
    let run = w.sync(&["--timeout", "60s"]);
    controller.join().unwrap();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);

    // The fake left the state Flux documents for a failed reconcile.
    let ks = w
        .kube
        .get(KUSTOMIZE, "Kustomization", Some("flux-system"), "apps")
        .unwrap();
    let condition = |t: &str| {
        ks["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            condition("Ready")["status"].as_str(),
            condition("Ready")["reason"].as_str()
        ),
        (Some("False"), Some("HealthCheckFailed"))
    );
    assert_eq!(
        (
            condition("Reconciling")["status"].as_str(),
            condition("Reconciling")["reason"].as_str()
        ),
        (Some("True"), Some("ProgressingWithRetry"))
    );

    let last = run.stderr.lines().last().unwrap();
    assert_eq!(
        last,
        format!("sync failed: Kustomization flux-system/apps: HealthCheckFailed: {message}")
    );
    assert!(!run.stderr.contains("timed out"), "{}", run.stderr);
    let comment = &w.results()[0];
    assert!(comment.contains(":x: **Deploy failed**"), "{comment}");
    assert!(
        comment.contains(&format!("HealthCheckFailed: {message}")),
        "{comment}"
    );
    assert!(!comment.contains("timed out"), "{comment}");
}

/// A suspended Flux object is never reconciled: `flux reconcile` refuses it at once, and
/// so does sync, without asking.
#[test]
fn a_suspended_flux_object_fails_at_once_with_what_to_do() {
    let w = flux_world();
    w.kube.update(
        KUSTOMIZE,
        "Kustomization",
        Some("flux-system"),
        "apps",
        |k| {
            k["spec"]["suspend"] = json!(true);
            k["status"]["observedGeneration"] = json!(2);
        },
    );
    let run = w.sync(&["--timeout", "60s"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert_eq!(
        last,
        "sync failed: Kustomization flux-system/apps: suspended (spec.suspend: true): Flux does not reconcile it; resume it with `flux resume kustomization apps -n flux-system`"
    );
    let ks = w
        .kube
        .get(KUSTOMIZE, "Kustomization", Some("flux-system"), "apps")
        .unwrap();
    assert!(
        ks.pointer("/metadata/annotations/reconcile.fluxcd.io~1requestedAt")
            .is_none(),
        "no reconcile was requested of a suspended object"
    );
}

#[test]
fn direct_apply_of_the_example_repo_waits_for_the_rollout() {
    let w = world("operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n");
    let checkout = common::prod_only_repo();
    // The base: a kustomization every kustomize release builds (kubectl's, old or new).
    let base = checkout.path().join("base");
    let kube = w.kube.clone();
    let controller = thread::spawn(move || {
        // The deployment controller: observe the new generation, then roll out.
        let d = kube.wait_for(
            "apps/v1",
            "Deployment",
            Some("hello"),
            "helloworld",
            PATIENCE,
            |_| true,
        );
        let generation = d["metadata"]["generation"].clone();
        // Once the bot watches the rollout.
        kube.wait_for_request(PATIENCE, |r| {
            r.is_watch() && r.path.ends_with("/namespaces/hello/deployments")
        });
        let sent = kube.events_sent();
        kube.update("apps/v1", "Deployment", Some("hello"), "helloworld", |d| {
            d["status"] = json!({"observedGeneration": generation, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 0});
        });
        kube.wait_for_events_sent(sent + 1, PATIENCE);
        kube.update("apps/v1", "Deployment", Some("hello"), "helloworld", |d| {
            d["status"]["availableReplicas"] = json!(1);
        });
    });
    let run = w.sync(&[
        "--apply",
        base.to_str().unwrap(),
        "--namespace",
        "hello",
        "--environment",
        "prod",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    controller.join().unwrap();
    let deployment = w
        .kube
        .get("apps/v1", "Deployment", Some("hello"), "helloworld")
        .unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("{IMAGE}:ci-34")
    );
    assert!(
        w.kube
            .get("v1", "Service", Some("hello"), "helloworld")
            .is_some()
    );
    assert!(
        w.kube
            .get(
                "networking.k8s.io/v1",
                "Ingress",
                Some("hello"),
                "helloworld"
            )
            .is_some()
    );
    let applies: Vec<_> = w
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert!(
        applies.iter().all(|r| r
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/apply-patch"))
            && r.query.contains("fieldManager=gitops-bot")),
        "{applies:?}"
    );
    assert_eq!(
        applies
            .iter()
            .filter(|r| r.query.contains("dryRun=All"))
            .count(),
        3,
        "a dry run of all three objects came first"
    );
    assert!(
        run.stdout.contains("0 of 1 updated replicas are available"),
        "{}",
        run.stdout
    );
    assert!(
        w.results()[0].contains("| Deployment | `hello/helloworld` | Applied | Healthy |"),
        "{}",
        w.results()[0]
    );
}

#[test]
fn a_direct_push_without_merge_request_reports_in_the_log_only() {
    let w = world(CONFIG);
    let pushed = w
        .gitlab
        .commit_files("main", &[("notes.txt", "direct push\n")], "direct push");
    let controller = w.argo_controller(vec![running(), synced_at(&pushed, "Healthy")]);
    let mut cmd: Command = common::bot_command(
        &w.gitlab.url(),
        w.gitlab.token(),
        &[
            "sync",
            "--project",
            PROJECT,
            "--commit",
            &pushed,
            "--argocd-app",
            "helloworld",
        ],
    );
    cmd.env("KUBE_API_URL", w.kube.url())
        .env("KUBE_TOKEN", w.kube.token());
    let run = common::run_without_leaking(cmd, w.gitlab.token());
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("no merge request brought"),
        "{}",
        run.stdout
    );
    assert!(w.results().is_empty());
}

#[test]
fn bad_targets_are_usage_errors() {
    let w = world(CONFIG);
    let run = w.sync(&["--flux", "GitRepository/flux-system/x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("Kustomization or HelmRelease"),
        "{}",
        run.stderr
    );
    let run = w.sync(&["--observe-only", "--apply", "."]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--observe-only waits for a controller"),
        "{}",
        run.stderr
    );
    let run = w.sync(&["--environment", "stage"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("unknown environment \"stage\"; .gitops-bot.yaml defines: prod"),
        "{}",
        run.stderr
    );
    let run = gitlab_bot(
        &w.gitlab,
        &[
            "sync",
            "--project",
            PROJECT,
            "--commit",
            "not-a-sha",
            "--argocd-app",
            "helloworld",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("--commit \"not-a-sha\" is not a commit SHA"),
        "{}",
        run.stderr
    );
    assert!(w.kube.requests().is_empty());
}

#[test]
fn observe_only_with_apply_targets_of_the_environment_is_a_usage_error() {
    let w = world(&format!("{CONFIG}    apply: [envs/prod]\n"));
    let run = w.sync(&["--environment", "prod", "--observe-only"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "--observe-only waits for a controller; environment \"prod\" has `apply` targets"
        ),
        "{}",
        run.stderr
    );
    assert!(w.kube.requests().is_empty());
    assert!(w.results().is_empty());
}

#[test]
fn with_board_on_a_sync_leaves_its_deployment_on_the_deploy_board() {
    let w = world(&format!("board: true\n{CONFIG}"));
    let controller = w.argo_controller(vec![running(), synced_at(&w.commit, "Healthy")]);
    let run = w.sync(&[]);
    controller.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].title, "Deploy board");
    let board = &issues[0].description;
    assert!(
        board.contains(&format!(
            "| `prod` | `{IMAGE}` | `ci-35` | success [`{}`]({}/-/commit/{})",
            &w.commit[..12],
            w.gitlab.project_web_url(),
            w.commit
        )),
        "{board}"
    );
}

// ---------------------------------------------------------------- several environments

const ENVS_CONFIG: &str = "operators: [operator]\nenvironments:\n  dev:\n    paths: [envs/dev]\n    argocd_apps: [argocd/helloworld-dev]\n  staging:\n    paths: [envs/staging]\n    argocd_apps: [argocd/helloworld-staging]\n";
const ENV_OVERLAY: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\nimages:\n  - name: registry.example.com/root/helloworld\n    newTag: ci-34\n";

/// The example with `envs/dev` and `envs/staging` overlays, whose bump !1 (no environment:
/// every reference, so both overlays) was merged; Applications `helloworld-dev` and
/// `helloworld-staging` at the commit before.
fn envs_world() -> World {
    world_with(
        ENVS_CONFIG,
        &[
            ("envs/dev/kustomization.yaml", ENV_OVERLAY),
            ("envs/staging/kustomization.yaml", ENV_OVERLAY),
        ],
        &[],
        &["helloworld-dev", "helloworld-staging"],
    )
}

/// A controller thread for the Application `app`: once the bot asked it to sync, the
/// operation runs and ends at `commit` with `health`.
fn app_controller(
    kube: &Arc<FakeKube>,
    app: &'static str,
    commit: &str,
    health: &'static str,
) -> thread::JoinHandle<()> {
    let kube = kube.clone();
    let commit = commit.to_string();
    thread::spawn(move || {
        kube.wait_for(ARGO, "Application", Some("argocd"), app, PATIENCE, |a| {
            a.get("operation").is_some_and(|o| !o.is_null())
        });
        for step in [running(), synced_at(&commit, health)] {
            kube.update(ARGO, "Application", Some("argocd"), app, step);
        }
    })
}

/// The Applications the bot asked to sync, by name.
fn synced_apps(kube: &FakeKube) -> Vec<String> {
    let mut apps: Vec<String> = kube
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .filter_map(|r| r.path.rsplit('/').next().map(str::to_string))
        .collect();
    apps.sort();
    apps
}

/// (environment, sha, status) of every GitLab deployment record, by environment.
fn records(gitlab: &FakeGitlab) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = gitlab
        .deployments()
        .into_iter()
        .map(|d| (d.environment, d.sha, d.status))
        .collect();
    out.sort();
    out
}

#[test]
fn a_commit_changing_two_environments_deploys_both_with_a_record_and_comment_each() {
    let w = envs_world();
    let dev = app_controller(&w.kube, "helloworld-dev", &w.commit, "Healthy");
    let staging = app_controller(&w.kube, "helloworld-staging", &w.commit, "Healthy");
    let run = w.sync(&[]);
    dev.join().unwrap();
    staging.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        synced_apps(&w.kube),
        ["helloworld-dev", "helloworld-staging"]
    );
    for env in ["dev", "staging"] {
        assert!(
            run.stdout.contains(&format!(
                "sync of {env}: healthy: Application argocd/helloworld-{env} at "
            )),
            "{}",
            run.stdout
        );
    }
    assert_eq!(
        records(&w.gitlab),
        [
            ("dev".to_string(), w.commit.clone(), "success".to_string()),
            (
                "staging".to_string(),
                w.commit.clone(),
                "success".to_string()
            ),
        ]
    );
    let results = w.results();
    assert_eq!(results.len(), 2, "{results:?}");
    for env in ["dev", "staging"] {
        let result = results
            .iter()
            .find(|r| r.contains(&format!("**Deployed** to **`{env}`**")))
            .unwrap_or_else(|| panic!("no result for {env}: {results:?}"));
        assert!(
            result.contains(&format!(
                "| Application | `argocd/helloworld-{env}` | Synced | Healthy |"
            )),
            "{result}"
        );
    }
    let labels = w.labels();
    assert!(
        labels.contains(&"deployed::dev".to_string())
            && labels.contains(&"deployed::staging".to_string()),
        "{labels:?}"
    );
}

#[test]
fn one_failing_environment_fails_the_sync_and_the_other_is_still_recorded_healthy() {
    let w = envs_world();
    let dev = app_controller(&w.kube, "helloworld-dev", &w.commit, "Healthy");
    let staging = app_controller(&w.kube, "helloworld-staging", &w.commit, "Degraded");
    let run = w.sync(&[]);
    dev.join().unwrap();
    staging.join().unwrap();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("sync of dev: healthy: Application argocd/helloworld-dev at "),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("sync of staging failed: "),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.lines().last(),
        Some("sync failed: 1 of 2 environments not healthy: staging"),
        "{}",
        run.stderr
    );
    assert_eq!(
        records(&w.gitlab),
        [
            ("dev".to_string(), w.commit.clone(), "success".to_string()),
            (
                "staging".to_string(),
                w.commit.clone(),
                "failed".to_string()
            ),
        ]
    );
    let results = w.results();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(
        results
            .iter()
            .any(|r| r.contains("**Deployed** to **`dev`**")),
        "{results:?}"
    );
    let labels = w.labels();
    assert!(
        labels.contains(&"deployed::dev".to_string())
            && labels.contains(&"deploy-failed::staging".to_string())
            && !labels.contains(&"deployed::staging".to_string()),
        "{labels:?}"
    );
}

#[test]
fn environment_narrows_the_sync_to_the_ones_named() {
    let w = envs_world();
    let staging = app_controller(&w.kube, "helloworld-staging", &w.commit, "Healthy");
    let run = w.sync(&["--environment", "staging"]);
    staging.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(synced_apps(&w.kube), ["helloworld-staging"]);
    assert!(
        run.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("sync: healthy: Application argocd/helloworld-staging at "),
        "{}",
        run.stdout
    );
    assert_eq!(
        records(&w.gitlab),
        [(
            "staging".to_string(),
            w.commit.clone(),
            "success".to_string()
        )]
    );
    assert_eq!(w.results().len(), 1);
}

/// `sync --commit SHA` of a commit pushed to main directly, with cluster access.
fn sync_pushed(w: &World, pushed: &str) -> Run {
    let mut cmd: Command = common::bot_command(
        &w.gitlab.url(),
        w.gitlab.token(),
        &["sync", "--project", PROJECT, "--commit", pushed],
    );
    cmd.env("KUBE_API_URL", w.kube.url())
        .env("KUBE_TOKEN", w.kube.token());
    common::run_without_leaking(cmd, w.gitlab.token())
}

#[test]
fn a_commit_touching_no_environment_deploys_nothing_and_says_so() {
    let w = envs_world();
    let pushed = w.gitlab.commit_files(
        "main",
        &[
            ("docs/runbook.md", "# Runbook\n"),
            ("base/README.md", "Shared by every overlay.\n"),
        ],
        "docs",
    );
    let run = sync_pushed(&w, &pushed);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.trim(),
        format!(
            "sync: {} changed no file under the paths of dev, staging: nothing to deploy",
            &pushed[..12]
        )
    );
    assert!(w.kube.requests().is_empty(), "{:?}", w.kube.requests());
    assert!(w.gitlab.deployments().is_empty());
}

#[test]
fn every_page_of_a_large_commit_is_read() {
    let w = envs_world();
    // GitLab lists the changes by path and pages them: staging's file sorts after 150 docs.
    let docs: Vec<(String, String)> = (0..150)
        .map(|i| (format!("docs/page-{i:03}.md"), format!("page {i}\n")))
        .collect();
    let mut files: Vec<(&str, &str)> = docs.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let overlay = ENV_OVERLAY.replace("ci-34", "ci-36");
    files.push(("envs/staging/kustomization.yaml", &overlay));
    let pushed = w.gitlab.commit_files("main", &files, "docs and staging");
    let staging = app_controller(&w.kube, "helloworld-staging", &pushed, "Healthy");
    let run = sync_pushed(&w, &pushed);
    staging.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(synced_apps(&w.kube), ["helloworld-staging"]);
    let pages = w
        .gitlab
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(&format!("/commits/{pushed}/diff")))
        .count();
    assert_eq!(pages, 2, "151 changes at 100 a page");
}

#[test]
fn target_flags_take_at_most_one_environment() {
    let w = world(CONFIG);
    let run = w.sync(&[
        "--argocd-app",
        "helloworld",
        "--environment",
        "prod",
        "--environment",
        "dev",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "with --argocd-app, --flux or --apply, give at most one --environment (it names the result)"
        ),
        "{}",
        run.stderr
    );
    assert!(w.kube.requests().is_empty());
}

/// The post-verdict step opens the promotion in at most 10 GitLab requests (issue #13),
/// counted on the fake from its first read (the project) to the merge request: the
/// project, the default branch's head, the archive at the head (settings and files, which
/// the bump reuses), the bot's merged merge requests (holds; the bot is known), the
/// source's deployments, the promotion branch's merge requests, the open rollback's, the
/// merged `deploy-failed` ones, the commit and the merge request. The merge requests that
/// brought the commit, and the operator among their assignees, are what sync already read.
#[test]
fn a_healthy_sync_opens_the_promotion_in_at_most_ten_requests() {
    let w = promoted_world("");
    w.gitlab.clear_log();
    let run = healthy_sync(&w);
    assert!(
        run.stdout
            .contains("sync: promotion to live: 1 image: created merge request !2: "),
        "{}",
        run.stdout
    );
    let listed: Vec<String> = w
        .gitlab
        .requests()
        .iter()
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect();
    let project = format!("GET /api/v4/projects/{}?", PROJECT.replace('/', "%2F"));
    let first = listed
        .iter()
        .position(|r| r.starts_with(&project))
        .unwrap_or_else(|| panic!("no read of the project: {listed:#?}"));
    let last = listed
        .iter()
        .rposition(|r| r.starts_with("POST ") && r.contains("/merge_requests?"))
        .unwrap_or_else(|| panic!("no merge request opened: {listed:#?}"));
    let step = &listed[first..=last];
    assert!(step.len() <= 10, "{} requests: {step:#?}", step.len());
}
