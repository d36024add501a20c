//! `promote` through the real binary, against the fake GitLab: the config repo (dev →
//! staging → prod, three images in kustomize overlays) and the deployment records `sync`
//! leaves, some aged into the past so that a soak has passed.

use crate::common;
use crate::fake_gitlab;
use crate::mr_thread::{OPERATOR, mr, poll, replies};

use std::time::Duration;

use chrono::DateTime;
use common::Run;
use fake_gitlab::{FakeGitlab, Fault, Options, Rule};
use serde_json::{Value, json};

const PROJECT: &str = "group/helloworld-ops";
const CONFIG: &str = "\
operators: [operator]
environments:
  dev:
    paths: [envs/dev]
  staging:
    paths: [envs/staging]
    promote_from: dev
  prod:
    paths: [envs/prod]
    promote_from: staging
    soak: 30m
";

const REGISTRY: &str = "registry.example.com/team";

/// A kustomize overlay setting api, web and worker to these tags.
fn overlay(api: &str, web: &str, worker: &str) -> String {
    format!(
        "resources: [../../base]\nimages:\n  - name: {REGISTRY}/api\n    newTag: {api}\n  - name: {REGISTRY}/web\n    newTag: {web}\n  - name: {REGISTRY}/worker\n    newTag: {worker}\n"
    )
}

struct World {
    gitlab: FakeGitlab,
    head: String,
    _seed: tempfile::TempDir,
}

/// dev and staging run ci-40/41/42, prod ci-30/31/32.
fn world() -> World {
    let seed = tempfile::tempdir().unwrap();
    common::write(seed.path(), ".gitops-bot.yaml", CONFIG);
    common::write(
        seed.path(),
        "base/deployment.yaml",
        format!(
            "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: {REGISTRY}/api:ci-1\n"
        ),
    );
    for (env, tags) in [
        ("dev", ("ci-40", "ci-41", "ci-42")),
        ("staging", ("ci-40", "ci-41", "ci-42")),
        ("prod", ("ci-30", "ci-31", "ci-32")),
    ] {
        common::write(
            seed.path(),
            &format!("envs/{env}/kustomization.yaml"),
            overlay(tags.0, tags.1, tags.2),
        );
    }
    let gitlab = FakeGitlab::start(Options {
        seed_dir: Some(seed.path().to_path_buf()),
        ..Options::default()
    });
    let head = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    World {
        gitlab,
        head,
        _seed: seed,
    }
}

fn promote(w: &World, extra: &[&str]) -> Run {
    let mut args = vec!["promote", "--project", PROJECT];
    args.extend_from_slice(extra);
    let cmd = common::bot_command(&w.gitlab.url(), w.gitlab.token(), &args);
    common::run_without_leaking(cmd, w.gitlab.token())
}

fn promote_json(w: &World, extra: &[&str]) -> Value {
    let mut args = vec!["--output", "json"];
    args.extend_from_slice(extra);
    let run = promote(w, &args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    common::json(&run)
}

/// The report of `environment` in a JSON answer.
fn report<'v>(answer: &'v Value, environment: &str) -> &'v Value {
    answer["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["environment"] == environment)
        .unwrap_or_else(|| panic!("no {environment} in {answer:#}"))
}

const HALF_HOUR: Duration = Duration::from_secs(30 * 60);

