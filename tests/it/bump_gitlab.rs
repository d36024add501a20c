//! `gitops-bot bump --project` driven through the real binary against the fake GitLab.

use crate::common;
use crate::fake_gitlab;

use std::path::Path;

use common::Run;
use fake_gitlab::{FakeGitlab, Fault, Options, Rule};
use serde_json::Value;

const IMAGE: &str = "registry.example.com/root/helloworld";
const PROJECT: &str = "group/helloworld-ops";

fn fake_with(seed: &Path) -> FakeGitlab {
    FakeGitlab::start(Options {
        seed_dir: Some(seed.to_path_buf()),
        ..Options::default()
    })
}

/// A fake GitLab seeded with [`common::prod_only_repo`] (read once, at start).
fn fake() -> FakeGitlab {
    fake_with(common::prod_only_repo().path())
}

/// Runs `gitops-bot bump` against `fake` with the token in GITLAB_TOKEN and no CI variables.
fn bump(fake: &FakeGitlab, extra: &[&str]) -> Run {
    bump_env(fake, extra, &[])
}

fn bump_env(fake: &FakeGitlab, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = vec!["bump", "--project", PROJECT];
    args.extend_from_slice(extra);
    let mut cmd = common::bot_command(&fake.url(), fake.token(), &args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    common::run_without_leaking(cmd, fake.token())
}

fn image(tag: &str) -> String {
    format!("{IMAGE}:{tag}")
}

fn open_mrs(fake: &FakeGitlab) -> Vec<Value> {
    fake.merge_requests()
        .into_iter()
        .filter(|m| m["state"] == "opened")
        .collect()
}

fn bot_branch(fake: &FakeGitlab) -> String {
    fake.branches()
        .into_iter()
        .find(|b| b.starts_with("gitops-bot/"))
        .expect("a bot branch")
}

#[test]
fn first_bump_opens_one_merge_request_with_the_diff() {
    let fake = fake();
    let base = fake.branch_head("main").unwrap();
    let run = bump_env(
        &fake,
        &[
            "--image",
            &image("ci-35"),
            "--assignee",
            "operator",
            "--reviewer",
            "reviewer",
            "--label",
            "deploy",
            "--label",
            "gitops",
        ],
        &[
            (
                "CI_PROJECT_URL",
                "https://gitlab.example.com/root/helloworld",
            ),
            ("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567"),
            (
                "CI_PIPELINE_URL",
                "https://gitlab.example.com/root/helloworld/-/pipelines/35",
            ),
            ("CI_PROJECT_PATH", "root/helloworld"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("created merge request !1: "),
        "{}",
        run.stdout
    );

    // project, branch, archive, the bot branch's MRs, an open rollback, earlier failed deploys
    // of this version, two users, the commit and the MR.
    let requests = fake.requests();
    assert!(
        requests.len() <= 10,
        "{} requests: {:#?}",
        requests.len(),
        requests
    );
    assert_eq!(fake.writes().len(), 2, "one commit and one merge request");
    assert!(fake.unknown_requests().is_empty());

    let mrs = fake.merge_requests();
    assert_eq!(mrs.len(), 1);
    let mr = &mrs[0];
    assert_eq!(mr["title"], "Deploy helloworld ci-35 to main (was ci-34)");
    assert_eq!(mr["target_branch"], "main");
    assert_eq!(mr["assignees"][0]["username"], "operator");
    assert_eq!(mr["reviewers"][0]["username"], "reviewer");
    assert_eq!(mr["labels"], serde_json::json!(["deploy", "gitops"]));
    assert_eq!(mr["force_remove_source_branch"], true);
    let description = mr["description"].as_str().unwrap();
    assert!(
        description.contains("+          image: registry.example.com/root/helloworld:ci-35"),
        "{description}"
    );
    assert!(
        description
            .contains("[pipeline](https://gitlab.example.com/root/helloworld/-/pipelines/35)"),
        "{description}"
    );
    assert!(description.contains("<!-- gitops-bot:{"), "{description}");

    // One commit on the bot branch, on top of the commit read, changing only the tags.
    let branch = mr["source_branch"].as_str().unwrap();
    assert!(branch.starts_with("gitops-bot/all/helloworld-"), "{branch}");
    let parents = fake.git(&["rev-list", "--parents", "-n", "1", branch]);
    assert_eq!(parents.split_whitespace().nth(1), Some(base.as_str()));
    let diff = fake.git(&["diff", "--stat", &base, branch]);
    assert!(
        diff.contains("2 files changed, 2 insertions(+), 2 deletions(-)"),
        "{diff}"
    );
    let deployment = String::from_utf8(fake.file(branch, "base/deployment.yml").unwrap()).unwrap();
    let original =
        std::fs::read_to_string(common::example_repo().join("base/deployment.yml")).unwrap();
    assert_eq!(deployment, original.replace("ci-34", "ci-35"));
}

#[test]
fn rerun_is_a_no_op_with_few_requests() {
    let fake = fake();
    assert_eq!(
        bump(
            &fake,
            &["--image", &image("ci-35"), "--target-branch", "main"]
        )
        .code,
        0
    );
    fake.clear_log();
    let run = bump(
        &fake,
        &["--image", &image("ci-35"), "--target-branch", "main"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let url = fake.merge_requests()[0]["web_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        run.stdout,
        format!("already proposed in merge request !1: {url}\n")
    );
    assert!(fake.writes().is_empty(), "{:#?}", fake.writes());
    // branch, archive, the MRs, and checking the branch really holds that change: its
    // commits, their diff, and each of the two changed files before and after.
    assert!(fake.requests().len() <= 9, "{:#?}", fake.requests());
    assert_eq!(fake.merge_requests().len(), 1);
}

#[test]
fn a_newer_tag_updates_the_same_merge_request_and_says_so() {
    let fake = fake();
    assert_eq!(bump(&fake, &["--image", &image("ci-35")]).code, 0);
    let run = bump(&fake, &["--image", &image("ci-36"), "--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["action"], "updated");
    assert_eq!(out["merge_request"]["iid"], 1);
    let mrs = fake.merge_requests();
    assert_eq!(mrs.len(), 1);
    assert_eq!(
        mrs[0]["title"],
        "Deploy helloworld ci-36 to main (was ci-34)"
    );
    let notes = fake.notes(1);
    assert!(
        notes.iter().any(|n| n["body"]
            .as_str()
            .unwrap()
            .starts_with("Superseded `ci-35` by `ci-36`")),
        "{notes:#?}"
    );
    // The branch was reset: still one commit on top of main.
    let branch = bot_branch(&fake);
    assert_eq!(
        fake.git(&["rev-list", "--count", &format!("main..{branch}")])
            .trim(),
        "1"
    );
}

#[test]
fn already_deployed_creates_nothing() {
    let fake = fake();
    let run = bump(&fake, &["--image", &image("ci-34")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("already deployed"), "{}", run.stdout);
    assert!(fake.writes().is_empty());
}

#[test]
fn a_push_to_the_target_during_the_run_is_never_overwritten() {
    let fake = fake();
    // Someone edits the same file just before the bot commits.
    let edited = std::fs::read_to_string(common::example_repo().join("base/deployment.yml"))
        .unwrap()
        .replace("replicas: 1", "replicas: 3");
    fake.inject(Rule::new(
        "POST",
        "/repository/commits",
        Fault::MoveBranchBefore {
            branch: "main".into(),
            files: vec![("base/deployment.yml".into(), edited)],
        },
    ));
    let run = bump(&fake, &["--image", &image("ci-35")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let branch = bot_branch(&fake);
    // The bot's commit only changes the image; merging it keeps the human's replicas.
    let merge_base = fake.git(&["merge-base", "main", &branch]);
    let diff = fake.git(&["diff", merge_base.trim(), &branch]);
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(changed.len(), 4, "{diff}");
    assert!(changed.iter().all(|l| l.contains("ci-3")), "{diff}");
    let main_file = String::from_utf8(fake.file("main", "base/deployment.yml").unwrap()).unwrap();
    assert!(main_file.contains("replicas: 3"));
    // GitLab reported the moved target: the bot read it again, so the proposal sits on the
    // new head and its description records that head.
    let main_head = fake.branch_head("main").unwrap();
    let parents = fake.git(&["rev-list", "--parents", "-n", "1", &branch]);
    assert_eq!(parents.split_whitespace().nth(1), Some(main_head.as_str()));
    let mrs = open_mrs(&fake);
    assert_eq!(mrs.len(), 1);
    let description = mrs[0]["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("\"base_sha\":\"{main_head}\"")),
        "{description}"
    );
    assert!(
        run.stdout.contains("created merge request !1"),
        "{}",
        run.stdout
    );
}

#[test]
fn unknown_assignee_is_an_error_naming_it() {
    let fake = fake();
    let run = bump(&fake, &["--image", &image("ci-35"), "--assignee", "nobody"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("unknown GitLab user \"nobody\""),
        "{}",
        run.stderr
    );
    assert!(fake.writes().is_empty());
}

#[test]
fn forbidden_token_gets_a_helpful_message() {
    let seed = common::prod_only_repo();
    let fake = FakeGitlab::start(Options {
        seed_dir: Some(seed.path().to_path_buf()),
        read_only: true,
        ..Options::default()
    });
    let run = bump(&fake, &["--image", &image("ci-35")]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("403"), "{}", run.stderr);
    assert!(run.stderr.contains("`api` scope"), "{}", run.stderr);
    assert!(run.stderr.contains("repository/commits"), "{}", run.stderr);
}

#[test]
fn job_token_is_refused_before_any_request() {
    let fake = fake();
    let token = fake.token().to_string();
    let run = bump_env(
        &fake,
        &["--image", &image("ci-35")],
        &[("CI_JOB_TOKEN", &token)],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("CI job token"), "{}", run.stderr);
    assert!(fake.requests().is_empty());
}

#[test]
fn rate_limits_and_gateway_errors_are_retried() {
    let fake = fake();
    fake.inject(Rule::new(
        "GET",
        "/repository/archive",
        Fault::rate_limited(1),
    ));
    fake.inject(Rule::new("GET", "/merge_requests", Fault::status(502)).times(2));
    fake.inject(Rule::new("POST", "/merge_requests", Fault::rate_limited(0)));
    let run = bump(&fake, &["--image", &image("ci-35")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(open_mrs(&fake).len(), 1);
}

#[test]
fn a_closed_merge_request_is_not_reopened_unless_asked() {
    let fake = fake();
    assert_eq!(bump(&fake, &["--image", &image("ci-35")]).code, 0);
    fake.close_mr(1);
    let run = bump(&fake, &["--image", &image("ci-35")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("not reopening"), "{}", run.stdout);
    assert!(open_mrs(&fake).is_empty());
    let run = bump(&fake, &["--image", &image("ci-35"), "--reopen"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("reopened merge request !1"),
        "{}",
        run.stdout
    );
    assert_eq!(open_mrs(&fake).len(), 1);
    // A newer version after a closed one is a new request.
    fake.close_mr(1);
    let run = bump(&fake, &["--image", &image("ci-36")]);
    assert!(
        run.stdout.contains("created merge request !2"),
        "{}",
        run.stdout
    );
}

#[test]
fn dotenv_dry_run_and_environment_from_config() {
    let seed = common::prod_only_repo();
    common::write(
        seed.path(),
        ".gitops-bot.yaml",
        "operators: [operator]\nlabels: [deploy]\nenvironments:\n  prod:\n    paths: [envs/prod]\n",
    );
    let fake = fake_with(seed.path());
    let run = bump(
        &fake,
        &[
            "--image",
            &image("ci-35"),
            "--environment",
            "prod",
            "--dry-run",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("title: Deploy helloworld ci-35 to prod (was ci-34)"),
        "{}",
        run.stdout
    );
    assert!(fake.writes().is_empty());

    let dotenv = seed.path().join("bump.env");
    let run = bump(
        &fake,
        &[
            "--image",
            &image("ci-35"),
            "--environment",
            "prod",
            "--dotenv",
            dotenv.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mr = &fake.merge_requests()[0];
    assert_eq!(mr["assignees"][0]["username"], "operator");
    assert_eq!(mr["labels"], serde_json::json!(["deploy"]));
    let branch = mr["source_branch"].as_str().unwrap();
    assert!(
        branch.starts_with("gitops-bot/prod/helloworld-"),
        "{branch}"
    );
    // Only the prod overlay changed.
    let stat = fake.git(&["diff", "--name-only", "main", branch]);
    assert_eq!(stat.trim(), "envs/prod/kustomization.yaml");
    let env = std::fs::read_to_string(&dotenv).unwrap();
    assert_eq!(
        env,
        format!(
            "GITOPS_BOT_MR_IID=1\nGITOPS_BOT_MR_URL={}\nGITOPS_BOT_BRANCH={branch}\n",
            mr["web_url"].as_str().unwrap()
        )
    );
}

#[test]
fn config_errors_name_file_key_and_line() {
    let seed = common::prod_only_repo();
    common::write(
        seed.path(),
        ".gitops-bot.yaml",
        "operators: [operator]\nenvironment:\n  prod: {}\n",
    );
    let fake = fake_with(seed.path());
    let run = bump(&fake, &["--image", &image("ci-35")]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(".gitops-bot.yaml:2:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown field `environment`"),
        "{}",
        run.stderr
    );
}

#[test]
fn ten_concurrent_bumps_of_ten_images_make_ten_clean_merge_requests() {
    let seed = tempfile::tempdir().unwrap();
    for i in 0..10 {
        common::write(
            seed.path(),
            &format!("apps/app{i}/deployment.yaml"),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/team/app{i}:1.0.0\n"
            ),
        );
    }
    let fake = fake_with(seed.path());
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let fake = &fake;
                s.spawn(move || {
                    bump(
                        fake,
                        &[
                            "--image",
                            &format!("registry.example.com/team/app{i}:2.0.0"),
                        ],
                    )
                })
            })
            .collect();
        for h in handles {
            let run = h.join().unwrap();
            assert_eq!(run.code, 0, "{}", run.stderr);
        }
    });
    let mrs = open_mrs(&fake);
    assert_eq!(mrs.len(), 10);
    for mr in &mrs {
        let branch = mr["source_branch"].as_str().unwrap();
        let changed = fake.git(&["diff", "--name-only", "main", branch]);
        let files: Vec<&str> = changed.lines().collect();
        assert_eq!(files.len(), 1, "{branch}: {files:?}");
        let app = files[0].split('/').nth(1).unwrap();
        assert!(
            mr["title"]
                .as_str()
                .unwrap()
                .contains(&format!("Deploy {app} 2.0.0")),
            "{}",
            mr["title"]
        );
    }
}

/// A fault at any single request of a first bump either lets it complete or leaves a
/// state that the next run heals, without duplicate commits or merge requests.
#[test]
fn a_fault_at_any_request_heals_on_the_next_run() {
    let probe = fake();
    assert_eq!(bump(&probe, &["--image", &image("ci-35")]).code, 0);
    let count = probe.requests().len();
    drop(probe);
    let mut first_runs_failed = 0;
    for n in 1..=count {
        for fault in [
            Fault::DropAfterApply,
            Fault::DropBeforeApply,
            Fault::status(500),
        ] {
            let label = format!("request {n}, {fault:?}");
            let fake = fake();
            fake.inject(Rule::matching(|_| true, fault).nth(n));
            let first = bump(&fake, &["--image", &image("ci-35")]);
            first_runs_failed += usize::from(first.code != 0);
            let second = bump(&fake, &["--image", &image("ci-35")]);
            assert_eq!(
                second.code, 0,
                "{label}: first: {}\nsecond: {}",
                first.stderr, second.stderr
            );
            let mrs = fake.merge_requests();
            assert_eq!(mrs.len(), 1, "{label}: {mrs:#?}");
            assert_eq!(mrs[0]["state"], "opened", "{label}");
            let branch = mrs[0]["source_branch"].as_str().unwrap();
            assert_eq!(
                fake.git(&["rev-list", "--count", &format!("main..{branch}")])
                    .trim(),
                "1",
                "{label}"
            );
            assert!(
                mrs[0]["description"].as_str().unwrap().contains("ci-35"),
                "{label}"
            );
        }
    }
    // Retries absorb many faults; the others must really have failed the first run.
    assert!(first_runs_failed > 0, "no fault ever reached the binary");
}

#[test]
fn dry_run_shows_usernames_and_the_diff_once() {
    let fake = fake();
    let run = bump(
        &fake,
        &[
            "--image",
            &image("ci-35"),
            "--assignee",
            "operator",
            "--reviewer",
            "reviewer",
            "--dry-run",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("\nassignees: operator\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\nreviewers: reviewer\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(" ids"), "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("+++ b/base/deployment.yml").count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("2 references updated in 2 files (0 already current)\ndry run: would open or update a merge request from gitops-bot/"),
        "{}",
        run.stdout
    );
    // JSON stays one document, with the same usernames.
    let run = bump(
        &fake,
        &[
            "--image",
            &image("ci-35"),
            "--assignee",
            "operator",
            "--dry-run",
            "--output",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["action"], "dry-run");
    assert_eq!(
        out["would_write"]["assignees"],
        serde_json::json!(["operator"])
    );
    assert_eq!(out["would_write"]["reviewers"], serde_json::json!([]));
    assert!(fake.writes().is_empty());
}

#[test]
fn unknown_environment_read_from_gitlab_is_a_usage_error() {
    let seed = common::prod_only_repo();
    common::write(
        seed.path(),
        ".gitops-bot.yaml",
        "environments:\n  prod:\n    paths: [envs/prod]\n",
    );
    let fake = fake_with(seed.path());
    let run = bump(
        &fake,
        &["--image", &image("ci-35"), "--environment", "stage"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "error: unknown environment \"stage\"; .gitops-bot.yaml defines: prod\n"
    );
    assert!(fake.writes().is_empty());

    // Without the file, the error says so.
    let bare = self::fake();
    let run = bump(
        &bare,
        &["--image", &image("ci-35"), "--environment", "prod"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: no .gitops-bot.yaml in group/helloworld-ops at "),
        "{}",
        run.stderr
    );
}

#[test]
fn path_outside_the_repository_is_refused_before_any_request() {
    let fake = fake();
    let run = bump(&fake, &["--image", &image("ci-35"), "--path", "../x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--path"), "{}", run.stderr);
    assert!(fake.requests().is_empty(), "{:#?}", fake.requests());
}

#[test]
fn gitlab_url_without_scheme_says_to_give_http_or_https() {
    let fake = fake();
    let bare = fake.url().trim_start_matches("http://").to_string();
    let cmd = common::bot_command(
        &bare,
        fake.token(),
        &["bump", "--project", PROJECT, "--image", &image("ci-35")],
    );
    let run = common::run_without_leaking(cmd, fake.token());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "error: GitLab URL \"{bare}\" has no scheme: give the URL with http:// or https://, e.g. https://{bare}\n"
        )
    );
    assert!(fake.requests().is_empty());
}

#[test]
fn the_commit_message_points_at_the_changed_lines() {
    let fake = fake();
    let run = bump(&fake, &["--image", &image("ci-35")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let message = fake.git(&["log", "-1", "--format=%B", &bot_branch(&fake)]);
    // envs/prod/kustomization.yaml: `- name:` is line 9, `newTag: ci-34` line 10.
    assert!(
        message.contains(&format!(
            "\nbase/deployment.yml:20: {IMAGE}:ci-34 -> {IMAGE}:ci-35\nenvs/prod/kustomization.yaml:10: {IMAGE}:ci-34 -> {IMAGE}:ci-35\n"
        )),
        "{message}"
    );
    let description = fake.merge_requests()[0]["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        description.contains("| `envs/prod/kustomization.yaml` | 10 | kustomize-images |"),
        "{description}"
    );
}

#[test]
fn the_repositorys_own_ci_files_are_listed_not_edited_unless_a_path_names_them() {
    let seed = common::prod_only_repo();
    common::write(
        seed.path(),
        ".gitlab/deploy.yml",
        format!("smoke:\n  image: {}\n", image("ci-34")),
    );
    let fake = fake_with(seed.path());

    let run = bump(&fake, &["--image", &image("ci-35")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let branch = bot_branch(&fake);
    let changed = fake.git(&["diff", "--name-only", "main", &branch]);
    assert!(!changed.contains(".gitlab/"), "{changed}");
    assert!(
        run.stderr.contains(".gitlab/deploy.yml:2:")
            && run
                .stderr
                .contains("the repository's own CI configuration, not deployment config"),
        "{}",
        run.stderr
    );

    // Named explicitly, it is deployment config after all.
    let run = bump(
        &fake,
        &["--image", &image("ci-35"), "--path", ".gitlab", "--dry-run"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("+  image: {}", image("ci-35"))),
        "{}",
        run.stdout
    );
}
