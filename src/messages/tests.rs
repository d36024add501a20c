//! Rendered messages are compared whole against golden files in `tests/golden/`
//! (`UPDATE_GOLDEN=1 cargo test` rewrites them; review the diff before committing).

use super::*;
use crate::marker::{self, BumpState};

fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, actual)
            .unified_diff()
            .header("golden", "rendered")
            .to_string();
        panic!("{name} differs from its golden file (UPDATE_GOLDEN=1 to accept):\n{diff}");
    }
}

fn view() -> MergeRequestView {
    let state = BumpState::example();
    MergeRequestView {
        images: vec![ImageRow {
            image: state.image.clone(),
            version: "ci-35".into(),
            previous: vec!["ci-34".into()],
        }],
        section: None,
        image: state.image.clone(),
        version: "ci-35".into(),
        previous: vec!["ci-34".into()],
        destination: "prod".into(),
        environment: Some("prod".into()),
        target_branch: "main".into(),
        changes: vec![
            ChangeRow {
                file: "deployment.yml".into(),
                line: 20,
                form: "container".into(),
                old: "registry.example.com/root/helloworld:ci-34".into(),
                new: "registry.example.com/root/helloworld:ci-35".into(),
            },
            ChangeRow {
                file: "odd|name`x.yaml".into(),
                line: 9,
                form: "kustomize-images".into(),
                old: "registry.example.com/root/helloworld:ci-34".into(),
                new: "registry.example.com/root/helloworld:ci-35".into(),
            },
        ],
        files: 2,
        diff: "--- a/deployment.yml\n+++ b/deployment.yml\n@@ -1 +1 @@\n-image: x:ci-34\n+image: x:ci-35\n/merge\n# ```\n".into(),
        diff_truncated: false,
        source: SourceInfo {
            project_name: Some("root/helloworld".into()),
            project_url: Some("https://gitlab.example.com/root/helloworld".into()),
            commit_sha: Some("fedcba9876543210fedcba9876543210fedcba98".into()),
            commit_url: Some("https://gitlab.example.com/root/helloworld/-/commit/fedcba9876543210fedcba9876543210fedcba98".into()),
            pipeline_url: Some("https://gitlab.example.com/root/helloworld/-/pipelines/34".into()),
            triggered_by: Some("developer".into()),
        },
        rollback: None,
        deploy: DeployHelp {
            prefix: "gitops-bot".into(),
            environment: None,
            operators: vec!["ops-lead".into()],
            role: "Maintainer".into(),
            on_approval: true,
            hold_label: "gitops-bot::hold".into(),
        },
        notices: Notices::default(),
        marker: marker::render(&state.marker()),
    }
}

#[test]
fn merge_request_description_matches_golden() {
    let text = Messages::new(None).unwrap().merge_request(&view()).unwrap();
    golden("merge_request.md", &text);
}

#[test]
fn an_environment_s_own_operators_replace_operators_and_role() {
    let messages = Messages::new(None).unwrap();
    let reply = Reply::NotAllowed {
        verb: "deploy".into(),
        environment: Some("prod".into()),
        operators: vec!["ops-lead".into()],
        role: "Maintainer".into(),
        user: "operator".into(),
        their_role: None,
    };
    let text = messages.reply(&reply, "ship").unwrap();
    golden("replies/not_allowed_environment.md", &format!("{text}\n"));
    let nobody = Reply::NotAllowed {
        verb: "deploy".into(),
        environment: Some("prod".into()),
        operators: vec![],
        role: "Maintainer".into(),
        user: "operator".into(),
        their_role: None,
    };
    let text = messages.reply(&nobody, "ship").unwrap();
    assert!(text.contains("(none are listed) may `deploy`"), "{text}");

    let mut v = view();
    v.deploy.environment = Some("prod".into());
    let text = messages.merge_request(&v).unwrap();
    assert!(
        text.contains("Who may deploy: only the operators of `prod` (`ops-lead`)."),
        "{text}"
    );
    assert!(!text.contains("role or higher"), "{text}");

    let Some(Reply::Status(mut status)) = replies()
        .into_iter()
        .find(|r| matches!(r, Reply::Status(_)))
    else {
        panic!("replies() has a status example");
    };
    status.environment = Some("prod".into());
    let text = messages.reply(&Reply::Status(status), "ship").unwrap();
    assert!(
        text.contains(
            "- Who may deploy: only the operators of `prod` (`ops-lead`; `ship deploy`)."
        ),
        "{text}"
    );
}

