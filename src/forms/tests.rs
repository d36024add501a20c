//! Edit tests: each asserts the exact bytes after a bump.

use crate::bump::bump_file;
use crate::forms::Target;
use crate::image_ref::ImageRef;

fn target(image: &str) -> Target {
    Target {
        image: ImageRef::parse(image).unwrap(),
        setter: None,
    }
}

/// The edited text (the input itself when nothing changes).
fn bumped(text: &str, image: &str) -> String {
    bump_with(text, &target(image))
}

fn bump_with(text: &str, target: &Target) -> String {
    let result = bump_file(text, target).unwrap();
    let out = result.edited.clone().unwrap_or_else(|| text.to_string());
    // A second run over the result changes nothing.
    let again = bump_file(&out, target).unwrap();
    assert!(
        again.changes.is_empty(),
        "not idempotent: {:?}",
        again.changes
    );
    out
}

fn skipped_reasons(text: &str, image: &str) -> Vec<String> {
    bump_file(text, &target(image))
        .unwrap()
        .skipped
        .into_iter()
        .filter_map(|k| k.reason)
        .collect()
}

#[test]
fn container_image_keeps_comments_quotes_and_spelling() {
    let text = "spec:\n  containers:\n  - name: a # x\n    image: \"nginx:1.25\"   # pinned\n  initContainers:\n  - {name: b, image: 'docker.io/library/nginx:1.25'}\n";
    assert_eq!(
        bumped(text, "nginx:1.26"),
        "spec:\n  containers:\n  - name: a # x\n    image: \"nginx:1.26\"   # pinned\n  initContainers:\n  - {name: b, image: 'docker.io/library/nginx:1.26'}\n"
    );
}

#[test]
fn cronjob_and_crd_pod_specs_at_any_depth() {
    let text = "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - image: ghcr.io/a/b:1\n---\nkind: Rollout\nspec:\n  template:\n    spec:\n      ephemeralContainers:\n        - image: ghcr.io/a/b:1\n";
    assert_eq!(bumped(text, "ghcr.io/a/b:2"), text.replace("b:1", "b:2"));
}

#[test]
fn other_repositories_and_similar_names_are_untouched() {
    let text = "containers:\n- image: ghcr.io/a/b-extra:1\n- image: ghcr.io/a/bb:1\n- image: other.io/a/b:1\n- image: ghcr.io/a/b:1\n";
    assert_eq!(
        bumped(text, "ghcr.io/a/b:2"),
        "containers:\n- image: ghcr.io/a/b-extra:1\n- image: ghcr.io/a/bb:1\n- image: other.io/a/b:1\n- image: ghcr.io/a/b:2\n"
    );
}

#[test]
fn docker_hub_spellings_are_one_repository_but_registries_with_ports_differ() {
    let text = "a: {image: nginx:1}\nb: {image: library/nginx:1}\nc: {image: index.docker.io/library/nginx:1}\nd: {image: 127.0.0.1:5000/nginx:1}\n";
    assert_eq!(
        bumped(text, "docker.io/library/nginx:2"),
        "a: {image: nginx:2}\nb: {image: library/nginx:2}\nc: {image: index.docker.io/library/nginx:2}\nd: {image: 127.0.0.1:5000/nginx:1}\n"
    );
    let text = "a: {image: 127.0.0.1:5000/debian:1}\nb: {image: 127.0.0.1:5000/library/debian:1}\n";
    assert_eq!(
        bumped(text, "127.0.0.1:5000/debian:2"),
        "a: {image: 127.0.0.1:5000/debian:2}\nb: {image: 127.0.0.1:5000/library/debian:1}\n"
    );
}

