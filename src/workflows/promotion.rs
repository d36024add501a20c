//! Promoting an environment: reading what the decision needs (the settings and files at the
//! default branch's head, the source's latest deployment records, the source's files at its
//! healthy deployment), asking [`crate::promotion`] for the decision, and proposing the
//! result as the target's single promotion merge request through [`propose`]. Shared by the
//! `promote` mode and by `sync` once an environment is verified healthy; the decision itself
//! stays in the pure [`crate::promotion`] module, so a new gate (a hold) is added there and
//! in [`decide`] alone. Prints nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use super::propose::{self, BumpSpec, Proposed, propose};
use crate::bump::merge_request::{Action, promotion_branch};
use crate::bump::{in_scope, is_yaml_path};
use crate::commit_sha;
use crate::config::{self, RepoConfig};
use crate::gitlab::{Archive, GitlabClient, Limits, MergeRequest, UserRef};
use crate::image_ref::{ImageRef, Version};
use crate::marker::{self, PromotionRecord};
use crate::messages::{
    HeldImageRow, MergeRequestLink, Messages, PromotedImageRow, PromotionEvidenceView, SourceInfo,
};
use crate::promotion::{
    self, Blocked, EnvironmentImages, Healthy, Hold, Moved, Promotion, Skip, images_of,
};
use crate::usage::UsageError;
use crate::workflows::holds::holds_of;

/// Deployment records read per source environment: only the latest decides, the others
/// are context for a person reading the JSON.
const RECORDS: u8 = 5;

/// The config repository at the head of its default branch.
pub struct Repo {
    pub default_branch: String,
    pub head: String,
    pub config: RepoConfig,
}

/// Reads the default branch, its head, and the YAML files there (one archive read, kept in
/// the returned [`Trees`] for the decisions), `.gitops-bot.yaml` among them.
pub async fn read_repo<'g>(
    gitlab: &'g GitlabClient,
    project: &'g str,
) -> Result<(Repo, Trees<'g>)> {
    let super::settings::DefaultHead {
        branch: default_branch,
        head,
        ..
    } = super::settings::default_head(gitlab, project).await?;
    let head = head.id;
    let mut trees = Trees::new(gitlab, project);
    let tree = trees.at(&head).await?;
    if tree.oversized.iter().any(|(p, _)| p == config::FILE_NAME) {
        anyhow::bail!(
            "{} is over the {}-byte limit at {}",
            config::FILE_NAME,
            crate::bump::MAX_FILE_SIZE,
            commit_sha::short(&head)
        );
    }
    let config = match tree.files.iter().find(|f| f.path == config::FILE_NAME) {
        Some(f) => RepoConfig::parse(&String::from_utf8_lossy(&f.bytes), config::FILE_NAME)?,
        None => RepoConfig::absent(format!("{project} at {default_branch}")),
    };
    let repo = Repo {
        default_branch,
        head,
        config,
    };
    Ok((repo, trees))
}

/// A target environment and the one it is promoted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub target: String,
    pub source: String,
    /// The target's `soak` (zero when it has none).
    pub soak: Duration,
}

impl Pair {
    fn new(config: &RepoConfig, target: &str, source: &str) -> Pair {
        Pair {
            target: target.to_string(),
            source: source.to_string(),
            soak: config
                .environments
                .get(target)
                .and_then(|e| e.soak)
                .unwrap_or(Duration::ZERO),
        }
    }
}

/// The pairs to look at: the environments named (each must exist and have `promote_from`),
/// else every one with `promote_from`.
pub fn pairs(named: &[String], config: &RepoConfig) -> Result<Vec<Pair>> {
    let usage = |e: String| anyhow::Error::new(UsageError(e));
    if named.is_empty() {
        let pairs: Vec<Pair> = config
            .environments
            .iter()
            .filter_map(|(name, env)| Some(Pair::new(config, name, env.promote_from.as_ref()?)))
            .collect();
        if pairs.is_empty() {
            return Err(usage(format!(
                "no environment of {} has promote_from: nothing to promote",
                config::FILE_NAME
            )));
        }
        return Ok(pairs);
    }
    let mut pairs: Vec<Pair> = Vec::new();
    for name in named {
        let env = config.environment(name).map_err(|e| usage(e.to_string()))?;
        let Some(source) = env.promote_from.clone() else {
            return Err(usage(format!(
                "environment {name} has no promote_from in {}: it is not promoted from another",
                config::FILE_NAME
            )));
        };
        if !pairs.iter().any(|p| &p.target == name) {
            pairs.push(Pair::new(config, name, &source));
        }
    }
    Ok(pairs)
}

