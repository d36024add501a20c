//! Environment holds through the real binary, against the fake GitLab: a merged rollback of
//! prod holds the version it rolled back from, so `promote` does not propose it again, until
//! an operator of prod lifts it with `unhold` on the rollback or a newer version arrives.

use crate::common;
use crate::fake_gitlab::{FakeGitlab, Fault, Options, Rule};
use crate::mr_thread::{OPERATOR, REVIEWER, replies};

use serde_json::Value;

const PROJECT: &str = "group/helloworld-ops";
const API: &str = "registry.example.com/team/api";
const CONFIG: &str = "\
operators: [operator]
environments:
  staging:
    paths: [envs/staging]
  prod:
    paths: [envs/prod]
    promote_from: staging
    operators: [operator]
";

fn overlay(api: &str) -> String {
    format!("resources: [../../base]\nimages:\n  - name: {API}\n    newTag: {api}\n")
}

fn bot(fake: &FakeGitlab, args: &[&str]) -> common::Run {
    let cmd = common::bot_command(&fake.url(), fake.token(), args);
    common::run_without_leaking(cmd, fake.token())
}

fn poll(fake: &FakeGitlab) {
    let run = bot(fake, &["commands", "--project", PROJECT]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

fn mr(fake: &FakeGitlab, iid: u64) -> Value {
    fake.merge_requests()
        .into_iter()
        .find(|m| m["iid"] == iid)
        .expect("merge request")
}

fn promote(fake: &FakeGitlab) -> common::Run {
    let run = bot(
        fake,
        &["promote", "--project", PROJECT, "--environment", "prod"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run
}

fn deploy(fake: &FakeGitlab, iid: u64) {
    fake.add_note(iid, OPERATOR, "gitops-bot deploy");
    poll(fake);
    assert_eq!(mr(fake, iid)["state"], "merged", "{:?}", replies(fake, iid));
}

/// staging runs api ci-40 healthy; prod was bumped to ci-40 (!1), which was rolled back to
/// ci-30 (!2, merged).
fn rolled_back() -> (FakeGitlab, tempfile::TempDir) {
    let seed = tempfile::tempdir().unwrap();
    common::write(seed.path(), ".gitops-bot.yaml", CONFIG);
    common::write(
        seed.path(),
        "base/deployment.yaml",
        format!(
            "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: {API}:ci-1\n"
        ),
    );
    common::write(
        seed.path(),
        "envs/staging/kustomization.yaml",
        overlay("ci-40"),
    );
    common::write(
        seed.path(),
        "envs/prod/kustomization.yaml",
        overlay("ci-30"),
    );
    let fake = FakeGitlab::start(Options {
        seed_dir: Some(seed.path().to_path_buf()),
        ..Options::default()
    });
    let image = format!("{API}:ci-40");
    let run = bot(
        &fake,
        &[
            "bump",
            "--project",
            PROJECT,
            "--environment",
            "prod",
            "--image",
            &image,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    deploy(&fake, 1);
    fake.add_note(1, OPERATOR, "gitops-bot rollback");
    poll(&fake);
    let rollback = mr(&fake, 2);
    assert!(
        rollback["source_branch"]
            .as_str()
            .unwrap()
            .starts_with("gitops-bot/prod/rollback/"),
        "{rollback}"
    );
    deploy(&fake, 2);
    let prod =
        String::from_utf8(fake.file("main", "envs/prod/kustomization.yaml").unwrap()).unwrap();
    assert!(prod.contains("newTag: ci-30"), "{prod}");
    let head = fake.branch_head("main").unwrap();
    fake.add_deployment("staging", &head, "success");
    (fake, seed)
}

#[test]
fn a_merged_rollback_holds_its_version_until_an_operator_lifts_it() {
    let (fake, _seed) = rolled_back();
    let run = promote(&fake);
    assert!(
        run.stdout.starts_with(
            "prod ← staging: nothing proposed: no image to move: prod is held for versions staging runs healthy (see skipped)\n"
        ),
        "{}",
        run.stdout
    );
    let held = format!(
        "  skipped {API}: prod is held for ci-40 since rollback !2 ({}/-/merge_requests/2) merged: an operator of prod lifts it with `gitops-bot unhold` on !2, or a newer version is proposed",
        fake.project_web_url()
    );
    assert!(run.stdout.lines().any(|l| l == held), "{}", run.stdout);
    let listed = format!(
        "hold: prod holds {API} ci-40 since rollback !2 ({}/-/merge_requests/2); lift it with `gitops-bot unhold` on !2",
        fake.project_web_url()
    );
    assert!(run.stdout.lines().any(|l| l == listed), "{}", run.stdout);
    let json = bot(
        &fake,
        &[
            "promote",
            "--project",
            PROJECT,
            "--environment",
            "prod",
            "--output",
            "json",
        ],
    );
    let answer = common::json(&json);
    let prod = &answer["environments"][0];
    assert_eq!(prod["images"], serde_json::json!([]), "{prod:#}");
    assert!(
        prod["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("prod is held for ci-40 since rollback !2"),
        "{prod:#}"
    );
    assert_eq!(answer["holds"]["prod"][0]["repository"], API, "{answer:#}");
    assert_eq!(
        answer["holds"]["prod"][0]["versions"],
        serde_json::json!(["ci-40"])
    );
    assert_eq!(answer["holds"]["prod"][0]["rollback_iid"], 2);

    // `status` on the rollback and on the bump it rolled back says so, and how to lift it.
    for iid in [1, 2] {
        fake.add_note(iid, REVIEWER, "gitops-bot status");
        poll(&fake);
        let reply = replies(&fake, iid).pop().unwrap();
        assert!(
            reply.contains(&format!(
                "- **`prod` is held** for `{API} ci-40` since rollback !2 merged ("
            )) && reply.contains("lifts it with `gitops-bot unhold` on !2"),
            "!{iid}: {reply}"
        );
    }

    // Not an operator of prod: refused, and the hold stays.
    fake.add_note(2, REVIEWER, "gitops-bot unhold");
    poll(&fake);
    let reply = replies(&fake, 2).pop().unwrap();
    assert!(reply.starts_with("@reviewer only"), "{reply}");
    assert!(promote(&fake).stdout.contains("is held for ci-40"));

    // The operator of prod lifts it: the reply says what, and promote proposes it again.
    fake.add_note(2, OPERATOR, "gitops-bot unhold");
    poll(&fake);
    let reply = replies(&fake, 2).pop().unwrap();
    assert!(
        reply.starts_with(&format!(
            "@operator hold lifted: prod was held since rollback !2 merged, for `{API} ci-40`."
        )),
        "{reply}"
    );
    let run = promote(&fake);
    assert!(!run.stdout.contains("hold:"), "{}", run.stdout);
    assert!(
        run.stdout.starts_with("prod ← staging: promote 1 image"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("  {API}: ci-30 → ci-40\n")),
        "{}",
        run.stdout
    );
}

#[test]
fn status_shows_each_environments_active_holds_from_one_merged_list() {
    let (fake, _seed) = rolled_back();
    fake.clear_log();
    let run = bot(&fake, &["status", "--project", PROJECT, "--output", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let view = common::json(&run);
    let requests = fake.requests();
    let merged_lists = requests
        .iter()
        .filter(|r| r.path.ends_with("/merge_requests") && r.query.contains("state=merged"))
        .count();
    assert_eq!(
        merged_lists, 1,
        "one list for both environments: {requests:#?}"
    );
    assert_eq!(
        requests.len(),
        14,
        "project, branch, settings, archive, 2 deployments, open merge requests, the bot user, \
         its merged merge requests, and for the one rollback its merge commit, what it changed, \
         the file before and after, its comments: {requests:#?}"
    );
    let envs = view["environments"].as_array().unwrap();
    let env = |name: &str| envs.iter().find(|e| e["name"] == name).unwrap();
    let url = format!("{}/-/merge_requests/2", fake.project_web_url());
    assert_eq!(
        env("prod")["holds"],
        serde_json::json!([{
            "repository": API,
            "versions": ["ci-40"],
            "rollback_iid": 2,
            "rollback_url": url,
            "unhold": "gitops-bot unhold",
        }]),
        "{view:#}"
    );
    assert_eq!(env("staging")["holds"], serde_json::json!([]));

    let run = bot(&fake, &["status", "--project", PROJECT]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = format!(
        "Hold of prod: {API} ci-40 since rollback !2 ({url}); lift it with `gitops-bot unhold` on !2"
    );
    assert!(run.stdout.lines().any(|l| l == line), "{}", run.stdout);

    // Lifted: no longer shown.
    fake.add_note(2, OPERATOR, "gitops-bot unhold");
    poll(&fake);
    let run = bot(&fake, &["status", "--project", PROJECT, "--output", "json"]);
    let view = common::json(&run);
    assert_eq!(
        view["environments"][0]["holds"],
        serde_json::json!([]),
        "{view:#}"
    );
    assert_eq!(
        view["environments"][1]["holds"],
        serde_json::json!([]),
        "{view:#}"
    );
}

#[test]
fn status_fails_when_the_holds_cannot_be_read() {
    let (fake, _seed) = rolled_back();
    fake.inject(
        Rule::matching(
            |r| r.method == "GET" && r.query.contains("state=merged"),
            Fault::status(500),
        )
        .always(),
    );
    let run = bot(&fake, &["status", "--project", PROJECT]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("cannot read the holds: cannot read the merged rollbacks"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_newer_version_is_proposed_despite_the_hold() {
    let (fake, _seed) = rolled_back();
    let head = fake.commit_files(
        "main",
        &[("envs/staging/kustomization.yaml", &overlay("ci-41"))],
        "staging runs ci-41",
    );
    fake.add_deployment("staging", &head, "success");
    let run = promote(&fake);
    assert!(
        run.stdout.contains(&format!("  {API}: ci-30 → ci-41\n")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("held"), "{}", run.stdout);
}

#[test]
fn the_promotion_merge_request_lists_the_images_left_out_by_a_hold() {
    let (fake, _seed) = rolled_back();
    // A second image: staging runs web ci-2 healthy, prod web ci-1; api stays held.
    const WEB: &str = "registry.example.com/team/web";
    let two =
        |api: &str, web: &str| format!("{}  - name: {WEB}\n    newTag: {web}\n", overlay(api));
    let head = fake.commit_files(
        "main",
        &[
            ("envs/staging/kustomization.yaml", &two("ci-40", "ci-2")),
            ("envs/prod/kustomization.yaml", &two("ci-30", "ci-1")),
        ],
        "a second image",
    );
    fake.add_deployment("staging", &head, "success");
    let run = promote(&fake);
    assert!(
        run.stdout.contains(&format!("  {WEB}: ci-1 → ci-2\n")),
        "{}",
        run.stdout
    );
    let promotion = fake
        .merge_requests()
        .into_iter()
        .find(|m| m["source_branch"] == "gitops-bot/prod/promote")
        .expect("the promotion merge request");
    let description = promotion["description"].as_str().unwrap();
    let held = format!(
        "- `{API}` `ci-40`: since rollback !2 ({}/-/merge_requests/2) merged; an operator of `prod` lifts it with `gitops-bot unhold` on !2, or a newer version arrives.",
        fake.project_web_url()
    );
    assert!(
        description.contains("**Held, not promoted:**") && description.lines().any(|l| l == held),
        "{description}"
    );
    let prod = String::from_utf8(
        fake.file("gitops-bot/prod/promote", "envs/prod/kustomization.yaml")
            .unwrap(),
    )
    .unwrap();
    assert!(
        prod.contains("newTag: ci-30") && prod.contains("newTag: ci-2"),
        "{prod}"
    );
}

#[test]
fn holds_that_cannot_be_read_propose_nothing() {
    let (fake, _seed) = rolled_back();
    let head = fake.commit_files(
        "main",
        &[("envs/staging/kustomization.yaml", &overlay("ci-41"))],
        "staging runs ci-41",
    );
    fake.add_deployment("staging", &head, "success");
    fake.inject(Rule::new("GET", "/merge_requests", Fault::status(500)).always());
    let run = promote(&fake);
    assert!(
        run.stdout.starts_with(
            "prod ← staging: nothing proposed: the holds of prod are unknown, so nothing is proposed: cannot read the merged rollbacks of prod"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("ci-41"), "{}", run.stdout);
}

const DEV_CONFIG: &str = "\
operators: [operator]
environments:
  dev:
    paths: [envs/dev]
    auto_deploy: true
";

fn bump_dev(fake: &FakeGitlab, version: &str) -> common::Run {
    let image = format!("{API}:{version}");
    let run = bot(
        fake,
        &[
            "bump",
            "--project",
            PROJECT,
            "--environment",
            "dev",
            "--image",
            &image,
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run
}

fn merge_calls(fake: &FakeGitlab) -> usize {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/merge"))
        .count()
}

/// dev has auto_deploy: its bump to ci-40 (!1) merged by itself, then was rolled back to
/// ci-30 (!2, merged).
fn dev_rolled_back() -> (FakeGitlab, tempfile::TempDir) {
    let seed = tempfile::tempdir().unwrap();
    common::write(seed.path(), ".gitops-bot.yaml", DEV_CONFIG);
    common::write(seed.path(), "envs/dev/kustomization.yaml", overlay("ci-30"));
    let fake = FakeGitlab::start(Options {
        seed_dir: Some(seed.path().to_path_buf()),
        ..Options::default()
    });
    let run = bump_dev(&fake, "ci-40");
    assert!(
        run.stdout.contains("auto-deploy: GitLab merged !1"),
        "{}",
        run.stdout
    );
    fake.add_note(1, OPERATOR, "gitops-bot rollback");
    poll(&fake);
    let rollback = mr(&fake, 2);
    assert!(
        rollback["source_branch"]
            .as_str()
            .unwrap()
            .starts_with("gitops-bot/dev/rollback/"),
        "{rollback}"
    );
    deploy(&fake, 2);
    let dev = String::from_utf8(fake.file("main", "envs/dev/kustomization.yaml").unwrap()).unwrap();
    assert!(dev.contains("newTag: ci-30"), "{dev}");
    (fake, seed)
}

#[test]
fn auto_deploy_leaves_a_held_version_open_and_arms_a_newer_one() {
    let (fake, _seed) = dev_rolled_back();
    let merges = merge_calls(&fake);

    // The rolled-back version again: written, not armed, and the output says which hold
    // and how to lift it.
    let run = bump_dev(&fake, "ci-40");
    let held = format!(
        "auto-deploy: !3 left open: {API}: dev is held for ci-40 since rollback !2 ({}/-/merge_requests/2) merged: an operator of dev lifts it with `gitops-bot unhold` on !2, or a newer version is proposed",
        fake.project_web_url()
    );
    assert!(run.stdout.lines().any(|l| l == held), "{}", run.stdout);
    assert_eq!(mr(&fake, 3)["state"], "opened");
    assert_eq!(merge_calls(&fake), merges);

    // The pass that arms waiting merge requests leaves it open too, for the same reason.
    let run = bot(&fake, &["commands", "--project", PROJECT]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.lines().any(|l| l == held), "{}", run.stdout);
    assert_eq!(merge_calls(&fake), merges);

    // A newer version is armed (GitLab merges it at once: no pipeline).
    let run = bump_dev(&fake, "ci-41");
    assert!(
        run.stdout.contains("auto-deploy: GitLab merged !3"),
        "{}",
        run.stdout
    );
    assert_eq!(merge_calls(&fake), merges + 1);
    let dev = String::from_utf8(fake.file("main", "envs/dev/kustomization.yaml").unwrap()).unwrap();
    assert!(dev.contains("newTag: ci-41"), "{dev}");
}

#[test]
fn auto_deploy_is_not_armed_when_the_holds_cannot_be_read() {
    let (fake, _seed) = dev_rolled_back();
    let merges = merge_calls(&fake);
    fake.inject(
        Rule::matching(
            // The bot's merged merge requests (where rollbacks are found), not the labelled
            // ones a bump reads for its notices.
            |r| {
                r.method == "GET"
                    && r.query.contains("state=merged")
                    && r.query.contains("author_id=")
            },
            Fault::status(500),
        )
        .always(),
    );
    let run = bump_dev(&fake, "ci-41");
    assert!(
        run.stdout.contains(
            "auto-deploy: !3 left open: the holds of dev are unknown, so it is not armed: cannot read the merged rollbacks of dev"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(mr(&fake, 3)["state"], "opened");
    assert_eq!(merge_calls(&fake), merges);
}
