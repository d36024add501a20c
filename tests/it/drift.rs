//! `drift` through the real binary, against the fake GitLab (the config repo, whose default
//! branch head is the commit every target should be at) and the fake Kubernetes API holding
//! the Argo CD Application and Flux objects in the states a controller would leave them.

use crate::common;
use crate::fake_gitlab;
use crate::fake_kube;

use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::fake_webhook::FakeWebhook;
use common::Run;
use fake_gitlab::{FakeGitlab, Fault, Options as GitlabOptions, Rule};
use fake_kube::{FakeKube, Options as KubeOptions};
use serde_json::{Value, json};

const PROJECT: &str = "group/helloworld-ops";
const ARGO: &str = "argoproj.io/v1alpha1";
const KS: &str = "kustomize.toolkit.fluxcd.io/v1";
/// prod: an Argo CD app; staging: a Flux Kustomization; dev: paths only (nothing to observe).
const CONFIG: &str = "environments:\n  prod:\n    paths: [envs/prod]\n    argocd_apps: [argocd/helloworld]\n  staging:\n    flux: [Kustomization/flux-system/apps]\n  dev:\n    paths: [overlays/dev]\ndrift:\n  confirm: 0s\n";

struct World {
    gitlab: FakeGitlab,
    kube: FakeKube,
    /// The head of the default branch.
    head: String,
    _seed: tempfile::TempDir,
}

/// A config repo holding `config`, and a cluster where the app and the Kustomization are
/// synced, healthy and ready at the head.
fn world(config: &str) -> World {
    world_with(config, &[])
}

/// [`world`], with more `files` (path, text) in the config repo.
fn world_with(config: &str, files: &[(&str, &str)]) -> World {
    let seed = common::prod_only_repo();
    common::write(seed.path(), ".gitops-bot.yaml", config);
    for (path, text) in files {
        common::write(seed.path(), path, text);
    }
    let gitlab = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        ..GitlabOptions::default()
    });
    let head = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    let kube = FakeKube::start(KubeOptions::default());
    kube.put(app("Synced", &head, "Healthy"));
    kube.put(kustomization(
        &head,
        json!([ready("True", "ReconciliationSucceeded")]),
    ));
    World {
        gitlab,
        kube,
        head,
        _seed: seed,
    }
}

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
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "hello", "name": "helloworld", "status": "Synced", "health": {"status": "Healthy"}},
                {"version": "v1", "kind": "Service", "namespace": "hello", "name": "helloworld", "status": "Synced", "health": {"status": "Healthy"}},
            ],
        },
    })
}

fn kustomization(revision: &str, conditions: Value) -> Value {
    json!({
        "apiVersion": KS,
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system", "generation": 1},
        "spec": {"path": "./overlays/staging", "sourceRef": {"kind": "GitRepository", "name": "ops"}},
        "status": {
            "observedGeneration": 1,
            "lastAppliedRevision": format!("main@sha1:{revision}"),
            "conditions": conditions,
        },
    })
}

fn ready(status: &str, reason: &str) -> Value {
    json!({"type": "Ready", "status": status, "reason": reason, "message": "Applied revision", "lastTransitionTime": "2026-11-27T10:00:00Z"})
}

impl World {
    fn drift(&self, args: &[&str]) -> Run {
        common::run_without_leaking(self.command(args), self.gitlab.token())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut all = vec!["drift", "--project", PROJECT];
        all.extend_from_slice(args);
        let mut cmd: Command = common::bot_command(&self.gitlab.url(), self.gitlab.token(), &all);
        cmd.env("KUBE_API_URL", self.kube.url())
            .env("KUBE_TOKEN", self.kube.token())
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CA_FILE")
            .env_remove("KUBE_NAMESPACE");
        cmd
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let run = self.drift(&all);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    }

    fn update_app(&self, f: impl FnOnce(&mut Value)) {
        self.kube
            .update(ARGO, "Application", Some("argocd"), "helloworld", f);
    }

    fn update_kustomization(&self, f: impl FnOnce(&mut Value)) {
        self.kube
            .update(KS, "Kustomization", Some("flux-system"), "apps", f);
    }

    /// The `environments` entry of `name` in a JSON report.
    fn state_of(&self, report: &Value, name: &str) -> String {
        report["environments"]
            .as_array()
            .and_then(|list| list.iter().find(|e| e["environment"] == name))
            .map(|e| e["state"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("no environment {name} in {report}"))
    }
}

#[test]
fn converged_environments_in_text_and_json_and_nothing_written() {
    let w = world(CONFIG);
    let run = w.drift(&["--fail-on-drift"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let short = &w.head[..12];
    assert_eq!(
        run.stdout,
        format!(
            "prod: converged (head {short}, live {})\nstaging: converged (head {short}, live main@sha1:{})\n",
            w.head, w.head
        )
    );
    let report = w.json(&[]);
    assert_eq!(
        report,
        json!({"environments": [
            {"environment": "prod", "state": "converged", "head_revision": w.head,
             "live_revision": w.head, "objects": []},
            {"environment": "staging", "state": "converged", "head_revision": w.head,
             "live_revision": format!("main@sha1:{}", w.head), "objects": []},
        ]})
    );
    let requests = w.kube.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.method == "GET"),
        "drift only reads: {:?}",
        requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
    assert!(
        w.gitlab.merge_requests().is_empty(),
        "nothing is written to GitLab"
    );
    assert!(w.gitlab.issues().is_empty(), "no issue for converged");
    let writes: Vec<String> = w.gitlab.writes().iter().map(|r| r.path.clone()).collect();
    assert!(writes.is_empty(), "no GitLab write: {writes:?}");
}

#[test]
fn an_out_of_sync_app_is_drifted_with_its_resources() {
    let w = world(CONFIG);
    w.update_app(|a| {
        a["status"]["sync"]["status"] = json!("OutOfSync");
        a["status"]["resources"][0]["status"] = json!("OutOfSync");
    });
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(
        report["environments"][0]["objects"],
        json!([
            {"kind": "Application", "namespace": "argocd", "name": "helloworld", "state": "drifted", "reason": "OutOfSync"},
            {"kind": "Deployment", "namespace": "hello", "name": "helloworld", "state": "drifted", "reason": "OutOfSync"},
        ])
    );
    assert_eq!(w.state_of(&report, "prod"), "drifted");
    assert_eq!(report["environments"].as_array().map(Vec::len), Some(1));

    let run = w.drift(&["--environment", "prod", "--fail-on-drift"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("  drifted Deployment hello/helloworld: OutOfSync\n"),
        "{}",
        run.stdout
    );
    // Without --fail-on-drift the report is the job's success.
    assert_eq!(w.drift(&["--environment", "prod"]).code, 0);
}

#[test]
fn an_unhealthy_app_is_degraded() {
    let w = world(CONFIG);
    w.update_app(|a| {
        a["status"]["health"] = json!({"status": "Degraded"});
        a["status"]["resources"][0]["health"] = json!({"status": "Degraded", "message": "Deployment \"helloworld\" exceeded its progress deadline"});
    });
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&report, "prod"), "degraded");
    assert_eq!(
        report["environments"][0]["objects"][1]["reason"],
        "Degraded: Deployment \"helloworld\" exceeded its progress deadline"
    );
}

#[test]
fn behind_only_after_the_grace() {
    let w = world(CONFIG);
    let old = "0000000000000000000000000000000000000000";
    w.update_app(|a| a["status"]["sync"]["revision"] = json!(old));
    // Default grace (10m): the head was committed just now.
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&report, "prod"), "converged");
    assert_eq!(report["environments"][0]["live_revision"], old);

    let w = world(&CONFIG.replace("drift:\n", "drift:\n  grace: 0s\n"));
    w.update_app(|a| a["status"]["sync"]["revision"] = json!(old));
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&report, "prod"), "behind");
    let reason = report["environments"][0]["objects"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.starts_with(&format!(
            "at {old}, not at the head {} of the default branch",
            &w.head[..12]
        )),
        "{reason}"
    );
}

