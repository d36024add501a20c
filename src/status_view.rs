//! The status view: environments × images at the head of the default branch, each
//! environment's last deployment, its open bot merge requests, its active holds and its
//! deploy window.
//!
//! One pure function, [`build`], from what the adapters read (the settings, the images in
//! Git, the deployment records, the open merge requests) and the time: `gitops-bot status`
//! prints its result, the deploy board renders it. Nothing here reads GitLab or the clock.
//! The versions come from Git only; a merge request's marker is a hint for classifying it,
//! never the truth about what runs.
//!
//! The JSON form (`status --output json`) is the serialisation of [`StatusView`]; its fields
//! are documented on the types and only ever added to.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::config::RepoConfig;
use crate::marker;
use crate::promotion::{DeploymentRecord, EnvironmentImages, Hold};

/// Every branch the bot pushes starts with this.
const BOT_BRANCH: &str = "gitops-bot/";

/// The whole view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusView {
    /// The config project (`group/helloworld-ops`).
    pub project: String,
    /// Its web address.
    pub project_url: String,
    /// The default branch and its head commit, where the versions are read.
    pub branch: String,
    pub head: String,
    /// In the order of `.gitops-bot.yaml`'s keys (alphabetical).
    pub environments: Vec<EnvironmentStatus>,
    /// Open bot merge requests no environment can be told for.
    pub other_merge_requests: Vec<OpenMergeRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentStatus {
    pub name: String,
    pub tier: Option<String>,
    pub promote_from: Option<String>,
    /// The images its files reference at the head, by normalised repository.
    pub images: Vec<ImageStatus>,
    /// Its latest GitLab deployment record, whatever its status.
    pub last_deploy: Option<LastDeploy>,
    /// Open bot merge requests for it, by iid.
    pub merge_requests: Vec<OpenMergeRequest>,
    /// Its deploy window, when it has one.
    pub window: Option<WindowStatus>,
    /// The versions merged rollbacks of it hold (not lifted yet), oldest rollback first.
    pub holds: Vec<HoldStatus>,
    /// Files under its paths that could not be read: a version written there is not shown.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageStatus {
    /// `registry.example.com/team/api`; `docker.io/library/nginx` for `nginx`.
    pub repository: String,
    /// As first written in the files.
    pub name: String,
    /// Every version its references carry, in file order (several: the files disagree).
    pub versions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastDeploy {
    pub id: u64,
    /// GitLab's status: `success`, `failed`, `running`, `canceled`, …
    pub status: String,
    pub sha: String,
    /// When it reached that status (RFC 3339, UTC).
    pub at: String,
    /// The deployed commit's page.
    pub commit_url: String,
    /// The environment's deployments in GitLab.
    pub environment_url: String,
}

/// What an open bot merge request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeRequestKind {
    Bump,
    Promotion,
    Rollback,
}

impl std::fmt::Display for MergeRequestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MergeRequestKind::Bump => "bump",
            MergeRequestKind::Promotion => "promotion",
            MergeRequestKind::Rollback => "rollback",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenMergeRequest {
    pub iid: u64,
    pub kind: MergeRequestKind,
    pub title: String,
    pub url: String,
    pub source_branch: String,
}

/// Versions of one repository a merged rollback of the environment holds: neither promoted
/// nor auto-deployed to it again until lifted or a newer version arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldStatus {
    /// `registry.example.com/team/api`.
    pub repository: String,
    /// The versions the rollback moved the environment away from (from Git).
    pub versions: Vec<String>,
    pub rollback_iid: u64,
    pub rollback_url: String,
    /// The comment an operator of the environment writes on the rollback merge request to
    /// lift it (`gitops-bot unhold`).
    pub unhold: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowStatus {
    /// As written in `.gitops-bot.yaml`.
    pub window: String,
    pub open: bool,
    /// When it opens next (RFC 3339, UTC); absent while it is open.
    pub next_opening: Option<String>,
}

