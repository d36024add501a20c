//! `preview` through the real binary against the fake GitLab (and the fake Kubernetes API
//! for --live): the rendered diff of a bump merge request as one comment, kept up to date.

use crate::common;
use crate::fake_gitlab;
use crate::fake_kube;

use std::process::Command;

use common::Run;
use fake_gitlab::{FakeGitlab, Options};
use fake_kube::{FakeKube, Options as KubeOptions};
use serde_json::json;

const PROJECT: &str = "group/helloworld-ops";
const IMAGE: &str = "registry.example.com/root/helloworld";

/// The overlay of the example written so that every kustomize release builds it (the
/// kustomize v2.0.3 inside Debian's kubectl knows neither `replicas:` nor directories in
/// `resources:`); newer ones only warn about the deprecated fields.
const PORTABLE_OVERLAY: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nbases:\n  - ../../base\npatchesStrategicMerge:\n  - replicas.yaml\nimages:\n  - name: registry.example.com/root/helloworld\n    newTag: ci-34\n";

/// The example config repo with bump merge request !1 (ci-34 → ci-35) open.
fn setup() -> (FakeGitlab, tempfile::TempDir) {
    let seed = common::prod_only_repo();
    common::write(
        seed.path(),
        "envs/prod/kustomization.yaml",
        PORTABLE_OVERLAY,
    );
    common::write(
        seed.path(),
        "envs/prod/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: helloworld\nspec:\n  replicas: 2\n",
    );
    let fake = FakeGitlab::start(Options {
        seed_dir: Some(seed.path().to_path_buf()),
        ..Options::default()
    });
    let run = bot(
        &fake,
        &[
            "bump",
            "--project",
            PROJECT,
            "--image",
            &format!("{IMAGE}:ci-35"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    (fake, seed)
}

fn command(fake: &FakeGitlab, args: &[&str]) -> Command {
    common::bot_command(&fake.url(), fake.token(), args)
}

fn bot(fake: &FakeGitlab, args: &[&str]) -> Run {
    common::run_without_leaking(command(fake, args), fake.token())
}

fn previews(fake: &FakeGitlab) -> Vec<String> {
    fake.notes(1)
        .into_iter()
        .map(|n| n["body"].as_str().unwrap_or("").to_string())
        .filter(|b| b.contains("\"kind\":\"preview\""))
        .collect()
}

#[test]
fn the_rendered_overlay_diff_is_one_comment_kept_up_to_date() {
    let (fake, _seed) = setup();
    let run = bot(&fake, &["preview", "--project", PROJECT, "--mr", "1"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("kustomize envs/prod: Deployment helloworld"),
        "{}",
        run.stdout
    );
    let notes = previews(&fake);
    assert_eq!(notes.len(), 1);
    let note = &notes[0];
    // The base is used by the overlay, so only the overlay (what Argo CD applies) is shown,
    // as `kustomize build` renders it: with the overlay's two replicas.
    assert!(
        note.contains("kustomize `envs/prod`: Deployment helloworld"),
        "{note}"
    );
    assert!(note.contains("--- a/envs/prod (kustomize build)"), "{note}");
    assert!(
        note.contains(&format!(
            "-      - image: {IMAGE}:ci-34\n+      - image: {IMAGE}:ci-35"
        )),
        "{note}"
    );
    assert!(!note.contains("`base`"), "{note}");

    // A newer version rewrites the MR; the next pipeline edits the same comment.
    assert_eq!(
        bot(
            &fake,
            &[
                "bump",
                "--project",
                PROJECT,
                "--image",
                &format!("{IMAGE}:ci-36")
            ]
        )
        .code,
        0
    );
    let run = bot(&fake, &["preview", "--project", PROJECT, "--mr", "1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("preview updated on !1"),
        "{}",
        run.stdout
    );
    let notes = previews(&fake);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].contains(&format!("+      - image: {IMAGE}:ci-36")),
        "{}",
        notes[0]
    );
}

#[test]
fn dry_run_prints_and_posts_nothing() {
    let (fake, _seed) = setup();
    let run = bot(
        &fake,
        &["preview", "--project", PROJECT, "--mr", "1", "--dry-run"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("**Preview** of what this merge request changes"),
        "{}",
        run.stdout
    );
    assert!(previews(&fake).is_empty());
}

#[test]
fn without_kustomize_the_raw_files_are_diffed_and_the_comment_says_so() {
    let (fake, _seed) = setup();
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = command(&fake, &["preview", "--project", PROJECT, "--mr", "1"]);
    cmd.env("PATH", empty.path());
    let run = common::run_without_leaking(cmd, fake.token());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let note = &previews(&fake)[0];
    assert!(
        note.contains("neither kustomize nor kubectl is on PATH"),
        "{note}"
    );
    assert!(
        note.contains("-    newTag: ci-34\n+    newTag: ci-35"),
        "{note}"
    );
}

#[test]
fn live_diff_shows_how_the_cluster_objects_would_change() {
    let (fake, _seed) = setup();
    let kube = FakeKube::start(KubeOptions::default());
    kube.put(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "helloworld", "namespace": "hello", "labels": {"app": "helloworld"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "helloworld"}},
                 "template": {"metadata": {"labels": {"app": "helloworld"}},
                              "spec": {"containers": [{"name": "helloworld", "image": format!("{IMAGE}:ci-34")}]}}}
    }));
    let mut cmd = command(
        &fake,
        &[
            "preview",
            "--project",
            PROJECT,
            "--mr",
            "1",
            "--live",
            "--namespace",
            "hello",
        ],
    );
    cmd.env("KUBE_API_URL", kube.url())
        .env("KUBE_TOKEN", kube.token());
    let run = common::run_without_leaking(cmd, fake.token());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let note = &previews(&fake)[0];
    assert!(
        note.contains("live `Deployment hello/helloworld`: would change"),
        "{note}"
    );
    assert!(note.contains("-  replicas: 1\n+  replicas: 2"), "{note}");
    assert!(
        note.contains("live `Service hello/helloworld`: new object"),
        "{note}"
    );
    // A dry run only: nothing changed in the cluster.
    let live = kube
        .get("apps/v1", "Deployment", Some("hello"), "helloworld")
        .unwrap();
    assert_eq!(live["spec"]["replicas"], 1);
    assert!(
        kube.get("v1", "Service", Some("hello"), "helloworld")
            .is_none()
    );
}