#[test]
fn an_app_the_bot_may_not_read_is_unknown() {
    let w = world(CONFIG);
    // Applications are read by list (one per namespace), so `list` is the verb denied.
    w.kube
        .forbid("list", "argoproj.io", "applications", Some("argocd"));
    let run = w.drift(&["--environment", "prod", "--fail-on-drift"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("prod: unknown "), "{}", run.stdout);
    assert!(
        run.stdout.contains("403 Forbidden") && run.stdout.contains("verbs: [\"list\", \"watch\"]"),
        "the reason names the denial and the rule to add: {}",
        run.stdout
    );
}

#[test]
fn a_comparison_error_is_unknown_never_converged() {
    let w = world(CONFIG);
    w.update_app(|a| {
        a["status"]["sync"]["status"] = json!("Unknown");
        a["status"]["conditions"] = json!([{"type": "ComparisonError", "message": "rpc error: repository not found", "lastTransitionTime": "2026-11-27T10:00:00Z"}]);
    });
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&report, "prod"), "unknown");
    assert_eq!(
        report["environments"][0]["objects"][0]["reason"],
        "ComparisonError: rpc error: repository not found"
    );
}

#[test]
fn flux_not_ready_is_degraded_and_drifted_is_drifted() {
    let w = world(CONFIG);
    w.update_kustomization(|k| {
        k["status"]["conditions"] = json!([ready("False", "HealthCheckFailed")]);
    });
    let report = w.json(&["--environment", "staging"]);
    assert_eq!(w.state_of(&report, "staging"), "degraded");
    assert_eq!(
        report["environments"][0]["objects"][0]["reason"],
        "Ready=False: HealthCheckFailed: Applied revision"
    );

    w.update_kustomization(|k| {
        k["status"]["conditions"] = json!([
            ready("True", "ReconciliationSucceeded"),
            {"type": "Drifted", "status": "True", "reason": "DriftDetected", "message": "Deployment/hello/helloworld changed", "lastTransitionTime": "2026-11-27T10:00:00Z"},
        ]);
    });
    let report = w.json(&["--environment", "staging"]);
    assert_eq!(w.state_of(&report, "staging"), "drifted");
}

#[test]
fn a_drift_that_clears_within_confirm_is_converged() {
    let w = world(&CONFIG.replace("confirm: 0s", "confirm: 60s"));
    w.update_app(|a| a["status"]["sync"]["status"] = json!("OutOfSync"));
    let kube_log = thread::scope(|s| {
        let fixer = s.spawn(|| {
            // Argo CD's self-heal puts it back while the bot is confirming.
            w.kube
                .wait_for_request(Duration::from_secs(30), is_application_list);
            w.update_app(|a| a["status"]["sync"]["status"] = json!("Synced"));
        });
        let report = w.json(&["--environment", "prod"]);
        fixer.join().unwrap();
        report
    });
    assert_eq!(w.state_of(&kube_log, "prod"), "converged");
    let reads = w
        .kube
        .requests()
        .iter()
        .filter(|r| is_application_list(r))
        .count();
    assert!(reads >= 2, "observed again, {reads} reads");
    // What cleared within drift.confirm is written nowhere.
    assert!(w.gitlab.issues().is_empty(), "{:?}", w.gitlab.issues());
    assert_eq!(writes(&w), Vec::<String>::new());
}

/// issue 12: a non-converged state is reported only when it persists for drift.confirm
/// "with the same state and the same set of objects". Drifted, then degraded within the
/// window: neither stayed the same for it, so nothing is written and the run says so.
#[test]
fn a_state_that_changes_within_confirm_is_shown_and_not_written() {
    let w = world(&CONFIG.replace("confirm: 0s", "confirm: 4s"));
    w.update_app(|a| a["status"]["sync"]["status"] = json!("OutOfSync"));
    let run = thread::scope(|s| {
        let breaker = s.spawn(|| {
            // The rollout goes on while the bot is confirming: now it is unhealthy.
            w.kube
                .wait_for_request(Duration::from_secs(30), is_application_list);
            w.update_app(|a| {
                a["status"]["sync"]["status"] = json!("Synced");
                a["status"]["health"]["status"] = json!("Degraded");
            });
        });
        let run = w.drift(&["--environment", "prod", "--fail-on-drift"]);
        breaker.join().unwrap();
        run
    });
    assert_eq!(run.code, 0, "not confirmed: not a failure\n{}", run.stderr);
    assert!(
        run.stdout.contains("prod: degraded (head ")
            && run
                .stdout
                .contains(", not the same for drift.confirm yet\n"),
        "{}",
        run.stdout
    );
    assert!(w.gitlab.issues().is_empty(), "{:?}", w.gitlab.issues());
    assert_eq!(writes(&w), Vec::<String>::new());
    let json = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&json, "prod"), "degraded");
    assert!(
        json["environments"][0].get("unconfirmed").is_none(),
        "the same for the whole window now: confirmed, {json}"
    );
    assert_eq!(w.gitlab.issues().len(), 1, "confirmed: one issue");
}

