//! Environments of issue 13 through the real binary against the fake GitLab: per-environment
//! operators and deploy windows.

use crate::common;
use crate::fake_gitlab::{FakeGitlab, Options};
use crate::mr_thread::*;

/// A config repo whose `.gitops-bot.yaml` is `config`, and the bump of the image to ci-35 for
/// environment `prod` (!1). Users as in [`setup`]: `operator` is a top-level operator and a
/// Maintainer, `reviewer` a Developer.
fn setup_prod(config: &str) -> (FakeGitlab, tempfile::TempDir) {
    let seed = common::prod_only_repo();
    common::write(seed.path(), ".gitops-bot.yaml", config);
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
            "--environment",
            "prod",
            "--image",
            &format!("{IMAGE}:ci-35"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    (fake, seed)
}

fn assignees(fake: &FakeGitlab, iid: u64) -> Vec<String> {
    mr(fake, iid)["assignees"]
        .as_array()
        .expect("assignees")
        .iter()
        .map(|a| a["username"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn only_prods_own_operators_may_deploy_it() {
    // `base` is where the example repo's image is: prod's bump changes it.
    let (fake, _seed) = setup_prod(
        "operators: [operator]\nenvironments:\n  prod:\n    paths: [base]\n    operators: [reviewer]\n",
    );
    // The bump merge request is assigned to prod's operators, not the top-level ones.
    assert_eq!(assignees(&fake, 1), ["reviewer"]);

    // A top-level operator, Maintainer too, is refused: prod lists its own.
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    fake.add_note(1, OPERATOR, "gitops-bot hold");
    fake.add_note(1, OPERATOR, "gitops-bot status");
    let run = poll(&fake);
    assert!(
        run.stdout.contains("2 refused") && run.stdout.contains("1 answered"),
        "{}",
        run.stdout
    );
    assert_eq!(mr(&fake, 1)["state"], "opened");
    assert!(!fake.requests().iter().any(|r| r.path.ends_with("/merge")));
    let replies = replies(&fake, 1);
    assert!(
        replies[0]
            .starts_with("@operator only the operators of `prod` (`reviewer`) may `deploy` here"),
        "{}",
        replies[0]
    );
    assert!(
        replies[1]
            .starts_with("@operator only the operators of `prod` (`reviewer`) may `hold` here"),
        "{}",
        replies[1]
    );
    assert!(
        replies[2].contains(
            "- Who may deploy: only the operators of `prod` (`reviewer`; `gitops-bot deploy`)."
        ),
        "{}",
        replies[2]
    );
    let description = mr(&fake, 1)["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        description.contains("Who may deploy: only the operators of `prod` (`reviewer`)."),
        "{description}"
    );

    // prod's operator, only a Developer, deploys.
    fake.add_note(1, REVIEWER, "gitops-bot deploy");
    let run = poll(&fake);
    assert!(run.stdout.contains("1 done"), "{}", run.stdout);
    assert_eq!(mr(&fake, 1)["state"], "merged");
}

#[test]
fn environments_without_a_list_keep_the_top_level_operators_and_the_role() {
    // prod has no list; another environment's list does not apply to prod's files.
    let (fake, _seed) = setup_prod(
        "operators: [operator]\nenvironments:\n  prod:\n    paths: [base]\n  dev:\n    paths: [overlays/dev]\n    operators: [reviewer]\n",
    );
    assert_eq!(assignees(&fake, 1), ["operator"]);
    fake.add_note(1, REVIEWER, "gitops-bot deploy");
    let run = poll(&fake);
    assert!(run.stdout.contains("1 refused"), "{}", run.stdout);
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "merged");
}

/// A window that is closed whenever the test runs: the whole day, three days from now, in
/// UTC (not today's weekday, nor one a run across midnight could reach), and the moment it
/// next opens as the reply writes it.
fn closed_window() -> (String, String) {
    let day = chrono::Utc::now().date_naive() + chrono::Duration::days(3);
    let window = format!("{} 00:00-24:00 UTC", day.format("%a"));
    let opens = format!("{} 00:00 UTC", day.format("%a %Y-%m-%d"));
    (window, opens)
}

#[test]
fn a_deploy_outside_the_window_is_refused_with_the_next_opening() {
    let (window, opens) = closed_window();
    let (fake, seed) = setup_prod(&format!(
        "operators: [operator]\ndeploy_on_approval: true\nenvironments:\n  prod:\n    paths: [base]\n    window: {window}\n"
    ));
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    let run = poll(&fake);
    assert!(run.stdout.contains("1 refused"), "{}", run.stdout);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    assert!(!fake.requests().iter().any(|r| r.path.ends_with("/merge")));
    let replies = replies(&fake, 1);
    assert!(
        replies[0].starts_with(&format!(
            "@operator `prod` is deployed only inside its window `{window}`, and it is closed now; nothing was merged. It opens next on {opens} ({opens_local} in UTC): comment `gitops-bot deploy` again then.",
            opens_local = opens.trim_end_matches(" UTC"),
        )),
        "{}",
        replies[0]
    );

    // An approval (deploy_on_approval) is refused the same way.
    fake.approve(1, OPERATOR);
    let payload = seed.path().join("approved.json");
    std::fs::write(
        &payload,
        fake.merge_request_hook(1, "approved", OPERATOR).to_string(),
    )
    .expect("write the payload");
    let run = bot(
        &fake,
        &[
            "handle-event",
            "--payload",
            payload.to_str().expect("a UTF-8 path"),
            "--project",
            PROJECT,
        ],
    );
    assert_eq!(run.stdout.trim(), "refused", "{}", run.stderr);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    let notes = fake.notes(1);
    let last = notes
        .last()
        .and_then(|n| n["body"].as_str())
        .unwrap_or_default();
    assert!(last.contains(&format!("opens next on {opens}")), "{last}");

    // The window is the only reason: once it is always open, the same comment deploys.
    let open = "operators: [operator]\nenvironments:\n  prod:\n    paths: [base]\n    window: Mon-Sun 00:00-24:00 UTC\n";
    fake.commit_files("main", &[(".gitops-bot.yaml", open)], "open the window");
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    let run = poll(&fake);
    assert!(run.stdout.contains("1 done"), "{}", run.stdout);
    assert_eq!(mr(&fake, 1)["state"], "merged");
}

/// `bump --environment dev` with the image at `version`.
fn bump_dev(fake: &FakeGitlab, version: &str) -> common::Run {
    let run = bot(
        fake,
        &[
            "bump",
            "--project",
            PROJECT,
            "--environment",
            "dev",
            "--image",
            &format!("{IMAGE}:{version}"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    run
}

fn start(config: &str) -> (FakeGitlab, tempfile::TempDir) {
    let seed = common::prod_only_repo();
    common::write(seed.path(), ".gitops-bot.yaml", config);
    let fake = FakeGitlab::start(Options {
        seed_dir: Some(seed.path().to_path_buf()),
        ..Options::default()
    });
    (fake, seed)
}

fn merge_calls(fake: &FakeGitlab) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/merge"))
        .map(|r| r.body)
        .collect()
}

#[test]
fn auto_deploy_merges_the_bots_head_when_the_pipeline_succeeds_unless_held() {
    // The hold label comes with the merge request (`labels`): auto-deploy leaves it open.
    let (fake, _seed) = start(
        "operators: [operator]\nlabels: [gitops-bot::hold]\nenvironments:\n  dev:\n    paths: [base]\n    auto_deploy: true\n",
    );
    let run = bump_dev(&fake, "ci-35");
    assert!(
        run.stdout
            .contains("auto-deploy: !1 is on hold (label gitops-bot::hold); left open"),
        "{}",
        run.stdout
    );
    assert!(merge_calls(&fake).is_empty());
    assert_eq!(mr(&fake, 1)["state"], "opened");

    // Unheld, with a pipeline running: the same `commands` pass that lifts the hold then arms
    // the merge, pinned to the bot's head, and GitLab merges when the pipeline succeeds.
    fake.add_note(1, OPERATOR, "gitops-bot unhold");
    fake.set_pipeline(1, Some("running"));
    let head = mr(&fake, 1)["sha"].as_str().unwrap_or_default().to_string();
    let run = poll(&fake);
    assert!(
        run.stdout.contains(&format!(
            "auto-deploy: GitLab merges !1 at {} when its pipeline succeeds",
            &head[..12]
        )),
        "{}",
        run.stdout
    );
    let calls = merge_calls(&fake);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].contains(&format!("sha={head}"))
            && calls[0].contains("merge_when_pipeline_succeeds=true"),
        "{}",
        calls[0]
    );
    assert_eq!(mr(&fake, 1)["state"], "opened");
    fake.set_pipeline(1, Some("success"));
    assert_eq!(mr(&fake, 1)["state"], "merged");
    assert!(main_file(&fake, "base/deployment.yml").contains("helloworld:ci-35"));
}

#[test]
fn auto_deploy_waits_outside_the_window_and_is_off_by_default() {
    let (window, opens) = closed_window();
    let (fake, _seed) = start(&format!(
        "environments:\n  dev:\n    paths: [base]\n    auto_deploy: true\n    window: {window}\n"
    ));
    let run = bump_dev(&fake, "ci-35");
    assert!(
        run.stdout.contains(&format!(
            "auto-deploy: outside the window {window}; !1 left open (the window opens next at {})",
            opens.split_once(' ').map_or("", |(_, rest)| rest)
        )),
        "{}",
        run.stdout
    );
    assert!(merge_calls(&fake).is_empty());
    assert_eq!(mr(&fake, 1)["state"], "opened");

    // Without `auto_deploy` nothing is merged and nothing is said.
    let (fake, _seed) = start("environments:\n  dev:\n    paths: [base]\n");
    let run = bump_dev(&fake, "ci-35");
    assert!(!run.stdout.contains("auto-deploy"), "{}", run.stdout);
    assert!(merge_calls(&fake).is_empty());
}

/// A `promote_from` cycle in the example's settings stops a bump before it reads a manifest:
/// the error names the file, line and column of the offending value and the whole cycle, and
/// nothing is written.
#[test]
fn a_promotion_cycle_in_the_settings_is_an_error_at_its_value_and_nothing_changes() {
    let repo = common::copy_tree(&common::example_repo());
    let settings = common::read(repo.path(), ".gitops-bot.yaml");
    let cyclic = settings.replacen(
        "    auto_deploy: true",
        "    promote_from: prod\n    auto_deploy: true",
        1,
    );
    assert_ne!(
        cyclic, settings,
        "the example's dev environment has auto_deploy"
    );
    common::write(repo.path(), ".gitops-bot.yaml", &cyclic);
    let before = common::snapshot(repo.path());
    let line = cyclic
        .lines()
        .position(|l| l == "    promote_from: prod")
        .expect("the line just written")
        + 1;
    let run = common::gitops_bot(&[
        "bump",
        "--local",
        repo.path().to_str().unwrap(),
        "--environment",
        "dev",
        "--image",
        "registry.example.com/root/helloworld:ci-35",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr.trim_end(),
        format!(
            "error: .gitops-bot.yaml:{line}:19: promote_from makes a cycle: dev → staging → prod → dev"
        )
    );
    assert_eq!(common::snapshot(repo.path()), before);
}

#[test]
fn an_auto_deploy_left_outside_the_window_is_armed_by_the_next_pass_inside_it() {
    let (window, _) = closed_window();
    let (fake, _seed) = start(&format!(
        "environments:\n  dev:\n    paths: [base]\n    auto_deploy: true\n    window: {window}\n"
    ));
    bump_dev(&fake, "ci-35");
    let run = poll(&fake);
    assert!(
        run.stdout.contains(&format!(
            "auto-deploy: outside the window {window}; !1 left open"
        )),
        "{}",
        run.stdout
    );
    assert!(merge_calls(&fake).is_empty());

    // The window opens (the config changes between passes): the next pass arms it, pinned
    // to the bot's head, and GitLab merges when the pipeline succeeds.
    fake.set_pipeline(1, Some("running"));
    let open = "environments:\n  dev:\n    paths: [base]\n    auto_deploy: true\n    window: Mon-Sun 00:00-24:00 UTC\n";
    fake.commit_files("main", &[(".gitops-bot.yaml", open)], "open the window");
    let head = mr(&fake, 1)["sha"].as_str().unwrap().to_string();
    let run = poll(&fake);
    assert!(
        run.stdout.contains(&format!(
            "auto-deploy: GitLab merges !1 at {} when its pipeline succeeds",
            &head[..12]
        )),
        "{}",
        run.stdout
    );
    let calls = merge_calls(&fake);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].contains(&format!("sha={head}")), "{}", calls[0]);
    assert!(
        calls[0].contains("merge_when_pipeline_succeeds=true"),
        "{}",
        calls[0]
    );
    fake.set_pipeline(1, Some("success"));
    assert_eq!(mr(&fake, 1)["state"], "merged");

    // Armed once: a later pass has nothing to do.
    let run = poll(&fake);
    assert!(!run.stdout.contains("auto-deploy"), "{}", run.stdout);
    assert_eq!(merge_calls(&fake).len(), 1);
}

#[test]
fn promote_also_arms_an_auto_deploy_waiting_for_its_window() {
    let (window, _) = closed_window();
    let config = |window: &str| {
        format!(
            "environments:\n  dev:\n    paths: [base]\n    auto_deploy: true\n    window: {window}\n  staging:\n    paths: [staging]\n    promote_from: dev\n"
        )
    };
    let (fake, _seed) = start(&config(&window));
    bump_dev(&fake, "ci-35");
    assert!(merge_calls(&fake).is_empty());
    fake.set_pipeline(1, Some("running"));
    fake.commit_files(
        "main",
        &[(".gitops-bot.yaml", &config("Mon-Sun 00:00-24:00 UTC"))],
        "open the window",
    );
    let head = mr(&fake, 1)["sha"].as_str().unwrap().to_string();
    let run = bot(
        &fake,
        &["promote", "--project", PROJECT, "--output", "json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    common::json(&run);
    assert!(
        run.stderr.contains(&format!(
            "auto-deploy: GitLab merges !1 at {} when its pipeline succeeds",
            &head[..12]
        )),
        "{}",
        run.stderr
    );
    let calls = merge_calls(&fake);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].contains(&format!("sha={head}")), "{}", calls[0]);
}
