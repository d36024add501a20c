//! `status` and the deploy board through the real binary, against the fake GitLab: a config
//! repo with dev, staging and prod (kustomize overlays, two images), deployment records, and
//! open merge requests of every kind (plus some that are not the bot's).

use crate::common;
use crate::fake_gitlab;

use common::Run;
use fake_gitlab::{FakeGitlab, Fault, Options, Rule};
use serde_json::{Value, json};

const PROJECT: &str = "group/helloworld-ops";
const REGISTRY: &str = "registry.example.com/team";

/// A window that is closed whenever the test runs (the whole day three days from now, in
/// UTC), and when it next opens (RFC 3339).
fn closed_window() -> (String, String) {
    let day = chrono::Utc::now().date_naive() + chrono::Duration::days(3);
    (
        format!("{} 00:00-24:00 UTC", day.format("%a")),
        format!("{}T00:00:00Z", day.format("%Y-%m-%d")),
    )
}

fn config(board: bool, window: &str) -> String {
    format!(
        "board: {board}\nenvironments:\n  dev:\n    paths: [envs/dev]\n  staging:\n    paths: [envs/staging]\n    promote_from: dev\n  prod:\n    paths: [envs/prod]\n    promote_from: staging\n    tier: production\n    window: {window}\n"
    )
}

fn overlay(api: &str, web: &str) -> String {
    format!(
        "resources: [../../base]\nimages:\n  - name: {REGISTRY}/api\n    newTag: {api}\n  - name: {REGISTRY}/web\n    newTag: {web}\n"
    )
}

struct World {
    gitlab: FakeGitlab,
    head: String,
    opens: String,
    _seed: tempfile::TempDir,
}