#[test]
fn unknown_environments_and_environments_without_targets_are_usage_errors() {
    let w = world(CONFIG);
    let run = w.drift(&["--environment", "prod", "--environment", "qa"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("unknown environment \"qa\"; .gitops-bot.yaml defines: dev, prod, staging"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    let run = w.drift(&["--environment", "dev"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(w.kube.requests().is_empty());
}

#[test]
fn a_bad_confirm_value_names_the_key() {
    let w = world(&CONFIG.replace("confirm: 0s", "confirm: soon"));
    let run = w.drift(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("drift.confirm: \"soon\" is not a duration"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_application_is_unknown() {
    let w = world(CONFIG);
    w.kube
        .delete(ARGO, "Application", Some("argocd"), "helloworld");
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&report, "prod"), "unknown");
    let reason = report["environments"][0]["objects"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        reason,
        "list applications.argoproj.io in namespace argocd: \"helloworld\" is not among the 0 listed (not found) — check the name and namespace in .gitops-bot.yaml"
    );
}

/// A list of the Applications in namespace `argocd` (what drift reads them with).
fn is_application_list(r: &fake_kube::LoggedRequest) -> bool {
    r.method == "GET"
        && r.path == "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"
        && !r.is_watch()
}

#[test]
fn a_drift_that_persists_through_confirm_counts() {
    let w = world(&CONFIG.replace("confirm: 0s", "confirm: 3s"));
    w.update_app(|a| a["status"]["sync"]["status"] = json!("OutOfSync"));
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&report, "prod"), "drifted");
    let reads = w
        .kube
        .requests()
        .iter()
        .filter(|r| is_application_list(r))
        .count();
    assert!(reads >= 2, "observed again before reporting, {reads} reads");
    // Confirmed: one issue.
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0].description.starts_with("**`prod` is drifted**"),
        "{}",
        issues[0].description
    );
}

#[test]
fn a_helm_release_is_behind_only_when_its_chart_version_names_a_commit() {
    let config = "environments:\n  prod:\n    flux: [HelmRelease/flux-system/web]\ndrift:\n  grace: 0s\n  confirm: 0s\n";
    let w = world(config);
    let release = |version: &str| {
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": "flux-system", "generation": 1},
            "spec": {"chart": {"spec": {"chart": "./charts/web", "sourceRef": {"kind": "GitRepository", "name": "ops"}}}},
            "status": {
                "observedGeneration": 1,
                "lastAttemptedRevision": version,
                "conditions": [ready("True", "UpgradeSucceeded")],
            },
        })
    };
    w.kube.put(release("1.2.0"));
    assert_eq!(w.state_of(&w.json(&[]), "prod"), "converged");
    w.kube.put(release("1.2.0+000000000000"));
    assert_eq!(w.state_of(&w.json(&[]), "prod"), "behind");
    w.kube.put(release(&format!("1.2.0+{}", &w.head[..12])));
    assert_eq!(w.state_of(&w.json(&[]), "prod"), "converged");
}

#[test]
fn a_fetched_revision_not_synced_yet_is_behind_after_the_grace_not_drifted() {
    let old = "0000000000000000000000000000000000000000";
    let not_synced_yet = |a: &mut Value| {
        a["status"]["sync"]["status"] = json!("OutOfSync");
        a["status"]["resources"][0]["status"] = json!("OutOfSync");
        a["status"]["operationState"] =
            json!({"phase": "Succeeded", "syncResult": {"revision": old}});
    };
    let w = world(CONFIG);
    w.update_app(not_synced_yet);
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&report, "prod"), "converged");
    assert_eq!(report["environments"][0]["live_revision"], old);

    let w = world(&CONFIG.replace("drift:\n", "drift:\n  grace: 0s\n"));
    w.update_app(not_synced_yet);
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&report, "prod"), "behind");
}

/// prod is of the production tier (its issue is an incident) and has an operator.
const ISSUE_CONFIG: &str = "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n    argocd_apps: [argocd/helloworld]\n    tier: production\n  staging:\n    flux: [Kustomization/flux-system/apps]\ndrift:\n  confirm: 0s\n";

fn out_of_sync(w: &World) {
    w.update_app(|a| {
        a["status"]["sync"]["status"] = json!("OutOfSync");
        a["status"]["resources"][0]["status"] = json!("OutOfSync");
    });
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

/// The writes since the last `clear_log`, as `METHOD path`.
fn writes(w: &World) -> Vec<String> {
    w.gitlab
        .writes()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn a_drift_issue_is_assigned_to_the_environments_own_operators() {
    let config = ISSUE_CONFIG.replace(
        "    tier: production\n",
        "    tier: production\n    operators: [reviewer]\n",
    );
    let w = world(&config);
    ok(&w.drift(&[]));
    out_of_sync(&w);
    ok(&w.drift(&[]));
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    // reviewer (3), not the top-level operator (2).
    assert_eq!(issues[0].assignee_ids, [3]);
}

#[test]
fn one_issue_per_environment_through_drift_change_convergence_and_drift_again() {
    let w = world(ISSUE_CONFIG);
    ok(&w.drift(&[]));
    assert!(w.gitlab.issues().is_empty());

    // Drift confirmed: one incident, labelled, assigned, described from the template.
    out_of_sync(&w);
    ok(&w.drift(&[]));
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue = &issues[0];
    assert_eq!(issue.labels, ["gitops-bot::drift", "env::prod"]);
    assert_eq!(issue.issue_type, "incident");
    assert_eq!(issue.assignee_ids, [2]);
    assert_eq!(issue.state, "opened");
    assert!(
        issue
            .description
            .starts_with("**`prod` is drifted** since "),
        "{}",
        issue.description
    );
    assert!(
        issue
            .description
            .contains("| Deployment | `hello/helloworld` | drifted | `OutOfSync` |"),
        "{}",
        issue.description
    );
    assert!(issue.description.contains("\"kind\":\"drift\""));
    assert!(issue.notes.is_empty());

    // A rerun that sees the same: no write at all.
    w.gitlab.clear_log();
    ok(&w.drift(&[]));
    assert_eq!(writes(&w), Vec::<String>::new());
    assert_eq!(w.gitlab.issues()[0].description, issue.description);

    // The set changes: exactly one comment, the description rewritten.
    w.update_app(|a| a["status"]["health"]["status"] = json!("Degraded"));
    w.gitlab.clear_log();
    ok(&w.drift(&[]));
    let changed = &w.gitlab.issues()[0];
    assert_eq!(changed.notes.len(), 1, "{:?}", changed.notes);
    assert!(
        changed.notes[0].contains("is now **degraded**"),
        "{:?}",
        changed.notes
    );
    assert!(changed.description.starts_with("**`prod` is degraded**"));
    assert_eq!(writes(&w).len(), 2, "{:?}", writes(&w));

    // Converged again: a closing comment, closed.
    w.update_app(|a| {
        a["status"]["sync"]["status"] = json!("Synced");
        a["status"]["resources"][0]["status"] = json!("Synced");
        a["status"]["health"]["status"] = json!("Healthy");
    });
    ok(&w.drift(&[]));
    let closed = &w.gitlab.issues()[0];
    assert_eq!(closed.state, "closed");
    assert_eq!(closed.notes.len(), 2);
    assert!(
        closed.notes[1].contains("converged again") && closed.notes[1].contains("it was degraded"),
        "{}",
        closed.notes[1]
    );
    // Converged and closed: nothing to write.
    w.gitlab.clear_log();
    ok(&w.drift(&[]));
    assert_eq!(writes(&w), Vec::<String>::new());

    // Drifted again: the same issue reopened, with a comment.
    out_of_sync(&w);
    ok(&w.drift(&[]));
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "the same issue is reused");
    assert_eq!(issues[0].state, "opened");
    assert_eq!(issues[0].notes.len(), 3);
    assert!(issues[0].notes[2].contains("is now **drifted**"));
    assert!(issues[0].description.starts_with("**`prod` is drifted**"));
}

#[test]
fn a_plain_issue_outside_production_and_dry_run_writes_nothing() {
    let w = world(ISSUE_CONFIG);
    w.update_kustomization(|k| {
        k["status"]["conditions"] = json!([ready("False", "BuildFailed")]);
    });
    let run = w.drift(&["--dry-run"]);
    ok(&run);
    assert!(
        run.stdout.contains("dry run: prod: no change\n")
            && run
                .stdout
                .contains("dry run: staging: create issue (degraded)\n"),
        "{}",
        run.stdout
    );
    assert_eq!(writes(&w), Vec::<String>::new());
    assert!(w.gitlab.issues().is_empty());

    ok(&w.drift(&[]));
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].issue_type, "issue");
    assert_eq!(issues[0].labels, ["gitops-bot::drift", "env::staging"]);
}

