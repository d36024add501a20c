//! Environments of issue 13 through the real binary against the fake GitLab: per-environment
//! operators and deploy windows.

use crate::common;
use crate::fake_gitlab::{FakeGitlab, Options};
use crate::mr_thread::*;

/// A config repo whose `.gitops-bot.yaml` is `config`, and the bump of the image to ci-35 for
/// environment `prod` (!1). Users as in [`setup`]: `operator` is a top-level operator and a
/// Maintainer, `reviewer` a Developer.
fn setup_prod(config: &str) -> (FakeGitlab, tempfile::TempDir) {
    let seed = common::copy_tree(&common::example_repo());
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
