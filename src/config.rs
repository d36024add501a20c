//! `.gitops-bot.yaml`: per-repository settings read from the config repo's root.
//!
//! Strict on purpose: an unknown key or a wrong type is an error naming the file, the key and
//! the line, because a typo in a deploy setting should stop a deploy, not be ignored. Flags
//! override what is here; this module only parses and answers questions about the file.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

pub const FILE_NAME: &str = ".gitops-bot.yaml";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Usernames of the operators: the default assignees of bump MRs and of drift issues.
    #[serde(default)]
    pub operators: Vec<String>,
    /// Usernames asked to review bump MRs.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Labels put on bump MRs.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Environment name → what belongs to it.
    #[serde(default)]
    pub environments: BTreeMap<String, Environment>,
    #[serde(default)]
    pub templates: Templates,
    /// Minimum access level on the config project to run write commands, besides the
    /// operators listed above (GitLab levels: 30 Developer, 40 Maintainer, 50 Owner).
    #[serde(default = "default_access_level")]
    pub deploy_access_level: u32,
    /// Deploy when an authorised operator approves the bump MR in GitLab.
    #[serde(default)]
    pub deploy_on_approval: bool,
    /// The label that blocks deploys (`hold` / `unhold`).
    #[serde(default = "default_hold_label")]
    pub hold_label: String,
    /// The word that starts a comment command (`gitops-bot deploy`). The command modes'
    /// `--command-prefix` overrides it.
    #[serde(default = "default_command_prefix")]
    pub command_prefix: String,
    /// How `drift` judges what it observes.
    #[serde(default)]
    pub drift: DriftSettings,
    /// Keep the deploy board: one GitLab issue showing environments × images.
    #[serde(default)]
    pub board: bool,
    /// Where the file was looked for when there is none (see [`RepoConfig::absent`]), so
    /// that a question only the file can answer says the file is missing.
    #[serde(skip)]
    pub absent_from: Option<String>,
}

fn default_command_prefix() -> String {
    "gitops-bot".to_string()
}

fn default_access_level() -> u32 {
    40
}

fn default_hold_label() -> String {
    "gitops-bot::hold".to_string()
}

impl Default for RepoConfig {
    fn default() -> Self {
        RepoConfig {
            operators: Vec::new(),
            reviewers: Vec::new(),
            labels: Vec::new(),
            environments: BTreeMap::new(),
            templates: Templates::default(),
            deploy_access_level: default_access_level(),
            deploy_on_approval: false,
            hold_label: default_hold_label(),
            command_prefix: default_command_prefix(),
            drift: DriftSettings::default(),
            board: false,
            absent_from: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Directories (relative to the repo root) whose files belong to this environment.
    #[serde(default)]
    pub paths: Vec<String>,
    /// What `sync` deploys for this environment: Argo CD Applications (`[NS/]NAME`)…
    #[serde(default)]
    pub argocd_apps: Vec<String>,
    /// …Flux objects (`KIND/NS/NAME`)…
    #[serde(default)]
    pub flux: Vec<String>,
    /// …and directories applied directly (server-side apply).
    #[serde(default)]
    pub apply: Vec<String>,
    /// The namespace of directly applied objects that name none.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The GitLab deployment tier (`production`, `staging`…): a `production` environment's
    /// drift issue is an incident.
    #[serde(default)]
    pub tier: Option<String>,
    /// The environment whose verified versions this one is promoted from.
    #[serde(default)]
    pub promote_from: Option<String>,
    /// The bot merges its own merge requests for this environment when the pipeline passes.
    #[serde(default)]
    pub auto_deploy: bool,
    /// How long `promote_from` must have been healthy on the same versions before a
    /// promotion is proposed.
    #[serde(default, deserialize_with = "soak")]
    pub soak: Option<Duration>,
    /// Who may deploy to this environment; absent: the top-level `operators`.
    #[serde(default)]
    pub operators: Option<Vec<String>>,
    /// When deploys may happen (`Mon-Fri 09:00-17:00 Europe/Madrid`); absent: always.
    #[serde(default)]
    pub window: Option<crate::window::Window>,
}

impl Environment {
    /// Whether the environment is of the `production` tier.
    pub fn is_production(&self) -> bool {
        self.tier.as_deref() == Some("production")
    }
}

/// The `drift:` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftSettings {
    /// How long after the head commit's committed time a controller may still be at an
    /// older revision before the environment counts as `behind`.
    #[serde(default = "default_drift_grace", deserialize_with = "grace")]
    pub grace: Duration,
    /// How long a non-converged state must persist, unchanged, before it counts.
    #[serde(default = "default_drift_confirm", deserialize_with = "confirm")]
    pub confirm: Duration,
    /// Fields a direct-apply comparison skips (the shape of Flux's drift ignore rules).
    #[serde(default)]
    pub ignore: Vec<crate::drift::ignore::IgnoreRule>,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            grace: default_drift_grace(),
            confirm: default_drift_confirm(),
            ignore: Vec::new(),
        }
    }
}