#[test]
fn a_failed_issue_search_fails_the_run_and_creates_nothing() {
    let w = world(ISSUE_CONFIG);
    out_of_sync(&w);
    w.gitlab
        .inject(Rule::new("GET", "/issues", Fault::status(500)).always());
    let run = w.drift(&[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("cannot search the drift issue of prod"),
        "{}",
        run.stderr
    );
    assert!(w.gitlab.issues().is_empty());
    assert_eq!(writes(&w), Vec::<String>::new());
}

#[test]
fn of_two_issues_with_the_marker_the_oldest_is_used_and_the_log_says_so() {
    let w = world(ISSUE_CONFIG);
    out_of_sync(&w);
    ok(&w.drift(&["--environment", "prod"]));
    let description = w.gitlab.issues()[0].description.clone();
    // A copy of the issue (someone duplicated it), and an issue with the labels but no marker.
    let copy = w
        .gitlab
        .add_issue(&description, &["gitops-bot::drift", "env::prod"]);
    w.gitlab
        .add_issue("by hand", &["gitops-bot::drift", "env::prod"]);
    w.update_app(|a| a["status"]["health"]["status"] = json!("Degraded"));
    let run = w.drift(&["--environment", "prod"]);
    ok(&run);
    assert!(
        run.stderr.contains("several issues carry the drift marker")
            && run.stderr.contains(&format!("[{copy}]")),
        "{}",
        run.stderr
    );
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 3, "no new issue");
    assert_eq!(issues[0].notes.len(), 1, "the oldest is updated");
    assert!(issues[1].notes.is_empty() && issues[2].notes.is_empty());
    assert_eq!(issues[1].description, description);
}

// Direct apply: the rendered directory against the live objects.

/// web: a directory applied directly into namespace hello.
const APPLY_CONFIG: &str = "operators: [operator]\nenvironments:\n  web:\n    apply: [deploy/web]\n    namespace: hello\ndrift:\n  confirm: 0s\n";
/// What Git holds: a ConfigMap, a Deployment and a Secret (by `stringData`).
const APPLY_DIR: &str = "deploy/web/app.yaml";
const APPLY_YAML: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  level: info\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com/web:1.0.0\n        ports: [{containerPort: 8080}]\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  password: hunter2-in-git\n  user: admin\n";
/// The Secret's values, as Git has them and as the cluster will have them after a change.
const SECRET_VALUES: &[&str] = &[
    "hunter2-in-git",
    "aHVudGVyMi1pbi1naXQ=",
    "swordfish-live",
    "c3dvcmRmaXNoLWxpdmU=",
];

/// [`APPLY_YAML`] as the API server returns it after the apply: with its namespace, server
/// fields, defaults and a status.
fn applied_objects() -> Vec<Value> {
    let meta = |name: &str| json!({"name": name, "namespace": "hello", "uid": format!("uid-{name}"), "creationTimestamp": "2026-11-27T10:00:00Z", "managedFields": [{"manager": "gitops-bot", "operation": "Apply"}]});
    let mut deployment_meta = meta("web");
    deployment_meta["labels"] = json!({"app": "web"});
    deployment_meta["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
    vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("web-config"), "data": {"level": "info"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": deployment_meta,
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "strategy": {"type": "RollingUpdate"},
                        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                            {"name": "web", "image": "registry.example.com/web:1.0.0", "imagePullPolicy": "IfNotPresent",
                             "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}}},
               "status": {"replicas": 2, "readyReplicas": 2}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("db"), "type": "Opaque",
               "data": {"password": "aHVudGVyMi1pbi1naXQ=", "user": "YWRtaW4="}}),
    ]
}

/// A config repo with [`APPLY_DIR`] and `config`, and a cluster where it is applied.
fn apply_world(config: &str) -> World {
    let w = world_with(config, &[(APPLY_DIR, APPLY_YAML)]);
    for object in applied_objects() {
        w.kube.put(object);
    }
    w.kube.clear_requests();
    w
}

impl World {
    fn update_deployment(&self, f: impl FnOnce(&mut Value)) {
        self.kube
            .update("apps/v1", "Deployment", Some("hello"), "web", f);
    }

    /// Every request to the fake cluster, as `METHOD path?query`.
    fn kube_log(&self) -> Vec<String> {
        self.kube
            .requests()
            .iter()
            .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
            .collect()
    }
}

#[test]
fn a_converged_direct_apply_directory_is_read_with_one_list_per_kind_and_no_write() {
    let w = apply_world(APPLY_CONFIG);
    let run = w.drift(&["--fail-on-drift"]);
    ok(&run);
    assert_eq!(
        run.stdout,
        format!("web: converged (head {}, live -)\n", &w.head[..12])
    );
    let log = w.kube_log();
    assert!(
        log.iter().all(|r| r.starts_with("GET ")),
        "drift only reads: {log:?}"
    );
    let reads: Vec<&String> = log
        .iter()
        .filter(|r| r.contains("/namespaces/hello/"))
        .collect();
    assert_eq!(
        reads,
        [
            "GET /api/v1/namespaces/hello/configmaps?",
            "GET /apis/apps/v1/namespaces/hello/deployments?",
            "GET /api/v1/namespaces/hello/secrets?",
        ],
        "one list per kind and namespace, no get per object"
    );
    assert!(w.gitlab.issues().is_empty(), "no issue for converged");
    assert_eq!(writes(&w), Vec::<String>::new());
}

#[test]
fn a_changed_live_field_is_confirmed_drift_with_one_issue_naming_object_and_path() {
    let w = apply_world(APPLY_CONFIG);
    w.update_deployment(|d| {
        d["spec"]["replicas"] = json!(5);
        d["metadata"]["labels"]["team"] = json!("extra live labels are not drift");
    });
    w.kube
        .delete("v1", "ConfigMap", Some("hello"), "web-config");
    let report = w.json(&["--dry-run"]);
    assert_eq!(w.state_of(&report, "web"), "drifted");
    assert_eq!(
        report["environments"][0]["objects"],
        json!([
            {"kind": "ConfigMap", "namespace": "hello", "name": "web-config", "state": "drifted",
             "reason": "missing from the cluster"},
            {"kind": "Deployment", "namespace": "hello", "name": "web", "state": "drifted",
             "reason": "differs at /spec/replicas",
             "differences": [{"path": "/spec/replicas", "git": "2", "live": "5"}]},
        ])
    );
    assert!(w.gitlab.issues().is_empty(), "--dry-run writes nothing");
    assert!(
        w.kube_log().iter().all(|r| r.starts_with("GET ")),
        "drift only reads the cluster: {:?}",
        w.kube_log()
    );

    ok(&w.drift(&[]));
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let d = &issues[0].description;
    assert!(d.starts_with("**`web` is drifted** since "), "{d}");
    assert!(
        d.contains("| Deployment | `hello/web` | drifted | `differs at /spec/replicas` |"),
        "{d}"
    );
    assert!(
        d.contains("| ConfigMap | `hello/web-config` | drifted | `missing from the cluster` |"),
        "{d}"
    );
    assert!(
        d.contains("Deployment `hello/web`:\n\n```diff\n@@ /spec/replicas @@\n- 2\n+ 5\n```\n"),
        "a diff of the differing path only: {d}"
    );
    // A rerun that sees the same writes nothing, even when a value moves on.
    w.update_deployment(|d| d["spec"]["replicas"] = json!(6));
    w.gitlab.clear_log();
    ok(&w.drift(&[]));
    assert_eq!(writes(&w), Vec::<String>::new());

    // Another path differing is a change: one comment, the description rewritten.
    w.update_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!("registry.example.com/web:6.6.6");
    });
    ok(&w.drift(&[]));
    let issue = &w.gitlab.issues()[0];
    assert_eq!(issue.notes.len(), 1, "{:?}", issue.notes);
    assert!(
        issue.description.contains(
            "@@ /spec/template/spec/containers/0/image @@\n- \"registry.example.com/web:1.0.0\"\n+ \"registry.example.com/web:6.6.6\"\n"
        ),
        "{}",
        issue.description
    );
}