#[test]
fn rollback_description_with_notices_matches_golden() {
    let mut v = view();
    v.version = "ci-34".into();
    v.previous = vec!["ci-36".into()];
    v.deploy.prefix = "ship".into();
    v.deploy.on_approval = false;
    v.rollback = Some(RollbackOf {
        iid: 7,
        url: "https://gitlab.example.com/group/helloworld-ops/-/merge_requests/7".into(),
        version: crate::image_ref::Version::new(Some("ci-36"), None),
        failed: true,
        reason: Some("Deployment/helloworld: ImagePullBackOff: pull `x` failed".into()),
        result_url: Some(
            "https://gitlab.example.com/group/helloworld-ops/-/merge_requests/7#note_70".into(),
        ),
        requested_by: None,
    });
    v.notices.failed_before = Some(MergeRequestLink {
        iid: 5,
        url: "https://gitlab.example.com/group/helloworld-ops/-/merge_requests/5".into(),
        title: "Deploy helloworld ci-34 to prod (was ci-33)".into(),
    });
    let text = Messages::new(None).unwrap().merge_request(&v).unwrap();
    assert!(
        !text.contains("gitops-bot deploy"),
        "the configured prefix is used: {text}"
    );
    golden("rollback_merge_request.md", &text);
}

#[test]
fn a_forward_bump_links_the_open_rollback() {
    let mut v = view();
    v.notices.open_rollback = Some(MergeRequestLink {
        iid: 9,
        url: "https://gitlab.example.com/group/helloworld-ops/-/merge_requests/9".into(),
        title: "Roll back helloworld in prod to ci-34 (ci-36 failed)".into(),
    });
    let text = Messages::new(None).unwrap().merge_request(&v).unwrap();
    assert!(
        text.contains("A rollback of this image in `prod` is open: !9 (https://gitlab.example.com/group/helloworld-ops/-/merge_requests/9)."),
        "{text}"
    );
}

#[test]
fn quick_actions_from_the_repo_stay_inside_code() {
    let text = Messages::new(None).unwrap().merge_request(&view()).unwrap();
    // A line starting with a slash outside a fence would be executed by GitLab.
    let mut in_fence: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(f) = &in_fence {
            if trimmed.starts_with(f.as_str()) && trimmed.trim_end().chars().all(|c| c == '`') {
                in_fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") {
            in_fence = Some(trimmed.chars().take_while(|c| *c == '`').collect());
            continue;
        }
        assert!(
            !trimmed.starts_with('/'),
            "quick action outside code: {line}"
        );
    }
    assert!(in_fence.is_none());
}

/// Three images in one merge request (one already at its version), with a section from the
/// caller (as a promotion adds its evidence), and the record of every image.
#[test]
fn multi_image_merge_request_description_matches_golden() {
    let mut v = view();
    let worker = "registry.example.com/root/worker";
    v.images.push(ImageRow {
        image: worker.into(),
        version: "7".into(),
        previous: vec!["5".into(), "6".into()],
    });
    // Already at its version: in the set, with nothing to change.
    v.images.push(ImageRow {
        image: "registry.example.com/root/cron".into(),
        version: "1.0".into(),
        previous: vec![],
    });
    v.changes.push(ChangeRow {
        file: "deployment.yml".into(),
        line: 31,
        form: "container".into(),
        old: format!("{worker}:6"),
        new: format!("{worker}:7"),
    });
    v.section = Some("### Evidence\n\n`staging` healthy at `0123456789ab` since 10:00.".into());
    let mut state = BumpState::example();
    state.images = v
        .images
        .iter()
        .map(|i| crate::marker::RecordedImage {
            image: i.image.clone(),
            tag: Some(i.version.clone()),
            digest: None,
            previous: i.previous.clone(),
        })
        .collect();
    v.marker = marker::render(&state.marker());
    let text = Messages::new(None).unwrap().merge_request(&v).unwrap();
    golden("merge_request_several_images.md", &text);
    assert_eq!(
        marker::bump(&text).map(|s| s.recorded_images().len()),
        Some(3)
    );
    let link = MergeRequestLink {
        iid: 9,
        url: "https://gitlab.example.com/g/p/-/merge_requests/9".into(),
        title: "t".into(),
    };
    v.notices = Notices {
        open_rollback: Some(link.clone()),
        failed_before: Some(link),
    };
    let text = Messages::new(None).unwrap().merge_request(&v).unwrap();
    assert!(
        text.contains("**One of these versions failed to deploy to `prod` before**"),
        "{text}"
    );
    assert!(
        text.contains("A rollback of one of these images in `prod` is open"),
        "{text}"
    );
}