/// The environments promoted from `source`.
pub fn followers(config: &RepoConfig, source: &str) -> Vec<Pair> {
    config
        .environments
        .iter()
        .filter(|(_, env)| env.promote_from.as_deref() == Some(source))
        .map(|(name, _)| Pair::new(config, name, source))
        .collect()
}

/// A promotion that may be proposed now.
#[derive(Debug, Clone)]
pub struct Ready {
    pub healthy: Healthy,
    pub soak_met_at: DateTime<Utc>,
    pub plan: Promotion,
    /// Files not read, in either environment.
    pub warnings: Vec<String>,
}

/// The holds of a target environment (its merged rollbacks, lifted ones marked so), or why
/// they could not be read: then nothing is proposed for it.
pub type Holds = Result<Vec<Hold>, String>;

/// What a promotion is judged against besides the source's deployment: the target's holds
/// and the time.
#[derive(Debug, Clone, Copy)]
pub struct Gates<'a> {
    pub holds: &'a Holds,
    pub now: DateTime<Utc>,
}

/// Reads the holds of `target` (see [`holds_of`]); an error becomes its one-line reason.
pub async fn read_holds(
    gitlab: &GitlabClient,
    project: &str,
    bot: &UserRef,
    config: &RepoConfig,
    target: &str,
) -> Holds {
    holds_of(gitlab, project, bot, config, target)
        .await
        .map_err(|e| format!("{e:#}"))
}

/// Whether `pair` may be promoted at `now`, and what the promotion is: the source's latest
/// deployment record, the source's files at its commit and at the head, the target's at the
/// head. All decisions are [`crate::promotion`]'s.
pub async fn decide(
    gitlab: &GitlabClient,
    project: &str,
    repo: &Repo,
    trees: &mut Trees<'_>,
    pair: &Pair,
    gates: Gates<'_>,
) -> Result<Result<Ready, Blocked>> {
    let Gates { holds, now } = gates;
    let source = pair.source.as_str();
    let records = gitlab
        .latest_deployments(project, source, RECORDS)
        .await
        .with_context(|| format!("cannot read the deployments of {source}"))?;
    let healthy = match promotion::latest_healthy(&records) {
        Ok(healthy) => healthy,
        Err(blocked) => return Ok(Err(blocked)),
    };
    let source_scope = scope_of(&repo.config, source)?;
    let target_scope = scope_of(&repo.config, &pair.target)?;
    let deployed = trees.images(&healthy.sha, &source_scope).await?;
    let current = trees.images(&repo.head, &source_scope).await?;
    let soak_met_at =
        match promotion::eligibility(healthy.clone(), &deployed, &current, pair.soak, now) {
            Ok(met) => met,
            Err(blocked) => return Ok(Err(blocked)),
        };
    let holds = match holds {
        Ok(holds) => holds,
        Err(error) => {
            let error = error.clone();
            return Ok(Err(Blocked::HoldsUnreadable { error }));
        }
    };
    let target_images = trees.images(&repo.head, &target_scope).await?;
    let mut plan = promotion::promotion(source, &deployed, &pair.target, &target_images);
    promotion::apply_holds(&mut plan, holds, &repo.config.command_prefix);
    let mut warnings = unread(source, &deployed);
    warnings.extend(unread(&pair.target, &target_images));
    Ok(Ok(Ready {
        healthy,
        soak_met_at,
        plan,
        warnings,
    }))
}

/// How [`open`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Open or update; nothing when the open merge request already proposes these versions.
    Write,
    /// Say what would be written; write nothing.
    DryRun,
    /// The `rebase` command: rewrite it on the current head even when it proposes these.
    Rebase,
}

/// What proposing one target's promotion came to.
#[derive(Debug)]
pub enum Outcome {
    /// Not due now (why in [`why_blocked`]).
    Blocked(Blocked),
    /// Due, and nothing to move: the target runs the source's proven versions. An open
    /// promotion merge request, moot now, was closed with a note saying why (not in a dry
    /// run or a rebase).
    UpToDate(Box<Ready>, Option<Box<MergeRequest>>),
    /// Due and proposed (or, in a dry run, would be).
    Proposed(Box<Ready>, Box<Proposed>),
}