/// An open merge request as read from GitLab: only what classifying it needs.
#[derive(Debug, Clone)]
pub struct MergeRequestInput {
    pub iid: u64,
    pub title: String,
    pub web_url: String,
    pub source_branch: String,
    pub description: String,
}

/// What the adapters read, for [`build`].
pub struct Inputs<'a> {
    pub project: &'a str,
    pub project_url: &'a str,
    pub branch: &'a str,
    pub head: &'a str,
    pub config: &'a RepoConfig,
    /// Each environment's images at the head.
    pub images: &'a BTreeMap<String, EnvironmentImages>,
    /// Each environment's deployment records, newest first.
    pub deployments: &'a BTreeMap<String, Vec<DeploymentRecord>>,
    /// The open merge requests into the default branch (any author).
    pub merge_requests: &'a [MergeRequestInput],
    /// Each environment's holds, lifted ones included.
    pub holds: &'a BTreeMap<String, Vec<Hold>>,
    pub now: DateTime<Utc>,
}

/// The view of `inputs`.
pub fn build(inputs: &Inputs<'_>) -> StatusView {
    let mut by_environment: BTreeMap<&str, Vec<OpenMergeRequest>> = BTreeMap::new();
    let mut other = Vec::new();
    for mr in inputs.merge_requests {
        let Some((environment, open)) = classify(mr, inputs.config) else {
            continue;
        };
        match environment {
            Some(env) => by_environment.entry(env).or_default().push(open),
            None => other.push(open),
        }
    }
    let environments = inputs
        .config
        .environments
        .iter()
        .map(|(name, env)| {
            let mut merge_requests = by_environment.remove(name.as_str()).unwrap_or_default();
            merge_requests.sort_by_key(|m| m.iid);
            let images = inputs.images.get(name);
            EnvironmentStatus {
                name: name.clone(),
                tier: env.tier.clone(),
                promote_from: env.promote_from.clone(),
                images: images
                    .map(|i| {
                        i.images
                            .values()
                            .map(|v| ImageStatus {
                                repository: v.repository.clone(),
                                name: v.name.clone(),
                                versions: v.versions.iter().map(ToString::to_string).collect(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                last_deploy: inputs
                    .deployments
                    .get(name)
                    .and_then(|records| records.first())
                    .map(|d| LastDeploy {
                        id: d.id,
                        status: d.status.clone(),
                        sha: d.sha.clone(),
                        at: time(d.finished_at),
                        commit_url: format!("{}/-/commit/{}", inputs.project_url, d.sha),
                        environment_url: environment_url(inputs.project_url, name),
                    }),
                merge_requests,
                window: env.window.as_ref().map(|w| {
                    let next = w.next_opening(inputs.now);
                    let open = next == inputs.now;
                    WindowStatus {
                        window: w.to_string(),
                        open,
                        next_opening: (!open).then(|| time(next)),
                    }
                }),
                holds: inputs
                    .holds
                    .get(name)
                    .map(|holds| {
                        holds
                            .iter()
                            .filter(|h| !h.is_lifted())
                            .map(|h| HoldStatus {
                                repository: h.repository.clone(),
                                versions: h.versions.iter().map(ToString::to_string).collect(),
                                rollback_iid: h.rollback_iid,
                                rollback_url: h.rollback_url.clone(),
                                unhold: format!("{} unhold", inputs.config.command_prefix),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                warnings: images
                    .map(|i| {
                        i.unread_files
                            .iter()
                            .map(|(path, why)| format!("{path} not read: {why}"))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    other.sort_by_key(|m| m.iid);
    StatusView {
        project: inputs.project.to_string(),
        project_url: inputs.project_url.to_string(),
        branch: inputs.branch.to_string(),
        head: inputs.head.to_string(),
        environments,
        other_merge_requests: other,
    }
}

/// Whether `mr` is the bot's, and if so for which environment (when one can be told) and
/// of what kind. The source branch decides first (`gitops-bot/<env>/…`, which only someone
/// who can push makes); the description's marker only fills in what the branch leaves
/// open. A merge request with neither a bot branch nor a marker is not the bot's.
fn classify<'c>(
    mr: &MergeRequestInput,
    config: &'c RepoConfig,
) -> Option<(Option<&'c str>, OpenMergeRequest)> {
    let rest = mr.source_branch.strip_prefix(BOT_BRANCH)?;
    let mut segments = rest.split('/');
    let first = segments.next().unwrap_or_default();
    let tail: Vec<&str> = segments.collect();
    let recorded = marker::all(&mr.description).find_map(|m| match m {
        marker::Marker::Bump(s) => Some((false, s)),
        marker::Marker::Rollback(s) => Some((true, s)),
        _ => None,
    });
    let promotion = tail == ["promote"];
    if recorded.is_none() && !promotion {
        return None;
    }
    let known = |name: &str| {
        config
            .environments
            .get_key_value(name)
            .map(|(k, _)| k.as_str())
    };
    let environment = known(first).or_else(|| {
        recorded
            .as_ref()
            .and_then(|(_, s)| s.environment.as_deref())
            .and_then(known)
    });
    let rollback = tail.first() == Some(&"rollback")
        || recorded
            .as_ref()
            .is_some_and(|(rollback, s)| *rollback || s.is_rollback());
    let kind = if rollback {
        MergeRequestKind::Rollback
    } else if promotion {
        MergeRequestKind::Promotion
    } else {
        MergeRequestKind::Bump
    };
    Some((
        environment,
        OpenMergeRequest {
            iid: mr.iid,
            kind,
            title: mr.title.clone(),
            url: mr.web_url.clone(),
            source_branch: mr.source_branch.clone(),
        },
    ))
}

fn environment_url(project_url: &str, name: &str) -> String {
    let query: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("{project_url}/-/environments?search={query}")
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The view as a table for a terminal: one row per environment and image, then the merge
/// requests, windows and warnings.
pub fn text(view: &StatusView) -> String {
    let short = |sha: &str| crate::commit_sha::short(sha).to_string();
    let mut rows: Vec<[String; 4]> = vec![[
        "ENVIRONMENT".into(),
        "IMAGE".into(),
        "IN GIT".into(),
        "LAST DEPLOY".into(),
    ]];
    for env in &view.environments {
        let deploy = env.last_deploy.as_ref().map_or_else(
            || "never".to_string(),
            |d| format!("{} {} at {}", d.status, short(&d.sha), d.at),
        );
        if env.images.is_empty() {
            rows.push([env.name.clone(), "-".into(), "-".into(), deploy]);
            continue;
        }
        for (i, image) in env.images.iter().enumerate() {
            let first = i == 0;
            rows.push([
                if first {
                    env.name.clone()
                } else {
                    String::new()
                },
                image.name.clone(),
                image.versions.join(", "),
                if first { deploy.clone() } else { String::new() },
            ]);
        }
    }
    let widths: Vec<usize> = (0..3)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{} at {} ({})\n\n",
        view.project,
        view.branch,
        short(&view.head)
    );
    for row in &rows {
        let mut line = String::new();
        for (c, width) in widths.iter().enumerate() {
            line.push_str(&format!("{:<width$}  ", row[c], width = *width));
        }
        line.push_str(&row[3]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let mrs: Vec<(&str, &OpenMergeRequest)> = view
        .environments
        .iter()
        .flat_map(|e| e.merge_requests.iter().map(move |m| (e.name.as_str(), m)))
        .chain(view.other_merge_requests.iter().map(|m| ("-", m)))
        .collect();
    out.push_str("\nOpen merge requests:");
    if mrs.is_empty() {
        out.push_str(" none\n");
    } else {
        out.push('\n');
        for (env, m) in mrs {
            out.push_str(&format!(
                "  {env}  {}  !{} {}  {}\n",
                m.kind, m.iid, m.title, m.url
            ));
        }
    }
    for env in &view.environments {
        for h in &env.holds {
            out.push_str(&format!(
                "Hold of {}: {} {} since rollback !{} ({}); lift it with `{}` on !{}\n",
                env.name,
                h.repository,
                h.versions.join(", "),
                h.rollback_iid,
                h.rollback_url,
                h.unhold,
                h.rollback_iid
            ));
        }
        if let Some(w) = &env.window {
            match &w.next_opening {
                Some(next) => out.push_str(&format!(
                    "Window of {}: {} (closed; opens {next})\n",
                    env.name, w.window
                )),
                None => out.push_str(&format!("Window of {}: {} (open)\n", env.name, w.window)),
            }
        }
        for warning in &env.warnings {
            out.push_str(&format!("warning: {}: {warning}\n", env.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RepoConfig {
        RepoConfig::parse(
            "environments:\n  dev: {paths: [envs/dev]}\n  prod:\n    paths: [envs/prod]\n    promote_from: dev\n    window: Mon-Fri 09:00-17:00 UTC\n",
            ".gitops-bot.yaml",
        )
        .unwrap()
    }

    fn mr(iid: u64, branch: &str, description: &str) -> MergeRequestInput {
        MergeRequestInput {
            iid,
            title: format!("MR {iid}"),
            web_url: format!("https://gitlab.example.com/g/p/-/merge_requests/{iid}"),
            source_branch: branch.into(),
            description: description.into(),
        }
    }

    fn classified(m: &MergeRequestInput) -> Option<(Option<String>, MergeRequestKind)> {
        let config = config();
        classify(m, &config).map(|(env, open)| (env.map(str::to_string), open.kind))
    }

    #[test]
    fn merge_requests_are_classified_by_branch_then_marker() {
        let mut state = crate::marker::BumpState::example();
        state.environment = Some("prod".into());
        let bump = crate::marker::render(&crate::marker::Marker::Bump(state.clone()));
        let rollback = crate::marker::render(&crate::marker::Marker::Rollback(state));
        assert_eq!(
            classified(&mr(1, "gitops-bot/dev/api-0a1b2c", &bump)),
            Some((Some("dev".into()), MergeRequestKind::Bump)),
            "the branch names the environment, not the editable marker"
        );
        assert_eq!(
            classified(&mr(2, "gitops-bot/prod/promote", "")),
            Some((Some("prod".into()), MergeRequestKind::Promotion))
        );
        assert_eq!(
            classified(&mr(3, "gitops-bot/prod/rollback/api-0a1b2c", &rollback)),
            Some((Some("prod".into()), MergeRequestKind::Rollback))
        );
        assert_eq!(
            classified(&mr(4, "gitops-bot/all/api-0a1b2c", &bump)),
            Some((Some("prod".into()), MergeRequestKind::Bump)),
            "a branch without an environment falls back on the marker"
        );
        assert_eq!(classified(&mr(5, "feature/x", &bump)), None);
        assert_eq!(
            classified(&mr(6, "gitops-bot/dev/api-1", "no marker")),
            None
        );
    }

    #[test]
    fn a_closed_window_says_when_it_opens() {
        let config = config();
        // Saturday noon: next opening Monday 09:00 UTC.
        let now = DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let view = build(&Inputs {
            project: "g/p",
            project_url: "https://gitlab.example.com/g/p",
            branch: "main",
            head: "0123456789abcdef0123",
            config: &config,
            images: &BTreeMap::new(),
            deployments: &BTreeMap::new(),
            merge_requests: &[],
            holds: &BTreeMap::new(),
            now,
        });
        let prod = &view.environments[1];
        assert_eq!(
            prod.window,
            Some(WindowStatus {
                window: "Mon-Fri 09:00-17:00 UTC".into(),
                open: false,
                next_opening: Some("2026-11-30T09:00:00Z".into()),
            })
        );
        assert_eq!(view.environments[0].window, None);
        assert!(text(&view).contains(
            "Window of prod: Mon-Fri 09:00-17:00 UTC (closed; opens 2026-11-30T09:00:00Z)"
        ));
    }
}