#[test]
fn before_the_soak_nothing_is_proposed_and_the_output_says_when() {
    let w = world();
    let id = w.gitlab.add_deployment("staging", &w.head, "success");
    let run = promote(&w, &["--environment", "prod"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with(
            "prod ← staging: nothing proposed: soak of 30m not met: staging healthy since "
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("; eligible at "), "{}", run.stdout);

    let answer = promote_json(&w, &["--environment", "prod"]);
    let prod = report(&answer, "prod");
    assert_eq!(prod["state"], "soaking");
    let d = &prod["deployment"];
    assert_eq!(d["id"], json!(id));
    assert_eq!(d["sha"], json!(w.head));
    assert_eq!(d["soak_met"], json!(false));
    let at = |k: &str| DateTime::parse_from_rfc3339(d[k].as_str().unwrap()).unwrap();
    assert_eq!(
        (at("soak_met_at") - at("healthy_since")).num_seconds(),
        30 * 60,
        "eligible exactly one soak after turning healthy: {d}"
    );
    assert_eq!(prod["images"], json!([]));
    assert!(w.gitlab.writes().is_empty(), "promote writes nothing");
}

#[test]
fn after_the_soak_three_images_are_computed_in_one_promotion() {
    let w = world();
    let id = w.gitlab.add_deployment("staging", &w.head, "success");
    w.gitlab
        .age_deployment(id, HALF_HOUR + Duration::from_secs(60));
    let run = promote(&w, &["--environment", "prod"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "prod ← staging: promote 3 images (deployment {id} of {}, healthy since ",
            &w.head[..12]
        )),
        "{}",
        run.stdout
    );
    assert!(lines[0].ends_with(", soak 30m met)"), "{}", run.stdout);
    assert_eq!(
        lines[1..],
        [
            format!("  {REGISTRY}/api: ci-30 → ci-40"),
            format!("  {REGISTRY}/web: ci-31 → ci-41"),
            format!("  {REGISTRY}/worker: ci-32 → ci-42"),
            format!(
                "  created merge request !1: {}",
                mr(&w.gitlab, 1)["web_url"].as_str().unwrap()
            ),
        ]
    );
}

#[test]
fn the_json_answer_has_one_report_per_promoted_environment() {
    let w = world();
    let staging = w.gitlab.add_deployment("staging", &w.head, "success");
    w.gitlab.age_deployment(staging, Duration::from_secs(3600));
    w.gitlab.add_deployment("dev", &w.head, "success");
    let answer = promote_json(&w, &[]);
    assert_eq!(answer["head"], json!(w.head));
    let names: Vec<&str> = answer["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["environment"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["prod", "staging"],
        "every environment with promote_from"
    );

    let staging_report = report(&answer, "staging");
    assert_eq!(staging_report["state"], "up-to-date");
    assert_eq!(staging_report["promote_from"], "dev");

    let prod = report(&answer, "prod");
    let deployment = &prod["deployment"];
    assert_eq!(
        prod,
        &json!({
            "environment": "prod",
            "promote_from": "staging",
            "state": "promotion",
            "reason": null,
            "deployment": {
                "id": staging,
                "sha": w.head,
                "healthy_since": deployment["healthy_since"],
                "soak_seconds": 1800,
                "soak_met_at": deployment["soak_met_at"],
                "soak_met": true,
            },
            "images": [
                {"repository": format!("{REGISTRY}/api"), "name": format!("{REGISTRY}/api"), "from": ["ci-30"], "to": "ci-40"},
                {"repository": format!("{REGISTRY}/web"), "name": format!("{REGISTRY}/web"), "from": ["ci-31"], "to": "ci-41"},
                {"repository": format!("{REGISTRY}/worker"), "name": format!("{REGISTRY}/worker"), "from": ["ci-32"], "to": "ci-42"},
            ],
            "skipped": [],
            "moved": [],
            "warnings": [],
            "proposal": {
                "action": "created",
                "branch": "gitops-bot/prod/promote",
                "merge_request": {"iid": 1, "url": prod["proposal"]["merge_request"]["url"]},
                "would_write": null,
            },
        })
    );
}

#[test]
fn a_failed_latest_deployment_of_the_source_proposes_nothing() {
    let w = world();
    let ok = w.gitlab.add_deployment("staging", &w.head, "success");
    w.gitlab.age_deployment(ok, Duration::from_secs(3600));
    let failed = w.gitlab.add_deployment("staging", &w.head, "failed");
    let run = promote(&w, &["--environment", "prod"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "prod ← staging: nothing proposed: the latest deployment of staging ({failed}, commit {}) is failed, not success\n",
            &w.head[..12]
        )
    );
    let answer = promote_json(&w, &["--environment", "prod"]);
    assert_eq!(report(&answer, "prod")["state"], "source-not-healthy");
}

#[test]
fn a_source_that_moved_to_other_versions_since_proposes_nothing() {
    let w = world();
    let ok = w.gitlab.add_deployment("staging", &w.head, "success");
    w.gitlab.age_deployment(ok, Duration::from_secs(3600));
    w.gitlab.commit_files(
        "main",
        &[(
            "envs/staging/kustomization.yaml",
            &overlay("ci-50", "ci-41", "ci-42"),
        )],
        "staging: api ci-50",
    );
    let run = promote(&w, &["--environment", "prod"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "prod ← staging: nothing proposed: staging has moved on since its healthy deployment {ok} (commit {}): {REGISTRY}/api deployed ci-40, now ci-50\n",
            &w.head[..12]
        )
    );
    let answer = promote_json(&w, &["--environment", "prod"]);
    let prod = report(&answer, "prod");
    assert_eq!(prod["state"], "source-moved-on");
    assert_eq!(
        prod["moved"],
        json!([{"repository": format!("{REGISTRY}/api"), "deployed": ["ci-40"], "now": ["ci-50"]}])
    );
}

#[test]
fn the_promotion_rests_on_the_deployed_commit_not_the_head() {
    // staging is healthy at the seed; a later commit changes only prod: the promotion reads
    // staging at its deployment and prod at the head.
    let w = world();
    let ok = w.gitlab.add_deployment("staging", &w.head, "success");
    w.gitlab.age_deployment(ok, Duration::from_secs(3600));
    w.gitlab.commit_files(
        "main",
        &[(
            "envs/prod/kustomization.yaml",
            &overlay("ci-40", "ci-31", "ci-32"),
        )],
        "prod: api ci-40 by hand",
    );
    let answer = promote_json(&w, &["--environment", "prod"]);
    let images = &report(&answer, "prod")["images"];
    let moved: Vec<&str> = images
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        moved,
        [format!("{REGISTRY}/web"), format!("{REGISTRY}/worker")]
    );
}

