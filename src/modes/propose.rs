//! Proposing a bump on GitLab: one commit on the bot branch and one merge request, converged.
//!
//! Reads the target branch head, the repository archive at that commit, computes the edit
//! with the same engine as `--local`, then converges: one commit on the bot branch (built on
//! the commit read, so it can never undo someone else's change) and one merge request for
//! it. Every step is safe to re-run: an unchanged version writes nothing, a new version
//! resets the branch and rewrites the same merge request. Used by `bump --project` and by
//! the `rebase` and `rollback` comment commands; it prints nothing.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use crate::bump::merge_request::{
    self, Action, BASE_TRAILER, Request, RollbackOf, rollback_branch,
};
use crate::bump::revert::{FileChange, ImageChange, image_at, image_change, is_bump_of};
use crate::bump::{
    BumpPlan, Examined, MAX_FILE_SIZE, PlanError, Warning, examine, in_scope, is_yaml_path, needle,
};
use crate::config::{self, RepoConfig};
use crate::forms::Target;
use crate::gitlab::{Commit, GitlabClient, GitlabError, Limits, MergeRequest, MergeRequestFields};
use crate::image_ref::ImageRef;
use crate::marker::{self, BumpState};
use crate::messages::{MergeRequestLink, Messages, Notices, SourceInfo, SupersededView};
use crate::modes::resolve_scope;
use crate::policy;

/// Repository templates live under this directory of the config repo.
const REPO_TEMPLATE_DIR: &str = ".gitops-bot/";

/// What to propose, and how.
#[derive(Debug, Clone, Default)]
pub struct BumpSpec {
    pub image: Option<ImageRef>,
    pub setter: Option<String>,
    pub paths: Vec<PathBuf>,
    pub environment: Option<String>,
    /// Default: the project's default branch.
    pub target_branch: Option<String>,
    /// Usernames; empty: the `operators` / `reviewers` / `labels` of `.gitops-bot.yaml`.
    pub assignees: Vec<String>,
    pub reviewers: Vec<String>,
    pub labels: Vec<String>,
    /// A description template's text replacing the built-in one (and the repository's).
    pub template: Option<String>,
    pub reopen: bool,
    pub dry_run: bool,
    pub strict: bool,
    /// Rewrite the proposal even when the open merge request already has this version.
    pub refresh: bool,
    pub source: SourceInfo,
    /// Set for a rollback: it gets its own branch, title and description.
    pub rollback: Option<RollbackOf>,
}

/// The outcome of [`propose`].
#[derive(Debug)]
pub enum Proposed {
    Done(Box<Proposal>),
    /// The plan cannot be proposed (image not found, only uneditable references, `strict`).
    Rejected {
        plan: BumpPlan,
        error: PlanError,
    },
}

#[derive(Debug)]
pub struct Proposal {
    pub action: Action,
    pub merge_request: Option<MergeRequest>,
    pub plan: BumpPlan,
    pub branch: String,
    /// With `dry_run`: the merge request that would be written.
    pub would_write: Option<WouldWrite>,
}

/// The merge request a dry run would write, with the usernames behind its user ids.
#[derive(Debug)]
pub struct WouldWrite {
    pub fields: MergeRequestFields,
    pub assignees: Vec<String>,
    pub reviewers: Vec<String>,
}

/// Re-reads when the target moved while the bot worked, at most this many times in all.
const MAX_READS: usize = 3;

/// The repository at one commit, as a bump sees it.
struct Snapshot {
    plan: BumpPlan,
    config: RepoConfig,
    scope: Vec<String>,
    /// The description template from the repository, if `.gitops-bot.yaml` names one.
    repo_template: Option<String>,
}

/// What the first read decided about existing merge requests.
enum Existing {
    None,
    /// An open merge request for an older version (with the version it proposes).
    Open(MergeRequest, Option<String>),
    /// The closed merge request for this version, to reopen (`--reopen`).
    Closed(MergeRequest),
}