#[test]
fn a_forbidden_live_diff_is_one_plain_line_naming_the_rule() {
    let (fake, _seed) = setup();
    let kube = FakeKube::start(KubeOptions::default());
    kube.forbid("patch", "apps", "deployments", Some("hello"));
    let mut cmd = command(
        &fake,
        &[
            "preview",
            "--project",
            PROJECT,
            "--mr",
            "1",
            "--live",
            "--namespace",
            "hello",
        ],
    );
    cmd.env("KUBE_API_URL", kube.url())
        .env("KUBE_TOKEN", kube.token());
    let run = common::run_without_leaking(cmd, fake.token());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let note = &previews(&fake)[0];
    let want = "not diffed against the cluster: Deployment helloworld (envs/prod#2) was refused in the dry run; nothing was applied: patch deployments.apps \"helloworld\" in namespace hello: 403 Forbidden: deployments.apps \"helloworld\" is forbidden: User \"system:serviceaccount:gitops:gitops-bot\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"hello\" — add this rule to the Role bound to the bot's service account in namespace hello: apiGroups: [\"apps\"], resources: [\"deployments\"], verbs: [\"patch\"]";
    assert!(note.contains(want), "{note}");
    let visible = note.split("<!--").next().unwrap();
    for bad in ["Some(", "Status {", "ApiError", "403 Forbidden: 403"] {
        assert!(!visible.contains(bad), "{bad:?} in:\n{visible}");
    }
}