#[test]
fn long_diffs_are_truncated_below_the_limit_and_keep_the_marker() {
    let mut v = view();
    v.diff = "+ line of a very long diff\n".repeat(60_000);
    let text = Messages::new(None).unwrap().merge_request(&v).unwrap();
    assert!(text.chars().count() <= DESCRIPTION_LIMIT);
    assert!(text.contains("The diff is truncated"));
    assert!(marker::bump(&text).is_some());
}

#[test]
fn superseded_note_matches_golden() {
    let text = Messages::new(None)
        .unwrap()
        .superseded(&SupersededView {
            previous: vec!["ci-34".into()],
            version: "ci-35".into(),
            target_branch: "main".into(),
            base_sha: "0123456789abcdef".into(),
        })
        .unwrap();
    golden("superseded.md", &text);
}

#[test]
fn drift_issue_matches_golden() {
    let record = marker::DriftRecord {
        v: 1,
        project: "group/helloworld-ops".into(),
        environment: "prod".into(),
        state: crate::drift::DriftState::Degraded,
        fingerprint: "degraded: …".into(),
        since: "2026-11-27T10:00:00Z".into(),
        alert_undelivered: false,
    };
    let row = |kind: &str, name: &str, state: &str, reason: &str| DriftRow {
        kind: kind.into(),
        name: name.into(),
        state: state.into(),
        reason: reason.into(),
    };
    let text = Messages::new(None)
        .unwrap()
        .drift_issue(&DriftIssueView {
            environment: "prod".into(),
            state: "degraded".into(),
            since: record.since.clone(),
            head_revision: "0123456789abcdef0123456789abcdef01234567".into(),
            live_revision: Some("main@sha1:fedcba98".into()),
            objects: vec![
                row("Application", "argocd/helloworld", "drifted", "OutOfSync"),
                row(
                    "Deployment",
                    "hello/helloworld",
                    "degraded",
                    "Progressing | /close `x`",
                ),
                row("Secret", "hello/db", "drifted", "differs at /data/password"),
                row(
                    "ConfigMap",
                    "hello/web",
                    "drifted",
                    "differs at /data/level",
                ),
            ],
            diffs: vec![
                DriftDiff {
                    kind: "Secret".into(),
                    name: "hello/db".into(),
                    diff: "@@ /data/password @@ differs (a Secret: values are not shown)\n".into(),
                },
                DriftDiff {
                    kind: "ConfigMap".into(),
                    name: "hello/web".into(),
                    diff: "@@ /data/level @@\n- \"```info\"\n+ \"/close\"\n".into(),
                },
            ],
            diffs_not_shown: 0,
            marker: marker::render(&marker::Marker::Drift(record)),
        })
        .unwrap();
    golden("drift_issue.md", &text);
}