#[test]
fn a_direct_apply_kind_the_bot_may_not_list_is_unknown() {
    let w = apply_world(APPLY_CONFIG);
    w.kube.forbid("list", "", "secrets", Some("hello"));
    let run = w.drift(&["--fail-on-drift"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("web: unknown "), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("  unknown Apply deploy/web: list secrets in namespace hello: 403 Forbidden")
            && run.stdout.contains("verbs: [\"list\", \"watch\"]"),
        "the reason names the denial and the rule to add: {}",
        run.stdout
    );
    assert!(w.kube_log().iter().all(|r| r.starts_with("GET ")));
}

#[test]
fn a_direct_apply_path_that_does_not_render_is_unknown() {
    let w = apply_world(&APPLY_CONFIG.replace("deploy/web", "deploy/nothing-here"));
    let run = w.drift(&[]);
    ok(&run);
    assert_eq!(
        run.stdout,
        format!(
            "web: unknown (head {short}, live -)\n  unknown Apply deploy/nothing-here: deploy/nothing-here does not exist at {short}\n",
            short = &w.head[..12]
        )
    );
}

#[test]
fn a_changed_secret_value_is_named_by_its_key_and_never_shown() {
    let w = apply_world(APPLY_CONFIG);
    w.kube.update("v1", "Secret", Some("hello"), "db", |s| {
        s["data"]["password"] = json!("c3dvcmRmaXNoLWxpdmU=");
    });
    let report = w.json(&["--dry-run"]);
    assert_eq!(
        report["environments"][0]["objects"],
        json!([{"kind": "Secret", "namespace": "hello", "name": "db", "state": "drifted",
                "reason": "differs at /data/password",
                "differences": [{"path": "/data/password", "git": null, "live": null, "masked": true}]}])
    );
    // Every output: text and JSON on stdout, the log at trace level, the issue.
    let mut outputs = Vec::new();
    for args in [&["--output", "json"][..], &[][..]] {
        let mut cmd = w.command(args);
        cmd.env("RUST_LOG", "trace");
        let run = common::run_without_leaking(cmd, w.gitlab.token());
        ok(&run);
        outputs.push(run.stdout);
        outputs.push(run.stderr);
    }
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0]
            .description
            .contains("Secret `hello/db`:\n\n```diff\n@@ /data/password @@ differs (a Secret: values are not shown)\n```"),
        "{}",
        issues[0].description
    );
    outputs.push(issues[0].description.clone());
    outputs.extend(issues[0].notes.clone());
    assert!(outputs[0].contains("/data/password"), "{}", outputs[0]);
    for text in &outputs {
        for secret in SECRET_VALUES {
            assert!(!text.contains(secret), "{secret} shown in:\n{text}");
        }
    }
}

#[test]
fn an_ignore_rule_hides_a_difference_and_only_that_one() {
    let rules = "  ignore:\n  - paths: [/spec/replicas]\n    target: {group: apps, kind: Deployment, name: web}\n";
    let config = format!("{APPLY_CONFIG}{rules}");
    let w = apply_world(&config);
    w.update_deployment(|d| d["spec"]["replicas"] = json!(7));
    let run = w.drift(&["--fail-on-drift"]);
    ok(&run);
    assert!(run.stdout.starts_with("web: converged "), "{}", run.stdout);

    // The rule skips that path, not the object.
    w.update_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!("registry.example.com/web:6.6.6");
    });
    let report = w.json(&["--dry-run"]);
    assert_eq!(
        report["environments"][0]["objects"][0]["reason"],
        "differs at /spec/template/spec/containers/0/image"
    );
    // A rule for another object does not apply.
    let w = apply_world(&config.replace("name: web}", "name: api}"));
    w.update_deployment(|d| d["spec"]["replicas"] = json!(7));
    assert_eq!(w.state_of(&w.json(&["--dry-run"]), "web"), "drifted");
}

