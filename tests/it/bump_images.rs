//! `gitops-bot bump` with several `--image`s, through the real binary: one commit and one
//! merge request for all of them, idempotent and superseded as a whole, verified on deploy.

use crate::common;
use crate::fake_gitlab;
use crate::mr_thread::{OPERATOR, PROJECT, bot, mr, poll, replies};

use common::{Run, copy_tree, gitops_bot, read, snapshot, write};
use fake_gitlab::{FakeGitlab, Options};
use serde_json::Value;

const WEB: &str = "registry.example.com/shop/web";
const WORKER: &str = "registry.example.com/shop/worker";
const CRON: &str = "registry.example.com/shop/cron";

const CONFIG: &str = "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n";

/// Two images in one document of one file, a third in another file.
const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: registry.example.com/shop/web:1.0.0 # pinned by the bot\n        - name: worker\n          image: \"registry.example.com/shop/worker:2.0.0\"\n";
const KUSTOMIZATION: &str = "resources: [deployment.yaml]\nimages:\n  - name: registry.example.com/shop/cron\n    newTag: 3.0.0\n";

fn seed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".gitops-bot.yaml", CONFIG);
    write(dir.path(), "envs/prod/deployment.yaml", DEPLOYMENT);
    write(dir.path(), "envs/prod/kustomization.yaml", KUSTOMIZATION);
    dir
}

fn images(list: &[(&str, &str)]) -> Vec<String> {
    list.iter()
        .flat_map(|(repo, tag)| ["--image".to_string(), format!("{repo}:{tag}")])
        .collect()
}

fn local(dir: &std::path::Path, list: &[(&str, &str)], extra: &[&str]) -> Run {
    let mut args = vec![
        "bump".to_string(),
        "--local".into(),
        dir.to_str().unwrap().into(),
    ];
    args.extend(images(list));
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    gitops_bot(&args)
}