#[test]
fn digests_are_written_dropped_or_kept() {
    let d1 = format!("sha256:{}", "1".repeat(64));
    let d2 = format!("sha256:{}", "2".repeat(64));
    let text = format!("containers:\n- image: x.io/app:1@{d1}\n");
    // A new tag drops the stale digest.
    assert_eq!(
        bumped(&text, "x.io/app:2"),
        "containers:\n- image: x.io/app:2\n"
    );
    // Tag and digest are both written.
    assert_eq!(
        bumped(&text, &format!("x.io/app:2@{d2}")),
        format!("containers:\n- image: x.io/app:2@{d2}\n")
    );
    // The same tag keeps a digest someone pinned.
    assert_eq!(bumped(&text, "x.io/app:1"), text);
    // A bare name gains a tag.
    assert_eq!(
        bumped("containers:\n- image: app\n", "app:2"),
        "containers:\n- image: app:2\n"
    );
}

#[test]
fn crlf_bom_missing_newline_and_trailing_spaces_survive() {
    let text = "\u{feff}containers:\r\n  - image: app:1  \r\n    name: x\r\n# end";
    assert_eq!(bumped(text, "app:2"), text.replace("app:1", "app:2"));
}

#[test]
fn multi_document_files_and_document_markers() {
    let text = "# head\n---\na: 1\n...\n---\ncontainers: [{image: app:1}]\n---\n";
    assert_eq!(bumped(text, "app:2"), text.replace("app:1", "app:2"));
}

#[test]
fn anchored_scalar_is_edited_once_and_aliases_follow() {
    let text = "x: &img app:1\ncontainers:\n- image: *img\n- image: *img\n";
    let result = bump_file(text, &target("app:2")).unwrap();
    assert_eq!(result.changes.len(), 1);
    assert_eq!(
        result.edited.unwrap(),
        "x: &img app:1\ncontainers:\n- image: *img\n- image: *img\n"
            .replace("&img app:1", "&img app:2")
    );
    let text = "base: &image\n  repository: ghcr.io/a/b\n  tag: v1\napp:\n  image: *image\nside:\n  image: *image\n";
    let result = bump_file(text, &target("ghcr.io/a/b:v2")).unwrap();
    assert_eq!(result.changes.len(), 1);
    assert_eq!(result.edited.unwrap(), text.replace("v1", "v2"));
}

#[test]
fn templated_and_invalid_references_are_never_edited() {
    for text in [
        "containers:\n- image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n",
        "containers:\n- image: app:${TAG}\n",
        "containers:\n- image: <image_url>\n",
        "containers:\n- image: APP:1\n",
        "containers:\n- image: |\n    app:1\n",
    ] {
        assert_eq!(bumped(text, "app:2"), text);
    }
}

#[test]
fn helm_values_with_registry_tag_and_digest() {
    let d = format!("sha256:{}", "a".repeat(64));
    let text = "image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.29.1-debian-12-r0\n  digest: \"\"\n";
    assert_eq!(
        bumped(text, "bitnami/nginx:1.30.0"),
        text.replace("1.29.1-debian-12-r0", "1.30.0")
    );
    assert_eq!(
        bumped(text, &format!("bitnami/nginx:1.30.0@{d}")),
        text.replace("1.29.1-debian-12-r0", "1.30.0")
            .replace("\"\"", &format!("\"{d}\""))
    );
    // A stale digest is emptied in its own quoting.
    let pinned = text.replace("\"\"", &d);
    assert_eq!(
        bumped(&pinned, "bitnami/nginx:1.30.0"),
        text.replace("1.29.1-debian-12-r0", "1.30.0")
    );
}

#[test]
fn helm_digest_inside_tag_and_mapping_not_named_image() {
    let d1 = format!("sha256:{}", "1".repeat(64));
    let d2 = format!("sha256:{}", "2".repeat(64));
    let text = format!("redis:\n  repository: ghcr.io/x/redis # c\n  tag: 8.6.2@{d1}\n");
    assert_eq!(
        bumped(&text, &format!("ghcr.io/x/redis:8.7.0@{d2}")),
        format!("redis:\n  repository: ghcr.io/x/redis # c\n  tag: 8.7.0@{d2}\n")
    );
    assert_eq!(
        bumped(&text, "ghcr.io/x/redis:8.7.0"),
        "redis:\n  repository: ghcr.io/x/redis # c\n  tag: 8.7.0\n"
    );
}