#[test]
fn a_proposal_restored_over_foreign_commits_says_so() {
    let text = Messages::new(None)
        .unwrap()
        .superseded(&SupersededView {
            previous: vec!["ci-35".into()],
            version: "ci-35".into(),
            target_branch: "main".into(),
            base_sha: "0123456789abcdef".into(),
        })
        .unwrap();
    assert_eq!(
        text.trim_end(),
        "Proposed `ci-35` again: the branch held changes the bot did not make, so it was reset onto `main` at `0123456789ab` with the bot's change alone, and the description rewritten."
    );
}

#[test]
fn custom_templates_are_used_and_errors_name_them() {
    let m = Messages::new(Some("{{ version }} {{ marker }}".into())).unwrap();
    assert!(
        m.merge_request(&view())
            .unwrap()
            .starts_with("ci-35 <!-- gitops-bot:")
    );
    let err = Messages::new(Some("{{ nope.x }}".into()))
        .unwrap()
        .merge_request(&view())
        .unwrap_err();
    assert!(
        err.to_string().starts_with("template merge_request.md.j2:"),
        "{err}"
    );
    assert!(Messages::new(Some("{% if %}".into())).is_err());
}

#[test]
fn code_spans_cannot_be_closed_by_content() {
    assert_eq!(code("a".into()), "`a`");
    assert_eq!(code("a`b".into()), "``a`b``");
    assert_eq!(code("`a".into()), "`` `a ``");
    assert_eq!(fence("x ```` y".into()), "`````");
    assert_eq!(cell("a|b".into()), "a\\|b");
}

#[test]
fn previews_are_cut_under_the_note_limit_at_line_boundaries() {
    let messages = Messages::new(None).unwrap();
    let line = "+  image: registry.example.com/root/helloworld:ci-35\n";
    let view = PreviewView {
        head: "0123456789abcdef".into(),
        pipeline_url: None,
        sections: vec![PreviewSection {
            kind: "kustomize".into(),
            path: "overlays/prod".into(),
            summary: "2 objects changed".into(),
            diff: line.repeat(40_000),
            truncated: false,
        }],
        notes: vec![],
        marker: "<!-- gitops-bot:{} -->".into(),
    };
    let text = messages.preview(&view).unwrap();
    assert!(text.chars().count() <= NOTE_LIMIT);
    assert!(text.contains("Truncated to stay under GitLab's comment limit"));
    assert!(text.contains(&format!("{line}```")), "cut at a line end");
    assert!(text.trim_end().ends_with("<!-- gitops-bot:{} -->"));
}