#[test]
fn a_bad_ignore_rule_names_the_file_line_and_column() {
    let w = apply_world(&format!(
        "{APPLY_CONFIG}  ignore:\n  - paths: [spec/replicas]\n"
    ));
    let run = w.drift(&[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains(".gitops-bot.yaml:9:12: drift.ignore[0].paths: ")
            && run
                .stderr
                .contains("\"spec/replicas\" is not a JSON pointer"),
        "{}",
        run.stderr
    );
}

const ALERT_TOKEN: &str = "alert-token-s3cr3t-7f2c";

impl World {
    /// `drift` with `--alert-url` to `hook` and the alert token in the environment; fails if
    /// the alert token (or the GitLab token) shows in stdout or stderr.
    fn drift_alerting(&self, hook: &FakeWebhook, args: &[&str]) -> Run {
        let url = hook.url();
        let mut all = vec!["--alert-url", url.as_str()];
        all.extend_from_slice(args);
        let mut cmd = self.command(&all);
        cmd.env("GITOPS_BOT_ALERT_TOKEN", ALERT_TOKEN);
        let run = common::run_without_leaking(cmd, self.gitlab.token());
        assert!(
            !run.stdout.contains(ALERT_TOKEN) && !run.stderr.contains(ALERT_TOKEN),
            "the alert token leaked:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        run
    }
}

#[test]
fn alerts_on_confirmation_not_on_rerun_and_resolve_on_convergence() {
    let w = world(ISSUE_CONFIG);
    let hook = FakeWebhook::start();
    ok(&w.drift_alerting(&hook, &[]));
    assert!(hook.requests().is_empty(), "converged: no alert");

    // Confirmed drift: one alert, with the token, fired from the issue's `since`; the
    // issue's creation is the only write.
    out_of_sync(&w);
    w.gitlab.clear_log();
    ok(&w.drift_alerting(&hook, &[]));
    assert_eq!(writes(&w).len(), 1, "{:?}", writes(&w));
    let sent = hook.requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let first = &sent[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/alerts/notify/drift/1.json");
    assert_eq!(
        first.header("authorization"),
        Some(format!("Bearer {ALERT_TOKEN}").as_str())
    );
    assert_eq!(first.header("content-type"), Some("application/json"));
    let body = &first.body;
    assert_eq!(body["fingerprint"], format!("{PROJECT}/prod"));
    assert_eq!(body["title"], "Drift: prod is drifted");
    assert_eq!(body["gitlab_environment_name"], "prod");
    assert_eq!(body["service"], PROJECT);
    assert_eq!(body["monitoring_tool"], "gitops-bot");
    assert_eq!(body["severity"], "medium");
    assert_eq!(
        body["hosts"],
        json!([
            "Application argocd/helloworld",
            "Deployment hello/helloworld"
        ])
    );
    assert!(body["start_time"].is_string(), "{body}");
    assert!(body.get("end_time").is_none(), "{body}");

    // A rerun that sees the same: no alert, no write.
    w.gitlab.clear_log();
    ok(&w.drift_alerting(&hook, &[]));
    assert_eq!(hook.requests().len(), 1);
    assert_eq!(writes(&w), Vec::<String>::new());

    // Converged again: one alert with end_time, same fingerprint.
    w.update_app(|a| {
        a["status"]["sync"]["status"] = json!("Synced");
        a["status"]["resources"][0]["status"] = json!("Synced");
    });
    ok(&w.drift_alerting(&hook, &[]));
    let sent = hook.requests();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let resolved = &sent[1].body;
    assert_eq!(resolved["fingerprint"], format!("{PROJECT}/prod"));
    assert_eq!(resolved["title"], "Drift: prod is converged again");
    assert!(resolved["end_time"].is_string(), "{resolved}");
    assert_eq!(w.gitlab.issues()[0].state, "closed");

    // Converged and closed: nothing more.
    ok(&w.drift_alerting(&hook, &[]));
    assert_eq!(hook.requests().len(), 2);
}

#[test]
fn a_failed_alert_is_reported_and_exits_1_but_the_issue_is_written() {
    let w = world(ISSUE_CONFIG);
    let hook = FakeWebhook::start();
    hook.answer(500);
    out_of_sync(&w);
    let run = w.drift_alerting(&hook, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("the alert of prod was not delivered") && run.stderr.contains("500"),
        "{}",
        run.stderr
    );
    assert_eq!(hook.requests().len(), 1);
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "the issue stays written: {issues:?}");
    assert_eq!(issues[0].state, "opened");
}

#[test]
fn an_undelivered_alert_is_sent_again_by_the_next_run_then_never_again() {
    let w = world(ISSUE_CONFIG);
    let hook = FakeWebhook::start();
    let issue_path = "/api/v4/projects/group%2Fhelloworld-ops/issues";

    // The endpoint fails once: the run exits 1, the issue is written, and its record is
    // corrected to say the alert is owed (one more write, on this path only).
    hook.answer(500);
    out_of_sync(&w);
    w.gitlab.clear_log();
    let run = w.drift_alerting(&hook, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("the alert of prod was not delivered: ")
            && run.stderr.contains("the next run sends it again"),
        "{}",
        run.stderr
    );
    assert_eq!(
        writes(&w),
        [format!("POST {issue_path}"), format!("PUT {issue_path}/1")]
    );
    let failed = hook.requests();
    assert_eq!(failed.len(), 1);
    assert!(
        w.gitlab.issues()[0]
            .description
            .contains("\"alert_undelivered\":true"),
        "{}",
        w.gitlab.issues()[0].description
    );

    // Still failing: the rerun tries again, fails again, and writes nothing (still owed).
    w.gitlab.clear_log();
    let run = w.drift_alerting(&hook, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("the alert of prod is still not delivered: "),
        "{}",
        run.stderr
    );
    assert_eq!(writes(&w), Vec::<String>::new());
    assert_eq!(hook.requests().len(), 2);

    // It says so in a dry run, and sends nothing.
    hook.answer(202);
    let run = w.drift_alerting(&hook, &["--dry-run"]);
    ok(&run);
    assert!(
        run.stdout
            .contains("dry run: prod: no change, post the undelivered alert again\n"),
        "{}",
        run.stdout
    );
    assert_eq!(hook.requests().len(), 2);

    // The endpoint is back: the rerun sees the same drift and sends the alert it owes, then
    // records the delivery.
    w.gitlab.clear_log();
    ok(&w.drift_alerting(&hook, &[]));
    let sent = hook.requests();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[2].body, failed[0].body, "the same alert again");
    assert_eq!(writes(&w), [format!("PUT {issue_path}/1")]);
    let issue = &w.gitlab.issues()[0];
    assert!(!issue.description.contains("alert_undelivered"));
    assert!(issue.notes.is_empty(), "{:?}", issue.notes);

    // Delivered: a rerun that sees the same sends and writes nothing.
    w.gitlab.clear_log();
    ok(&w.drift_alerting(&hook, &[]));
    assert_eq!(hook.requests().len(), 3);
    assert_eq!(writes(&w), Vec::<String>::new());

    // The same for the resolution: it fails, the issue is closed all the same, and the
    // next run resolves the alert.
    w.update_app(|a| {
        a["status"]["sync"]["status"] = json!("Synced");
        a["status"]["resources"][0]["status"] = json!("Synced");
    });
    hook.answer(503);
    let run = w.drift_alerting(&hook, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(hook.requests().len(), 4);
    assert_eq!(w.gitlab.issues()[0].state, "closed");
    hook.answer(202);
    ok(&w.drift_alerting(&hook, &[]));
    let sent = hook.requests();
    assert_eq!(sent.len(), 5, "{sent:?}");
    assert_eq!(sent[4].body["title"], "Drift: prod is converged again");
    assert!(sent[4].body["end_time"].is_string(), "{}", sent[4].body);
    w.gitlab.clear_log();
    ok(&w.drift_alerting(&hook, &[]));
    assert_eq!(hook.requests().len(), 5);
    assert_eq!(writes(&w), Vec::<String>::new());
    let closed = &w.gitlab.issues()[0];
    assert_eq!(closed.state, "closed");
    assert_eq!(
        closed.notes.len(),
        1,
        "one closing note: {:?}",
        closed.notes
    );
}

#[test]
fn dry_run_with_an_alert_url_posts_nothing_and_says_it_would() {
    let w = world(ISSUE_CONFIG);
    let hook = FakeWebhook::start();
    out_of_sync(&w);
    let run = w.drift_alerting(&hook, &["--dry-run"]);
    ok(&run);
    assert!(
        run.stdout
            .contains("dry run: prod: create issue (drifted), post an alert\n"),
        "{}",
        run.stdout
    );
    assert!(hook.requests().is_empty());
}

#[test]
fn only_http_and_https_alert_urls() {
    let w = world(ISSUE_CONFIG);
    let run = common::run_without_leaking(
        w.command(&["--alert-url", "ftp://127.0.0.1/x"]),
        w.gitlab.token(),
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("only http and https"), "{}", run.stderr);
    assert!(w.gitlab.issues().is_empty());
}

// `--deep`: direct-apply objects against the server's dry-run apply.

impl World {
    /// The requests to the fake cluster that are not reads, as `METHOD path?query`.
    fn kube_non_reads(&self) -> Vec<String> {
        self.kube_log()
            .into_iter()
            .filter(|r| !r.starts_with("GET "))
            .collect()
    }
}

/// The API server's defaults for what [`APPLY_YAML`]'s Deployment omits (the live object of
/// [`applied_objects`] has them): the fake cluster does no defaulting of its own.
fn deployment_defaults(d: &mut Value) {
    if let Some(containers) = d
        .pointer_mut("/spec/template/spec/containers")
        .and_then(Value::as_array_mut)
    {
        for c in containers {
            if c.get("imagePullPolicy").is_none() {
                c["imagePullPolicy"] = json!("IfNotPresent");
            }
            for port in c["ports"].as_array_mut().into_iter().flatten() {
                if port.get("protocol").is_none() {
                    port["protocol"] = json!("TCP");
                }
            }
        }
    }
}

/// [`apply_world`] whose cluster defaults Deployments as a real API server would.
fn deep_world(config: &str) -> World {
    let w = apply_world(config);
    w.kube
        .mutate_on_admission("apps/v1", "Deployment", deployment_defaults);
    w
}

/// A registry-mirror policy, as a mutating webhook (Kyverno and the like) applies it: every
/// Deployment's image from `registry.example.com/` is pulled from `mirror.example.com/`.
fn mirror_images(d: &mut Value) {
    if let Some(containers) = d
        .pointer_mut("/spec/template/spec/containers")
        .and_then(Value::as_array_mut)
    {
        for c in containers {
            if let Some(image) = c["image"].as_str()
                && let Some(rest) = image.strip_prefix("registry.example.com/")
            {
                c["image"] = json!(format!("mirror.example.com/{rest}"));
            }
        }
    }
}

#[test]
fn deep_compares_with_the_servers_dry_run_and_sends_only_dry_run_apply_patches() {
    let w = deep_world(APPLY_CONFIG);
    // The webhook mutated the live Deployment when it was applied, and mutates every dry run.
    w.kube
        .mutate_on_admission("apps/v1", "Deployment", mirror_images);
    w.update_deployment(mirror_images);
    w.kube.clear_requests();

    // Without --deep, the mutated field Git sets looks like drift.
    let report = w.json(&["--dry-run"]);
    assert_eq!(
        report["environments"][0]["objects"][0]["reason"],
        "differs at /spec/template/spec/containers/0/image",
        "{report}"
    );
    assert_eq!(w.kube_non_reads(), Vec::<String>::new(), "reads only");

    // With --deep the server's answer carries the webhook's change: converged.
    let stored_before = w.kube.resource_version();
    let objects_before: Vec<Value> = ["ConfigMap", "Secret"]
        .iter()
        .flat_map(|k| w.kube.list("v1", k, Some("hello")))
        .chain(w.kube.list("apps/v1", "Deployment", Some("hello")))
        .collect();
    w.kube.clear_requests();
    let run = w.drift(&["--deep", "--fail-on-drift"]);
    ok(&run);
    assert_eq!(
        run.stdout,
        format!("web: converged (head {}, live -)\n", &w.head[..12])
    );
    // The only non-read requests: one dry-run server-side apply per object, as `sync`
    // applies it (field manager gitops-bot, force).
    let patches: Vec<_> = w
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert_eq!(
        patches.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        [
            "/api/v1/namespaces/hello/configmaps/web-config",
            "/apis/apps/v1/namespaces/hello/deployments/web",
            "/api/v1/namespaces/hello/secrets/db",
        ]
    );
    for p in &patches {
        assert_eq!(p.method, "PATCH", "{p:?}");
        assert_eq!(
            p.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
        assert_eq!(p.param("dryRun").as_deref(), Some("All"), "{p:?}");
        assert_eq!(p.param("fieldManager").as_deref(), Some("gitops-bot"));
        assert_eq!(p.param("force").as_deref(), Some("true"));
        assert_eq!(p.status, 200);
    }
    // Nothing was stored.
    assert_eq!(w.kube.resource_version(), stored_before);
    let objects_after: Vec<Value> = ["ConfigMap", "Secret"]
        .iter()
        .flat_map(|k| w.kube.list("v1", k, Some("hello")))
        .chain(w.kube.list("apps/v1", "Deployment", Some("hello")))
        .collect();
    assert_eq!(objects_after, objects_before);

    // A real difference is still drift, Git's value (as applied) against the live one.
    w.update_deployment(|d| d["spec"]["replicas"] = json!(5));
    let report = w.json(&["--deep", "--dry-run"]);
    assert_eq!(
        report["environments"][0]["objects"],
        json!([{"kind": "Deployment", "namespace": "hello", "name": "web", "state": "drifted",
                "reason": "differs at /spec/replicas",
                "differences": [{"path": "/spec/replicas", "git": "2", "live": "5"}]}])
    );
}

#[test]
fn deep_names_a_changed_secret_key_and_never_its_value() {
    let w = deep_world(APPLY_CONFIG);
    w.kube.update("v1", "Secret", Some("hello"), "db", |s| {
        s["data"]["password"] = json!("c3dvcmRmaXNoLWxpdmU=");
    });
    // The run that confirms it writes the issue and posts an alert; a traced rerun follows.
    let hook = FakeWebhook::start();
    let alerted = w.drift_alerting(&hook, &["--deep"]);
    ok(&alerted);
    let sent = hook.requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let alert = sent[0].body.to_string();
    assert!(alert.contains("/data/password"), "{alert}");
    let mut cmd = w.command(&["--deep", "--output", "json"]);
    cmd.env("RUST_LOG", "trace");
    let run = common::run_without_leaking(cmd, w.gitlab.token());
    ok(&run);
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report["environments"][0]["objects"],
        json!([{"kind": "Secret", "namespace": "hello", "name": "db", "state": "drifted",
                "reason": "differs at /data/password",
                "differences": [{"path": "/data/password", "git": null, "live": null, "masked": true}]}])
    );
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    for text in [
        &alerted.stdout,
        &alerted.stderr,
        &alert,
        &run.stdout,
        &run.stderr,
        &issues[0].description,
    ] {
        for secret in SECRET_VALUES {
            assert!(!text.contains(secret), "{secret} shown in:\n{text}");
        }
    }
}

#[test]
fn deep_help_says_it_needs_patch() {
    let run = common::run_without_leaking(
        common::bot_command("http://127.0.0.1:9", "unused", &["drift", "--help"]),
        "unused",
    );
    ok(&run);
    let help = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("--deep")
            && help.contains("it needs the `patch` verb on those kinds")
            && help.contains("deploy/rbac/drift/deep/"),
        "{}",
        run.stdout
    );
}

#[test]
fn deep_without_patch_is_unknown_naming_the_verb() {
    let w = deep_world(APPLY_CONFIG);
    w.kube.forbid("patch", "apps", "deployments", Some("hello"));
    // Reads are allowed: without --deep the directory is converged.
    let run = w.drift(&["--fail-on-drift"]);
    ok(&run);
    let run = w.drift(&["--deep", "--fail-on-drift"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("web: unknown "), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "  unknown Apply deploy/web: server-side dry run (--deep): patch deployments.apps \"web\" in namespace hello: 403 Forbidden"
        ) && run.stdout.contains("verbs: [\"patch\"]"),
        "the reason names the denied verb and the rule to add: {}",
        run.stdout
    );
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "unknown is reported: {issues:?}");
    assert!(
        issues[0].description.starts_with("**`web` is unknown**"),
        "{}",
        issues[0].description
    );
}

