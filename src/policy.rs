//! Who may do what to a bump merge request, and whether it may be deployed now: pure
//! decisions over facts the caller gathered (no HTTP here). Every refusal is a sentence the
//! bot can post as is.

use crate::commands::Command;
use crate::config::RepoConfig;

/// The person behind a command or an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub username: String,
    /// Their access level on the config project (inherited membership included).
    pub access_level: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Refuse(String),
}

/// GitLab's name for an access level.
pub fn role_name(level: u32) -> &'static str {
    match level {
        50.. => "Owner",
        40..=49 => "Maintainer",
        30..=39 => "Developer",
        20..=29 => "Reporter",
        15..=19 => "Planner",
        10..=14 => "Guest",
        _ => "no role",
    }
}

/// Whether the actor is listed as an operator (usernames compare case-insensitively).
pub fn is_operator(config: &RepoConfig, username: &str) -> bool {
    config
        .operators
        .iter()
        .any(|o| o.trim_start_matches('@').eq_ignore_ascii_case(username))
}

/// Who may run `command`: anyone for read-only commands; for the others an operator of
/// `.gitops-bot.yaml` or a member with at least `deploy_access_level`.
pub fn authorize(config: &RepoConfig, command: &Command, actor: &Actor) -> Decision {
    if !command.is_write() || is_operator(config, &actor.username) {
        return Decision::Allow;
    }
    let needed = config.deploy_access_level;
    if actor.access_level.is_some_and(|level| level >= needed) {
        return Decision::Allow;
    }
    let allowed = if config.operators.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = config
            .operators
            .iter()
            .map(|o| format!("`{}`", o.trim_start_matches('@')))
            .collect();
        format!("the operators ({}) and ", names.join(", "))
    };
    let role = match actor.access_level {
        Some(level) => format!("role of @{}: {}", actor.username, role_name(level)),
        None => format!("@{} is not a member of the config project", actor.username),
    };
    Decision::Refuse(format!(
        "only {allowed}members with the {} role or higher may `{}` here ({role}).",
        role_name(needed),
        command.verb()
    ))
}

/// The merge request as a deploy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployFacts<'a> {
    pub state: &'a str,
    pub labels: &'a [String],
    /// The head commit the operator saw when they asked (or approved).
    pub seen_sha: Option<&'a str>,
    /// An explicit commit the operator named (`deploy <sha>`), as a prefix.
    pub named_sha: Option<&'a str>,
    /// The head commit now.
    pub head_sha: &'a str,
}

/// Whether the merge request may be merged now, pinned to `head_sha`.
pub fn may_deploy(config: &RepoConfig, facts: &DeployFacts<'_>) -> Decision {
    if facts.state != "opened" {
        return Decision::Refuse(format!(
            "this merge request is {}, so there is nothing to deploy.",
            facts.state
        ));
    }
    if facts.labels.iter().any(|l| l == &config.hold_label) {
        return Decision::Refuse(format!(
            "deploys of this merge request are on hold (label `{}`); comment `gitops-bot unhold` first.",
            config.hold_label
        ));
    }
    let short = |s: &str| s.chars().take(12).collect::<String>();
    if let Some(named) = facts.named_sha
        && !facts.head_sha.starts_with(named)
    {
        return Decision::Refuse(format!(
            "`{named}` is not the head of this merge request (`{}`): review the latest diff and comment again.",
            short(facts.head_sha)
        ));
    }
    match facts.seen_sha {
        Some(seen) if seen != facts.head_sha => Decision::Refuse(format!(
            "the branch moved since your comment (you saw `{}`, the head is now `{}`): review the new diff and comment again.",
            short(seen),
            short(facts.head_sha)
        )),
        _ => Decision::Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RepoConfig {
        RepoConfig::parse("operators: [ops-lead]\n", ".gitops-bot.yaml").unwrap()
    }

    fn actor(name: &str, level: Option<u32>) -> Actor {
        Actor {
            username: name.into(),
            access_level: level,
        }
    }

    #[test]
    fn write_commands_need_an_operator_or_the_role() {
        let deploy = Command::Deploy { sha: None };
        let c = config();
        assert_eq!(
            authorize(&c, &deploy, &actor("OPS-LEAD", None)),
            Decision::Allow
        );
        assert_eq!(
            authorize(&c, &deploy, &actor("maint", Some(40))),
            Decision::Allow
        );
        assert_eq!(
            authorize(&c, &deploy, &actor("owner", Some(50))),
            Decision::Allow
        );
        let Decision::Refuse(why) = authorize(&c, &deploy, &actor("dev", Some(30))) else {
            panic!("a developer may not deploy");
        };
        assert_eq!(
            why,
            "only the operators (`ops-lead`) and members with the Maintainer role or higher may `deploy` here (role of @dev: Developer)."
        );
        assert!(matches!(
            authorize(&c, &Command::Hold { reason: None }, &actor("x", None)),
            Decision::Refuse(_)
        ));
        assert_eq!(
            authorize(&c, &Command::Status, &actor("stranger", None)),
            Decision::Allow
        );
        assert_eq!(
            authorize(&c, &Command::Help, &actor("stranger", None)),
            Decision::Allow
        );
    }

    #[test]
    fn deploys_are_refused_when_held_stale_or_not_open() {
        let c = config();
        let labels = vec!["gitops-bot::hold".to_string()];
        let facts = |state, labels: &'static [String], seen, named| DeployFacts {
            state,
            labels,
            seen_sha: seen,
            named_sha: named,
            head_sha: "abcdef1234567890",
        };
        assert_eq!(
            may_deploy(&c, &facts("opened", &[], Some("abcdef1234567890"), None)),
            Decision::Allow
        );
        assert_eq!(
            may_deploy(&c, &facts("opened", &[], None, Some("abcdef1"))),
            Decision::Allow
        );
        assert!(matches!(
            may_deploy(&c, &facts("merged", &[], None, None)),
            Decision::Refuse(_)
        ));
        assert!(
            matches!(may_deploy(&c, &facts("opened", &[], Some("0000"), None)), Decision::Refuse(w) if w.contains("moved since your comment"))
        );
        assert!(matches!(
            may_deploy(&c, &facts("opened", &[], None, Some("fff")),),
            Decision::Refuse(_)
        ));
        let held = DeployFacts {
            labels: &labels,
            ..facts("opened", &[], None, None)
        };
        assert!(matches!(may_deploy(&c, &held), Decision::Refuse(w) if w.contains("on hold")));
    }
}