/// Decides `pair` at `now` and proposes it when it is due and moves something: the one
/// path `promote`, `sync` and `rebase` share.
pub async fn promote(
    gitlab: &GitlabClient,
    project: &str,
    repo: &Repo,
    trees: &mut Trees<'_>,
    pair: &Pair,
    gates: Gates<'_>,
    how: How,
) -> Result<Outcome> {
    let ready = match decide(gitlab, project, repo, trees, pair, gates).await? {
        Err(blocked) => return Ok(Outcome::Blocked(blocked)),
        Ok(ready) => ready,
    };
    if ready.plan.is_empty() {
        let closed = match how {
            How::Write => retire(gitlab, project, repo, pair, &ready)
                .await?
                .map(Box::new),
            How::DryRun | How::Rebase => None,
        };
        return Ok(Outcome::UpToDate(Box::new(ready), closed));
    }
    let brought_by = brought_by(gitlab, project, &ready.healthy.sha).await;
    let proposed = open(
        gitlab,
        project,
        (repo, trees),
        pair,
        &ready,
        brought_by,
        how,
    )
    .await?;
    Ok(Outcome::Proposed(Box::new(ready), Box::new(proposed)))
}

/// What the post-sync step did for one environment promoted from the one just deployed.
#[derive(Debug)]
pub enum AfterSync {
    /// It has a soak: the scheduled `promote` proposes it once it has passed, at `due`.
    AfterSoak { pair: Pair, due: DateTime<Utc> },
    /// Decided and (when due and something moves) proposed, as `promote` would.
    Done { pair: Pair, outcome: Outcome },
    /// The source's latest deployment record is not of the commit just verified (recording
    /// it failed, or a newer deploy started): nothing proposed, `promote` decides later.
    OtherRecord { pair: Pair, sha: String },
}

/// Once `sync` has verified `source` healthy at `commit` (and marked its deployment record
/// a success), the same promotion as `promote` for each environment promoted from it
/// without a soak; environments with a soak are only reported as due later. Reads the
/// settings at the default branch's head: the promotion is proposed there. `brought` is
/// what `sync` read of the merge requests of `commit` (the evidence's "brought by" is
/// taken from it, not read again).
pub async fn after_healthy(
    gitlab: &GitlabClient,
    bot: &UserRef,
    project: &str,
    source: &str,
    commit: &str,
    brought: &[MergeRequest],
    now: DateTime<Utc>,
) -> Result<Vec<AfterSync>> {
    let (repo, mut trees) = read_repo(gitlab, project).await?;
    let pairs = followers(&repo.config, source);
    let mut out = Vec::new();
    for pair in pairs {
        if !pair.soak.is_zero() {
            let due = TimeDelta::from_std(pair.soak)
                .ok()
                .and_then(|soak| now.checked_add_signed(soak))
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            out.push(AfterSync::AfterSoak { pair, due });
            continue;
        }
        let holds = read_holds(gitlab, project, bot, &repo.config, &pair.target).await;
        let gates = Gates { holds: &holds, now };
        let ready = match decide(gitlab, project, &repo, &mut trees, &pair, gates).await? {
            Err(blocked) => {
                out.push(AfterSync::Done {
                    pair,
                    outcome: Outcome::Blocked(blocked),
                });
                continue;
            }
            Ok(ready) if ready.healthy.sha != commit => {
                let sha = ready.healthy.sha;
                out.push(AfterSync::OtherRecord { pair, sha });
                continue;
            }
            Ok(ready) => ready,
        };
        let outcome = if ready.plan.is_empty() {
            let closed = retire(gitlab, project, &repo, &pair, &ready).await?;
            Outcome::UpToDate(Box::new(ready), closed.map(Box::new))
        } else {
            let brought_by = latest_merged(brought.iter().cloned());
            let repo = (&repo, &mut trees);
            let proposed =
                open(gitlab, project, repo, &pair, &ready, brought_by, How::Write).await?;
            Outcome::Proposed(Box::new(ready), Box::new(proposed))
        };
        out.push(AfterSync::Done { pair, outcome });
    }
    Ok(out)
}