/// dev runs api ci-40 / web ci-41, staging ci-40 / ci-41, prod ci-30 / ci-31.
fn world(board: bool) -> World {
    let (window, opens) = closed_window();
    let seed = tempfile::tempdir().unwrap();
    common::write(seed.path(), ".gitops-bot.yaml", config(board, &window));
    common::write(
        seed.path(),
        "base/deployment.yaml",
        format!(
            "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: {REGISTRY}/api:ci-1\n"
        ),
    );
    for (env, api, web) in [
        ("dev", "ci-40", "ci-41"),
        ("staging", "ci-40", "ci-41"),
        ("prod", "ci-30", "ci-31"),
    ] {
        common::write(
            seed.path(),
            &format!("envs/{env}/kustomization.yaml"),
            overlay(api, web),
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
        opens,
        _seed: seed,
    }
}

fn bot(w: &World, args: &[&str]) -> Run {
    let cmd = common::bot_command(&w.gitlab.url(), w.gitlab.token(), args);
    common::run_without_leaking(cmd, w.gitlab.token())
}

fn status(w: &World, extra: &[&str]) -> Run {
    let mut args = vec!["status", "--project", PROJECT];
    args.extend_from_slice(extra);
    let run = bot(w, &args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run
}

/// Someone opens a merge request from `branch` (pushed with one file) into main.
fn open_mr(w: &World, branch: &str, title: &str, description: &str) -> u64 {
    w.gitlab
        .commit_files(branch, &[("notes/readme.md", branch)], "a change");
    let resp = reqwest::blocking::Client::new()
        .post(format!(
            "{}/projects/{}/merge_requests",
            w.gitlab.api_url(),
            PROJECT.replace('/', "%2F")
        ))
        .header("PRIVATE-TOKEN", w.gitlab.token())
        .json(&json!({
            "source_branch": branch,
            "target_branch": "main",
            "title": title,
            "description": description,
        }))
        .send()
        .expect("create merge request");
    assert!(resp.status().is_success(), "{:?}", resp.text());
    resp.json::<Value>().unwrap()["iid"].as_u64().unwrap()
}

/// A rollback marker as the bot writes it.
fn rollback_marker(w: &World) -> String {
    format!(
        "<!-- gitops-bot:{} -->",
        json!({
            "kind": "rollback", "v": 1, "image": format!("{REGISTRY}/api"), "tag": "ci-29",
            "digest": null, "rollback_of": 1, "previous": ["ci-30"], "environment": "prod",
            "target_branch": "main", "branch": "gitops-bot/prod/rollback/api-0a1b2c",
            "base_sha": w.head, "changes": [],
        })
    )
}

/// A bump MR for dev by the real binary, a promotion and a rollback for prod, and two
/// merge requests that are not the bot's: a feature branch, and a bot-like branch with no
/// marker.
fn open_every_kind(w: &World) -> (u64, u64, u64) {
    let run = bot(
        w,
        &[
            "bump",
            "--project",
            PROJECT,
            "--environment",
            "dev",
            "--image",
            &format!("{REGISTRY}/api:ci-50"),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let bump = w.gitlab.merge_requests()[0]["iid"].as_u64().unwrap();
    let promotion = open_mr(
        w,
        "gitops-bot/prod/promote",
        "Promote 2 images to prod",
        "evidence",
    );
    let rollback = open_mr(
        w,
        "gitops-bot/prod/rollback/api-0a1b2c",
        "Roll back api in prod",
        &rollback_marker(w),
    );
    open_mr(w, "feature/readme", "Docs", &rollback_marker(w));
    open_mr(w, "gitops-bot/dev/forged", "No marker", "hello");
    (bump, promotion, rollback)
}

fn environment<'v>(view: &'v Value, name: &str) -> &'v Value {
    view["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {view:#}"))
}

#[test]
fn status_shows_versions_in_git_last_deploys_open_merge_requests_and_windows() {
    let w = world(false);
    let dev = w.gitlab.add_deployment("dev", &w.head, "success");
    let prod = w.gitlab.add_deployment("prod", &w.head, "failed");
    let (bump, promotion, rollback) = open_every_kind(&w);
    let url = w.gitlab.project_web_url();

    w.gitlab.clear_log();
    let run = status(&w, &["--output", "json"]);
    let view = common::json(&run);
    let requests = w.gitlab.requests();
    let count = |part: &str| requests.iter().filter(|r| r.path.contains(part)).count();
    assert_eq!(
        (
            count("/repository/archive"),
            count("/deployments"),
            count("/merge_requests")
        ),
        (1, 3, 2),
        "one archive, one deployments read per environment, the open merge requests and the bot's merged ones (for every environment's holds at once): {requests:#?}"
    );
    assert_eq!(
        requests.len(),
        10,
        "project, branch, settings, archive, 3 deployments, open merge requests, the bot user, its merged merge requests (no rollback among them): {requests:#?}"
    );
    assert!(w.gitlab.writes().is_empty(), "status writes nothing");

    assert_eq!(view["head"], json!(w.head));
    assert_eq!(view["branch"], "main");
    let names: Vec<&str> = view["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dev", "prod", "staging"]);

    let dev_env = environment(&view, "dev");
    assert_eq!(
        dev_env["images"],
        json!([
            {"repository": format!("{REGISTRY}/api"), "name": format!("{REGISTRY}/api"), "versions": ["ci-40"]},
            {"repository": format!("{REGISTRY}/web"), "name": format!("{REGISTRY}/web"), "versions": ["ci-41"]},
        ]),
        "the versions in Git at the head, not the open bump's ci-50"
    );
    assert_eq!(dev_env["last_deploy"]["id"], json!(dev));
    assert_eq!(dev_env["last_deploy"]["status"], "success");
    assert_eq!(dev_env["last_deploy"]["sha"], json!(w.head));
    assert_eq!(
        dev_env["last_deploy"]["commit_url"],
        json!(format!("{url}/-/commit/{}", w.head))
    );
    assert_eq!(dev_env["merge_requests"].as_array().unwrap().len(), 1);
    assert_eq!(dev_env["merge_requests"][0]["iid"], json!(bump));
    assert_eq!(dev_env["merge_requests"][0]["kind"], "bump");
    assert_eq!(dev_env["window"], Value::Null);

    let prod_env = environment(&view, "prod");
    assert_eq!(prod_env["images"][0]["versions"], json!(["ci-30"]));
    assert_eq!(prod_env["last_deploy"]["id"], json!(prod));
    assert_eq!(prod_env["last_deploy"]["status"], "failed");
    let kinds: Vec<(u64, &str, &str)> = prod_env["merge_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["iid"].as_u64().unwrap(),
                m["kind"].as_str().unwrap(),
                m["url"].as_str().unwrap(),
            )
        })
        .collect();
    let mr_url = |iid: u64| format!("{url}/-/merge_requests/{iid}");
    assert_eq!(
        kinds,
        [
            (promotion, "promotion", mr_url(promotion).as_str()),
            (rollback, "rollback", mr_url(rollback).as_str()),
        ]
    );
    assert_eq!(prod_env["tier"], "production");
    assert_eq!(prod_env["window"]["open"], json!(false));
    assert_eq!(prod_env["window"]["next_opening"], json!(w.opens));

    let staging_env = environment(&view, "staging");
    assert_eq!(staging_env["last_deploy"], Value::Null);
    assert_eq!(staging_env["merge_requests"], json!([]));
    assert_eq!(view["other_merge_requests"], json!([]));

    let text = status(&w, &[]).stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("{PROJECT} at main ({})", &w.head[..12]));
    let short = &w.head[..12];
    let api = format!("{REGISTRY}/api");
    let web = format!("{REGISTRY}/web");
    assert_eq!(
        lines[2..9],
        [
            "ENVIRONMENT  IMAGE                          IN GIT  LAST DEPLOY".to_string(),
            format!(
                "dev          {api}  ci-40   success {short} at {}",
                dev_env["last_deploy"]["at"].as_str().unwrap()
            ),
            format!("             {web}  ci-41"),
            format!(
                "prod         {api}  ci-30   failed {short} at {}",
                prod_env["last_deploy"]["at"].as_str().unwrap()
            ),
            format!("             {web}  ci-31"),
            format!("staging      {api}  ci-40   never"),
            format!("             {web}  ci-41"),
        ]
    );
    assert!(
        text.contains(&format!(
            "  prod  rollback  !{rollback} Roll back api in prod  {}",
            mr_url(rollback)
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("(closed; opens {})", w.opens)),
        "{text}"
    );
}