/// Proposes `spec` on `project`: see the module documentation.
pub async fn propose(gitlab: &GitlabClient, project: &str, spec: &BumpSpec) -> Result<Proposed> {
    let Some(image_ref) = spec.image.clone() else {
        bail!("no image to propose");
    };
    let target = Target {
        image: image_ref.clone(),
        setter: spec.setter.clone(),
    };
    let image = image_ref.to_string();

    let target_branch = match &spec.target_branch {
        Some(b) => b.clone(),
        None => gitlab
            .project(project)
            .await?
            .default_branch
            .with_context(|| format!("project {project} has no default branch (is the repository empty?); pass --target-branch"))?,
    };
    let mut base = gitlab
        .branch_head(project, &target_branch)
        .await?
        .with_context(|| format!("branch {target_branch:?} does not exist in project {project}"))?
        .id;

    let mut existing = Existing::None;
    let mut notices = Notices::default();
    let mut people: Option<(Vec<u64>, Vec<u64>)> = None;
    // The merge request of an earlier pass, and what that pass did with it.
    let mut current: Option<MergeRequest> = None;
    let mut first_action: Option<Action> = None;
    for read in 1..=MAX_READS {
        let snapshot = read_snapshot(gitlab, project, &base, spec, &target).await?;
        if let Err(error) = snapshot.plan.check(&image, spec.strict) {
            return Ok(Proposed::Rejected {
                plan: snapshot.plan,
                error,
            });
        }
        let plan = &snapshot.plan;
        let request = Request {
            image: image_ref.clone(),
            setter: spec.setter.clone(),
            rollback: spec.rollback.clone(),
            environment: spec.environment.clone(),
            paths: snapshot.scope.clone(),
            target_branch: target_branch.clone(),
            base_sha: base.clone(),
            source: spec.source.clone(),
        };
        let branch = request.branch();
        let done = |action: Action, mr: Option<&MergeRequest>, would_write: Option<WouldWrite>| {
            Ok(Proposed::Done(Box::new(Proposal {
                action,
                merge_request: mr.cloned(),
                plan: snapshot.plan.clone(),
                branch: branch.clone(),
                would_write,
            })))
        };
        if plan.changes().next().is_none() {
            return done(Action::AlreadyDeployed, current.as_ref(), None);
        }

        if read == 1 {
            let mrs = gitlab
                .merge_requests(project, &branch, &target_branch)
                .await?;
            let proposed = |mr: &MergeRequest| {
                mr.description
                    .as_deref()
                    .and_then(marker::find::<BumpState>)
                    .map(|s| s.version())
            };
            if let Some(open) = mrs.iter().find(|m| m.state == "opened") {
                let version = proposed(open);
                // The description is only a hint: the branch must really hold this change.
                if version.as_deref() == Some(request.version().as_str())
                    && !spec.refresh
                    && matches!(
                        verify_head(gitlab, project, open, &target).await?,
                        Head::Ours(_)
                    )
                {
                    return done(Action::Current, Some(open), None);
                }
                existing = Existing::Open(open.clone(), version);
            } else if let Some(latest) = mrs.first().filter(|m| m.state == "closed")
                && proposed(latest).as_deref() == Some(request.version().as_str())
            {
                if !spec.reopen {
                    return done(Action::ClosedNotReopened, Some(latest), None);
                }
                existing = Existing::Closed(latest.clone());
            }
            notices = read_notices(gitlab, project, &request).await?;
        }

        let template = spec
            .template
            .clone()
            .or_else(|| snapshot.repo_template.clone());
        let messages = Messages::new(template)?;
        let (assignee_ids, reviewer_ids) = match &people {
            Some(p) => p.clone(),
            None => {
                let config = &snapshot.config;
                let p = (
                    user_ids(
                        gitlab,
                        pick(&spec.assignees, &config.operators),
                        "--assignee / operators",
                    )
                    .await?,
                    user_ids(
                        gitlab,
                        pick(&spec.reviewers, &config.reviewers),
                        "--reviewer / reviewers",
                    )
                    .await?,
                );
                people = Some(p.clone());
                p
            }
        };
        let config = &snapshot.config;
        let title = merge_request::title(plan, &request);
        let view = merge_request::view(
            plan,
            &request,
            policy::deploy_help(config, &config.command_prefix),
            notices.clone(),
        );
        let fields = MergeRequestFields {
            // A version that failed here before waits for a person to mark it ready.
            title: if notices.failed_before.is_some() {
                format!("Draft: {title}")
            } else {
                title
            },
            description: messages.merge_request(&view)?,
            assignee_ids,
            reviewer_ids,
            labels: pick(&spec.labels, &snapshot.config.labels).to_vec(),
        };

        if spec.dry_run {
            let would_write = WouldWrite {
                fields,
                assignees: pick(&spec.assignees, &snapshot.config.operators).to_vec(),
                reviewers: pick(&spec.reviewers, &snapshot.config.reviewers).to_vec(),
            };
            return done(Action::DryRun, None, Some(would_write));
        }

        let files: Vec<(String, String)> = plan
            .changed_files()
            .map(|(f, edited)| (f.path.clone(), edited.to_string()))
            .collect();
        let message = merge_request::commit_message(plan, &request);
        commit(gitlab, project, &branch, &base, &message, &files).await?;

        let (action, mr) = match (&current, &existing) {
            (Some(mr), _) => (
                Action::Updated,
                gitlab
                    .update_merge_request(project, mr.iid, &fields, false)
                    .await?,
            ),
            (None, Existing::Open(mr, version)) => {
                let updated = gitlab
                    .update_merge_request(project, mr.iid, &fields, false)
                    .await?;
                let previous = match version {
                    Some(v) => vec![v.clone()],
                    None => merge_request::previous_versions(plan),
                };
                let note = messages.superseded(&SupersededView {
                    previous,
                    version: request.version(),
                    target_branch: target_branch.clone(),
                    base_sha: base.clone(),
                })?;
                gitlab.create_note(project, mr.iid, &note).await?;
                (Action::Updated, updated)
            }
            (None, Existing::Closed(mr)) => (
                Action::Reopened,
                gitlab
                    .update_merge_request(project, mr.iid, &fields, true)
                    .await?,
            ),
            (None, Existing::None) => {
                create_merge_request(gitlab, project, &branch, &target_branch, &fields).await?
            }
        };

        // GitLab reports the target head it diffed against: if someone pushed to the target
        // meanwhile, read it again so the proposal and its description match the new head.
        let action = *first_action.get_or_insert(action);
        match mr.target_head() {
            Some(moved) if moved != base && read < MAX_READS => {
                tracing::info!(from = %base, to = %moved, "the target branch moved during the bump; reading it again");
                base = moved.to_string();
                current = Some(mr);
            }
            _ => return done(action, Some(&mr), None),
        }
    }
    unreachable!("the last read always returns")
}

