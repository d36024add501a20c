//! Issue 13 end to end, through the real binary against the fake GitLab and the fake
//! Kubernetes API (Argo CD Applications moved by controller threads): a new pair of images
//! goes from dev to prod. dev auto-deploys and turns healthy; staging's promotion is opened
//! in the same `sync`; the operator deploys it and staging turns healthy; prod waits for its
//! soak, then `promote` proposes it; prod fails, is rolled back and held; `unhold` lifts it.

use crate::common::{self, Run};
use crate::fake_gitlab::{DEVELOPER, FakeGitlab, Options};
use crate::fake_kube::{FakeKube, Options as KubeOptions};
use crate::mr_thread::{OPERATOR, latest_mr, mr, poll, replies};

use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

const PROJECT: &str = "group/helloworld-ops";
const ARGO: &str = "argoproj.io/v1alpha1";
const API: &str = "registry.example.com/team/api";
const WEB: &str = "registry.example.com/team/web";
/// prod's own operator (not a top-level one).
const OPS_LEAD: u64 = 6;
const PATIENCE: Duration = Duration::from_secs(30);

const CONFIG: &str = "\
operators: [operator]
environments:
  dev:
    paths: [envs/dev]
    argocd_apps: [argocd/shop-dev]
    auto_deploy: true
  staging:
    paths: [envs/staging]
    argocd_apps: [argocd/shop-staging]
    promote_from: dev
  prod:
    paths: [envs/prod]
    argocd_apps: [argocd/shop]
    tier: production
    promote_from: staging
    soak: 30m
    operators: [ops-lead]
";

/// A kustomize overlay setting api and web to these tags.
fn overlay(api: &str, web: &str) -> String {
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\nimages:\n  - name: {API}\n    newTag: {api}\n  - name: {WEB}\n    newTag: {web}\n"
    )
}

struct World {
    gitlab: FakeGitlab,
    kube: Arc<FakeKube>,
    _seed: tempfile::TempDir,
}