#[test]
fn ignore_rule_targets_are_anchored_regular_expressions() {
    let rule = |target: &str| {
        format!("{APPLY_CONFIG}  ignore:\n  - paths: [/spec/replicas]\n    target:\n{target}")
    };
    let selects = |target: &str| {
        let w = apply_world(&rule(target));
        w.update_deployment(|d| d["spec"]["replicas"] = json!(7));
        w.state_of(&w.json(&["--dry-run"]), "web") == "converged"
    };
    assert!(selects(
        "      kind: 'Deploy.*|StatefulSet'\n      name: 'w[a-z]b'\n"
    ));
    assert!(selects(
        "      group: 'apps|batch'\n      namespace: hel.*\n"
    ));
    // Anchored: a part of the value does not select it.
    assert!(!selects("      name: we\n"));
    assert!(!selects("      kind: Deploy\n"));
    assert!(!selects("      namespace: 'hell|o'\n"));

    let w = apply_world(&rule("      kind: Deployment\n      name: 'web-[0-9'\n"));
    let run = w.drift(&[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            ".gitops-bot.yaml:12:13: drift.ignore[0].target: \"web-[0-9\" is not a regular expression (unclosed character class)"
        ),
        "{}",
        run.stderr
    );
    assert!(w.kube.requests().is_empty(), "nothing observed");
}

