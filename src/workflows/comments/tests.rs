use super::*;

#[test]
fn token_bots_are_recognised() {
    assert!(is_token_bot("project_42_bot_3f9a"));
    assert!(is_token_bot("group_7_bot"));
    assert!(!is_token_bot("operator"));
    assert!(!is_token_bot("project-lead"));
}

#[test]
fn reply_markers_keep_what_they_answer() {
    let m = ReplyMarker {
        kind: "reply".into(),
        reply_to: 7,
        command: "deploy".into(),
        outcome: Outcome::Refused.as_str().into(),
        approval: None,
    };
    let line = marker::render(&m);
    assert!(!line.contains("approval"), "{line}");
    assert_eq!(marker::find::<ReplyMarker>(&line), Some(m));
}