/// Every environment runs api ci-1 and web ci-6, healthy at the seed commit.
fn world() -> World {
    let seed = tempfile::tempdir().unwrap();
    common::write(seed.path(), ".gitops-bot.yaml", CONFIG);
    common::write(
        seed.path(),
        "base/deployment.yaml",
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: {API}:ci-1\n        - name: web\n          image: {WEB}:ci-6\n"
        ),
    );
    common::write(
        seed.path(),
        "base/kustomization.yaml",
        "resources:\n  - deployment.yaml\n",
    );
    for env in ["dev", "staging", "prod"] {
        common::write(
            seed.path(),
            &format!("envs/{env}/kustomization.yaml"),
            overlay("ci-1", "ci-6"),
        );
    }
    let mut opts = Options {
        seed_dir: Some(seed.path().to_path_buf()),
        // The project merges only what passed its pipeline, as a platform team's does.
        only_allow_merge_if_pipeline_succeeds: true,
        ..Options::default()
    };
    opts.users.push((OPS_LEAD, "ops-lead".into()));
    opts.members.push((OPS_LEAD, DEVELOPER));
    let gitlab = FakeGitlab::start(opts);
    let seeded = gitlab.git(&["rev-parse", "main"]).trim().to_string();

    let kube = Arc::new(FakeKube::start(KubeOptions::default()));
    for (app, env) in [
        ("shop-dev", "dev"),
        ("shop-staging", "staging"),
        ("shop", "prod"),
    ] {
        kube.put(json!({
            "apiVersion": ARGO,
            "kind": "Application",
            "metadata": {"name": app, "namespace": "argocd"},
            "spec": {
                "project": "default",
                "source": {"repoURL": "https://gitlab.example.com/group/helloworld-ops.git", "path": format!("envs/{env}"), "targetRevision": "main"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": format!("shop-{env}")},
            },
            "status": {
                "sync": {"status": "Synced", "revision": seeded},
                "health": {"status": "Healthy"},
                "resources": [
                    {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": format!("shop-{env}"), "name": "shop", "status": "Synced", "health": {"status": "Healthy"}},
                ],
            },
        }));
    }
    World {
        gitlab,
        kube,
        _seed: seed,
    }
}

impl World {
    fn bot(&self, args: &[&str]) -> Run {
        let cmd = common::bot_command(&self.gitlab.url(), self.gitlab.token(), args);
        common::run_without_leaking(cmd, self.gitlab.token())
    }

    /// `sync` of main's head with cluster access, while Argo CD moves `app` to that commit
    /// with `health`.
    fn sync(&self, app: &'static str, health: &'static str, extra: &[&str]) -> (String, Run) {
        let commit = self.head();
        let controller = app_controller(&self.kube, app, &commit, health);
        let mut args = vec!["sync", "--project", PROJECT, "--commit", &commit];
        args.extend_from_slice(extra);
        let mut cmd: Command = common::bot_command(&self.gitlab.url(), self.gitlab.token(), &args);
        cmd.env("KUBE_API_URL", self.kube.url())
            .env("KUBE_TOKEN", self.kube.token())
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CA_FILE")
            .env_remove("KUBE_NAMESPACE");
        let run = common::run_without_leaking(cmd, self.gitlab.token());
        controller.join().unwrap();
        (commit, run)
    }

    fn promote(&self) -> Run {
        let run = self.bot(&["promote", "--project", PROJECT]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        run
    }

    fn head(&self) -> String {
        self.gitlab.branch_head("main").unwrap()
    }

    fn file(&self, rev: &str, path: &str) -> String {
        String::from_utf8(self.gitlab.file(rev, path).unwrap()).unwrap()
    }

    /// The number of commits `branch` holds over main.
    fn commits_on(&self, branch: &str) -> String {
        self.gitlab
            .git(&["rev-list", "--count", &format!("main..{branch}")])
            .trim()
            .to_string()
    }

    /// The files the single commit of `branch` changes.
    fn changed_by(&self, branch: &str) -> Vec<String> {
        self.gitlab
            .git(&["diff", "--name-only", &format!("main...{branch}")])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The pipeline of !iid passes; `user` comments `gitops-bot deploy`; `commands` merges it.
    fn deploy(&self, iid: u64, user: u64) {
        self.gitlab.set_pipeline(iid, Some("success"));
        self.gitlab.add_note(iid, user, "gitops-bot deploy");
        poll(&self.gitlab);
        assert_eq!(
            mr(&self.gitlab, iid)["state"],
            "merged",
            "{:?}",
            replies(&self.gitlab, iid)
        );
    }

    /// (environment, sha, status) of every deployment record, oldest first.
    fn records(&self) -> Vec<(String, String, String)> {
        self.gitlab
            .deployments()
            .into_iter()
            .map(|d| (d.environment, d.sha, d.status))
            .collect()
    }
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
        kube.update(ARGO, "Application", Some("argocd"), app, |a: &mut Value| {
            let op = a["operation"].take();
            a.as_object_mut().unwrap().remove("operation");
            a["status"]["operationState"] =
                json!({"phase": "Running", "operation": op, "startedAt": "2026-11-21T10:00:00Z"});
            a["status"]["health"] = json!({"status": "Progressing"});
        });
        kube.update(ARGO, "Application", Some("argocd"), app, |a: &mut Value| {
            a["status"]["sync"] = json!({"status": "Synced", "revision": commit});
            a["status"]["operationState"]["phase"] = json!("Succeeded");
            a["status"]["operationState"]["syncResult"] = json!({"revision": commit});
            a["status"]["health"] = json!({"status": health});
            for r in a["status"]["resources"].as_array_mut().unwrap() {
                r["health"] = json!({"status": health, "message": if health == "Degraded" { "Deployment \"shop\" exceeded its progress deadline" } else { "" }});
            }
        });
    })
}

/// Both images at (api, web) in `env`'s overlay at `rev`.
fn assert_runs(w: &World, rev: &str, env: &str, api: &str, web: &str) {
    let text = w.file(rev, &format!("envs/{env}/kustomization.yaml"));
    assert_eq!(text, overlay(api, web), "{env} at {rev}");
}

/// Steps 1 to 4 of the issue and prod's deploy: returns the world, prod running api ci-2 and
/// web ci-7 from promotion !3, merged by prod's operator.
fn to_prod() -> World {
    let w = world();

    // 1. The app pipeline bumps dev: one merge request, one commit with both images.
    let api2 = format!("{API}:ci-2");
    let web7 = format!("{WEB}:ci-7");
    let run = w.bot(&[
        "bump",
        "--project",
        PROJECT,
        "--environment",
        "dev",
        "--image",
        &api2,
        "--image",
        &web7,
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mrs = w.gitlab.merge_requests();
    assert_eq!(mrs.len(), 1, "one merge request: {mrs:#?}");
    let bump = &mrs[0];
    assert_eq!(bump["title"], "Deploy 2 images to dev");
    let bump_branch = bump["source_branch"].as_str().unwrap().to_string();
    assert_eq!(w.commits_on(&bump_branch), "1");
    assert_eq!(w.changed_by(&bump_branch), ["envs/dev/kustomization.yaml"]);
    assert_runs(&w, &bump_branch, "dev", "ci-2", "ci-7");

    // Its pipeline runs: the next pass arms the merge, pinned to the bot's head; the
    // pipeline succeeds and GitLab merges it. Nobody commented.
    w.gitlab.set_pipeline(1, Some("running"));
    let head = mr(&w.gitlab, 1)["sha"].as_str().unwrap().to_string();
    let run = poll(&w.gitlab);
    assert!(
        run.stdout.contains(&format!(
            "auto-deploy: GitLab merges !1 at {} when its pipeline succeeds",
            &head[..12]
        )),
        "{}",
        run.stdout
    );
    assert_eq!(mr(&w.gitlab, 1)["state"], "opened");
    w.gitlab.set_pipeline(1, Some("success"));
    assert_eq!(mr(&w.gitlab, 1)["state"], "merged");
    assert_runs(&w, "main", "dev", "ci-2", "ci-7");
    assert_runs(&w, "main", "staging", "ci-1", "ci-6");

    // 2. The sync of the merge commit deploys dev only; dev turns healthy, is recorded, and
    // staging's promotion is opened in the same run: both images, one commit, the evidence.
    let (dev_commit, run) = w.sync("shop-dev", "Healthy", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("sync: healthy: Application argocd/shop-dev at "),
        "{}",
        run.stdout
    );
    assert_eq!(
        w.records(),
        [("dev".to_string(), dev_commit.clone(), "success".to_string())]
    );
    let dev_record = w.gitlab.deployments()[0].id;
    assert!(
        run.stdout
            .contains("sync: promotion to staging: 2 images: created merge request !2: "),
        "{}",
        run.stdout
    );
    let staging_mr = mr(&w.gitlab, 2);
    assert_eq!(staging_mr["title"], "Promote 2 images from dev to staging");
    assert_eq!(staging_mr["source_branch"], "gitops-bot/staging/promote");
    assert_eq!(w.commits_on("gitops-bot/staging/promote"), "1");
    assert_eq!(
        w.changed_by("gitops-bot/staging/promote"),
        ["envs/staging/kustomization.yaml"]
    );
    assert_runs(&w, "gitops-bot/staging/promote", "staging", "ci-2", "ci-7");
    let description = staging_mr["description"].as_str().unwrap();
    for said in [
        "### Promotion from `dev` to `staging`".to_string(),
        format!(
            "deployment {dev_record} of commit `{}`, brought by !1 (",
            &dev_commit[..12]
        ),
        format!("| `{API}` | `ci-1` | `ci-2` |"),
        format!("| `{WEB}` | `ci-6` | `ci-7` |"),
    ] {
        assert!(description.contains(&said), "{said}\n{description}");
    }

    // 3. The operator deploys staging's promotion; its sync turns staging healthy. prod has a
    // soak: not proposed in that run, and the output says when.
    w.deploy(2, OPERATOR);
    assert_runs(&w, "main", "staging", "ci-2", "ci-7");
    let (staging_commit, run) = w.sync("shop-staging", "Healthy", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "sync: promotion to prod: it has a soak of 30m; the scheduled `promote` proposes it after "
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        w.gitlab.merge_requests().len(),
        2,
        "prod is not proposed yet"
    );
    assert_eq!(
        w.records()[1],
        (
            "staging".to_string(),
            staging_commit.clone(),
            "success".to_string()
        )
    );
    let staging_record = w.gitlab.deployments()[1].id;

    // 4. The scheduled `promote` before the soak proposes nothing and says when.
    let run = w.promote();
    assert!(
        run.stdout.contains(
            "prod ← staging: nothing proposed: soak of 30m not met: staging healthy since "
        ) && run.stdout.contains("; eligible at "),
        "{}",
        run.stdout
    );
    assert_eq!(w.gitlab.merge_requests().len(), 2);

    // Half an hour and a minute later, it opens prod's promotion with both images.
    w.gitlab.age_deployment(
        staging_record,
        Duration::from_secs(30 * 60) + Duration::from_secs(60),
    );
    let run = w.promote();
    assert!(
        run.stdout.contains(&format!(
            "prod ← staging: promote 2 images (deployment {staging_record} of {}, healthy since ",
            &staging_commit[..12]
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("  {API}: ci-1 → ci-2\n"))
            && run.stdout.contains(&format!("  {WEB}: ci-6 → ci-7\n"))
            && run.stdout.contains("  created merge request !3: "),
        "{}",
        run.stdout
    );
    let prod_mr = mr(&w.gitlab, 3);
    assert_eq!(prod_mr["title"], "Promote 2 images from staging to prod");
    assert_eq!(prod_mr["source_branch"], "gitops-bot/prod/promote");
    assert_eq!(w.commits_on("gitops-bot/prod/promote"), "1");
    assert_eq!(
        w.changed_by("gitops-bot/prod/promote"),
        ["envs/prod/kustomization.yaml"]
    );
    assert_runs(&w, "gitops-bot/prod/promote", "prod", "ci-2", "ci-7");
    let description = prod_mr["description"].as_str().unwrap();
    assert!(
        description.contains("`30m` required, met at `"),
        "{description}"
    );
    let assignees: Vec<&str> = prod_mr["assignees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(assignees, ["ops-lead"], "prod's own operators");

    // 5. Only prod's operator may deploy it.
    w.gitlab.set_pipeline(3, Some("success"));
    w.gitlab.add_note(3, OPERATOR, "gitops-bot deploy");
    poll(&w.gitlab);
    assert_eq!(mr(&w.gitlab, 3)["state"], "opened");
    w.deploy(3, OPS_LEAD);
    assert_runs(&w, "main", "prod", "ci-2", "ci-7");
    w
}

/// prod's Application turns Degraded on the promoted commit: the sync fails and records prod's
/// deployment as failed, so nothing is promoted from it.
fn prod_fails(w: &World) -> Run {
    let (prod_commit, run) = w.sync("shop", "Degraded", &["--rollback-on-failure"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("sync failed: Application argocd/shop: "),
        "{}",
        run.stderr
    );
    assert_eq!(w.records().len(), 3);
    assert_eq!(
        w.records()[2],
        ("prod".to_string(), prod_commit, "failed".to_string())
    );
    run
}

#[test]
fn two_new_images_go_from_dev_to_prod_and_a_failure_there_is_recorded() {
    let w = to_prod();
    prod_fails(&w);
}

/// The end of the scenario: the failed promotion of two images to prod is rolled
/// back as a whole (each image to its one version from before the merge, in one commit),
/// prod is held for both, `unhold` lifts it, and the re-proposed promotion is a draft (these
/// versions failed in prod before).
#[test]
fn a_failed_promotion_of_two_images_is_rolled_back_held_and_unheld() {
    let w = to_prod();
    let run = prod_fails(&w);
    let rollback = latest_mr(&w.gitlab);
    assert_eq!(rollback["iid"], 4, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(rollback["title"], "Roll back 2 images in prod (!3 failed)");
    let rollback_branch = rollback["source_branch"].as_str().unwrap().to_string();
    assert!(
        rollback_branch.starts_with("gitops-bot/prod/rollback/"),
        "{rollback_branch}"
    );
    assert_eq!(w.commits_on(&rollback_branch), "1");
    assert_runs(&w, &rollback_branch, "prod", "ci-1", "ci-6");

    // prod's operator deploys the rollback; prod runs the old versions again.
    w.deploy(4, OPS_LEAD);
    assert_runs(&w, "main", "prod", "ci-1", "ci-6");

    // prod is held: `promote` does not propose the rolled-back versions again, and says why
    // and how to lift it.
    let run = w.promote();
    let rollback_url = format!("{}/-/merge_requests/4", w.gitlab.project_web_url());
    assert!(
        run.stdout.contains(
            "prod ← staging: nothing proposed: no image to move: prod is held for versions staging runs healthy (see skipped)\n"
        ),
        "{}",
        run.stdout
    );
    for (image, version) in [(API, "ci-2"), (WEB, "ci-7")] {
        let held = format!(
            "  skipped {image}: prod is held for {version} since rollback !4 ({rollback_url}) merged: an operator of prod lifts it with `gitops-bot unhold` on !4, or a newer version is proposed"
        );
        assert!(
            run.stdout.lines().any(|l| l == held),
            "{held}\n{}",
            run.stdout
        );
    }
    assert_eq!(w.gitlab.merge_requests().len(), 4, "nothing new proposed");

    // prod's operator lifts the hold on the rollback: the next `promote` proposes both again.
    w.gitlab.add_note(4, OPS_LEAD, "gitops-bot unhold");
    poll(&w.gitlab);
    let reply = replies(&w.gitlab, 4).pop().unwrap();
    assert!(
        reply.starts_with("@ops-lead hold lifted: prod was held since rollback !4 merged"),
        "{reply}"
    );
    let run = w.promote();
    assert!(!run.stdout.contains("hold:"), "{}", run.stdout);
    assert!(
        run.stdout.contains("prod ← staging: promote 2 images")
            && run.stdout.contains(&format!("  {API}: ci-1 → ci-2\n"))
            && run.stdout.contains(&format!("  {WEB}: ci-6 → ci-7\n"))
            && run.stdout.contains("  created merge request !5: "),
        "{}",
        run.stdout
    );
    // These versions failed in prod before: the promotion is a draft that says so.
    let again = mr(&w.gitlab, 5);
    assert_eq!(
        again["title"],
        "Draft: Promote 2 images from staging to prod"
    );
    let description = again["description"].as_str().unwrap();
    assert!(
        description.contains("One of these versions failed to deploy to `prod` before**, in !3 ("),
        "{description}"
    );
    assert_eq!(again["source_branch"], "gitops-bot/prod/promote");
    assert_eq!(w.commits_on("gitops-bot/prod/promote"), "1");
    assert_runs(&w, "gitops-bot/prod/promote", "prod", "ci-2", "ci-7");
}