// Audit of issue 12's "Done when": what the other tests did not show.

/// Points `branch` at a new commit of `main`'s tree on top of `main`, committed `ago` in
/// the past; returns its SHA.
fn dated_commit(w: &World, branch: &str, ago: Duration) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let date = format!("{} +0000", (now - ago).as_secs());
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(w.gitlab.repo_dir())
            .args(args)
            .env("GIT_AUTHOR_NAME", "ops")
            .env("GIT_AUTHOR_EMAIL", "ops@example.com")
            .env("GIT_COMMITTER_NAME", "ops")
            .env("GIT_COMMITTER_EMAIL", "ops@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let sha = git(&[
        "commit-tree",
        "main^{tree}",
        "-p",
        "main",
        "-m",
        "an older commit",
    ]);
    git(&["update-ref", &format!("refs/heads/{branch}"), &sha]);
    sha
}

/// Makes the head of `main` a new commit committed `ago` in the past (pushed now).
fn dated_head(w: &World, ago: Duration) -> String {
    dated_commit(w, "main", ago)
}

#[test]
fn behind_counts_the_default_grace_from_the_head_commits_date() {
    let w = world(CONFIG);
    let deployed = w.head.clone();
    // Committed 5 minutes ago: within the default 10m grace, the app may still catch up.
    let head = dated_head(&w, Duration::from_secs(5 * 60));
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(report["environments"][0]["head_revision"], head.as_str());
    assert_eq!(w.state_of(&report, "prod"), "converged", "{report}");
    assert_eq!(
        report["environments"][0]["live_revision"],
        deployed.as_str()
    );
    assert!(w.gitlab.issues().is_empty());

    // Committed 11 minutes ago: the grace is over.
    let head = dated_head(&w, Duration::from_secs(11 * 60));
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&report, "prod"), "behind", "{report}");
    let reason = report["environments"][0]["objects"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.starts_with(&format!(
            "at {deployed}, not at the head {} of the default branch (committed 11 min",
            &head[..12]
        )),
        "{reason}"
    );
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "behind is reported: {issues:?}");
}

#[test]
fn the_controllers_own_ignore_rules_are_honoured() {
    // Argo CD compares with its `ignoreDifferences`, helm-controller with its
    // `driftDetection.ignore`: the bot reads their verdicts and compares nothing again.
    let config = "environments:\n  prod:\n    argocd_apps: [argocd/helloworld]\n    flux: [HelmRelease/flux-system/web]\ndrift:\n  confirm: 0s\n";
    let w = world(config);
    w.update_app(|a| {
        a["spec"]["ignoreDifferences"] =
            json!([{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]);
    });
    w.kube.put(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "flux-system", "generation": 1},
        "spec": {
            "chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
            "driftDetection": {"mode": "enabled", "ignore": [
                {"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}]},
        },
        "status": {
            "observedGeneration": 1,
            "lastAttemptedRevision": "1.2.0",
            "conditions": [ready("True", "UpgradeSucceeded")],
        },
    }));
    // The live Deployments differ from Git exactly where those rules say not to look.
    for (ns, name) in [("hello", "helloworld"), ("web", "web")] {
        w.kube
            .put(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 9, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": "web:1"}]}}}}));
    }
    w.kube.clear_requests();
    let run = w.drift(&["--fail-on-drift"]);
    ok(&run);
    assert!(run.stdout.starts_with("prod: converged "), "{}", run.stdout);
    let log = w.kube_log();
    assert!(
        log.iter().all(|r| !r.contains("/deployments")),
        "the controllers' objects are not compared again: {log:?}"
    );
    assert!(w.gitlab.issues().is_empty());
}

#[test]
fn the_grace_counts_from_the_merge_that_fast_forwarded_an_older_commit() {
    let seed = common::prod_only_repo();
    common::write(seed.path(), ".gitops-bot.yaml", CONFIG);
    let gitlab = FakeGitlab::start(GitlabOptions {
        seed_dir: Some(seed.path().to_path_buf()),
        merge_method: "ff".into(),
        ..GitlabOptions::default()
    });
    let deployed = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    let kube = FakeKube::start(KubeOptions::default());
    kube.put(app("Synced", &deployed, "Healthy"));
    let w = World {
        gitlab,
        kube,
        head: deployed.clone(),
        _seed: seed,
    };
    // A commit made 30 minutes ago, merged just now by fast-forward: its date stays old.
    let old = dated_commit(&w, "bump", Duration::from_secs(30 * 60));
    let http = reqwest::blocking::Client::new();
    let mrs = format!(
        "{}/projects/group%2Fhelloworld-ops/merge_requests",
        w.gitlab.api_url()
    );
    let created: Value = http
        .post(&mrs)
        .header("PRIVATE-TOKEN", w.gitlab.token())
        .json(&json!({"source_branch": "bump", "target_branch": "main", "title": "Bump"}))
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .unwrap();
    let iid = created["iid"].as_u64().unwrap_or_default();
    http.put(format!("{mrs}/{iid}/merge"))
        .header("PRIVATE-TOKEN", w.gitlab.token())
        .json(&json!({"sha": old}))
        .send()
        .and_then(|r| r.error_for_status())
        .unwrap();
    assert_eq!(w.gitlab.branch_head("main").as_deref(), Some(old.as_str()));

    // Within the default 10m grace of the merge: Argo CD may still be on its way.
    let report = w.json(&["--environment", "prod"]);
    assert_eq!(w.state_of(&report, "prod"), "converged", "{report}");
    assert_eq!(
        report["environments"][0]["live_revision"],
        deployed.as_str()
    );

    // When the merge requests cannot be read, the commit's date counts: behind (fail closed).
    w.gitlab
        .inject(Rule::new("GET", "/repository/commits/", Fault::status(500)).always());
    let run = w.drift(&["--environment", "prod", "--output", "json"]);
    ok(&run);
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.state_of(&report, "prod"), "behind", "{report}");
    assert!(
        run.stderr
            .contains("cannot read the merge requests of the head commit"),
        "{}",
        run.stderr
    );
}