#[test]
fn usage_errors_and_read_failures_have_their_exit_codes() {
    let w = world();
    let run = promote(&w, &["--environment", "qa"]);
    assert_eq!(run.code, 2, "unknown environment: {}", run.stderr);
    let run = promote(&w, &["--environment", "dev"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("dev has no promote_from"),
        "{}",
        run.stderr
    );

    w.gitlab
        .inject(Rule::new("GET", "/deployments", Fault::status(500)).always());
    let run = promote(&w, &["--environment", "prod"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("cannot read the deployments of staging"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_says_it_opens_the_promotion_merge_request() {
    let run = common::gitops_bot(&["promote", "--help"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for said in [
        "open or update its single promotion merge request",
        "--dry-run",
        "Rerunning with the same versions writes nothing",
    ] {
        assert!(run.stdout.contains(said), "{said}: {}", run.stdout);
    }
}

#[test]
fn an_image_only_the_source_references_is_skipped_never_added() {
    let w = world();
    let ok = w.gitlab.add_deployment("staging", &w.head, "success");
    w.gitlab.age_deployment(ok, Duration::from_secs(3600));
    let prod =
        format!("resources: [../../base]\nimages:\n  - name: {REGISTRY}/api\n    newTag: ci-30\n");
    w.gitlab.commit_files(
        "main",
        &[("envs/prod/kustomization.yaml", prod.as_str())],
        "prod: api only",
    );
    let run = promote(&w, &["--environment", "prod"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].contains("promote 1 image "), "{}", run.stdout);
    assert_eq!(
        lines[1..],
        [
            format!("  {REGISTRY}/api: ci-30 → ci-40"),
            format!(
                "  created merge request !1: {}",
                mr(&w.gitlab, 1)["web_url"].as_str().unwrap()
            ),
            format!(
                "  skipped {REGISTRY}/web: not referenced by the target: a promotion changes versions, it never adds an image"
            ),
            format!(
                "  skipped {REGISTRY}/worker: not referenced by the target: a promotion changes versions, it never adds an image"
            ),
        ]
    );
}

// Proposing: the promotion merge request.

/// staging healthy at the seed for an hour: prod's soak has passed.
fn soaked() -> (World, u64) {
    let w = world();
    let id = w.gitlab.add_deployment("staging", &w.head, "success");
    w.gitlab.age_deployment(id, Duration::from_secs(3600));
    (w, id)
}

const BRANCH: &str = "gitops-bot/prod/promote";

fn commits_on(w: &World, branch: &str) -> String {
    w.gitlab
        .git(&["rev-list", "--count", &format!("main..{branch}")])
        .trim()
        .to_string()
}

fn prod_file(w: &World, rev: &str) -> String {
    String::from_utf8(w.gitlab.file(rev, "envs/prod/kustomization.yaml").unwrap()).unwrap()
}

#[test]
fn a_due_promotion_opens_one_merge_request_with_three_images_in_one_commit_and_the_evidence() {
    let (w, id) = soaked();
    let run = promote(&w, &["--environment", "prod"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        w.gitlab.writes().len(),
        2,
        "one commit, one merge request: {:#?}",
        w.gitlab.writes()
    );

    let mrs = w.gitlab.merge_requests();
    assert_eq!(mrs.len(), 1);
    let m = &mrs[0];
    assert_eq!(m["title"], "Promote 3 images from staging to prod");
    assert_eq!(m["source_branch"], BRANCH);
    assert_eq!(commits_on(&w, BRANCH), "1");
    assert_eq!(prod_file(&w, BRANCH), overlay("ci-40", "ci-41", "ci-42"));

    let description = m["description"].as_str().unwrap();
    for said in [
        "### Promotion from `staging` to `prod`".to_string(),
        format!("deployment {id} of commit `{}`", &w.head[..12]),
        "`30m` required, met at `".to_string(),
        format!("| `{REGISTRY}/api` | `ci-30` | `ci-40` | unknown |"),
        format!("| `{REGISTRY}/worker` | `ci-32` | `ci-42` | unknown |"),
    ] {
        assert!(description.contains(&said), "{said}\n{description}");
    }
    let record = description
        .lines()
        .find(|l| l.starts_with("<!-- gitops-bot:"))
        .unwrap();
    assert!(
        record.contains(&format!(
            "\"promotion\":{{\"from\":\"staging\",\"deployment\":{id},\"sha\":\"{}\"}}",
            w.head
        )),
        "{record}"
    );
}

#[test]
fn a_rerun_with_the_same_facts_writes_nothing() {
    let (w, _) = soaked();
    assert_eq!(promote(&w, &[]).code, 0);
    w.gitlab.clear_log();
    let run = promote(&w, &["--environment", "prod"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("already proposed in merge request !1"),
        "{}",
        run.stdout
    );
    assert!(w.gitlab.writes().is_empty(), "{:#?}", w.gitlab.writes());
}

#[test]
fn a_dry_run_says_what_it_would_write_and_writes_nothing() {
    let (w, _) = soaked();
    let run = promote(&w, &["--environment", "prod", "--dry-run"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(w.gitlab.writes().is_empty(), "{:#?}", w.gitlab.writes());
    for said in [
        format!("would write on branch {BRANCH}:"),
        "title: Promote 3 images from staging to prod".to_string(),
        "### Promotion from `staging` to `prod`".to_string(),
        format!("dry run: would open or update the merge request from {BRANCH}"),
    ] {
        assert!(run.stdout.contains(&said), "{said}\n{}", run.stdout);
    }
}

#[test]
fn a_newer_healthy_deployment_of_the_source_updates_the_same_merge_request() {
    let (w, _) = soaked();
    assert_eq!(promote(&w, &["--environment", "prod"]).code, 0);
    let newer = w.gitlab.commit_files(
        "main",
        &[(
            "envs/staging/kustomization.yaml",
            &overlay("ci-50", "ci-41", "ci-42"),
        )],
        "staging: api ci-50",
    );
    let id = w.gitlab.add_deployment("staging", &newer, "success");
    w.gitlab.age_deployment(id, Duration::from_secs(3600));
    let answer = promote_json(&w, &["--environment", "prod"]);
    let proposal = &report(&answer, "prod")["proposal"];
    assert_eq!(proposal["action"], "updated", "{answer:#}");
    assert_eq!(proposal["merge_request"]["iid"], 1);
    assert_eq!(w.gitlab.merge_requests().len(), 1);
    assert_eq!(commits_on(&w, BRANCH), "1");
    assert_eq!(prod_file(&w, BRANCH), overlay("ci-50", "ci-41", "ci-42"));
    let description = mr(&w.gitlab, 1)["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        description.contains(&format!("deployment {id} of commit `{}`", &newer[..12])),
        "{description}"
    );
}

#[test]
fn deploy_of_a_promotion_merge_request_verifies_and_merges() {
    let (w, _) = soaked();
    assert_eq!(promote(&w, &["--environment", "prod"]).code, 0);
    w.gitlab.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&w.gitlab);
    assert_eq!(
        mr(&w.gitlab, 1)["state"],
        "merged",
        "{:?}",
        replies(&w.gitlab, 1)
    );
    assert_eq!(prod_file(&w, "main"), overlay("ci-40", "ci-41", "ci-42"));
}

#[test]
fn rebase_of_a_promotion_merge_request_rebuilds_it_on_the_head_with_its_evidence() {
    let (w, id) = soaked();
    assert_eq!(promote(&w, &["--environment", "prod"]).code, 0);
    let moved = w
        .gitlab
        .commit_files("main", &[("README.md", "hello\n")], "docs");
    w.gitlab.add_note(1, OPERATOR, "gitops-bot rebase");
    poll(&w.gitlab);
    let parents = w.gitlab.git(&["rev-list", "--parents", "-n", "1", BRANCH]);
    assert_eq!(
        parents.split_whitespace().nth(1),
        Some(moved.as_str()),
        "{:?}",
        replies(&w.gitlab, 1)
    );
    assert_eq!(commits_on(&w, BRANCH), "1");
    let m = mr(&w.gitlab, 1);
    assert_eq!(m["title"], "Promote 3 images from staging to prod");
    let description = m["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("deployment {id} of commit `{}`", &w.head[..12])),
        "the evidence is kept: {description}"
    );
    w.gitlab.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&w.gitlab);
    assert_eq!(
        mr(&w.gitlab, 1)["state"],
        "merged",
        "{:?}",
        replies(&w.gitlab, 1)
    );
}

#[test]
fn an_open_promotion_left_with_nothing_to_move_is_closed_with_a_note() {
    let (w, _) = soaked();
    assert_eq!(promote(&w, &["--environment", "prod"]).code, 0);
    // prod catches up by another way.
    w.gitlab.commit_files(
        "main",
        &[(
            "envs/prod/kustomization.yaml",
            &overlay("ci-40", "ci-41", "ci-42"),
        )],
        "prod: by hand",
    );
    let run = promote(&w, &["--environment", "prod", "--dry-run"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        mr(&w.gitlab, 1)["state"],
        "opened",
        "a dry run closes nothing"
    );

    let run = promote(&w, &["--environment", "prod"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("nothing left to promote: closed merge request !1"),
        "{}",
        run.stdout
    );
    assert_eq!(mr(&w.gitlab, 1)["state"], "closed");
    let notes = w.gitlab.notes(1);
    assert!(
        notes.iter().any(|n| n["body"]
            .as_str()
            .unwrap()
            .starts_with("Closed: `prod` already runs the versions `staging` runs healthy")),
        "{notes:#?}"
    );
    w.gitlab.clear_log();
    assert_eq!(promote(&w, &["--environment", "prod"]).code, 0);
    assert!(
        w.gitlab.writes().is_empty(),
        "closed once: {:#?}",
        w.gitlab.writes()
    );
}

/// A repository where `live` (promoted from `prod`, no soak) is behind prod on `n` images,
/// and prod is healthy at the head.
fn behind_by(n: usize) -> World {
    let seed = tempfile::tempdir().unwrap();
    common::write(
        seed.path(),
        ".gitops-bot.yaml",
        "operators: [operator]\nenvironments:\n  prod:\n    paths: [envs/prod]\n  live:\n    paths: [envs/live]\n    promote_from: prod\n",
    );
    let overlay = |tag: &str| {
        let mut text = "resources: [../../base]\nimages:\n".to_string();
        for i in 0..n {
            text.push_str(&format!("  - name: {REGISTRY}/app{i}\n    newTag: {tag}\n"));
        }
        text
    };
    common::write(seed.path(), "envs/prod/kustomization.yaml", overlay("ci-2"));
    common::write(seed.path(), "envs/live/kustomization.yaml", overlay("ci-1"));
    let gitlab = FakeGitlab::start(Options {
        seed_dir: Some(seed.path().to_path_buf()),
        ..Options::default()
    });
    let head = gitlab.git(&["rev-parse", "main"]).trim().to_string();
    gitlab.add_deployment("prod", &head, "success");
    World {
        gitlab,
        head,
        _seed: seed,
    }
}

/// Opening a promotion costs the same number of GitLab requests whatever the number of
/// images (counted on the fake): 13, against the 10 for the in-job step (`sync`'s,
/// which makes 10: see `a_healthy_sync_opens_the_promotion_in_at_most_ten_requests`). They
/// are: the project, the default branch's head, the archive at the head (settings, the
/// decision's files, and the bump's: read once), the bot's user and its merged merge
/// requests (holds), the source's deployments, the merge requests of the deployed commit
/// (the evidence's "brought by"; `sync` already has them), the promotion branch's merge
/// requests, the open rollback's, the merged `deploy-failed` ones, the operator's user id
/// (`sync` takes it from the merge request that brought the commit), the commit and the
/// merge request. A regression adding a request per image, or any request, fails here.
#[test]
fn opening_a_promotion_takes_the_same_thirteen_requests_whatever_the_number_of_images() {
    let mut counts = Vec::new();
    for n in [1, 3, 10] {
        let w = behind_by(n);
        let run = promote(&w, &["--environment", "live"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("created merge request !1"),
            "{n} images: {}",
            run.stdout
        );
        let requests = w.gitlab.requests();
        let listed: Vec<String> = requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(
            requests.len() <= 13,
            "{n} images: {} requests: {listed:#?}",
            requests.len()
        );
        assert_eq!(w.gitlab.writes().len(), 2, "one commit, one merge request");
        counts.push(requests.len());
    }
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
}
