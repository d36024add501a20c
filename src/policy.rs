//! Who may do what to a bump merge request, and whether it may be deployed now: pure
//! decisions over facts the caller gathered (no HTTP here). Every refusal is the [`Reply`]
//! to post.

use chrono::{DateTime, Utc};

use crate::commands::CommentCommand;
use crate::config::RepoConfig;
use crate::messages::{DeployHelp, Reply};

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
    /// What to answer instead.
    Refuse(Reply),
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

/// Whether the actor is listed as a top-level operator (usernames compare
/// case-insensitively).
pub fn is_operator(config: &RepoConfig, username: &str) -> bool {
    is_listed(&config.operators, username)
}

fn is_listed(operators: &[String], username: &str) -> bool {
    operators
        .iter()
        .any(|o| o.trim_start_matches('@').eq_ignore_ascii_case(username))
}

/// Who may run write commands on a merge request concerning `environments` (those its files
/// are in, from Git, and the one its record names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployers {
    /// The environment whose own `operators` decide, with no role fallback; `None`: the
    /// top-level operators and members with [`Deployers::role`].
    pub environment: Option<String>,
    /// Usernames without `@`.
    pub operators: Vec<String>,
    /// The GitLab role that may also deploy when `environment` is `None`.
    pub role: String,
}

/// Who may deploy for `environments`: the first of them that lists its own operators, else
/// the repository's defaults.
pub fn deployers(config: &RepoConfig, environments: &[String]) -> Deployers {
    let own = environments.iter().find_map(|name| {
        let list = config.environments.get(name)?.operators.as_deref()?;
        Some((name, list))
    });
    let (environment, list) = match own {
        Some((name, list)) => (Some(name.clone()), list),
        None => (None, config.operators.as_slice()),
    };
    Deployers {
        environment,
        operators: names(list),
        role: role_name(config.deploy_access_level).to_string(),
    }
}

/// Who may run `command` on a merge request concerning `environments`: anyone for read-only
/// commands. For the others, when any of the environments lists its own `operators`, only a
/// user on every such list (fail closed: no role counts there, and a merge request touching
/// two guarded environments needs both). Otherwise a top-level operator or a member with at
/// least `deploy_access_level`.
pub fn authorize(
    config: &RepoConfig,
    environments: &[String],
    command: &CommentCommand,
    actor: &Actor,
) -> Decision {
    if !command.is_write() {
        return Decision::Allow;
    }
    let refuse = |environment: Option<&String>, operators: &[String]| {
        Decision::Refuse(Reply::NotAllowed {
            verb: command.verb().to_string(),
            environment: environment.cloned(),
            operators: names(operators),
            role: role_name(config.deploy_access_level).to_string(),
            user: actor.username.clone(),
            their_role: actor.access_level.map(|l| role_name(l).to_string()),
        })
    };
    let mut guarded = false;
    for name in environments {
        let Some(list) = config
            .environments
            .get(name)
            .and_then(|e| e.operators.as_deref())
        else {
            continue;
        };
        if !is_listed(list, &actor.username) {
            return refuse(Some(name), list);
        }
        guarded = true;
    }
    if guarded || is_operator(config, &actor.username) {
        return Decision::Allow;
    }
    let needed = config.deploy_access_level;
    if actor.access_level.is_some_and(|level| level >= needed) {
        return Decision::Allow;
    }
    refuse(None, &config.operators)
}

/// Operator usernames without `@`.
fn names(operators: &[String]) -> Vec<String> {
    operators
        .iter()
        .map(|o| o.trim_start_matches('@').to_string())
        .collect()
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
    /// The environments the merge request concerns: each one's window must be open.
    pub environments: &'a [String],
    /// The moment of the decision (the caller's clock).
    pub now: DateTime<Utc>,
}

/// Whether the merge request may be merged now, pinned to `head_sha`.
pub fn may_deploy(config: &RepoConfig, facts: &DeployFacts<'_>) -> Decision {
    if facts.state != "opened" {
        return Decision::Refuse(Reply::NotOpen {
            state: facts.state.to_string(),
        });
    }
    if facts.labels.iter().any(|l| l == &config.hold_label) {
        return Decision::Refuse(Reply::OnHold {
            label: config.hold_label.clone(),
        });
    }
    if let Some(reply) = outside_window(config, facts.environments, facts.now) {
        return Decision::Refuse(reply);
    }
    match facts.seen {
        Seen::Named(named) if named.len() < 7 || !facts.head_sha.starts_with(named) => {
            Decision::Refuse(Reply::NamedNotHead {
                named: named.to_string(),
                head: facts.head_sha.to_string(),
            })
        }
        Seen::Head(seen) if seen != facts.head_sha => Decision::Refuse(Reply::Moved {
            seen: seen.to_string(),
            head: facts.head_sha.to_string(),
        }),
        Seen::Named(_) | Seen::Head(_) => Decision::Allow,
    }
}