/// One example of every reply, as the golden files under `tests/golden/replies/` show them.
fn replies() -> Vec<Reply> {
    let sha = "0123456789abcdef0123456789abcdef01234567".to_string();
    let head = "fedcba9876543210fedcba9876543210fedcba98".to_string();
    vec![
        Reply::ConfigUnreadable {
            error: ".gitops-bot.yaml:3:1: unknown field `oprators`".into(),
        },
        Reply::PermissionsUnreadable {
            error: "GET projects/g%2Fp/members/all/4: 500 Internal Server Error".into(),
        },
        Reply::OutsideWindow {
            environment: "prod".into(),
            window: "Mon-Fri 09:00-17:00 Europe/Madrid".into(),
            next_utc: "Mon 2026-11-30 08:00 UTC".into(),
            next_local: "Mon 2026-11-30 09:00 in Europe/Madrid".into(),
        },
        Reply::NotAllowed {
            verb: "deploy".into(),
            environment: None,
            operators: vec!["ops-lead".into(), "sre".into()],
            role: "Maintainer".into(),
            user: "dev".into(),
            their_role: Some("Developer".into()),
        },
        Reply::Failed {
            error: "GET projects/g%2Fp/merge_requests/1/commits: 502 Bad Gateway".into(),
        },
        Reply::NotOpen {
            state: "merged".into(),
        },
        Reply::OnHold {
            label: "gitops-bot::hold".into(),
        },
        Reply::NamedNotHead {
            named: "abcdef1".into(),
            head: head.clone(),
        },
        Reply::Moved {
            seen: sha.clone(),
            head: head.clone(),
        },
        Reply::Unestablished {
            action: "reviewed".into(),
            why: "GitLab's history of this merge request could not be read (500)".into(),
            head: head.clone(),
        },
        Reply::ProposalUnreadable {
            error: "invalid tag \"\"".into(),
        },
        Reply::Foreign {
            commits: vec![CommitLine {
                id: sha.clone(),
                title: "hotfix `probe`".into(),
                author: "Someone".into(),
            }],
        },
        Reply::Merged {
            sha: head.clone(),
            target_branch: "main".into(),
        },
        Reply::WillMerge {
            sha: head.clone(),
            target_branch: "main".into(),
        },
        Reply::MergeAccepted {
            sha: head.clone(),
            state: "opened".into(),
        },
        Reply::MovedWhileMerging {
            message: "SHA does not match HEAD of source branch".into(),
        },
        Reply::NotMergeable {
            status: "conflict".into(),
        },
        Reply::MergeFailed {
            message: "Branch cannot be merged".into(),
        },
        Reply::MayNotMerge {
            message: "401 Unauthorized".into(),
            target_branch: "main".into(),
        },
        Reply::Held {
            label: "gitops-bot::hold".into(),
            reason: Some("waiting for the `release` window".into()),
        },
        Reply::Unheld {
            label: "gitops-bot::hold".into(),
        },
        Reply::HoldEnvironmentUnknown {
            iid: 7,
            branch: "gitops-bot/prod/rollback/api-1f2e3d".into(),
        },
        Reply::HoldLifted {
            iid: 7,
            environments: vec!["prod".into()],
            images: vec!["registry.example.com/team/api ci-40".into()],
        },
        Reply::RebaseNotOpen {
            state: "closed".into(),
        },
        Reply::ProposalUnknown {
            why: "its description does not match its branch `x`".into(),
        },
        Reply::PromotionNotDue {
            environment: "prod".into(),
            why: "soak of 30m not met: staging healthy since 2026-01-01T10:00:00Z".into(),
        },
        Reply::UpToDate {
            target_branch: "main".into(),
            target_head: sha.clone(),
            head: head.clone(),
        },
        Reply::Proposed {
            rollback: true,
            iid: 7,
            url: "https://gitlab.example.com/g/p/-/merge_requests/7".into(),
        },
        Reply::AlreadyThere { rollback: false },
        Reply::RollbackNotMerged {
            state: "opened".into(),
        },
        Reply::ImageUnreadable {
            error: "invalid reference format".into(),
        },
        Reply::RollbackUnclear {
            iid: 3,
            why: "the commit changes no reference to registry.example.com/root/helloworld".into(),
            image: "registry.example.com/root/helloworld".into(),
        },
        Reply::RollbackAmbiguous {
            iid: 3,
            versions: vec!["ci-33".into(), "ci-34".into()],
            image: "registry.example.com/root/helloworld".into(),
        },
        Reply::Status(Box::new(Status {
            rollback: false,
            image: "registry.example.com/root/helloworld".into(),
            version: "ci-35".into(),
            destination: "prod".into(),
            source: SourceInfo {
                project_name: Some("root/helloworld".into()),
                pipeline_url: Some(
                    "https://gitlab.example.com/root/helloworld/-/pipelines/35".into(),
                ),
                commit_sha: Some(sha.clone()),
                triggered_by: Some("developer".into()),
                ..SourceInfo::default()
            },
            state: "opened".into(),
            head: Some(head.clone()),
            branch: BranchState::Foreign {
                commits: vec![sha.clone()],
            },
            pipeline: "success".into(),
            merge_status: "mergeable".into(),
            held: true,
            hold_label: "gitops-bot::hold".into(),
            results: vec![DeployResult {
                environment: "staging".into(),
                outcome: "deployed".into(),
                url: Some("https://gitlab.example.com/g/p/-/merge_requests/1#note_9".into()),
            }],
            open_rollback: Some(Link {
                iid: 4,
                url: "https://gitlab.example.com/g/p/-/merge_requests/4".into(),
            }),
            holds: vec![HeldVersions {
                environment: "prod".into(),
                repository: "registry.example.com/root/helloworld".into(),
                versions: vec!["ci-36".into()],
                rollback_iid: 3,
                rollback_url: "https://gitlab.example.com/g/p/-/merge_requests/3".into(),
            }],
            holds_unknown: None,
            environment: None,
            operators: vec!["ops-lead".into()],
            role: "Maintainer".into(),
        })),
        Reply::Help {
            text: "**`ship` commands** — …".into(),
        },
        Reply::Parse {
            text: "did you mean `ship deploy`?".into(),
        },
        Reply::NotDriftIssue {
            why: "the bot did not open it".into(),
        },
        Reply::OnlyOnMergeRequests {
            verb: "rollback".into(),
        },
        Reply::OnlyOnDriftIssues {
            verb: "sync".into(),
        },
        Reply::DriftStatus {
            environment: "prod".into(),
            observed: Box::new(DriftObservation {
                state: "drifted".into(),
                head_revision: sha.clone(),
                live_revision: Some(head.clone()),
                objects: vec![DriftObjectLine {
                    state: "drifted".into(),
                    kind: "Deployment".into(),
                    name: "hello/helloworld".into(),
                    reason: "OutOfSync".into(),
                }],
                report: "update #4 and comment (drifted)".into(),
            }),
        },
        Reply::DriftSynced {
            environment: "prod".into(),
            revision: sha.clone(),
            outcome: "healthy".into(),
            reason: None,
            targets: vec![SyncedTarget {
                target: "Application argocd/helloworld".into(),
                outcome: "healthy".into(),
                reason: None,
            }],
            observed: Some(Box::new(DriftObservation {
                state: "converged".into(),
                head_revision: sha.clone(),
                live_revision: Some(sha.clone()),
                objects: Vec::new(),
                report: "comment and close #4 (was drifted for 2h 3m)".into(),
            })),
            observe_error: None,
        },
    ]
}

