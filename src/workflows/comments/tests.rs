use super::*;

#[test]
fn token_bots_are_recognised() {
    assert!(is_token_bot("project_42_bot_3f9a"));
    assert!(is_token_bot("group_7_bot"));
    assert!(!is_token_bot("operator"));
    assert!(!is_token_bot("project-lead"));
}