/// The job log's lines for `after`.
pub fn after_sync_lines(after: &[AfterSync]) -> Vec<String> {
    after
        .iter()
        .map(|a| match a {
            AfterSync::AfterSoak { pair, due } => format!(
                "promotion to {}: it has a soak of {}; the scheduled `promote` proposes it after {}",
                pair.target,
                human(pair.soak),
                time(*due)
            ),
            AfterSync::OtherRecord { pair, sha } => format!(
                "promotion to {}: the latest deployment record of {} is of commit {}, not this one; nothing proposed (`promote` decides later)",
                pair.target,
                pair.source,
                commit_sha::short(sha)
            ),
            AfterSync::Done { pair, outcome } => {
                let what = match outcome {
                    Outcome::Blocked(blocked) => {
                        format!("nothing proposed: {}", why_blocked(pair, blocked))
                    }
                    Outcome::UpToDate(_, Some(closed)) => format!(
                        "nothing left to promote: closed merge request !{}: {}",
                        closed.iid, closed.web_url
                    ),
                    Outcome::UpToDate(_, None) => format!(
                        "nothing to move: {} already runs these versions",
                        pair.target
                    ),
                    Outcome::Proposed(ready, proposed) => proposed_line(ready, proposed),
                };
                format!("promotion to {}: {what}", pair.target)
            }
        })
        .collect()
}

fn proposed_line(ready: &Ready, proposed: &Proposed) -> String {
    let images = crate::plural::count(ready.plan.images.len(), "image");
    let Proposed::Done(p) = proposed else {
        return format!("{images} not proposed: the bump was rejected");
    };
    let did = match p.action {
        Action::Created => "created",
        Action::Updated => "updated",
        Action::Reopened => "reopened",
        Action::Current => "already proposed in",
        Action::ClosedNotReopened => "closed by a person, not reopened:",
        Action::AlreadyDeployed => {
            return format!("{images}: the default branch already has these versions");
        }
        Action::DryRun => "would write",
    };
    match &p.merge_request {
        Some(m) => format!("{images}: {did} merge request !{}: {}", m.iid, m.web_url),
        None => format!("{images}: {did} the merge request from {}", p.branch),
    }
}

/// Proposes `ready` (not empty) as `pair.target`'s promotion merge request on its own
/// branch: every image in one commit, the evidence after the change table (`brought_by`:
/// the merged merge request that brought the deployed commit, if known). The bump plans on
/// the head's files as [`decide`] read them in `trees`, and takes the users of `brought_by`
/// as known.
pub async fn open(
    gitlab: &GitlabClient,
    project: &str,
    (repo, trees): (&Repo, &mut Trees<'_>),
    pair: &Pair,
    ready: &Ready,
    brought_by: Option<MergeRequest>,
    how: How,
) -> Result<Proposed> {
    let images = ready
        .plan
        .images
        .iter()
        .map(|i| {
            ImageRef::parse(&crate::image_ref::format_ref(&i.name, &i.to))
                .with_context(|| format!("cannot write {}:{} as an image reference", i.name, i.to))
        })
        .collect::<Result<Vec<_>>>()?;
    let view = evidence(pair, ready, brought_by.as_ref());
    let known_users = brought_by
        .iter()
        .flat_map(|m| m.author.iter().chain(&m.assignees))
        .cloned()
        .collect();
    let read_at_base = Some(trees.at(&repo.head).await?);
    let section = Messages::new(None)?.promotion_evidence(&view)?;
    let spec = BumpSpec {
        images,
        environment: Some(pair.target.clone()),
        target_branch: Some(repo.default_branch.clone()),
        base: Some(repo.head.clone()),
        branch: Some(promotion_branch(&pair.target)),
        section: Some(section),
        promotion: Some(PromotionRecord {
            from: pair.source.clone(),
            deployment: ready.healthy.id,
            sha: ready.healthy.sha.clone(),
        }),
        dry_run: how == How::DryRun,
        // A rebase rewrites the merge request on the current head, as for any bump.
        refresh: how == How::Rebase,
        reopen: how == How::Rebase,
        read_at_base,
        known_users,
        ..BumpSpec::default()
    };
    propose(gitlab, project, &spec).await
}

/// Closes the target's open promotion merge request, with a note, once the target runs the
/// versions its source runs healthy by another way (a bump, a hand edit, a merge of an older
/// promotion): merging it would change nothing, and leaving it open would invite a deploy
/// that proves nothing. Only a merge request the bot recorded as a promotion is touched.
async fn retire(
    gitlab: &GitlabClient,
    project: &str,
    repo: &Repo,
    pair: &Pair,
    ready: &Ready,
) -> Result<Option<MergeRequest>> {
    let branch = promotion_branch(&pair.target);
    let open = gitlab
        .merge_requests(project, &branch, &repo.default_branch)
        .await?
        .into_iter()
        .find(|m| {
            m.state == "opened"
                && m.description
                    .as_deref()
                    .and_then(marker::bump)
                    .is_some_and(|s| s.promotion.is_some())
        });
    let Some(mr) = open else {
        return Ok(None);
    };
    let note = Messages::new(None)?.promotion_closed(&evidence(pair, ready, None))?;
    gitlab.create_note(project, mr.iid, &note).await?;
    Ok(Some(gitlab.close_merge_request(project, mr.iid).await?))
}

/// The merged merge request that brought `sha` to the default branch, if the API says. Only
/// for the evidence: a failure to read it leaves it out rather than stopping the promotion.
async fn brought_by(gitlab: &GitlabClient, project: &str, sha: &str) -> Option<MergeRequest> {
    match gitlab.merge_requests_for_commit(project, sha).await {
        Ok(mrs) => latest_merged(mrs),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the merge request of the promoted commit; the evidence leaves it out");
            None
        }
    }
}