#[test]
fn a_failed_sync_from_a_drift_issue_names_the_target_and_a_missing_observation() {
    let messages = Messages::new(None).unwrap();
    let reply = Reply::DriftSynced {
        environment: "prod".into(),
        revision: "0123456789abcdef0123456789abcdef01234567".into(),
        outcome: "failed".into(),
        reason: Some("Application argocd/web: Degraded".into()),
        targets: vec![SyncedTarget {
            target: "Application argocd/web".into(),
            outcome: "failed".into(),
            reason: Some("Application argocd/web: Degraded".into()),
        }],
        observed: None,
        observe_error: Some("403 Forbidden".into()),
    };
    let text = messages.reply(&reply, "ship").unwrap();
    assert!(
        text.starts_with(":x: Sync failed: `prod` at `0123456789ab`"),
        "{text}"
    );
    assert!(
        text.contains("- `Application argocd/web`: failed (`Application argocd/web: Degraded`)"),
        "{text}"
    );
    assert!(
        text.contains("could not be observed again (`403 Forbidden`)"),
        "{text}"
    );
    assert!(text.contains("`ship status`"), "{text}");
}

#[test]
fn every_reply_matches_its_golden_file_and_uses_the_prefix() {
    let messages = Messages::new(None).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for reply in replies() {
        let text = messages.reply(&reply, "ship").unwrap();
        let name = reply.template().unwrap();
        let name = name
            .trim_start_matches("replies/")
            .trim_end_matches(".md.j2")
            .to_string();
        assert!(!text.contains("gitops-bot deploy"), "{name}: {text}");
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with('/')),
            "{name}: a quick action: {text}"
        );
        golden(&format!("replies/{name}.md"), &format!("{text}\n"));
        seen.insert(name);
    }
    // Every reply template is exercised (the two note wrappers are covered below).
    for (template, _) in replies::TEMPLATES {
        let name = template
            .trim_start_matches("replies/")
            .trim_end_matches(".md.j2");
        assert!(
            seen.contains(name) || name == "answer" || name == "approval",
            "no example of {template}"
        );
    }
    let answer = messages
        .answer(
            "operator",
            "merged `abc` into `main`.",
            "<!-- gitops-bot:{} -->",
        )
        .unwrap();
    golden("replies/answer.md", &format!("{answer}\n"));
    let approval = messages
        .approval_answer(
            "operator",
            false,
            "the branch moved.",
            "<!-- gitops-bot:{} -->",
        )
        .unwrap();
    golden("replies/approval.md", &format!("{approval}\n"));
}

