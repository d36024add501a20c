//! Who may do what to a bump merge request, and whether it may be deployed now: pure
//! decisions over facts the caller gathered (no HTTP here). Every refusal is a sentence the
//! bot can post as is.

use crate::commands::Command;
use crate::config::RepoConfig;
use crate::messages::DeployHelp;

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

/// The head commit the person asking for a deploy reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen<'a> {
    /// They named it: `deploy <sha>` (a 7–40 digit prefix, lowercase).
    Named(&'a str),
    /// The head when they commented or approved, established from GitLab's history.
    Head(&'a str),
}

/// The merge request as a deploy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployFacts<'a> {
    pub state: &'a str,
    pub labels: &'a [String],
    /// What the operator reviewed: a deploy without it is not representable.
    pub seen: Seen<'a>,
    /// The head commit now.
    pub head_sha: &'a str,
}

/// Whether the merge request may be merged now, pinned to `head_sha`. `prefix` is the
/// comment-command word the replies tell people to use.
pub fn may_deploy(config: &RepoConfig, facts: &DeployFacts<'_>, prefix: &str) -> Decision {
    if facts.state != "opened" {
        return Decision::Refuse(format!(
            "this merge request is {}, so there is nothing to deploy.",
            facts.state
        ));
    }
    if facts.labels.iter().any(|l| l == &config.hold_label) {
        return Decision::Refuse(format!(
            "deploys of this merge request are on hold (label `{}`); comment `{prefix} unhold` first.",
            config.hold_label
        ));
    }
    let short = |s: &str| s.chars().take(12).collect::<String>();
    match facts.seen {
        Seen::Named(named) if named.len() < 7 || !facts.head_sha.starts_with(named) => {
            Decision::Refuse(format!(
                "`{named}` is not the head of this merge request (`{}`): review the latest diff and comment again.",
                short(facts.head_sha)
            ))
        }
        Seen::Head(seen) if seen != facts.head_sha => Decision::Refuse(format!(
            "the branch moved since you reviewed it (you saw `{}`, the head is now `{}`): review the new diff, then comment `{prefix} deploy {}`.",
            short(seen),
            short(facts.head_sha),
            short(facts.head_sha)
        )),
        Seen::Named(_) | Seen::Head(_) => Decision::Allow,
    }
}

/// How a bump merge request of this repository gets deployed, for its description.
pub fn deploy_help(config: &RepoConfig, prefix: &str) -> DeployHelp {
    DeployHelp {
        prefix: prefix.to_string(),
        operators: config
            .operators
            .iter()
            .map(|o| o.trim_start_matches('@').to_string())
            .collect(),
        role: role_name(config.deploy_access_level).to_string(),
        on_approval: config.deploy_on_approval,
        hold_label: config.hold_label.clone(),
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
        let head = "abcdef1234567890";
        let facts = |state, labels: &'static [String], seen| DeployFacts {
            state,
            labels,
            seen,
            head_sha: head,
        };
        let ok = |f: &DeployFacts<'_>| may_deploy(&c, f, "bot") == Decision::Allow;
        assert!(ok(&facts("opened", &[], Seen::Head(head))));
        assert!(ok(&facts("opened", &[], Seen::Named("abcdef1"))));
        assert!(!ok(&facts("merged", &[], Seen::Head(head))));
        assert!(!ok(&facts("opened", &[], Seen::Named("fff0000"))));
        assert!(
            !ok(&facts("opened", &[], Seen::Named("abcdef"))),
            "too short to name"
        );
        let Decision::Refuse(why) =
            may_deploy(&c, &facts("opened", &[], Seen::Head("0000")), "bot")
        else {
            panic!("a moved branch must refuse");
        };
        assert_eq!(
            why,
            "the branch moved since you reviewed it (you saw `0000`, the head is now `abcdef123456`): review the new diff, then comment `bot deploy abcdef123456`."
        );
        let held = DeployFacts {
            labels: &labels,
            ..facts("opened", &[], Seen::Head(head))
        };
        assert!(
            matches!(may_deploy(&c, &held, "bot"), Decision::Refuse(w) if w.contains("comment `bot unhold` first"))
        );
    }

    #[test]
    fn the_deploy_help_names_prefix_operators_and_role() {
        let help = deploy_help(&config(), "ship");
        assert_eq!(help.prefix, "ship");
        assert_eq!(help.operators, ["ops-lead"]);
        assert_eq!(help.role, "Maintainer");
        assert!(!help.on_approval);
    }
}