fn default_drift_grace() -> Duration {
    Duration::from_secs(600)
}

fn default_drift_confirm() -> Duration {
    Duration::from_secs(120)
}

fn soak<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration_of("soak", d).map(Some)
}

fn grace<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_of("drift.grace", d)
}

fn confirm<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_of("drift.confirm", d)
}

/// A duration such as `2m` or `0s` under `key`; a bad one is an error naming the key.
fn duration_of<'de, D: serde::Deserializer<'de>>(key: &str, d: D) -> Result<Duration, D::Error> {
    /// `2m`, or a YAML number of seconds.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Seconds(u64),
    }
    let invalid = |e: &dyn std::fmt::Display| serde::de::Error::custom(format!("{key}: {e}"));
    match Written::deserialize(d).map_err(|_| invalid(&"expected a duration like 2m or 10m"))? {
        Written::Text(text) => crate::duration::parse(&text).map_err(|e| invalid(&e)),
        Written::Seconds(secs) => Ok(Duration::from_secs(secs)),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    /// A minijinja template in the config repo for bump MR descriptions.
    pub merge_request: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Unlocated { file: String, message: String },
    /// One of an environment's `paths` is not a repository-relative path.
    #[error("{environment}: {message}")]
    Path {
        environment: String,
        message: String,
    },
    #[error("unknown environment {name:?}; {file} defines: {known}")]
    UnknownEnvironment {
        name: String,
        file: String,
        known: String,
    },
    #[error("no {file} in {place} to define environment {name:?}")]
    NoFile {
        name: String,
        file: String,
        place: String,
    },
}

impl RepoConfig {
    /// The defaults, for a repository without the file; `place` (a directory, or a project
    /// and revision) names where it was looked for.
    pub fn absent(place: impl Into<String>) -> RepoConfig {
        RepoConfig {
            absent_from: Some(place.into()),
            ..RepoConfig::default()
        }
    }

