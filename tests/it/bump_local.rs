//! `gitops-bot bump --local` driven through the real binary.

use crate::common;

use common::*;

const IMAGE: &str = "registry.example.com/root/helloworld";

/// The README's quick start: the example's dev environment, as its app pipeline bumps it.
#[test]
fn dry_run_on_the_example_prints_the_diff_and_writes_nothing() {
    let repo = example_repo();
    let before = snapshot(&repo);
    let run = gitops_bot(&[
        "bump",
        "--local",
        repo.to_str().unwrap(),
        "--environment",
        "dev",
        "--image",
        &format!("{IMAGE}:ci-35"),
        "--dry-run",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "--- a/envs/dev/kustomization.yaml\n+++ b/envs/dev/kustomization.yaml\n@@ -11,4 +11,4 @@\n         value: helloworld-dev.192.168.64.10.nip.io\n images:\n   - name: registry.example.com/root/helloworld\n-    newTag: ci-34\n+    newTag: ci-35\n1 reference updated in 1 file (0 already current)\ndry run: no files written\n"
    );
    assert_eq!(snapshot(&repo), before);
}

/// Without an environment, every reference in the example moves: the base and the three
/// environments' overlays.
#[test]
fn without_an_environment_the_whole_example_is_bumped() {
    let run = gitops_bot(&[
        "bump",
        "--local",
        example_repo().to_str().unwrap(),
        "--image",
        &format!("{IMAGE}:ci-35"),
        "--dry-run",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for file in [
        "base/deployment.yml",
        "envs/dev/kustomization.yaml",
        "envs/staging/kustomization.yaml",
        "envs/prod/kustomization.yaml",
    ] {
        assert!(
            run.stdout.contains(&format!("+++ b/{file}\n")),
            "{file}: {}",
            run.stdout
        );
    }
    assert!(
        run.stdout
            .contains("4 references updated in 4 files (0 already current)\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn bump_writes_only_the_tag_bytes_and_a_second_run_is_a_no_op() {
    let dir = prod_only_repo();
    let before = snapshot(dir.path());
    let image = format!("{IMAGE}:ci-35");
    let run = gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        &image,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = snapshot(dir.path());
    for ((path, old), (path2, new)) in before.iter().zip(&after) {
        assert_eq!(path, path2);
        let old = String::from_utf8(old.clone()).unwrap();
        let new = String::from_utf8(new.clone()).unwrap();
        assert_eq!(new, old.replace("ci-34", "ci-35"), "{path}");
    }
    let again = gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        &image,
    ]);
    assert_eq!(again.code, 0);
    assert_eq!(
        again.stdout,
        "0 references updated in 0 files (2 already current)\n"
    );
    assert_eq!(snapshot(dir.path()), after);
}

#[test]
fn image_referenced_nowhere_fails_naming_the_files_searched() {
    let repo = prod_only_repo();
    let run = gitops_bot(&[
        "bump",
        "--local",
        repo.path().to_str().unwrap(),
        "--image",
        "registry.example.com/root/other:1",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("error: registry.example.com/root/other:1 is referenced nowhere in the 5 YAML files searched"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2_and_say_what_is_wrong() {
    let dir = example_repo();
    let dir = dir.to_str().unwrap();
    for (image, says) in [
        ("registry.example.com/root/helloworld", "no tag or digest"),
        ("Registry.example.com/Root/helloworld:1", "lowercase"),
        ("helloworld:bad tag", "tag"),
        ("helloworld@sha256:abc", "digest"),
    ] {
        let run = gitops_bot(&["bump", "--local", dir, "--image", image]);
        assert_eq!(run.code, 2, "{image}: {}", run.stderr);
        assert!(
            run.stderr.to_lowercase().contains(says),
            "{image}: {}",
            run.stderr
        );
    }
    let run = gitops_bot(&["bump", "--image", "x:1"]);
    assert_eq!(run.code, 2);
    let run = gitops_bot(&["bump", "--local", dir, "--image", "x:1", "--setter", "Bad"]);
    assert_eq!(run.code, 2);
}

#[test]
fn invalid_yaml_is_reported_with_position_and_other_files_still_change() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.yaml", "containers:\n- image: app:1\n");
    write(
        dir.path(),
        "broken.yaml",
        "containers:\n- image: app:1\n  - x: [\n",
    );
    let run = gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        "app:2",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: broken.yaml:3:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("not valid YAML"), "{}", run.stderr);
    assert_eq!(read(dir.path(), "ok.yaml"), "containers:\n- image: app:2\n");
    assert_eq!(
        read(dir.path(), "broken.yaml"),
        "containers:\n- image: app:1\n  - x: [\n"
    );
}

#[test]
fn strict_turns_warnings_into_failure_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.yaml", "containers:\n- image: app:1\n");
    write(
        dir.path(),
        "broken.yaml",
        "containers:\n- image: app:1\n  - x: [\n",
    );
    let run = gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        "app:2",
        "--strict",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--strict"), "{}", run.stderr);
    assert_eq!(read(dir.path(), "ok.yaml"), "containers:\n- image: app:1\n");
}

#[test]
fn skips_git_dir_non_utf8_huge_files_and_links_leaving_the_repo() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    write(
        outside.path(),
        "secret.yaml",
        "containers:\n- image: app:1\n",
    );
    write(dir.path(), "a.yaml", "containers:\n- image: app:1\n");
    write(dir.path(), ".git/x.yaml", "containers:\n- image: app:1\n");
    write(
        dir.path(),
        "latin1.yaml",
        b"containers:\n- image: app:1 # caf\xe9\n",
    );
    let big = format!(
        "containers:\n- image: app:1\n#{}\n",
        "x".repeat(10 * 1024 * 1024)
    );
    write(dir.path(), "big.yaml", big.as_bytes());
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        dir.path().join("link.yaml"),
    )
    .unwrap();
    let run = gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        "app:2",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("1 reference updated in 1 file (0 already current)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("warning: latin1.yaml: not UTF-8; skipped"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("warning: big.yaml: "), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("warning: link.yaml: symbolic link leading outside"),
        "{}",
        run.stderr
    );
    assert_eq!(
        read(dir.path(), ".git/x.yaml"),
        "containers:\n- image: app:1\n"
    );
    assert_eq!(
        read(outside.path(), "secret.yaml"),
        "containers:\n- image: app:1\n"
    );
}

#[test]
fn path_limits_the_search_and_cannot_escape() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "envs/prod/a.yaml",
        "containers:\n- image: app:1\n",
    );
    write(
        dir.path(),
        "envs/dev/a.yaml",
        "containers:\n- image: app:1\n",
    );
    let d = dir.path().to_str().unwrap();
    let run = gitops_bot(&[
        "bump",
        "--local",
        d,
        "--path",
        "envs/prod",
        "--image",
        "app:2",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "envs/prod/a.yaml"),
        "containers:\n- image: app:2\n"
    );
    assert_eq!(
        read(dir.path(), "envs/dev/a.yaml"),
        "containers:\n- image: app:1\n"
    );
    // Outside the repository: a usage error (2); a directory that is not there: a failure (1).
    let run = gitops_bot(&["bump", "--local", d, "--path", "../", "--image", "app:2"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--path"), "{}", run.stderr);
    let run = gitops_bot(&["bump", "--local", d, "--path", "nope", "--image", "app:2"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("--path nope does not exist"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_output_lists_changes_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.yaml",
        "containers:\n- image: app:1\nimage:\n  repository: app\n",
    );
    // Only files that mention the image are parsed, so only those can warn.
    write(dir.path(), "b.yml", "containers: [app\n");
    write(dir.path(), "c.yml", "unrelated: [\n");
    let run = gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        "app:2",
        "--output",
        "json",
        "--dry-run",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["changes"][0]["file"], "a.yaml");
    assert_eq!(v["changes"][0]["line"], 2);
    assert_eq!(v["changes"][0]["column"], 10);
    assert_eq!(v["changes"][0]["form"], "container");
    assert_eq!(v["changes"][0]["old"], "app:1");
    assert_eq!(v["changes"][0]["new"], "app:2");
    assert_eq!(v["skipped"][0]["form"], "helm-values");
    assert_eq!(v["warnings"][0]["file"], "b.yml");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
    assert_eq!(v["files_searched"], 3);
    assert!(v["diff"].as_str().unwrap().contains("+- image: app:2"));
    assert_eq!(
        read(dir.path(), "a.yaml"),
        "containers:\n- image: app:1\nimage:\n  repository: app\n"
    );
}

#[test]
fn setter_mode_changes_only_marked_fields() {
    let dir = tempfile::tempdir().unwrap();
    let text = "containers:\n- image: ghcr.io/a/b:1.0 # {\"$imagepolicy\": \"flux-system:b\"}\n- image: ghcr.io/a/b:1.0\n";
    write(dir.path(), "a.yaml", text);
    let run = gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        "ghcr.io/a/b:1.1",
        "--setter",
        "flux-system:b",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "a.yaml"),
        text.replacen("b:1.0", "b:1.1", 1)
    );
}

#[test]
fn helm_templates_are_counted_and_their_mentions_of_the_image_listed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "chart/templates/d.yaml",
        "spec:\n  {{- if .Values.app }}\n  containers:\n  - image: {{ .Values.app }}\n  {{- end }}\n",
    );
    let run = gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        "app:2",
    ]);
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("in the 1 YAML file searched (1 Go/Helm template skipped)"),
        "{}",
        run.stderr
    );

    // A templated document that names the image is listed with its reason, and only that
    // document is skipped: the plain documents of the same file are bumped.
    write(
        dir.path(),
        "chart/templates/d.yaml",
        "kind: Pod\nspec:\n  containers:\n  - image: app:1\n---\nspec:\n  {{- if .Values.x }}\n  containers:\n  - image: app:1\n  {{- end }}\n",
    );
    let run = bump_json(dir.path(), "app:2", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    assert_eq!(report["changes"][0]["line"], 4, "{report}");
    assert_eq!(report["skipped"][0]["line"], 9, "{report}");
    assert_eq!(report["skipped"][0]["form"], "mention", "{report}");
    assert!(
        report["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("lines 5-10, which holds Go/Helm template actions"),
        "{report}"
    );
    assert_eq!(
        read(dir.path(), "chart/templates/d.yaml"),
        "kind: Pod\nspec:\n  containers:\n  - image: app:2\n---\nspec:\n  {{- if .Values.x }}\n  containers:\n  - image: app:1\n  {{- end }}\n"
    );
}

#[test]
fn overlapping_paths_examine_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "envs/prod/a.yaml",
        "containers:\n- image: app:1\n",
    );
    let d = dir.path().to_str().unwrap();
    let run = gitops_bot(&[
        "bump",
        "--local",
        d,
        "--path",
        "envs",
        "--path",
        "envs/prod",
        "--path",
        "envs/",
        "--image",
        "app:2",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("1 reference updated in 1 file"),
        "{}",
        run.stdout
    );
}

