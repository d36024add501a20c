//! Deploy integrity through the real binary against the fake GitLab: a comment or an
//! approval deploys exactly the commit its author reviewed, or nothing; what people can edit
//! never steers a deploy or a rollback; each comment is answered once; and rollbacks, rebases
//! and the merge request description tell the truth.

use crate::common;
use crate::fake_gitlab;
use crate::mr_thread;

use fake_gitlab::{Fault, MERGE_REQUEST_HOOK, NOTE_HOOK, Options, Rule};
use mr_thread::*;
use serde_json::Value;

fn merges(fake: &fake_gitlab::FakeGitlab) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path.ends_with("/merge"))
        .count()
}

fn head(fake: &fake_gitlab::FakeGitlab, iid: u64) -> String {
    mr(fake, iid)["sha"].as_str().unwrap().to_string()
}

/// Someone pushes a commit to the bot branch of !1.
fn push_to_bot_branch(fake: &fake_gitlab::FakeGitlab, n: usize) -> String {
    let branch = mr(fake, 1)["source_branch"].as_str().unwrap().to_string();
    fake.commit_files(
        &branch,
        &[(
            "service.yml",
            &format!("apiVersion: v1\nkind: Service\nmetadata: {{name: push-{n}}}\n"),
        )],
        &format!("someone pushes {n}"),
    )
}

/// `handle-event --payload` with `payload` written to a file.
fn handle(fake: &fake_gitlab::FakeGitlab, dir: &std::path::Path, payload: &Value) -> common::Run {
    let path = dir.join("payload.json");
    std::fs::write(&path, payload.to_string()).unwrap();
    bot(
        fake,
        &[
            "handle-event",
            "--payload",
            path.to_str().unwrap(),
            "--project",
            PROJECT,
        ],
    )
}

#[test]
fn a_failing_versions_read_refuses_and_the_explicit_deploy_still_works() {
    for status in [500, 404] {
        let (fake, _seed) = default_setup();
        let now = head(&fake, 1);
        fake.inject(Rule::new("GET", "/versions", Fault::status(status)).always());
        fake.add_note(1, OPERATOR, "gitops-bot deploy");
        let run = poll(&fake);
        assert!(run.stdout.contains("1 refused"), "{}", run.stdout);
        assert_eq!(mr(&fake, 1)["state"], "opened");
        assert_eq!(merges(&fake), 0, "nothing was merged on a {status}");
        let reply = replies(&fake, 1).pop().unwrap();
        assert!(
            reply.contains("cannot tell which commit you reviewed: GitLab's history of this merge request could not be read"),
            "{reply}"
        );
        assert!(
            reply.contains(&format!("comment `gitops-bot deploy {}`", &now[..12])),
            "the reply says how to deploy explicitly: {reply}"
        );

        // Naming the commit needs no history.
        fake.add_note(1, OPERATOR, &format!("gitops-bot deploy {}", &now[..12]));
        poll(&fake);
        assert_eq!(mr(&fake, 1)["state"], "merged", "{:?}", replies(&fake, 1));
    }
}

#[test]
fn a_comment_before_101_pushes_cannot_deploy_the_last_one() {
    let (fake, _seed) = default_setup();
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    for n in 0..101 {
        push_to_bot_branch(&fake, n);
    }
    assert!(fake.versions(1).len() > 101);
    fake.clear_log();
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    assert_eq!(merges(&fake), 0);
    let reply = replies(&fake, 1).pop().unwrap();
    assert!(
        reply.contains("the branch moved since you reviewed it"),
        "{reply}"
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path.ends_with("/versions") && r.query.contains("page=2")),
        "the history was paged"
    );
}