#[test]
fn local_two_images_in_one_document_are_edited_in_one_run_and_a_rerun_is_a_no_op() {
    let dir = copy_tree(seed().path());
    let list = [(WEB, "1.1.0"), (WORKER, "2.1.0")];
    let run = local(dir.path(), &list, &["--environment", "prod"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "envs/prod/deployment.yaml"),
        DEPLOYMENT
            .replace("web:1.0.0", "web:1.1.0")
            .replace("worker:2.0.0", "worker:2.1.0")
    );
    assert_eq!(
        read(dir.path(), "envs/prod/kustomization.yaml"),
        KUSTOMIZATION
    );
    assert!(
        run.stdout.contains(&format!(
            "{WEB}:1.1.0: 1 reference updated in 1 file (0 already current)\n{WORKER}:2.1.0: 1 reference updated in 1 file (0 already current)\n2 references updated in 1 file (0 already current)\n"
        )),
        "{}",
        run.stdout
    );

    let after = snapshot(dir.path());
    let again = local(dir.path(), &list, &["--environment", "prod"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stdout
            .ends_with("0 references updated in 0 files (2 already current)\n"),
        "{}",
        again.stdout
    );
    assert_eq!(snapshot(dir.path()), after, "a rerun writes nothing");
}

#[test]
fn local_json_says_per_image_what_changed() {
    let dir = seed();
    let list = [(WEB, "1.1.0"), (CRON, "3.1.0")];
    let run = local(dir.path(), &list, &["--dry-run", "--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = common::json(&run);
    assert_eq!(out["image"], format!("{WEB}:1.1.0, {CRON}:3.1.0"));
    assert_eq!(out["images"][0]["image"], format!("{WEB}:1.1.0"));
    assert_eq!(
        out["images"][0]["changes"][0]["file"],
        "envs/prod/deployment.yaml"
    );
    assert_eq!(out["images"][1]["image"], format!("{CRON}:3.1.0"));
    assert_eq!(
        out["images"][1]["changes"][0]["file"],
        "envs/prod/kustomization.yaml"
    );
    assert_eq!(out["images"][1]["changes"][0]["line"], 4);
    assert_eq!(out["files_changed"], 2);
}

#[test]
fn local_an_image_referenced_nowhere_fails_the_whole_bump_and_names_it() {
    let dir = copy_tree(seed().path());
    let before = snapshot(dir.path());
    let missing = "registry.example.com/shop/nowhere";
    let run = local(dir.path(), &[(WEB, "1.1.0"), (missing, "9")], &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains(&format!("{missing}:9 is referenced nowhere in the")),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(&format!("{WEB}:1.1.0 is referenced")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("nothing written: a bump of 2 images changes all of them or none"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(dir.path()), before, "nothing written");
}

#[test]
fn the_same_repository_twice_is_a_usage_error_in_both_modes() {
    let dir = copy_tree(seed().path());
    let before = snapshot(dir.path());
    // Written two ways: the repository is the same.
    let twice = [(WEB, "1.1.0"), ("registry.example.com/shop/web", "1.2.0")];
    let run = local(dir.path(), &twice, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("are the same repository"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(dir.path()), before);

    let fake = FakeGitlab::start(Options {
        seed_dir: Some(seed().path().to_path_buf()),
        ..Options::default()
    });
    let mut args = vec!["bump".to_string(), "--project".into(), PROJECT.into()];
    args.extend(images(&twice));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = bot(&fake, &args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(fake.requests().is_empty(), "{:#?}", fake.requests());

    // A Flux image policy selects one image.
    let run = local(
        dir.path(),
        &[(WEB, "1.1.0"), (WORKER, "2.1.0")],
        &["--setter", "flux-system:web"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
}

// GitLab.

struct World {
    fake: FakeGitlab,
    _seed: tempfile::TempDir,
}

fn world() -> World {
    let seed = seed();
    let fake = FakeGitlab::start(Options {
        seed_dir: Some(seed.path().to_path_buf()),
        ..Options::default()
    });
    World { fake, _seed: seed }
}

fn bump(fake: &FakeGitlab, list: &[(&str, &str)], extra: &[&str]) -> Run {
    let mut args = vec![
        "bump".to_string(),
        "--project".into(),
        PROJECT.into(),
        "--environment".into(),
        "prod".into(),
    ];
    args.extend(images(list));
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    bot(fake, &args)
}

fn commits_on(fake: &FakeGitlab, branch: &str) -> String {
    fake.git(&["rev-list", "--count", &format!("main..{branch}")])
        .trim()
        .to_string()
}

#[test]
fn gitlab_two_images_open_one_merge_request_with_one_commit() {
    let World { fake, .. } = world();
    let base = fake.branch_head("main").unwrap();
    let run = bump(&fake, &[(WEB, "1.1.0"), (WORKER, "2.1.0")], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("created merge request !1: "),
        "{}",
        run.stdout
    );
    assert_eq!(fake.writes().len(), 2, "one commit and one merge request");
    // As for one image, plus one open-rollback lookup per further image.
    assert!(fake.requests().len() <= 10, "{:#?}", fake.requests());

    let mrs = fake.merge_requests();
    assert_eq!(mrs.len(), 1);
    let mr = &mrs[0];
    assert_eq!(mr["title"], "Deploy 2 images to prod");
    let branch = mr["source_branch"].as_str().unwrap();
    assert!(branch.starts_with("gitops-bot/prod/images-"), "{branch}");
    assert_eq!(commits_on(&fake, branch), "1");
    let parents = fake.git(&["rev-list", "--parents", "-n", "1", branch]);
    assert_eq!(parents.split_whitespace().nth(1), Some(base.as_str()));
    assert_eq!(
        String::from_utf8(fake.file(branch, "envs/prod/deployment.yaml").unwrap()).unwrap(),
        DEPLOYMENT
            .replace("web:1.0.0", "web:1.1.0")
            .replace("worker:2.0.0", "worker:2.1.0")
    );
    let message = fake.git(&["log", "-1", "--format=%B", branch]);
    assert!(
        message.starts_with(&format!(
            "Deploy 2 images to prod\n\nenvs/prod/deployment.yaml:10: {WEB}:1.0.0 -> {WEB}:1.1.0\nenvs/prod/deployment.yaml:12: {WORKER}:2.0.0 -> {WORKER}:2.1.0\n"
        )),
        "{message}"
    );

    let description = mr["description"].as_str().unwrap();
    assert!(
        description.contains(&format!(
            "| `{WEB}` | `1.1.0` | `1.0.0` |\n| `{WORKER}` | `2.1.0` | `2.0.0` |\n"
        )),
        "{description}"
    );
    let record = description
        .lines()
        .find(|l| l.starts_with("<!-- gitops-bot:"))
        .unwrap();
    assert!(
        record.contains(&format!(
            "\"images\":[{{\"image\":\"{WEB}\",\"tag\":\"1.1.0\",\"digest\":null,\"previous\":[\"1.0.0\"]}},{{\"image\":\"{WORKER}\",\"tag\":\"2.1.0\",\"digest\":null,\"previous\":[\"2.0.0\"]}}]"
        )),
        "{record}"
    );
}

#[test]
fn gitlab_a_rerun_writes_nothing_and_a_new_tag_updates_the_same_merge_request() {
    let World { fake, .. } = world();
    let list = [(WEB, "1.1.0"), (WORKER, "2.1.0")];
    assert_eq!(bump(&fake, &list, &[]).code, 0);
    let branch = mr(&fake, 1)["source_branch"].as_str().unwrap().to_string();

    // The same images, in any order: nothing to write.
    fake.clear_log();
    let run = bump(&fake, &[(WORKER, "2.1.0"), (WEB, "1.1.0")], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("already proposed in merge request !1"),
        "{}",
        run.stdout
    );
    assert!(fake.writes().is_empty(), "{:#?}", fake.writes());
    // The project, branch, archive, the MRs, and checking the branch holds exactly the bump
    // of both images: its commits, their diff, the one changed file before and after.
    assert!(fake.requests().len() <= 8, "{:#?}", fake.requests());

    // One tag changes: the same merge request and branch, rewritten as a whole.
    let run = bump(
        &fake,
        &[(WEB, "1.1.0"), (WORKER, "2.2.0")],
        &["--output", "json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["action"], "updated");
    assert_eq!(out["merge_request"]["iid"], 1);
    assert_eq!(out["branch"], branch.as_str());
    assert_eq!(fake.merge_requests().len(), 1);
    assert_eq!(commits_on(&fake, &branch), "1");
    let deployment =
        String::from_utf8(fake.file(&branch, "envs/prod/deployment.yaml").unwrap()).unwrap();
    assert!(deployment.contains("web:1.1.0"), "{deployment}");
    assert!(deployment.contains("worker:2.2.0"), "{deployment}");
    let notes = fake.notes(1);
    assert!(
        notes
            .iter()
            .any(|n| n["body"].as_str().unwrap().starts_with(&format!(
                "Superseded `{WEB} 1.1.0, {WORKER} 2.1.0` by `{WEB} 1.1.0, {WORKER} 2.2.0`"
            ))),
        "{notes:#?}"
    );
}

#[test]
fn gitlab_three_images_in_two_files_are_one_commit() {
    let World { fake, .. } = world();
    let run = bump(
        &fake,
        &[(WEB, "1.1.0"), (WORKER, "2.1.0"), (CRON, "3.1.0")],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mr = mr(&fake, 1);
    assert_eq!(mr["title"], "Deploy 3 images to prod");
    let branch = mr["source_branch"].as_str().unwrap();
    assert_eq!(commits_on(&fake, branch), "1");
    let stat = fake.git(&["diff", "--stat", "main", branch]);
    assert!(
        stat.contains("2 files changed, 3 insertions(+), 3 deletions(-)"),
        "{stat}"
    );
    assert_eq!(
        String::from_utf8(fake.file(branch, "envs/prod/kustomization.yaml").unwrap()).unwrap(),
        KUSTOMIZATION.replace("3.0.0", "3.1.0")
    );
}

#[test]
fn gitlab_an_image_referenced_nowhere_writes_nothing() {
    let World { fake, .. } = world();
    let missing = "registry.example.com/shop/nowhere";
    let run = bump(&fake, &[(WEB, "1.1.0"), (missing, "9")], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("{missing}:9 is referenced nowhere")),
        "{}",
        run.stderr
    );
    assert!(fake.writes().is_empty(), "{:#?}", fake.writes());
}

#[test]
fn gitlab_deploy_of_several_images_verifies_the_commit_and_merges() {
    let World { fake, .. } = world();
    assert_eq!(
        bump(&fake, &[(WEB, "1.1.0"), (WORKER, "2.1.0")], &[]).code,
        0
    );
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "merged", "{:?}", replies(&fake, 1));
    let main = String::from_utf8(fake.file("main", "envs/prod/deployment.yaml").unwrap()).unwrap();
    assert!(
        main.contains("web:1.1.0") && main.contains("worker:2.1.0"),
        "{main}"
    );
}

#[test]
fn gitlab_a_foreign_commit_on_a_several_images_branch_is_refused_and_named() {
    let World { fake, .. } = world();
    assert_eq!(
        bump(&fake, &[(WEB, "1.1.0"), (WORKER, "2.1.0")], &[]).code,
        0
    );
    let branch = mr(&fake, 1)["source_branch"].as_str().unwrap().to_string();
    // A push that changes one of the bump's own files: only the bot's bytes verify.
    let pushed = DEPLOYMENT
        .replace("web:1.0.0", "web:1.1.0")
        .replace("worker:2.0.0", "worker:6.6.6");
    let foreign = fake.commit_files(
        &branch,
        &[("envs/prod/deployment.yaml", &pushed)],
        "someone pins the worker",
    );
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    let reply = replies(&fake, 1).pop().unwrap();
    assert!(
        reply.contains("holds changes the bot did not propose"),
        "{reply}"
    );
    assert!(
        reply.contains(&format!("`{}` `someone pins the worker`", &foreign[..12])),
        "the reply names the foreign commit: {reply}"
    );
    assert!(
        !String::from_utf8(fake.file("main", "envs/prod/deployment.yaml").unwrap())
            .unwrap()
            .contains("6.6.6")
    );

    // `rebase` finds the set's branch from the record and restores the bot's change alone.
    fake.add_note(1, OPERATOR, "gitops-bot rebase");
    poll(&fake);
    assert_eq!(commits_on(&fake, &branch), "1", "{:?}", replies(&fake, 1));
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "merged", "{:?}", replies(&fake, 1));
    let main = String::from_utf8(fake.file("main", "envs/prod/deployment.yaml").unwrap()).unwrap();
    assert!(
        main.contains("web:1.1.0") && main.contains("worker:2.1.0"),
        "{main}"
    );
}

#[test]
fn gitlab_rollback_of_several_images_puts_each_back_in_one_commit() {
    let World { fake, .. } = world();
    assert_eq!(
        bump(&fake, &[(WEB, "1.1.0"), (WORKER, "2.1.0")], &[]).code,
        0
    );
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "merged", "{:?}", replies(&fake, 1));
    fake.add_note(1, OPERATOR, "gitops-bot rollback");
    poll(&fake);
    let reply = replies(&fake, 1).pop().unwrap();
    assert!(
        reply.contains("!2"),
        "the reply links the rollback: {reply}"
    );
    let rollback = mr(&fake, 2);
    assert_eq!(rollback["title"], "Roll back 2 images in prod (undoing !1)");
    let branch = rollback["source_branch"].as_str().unwrap().to_string();
    assert!(
        branch.starts_with("gitops-bot/prod/rollback/images-"),
        "{branch}"
    );
    // One commit, both images back to the versions from before, read from Git.
    assert_eq!(commits_on(&fake, &branch), "1");
    let file = String::from_utf8(fake.file(&branch, "envs/prod/deployment.yaml").unwrap()).unwrap();
    assert_eq!(file, DEPLOYMENT, "the file as it was before !1");
    let description = rollback["description"].as_str().unwrap_or_default();
    for line in [
        format!("- `{WEB}` back to **`1.0.0`** (from `1.1.0`)"),
        format!("- `{WORKER}` back to **`2.0.0`** (from `2.1.0`)"),
    ] {
        assert!(description.contains(&line), "{line} in {description}");
    }
    // The operator deploys it: main is back where it was.
    fake.add_note(2, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 2)["state"], "merged", "{:?}", replies(&fake, 2));
    let main = String::from_utf8(fake.file("main", "envs/prod/deployment.yaml").unwrap()).unwrap();
    assert_eq!(main, DEPLOYMENT);
}

// After the merge: `sync` names every image, and rolls the set back as a whole.

mod after_the_merge {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::fake_kube::{FakeKube, Options as KubeOptions};

    const ARGO: &str = "argoproj.io/v1alpha1";
    const PATIENCE: Duration = Duration::from_secs(30);

    type Step = Box<dyn FnOnce(&mut Value) + Send>;

    fn running() -> Step {
        Box::new(|app| {
            let op = app["operation"].take();
            app.as_object_mut().unwrap().remove("operation");
            app["status"]["operationState"] =
                json!({"phase": "Running", "operation": op, "startedAt": "2026-11-21T10:00:00Z"});
            app["status"]["health"] = json!({"status": "Progressing"});
        })
    }

    fn degraded_at(commit: &str) -> Step {
        let commit = commit.to_string();
        Box::new(move |app| {
            app["status"]["sync"] = json!({"status": "Synced", "revision": commit});
            app["status"]["operationState"]["phase"] = json!("Succeeded");
            app["status"]["operationState"]["syncResult"] = json!({"revision": commit});
            app["status"]["health"] = json!({"status": "Degraded"});
        })
    }

    #[test]
    fn sync_names_each_image_and_rolls_the_set_back_in_one_merge_request() {
        let seed = seed();
        write(
            seed.path(),
            ".gitops-bot.yaml",
            format!("{CONFIG}    argocd_apps: [argocd/shop]\n"),
        );
        let fake = FakeGitlab::start(Options {
            seed_dir: Some(seed.path().to_path_buf()),
            ..Options::default()
        });
        let before = fake.git(&["rev-parse", "main"]).trim().to_string();
        assert_eq!(
            bump(&fake, &[(WEB, "1.1.0"), (WORKER, "2.1.0")], &[]).code,
            0
        );
        fake.add_note(1, OPERATOR, "gitops-bot deploy");
        poll(&fake);
        let commit = fake.git(&["rev-parse", "main"]).trim().to_string();
        assert_ne!(commit, before, "merged");

        let kube = Arc::new(FakeKube::start(KubeOptions::default()));
        kube.put(json!({
            "apiVersion": ARGO,
            "kind": "Application",
            "metadata": {"name": "shop", "namespace": "argocd"},
            "spec": {
                "project": "default",
                "source": {"repoURL": "https://gitlab.example.com/group/helloworld-ops.git", "path": "envs/prod", "targetRevision": "main"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            },
            "status": {
                "sync": {"status": "Synced", "revision": before},
                "health": {"status": "Healthy"},
                "resources": [],
            },
        }));
        let controller = {
            let kube = kube.clone();
            let commit = commit.clone();
            std::thread::spawn(move || {
                kube.wait_for(
                    ARGO,
                    "Application",
                    Some("argocd"),
                    "shop",
                    PATIENCE,
                    |app| app.get("operation").is_some_and(|o| !o.is_null()),
                );
                kube.wait_for_open_watches(1, PATIENCE);
                let sent = kube.events_sent();
                kube.update(ARGO, "Application", Some("argocd"), "shop", running());
                kube.wait_for_events_sent(sent + 1, PATIENCE);
                kube.update(
                    ARGO,
                    "Application",
                    Some("argocd"),
                    "shop",
                    degraded_at(&commit),
                );
            })
        };
        let mut cmd = common::bot_command(
            &fake.url(),
            fake.token(),
            &[
                "sync",
                "--project",
                PROJECT,
                "--commit",
                &commit,
                "--rollback-on-failure",
            ],
        );
        cmd.env("KUBE_API_URL", kube.url())
            .env("KUBE_TOKEN", kube.token())
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CA_FILE")
            .env_remove("KUBE_NAMESPACE");
        let run = common::run_without_leaking(cmd, fake.token());
        controller.join().unwrap();
        assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);

        let result = fake
            .notes(1)
            .into_iter()
            .map(|n| n["body"].as_str().unwrap_or("").to_string())
            .find(|b| b.contains("\"kind\":\"sync\""))
            .expect("a result comment");
        for change in [
            format!("**Change:** `{WEB} 1.0.0 → 1.1.0`."),
            format!("**Change:** `{WORKER} 2.0.0 → 2.1.0`."),
        ] {
            assert!(result.contains(&change), "{change} in {result}");
        }
        let rollbacks: Vec<Value> = fake
            .merge_requests()
            .into_iter()
            .filter(|m| m["title"] == "Roll back 2 images in prod (!1 failed)")
            .collect();
        assert_eq!(rollbacks.len(), 1, "one rollback of the whole set");
        let iid = rollbacks[0]["iid"].as_u64().unwrap();
        assert!(result.contains(&format!("!{iid}")), "{result}");
    }
}

#[test]
fn gitlab_a_commit_replacing_the_bots_with_part_of_the_set_is_refused_and_named() {
    let World { fake, .. } = world();
    assert_eq!(
        bump(&fake, &[(WEB, "1.1.0"), (WORKER, "2.1.0")], &[]).code,
        0
    );
    let branch = mr(&fake, 1)["source_branch"].as_str().unwrap().to_string();
    // Someone force-pushes one commit on main that is a bump of one of the images alone:
    // exactly what the bot would write for `--image WEB:1.1.0`, but not for this set.
    let main = fake.branch_head("main").unwrap();
    fake.git(&["update-ref", &format!("refs/heads/{branch}"), &main]);
    let partial = DEPLOYMENT.replace("web:1.0.0", "web:1.1.0");
    let foreign = fake.commit_files(
        &branch,
        &[("envs/prod/deployment.yaml", &partial)],
        "only the web",
    );
    assert_eq!(commits_on(&fake, &branch), "1");
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    let reply = replies(&fake, 1).pop().unwrap();
    assert!(
        reply.contains(&format!("`{}` `only the web`", &foreign[..12])),
        "the reply names the commit: {reply}"
    );
}