#[test]
fn drift_issue_diffs_are_capped_in_number_and_size_and_say_so() {
    let diff = |i: usize, size: usize| DriftDiff {
        kind: "ConfigMap".into(),
        name: format!("hello/cm-{i:02}"),
        diff: format!("@@ /data/k @@\n- \"{}\"\n+ \"b\"\n", "a".repeat(size)),
    };
    let view = |diffs: Vec<DriftDiff>| DriftIssueView {
        environment: "prod".into(),
        state: "drifted".into(),
        since: "2026-11-27T10:00:00Z".into(),
        head_revision: "0123456789abcdef0123456789abcdef01234567".into(),
        live_revision: None,
        objects: Vec::new(),
        diffs,
        diffs_not_shown: 0,
        marker: String::new(),
    };
    let messages = Messages::new(None).unwrap();
    let text = messages
        .drift_issue(&view((0..25).map(|i| diff(i, 10)).collect()))
        .unwrap();
    assert!(text.contains("`hello/cm-19`") && !text.contains("`hello/cm-20`"));
    assert!(
        text.contains("The diffs of 5 more object(s) are left out"),
        "{text}"
    );
    // Three diffs of 8,000 characters: the third would pass the total.
    let text = messages
        .drift_issue(&view((0..3).map(|i| diff(i, 8_000)).collect()))
        .unwrap();
    assert!(text.contains("`hello/cm-01`") && !text.contains("`hello/cm-02`"));
    assert!(text.contains("The diffs of 1 more object(s)"), "{text}");
    assert!(text.chars().count() < MAX_DRIFT_DIFF_CHARS + 2_000);
}

#[test]
fn deploy_board_matches_golden() {
    use crate::status_view::*;
    let project_url = "https://gitlab.example.com/group/helloworld-ops";
    let image = |name: &str, versions: &[&str]| ImageStatus {
        repository: format!("registry.example.com/team/{name}"),
        name: format!("registry.example.com/team/{name}"),
        versions: versions.iter().map(|v| v.to_string()).collect(),
    };
    let deploy = |id: u64, status: &str, env: &str| LastDeploy {
        id,
        status: status.into(),
        sha: "0123456789abcdef0123456789abcdef01234567".into(),
        at: "2026-11-27T10:00:00Z".into(),
        commit_url: format!("{project_url}/-/commit/0123456789abcdef0123456789abcdef01234567"),
        environment_url: format!("{project_url}/-/environments?search={env}"),
    };
    let mr = |iid: u64, kind: MergeRequestKind, title: &str, branch: &str| OpenMergeRequest {
        iid,
        kind,
        title: title.into(),
        url: format!("{project_url}/-/merge_requests/{iid}"),
        source_branch: branch.into(),
    };
    let env = |name: &str| EnvironmentStatus {
        name: name.into(),
        tier: None,
        promote_from: None,
        images: vec![],
        last_deploy: None,
        merge_requests: vec![],
        window: None,
        holds: vec![],
        warnings: vec![],
    };
    let view = StatusView {
        project: "group/helloworld-ops".into(),
        project_url: project_url.into(),
        branch: "main".into(),
        head: "89abcdef0123456789abcdef0123456789abcdef".into(),
        environments: vec![
            EnvironmentStatus {
                images: vec![image("api", &["ci-40"]), image("web", &["ci-41"])],
                last_deploy: Some(deploy(7, "success", "dev")),
                merge_requests: vec![mr(
                    3,
                    MergeRequestKind::Bump,
                    "Deploy api ci-41 to dev | /close",
                    "gitops-bot/dev/api-0a1b2c",
                )],
                ..env("dev")
            },
            EnvironmentStatus {
                tier: Some("production".into()),
                promote_from: Some("staging".into()),
                images: vec![image("api", &["ci-30", "ci-31"])],
                last_deploy: Some(deploy(5, "failed", "prod")),
                merge_requests: vec![
                    mr(
                        4,
                        MergeRequestKind::Promotion,
                        "Promote 2 images to prod",
                        "gitops-bot/prod/promote",
                    ),
                    mr(
                        6,
                        MergeRequestKind::Rollback,
                        "Roll back api in prod",
                        "gitops-bot/prod/rollback/api-0a1b2c",
                    ),
                ],
                window: Some(WindowStatus {
                    window: "Mon-Fri 09:00-17:00 Europe/Madrid".into(),
                    open: false,
                    next_opening: Some("2026-11-30T08:00:00Z".into()),
                }),
                holds: vec![HoldStatus {
                    repository: "registry.example.com/team/api".into(),
                    versions: vec!["ci-40".into()],
                    rollback_iid: 2,
                    rollback_url: format!("{project_url}/-/merge_requests/2"),
                    unhold: "gitops-bot unhold".into(),
                }],
                warnings: vec!["envs/prod/big.yaml not read: over the limit".into()],
                ..env("prod")
            },
            env("staging"),
        ],
        other_merge_requests: vec![],
    };
    let text = Messages::new(None)
        .unwrap()
        .deploy_board(&DeployBoardView::new(
            &view,
            crate::board::marker_line("group/helloworld-ops"),
        ))
        .unwrap();
    golden("deploy_board.md", &text);
}