/// The newest merged one of `mrs`: the one that brought their commit.
fn latest_merged(mrs: impl IntoIterator<Item = MergeRequest>) -> Option<MergeRequest> {
    mrs.into_iter()
        .filter(|m| m.state == "merged")
        .max_by_key(|m| m.iid)
}

/// The evidence section's view: pure.
pub fn evidence(
    pair: &Pair,
    ready: &Ready,
    brought_by: Option<&MergeRequest>,
) -> PromotionEvidenceView {
    let recorded = brought_by
        .and_then(|m| m.description.as_deref())
        .and_then(marker::bump);
    let source_of = |name: &str, to: &Version| -> Option<SourceInfo> {
        let state = recorded.as_ref()?;
        let wanted = ImageRef::parse(name).ok()?;
        state
            .recorded_images()
            .iter()
            .any(|r| {
                r.version() == *to
                    && ImageRef::parse(&r.image).is_ok_and(|i| i.name.same_repository(&wanted.name))
            })
            .then(|| hint(&state.source))
    };
    PromotionEvidenceView {
        source: pair.source.clone(),
        target: pair.target.clone(),
        deployment: ready.healthy.id,
        sha: ready.healthy.sha.clone(),
        merge_request: brought_by.map(|m| MergeRequestLink {
            iid: m.iid,
            url: m.web_url.clone(),
            title: m.title.clone(),
        }),
        healthy_since: time(ready.healthy.since),
        soak: human(pair.soak),
        soak_met_at: time(ready.soak_met_at),
        images: ready
            .plan
            .images
            .iter()
            .map(|i| PromotedImageRow {
                name: i.name.clone(),
                from: i.from.iter().map(Version::to_string).collect(),
                to: i.to.to_string(),
                source: source_of(&i.name, &i.to),
            })
            .collect(),
        held: ready
            .plan
            .skipped
            .iter()
            .filter_map(|s| match &s.reason {
                Skip::Held {
                    version,
                    rollback_iid,
                    rollback_url,
                    prefix,
                    ..
                } => Some(HeldImageRow {
                    name: s.name.clone(),
                    version: version.to_string(),
                    rollback_iid: *rollback_iid,
                    rollback_url: rollback_url.clone(),
                    unhold: format!("{prefix} unhold"),
                }),
                _ => None,
            })
            .collect(),
    }
}

/// What of another description's record may be shown again: a hex commit id and plain
/// http(s) links, nothing that could end a link or start a line (a quick action would run
/// as the bot).
fn hint(source: &SourceInfo) -> SourceInfo {
    let url = |u: &Option<String>| {
        u.clone().filter(|u| {
            (u.starts_with("https://") || u.starts_with("http://"))
                && !u
                    .chars()
                    .any(|c| c.is_whitespace() || "()<>[]`\"'".contains(c))
        })
    };
    SourceInfo {
        commit_sha: source
            .commit_sha
            .clone()
            .filter(|c| !c.is_empty() && c.len() <= 64 && c.chars().all(|c| c.is_ascii_hexdigit())),
        commit_url: url(&source.commit_url),
        pipeline_url: url(&source.pipeline_url),
        ..SourceInfo::default()
    }
}

