//! Comment commands through the real binary against the fake GitLab: `commands` (polling),
//! `handle-event` (trigger payload) and `serve` (webhooks).

use crate::fake_gitlab;
use crate::mr_thread;

use fake_gitlab::NOTE_HOOK;
use mr_thread::*;
#[test]
fn an_operator_deploys_exactly_the_head_they_saw() {
    let (fake, _seed) = default_setup();
    let head = mr(&fake, 1)["sha"].as_str().unwrap().to_string();
    let note = fake.add_note(1, OPERATOR, "Looks good.\n\n`gitops-bot deploy`");
    let run = poll(&fake);
    // Every decision is one audit event on stderr, on by default.
    assert!(
        run.stderr
            .contains("INFO audit actor=\"operator\" command=\"deploy\"")
            && run.stderr.contains("outcome=\"done\""),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stdout,
        "1 merge request looked at, 1 command: 1 done, 0 answered, 0 refused, 0 failed\n"
    );
    assert_eq!(mr(&fake, 1)["state"], "merged");
    assert!(main_file(&fake, "base/deployment.yml").contains("helloworld:ci-35"));
    let merges: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/merge"))
        .collect();
    assert_eq!(merges.len(), 1);
    assert!(
        merges[0].body.contains(&format!("sha={head}")),
        "{}",
        merges[0].body
    );
    let replies = replies(&fake, 1);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].starts_with("@operator merged `"),
        "{}",
        replies[0]
    );
    let awards = fake.awards(1, Some(note));
    assert!(
        awards.contains(&("gitops-bot".into(), "eyes".into())),
        "{awards:?}"
    );
    assert!(
        awards.contains(&("gitops-bot".into(), "white_check_mark".into())),
        "{awards:?}"
    );

    // Another pass answers nothing twice.
    fake.clear_log();
    let again = poll(&fake);
    assert!(again.stdout.contains("0 commands"), "{}", again.stdout);
    assert!(fake.writes().is_empty(), "{:#?}", fake.writes());
}

#[test]
fn developers_and_strangers_are_refused_and_a_maintainer_may_deploy() {
    let (fake, _seed) = default_setup();
    fake.add_note(1, REVIEWER, "gitops-bot deploy");
    fake.add_note(1, STRANGER, "@gitops-bot deploy");
    let run = poll(&fake);
    assert!(run.stdout.contains("2 refused"), "{}", run.stdout);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    let replies = replies(&fake, 1);
    assert!(
        replies[0].starts_with("@reviewer only the operators (`operator`) and members with the Maintainer role or higher may `deploy` here (role of @reviewer: Developer)."),
        "{}",
        replies[0]
    );
    assert!(
        replies[1].contains("@stranger is not a member of the config project"),
        "{}",
        replies[1]
    );
    assert!(!fake.requests().iter().any(|r| r.path.ends_with("/merge")));

    fake.add_note(1, MAINTAINER_USER, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "merged");
}

#[test]
fn hold_blocks_deploys_until_unhold() {
    let (fake, _seed) = default_setup();
    fake.add_note(
        1,
        OPERATOR,
        "gitops-bot hold waiting for the release window",
    );
    poll(&fake);
    assert!(
        mr(&fake, 1)["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "gitops-bot::hold")
    );
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    assert!(
        replies(&fake, 1)[1].contains("on hold"),
        "{:?}",
        replies(&fake, 1)
    );
    fake.add_note(1, OPERATOR, "gitops-bot unhold");
    deploy_first(&fake);
}

#[test]
fn a_push_after_the_comment_makes_the_deploy_stale() {
    let (fake, _seed) = default_setup();
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    let branch = mr(&fake, 1)["source_branch"].as_str().unwrap().to_string();
    fake.commit_files(
        &branch,
        &[("service.yml", "apiVersion: v1\nkind: Service\n")],
        "someone pushes",
    );
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    assert!(
        replies(&fake, 1)[0].contains("the branch moved since you reviewed it"),
        "{:?}",
        replies(&fake, 1)
    );
}

#[test]
fn quotes_code_edits_system_and_bot_notes_are_not_commands() {
    let (fake, _seed) = default_setup();
    fake.add_note(1, OPERATOR, "```\ngitops-bot deploy\n```");
    fake.add_note(1, OPERATOR, "> gitops-bot deploy\n\nwhat does this do?");
    fake.add_note(1, OPERATOR, "/approve");
    fake.add_note(1, 1, "gitops-bot deploy");
    let edited = fake.add_note(1, OPERATOR, "lgtm");
    fake.edit_note(1, edited, "gitops-bot deploy");
    let run = poll(&fake);
    assert!(run.stdout.contains("0 commands"), "{}", run.stdout);
    assert!(replies(&fake, 1).is_empty());
    assert_eq!(mr(&fake, 1)["state"], "opened");
}

#[test]
fn not_mergeable_yet_is_retried_only_while_gitlab_is_checking() {
    let (fake, _seed) = default_setup();
    fake.script_detailed_merge_status(1, &["checking", "checking", "mergeable"]);
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "merged", "{:?}", replies(&fake, 1));

    let (fake, _seed) = default_setup();
    fake.set_detailed_merge_status(1, "not_approved");
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.path.ends_with("/merge"))
            .count(),
        1
    );
    assert!(
        replies(&fake, 1)[0].contains("needs approvals"),
        "{:?}",
        replies(&fake, 1)
    );
}