#[test]
fn numeric_looking_tags_stay_strings() {
    assert_eq!(
        bumped("image: {repository: adminer, tag: \"5\"}\n", "adminer:6"),
        "image: {repository: adminer, tag: \"6\"}\n"
    );
    assert_eq!(
        bumped("image:\n  repository: app\n  tag: v1\n", "app:1.10"),
        "image:\n  repository: app\n  tag: \"1.10\"\n"
    );
    assert_eq!(
        bumped("image:\n  repository: app\n  tag: 1.9\n", "app:1.10"),
        "image:\n  repository: app\n  tag: \"1.10\"\n"
    );
}

#[test]
fn helm_mapping_without_tag_is_reported_not_edited() {
    let text = "image:\n  repository: app\n  pullPolicy: Always\n";
    assert_eq!(bumped(text, "app:2"), text);
    assert_eq!(skipped_reasons(text, "app:2").len(), 1);
}

#[test]
fn kustomize_images_replace_insert_and_drop_digest() {
    let text = "images:\n  - name: app\n    newName: x.io/app\n    newTag: v1\n  - name: other\n    newTag: v1\n";
    assert_eq!(bumped(text, "x.io/app:v2"), text.replacen("v1", "v2", 1));
    // The effective name is newName: the old name no longer matches.
    assert_eq!(bumped(text, "app:v2"), text);
    let text =
        "images:\n- name: redis\n  newName: public.ecr.aws/docker/library/redis\nresources: []\n";
    assert_eq!(
        bumped(text, "public.ecr.aws/docker/library/redis:8"),
        "images:\n- name: redis\n  newName: public.ecr.aws/docker/library/redis\n  newTag: \"8\"\nresources: []\n"
    );
    let d = format!("sha256:{}", "d".repeat(64));
    let text = format!("images:\r\n- name: app # c\r\n  digest: {d}\r\n  newTag: v1\r\n");
    assert_eq!(
        bumped(&text, "app:v2"),
        "images:\r\n- name: app # c\r\n  newTag: v2\r\n"
    );
    assert_eq!(
        bumped("images:\n- {name: app, newTag: v1}", &format!("app:v2@{d}")),
        format!("images:\n- {{name: app, newTag: v2, digest: {d}}}")
    );
    assert_eq!(
        bumped("images:\n- name: app\n  newName: app", "app:v2"),
        "images:\n- name: app\n  newName: app\n  newTag: v2"
    );
}

#[test]
fn argocd_kustomize_image_strings_with_alias() {
    let text = "kind: Application\nspec:\n  source:\n    kustomize:\n      images:\n      - quay.io/x/e2e:0.2\n      - 'my-app=gcr.io/my-repo/my-app:0.1'\n";
    assert_eq!(
        bumped(text, "gcr.io/my-repo/my-app:0.2"),
        text.replace("my-app:0.1", "my-app:0.2")
    );
    assert_eq!(
        bumped(text, "quay.io/x/e2e:0.3"),
        text.replace("e2e:0.2", "e2e:0.3")
    );
}

#[test]
fn flux_setters_change_exactly_the_marked_fields() {
    let text = "image:\n  repository: ghcr.io/a/b # {\"$imagepolicy\": \"flux-system:b:name\"}\n  tag: 1.0 # {\"$imagepolicy\": \"flux-system:b:tag\"}\ncontainers:\n- image: ghcr.io/a/b:1.0 # {\"$imagepolicy\": \"flux-system:b\"}\n- image: ghcr.io/a/b:1.0\n";
    let t = Target {
        image: ImageRef::parse("ghcr.io/a/b:1.1").unwrap(),
        setter: Some("flux-system:b".into()),
    };
    assert_eq!(
        bump_with(text, &t),
        text.replacen("tag: 1.0", "tag: \"1.1\"", 1)
            .replacen("b:1.0 #", "b:1.1 #", 1)
    );
    let other = Target {
        setter: Some("flux-system:other".into()),
        ..t
    };
    assert_eq!(bump_with(text, &other), text);
}

