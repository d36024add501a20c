//! `promote`: for each environment promoted from another, say what a promotion would move
//! and whether it may be proposed now. Reads only: the settings and the files at the head
//! of the default branch, the source environment's latest GitLab deployment records, and
//! the source's files at its healthy deployment's commit. The decisions are
//! [`crate::promotion`]'s; opening the promotion merge request is not done here yet. At the
//! end it runs the auto-deploy pass ([`auto_deploy::arm_waiting`]), its one write, and says
//! what it armed or why each merge request waits on stderr (stdout stays the answer).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::bump::{in_scope, is_yaml_path, scope_path};
use crate::cli::{OutputFormat, PromoteArgs, UsageError};
use crate::commit_sha;
use crate::config::{self, RepoConfig};
use crate::gitlab::{GitlabClient, Limits};
use crate::image_ref::Version;
use crate::modes::{connect, project_or_ci};
use crate::promotion::{
    self, Blocked, EnvironmentImages, Healthy, Hold, ImagePromotion, Moved, images_of,
};
use crate::workflows::auto_deploy;
use crate::workflows::holds::holds_of;

/// Deployment records read per source environment: only the latest decides, the others
/// are context for a person reading the JSON.
const RECORDS: u8 = 5;

pub async fn run(args: &PromoteArgs) -> Result<ExitCode> {
    let project = project_or_ci(args.project.as_deref())?;
    let gitlab = connect(&args.gitlab)?;
    let info = gitlab.project(&project).await?;
    let branch = info.default_branch.clone().with_context(|| {
        format!("project {project} has no default branch (an empty repository?)")
    })?;
    let head = gitlab
        .branch_head(&project, &branch)
        .await?
        .with_context(|| format!("the default branch {branch} of {project} does not exist"))?;
    let config = match gitlab
        .file_text(&project, config::FILE_NAME, &head.id)
        .await?
    {
        Some(text) => RepoConfig::parse(&text, config::FILE_NAME)?,
        None => RepoConfig::absent(format!("{project} at {branch}")),
    };
    let pairs = pairs(&args.environments, &config)?;
    let scopes = scopes(&config, &pairs)?;

    let mut trees = Trees::new(
        &gitlab,
        &project,
        scopes.values().flatten().cloned().collect(),
    );
    let bot = gitlab.current_user().await?;
    let mut held = BTreeMap::new();
    let mut reports = Vec::new();
    for (target, source) in &pairs {
        let holds = holds_of(&gitlab, &project, &bot, &config, target)
            .await
            .map_err(|e| format!("{e:#}"));
        if let Ok(holds) = &holds {
            held.insert(target.clone(), active(holds));
        }
        let soak = config
            .environments
            .get(target)
            .and_then(|e| e.soak)
            .unwrap_or(Duration::ZERO);
        let wanted = Wanted {
            target,
            source,
            soak,
            head: &head.id,
            holds: &holds,
            prefix: &config.command_prefix,
        };
        reports.push(decide(&gitlab, &project, &mut trees, &scopes, wanted).await?);
    }

    match args.output {
        OutputFormat::Text => print!(
            "{}{}",
            text(&reports),
            holds_text(&held, &config.command_prefix)
        ),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "head": head.id,
                "environments": reports,
                "holds": held,
            }))?
        ),
    }
    // The one write of `promote`: auto-deploy merge requests waiting for their window.
    if config.environments.values().any(|e| e.auto_deploy) {
        for line in auto_deploy::arm_waiting(&gitlab, &project, &bot).await? {
            eprintln!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One target environment to answer for.
struct Wanted<'a> {
    target: &'a str,
    source: &'a str,
    soak: Duration,
    /// The head of the default branch.
    head: &'a str,
    /// The target's holds, or why they could not be read.
    holds: &'a Result<Vec<Hold>, String>,
    /// The command prefix, to say how to lift a hold.
    prefix: &'a str,
}

/// The answer for one target: its source's latest deployment, then the source's files at
/// that deployment and now, then the target's files.
async fn decide(
    gitlab: &GitlabClient,
    project: &str,
    trees: &mut Trees<'_>,
    scopes: &BTreeMap<String, Vec<String>>,
    wanted: Wanted<'_>,
) -> Result<Report> {
    let Wanted {
        target,
        source,
        soak,
        head,
        holds,
        prefix,
    } = wanted;
    let records = gitlab
        .latest_deployments(project, source, RECORDS)
        .await
        .with_context(|| format!("cannot read the deployments of {source}"))?;
    let healthy = match promotion::latest_healthy(&records) {
        Ok(healthy) => healthy,
        Err(blocked) => return Ok(Report::blocked(target, source, soak, blocked)),
    };
    let source_scope = &scopes[source];
    let deployed = trees.images(&healthy.sha, source_scope).await?;
    let current = trees.images(head, source_scope).await?;
    let soak_met =
        match promotion::eligibility(healthy.clone(), &deployed, &current, soak, Utc::now()) {
            Ok(met) => met,
            Err(blocked) => return Ok(Report::blocked(target, source, soak, blocked)),
        };
    let target_images = trees.images(head, &scopes[target]).await?;
    let holds = match holds {
        Ok(holds) => holds,
        Err(error) => {
            let error = error.clone();
            return Ok(Report::blocked(
                target,
                source,
                soak,
                Blocked::HoldsUnreadable { error },
            ));
        }
    };
    let mut plan = promotion::promotion(source, &deployed, target, &target_images);
    promotion::apply_holds(&mut plan, holds, prefix);
    let mut warnings = unread(source, &deployed);
    warnings.extend(unread(target, &target_images));
    let reason = match (plan.is_empty(), plan.skipped.is_empty()) {
        (false, _) => None,
        (true, true) => Some(format!(
            "{target} already runs the versions {source} runs healthy"
        )),
        (true, false) if plan.skipped.iter().any(|s| s.reason.is_hold()) => Some(format!(
            "no image to move: {target} is held for versions {source} runs healthy (see skipped)"
        )),
        (true, false) => Some(format!(
            "no image to move: {target} runs the versions {source} runs healthy, apart from the skipped ones"
        )),
    };
    Ok(Report {
        environment: target.to_string(),
        promote_from: source.to_string(),
        state: if plan.is_empty() {
            State::UpToDate
        } else {
            State::Promotion
        },
        reason,
        deployment: Some(Evidence::new(&healthy, soak, Some(soak_met), true)),
        images: plan.images,
        skipped: plan
            .skipped
            .into_iter()
            .map(|s| SkippedImage {
                repository: s.repository,
                name: s.name,
                reason: s.reason.to_string(),
            })
            .collect(),
        moved: Vec::new(),
        warnings,
    })
}

/// (target, source) for each environment to look at: those named by `--environment` (each
/// must exist and have `promote_from`), else every one with `promote_from`.
fn pairs(named: &[String], config: &RepoConfig) -> Result<Vec<(String, String)>> {
    let usage = |e: String| anyhow::Error::new(UsageError(e));
    if named.is_empty() {
        let pairs: Vec<(String, String)> = config
            .environments
            .iter()
            .filter_map(|(name, env)| Some((name.clone(), env.promote_from.clone()?)))
            .collect();
        if pairs.is_empty() {
            return Err(usage(format!(
                "no environment of {} has promote_from: nothing to promote",
                config::FILE_NAME
            )));
        }
        return Ok(pairs);
    }
    let mut pairs = Vec::new();
    for name in named {
        let env = config.environment(name).map_err(|e| usage(e.to_string()))?;
        let Some(source) = env.promote_from.clone() else {
            return Err(usage(format!(
                "environment {name} has no promote_from in {}: it is not promoted from another",
                config::FILE_NAME
            )));
        };
        if !pairs.iter().any(|(n, _)| n == name) {
            pairs.push((name.clone(), source));
        }
    }
    Ok(pairs)
}

/// Each environment's paths as repository-relative prefixes.
fn scopes(
    config: &RepoConfig,
    pairs: &[(String, String)],
) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    for name in pairs.iter().flat_map(|(t, s)| [t, s]) {
        let paths = config
            .environment_paths(name)
            .map_err(|e| UsageError(e.to_string()))?;
        let scope = paths
            .iter()
            .map(|p| scope_path(p).map_err(|e| UsageError(format!("{name}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(name.clone(), scope);
    }
    Ok(out)
}

/// The YAML files under the environments' paths at each commit read, each commit read once
/// (one archive request).
struct Trees<'g> {
    gitlab: &'g GitlabClient,
    project: &'g str,
    scope: Vec<String>,
    read: BTreeMap<String, Tree>,
}

/// The wanted files at one commit, and those too large to read (path, size).
struct Tree {
    files: BTreeMap<String, Vec<u8>>,
    oversized: Vec<(String, u64)>,
}

impl<'g> Trees<'g> {
    fn new(gitlab: &'g GitlabClient, project: &'g str, scope: Vec<String>) -> Self {
        Trees {
            gitlab,
            project,
            scope,
            read: BTreeMap::new(),
        }
    }

    /// The images under `scope` at `sha`; a file too large to read is listed as unread.
    async fn images(&mut self, sha: &str, scope: &[String]) -> Result<EnvironmentImages> {
        let tree = self.at(sha).await?;
        let files = tree.files.iter().map(|(p, b)| (p.as_str(), b.as_slice()));
        let mut images = images_of(files, scope);
        for (path, size) in &tree.oversized {
            if in_scope(path, scope) {
                images.unread_files.push((
                    path.clone(),
                    format!(
                        "{size} bytes, over the {}-byte limit",
                        crate::bump::MAX_FILE_SIZE
                    ),
                ));
            }
        }
        Ok(images)
    }

    async fn at(&mut self, sha: &str) -> Result<&Tree> {
        if !self.read.contains_key(sha) {
            let scope = self.scope.clone();
            let archive = self
                .gitlab
                .archive(
                    self.project,
                    sha,
                    Limits {
                        max_file: crate::bump::MAX_FILE_SIZE,
                        max_total: 1024 * 1024 * 1024,
                    },
                    move |path| is_yaml_path(path) && in_scope(path, &scope),
                    |_, _| true,
                )
                .await
                .with_context(|| {
                    format!("cannot read the repository at {}", commit_sha::short(sha))
                })?;
            let files = archive
                .files
                .into_iter()
                .map(|f| (f.path, f.bytes))
                .collect();
            let tree = Tree {
                files,
                oversized: archive.oversized,
            };
            self.read.insert(sha.to_string(), tree);
        }
        self.read.get(sha).context("a repository read was not kept")
    }
}

fn unread(environment: &str, images: &EnvironmentImages) -> Vec<String> {
    images
        .unread_files
        .iter()
        .map(|(path, why)| {
            format!("{environment}: {path} not read ({why}): a version written there is not seen")
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum State {
    /// Images to move, and the source's deployment allows it now.
    Promotion,
    /// The target already runs the source's versions.
    UpToDate,
    /// The soak time has not passed.
    Soaking,
    /// The source's latest deployment is not a success.
    SourceNotHealthy,
    /// The source's files carry other versions than its healthy deployment.
    SourceMovedOn,
    /// The source has never been deployed (no GitLab deployment record).
    NoDeployment,
    /// The target's holds could not be read: nothing is proposed.
    HoldsUnreadable,
}

/// The source's deployment a promotion rests on.
#[derive(Debug, Serialize)]
struct Evidence {
    id: u64,
    sha: String,
    /// When it turned healthy (RFC 3339).
    healthy_since: String,
    soak_seconds: u64,
    /// When the soak was met, or will be.
    soak_met_at: Option<String>,
    soak_met: bool,
}

impl Evidence {
    fn new(healthy: &Healthy, soak: Duration, met_at: Option<DateTime<Utc>>, met: bool) -> Self {
        Evidence {
            id: healthy.id,
            sha: healthy.sha.clone(),
            healthy_since: time(healthy.since),
            soak_seconds: soak.as_secs(),
            soak_met_at: met_at.map(time),
            soak_met: met,
        }
    }
}

#[derive(Debug, Serialize)]
struct SkippedImage {
    repository: String,
    name: String,
    reason: String,
}

/// One target environment's answer.
#[derive(Debug, Serialize)]
struct Report {
    environment: String,
    promote_from: String,
    state: State,
    /// Why nothing is proposed (absent for a promotion).
    reason: Option<String>,
    deployment: Option<Evidence>,
    images: Vec<ImagePromotion>,
    skipped: Vec<SkippedImage>,
    moved: Vec<Moved>,
    warnings: Vec<String>,
}

impl Report {
    fn blocked(target: &str, source: &str, soak: Duration, blocked: Blocked) -> Report {
        let (state, reason, deployment, moved) = match blocked {
            Blocked::HoldsUnreadable { error } => (
                State::HoldsUnreadable,
                format!("the holds of {target} are unknown, so nothing is proposed: {error}"),
                None,
                Vec::new(),
            ),
            Blocked::NoDeployment => (
                State::NoDeployment,
                format!("{source} has no GitLab deployment record: nothing is proven yet"),
                None,
                Vec::new(),
            ),
            Blocked::NotHealthy { id, sha, status } => (
                State::SourceNotHealthy,
                format!(
                    "the latest deployment of {source} ({id}, commit {}) is {status}, not success",
                    commit_sha::short(&sha)
                ),
                None,
                Vec::new(),
            ),
            Blocked::MovedOn { healthy, moved } => (
                State::SourceMovedOn,
                format!(
                    "{source} has moved on since its healthy deployment {} (commit {}): {}",
                    healthy.id,
                    commit_sha::short(&healthy.sha),
                    moved
                        .iter()
                        .map(describe_move)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Some(Evidence::new(&healthy, soak, None, false)),
                moved,
            ),
            Blocked::Soaking {
                healthy,
                soak,
                until,
            } => (
                State::Soaking,
                format!(
                    "soak of {} not met: {source} healthy since {} (deployment {}, commit {}); eligible at {}",
                    human(soak),
                    time(healthy.since),
                    healthy.id,
                    commit_sha::short(&healthy.sha),
                    time(until)
                ),
                Some(Evidence::new(&healthy, soak, Some(until), false)),
                Vec::new(),
            ),
        };
        Report {
            environment: target.to_string(),
            promote_from: source.to_string(),
            state,
            reason: Some(reason),
            deployment,
            images: Vec::new(),
            skipped: Vec::new(),
            moved,
            warnings: Vec::new(),
        }
    }
}

/// The holds not lifted.
fn active(holds: &[Hold]) -> Vec<Hold> {
    holds.iter().filter(|h| !h.is_lifted()).cloned().collect()
}

/// One line per hold, per environment whose holds were read.
fn holds_text(held: &BTreeMap<String, Vec<Hold>>, prefix: &str) -> String {
    let mut out = String::new();
    for hold in held.values().flatten() {
        let versions: Vec<String> = hold.versions.iter().map(Version::to_string).collect();
        out.push_str(&format!(
            "hold: {} holds {} {} since rollback !{} ({}); lift it with `{prefix} unhold` on !{}\n",
            hold.environment,
            hold.repository,
            versions.join(", "),
            hold.rollback_iid,
            hold.rollback_url,
            hold.rollback_iid,
        ));
    }
    out
}

fn describe_move(m: &Moved) -> String {
    let list = |v: &[Version]| match v {
        [] => "none".to_string(),
        v => v
            .iter()
            .map(Version::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!(
        "{} deployed {}, now {}",
        m.repository,
        list(&m.deployed),
        list(&m.now)
    )
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `30m`, `1h30m`, `45s`: as written in `.gitops-bot.yaml`.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

fn text(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        let heading = format!("{} ← {}", r.environment, r.promote_from);
        match (&r.state, &r.deployment) {
            (State::Promotion, Some(d)) => {
                out.push_str(&format!(
                    "{heading}: promote {} (deployment {} of {}, healthy since {}, soak {} met)\n",
                    crate::plural::count(r.images.len(), "image"),
                    d.id,
                    commit_sha::short(&d.sha),
                    d.healthy_since,
                    human(Duration::from_secs(d.soak_seconds)),
                ));
                for image in &r.images {
                    let from: Vec<String> = image.from.iter().map(Version::to_string).collect();
                    out.push_str(&format!(
                        "  {}: {} → {}\n",
                        image.name,
                        from.join(", "),
                        image.to
                    ));
                }
            }
            _ => out.push_str(&format!(
                "{heading}: nothing proposed: {}\n",
                r.reason.as_deref().unwrap_or_default()
            )),
        }
        for s in &r.skipped {
            out.push_str(&format!("  skipped {}: {}\n", s.name, s.reason));
        }
        for w in &r.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soak_reads_as_written_in_the_settings() {
        assert_eq!(human(Duration::from_secs(30 * 60)), "30m");
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::ZERO), "0s");
    }
}