fn scope_of(config: &RepoConfig, environment: &str) -> Result<Vec<String>> {
    Ok(config
        .environment_scope(environment)
        .map_err(|e| UsageError(e.to_string()))?)
}

/// The repository at each commit read, each commit read once (one archive request, of the
/// files a bump reads too, so the proposal reuses the head's); each environment's files are
/// picked from them by its paths.
pub struct Trees<'g> {
    gitlab: &'g GitlabClient,
    project: &'g str,
    read: BTreeMap<String, Arc<Archive>>,
}

impl<'g> Trees<'g> {
    pub fn new(gitlab: &'g GitlabClient, project: &'g str) -> Self {
        Trees {
            gitlab,
            project,
            read: BTreeMap::new(),
        }
    }

    /// The images under `scope` at `sha`; a file too large to read is listed as unread.
    async fn images(&mut self, sha: &str, scope: &[String]) -> Result<EnvironmentImages> {
        let tree = self.at(sha).await?;
        let files = tree
            .files
            .iter()
            .filter(|f| is_yaml_path(&f.path))
            .map(|f| (f.path.as_str(), f.bytes.as_slice()));
        let mut images = images_of(files, scope);
        for (path, size) in &tree.oversized {
            if is_yaml_path(path) && in_scope(path, scope) {
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

    /// The repository at `sha` (read once).
    async fn at(&mut self, sha: &str) -> Result<Arc<Archive>> {
        if let Some(read) = self.read.get(sha) {
            return Ok(Arc::clone(read));
        }
        let archive = self
            .gitlab
            .archive(
                self.project,
                sha,
                Limits {
                    max_file: crate::bump::MAX_FILE_SIZE,
                    max_total: 1024 * 1024 * 1024,
                },
                propose::wanted,
                |_, _| true,
            )
            .await
            .with_context(|| format!("cannot read the repository at {}", commit_sha::short(sha)))?;
        let archive = Arc::new(archive);
        self.read.insert(sha.to_string(), Arc::clone(&archive));
        Ok(archive)
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

/// Why nothing is proposed for `pair`, in one line.
pub fn why_blocked(pair: &Pair, blocked: &Blocked) -> String {
    let source = &pair.source;
    match blocked {
        Blocked::HoldsUnreadable { error } => format!(
            "the holds of {} are unknown, so nothing is proposed: {error}",
            pair.target
        ),
        Blocked::NoDeployment => {
            format!("{source} has no GitLab deployment record: nothing is proven yet")
        }
        Blocked::NotHealthy { id, sha, status } => format!(
            "the latest deployment of {source} ({id}, commit {}) is {status}, not success",
            commit_sha::short(sha)
        ),
        Blocked::MovedOn { healthy, moved } => format!(
            "{source} has moved on since its healthy deployment {} (commit {}): {}",
            healthy.id,
            commit_sha::short(&healthy.sha),
            moved
                .iter()
                .map(describe_move)
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Blocked::Soaking {
            healthy,
            soak,
            until,
        } => format!(
            "soak of {} not met: {source} healthy since {} (deployment {}, commit {}); eligible at {}",
            human(*soak),
            time(healthy.since),
            healthy.id,
            commit_sha::short(&healthy.sha),
            time(*until)
        ),
    }
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

/// RFC 3339, to the second.
pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `30m`, `1h30m`, `45s`: as written in `.gitops-bot.yaml`.
pub fn human(d: Duration) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_links_and_commit_ids_are_copied_from_another_description() {
        let source = SourceInfo {
            project_name: Some("/merge".into()),
            commit_sha: Some("0123abcd".into()),
            commit_url: Some("https://gitlab.example.com/a/-/commit/0123abcd".into()),
            pipeline_url: Some("https://x)\n/merge".into()),
            ..SourceInfo::default()
        };
        let copied = hint(&source);
        assert_eq!(copied.commit_sha.as_deref(), Some("0123abcd"));
        assert!(copied.commit_url.is_some());
        assert_eq!(copied.pipeline_url, None);
        assert_eq!(copied.project_name, None);
        let bad = SourceInfo {
            commit_sha: Some("abc\n/merge".into()),
            ..SourceInfo::default()
        };
        assert_eq!(hint(&bad).commit_sha, None);
    }

    #[test]
    fn soak_reads_as_written_in_the_settings() {
        assert_eq!(human(Duration::from_secs(30 * 60)), "30m");
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::ZERO), "0s");
    }
}