/// The refusal for the first of `environments` whose window is closed at `now`, if any.
pub fn outside_window(
    config: &RepoConfig,
    environments: &[String],
    now: DateTime<Utc>,
) -> Option<Reply> {
    environments.iter().find_map(|name| {
        let window = config.environments.get(name)?.window.as_ref()?;
        if window.contains(now) {
            return None;
        }
        let next = window.next_opening(now);
        let local = next.with_timezone(&window.zone());
        Some(Reply::OutsideWindow {
            environment: name.clone(),
            window: window.to_string(),
            next_utc: next.format("%a %Y-%m-%d %H:%M UTC").to_string(),
            next_local: format!(
                "{} in {}",
                local.format("%a %Y-%m-%d %H:%M"),
                window.zone().name()
            ),
        })
    })
}

/// How a bump merge request for `environment` gets deployed, for its description.
pub fn deploy_help(config: &RepoConfig, environment: Option<&str>, prefix: &str) -> DeployHelp {
    let environments: Vec<String> = environment.map(str::to_string).into_iter().collect();
    let who = deployers(config, &environments);
    DeployHelp {
        prefix: prefix.to_string(),
        environment: who.environment,
        operators: who.operators,
        role: who.role,
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
        let deploy = CommentCommand::Deploy { sha: None };
        let c = config();
        assert_eq!(
            authorize(&c, &[], &deploy, &actor("OPS-LEAD", None)),
            Decision::Allow
        );
        assert_eq!(
            authorize(&c, &[], &deploy, &actor("maint", Some(40))),
            Decision::Allow
        );
        assert_eq!(
            authorize(&c, &[], &deploy, &actor("owner", Some(50))),
            Decision::Allow
        );
        assert_eq!(
            authorize(&c, &[], &deploy, &actor("dev", Some(30))),
            Decision::Refuse(Reply::NotAllowed {
                verb: "deploy".into(),
                environment: None,
                operators: vec!["ops-lead".into()],
                role: "Maintainer".into(),
                user: "dev".into(),
                their_role: Some("Developer".into()),
            })
        );
        assert!(matches!(
            authorize(
                &c,
                &[],
                &CommentCommand::Hold { reason: None },
                &actor("x", None)
            ),
            Decision::Refuse(Reply::NotAllowed {
                their_role: None,
                ..
            })
        ));
        assert_eq!(
            authorize(&c, &[], &CommentCommand::Status, &actor("stranger", None)),
            Decision::Allow
        );
        assert_eq!(
            authorize(&c, &[], &CommentCommand::Help, &actor("stranger", None)),
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
            environments: &[],
            now: Utc::now(),
        };
        let ok = |f: &DeployFacts<'_>| may_deploy(&c, f) == Decision::Allow;
        assert!(ok(&facts("opened", &[], Seen::Head(head))));
        assert!(ok(&facts("opened", &[], Seen::Named("abcdef1"))));
        assert_eq!(
            may_deploy(&c, &facts("merged", &[], Seen::Head(head))),
            Decision::Refuse(Reply::NotOpen {
                state: "merged".into()
            })
        );
        assert!(!ok(&facts("opened", &[], Seen::Named("fff0000"))));
        assert!(
            !ok(&facts("opened", &[], Seen::Named("abcdef"))),
            "too short to name"
        );
        assert_eq!(
            may_deploy(&c, &facts("opened", &[], Seen::Head("0000"))),
            Decision::Refuse(Reply::Moved {
                seen: "0000".into(),
                head: head.into()
            })
        );
        let held = DeployFacts {
            labels: &labels,
            ..facts("opened", &[], Seen::Head(head))
        };
        assert_eq!(
            may_deploy(&c, &held),
            Decision::Refuse(Reply::OnHold {
                label: "gitops-bot::hold".into()
            })
        );
    }

    #[test]
    fn an_environment_with_its_own_operators_admits_only_them() {
        let c = RepoConfig::parse(
            "operators: [top]\ndeploy_access_level: 40\nenvironments:\n  dev: {paths: [envs/dev]}\n  staging: {paths: [envs/staging], operators: [\"@qa-lead\", ops-lead]}\n  prod: {paths: [envs/prod], operators: [ops-lead]}\n  frozen: {paths: [envs/frozen], operators: []}\n",
            ".gitops-bot.yaml",
        )
        .unwrap();
        let envs = |e: &[&str]| e.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let deploy = CommentCommand::Deploy { sha: None };
        let hold = CommentCommand::Hold { reason: None };
        let allowed = |e: &[&str], command: &CommentCommand, who: &Actor| {
            authorize(&c, &envs(e), command, who) == Decision::Allow
        };
        let (top, owner, lead, qa) = (
            actor("top", None),
            actor("owner", Some(50)),
            actor("Ops-Lead", Some(30)),
            actor("qa-lead", None),
        );
        for (environments, command, who, expected) in [
            // No list of its own: the top-level operators and the role.
            (&["dev"][..], &deploy, &top, true),
            (&["dev"], &deploy, &owner, true),
            (&["dev"], &deploy, &lead, false),
            (&[], &deploy, &owner, true),
            // prod's list replaces both the top-level operators and the role.
            (&["prod"], &deploy, &top, false),
            (&["prod"], &deploy, &owner, false),
            (&["prod"], &hold, &owner, false),
            (&["prod"], &deploy, &lead, true),
            (&["prod"], &hold, &lead, true),
            (&["staging"], &deploy, &qa, true),
            // A merge request touching two environments needs every list it is under.
            (&["staging", "prod"], &deploy, &qa, false),
            (&["staging", "prod"], &deploy, &lead, true),
            (&["dev", "prod"], &deploy, &owner, false),
            (&["dev", "prod"], &deploy, &lead, true),
            // An empty list admits no one.
            (&["frozen"], &deploy, &owner, false),
            (&["frozen"], &deploy, &top, false),
            // Read-only commands stay open to everyone.
            (&["prod"], &CommentCommand::Status, &owner, true),
        ] {
            assert_eq!(
                allowed(environments, command, who),
                expected,
                "{} {} on {environments:?}",
                who.username,
                command.verb()
            );
        }
        assert_eq!(
            authorize(&c, &envs(&["dev", "prod"]), &deploy, &owner),
            Decision::Refuse(Reply::NotAllowed {
                verb: "deploy".into(),
                environment: Some("prod".into()),
                operators: vec!["ops-lead".into()],
                role: "Maintainer".into(),
                user: "owner".into(),
                their_role: Some("Owner".into()),
            })
        );
        let who = deployers(&c, &envs(&["dev", "staging"]));
        assert_eq!(
            (who.environment.as_deref(), who.operators),
            (Some("staging"), vec!["qa-lead".into(), "ops-lead".into()])
        );
        let who = deployers(&c, &envs(&["dev"]));
        assert_eq!((who.environment, who.operators), (None, vec!["top".into()]));
        let help = deploy_help(&c, Some("prod"), "gitops-bot");
        assert_eq!(
            (help.environment.as_deref(), help.operators),
            (Some("prod"), vec!["ops-lead".into()])
        );
    }

    #[test]
    fn deploys_outside_the_window_are_refused_with_the_next_opening() {
        let c = RepoConfig::parse(
            "environments:\n  dev: {paths: [d]}\n  prod:\n    paths: [p]\n    window: Mon-Fri 09:00-17:00 Europe/Madrid\n",
            ".gitops-bot.yaml",
        )
        .unwrap();
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        let prod = vec!["prod".to_string()];
        let dev = vec!["dev".to_string()];
        let head = "abcdef1234567890";
        let facts = |environments, now| DeployFacts {
            state: "opened",
            labels: &[],
            seen: Seen::Head(head),
            head_sha: head,
            environments,
            now,
        };
        // Saturday 2026-11-28 noon: closed until Monday 09:00 Madrid (08:00 UTC, winter).
        let saturday = at("2026-11-28T12:00:00Z");
        assert_eq!(
            may_deploy(&c, &facts(&prod, saturday)),
            Decision::Refuse(Reply::OutsideWindow {
                environment: "prod".into(),
                window: "Mon-Fri 09:00-17:00 Europe/Madrid".into(),
                next_utc: "Mon 2026-11-30 08:00 UTC".into(),
                next_local: "Mon 2026-11-30 09:00 in Europe/Madrid".into(),
            })
        );
        // Summer: the same local opening is 07:00 UTC.
        assert!(matches!(
            may_deploy(&c, &facts(&prod, at("2026-06-06T12:00:00Z"))),
            Decision::Refuse(Reply::OutsideWindow { next_utc, next_local, .. })
                if next_utc == "Mon 2026-06-08 07:00 UTC"
                    && next_local == "Mon 2026-06-08 09:00 in Europe/Madrid"
        ));
        // Inside the window, and an environment without one.
        let friday = at("2026-11-27T15:59:00Z");
        assert_eq!(may_deploy(&c, &facts(&prod, friday)), Decision::Allow);
        assert_eq!(may_deploy(&c, &facts(&dev, saturday)), Decision::Allow);
        assert_eq!(may_deploy(&c, &facts(&[], saturday)), Decision::Allow);
        // A stale head is still refused inside the window.
        let stale = DeployFacts {
            seen: Seen::Head("0000"),
            ..facts(&prod, friday)
        };
        assert!(matches!(
            may_deploy(&c, &stale),
            Decision::Refuse(Reply::Moved { .. })
        ));
    }

    #[test]
    fn the_deploy_help_names_prefix_operators_and_role() {
        let help = deploy_help(&config(), None, "ship");
        assert_eq!(help.prefix, "ship");
        assert_eq!(help.operators, ["ops-lead"]);
        assert_eq!(help.role, "Maintainer");
        assert!(!help.on_approval);
    }
}