#[test]
fn invalid_yaml_is_an_error_with_a_position() {
    let err = bump_file("a: [\n", &target("app:1")).unwrap_err();
    assert!(err.to_string().contains("not valid YAML"), "{err}");
}

/// `line:column` of each change, as reported.
fn change_positions(text: &str, target: &Target) -> Vec<String> {
    bump_file(text, target)
        .unwrap()
        .changes
        .iter()
        .map(|c| format!("{}:{}", c.line, c.column))
        .collect()
}

#[test]
fn reported_lines_are_the_lines_whose_bytes_change() {
    let d = format!("sha256:{}", "d".repeat(64));
    let cases: Vec<(&str, String, String, Vec<&str>)> = vec![
        (
            "container image",
            "containers:\n- name: a\n  image: app:1\n".into(),
            "app:2".into(),
            vec!["3:10"],
        ),
        (
            "image field after an anchor",
            "catalog:\n  image: &i app:1\n".into(),
            "app:2".into(),
            vec!["2:13"],
        ),
        (
            "kustomize newTag, not the name",
            "images:\n  - name: app\n    newName: app\n    newTag: v1\n".into(),
            "app:v2".into(),
            vec!["4:13"],
        ),
        (
            "kustomize digest only",
            format!(
                "images:\n- name: app\n  newTag: v1\n  digest: sha256:{}\n",
                "1".repeat(64)
            ),
            format!("app:v1@{d}"),
            vec!["4:11"],
        ),
        (
            "kustomize newTag inserted after the last key",
            "images:\n- name: app\n  newName: app\nresources: []\n".into(),
            "app:v2".into(),
            vec!["4:1"],
        ),
        (
            "kustomize newTag inserted at the end of a file without final newline",
            "images:\n- name: app\n  newName: app".into(),
            "app:v2".into(),
            vec!["4:1"],
        ),
        (
            "kustomize stale digest removed before the new tag",
            format!("images:\n- name: app\n  digest: {d}\n  newTag: v1\n"),
            "app:v2".into(),
            vec!["3:1"],
        ),
        (
            "kustomize flow entry",
            "images:\n- {name: app, newTag: v1}\n".into(),
            "app:v2".into(),
            vec!["2:23"],
        ),
        (
            "helm tag, not the repository",
            "image:\n  repository: app\n  pullPolicy: Always\n  tag: v1\n".into(),
            "app:v2".into(),
            vec!["4:8"],
        ),
        (
            "helm digest only",
            "image:\n  repository: app\n  tag: v1\n  digest: \"\"\n".into(),
            format!("app:v1@{d}"),
            vec!["4:11"],
        ),
        (
            "argocd alias string",
            "spec:\n  source:\n    kustomize:\n      images:\n      - 'a=app:1'\n".into(),
            "app:2".into(),
            vec!["5:9"],
        ),
        (
            "line numbers after a BOM and CRLF",
            "\u{feff}images:\r\n- name: app\r\n  newTag: v1\r\n".into(),
            "app:v2".into(),
            vec!["3:11"],
        ),
    ];
    for (what, text, image, want) in cases {
        assert_eq!(change_positions(&text, &target(&image)), want, "{what}");
    }
    let setter = Target {
        image: ImageRef::parse("ghcr.io/a/b:1.1").unwrap(),
        setter: Some("flux-system:b".into()),
    };
    assert_eq!(
        change_positions(
            "image:\n  repository: ghcr.io/a/b\n  tag: 1.0 # {\"$imagepolicy\": \"flux-system:b:tag\"}\n",
            &setter
        ),
        ["3:8"],
        "flux setter"
    );
}