#[test]
fn the_head_from_a_webhook_counts_only_when_gitlab_agrees() {
    // Agreeing: handle-event deploys.
    let (fake, seed) = default_setup();
    let note = fake.add_note(1, OPERATOR, "gitops-bot deploy");
    let payload = fake.note_hook(1, note);
    assert_eq!(
        payload["merge_request"]["last_commit"]["id"],
        head(&fake, 1)
    );
    let run = handle(&fake, seed.path(), &payload);
    assert_eq!(run.stdout.trim(), "done", "{}", run.stderr);
    assert_eq!(mr(&fake, 1)["state"], "merged");

    // Disagreeing: the comment was written before a push, the payload claims the new head.
    let (fake, seed) = default_setup();
    let note = fake.add_note(1, OPERATOR, "gitops-bot deploy");
    push_to_bot_branch(&fake, 1);
    let forged = fake.note_hook(1, note);
    assert_eq!(forged["merge_request"]["last_commit"]["id"], head(&fake, 1));
    let run = handle(&fake, seed.path(), &forged);
    assert_eq!(run.stdout.trim(), "refused", "{}", run.stderr);
    assert_eq!(merges(&fake), 0);
    let reply = replies(&fake, 1).pop().unwrap();
    assert!(reply.contains("the event says the head was"), "{reply}");

    // The same through `serve`.
    let (fake, _seed) = default_setup();
    let note = fake.add_note(1, OPERATOR, "gitops-bot deploy");
    push_to_bot_branch(&fake, 1);
    let forged = fake.note_hook(1, note).to_string();
    let server = Server::start(&fake, &[]);
    assert_eq!(
        server
            .post("s3cret", NOTE_HOOK, forged.as_bytes(), Some("k1"))
            .0,
        200
    );
    wait_until("the reply", || !replies(&fake, 1).is_empty());
    assert_eq!(mr(&fake, 1)["state"], "opened");
    assert!(
        replies(&fake, 1)[0].contains("the event says the head was"),
        "{:?}",
        replies(&fake, 1)
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn an_approval_counts_only_for_the_head_it_was_given_at() {
    for with_time in [true, false] {
        let (fake, seed) = setup_with(
            "operators: [operator]\ndeploy_on_approval: true\n",
            Options {
                approvals_with_time: with_time,
                ..Options::default()
            },
        );
        fake.approve(1, OPERATOR);
        // GitLab sends the event when the approval is given, with the head then.
        let event = fake.merge_request_hook(1, "approved", OPERATOR);
        push_to_bot_branch(&fake, 1);
        let run = handle(&fake, seed.path(), &event);
        assert_eq!(run.stdout.trim(), "refused", "{}", run.stderr);
        assert_eq!(
            merges(&fake),
            0,
            "a stale approval merged (approved_at listed: {with_time})"
        );
        let notes = fake.notes(1);
        let answer = notes
            .iter()
            .filter_map(|n| n["body"].as_str())
            .find(|b| b.starts_with("Approved by @operator"))
            .unwrap();
        assert!(
            answer
                .contains("this approval does not deploy: the branch moved since you reviewed it"),
            "{answer}"
        );
        // A second delivery of the same approval is answered once.
        let again = handle(&fake, seed.path(), &event);
        assert_eq!(again.stdout.trim(), "ignored", "{}", again.stderr);

        // Approving the new head deploys it.
        fake.unapprove(1, OPERATOR);
        fake.approve(1, OPERATOR);
        let event = fake.merge_request_hook(1, "approved", OPERATOR);
        // The pushed commit is not the bot's: even a fresh approval does not merge it.
        let run = handle(&fake, seed.path(), &event);
        assert_eq!(run.stdout.trim(), "refused", "{}", run.stderr);
        assert_eq!(merges(&fake), 0);
    }
}

#[test]
fn foreign_commits_refuse_the_deploy_until_rebase_restores_the_bots_change() {
    let (fake, _seed) = default_setup();
    let foreign = push_to_bot_branch(&fake, 7);
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    assert_eq!(merges(&fake), 0);
    let reply = replies(&fake, 1).pop().unwrap();
    assert!(
        reply.contains("holds changes the bot did not propose"),
        "{reply}"
    );
    assert!(
        reply.contains(&format!(
            "`{}` `someone pushes 7` (`operator`)",
            &foreign[..12]
        )),
        "the reply names the foreign commit: {reply}"
    );
    assert!(reply.contains("Comment `gitops-bot rebase`"), "{reply}");

    fake.add_note(1, OPERATOR, "gitops-bot rebase");
    poll(&fake);
    let branch = mr(&fake, 1)["source_branch"].as_str().unwrap().to_string();
    assert_eq!(
        fake.git(&["rev-list", "--count", &format!("main..{branch}")])
            .trim(),
        "1",
        "{:?}",
        replies(&fake, 1)
    );
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "merged", "{:?}", replies(&fake, 1));
    assert!(
        fake.file("main", "service.yml").is_none(),
        "the foreign change did not reach main"
    );
}

#[test]
fn a_rerun_of_the_same_version_restores_a_branch_someone_pushed_to() {
    let (fake, _seed) = default_setup();
    push_to_bot_branch(&fake, 9);
    let run = bump_to(&fake, "ci-35");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("already proposed"), "{}", run.stdout);
    let branch = mr(&fake, 1)["source_branch"].as_str().unwrap().to_string();
    assert_eq!(
        fake.git(&["rev-list", "--count", &format!("main..{branch}")])
            .trim(),
        "1"
    );
    assert!(
        fake.notes(1).iter().any(|n| n["body"]
            .as_str()
            .unwrap_or("")
            .starts_with("Proposed `ci-35` again")),
        "{:#?}",
        fake.notes(1)
    );
    // Now it holds the bot's change alone: a rerun is a no-op.
    let again = bump_to(&fake, "ci-35");
    assert!(
        again.stdout.contains("already proposed"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_rollback_comes_from_git_not_from_the_edited_description() {
    let (fake, _seed) = default_setup();
    deploy_first(&fake);
    let description = mr(&fake, 1)["description"]
        .as_str()
        .unwrap()
        .replace(
            "\"previous\":[\"ci-34\"]",
            "\"previous\":[\"ci-34-backdoor\"]",
        )
        .replace(
            "\"target_branch\":\"main\"",
            "\"target_branch\":\"release\"",
        );
    assert!(description.contains("ci-34-backdoor"));
    fake.set_description(1, &description);
    fake.add_note(1, OPERATOR, "gitops-bot rollback");
    poll(&fake);
    let reply = replies(&fake, 1).pop().unwrap();
    assert!(reply.contains("rollback proposed: !2"), "{reply}");
    let rollback = mr(&fake, 2);
    assert_eq!(
        rollback["title"],
        "Roll back helloworld in main to ci-34 (from ci-35)"
    );
    assert_eq!(rollback["target_branch"], "main");
    for m in fake.merge_requests() {
        assert!(!m["title"].as_str().unwrap().contains("backdoor"));
    }
    let branch = rollback["source_branch"].as_str().unwrap();
    assert!(
        !fake
            .git(&["diff", &format!("main...{branch}")])
            .contains("backdoor")
    );
    assert!(
        rollback["description"]
            .as_str()
            .unwrap()
            .contains("Asked for by `@operator`."),
        "{}",
        rollback["description"]
    );
}

#[test]
fn fifty_deliveries_with_distinct_keys_are_answered_once() {
    let (fake, _seed) = default_setup();
    let note = fake.add_note(1, STRANGER, "gitops-bot status");
    let body = fake.note_hook(1, note).to_string();
    let server = Server::start(&fake, &[]);
    for i in 0..50 {
        let (code, text) = server.post(
            "s3cret",
            NOTE_HOOK,
            body.as_bytes(),
            Some(&format!("key-{i}")),
        );
        assert_eq!((code, text.as_str()), (200, "queued\n"));
    }
    wait_until("the queue to drain", || {
        let (_, metrics) = server.get("/metrics");
        metrics.contains("gitops_bot_queue_depth 0")
            && metrics.contains("gitops_bot_events_processed_total{outcome=\"answered\"} 1")
            && metrics
                .lines()
                .any(|l| l == "gitops_bot_events_ignored_total 49")
    });
    assert_eq!(replies(&fake, 1).len(), 1, "{:?}", replies(&fake, 1));
    assert_eq!(server.stop(), 0);
}

#[test]
fn concurrent_workers_claim_a_comment_once() {
    let (fake, seed) = default_setup();
    let note = fake.add_note(1, STRANGER, "gitops-bot status");
    let path = seed.path().join("payload.json");
    std::fs::write(&path, fake.note_hook(1, note).to_string()).unwrap();
    let children: Vec<_> = (0..6)
        .map(|_| {
            command(
                &fake,
                &[
                    "handle-event",
                    "--payload",
                    path.to_str().unwrap(),
                    "--project",
                    PROJECT,
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    let outcomes: Vec<String> = children
        .into_iter()
        .map(|c| {
            String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout)
                .trim()
                .to_string()
        })
        .collect();
    assert_eq!(replies(&fake, 1).len(), 1, "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|o| *o == "answered").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| *o == "ignored").count(),
        5,
        "{outcomes:?}"
    );
}

#[test]
fn edited_comments_without_an_action_are_not_commands() {
    let (fake, seed) = default_setup();
    let note = fake.add_note(1, OPERATOR, "lgtm");
    fake.edit_note(1, note, "gitops-bot deploy");
    let mut payload = fake.note_hook(1, note);
    // GitLab before 16.11 sends no `action`.
    payload["object_attributes"]
        .as_object_mut()
        .unwrap()
        .remove("action");
    let run = handle(&fake, seed.path(), &payload);
    assert_eq!(run.stdout.trim(), "ignored", "{}", run.stderr);
    assert!(replies(&fake, 1).is_empty());
    assert_eq!(mr(&fake, 1)["state"], "opened");

    let server = Server::start(&fake, &[]);
    let (code, _) = server.post("s3cret", NOTE_HOOK, payload.to_string().as_bytes(), None);
    assert_eq!(code, 200);
    assert_eq!(server.stop(), 0);
    assert!(replies(&fake, 1).is_empty());
    assert_eq!(mr(&fake, 1)["state"], "opened");
}

#[test]
fn lazy_quote_continuations_and_pre_blocks_are_not_commands() {
    let (fake, _seed) = default_setup();
    fake.add_note(1, OPERATOR, "> what does\ngitops-bot deploy\ndo?");
    fake.add_note(1, OPERATOR, "<pre>\ngitops-bot deploy\n</pre>");
    let run = poll(&fake);
    assert!(run.stdout.contains("0 commands"), "{}", run.stdout);
    assert_eq!(mr(&fake, 1)["state"], "opened");
}

#[test]
fn a_forward_bump_leaves_an_open_rollback_alone_and_links_it() {
    let (fake, _seed) = default_setup();
    deploy_first(&fake);
    fake.add_note(1, OPERATOR, "gitops-bot rollback");
    poll(&fake);
    let rollback = mr(&fake, 2);
    assert_eq!(rollback["state"], "opened");
    let run = bump_to(&fake, "ci-36");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = mr(&fake, 2);
    assert_eq!(
        after["sha"], rollback["sha"],
        "the rollback branch was not touched"
    );
    assert_eq!(after["title"], rollback["title"]);
    assert_eq!(after["state"], "opened");
    assert!(
        !fake
            .notes(2)
            .iter()
            .any(|n| n["body"].as_str().unwrap_or("").starts_with("Superseded")),
        "no supersede note on the rollback"
    );
    let forward = fake
        .merge_requests()
        .into_iter()
        .find(|m| m["iid"] == 3)
        .expect("a new forward merge request");
    assert_eq!(
        forward["title"],
        "Deploy helloworld ci-36 to main (was ci-35)"
    );
    assert!(
        forward["description"].as_str().unwrap().contains(&format!(
            "A rollback of this image in `main` is open: !2 ({})",
            rollback["web_url"].as_str().unwrap()
        )),
        "{}",
        forward["description"]
    );
}

#[test]
fn a_version_that_failed_is_proposed_again_as_a_draft() {
    let (fake, _seed) = default_setup();
    deploy_first(&fake);
    // The sync report marked !1's deploy as failed; someone reverts main to ci-34.
    fake.add_labels(1, &["deploy-failed"]);
    let original =
        std::fs::read_to_string(common::example_repo().join("base/deployment.yml")).unwrap();
    fake.commit_files(
        "main",
        &[("base/deployment.yml", &original)],
        "revert ci-35",
    );
    let kustomization = fake.file("main", "envs/prod/kustomization.yaml").unwrap();
    let kustomization = String::from_utf8(kustomization)
        .unwrap()
        .replace("ci-35", "ci-34");
    fake.commit_files(
        "main",
        &[("envs/prod/kustomization.yaml", &kustomization)],
        "revert ci-35 (overlay)",
    );

    let run = bump_to(&fake, "ci-35");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let again = latest_mr(&fake);
    assert_eq!(
        again["title"],
        "Draft: Deploy helloworld ci-35 to main (was ci-34)"
    );
    let description = again["description"].as_str().unwrap();
    assert!(
        description.contains(&format!(
            "This version failed to deploy to `main` before**, in !1 ({})",
            mr(&fake, 1)["web_url"].as_str().unwrap()
        )),
        "{description}"
    );

    let run = bump_to(&fake, "ci-36");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let newer = latest_mr(&fake);
    assert_eq!(
        newer["title"],
        "Deploy helloworld ci-36 to main (was ci-34)"
    );
    assert!(
        !newer["description"]
            .as_str()
            .unwrap()
            .contains("failed to deploy")
    );
}

#[test]
fn a_rebase_on_the_current_target_keeps_the_head() {
    let (fake, _seed) = default_setup();
    let before = head(&fake, 1);
    fake.clear_log();
    fake.add_note(1, OPERATOR, "gitops-bot rebase");
    poll(&fake);
    let reply = replies(&fake, 1).pop().unwrap();
    assert!(reply.contains("already up to date with `main`"), "{reply}");
    assert!(
        reply.contains("reviews and approvals stay valid"),
        "{reply}"
    );
    assert_eq!(head(&fake, 1), before);
    assert!(
        !fake
            .writes()
            .iter()
            .any(|w| w.path.ends_with("/repository/commits")),
        "{:#?}",
        fake.writes()
    );
}

#[test]
fn replies_and_help_use_the_configured_prefix() {
    let (fake, _seed) = setup("operators: [operator]\ncommand_prefix: ship\n");
    let description = mr(&fake, 1)["description"].as_str().unwrap().to_string();
    assert!(
        description.contains("comment `ship deploy` on a line of its own"),
        "{description}"
    );
    assert!(!description.contains("gitops-bot deploy"), "{description}");
    fake.add_note(1, OPERATOR, "ship help");
    fake.add_note(1, OPERATOR, "ship hold");
    let run = poll(&fake);
    assert!(run.stdout.contains("2 commands"), "{}", run.stdout);
    let replies = replies(&fake, 1);
    assert!(replies[0].contains("`ship deploy"), "{}", replies[0]);
    assert!(replies[1].contains("until `ship unhold`"), "{}", replies[1]);
    for r in &replies {
        assert!(!r.contains("`gitops-bot "), "{r}");
    }
}

#[test]
fn status_shows_source_head_hold_results_and_rollback() {
    let (fake, _seed) = default_setup();
    deploy_first(&fake);
    fake.add_labels(1, &["deploy-failed"]);
    fake.add_note(1, OPERATOR, "gitops-bot rollback");
    poll(&fake);
    fake.add_note(1, STRANGER, "gitops-bot status");
    poll(&fake);
    let reply = replies(&fake, 1).pop().unwrap();
    assert!(
        reply.contains(
            "this merge request deploys `registry.example.com/root/helloworld` `ci-35` to `main`."
        ),
        "{reply}"
    );
    assert!(reply.contains("- State: merged; head `"), "{reply}");
    assert!(reply.contains("- Deploys: `main`: failed."), "{reply}");
    assert!(reply.contains("- Rollback open: !2 "), "{reply}");
    assert!(reply.contains("- Not on hold."), "{reply}");

    // An open one: the head is checked against Git.
    fake.add_note(2, STRANGER, "gitops-bot status");
    poll(&fake);
    let reply = replies(&fake, 2).pop().unwrap();
    assert!(
        reply.contains("rolls `registry.example.com/root/helloworld` in `main` back to `ci-34`"),
        "{reply}"
    );
    assert!(reply.contains("the bot's own change"), "{reply}");
}

#[test]
fn approval_events_answer_once_through_serve_too() {
    let (fake, _seed) = setup("operators: [operator]\ndeploy_on_approval: true\n");
    fake.approve(1, OPERATOR);
    let event = fake.merge_request_hook(1, "approved", OPERATOR).to_string();
    let server = Server::start(&fake, &[]);
    for i in 0..3 {
        server.post(
            "s3cret",
            MERGE_REQUEST_HOOK,
            event.as_bytes(),
            Some(&format!("a{i}")),
        );
    }
    wait_until("the merge", || mr(&fake, 1)["state"] == "merged");
    assert_eq!(server.stop(), 0);
    let answers = fake
        .notes(1)
        .into_iter()
        .filter(|n| {
            n["body"]
                .as_str()
                .unwrap_or("")
                .starts_with("Approved by @operator")
        })
        .count();
    assert_eq!(answers, 1);
}