fn board_writes(w: &World) -> Vec<String> {
    w.gitlab
        .writes()
        .into_iter()
        .filter(|r| r.path.contains("/issues"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn the_board_is_created_once_and_edited_only_when_the_view_changes() {
    let w = world(true);
    w.gitlab.add_deployment("dev", &w.head, "success");
    let run = status(&w, &["--board"]);
    assert!(
        run.stderr.contains("deploy board created: #1"),
        "{}",
        run.stderr
    );
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].title, "Deploy board");
    assert_eq!(issues[0].labels, ["gitops-bot::board"]);
    assert!(
        issues[0].description.contains(&format!(
            "{}/-/commit/{}",
            w.gitlab.project_web_url(),
            w.head
        )),
        "links the deployed commit: {}",
        issues[0].description
    );

    w.gitlab.clear_log();
    let run = status(&w, &["--board"]);
    assert!(
        run.stderr.contains("deploy board #1 unchanged"),
        "{}",
        run.stderr
    );
    assert_eq!(
        board_writes(&w),
        Vec::<String>::new(),
        "an unchanged rerun writes nothing"
    );

    w.gitlab.add_deployment("staging", &w.head, "failed");
    status(&w, &["--board"]);
    assert_eq!(
        board_writes(&w),
        ["PUT /api/v4/projects/group%2Fhelloworld-ops/issues/1"]
    );
    assert!(w.gitlab.issues()[0].description.contains("| `staging` |"));
    assert!(w.gitlab.issues()[0].description.contains("failed ["));

    w.gitlab.clear_log();
    let promotion = open_mr(&w, "gitops-bot/prod/promote", "Promote to prod", "");
    w.gitlab.clear_log();
    status(&w, &["--board"]);
    assert_eq!(
        board_writes(&w),
        ["PUT /api/v4/projects/group%2Fhelloworld-ops/issues/1"]
    );
    let board = &w.gitlab.issues()[0].description;
    assert!(
        board.contains(&format!(
            "- `prod` promotion: [!{promotion}]({}/-/merge_requests/{promotion})",
            w.gitlab.project_web_url()
        )),
        "{board}"
    );
    assert_eq!(w.gitlab.issues().len(), 1, "never a second board");

    w.gitlab.clear_log();
    let run = bot(&w, &["status", "--project", "42", "--board"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        board_writes(&w),
        Vec::<String>::new(),
        "the project given by ID finds the same board"
    );
}

#[test]
fn the_oldest_open_board_is_kept_when_several_exist() {
    let w = world(true);
    let marker =
        "<!-- gitops-bot:{\"kind\":\"board\",\"v\":1,\"project\":\"group/helloworld-ops\"} -->";
    let first = w
        .gitlab
        .add_issue(&format!("old\n\n{marker}"), &["gitops-bot::board"]);
    let second = w
        .gitlab
        .add_issue(&format!("older copy\n\n{marker}"), &["gitops-bot::board"]);
    status(&w, &["--board"]);
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 2, "no board created");
    assert!(
        issues[(first - 1) as usize]
            .description
            .contains("What runs where")
    );
    assert!(
        issues[(second - 1) as usize]
            .description
            .starts_with("older copy")
    );
}

fn bump_dev(w: &World) -> Run {
    let run = bot(
        w,
        &[
            "bump",
            "--project",
            PROJECT,
            "--environment",
            "dev",
            "--image",
            &format!("{REGISTRY}/web:ci-60"),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run
}

#[test]
fn bump_refreshes_the_board_when_it_is_on() {
    let w = world(true);
    bump_dev(&w);
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1, "the bump created the board");
    let mr = w.gitlab.merge_requests()[0]["iid"].as_u64().unwrap();
    assert!(
        issues[0]
            .description
            .contains(&format!("- `dev` bump: [!{mr}]")),
        "{}",
        issues[0].description
    );
    w.gitlab.clear_log();
    bump_dev(&w);
    assert_eq!(
        board_writes(&w),
        Vec::<String>::new(),
        "the same bump again changes nothing on the board"
    );
}

#[test]
fn with_the_board_off_bump_makes_no_issue_and_reads_nothing_for_it() {
    let w = world(false);
    bump_dev(&w);
    assert!(w.gitlab.issues().is_empty());
    let requests = w.gitlab.requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.path.contains("/issues") || r.path.contains("/deployments")),
        "{requests:#?}"
    );
}

#[test]
fn a_board_that_cannot_be_written_is_a_warning_not_a_failed_bump() {
    let w = world(true);
    w.gitlab
        .inject(Rule::new("POST", "/issues", Fault::status(500)).always());
    let run = bump_dev(&w);
    assert!(
        run.stderr.contains("the deploy board was not refreshed"),
        "{}",
        run.stderr
    );
    assert!(w.gitlab.issues().is_empty());
    assert_eq!(
        w.gitlab.merge_requests().len(),
        1,
        "the bump itself is done"
    );
}

#[test]
fn promote_refreshes_the_board_when_it_is_on() {
    let w = world(true);
    let id = w.gitlab.add_deployment("staging", &w.head, "success");
    let run = bot(&w, &["promote", "--project", PROJECT]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let issues = w.gitlab.issues();
    assert_eq!(issues.len(), 1);
    assert!(
        issues[0]
            .description
            .contains("/-/environments?search=staging"),
        "the staging deployment {id} is linked: {}",
        issues[0].description
    );
}
