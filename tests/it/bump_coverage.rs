//! Issue 11 through the real binary: every file kustomize reads, the repository's own CI
//! files, and `--strict` on anything skipped. Each mention of the image is edited, current,
//! or listed in `skipped`.

use crate::common;

use common::*;

const IMAGE: &str = "registry.example.com/group/app";

fn bump(dir: &std::path::Path, extra: &[&str]) -> Run {
    bump_json(dir, "registry.example.com/group/app:v2", extra)
}

#[test]
fn every_kustomization_file_name_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let entry = format!("images:\n- name: {IMAGE}\n  newTag: v1\n");
    for file in [
        "a/kustomization.yaml",
        "b/kustomization.yml",
        "c/Kustomization",
    ] {
        write(dir.path(), file, &entry);
    }
    write(dir.path(), "d/Kustomization.txt", &entry);
    let run = bump(dir.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    assert_eq!(report["files_changed"], 3, "{report}");
    assert_eq!(report["files_searched"], 3, "{report}");
    for file in [
        "a/kustomization.yaml",
        "b/kustomization.yml",
        "c/Kustomization",
    ] {
        assert_eq!(read(dir.path(), file), entry.replace("v1", "v2"), "{file}");
    }
    assert_eq!(read(dir.path(), "d/Kustomization.txt"), entry);
}

fn repo_with_ci_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "deploy/deployment.yaml",
        format!("spec:\n  containers:\n  - image: {IMAGE}:v1\n"),
    );
    write(
        dir.path(),
        ".gitlab-ci.yml",
        format!(
            "build:\n  image: docker:27\n  script:\n    - docker push {IMAGE}:$CI_COMMIT_SHA\n"
        ),
    );
    write(
        dir.path(),
        ".gitlab/ci/deploy.yml",
        format!("deploy:\n  image: {IMAGE}:v1\n"),
    );
    write(dir.path(), ".github/workflows/x.yaml", "jobs: {}\n");
    dir
}

#[test]
fn ci_files_are_listed_not_searched_unless_named() {
    let dir = repo_with_ci_files();
    let run = bump(dir.path(), &["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    assert_eq!(report["files_searched"], 1, "{report}");
    assert_eq!(report["changes"].as_array().unwrap().len(), 1, "{report}");
    let skipped: Vec<(String, u64)> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert!(
                k["reason"]
                    .as_str()
                    .unwrap()
                    .contains("own CI configuration"),
                "{k}"
            );
            (
                k["file"].as_str().unwrap().to_string(),
                k["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        [
            (".gitlab-ci.yml".to_string(), 4),
            (".gitlab/ci/deploy.yml".to_string(), 2)
        ],
        "{report}"
    );
    let text = gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        "registry.example.com/group/app:v2",
        "--dry-run",
    ]);
    assert!(
        text.stderr.contains(
            "warning: .gitlab/ci/deploy.yml:2:10: registry.example.com/group/app:v1 not updated: the repository's own CI configuration"
        ),
        "{}",
        text.stderr
    );

    // Named explicitly, a CI directory is searched and edited like any other.
    let run = bump(dir.path(), &["--path", ".gitlab/ci", "--path", "deploy"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    assert_eq!(report["files_changed"], 2, "{report}");
    assert_eq!(report["skipped"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(
        read(dir.path(), ".gitlab/ci/deploy.yml"),
        format!("deploy:\n  image: {IMAGE}:v2\n")
    );
    // A wider path does not name them.
    let run = bump(dir.path(), &["--path", "."]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json(&run)["skipped"].as_array().unwrap().len(), 2);
}

#[test]
fn environment_paths_in_the_config_name_ci_files_too() {
    let dir = repo_with_ci_files();
    write(
        dir.path(),
        ".gitops-bot.yaml",
        "environments:\n  ci: {paths: [.gitlab-ci.yml, .gitlab]}\n",
    );
    let run = bump(dir.path(), &["--environment", "ci", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    assert_eq!(report["files_searched"], 2, "{report}");
    // The push line holds `$CI_COMMIT_SHA`: a string, listed with why.
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report}");
    assert_eq!(skipped[0]["file"], ".gitlab-ci.yml");
    assert_eq!(skipped[0]["form"], "mention");
    assert_eq!(report["changes"][0]["file"], ".gitlab/ci/deploy.yml");
}

#[test]
fn strict_fails_on_anything_skipped_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        format!("spec:\n  containers:\n  - image: {IMAGE}:v1\n    args: [\"--self={IMAGE}:v1\"]\n");
    write(dir.path(), "d.yaml", &text);
    let run = bump(dir.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    assert_eq!(report["skipped"][0]["line"], 4, "{report}");
    assert_eq!(
        report["skipped"][0]["reason"],
        "inside the string under `args`, not an image field of its own"
    );

    write(dir.path(), "d.yaml", &text);
    let run = bump(dir.path(), &["--strict"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("--strict: 0 warnings and 1 skipped reference above; nothing written"),
        "{}",
        run.stderr
    );
    assert_eq!(read(dir.path(), "d.yaml"), text);
}

#[test]
fn merge_keys_and_image_volumes_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "values.yaml",
        format!(
            "images:\n  app: &app\n    repository: {IMAGE}\n    tag: v1\nsidecar:\n  <<: *app\n  tag: v1\n"
        ),
    );
    write(
        dir.path(),
        "pod.yaml",
        format!("spec:\n  volumes:\n  - name: m\n    image: {{reference: {IMAGE}:v1}}\n"),
    );
    let run = bump(dir.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    let forms: Vec<(&str, u64)> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["form"].as_str().unwrap(), c["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        forms,
        [("image-volume", 4), ("helm-values", 4), ("helm-values", 7)],
        "{report}"
    );
    assert_eq!(
        read(dir.path(), "values.yaml"),
        format!(
            "images:\n  app: &app\n    repository: {IMAGE}\n    tag: v2\nsidecar:\n  <<: *app\n  tag: v2\n"
        )
    );
}