/// A promotion's evidence: the source's deployment with the merge request that brought it,
/// the soak, and per image from → to with its app build when known (and when not).
#[test]
fn promotion_evidence_matches_golden() {
    let view = PromotionEvidenceView {
        source: "staging".into(),
        target: "prod".into(),
        deployment: 42,
        sha: "0123456789abcdef0123456789abcdef01234567".into(),
        merge_request: Some(MergeRequestLink {
            iid: 7,
            url: "https://gitlab.example.com/g/p/-/merge_requests/7".into(),
            title: "/close".into(),
        }),
        healthy_since: "2026-01-01T10:00:00Z".into(),
        soak: "30m".into(),
        soak_met_at: "2026-01-01T10:30:00Z".into(),
        images: vec![
            PromotedImageRow {
                name: "registry.example.com/team/api".into(),
                from: vec!["ci-30".into()],
                to: "ci-40".into(),
                source: Some(SourceInfo {
                    commit_sha: Some("fedcba9876543210fedcba9876543210fedcba98".into()),
                    commit_url: Some(
                        "https://gitlab.example.com/team/api/-/commit/fedcba98".into(),
                    ),
                    pipeline_url: Some("https://gitlab.example.com/team/api/-/pipelines/9".into()),
                    ..SourceInfo::default()
                }),
            },
            PromotedImageRow {
                name: "registry.example.com/team/we|b".into(),
                from: vec!["ci-31".into(), "ci-29".into()],
                to: "ci-41".into(),
                source: None,
            },
        ],
        held: vec![HeldImageRow {
            name: "registry.example.com/team/worker".into(),
            version: "ci-42".into(),
            rollback_iid: 9,
            rollback_url: "https://gitlab.example.com/g/p/-/merge_requests/9".into(),
            unhold: "gitops-bot unhold".into(),
        }],
    };
    let text = Messages::new(None)
        .unwrap()
        .promotion_evidence(&view)
        .unwrap();
    golden("promotion_evidence.md", &format!("{text}\n"));
    let closed = Messages::new(None)
        .unwrap()
        .promotion_closed(&view)
        .unwrap();
    golden("promotion_closed.md", &format!("{closed}\n"));
    assert!(
        !text.contains("/close"),
        "the title is never copied: {text}"
    );
    let none = PromotionEvidenceView {
        soak: "0s".into(),
        merge_request: None,
        ..view
    };
    let text = Messages::new(None)
        .unwrap()
        .promotion_evidence(&none)
        .unwrap();
    assert!(text.contains("**Soak:** none required"), "{text}");
    assert!(!text.contains("brought by"), "{text}");
}