/// What else the reader of `request`'s merge request must know: an open rollback of the same
/// image and destination (for a forward bump), and an earlier failed deploy of this version
/// there (remembered by the `deploy-failed` label the sync report puts on merge requests).
async fn read_notices(gitlab: &GitlabClient, project: &str, request: &Request) -> Result<Notices> {
    let mut notices = Notices::default();
    if request.rollback.is_none() {
        let branch = rollback_branch(
            &request.image,
            &request.target_branch,
            request.environment.as_deref(),
        );
        notices.open_rollback = gitlab
            .merge_requests(project, &branch, &request.target_branch)
            .await?
            .into_iter()
            .find(|m| m.state == "opened")
            .map(|m| link(&m));
    }
    let label = match &request.environment {
        Some(env) => format!("deploy-failed::{env}"),
        None => "deploy-failed".to_string(),
    };
    let failed = gitlab
        .merge_requests_labelled(
            project,
            &label,
            &request.target_branch,
            gitlab::api::projects::merge_requests::MergeRequestState::Merged,
        )
        .await?;
    notices.failed_before = failed
        .iter()
        .filter(|m| {
            m.description
                .as_deref()
                .and_then(marker::find::<BumpState>)
                .is_some_and(|s| {
                    s.version() == request.version()
                        && ImageRef::parse(&s.image)
                            .is_ok_and(|i| i.name.same_repository(&request.image.name))
                })
        })
        .max_by_key(|m| m.iid)
        .map(link);
    Ok(notices)
}

fn link(mr: &MergeRequest) -> MergeRequestLink {
    MergeRequestLink {
        iid: mr.iid,
        url: mr.web_url.clone(),
        title: mr.title.clone(),
    }
}

/// Whether a merge request's branch holds exactly the bot's change.
#[derive(Debug, Clone)]
pub enum Head {
    /// One commit (this one) whose every changed file is what bumping the target in the
    /// file before writes.
    Ours(Commit),
    /// Commits the bot did not make (oldest first), or the bot's commit changed.
    Foreign(Vec<Commit>),
}

/// More changed files than this are not verified (the bump is refused as unverifiable).
const MAX_VERIFIED_FILES: usize = 500;