#[test]
fn a_running_pipeline_merges_when_it_succeeds() {
    let (fake, _seed) = default_setup();
    fake.set_pipeline(1, Some("running"));
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(&fake);
    assert_eq!(mr(&fake, 1)["state"], "opened");
    assert!(
        replies(&fake, 1)[0].contains("when its pipeline succeeds"),
        "{:?}",
        replies(&fake, 1)
    );
    fake.set_pipeline(1, Some("success"));
    assert_eq!(mr(&fake, 1)["state"], "merged");
}

#[test]
fn status_help_and_unknown_commands_are_answered_for_anyone() {
    let (fake, _seed) = default_setup();
    fake.add_note(1, STRANGER, "gitops-bot status");
    fake.add_note(1, STRANGER, "gitops-bot help");
    fake.add_note(1, STRANGER, "gitops-bot deplyo");
    poll(&fake);
    let replies = replies(&fake, 1);
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert!(
        replies[0].contains(
            "this merge request deploys `registry.example.com/root/helloworld` `ci-35` to `main`."
        ),
        "{}",
        replies[0]
    );
    assert!(replies[1].contains("deploy"), "{}", replies[1]);
    assert!(replies[2].contains("did you mean"), "{}", replies[2]);
    for r in &replies {
        assert!(
            !r.lines().any(|l| l.trim_start().starts_with('/')),
            "quick action in a reply: {r}"
        );
    }
}

#[test]
fn rollback_proposes_the_previous_version_and_rebase_follows_the_target() {
    let (fake, _seed) = default_setup();
    deploy_first(&fake);
    fake.add_note(1, OPERATOR, "gitops-bot rollback");
    poll(&fake);
    let reply = replies(&fake, 1).pop().unwrap();
    assert!(reply.contains("rollback proposed: !2"), "{reply}");
    let rollback = mr(&fake, 2);
    assert_eq!(
        rollback["title"],
        "Roll back helloworld in main to ci-34 (from ci-35)"
    );
    assert!(
        rollback["source_branch"]
            .as_str()
            .unwrap()
            .starts_with("gitops-bot/main/rollback/helloworld-"),
        "{}",
        rollback["source_branch"]
    );
    assert_eq!(rollback["assignees"][0]["username"], "operator");

    // Someone changes the target; `rebase` puts the proposal on the new head.
    let new_head = fake.commit_files(
        "main",
        &[(
            "service.yml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: helloworld}\n",
        )],
        "edit",
    );
    fake.add_note(2, OPERATOR, "gitops-bot rebase");
    poll(&fake);
    let branch = rollback["source_branch"].as_str().unwrap();
    let parents = fake.git(&["rev-list", "--parents", "-n", "1", branch]);
    assert_eq!(
        parents.split_whitespace().nth(1),
        Some(new_head.as_str()),
        "{:?}",
        replies(&fake, 2)
    );
}