    /// Parses the file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<RepoConfig, ConfigError> {
        if text.trim().is_empty() {
            return Ok(RepoConfig::default());
        }
        let config: RepoConfig = yaml_serde::from_str(text).map_err(|e| {
            let message = strip_location(&e.to_string());
            let at = value_location(text, &message).or_else(|| selector_location(text, &message));
            match (at, e.location()) {
                (Some((line, column)), _) => ConfigError::Invalid {
                    file: file.to_string(),
                    line,
                    column,
                    message,
                },
                (None, Some(at)) => ConfigError::Invalid {
                    file: file.to_string(),
                    line: at.line(),
                    column: at.column(),
                    message,
                },
                (None, None) => ConfigError::Unlocated {
                    file: file.to_string(),
                    message: e.to_string(),
                },
            }
        })?;
        if !(10..=50).contains(&config.deploy_access_level) {
            return Err(ConfigError::Unlocated {
                file: file.to_string(),
                message: format!(
                    "deploy_access_level {} is not a GitLab access level (10 Guest … 50 Owner)",
                    config.deploy_access_level
                ),
            });
        }
        if let Some((name, message)) = promotion_problem(&config) {
            let at = locate(text, &["environments", name, "promote_from"]);
            return Err(match at {
                Some((line, column)) => ConfigError::Invalid {
                    file: file.to_string(),
                    line,
                    column,
                    message,
                },
                None => ConfigError::Unlocated {
                    file: file.to_string(),
                    message,
                },
            });
        }
        Ok(config)
    }

    /// The paths of environment `name` as repository-relative prefixes (see
    /// [`crate::bump::scope_path`]).
    pub fn environment_scope(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        self.environment_paths(name)?
            .iter()
            .map(|p| {
                crate::bump::scope_path(p).map_err(|message| ConfigError::Path {
                    environment: name.to_string(),
                    message,
                })
            })
            .collect()
    }

    /// The paths of environment `name`.
    pub fn environment_paths(&self, name: &str) -> Result<&[String], ConfigError> {
        Ok(&self.environment(name)?.paths)
    }

    /// The one environment whose paths hold every file of `files` (repository-relative), if
    /// exactly one does.
    pub fn environment_of(&self, files: &[String]) -> Option<&str> {
        let holds = |env: &Environment| {
            let scope: Vec<String> = env
                .paths
                .iter()
                .filter_map(|p| crate::bump::scope_path(p).ok())
                .collect();
            !scope.is_empty() && files.iter().all(|f| crate::bump::in_scope(f, &scope))
        };
        let mut found = self.environments.iter().filter(|(_, env)| holds(env));
        match (found.next(), found.next()) {
            (Some((name, _)), None) => Some(name.as_str()),
            _ => None,
        }
    }

    /// The environments whose paths hold at least one of `files` (repository-relative).
    pub fn environments_touching(&self, files: &[String]) -> Vec<&str> {
        self.environments
            .iter()
            .filter(|(_, env)| {
                let scope: Vec<String> = env
                    .paths
                    .iter()
                    .filter_map(|p| crate::bump::scope_path(p).ok())
                    .collect();
                !scope.is_empty() && files.iter().any(|f| crate::bump::in_scope(f, &scope))
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Whether some environment lists its own `operators`.
    pub fn has_environment_operators(&self) -> bool {
        self.environments.values().any(|e| e.operators.is_some())
    }

    /// Whether some environment has a deploy window.
    pub fn has_windows(&self) -> bool {
        self.environments.values().any(|e| e.window.is_some())
    }

    /// The operators of `environment`: its own list when it has one, else the top-level list
    /// (also for no environment, or one the file does not define).
    pub fn operators_of(&self, environment: Option<&str>) -> &[String] {
        environment
            .and_then(|name| self.environments.get(name))
            .and_then(|env| env.operators.as_deref())
            .unwrap_or(&self.operators)
    }

    /// Environment `name`.
    pub fn environment(&self, name: &str) -> Result<&Environment, ConfigError> {
        match (self.environments.get(name), &self.absent_from) {
            (Some(env), _) => Ok(env),
            (None, Some(place)) => Err(ConfigError::NoFile {
                name: name.to_string(),
                file: FILE_NAME.to_string(),
                place: place.clone(),
            }),
            (None, None) => Err(ConfigError::UnknownEnvironment {
                name: name.to_string(),
                file: FILE_NAME.to_string(),
                known: if self.environments.is_empty() {
                    "none".to_string()
                } else {
                    self.environments
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }),
        }
    }
}

/// The first problem of the promotion graph, with the environment whose `promote_from` is at
/// fault: a source that is the environment itself or is not defined, or a cycle (named in
/// the direction versions flow, from its alphabetically first environment).
fn promotion_problem(config: &RepoConfig) -> Option<(&str, String)> {
    let envs = &config.environments;
    for (name, env) in envs {
        let Some(from) = env.promote_from.as_deref() else {
            continue;
        };
        if from == name {
            return Some((name, format!("promote_from: {name} promotes from itself")));
        }
        if !envs.contains_key(from) {
            let known = envs.keys().map(String::as_str).collect::<Vec<_>>();
            return Some((
                name,
                format!(
                    "promote_from: unknown environment {from:?}; defined: {}",
                    known.join(", ")
                ),
            ));
        }
    }
    // Each environment has at most one source: following sources from an environment either
    // ends or comes back to it within as many steps as there are environments.
    for start in envs.keys() {
        let mut chain = vec![start.as_str()];
        let mut at = start.as_str();
        while let Some(from) = envs.get(at).and_then(|e| e.promote_from.as_deref()) {
            if from == start {
                // `chain` runs against the flow (each promotes from the next): reverse it.
                chain.push(start);
                chain.reverse();
                return Some((
                    start,
                    format!("promote_from makes a cycle: {}", chain.join(" → ")),
                ));
            }
            if chain.contains(&from) || chain.len() > envs.len() {
                break; // a cycle that does not pass through `start`: found from its own first
            }
            chain.push(from);
            at = from;
        }
    }
    None
}

/// The keys whose own deserializers name them first in their messages (`soak: …`), and so
/// can be located at their value rather than at the mapping that holds them.
const VALUE_KEYS: &[&str] = &["soak", "window", "drift.grace", "drift.confirm"];

/// The line and column of the value a deserialization `message` is about, when it is one of
/// [`VALUE_KEYS`]: yaml_serde reports the start of the enclosing mapping instead. Messages
/// read `PATH: KEY: reason` (`environments.prod: window: …`, `drift: drift.confirm: …`).
fn value_location(text: &str, message: &str) -> Option<(usize, usize)> {
    let (path, rest) = message.split_once(": ")?;
    let key = VALUE_KEYS
        .iter()
        .find(|k| rest.starts_with(&format!("{k}: ")))?;
    let mut at: Vec<&str> = match path.strip_prefix("environments.") {
        // An environment's name may hold dots: it is all that follows.
        Some(env) => vec!["environments", env],
        None => Vec::new(),
    };
    if key.contains('.') {
        at = key.split('.').collect();
    } else {
        at.push(key);
    }
    locate(text, &at)
}

/// The line and column of a `drift.ignore` target selector that is not a regular expression
/// (`drift.ignore[0].target: "web-[0-9" is not a regular expression …`): yaml_serde reports
/// the start of the target's mapping, so the value is looked for among that target's values.
fn selector_location(text: &str, message: &str) -> Option<(usize, usize)> {
    let (index, rest) = message
        .strip_prefix("drift.ignore[")?
        .split_once("].target: ")?;
    let index: usize = index.parse().ok()?;
    let (quoted, _) = rest.split_once(" is not a regular expression")?;
    let value: String = serde_json::from_str(quoted).ok()?;
    let file = crate::manifest::YamlFile::parse(text).ok()?;
    let rules = file.get(file.get(*file.documents.first()?, "drift")?, "ignore")?;
    let target = file.get(*file.items(rules).get(index)?, "target")?;
    file.entries(target).iter().find_map(|(_, v)| {
        file.scalar(*v)
            .filter(|s| s.value == value)
            .map(|s| (s.line, s.column))
    })
}

/// The 1-based line and column of the scalar at `path` (mapping keys from the root).
fn locate(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    let file = crate::manifest::YamlFile::parse(text).ok()?;
    let mut node = *file.documents.first()?;
    for key in path {
        node = file.get(node, key)?;
    }
    let scalar = file.scalar(node)?;
    Some((scalar.line, scalar.column))
}

/// serde_yaml-style messages end in " at line L column C"; the location is printed in front.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_of_files_is_the_one_holding_them_all() {
        let c = RepoConfig::parse(
            "environments:\n  dev: {paths: [envs/dev]}\n  prod: {paths: [envs/prod/]}\n  all: {paths: []}\n",
            FILE_NAME,
        )
        .unwrap();
        let files = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            c.environment_of(&files(&["envs/prod/a.yaml"])),
            Some("prod")
        );
        assert_eq!(
            c.environment_of(&files(&["envs/dev/a.yaml", "envs/prod/b.yaml"])),
            None
        );
        assert_eq!(c.environment_of(&files(&["base/a.yaml"])), None);
    }

    #[test]
    fn environment_operators_override_the_top_level_list() {
        let c = RepoConfig::parse(
            "operators: [alice]\nenvironments:\n  dev: {paths: [envs/dev]}\n  prod: {paths: [envs/prod], operators: [ops-lead]}\n  frozen: {paths: [envs/frozen], operators: []}\n",
            FILE_NAME,
        )
        .unwrap();
        assert!(c.has_environment_operators());
        assert_eq!(c.operators_of(Some("prod")), ["ops-lead"]);
        assert_eq!(c.operators_of(Some("dev")), ["alice"]);
        assert_eq!(c.operators_of(Some("nowhere")), ["alice"]);
        assert_eq!(c.operators_of(None), ["alice"]);
        assert!(c.operators_of(Some("frozen")).is_empty());
        let files = [
            "envs/dev/a.yaml".to_string(),
            "envs/prod/b.yaml".to_string(),
        ];
        assert_eq!(c.environments_touching(&files), ["dev", "prod"]);
        assert!(
            c.environments_touching(&["base/a.yaml".to_string()])
                .is_empty()
        );
        assert!(!RepoConfig::default().has_environment_operators());
    }

    #[test]
    fn parses_the_documented_example() {
        let text = "operators: [operator]\nreviewers: [reviewer]\nlabels: [deploy]\nenvironments:\n  prod:\n    paths: [overlays/prod]\n    argocd_apps: [argocd/helloworld]\n    flux: [Kustomization/flux-system/apps]\n    apply: [overlays/prod]\n    namespace: hello\n    tier: production\n  dev:\n    paths: [overlays/dev]\ntemplates:\n  merge_request: .gitops-bot/mr.md.j2\n";
        let c = RepoConfig::parse(text, FILE_NAME).unwrap();
        assert_eq!(c.operators, ["operator"]);
        assert_eq!(c.environment_paths("prod").unwrap(), ["overlays/prod"]);
        let prod = c.environment("prod").unwrap();
        assert_eq!(prod.argocd_apps, ["argocd/helloworld"]);
        assert_eq!(prod.flux, ["Kustomization/flux-system/apps"]);
        assert_eq!(prod.namespace.as_deref(), Some("hello"));
        assert!(prod.is_production());
        assert!(!c.environment("dev").unwrap().is_production());
        assert_eq!(
            c.templates.merge_request.as_deref(),
            Some(".gitops-bot/mr.md.j2")
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_file_key_and_line() {
        let err = RepoConfig::parse(
            "operators: [a]\nenvironments:\n  prod:\n    path: [x]\n",
            FILE_NAME,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(".gitops-bot.yaml:4:"), "{msg}");
        assert!(msg.contains("unknown field `path`"), "{msg}");
        let err = RepoConfig::parse("labels: deploy\n", FILE_NAME)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(".gitops-bot.yaml:1:"), "{err}");
        assert!(err.contains("labels"), "{err}");
    }

    #[test]
    fn drift_ignore_rules_parse_and_bad_ones_name_file_line_and_column() {
        let c = RepoConfig::parse(
            "drift:\n  ignore:\n  - paths: [/spec/replicas]\n    target: {kind: Deployment, name: web}\n  - paths: [/metadata/annotations/note]\n",
            FILE_NAME,
        )
        .unwrap();
        assert_eq!(c.drift.ignore.len(), 2);
        assert_eq!(c.drift.ignore[0].paths[0].as_str(), "/spec/replicas");
        let target = c.drift.ignore[0].target.clone().unwrap_or_default();
        assert_eq!(target.kind.as_ref().map(|k| k.as_str()), Some("Deployment"));
        assert_eq!(c.drift.ignore[1].target, None);
        let err = RepoConfig::parse("drift:\n  ignore:\n  - paths: [spec/replicas]\n", FILE_NAME)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(".gitops-bot.yaml:3:"), "{err}");
        assert!(
            err.contains("\"spec/replicas\" is not a JSON pointer"),
            "{err}"
        );
        let err = RepoConfig::parse(
            "drift:\n  ignore:\n  - paths: [/x]\n    target: {labelSelector: app=web}\n",
            FILE_NAME,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with(".gitops-bot.yaml:4:"), "{err}");
        assert!(err.contains("labelSelector"), "{err}");
        let err = RepoConfig::parse(
            "drift:\n  ignore:\n  - paths: [/x]\n  - paths: [/y]\n    target:\n      kind: Deployment\n      namespace: 'prod-('\n",
            FILE_NAME,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                ".gitops-bot.yaml:7:18: drift.ignore[1].target: \"prod-(\" is not a regular expression"
            ),
            "at the value: {err}"
        );
    }

    #[test]
    fn drift_durations_default_parse_and_name_the_bad_key() {
        let c = RepoConfig::parse("operators: [a]\n", FILE_NAME).unwrap();
        assert_eq!(c.drift, DriftSettings::default());
        assert_eq!(c.drift.grace, Duration::from_secs(600));
        assert_eq!(c.drift.confirm, Duration::from_secs(120));
        let c = RepoConfig::parse("drift:\n  grace: 1m30s\n  confirm: 0s\n", FILE_NAME).unwrap();
        assert_eq!(c.drift.grace, Duration::from_secs(90));
        assert_eq!(c.drift.confirm, Duration::ZERO);
        let err = RepoConfig::parse("drift:\n  confirm: soon\n", FILE_NAME)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(".gitops-bot.yaml:2:"), "{err}");
        assert!(
            err.contains("drift.confirm: \"soon\" is not a duration"),
            "{err}"
        );
        let err = RepoConfig::parse("drift:\n  grace: 5\n  confirm: 2m\n", FILE_NAME);
        assert_eq!(err.map(|c| c.drift.grace), Ok(Duration::from_secs(5)));
        let err = RepoConfig::parse("drift:\n  grase: 5m\n", FILE_NAME)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `grase`"), "{err}");
    }

    #[test]
    fn promotion_settings_parse_with_their_defaults() {
        let c = RepoConfig::parse(
            "board: true\nenvironments:\n  dev: {paths: [d], auto_deploy: true}\n  prod:\n    paths: [p]\n    promote_from: dev\n    soak: 30m\n    operators: [ops-lead]\n    window: Mon-Fri 09:00-17:00 Europe/Madrid\n",
            FILE_NAME,
        )
        .unwrap();
        assert!(c.board);
        let dev = c.environment("dev").unwrap();
        assert!(dev.auto_deploy);
        assert_eq!((dev.promote_from.as_deref(), dev.soak), (None, None));
        let prod = c.environment("prod").unwrap();
        assert_eq!(prod.promote_from.as_deref(), Some("dev"));
        assert_eq!(prod.soak, Some(Duration::from_secs(1800)));
        assert_eq!(
            prod.operators.as_deref(),
            Some(&["ops-lead".to_string()][..])
        );
        assert_eq!(
            prod.window.as_ref().map(|w| w.to_string()).as_deref(),
            Some("Mon-Fri 09:00-17:00 Europe/Madrid")
        );
        let err = RepoConfig::parse("environments:\n  prod:\n    soak: a while\n", FILE_NAME)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(".gitops-bot.yaml:3:"), "{err}");
        assert!(err.contains("soak: \"a while\" is not a duration"), "{err}");
    }

    #[test]
    fn a_bad_window_is_an_error_at_its_line() {
        let err = RepoConfig::parse(
            "environments:\n  prod:\n    paths: [p]\n    window: Mon-Fri 09:00-17:00 Europe/Madird\n",
            FILE_NAME,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with(".gitops-bot.yaml:4:"), "{err}");
        assert!(
            err.contains("window: \"Europe/Madird\" is not a time zone"),
            "{err}"
        );
    }

    fn error_of(text: &str) -> String {
        RepoConfig::parse(text, FILE_NAME).unwrap_err().to_string()
    }

    #[test]
    fn bad_durations_are_located_at_their_value() {
        assert_eq!(
            error_of("environments:\n  prod:\n    paths: [p]\n    soak: x\n"),
            ".gitops-bot.yaml:4:11: environments.prod: soak: \"x\" is not a duration like 90s, 10m, 1h or 1m30s"
        );
        assert_eq!(
            error_of("environments: {prod: {paths: [p], soak: x}}\n"),
            ".gitops-bot.yaml:1:41: environments.prod: soak: \"x\" is not a duration like 90s, 10m, 1h or 1m30s"
        );
        assert_eq!(
            error_of("drift:\n  grace: 1m\n  confirm: soon\n"),
            ".gitops-bot.yaml:3:12: drift: drift.confirm: \"soon\" is not a duration like 90s, 10m, 1h or 1m30s"
        );
    }

    #[test]
    fn promote_from_must_name_another_defined_environment() {
        assert_eq!(
            error_of(
                "environments:\n  dev: {paths: [d]}\n  prod:\n    paths: [p]\n    promote_from: prod\n"
            ),
            ".gitops-bot.yaml:5:19: promote_from: prod promotes from itself"
        );
        assert_eq!(
            error_of(
                "environments:\n  dev: {paths: [d]}\n  prod:\n    paths: [p]\n    promote_from: staging\n"
            ),
            ".gitops-bot.yaml:5:19: promote_from: unknown environment \"staging\"; defined: dev, prod"
        );
    }

    #[test]
    fn promotion_cycles_are_errors_naming_the_cycle() {
        assert_eq!(
            error_of("environments:\n  a: {promote_from: b}\n  b: {promote_from: a}\n"),
            ".gitops-bot.yaml:2:21: promote_from makes a cycle: a → b → a"
        );
        // prod ← staging ← dev ← prod, with an environment hanging off the cycle.
        let text = "environments:\n  preview: {promote_from: dev}\n  prod: {promote_from: staging}\n  staging: {promote_from: dev}\n  dev:\n    promote_from: prod\n";
        assert_eq!(
            error_of(text),
            ".gitops-bot.yaml:6:19: promote_from makes a cycle: dev → staging → prod → dev"
        );
        // A chain without a cycle is fine.
        let c = RepoConfig::parse(
            "environments:\n  prod: {promote_from: staging}\n  staging: {promote_from: dev}\n  dev: {}\n",
            FILE_NAME,
        )
        .unwrap();
        assert_eq!(c.environments.len(), 3);
    }

    #[test]
    fn unknown_environment_lists_the_known_ones() {
        let c = RepoConfig::parse(
            "environments: {prod: {paths: [p]}, dev: {paths: [d]}}",
            FILE_NAME,
        )
        .unwrap();
        let err = c.environment_paths("stage").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown environment \"stage\"; .gitops-bot.yaml defines: dev, prod"
        );
        assert!(
            RepoConfig::parse("", FILE_NAME)
                .unwrap()
                .operators
                .is_empty()
        );
    }

    #[test]
    fn an_absent_file_is_named_when_an_environment_is_asked_for() {
        let err = RepoConfig::absent("/srv/ops")
            .environment("prod")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "no .gitops-bot.yaml in /srv/ops to define environment \"prod\""
        );
        // An empty file exists: it defines no environments.
        let err = RepoConfig::parse("", FILE_NAME)
            .unwrap()
            .environment("prod")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown environment \"prod\"; .gitops-bot.yaml defines: none"
        );
    }
}