#[test]
fn usage_errors_found_after_parsing_exit_2_and_failures_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "envs/prod/a.yaml",
        "containers:\n- image: app:1\n",
    );
    write(
        dir.path(),
        ".gitops-bot.yaml",
        "environments:\n  prod:\n    paths: [envs/prod]\n  dev:\n    paths: [envs/dev]\n",
    );
    let d = dir.path().to_str().unwrap();
    let bump = |extra: &[&str]| {
        let mut args = vec!["bump", "--local", d, "--image", "app:2"];
        args.extend_from_slice(extra);
        gitops_bot(&args)
    };

    let run = bump(&["--path", "../x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "error: --path: path \"../x\" must be relative to the repository root, without '..'\n"
    );
    let run = bump(&["--path", "/etc"]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    let run = bump(&["--environment", "stage"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "error: unknown environment \"stage\"; .gitops-bot.yaml defines: dev, prod\n"
    );

    // Runtime failures stay 1: the image is nowhere, an environment path is missing.
    let run = gitops_bot(&["bump", "--local", d, "--image", "other:2"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let run = bump(&["--environment", "dev"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "envs/prod/a.yaml"),
        "containers:\n- image: app:1\n"
    );
}

#[test]
fn local_given_a_file_says_it_takes_the_directory() {
    let repo = example_repo();
    let file = repo.join("base/deployment.yml");
    let before = snapshot(&repo);
    let run = gitops_bot(&[
        "bump",
        "--local",
        file.to_str().unwrap(),
        "--image",
        &format!("{IMAGE}:ci-35"),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "error: --local takes the config repository's directory; {} is a file\n",
            file.display()
        )
    );
    assert_eq!(snapshot(&repo), before);

    let missing = repo.join("no-such-dir");
    let run = gitops_bot(&[
        "bump",
        "--local",
        missing.to_str().unwrap(),
        "--image",
        &format!("{IMAGE}:ci-35"),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!("error: --local {}: no such directory\n", missing.display())
    );
}

#[test]
fn environment_without_a_config_file_names_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", "containers:\n- image: app:1\n");
    let d = dir.path().to_str().unwrap();
    let run = gitops_bot(&[
        "bump",
        "--local",
        d,
        "--image",
        "app:2",
        "--environment",
        "prod",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!("error: no .gitops-bot.yaml in {d} to define environment \"prod\"\n")
    );
    assert_eq!(read(dir.path(), "a.yaml"), "containers:\n- image: app:1\n");
}

#[test]
fn counts_are_singular_for_one() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", "containers:\n- image: app:1\n");
    let run = gitops_bot(&[
        "bump",
        "--local",
        dir.path().to_str().unwrap(),
        "--image",
        "other:2",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: other:2 is referenced nowhere in the 1 YAML file searched\n"
    );
}

#[test]
fn json_lines_point_at_the_changed_kustomize_and_helm_lines() {
    let dir = tempfile::tempdir().unwrap();
    // The name is on line 3; the bytes that change are newTag on line 5.
    write(
        dir.path(),
        "kustomization.yaml",
        "images:\n  # the app\n  - name: app\n    newName: app\n    newTag: \"1\"\n",
    );
    // The repository is on line 2; the tag on line 4.
    write(
        dir.path(),
        "values.yaml",
        "image:\n  repository: app\n  pullPolicy: Always\n  tag: \"1\"\n",
    );
    let run = bump_json(dir.path(), "app:2", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    let at = |i: usize| {
        let c = &v["changes"][i];
        format!(
            "{}:{}:{}",
            c["file"].as_str().unwrap(),
            c["line"],
            c["column"]
        )
    };
    assert_eq!(at(0), "kustomization.yaml:5:13");
    assert_eq!(at(1), "values.yaml:4:8");
}