#[test]
fn handle_event_acts_on_a_trigger_payload_after_re_reading_it() {
    let (fake, seed) = default_setup();
    let note = fake.add_note(1, OPERATOR, "gitops-bot deploy");
    let payload = seed.path().join("payload.json");
    std::fs::write(&payload, fake.note_hook(1, note).to_string()).unwrap();
    let run = bot(
        &fake,
        &[
            "handle-event",
            "--payload",
            payload.to_str().unwrap(),
            "--project",
            PROJECT,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "done");
    assert_eq!(mr(&fake, 1)["state"], "merged");

    // A forged payload claiming the operator wrote what a stranger wrote is re-read: refused.
    let (fake, seed) = default_setup();
    let note = fake.add_note(1, STRANGER, "gitops-bot deploy");
    let mut forged = fake.note_hook(1, note);
    forged["user"]["username"] = "operator".into();
    forged["user"]["id"] = OPERATOR.into();
    let payload = seed.path().join("payload.json");
    std::fs::write(&payload, forged.to_string()).unwrap();
    let run = bot(
        &fake,
        &[
            "handle-event",
            "--payload",
            payload.to_str().unwrap(),
            "--project",
            PROJECT,
        ],
    );
    assert_eq!(run.stdout.trim(), "refused", "{}", run.stderr);
    assert_eq!(mr(&fake, 1)["state"], "opened");
}

#[test]
fn an_approval_deploys_only_when_configured_and_real() {
    let (fake, seed) = setup("operators: [operator]\ndeploy_on_approval: true\n");
    let payload = seed.path().join("approved.json");
    std::fs::write(
        &payload,
        fake.merge_request_hook(1, "approved", OPERATOR).to_string(),
    )
    .unwrap();
    // The event says approved, GitLab does not: nothing happens.
    let run = bot(
        &fake,
        &[
            "handle-event",
            "--payload",
            payload.to_str().unwrap(),
            "--project",
            PROJECT,
        ],
    );
    assert_eq!(run.stdout.trim(), "ignored", "{}", run.stderr);
    fake.approve(1, OPERATOR);
    let run = bot(
        &fake,
        &[
            "handle-event",
            "--payload",
            payload.to_str().unwrap(),
            "--project",
            PROJECT,
        ],
    );
    assert_eq!(run.stdout.trim(), "done", "{}", run.stderr);
    assert_eq!(mr(&fake, 1)["state"], "merged");

    let (fake, seed) = default_setup();
    fake.approve(1, OPERATOR);
    let payload = seed.path().join("approved.json");
    std::fs::write(
        &payload,
        fake.merge_request_hook(1, "approved", OPERATOR).to_string(),
    )
    .unwrap();
    let run = bot(
        &fake,
        &[
            "handle-event",
            "--payload",
            payload.to_str().unwrap(),
            "--project",
            PROJECT,
        ],
    );
    assert_eq!(run.stdout.trim(), "ignored");
    assert_eq!(mr(&fake, 1)["state"], "opened");
}

#[test]
fn serve_acknowledges_fast_rejects_what_it_must_and_acts_once() {
    let (fake, _seed) = default_setup();
    let server = Server::start(&fake, &["--max-body", "200000"]);
    assert_eq!(server.get("/healthz"), (200, "ok\n".into()));
    assert_eq!(server.get("/readyz").0, 200);

    let note = fake.add_note(1, OPERATOR, "gitops-bot deploy");
    let body = fake.note_hook(1, note).to_string();
    assert_eq!(
        server.post("wrong", NOTE_HOOK, body.as_bytes(), None).0,
        401
    );
    assert_eq!(server.post("s3cret", NOTE_HOOK, b"{not json", None).0, 400);
    assert_eq!(
        server
            .post("s3cret", NOTE_HOOK, &vec![b' '; 300_000], None)
            .0,
        413
    );
    let push =
        r#"{"object_kind":"push","event_name":"push","project_id":42,"ref":"refs/heads/main"}"#;
    assert_eq!(
        server.post("s3cret", "Push Hook", push.as_bytes(), None),
        (200, "ignored\n".into())
    );
    let chatter = fake.add_note(1, REVIEWER, "nice work");
    let chatter_body = fake.note_hook(1, chatter).to_string();
    assert_eq!(
        server.post("s3cret", NOTE_HOOK, chatter_body.as_bytes(), None),
        (200, "ignored\n".into())
    );

    assert_eq!(
        server.post("s3cret", NOTE_HOOK, body.as_bytes(), Some("delivery-1")),
        (200, "queued\n".into())
    );
    assert_eq!(
        server.post("s3cret", NOTE_HOOK, body.as_bytes(), Some("delivery-1")),
        (200, "duplicate\n".into())
    );
    wait_until("the merge", || mr(&fake, 1)["state"] == "merged");
    wait_until("the reply", || replies(&fake, 1).len() == 1);

    // An edit of the comment is not a new command.
    fake.edit_note(1, note, "gitops-bot deploy now");
    let edited = fake.note_hook(1, note).to_string();
    assert_eq!(
        server.post("s3cret", NOTE_HOOK, edited.as_bytes(), None),
        (200, "ignored\n".into())
    );

    let (_, metrics) = server.get("/metrics");
    // The oversized delivery is counted, and refused by the body limit.
    assert!(
        metrics.contains("gitops_bot_events_rejected_total{reason=\"too_large\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gitops_bot_events_received_total 8"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gitops_bot_events_rejected_total{reason=\"token\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gitops_bot_events_duplicate_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gitops_bot_events_processed_total{outcome=\"done\"} 1"),
        "{metrics}"
    );
    assert_eq!(server.stop(), 0);
    assert_eq!(replies(&fake, 1).len(), 1);
}