/// Reads the merge request's commits from GitLab and checks them against `target`: the
/// description is a hint, the branch is the truth.
pub async fn verify_head(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
    target: &Target,
) -> Result<Head> {
    let mut commits = gitlab.merge_request_commits(project, mr.iid).await?;
    commits.reverse();
    let (Some(head), Some(first)) = (mr.sha.as_deref(), commits.first()) else {
        return Ok(Head::Foreign(commits));
    };
    // The bot's commit is the first one when it verifies; everything else is foreign.
    let first_is_ours = is_bump_commit(gitlab, project, first, target).await?;
    if first_is_ours && commits.len() == 1 && first.id == head {
        return Ok(Head::Ours(first.clone()));
    }
    Ok(Head::Foreign(
        commits
            .into_iter()
            .skip(usize::from(first_is_ours))
            .collect(),
    ))
}

/// Whether `commit` changes, relative to its one parent, only files it bumps `target` in,
/// byte for byte as the bot writes them.
async fn is_bump_commit(
    gitlab: &GitlabClient,
    project: &str,
    commit: &Commit,
    target: &Target,
) -> Result<bool> {
    let [parent] = commit.parent_ids.as_slice() else {
        return Ok(false);
    };
    let changed = gitlab.changed_files(project, parent, &commit.id).await?;
    if changed.is_empty() || changed.len() > MAX_VERIFIED_FILES {
        return Ok(false);
    }
    for c in &changed {
        if c.new_file || c.deleted_file || c.renamed_file || c.old_path != c.new_path {
            return Ok(false);
        }
        let before = gitlab.file_text(project, &c.old_path, parent).await?;
        let after = gitlab.file_text(project, &c.new_path, &commit.id).await?;
        let (Some(before), Some(after)) = (before, after) else {
            return Ok(false);
        };
        if !is_bump_of(&before, &after, target) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads the archive at `sha` and plans the bump on it.
async fn read_snapshot(
    gitlab: &GitlabClient,
    project: &str,
    sha: &str,
    spec: &BumpSpec,
    target: &Target,
) -> Result<Snapshot> {
    let finder = needle(target);
    // Only files that could reference the image (or that must be warned about) are kept.
    let keep = |path: &str, bytes: &[u8]| {
        !is_yaml_path(path)
            || path == config::FILE_NAME
            || std::str::from_utf8(bytes).is_err()
            || finder.find(bytes).is_some()
    };
    let archive = gitlab
        .archive(
            project,
            sha,
            Limits {
                max_file: MAX_FILE_SIZE,
                max_total: 4 * 1024 * 1024 * 1024,
            },
            |path| {
                is_yaml_path(path)
                    || path == config::FILE_NAME
                    || path.starts_with(REPO_TEMPLATE_DIR)
            },
            keep,
        )
        .await?;
    let file = |path: &str| archive.files.iter().find(|f| f.path == path);
    let config = match file(config::FILE_NAME) {
        Some(f) => RepoConfig::parse(&String::from_utf8_lossy(&f.bytes), config::FILE_NAME)?,
        None => RepoConfig::absent(format!("{project} at {}", sha.get(..12).unwrap_or(sha))),
    };
    let scope = resolve_scope(&spec.paths, spec.environment.as_deref(), &config)?;
    let repo_template = match &config.templates.merge_request {
        Some(path) => {
            let f = file(path.trim_start_matches("./")).with_context(|| {
                format!("{}: templates.merge_request {path:?} is not in the repository (templates must live under {REPO_TEMPLATE_DIR})", config::FILE_NAME)
            })?;
            Some(String::from_utf8_lossy(&f.bytes).into_owned())
        }
        None => None,
    };

    let yaml: Vec<_> = archive
        .files
        .iter()
        .filter(|f| {
            is_yaml_path(&f.path) && f.path != config::FILE_NAME && in_scope(&f.path, &scope)
        })
        .collect();
    let examined: Vec<Examined> = yaml
        .par_iter()
        .map(|f| examine(&f.path, &f.bytes, target, &finder))
        .collect();
    let dropped = archive
        .dropped
        .iter()
        .filter(|p| in_scope(p, &scope))
        .count();
    let warnings = archive
        .oversized
        .iter()
        .map(|(path, size)| Warning::oversized(path, *size))
        .chain(
            archive
                .links
                .iter()
                .map(|path| Warning::file(path, "symbolic link; not followed")),
        )
        .collect();
    let plan = BumpPlan::gather(yaml.len() + dropped, examined, warnings);
    Ok(Snapshot {
        plan,
        config,
        scope,
        repo_template,
    })
}

/// Flags win over the file.
fn pick<'a>(flags: &'a [String], config: &'a [String]) -> &'a [String] {
    if flags.is_empty() { config } else { flags }
}

async fn user_ids(gitlab: &GitlabClient, names: &[String], origin: &str) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    for name in names {
        let name = name.trim_start_matches('@');
        match gitlab.user_id(name).await? {
            Some(id) => ids.push(id),
            None => bail!("unknown GitLab user {name:?} (from {origin})"),
        }
    }
    Ok(ids)
}

/// One commit on the bot branch. If the answer was lost, the branch is checked before the
/// commit is sent again, so a retry never stacks a second commit.
async fn commit(
    gitlab: &GitlabClient,
    project: &str,
    branch: &str,
    base: &str,
    message: &str,
    files: &[(String, String)],
) -> Result<Commit> {
    match gitlab
        .commit_files(project, branch, base, message, files)
        .await
    {
        Ok(c) => Ok::<Commit, GitlabError>(c),
        Err(GitlabError::Uncertain { .. }) => {
            if let Some(tip) = gitlab.branch_head(project, branch).await?
                && tip.parent_ids.first().map(String::as_str) == Some(base)
                && tip.message.trim_end() == message.trim_end()
            {
                tracing::info!(branch, "the lost commit had been made");
                return Ok(tip);
            }
            tracing::info!(branch, "the lost commit was not made; sending it again");
            Ok(gitlab
                .commit_files(project, branch, base, message, files)
                .await?)
        }
        Err(e) => Err(e),
    }
    .with_context(|| format!("cannot commit the change on branch {branch} ({BASE_TRAILER} {base})"))
}

/// Opens the merge request; if one appeared meanwhile (another run, or a lost answer), that
/// one is brought up to date instead.
async fn create_merge_request(
    gitlab: &GitlabClient,
    project: &str,
    branch: &str,
    target_branch: &str,
    fields: &MergeRequestFields,
) -> Result<(Action, MergeRequest)> {
    match gitlab
        .create_merge_request(project, branch, target_branch, fields)
        .await
    {
        Ok(mr) => Ok((Action::Created, mr)),
        Err(e @ (GitlabError::Uncertain { .. } | GitlabError::Status { .. }))
            if matches!(e, GitlabError::Uncertain { .. })
                || e.status() == Some(reqwest::StatusCode::CONFLICT) =>
        {
            let open = gitlab
                .merge_requests(project, branch, target_branch)
                .await?
                .into_iter()
                .find(|m| m.state == "opened");
            match open {
                Some(mr) if mr.description.as_deref() == Some(fields.description.as_str()) => {
                    Ok((Action::Created, mr))
                }
                Some(mr) => Ok((
                    Action::Updated,
                    gitlab
                        .update_merge_request(project, mr.iid, fields, false)
                        .await?,
                )),
                None => Ok((
                    Action::Created,
                    gitlab
                        .create_merge_request(project, branch, target_branch, fields)
                        .await?,
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The commits a merged merge request went from and to on its target branch: its merge (or
/// squash) commit and that commit's first parent; for a fast-forward, the merge base and its
/// head. Read from the API, never from the description.
async fn merged_range(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
) -> Result<Result<(String, String), String>> {
    let merged = mr
        .merge_commit_sha
        .as_deref()
        .or(mr.squash_commit_sha.as_deref());
    if let Some(merged) = merged {
        let commit = gitlab.commit(project, merged).await?;
        return Ok(match commit.parent_ids.first() {
            Some(parent) => Ok((parent.clone(), commit.id)),
            None => Err(format!("the merge commit `{merged}` has no parent")),
        });
    }
    let base = mr.diff_refs.as_ref().and_then(|d| d.base_sha.clone());
    Ok(match (base, mr.sha.clone()) {
        (Some(base), Some(head)) if mr.state == "merged" => Ok((base, head)),
        _ => Err(format!(
            "GitLab does not say which commit merged !{}",
            mr.iid
        )),
    })
}

/// The files merging `mr` changed, from Git. `Ok(Err(why))` when GitLab does not say which
/// commit merged it.
pub async fn merged_files(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
) -> Result<Result<Vec<String>, String>> {
    let (before, after) = match merged_range(gitlab, project, mr).await? {
        Ok(range) => range,
        Err(why) => return Ok(Err(why)),
    };
    Ok(Ok(gitlab
        .changed_files(project, &before, &after)
        .await?
        .into_iter()
        .map(|c| c.new_path)
        .collect()))
}

/// What merging `mr` did to `image`'s references, read from Git, with the commit after it.
/// `Ok(Err(why))` when that is not a plain version change of the image.
pub async fn merged_change(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
    image: &ImageRef,
) -> Result<Result<(ImageChange, String), String>> {
    let (before, after) = match merged_range(gitlab, project, mr).await? {
        Ok(range) => range,
        Err(why) => return Ok(Err(why)),
    };
    let mut files = Vec::new();
    for c in gitlab.changed_files(project, &before, &after).await? {
        if !is_yaml_path(&c.new_path) || c.new_file || c.deleted_file || c.renamed_file {
            continue;
        }
        let old = gitlab.file_text(project, &c.old_path, &before).await?;
        let new = gitlab.file_text(project, &c.new_path, &after).await?;
        if let (Some(before), Some(after)) = (old, new) {
            files.push(FileChange {
                path: c.new_path,
                before,
                after,
            });
        }
    }
    Ok(image_change(&files, image)
        .map(|change| (change, after))
        .map_err(|e| e.to_string()))
}

/// Why a rollback is proposed.
#[derive(Debug, Clone)]
pub enum RollbackWhy {
    /// The deploy failed: the reason and the result comment's address, when known.
    Failed {
        reason: Option<String>,
        result_url: Option<String>,
    },
    /// A person asked for it.
    Requested { by: String },
}

/// The rollback of the merged bump `mr`: its files put back to the one version they had
/// before it merged, on its target branch, in the environment whose paths hold them. All of
/// it comes from Git and the API; `image` (from the description) only names what to look
/// for, and must match what the merge changed. `Ok(Err(why))` when there is no single
/// version to go back to.
pub async fn rollback_spec(
    gitlab: &GitlabClient,
    project: &str,
    mr: &MergeRequest,
    image: &ImageRef,
    setter: Option<String>,
    why: RollbackWhy,
) -> Result<Result<BumpSpec, String>> {
    let (change, after) = match merged_change(gitlab, project, mr, image).await? {
        Ok(c) => c,
        Err(why) => {
            return Ok(Err(format!(
                "cannot roll back !{} from Git: {why}. Roll back with `gitops-bot bump --image {}:<version>` instead.",
                mr.iid,
                image.name.as_str()
            )));
        }
    };
    let [previous] = change.before.as_slice() else {
        return Ok(Err(format!(
            "the references had {} different versions before !{} ({}); roll back with `gitops-bot bump --image {}:<version>` for the version you want.",
            change.before.len(),
            mr.iid,
            change
                .before
                .iter()
                .map(|p| crate::commands::code_span(p))
                .collect::<Vec<_>>()
                .join(", "),
            image.name.as_str()
        )));
    };
    let config = match gitlab.file_text(project, config::FILE_NAME, &after).await? {
        Some(text) => RepoConfig::parse(&text, config::FILE_NAME)?,
        None => RepoConfig::absent(format!("{project} at {}", &after[..after.len().min(12)])),
    };
    let environment = config.environment_of(&change.files).map(str::to_string);
    let (failed, reason, result_url, requested_by) = match why {
        RollbackWhy::Failed { reason, result_url } => (true, reason, result_url, None),
        RollbackWhy::Requested { by } => (false, None, None, Some(by)),
    };
    Ok(Ok(BumpSpec {
        image: Some(image_at(image.name.as_str(), previous)?),
        setter,
        paths: change.files.iter().map(PathBuf::from).collect(),
        environment,
        target_branch: Some(mr.target_branch.clone()),
        assignees: mr.assignees.iter().map(|a| a.username.clone()).collect(),
        reopen: true,
        rollback: Some(RollbackOf {
            iid: mr.iid,
            url: mr.web_url.clone(),
            version: change.after.join(", "),
            failed,
            reason,
            result_url,
            requested_by,
        }),
        ..BumpSpec::default()
    }))
}
