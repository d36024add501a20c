//! Proposing a bump on GitLab: one commit on the bot branch and one merge request, converged.
//!
//! Reads the target branch head, the repository archive at that commit, computes the edit
//! with the same engine as `--local`, then converges: one commit on the bot branch (built on
//! the commit read, so it can never undo someone else's change) and one merge request for
//! it. Every step is safe to re-run: an unchanged version writes nothing, a new version
//! resets the branch and rewrites the same merge request. Used by `bump --project` and by
//! the `rebase` and `rollback` comment commands; it prints nothing.

use std::path::PathBuf;
use std::sync::Arc;

use crate::bump::scope_path;
use crate::usage::UsageError;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use super::verify::{Head, verify_head};
use crate::bump::existing::{self, Choice, Existing, Wanted};
use crate::bump::merge_request::{
    self, Action, BASE_TRAILER, Request, RollbackOf, rollback_branch,
};
use crate::bump::{
    BumpPlan, Examined, Examiner, MAX_FILE_SIZE, PlanError, Warning, distinct_repositories,
    is_searched, is_yaml_path,
};
use crate::commit_sha;
use crate::config::{self, RepoConfig};
use crate::forms::Target;
use crate::gitlab::{
    Archive, Ensured, GitlabClient, Limits, MergeRequest, MergeRequestFields, UserRef,
};
use crate::image_ref::ImageRef;
use crate::marker;
use crate::messages::{MergeRequestLink, Messages, Notices, SourceInfo, SupersededView};
use crate::policy;

/// Repository templates live under this directory of the config repo.
const REPO_TEMPLATE_DIR: &str = ".gitops-bot/";

/// What to propose, and how.
#[derive(Debug, Clone, Default)]
pub struct BumpSpec {
    /// The images, of distinct repositories: all of them go in one commit and one merge
    /// request, with one deterministic branch per set of repositories and scope.
    pub images: Vec<ImageRef>,
    /// Applies to every image.
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
    /// The branch to propose on, instead of the bump's deterministic one (a promotion has
    /// its own, e.g. `gitops-bot/<env>/promote`). It must be as deterministic: rerunning
    /// finds the merge request through it.
    pub branch: Option<String>,
    /// A Markdown section added to the description after the changes (a promotion's
    /// evidence). Put anything copied from elsewhere inside code spans or fences.
    pub section: Option<String>,
    /// The head of the target branch, when the caller has just read it (saves a request;
    /// a target that moves meanwhile is still noticed when the merge request is written).
    pub base: Option<String>,
    /// Set for a promotion: recorded in the description's marker; titles the merge request.
    pub promotion: Option<crate::marker::PromotionRecord>,
    /// The repository at `base`, as the caller has just read it with [`wanted`] and nothing
    /// dropped (saves reading the same archive again). Used for that commit only: a re-read
    /// after the target moved downloads the new head.
    pub read_at_base: Option<Arc<Archive>>,
    /// Users as GitLab gave them in answers the caller has just read (a merge request's
    /// author and assignees): their ids are not looked up again. Anyone else is.
    pub known_users: Vec<UserRef>,
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
    /// `.gitops-bot.yaml` as the proposal read it from the target branch.
    pub config: RepoConfig,
}

/// The merge request a dry run would write, with the usernames behind its user ids.
#[derive(Debug)]
pub struct WouldWrite {
    pub fields: MergeRequestFields,
    pub assignees: Vec<String>,
    pub reviewers: Vec<String>,
}

/// The files of the repository a bump reads: YAML, `.gitops-bot.yaml` and the repository's
/// templates.
pub fn wanted(path: &str) -> bool {
    is_yaml_path(path) || path == config::FILE_NAME || path.starts_with(REPO_TEMPLATE_DIR)
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

/// Proposes `spec` on `project`: see the module documentation.
pub async fn propose(gitlab: &GitlabClient, project: &str, spec: &BumpSpec) -> Result<Proposed> {
    let Some((image_ref, also)) = spec.images.split_first() else {
        bail!("no image to propose");
    };
    distinct_repositories(&spec.images).map_err(UsageError)?;
    let targets: Vec<Target> = spec
        .images
        .iter()
        .map(|image| Target {
            image: image.clone(),
            setter: spec.setter.clone(),
        })
        .collect();
    let images: Vec<String> = spec.images.iter().map(ToString::to_string).collect();

    let target_branch = match &spec.target_branch {
        Some(b) => b.clone(),
        None => gitlab
            .project(project)
            .await?
            .default_branch
            .with_context(|| format!("project {project} has no default branch (is the repository empty?); pass --target-branch"))?,
    };
    let mut base = match &spec.base {
        Some(base) => base.clone(),
        None => {
            gitlab
                .branch_head(project, &target_branch)
                .await?
                .with_context(|| {
                    format!("branch {target_branch:?} does not exist in project {project}")
                })?
                .id
        }
    };

    let mut choice = Choice::Create;
    let mut notices = Notices::default();
    let mut people: Option<(Vec<u64>, Vec<u64>)> = None;
    // The merge request of an earlier pass, and what that pass did with it.
    let mut current: Option<MergeRequest> = None;
    let mut first_action: Option<Action> = None;
    for read in 1..=MAX_READS {
        let snapshot = read_snapshot(gitlab, project, &base, spec, &targets).await?;
        if let Err(error) = snapshot.plan.check(&images, spec.strict) {
            return Ok(Proposed::Rejected {
                plan: snapshot.plan,
                error,
            });
        }
        let plan = &snapshot.plan;
        let request = Request {
            image: image_ref.clone(),
            also: also.to_vec(),
            branch: spec.branch.clone(),
            section: spec.section.clone(),
            promotion: spec.promotion.clone(),
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
                config: snapshot.config.clone(),
            })))
        };
        if plan.changes().next().is_none() {
            return done(Action::AlreadyDeployed, current.as_ref(), None);
        }

        if read == 1 {
            let mrs = gitlab
                .merge_requests(project, &branch, &target_branch)
                .await?;
            let found: Vec<Existing> = mrs
                .iter()
                .map(|m| Existing {
                    iid: m.iid,
                    state: m.state.clone(),
                    proposes: m
                        .description
                        .as_deref()
                        .and_then(marker::bump)
                        .map(|s| s.proposes()),
                })
                .collect();
            let version = request.proposes();
            let wanted = Wanted {
                version: &version,
                refresh: spec.refresh,
                reopen: spec.reopen,
            };
            // The description is only a hint: the branch must really hold this change.
            let by_iid = |iid: u64| mrs.iter().find(|m| m.iid == iid);
            let holds = match mrs.iter().find(|m| m.state == "opened") {
                Some(open) if existing::needs_branch_check(&found, wanted) => matches!(
                    verify_head(gitlab, project, open, &targets).await?,
                    Head::Ours(_)
                ),
                _ => false,
            };
            choice = existing::choose(&found, wanted, holds);
            match choice {
                Choice::KeepOpen(iid) => return done(Action::Current, by_iid(iid), None),
                Choice::KeepClosed(iid) => {
                    return done(Action::ClosedNotReopened, by_iid(iid), None);
                }
                Choice::Rewrite { .. } | Choice::Reopen(_) | Choice::Create => {}
            }
            notices = read_notices(gitlab, project, &request).await?;
        }

        let template = spec
            .template
            .clone()
            .or_else(|| snapshot.repo_template.clone());
        let messages = Messages::new(template)?;
        let env = spec.environment.as_deref();
        let (assignee_ids, reviewer_ids) = match &people {
            Some(p) => p.clone(),
            None => {
                let config = &snapshot.config;
                let p = (
                    user_ids(
                        gitlab,
                        pick(&spec.assignees, config.operators_of(env)),
                        "--assignee / operators",
                        &spec.known_users,
                    )
                    .await?,
                    user_ids(
                        gitlab,
                        pick(&spec.reviewers, &config.reviewers),
                        "--reviewer / reviewers",
                        &spec.known_users,
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
            policy::deploy_help(config, env, &config.command_prefix),
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
                assignees: pick(&spec.assignees, snapshot.config.operators_of(env)).to_vec(),
                reviewers: pick(&spec.reviewers, &snapshot.config.reviewers).to_vec(),
            };
            return done(Action::DryRun, None, Some(would_write));
        }

        let files: Vec<(String, String)> = plan
            .changed_files()
            .map(|(f, edited)| (f.path.clone(), edited.to_string()))
            .collect();
        let message = merge_request::commit_message(plan, &request);
        gitlab
            .ensure_commit(project, &branch, &base, &message, &files)
            .await
            .with_context(|| {
                format!("cannot commit the change on branch {branch} ({BASE_TRAILER} {base})")
            })?;

        let (action, mr) = match (&current, &choice) {
            (Some(mr), _) => (
                Action::Updated,
                gitlab
                    .update_merge_request(project, mr.iid, &fields, false)
                    .await?,
            ),
            (None, Choice::Rewrite { iid, was }) => {
                let updated = gitlab
                    .update_merge_request(project, *iid, &fields, false)
                    .await?;
                let previous = match was {
                    Some(v) => vec![v.clone()],
                    None => merge_request::previous_versions(plan)
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                };
                let note = messages.superseded(&SupersededView {
                    previous,
                    version: request.proposes(),
                    target_branch: target_branch.clone(),
                    base_sha: base.clone(),
                })?;
                gitlab.create_note(project, *iid, &note).await?;
                (Action::Updated, updated)
            }
            (None, Choice::Reopen(iid)) => (
                Action::Reopened,
                gitlab
                    .update_merge_request(project, *iid, &fields, true)
                    .await?,
            ),
            (None, Choice::Create | Choice::KeepOpen(_) | Choice::KeepClosed(_)) => {
                match gitlab
                    .ensure_merge_request(project, &branch, &target_branch, &fields)
                    .await?
                {
                    (Ensured::Created, mr) => (Action::Created, mr),
                    (Ensured::Updated, mr) => (Action::Updated, mr),
                }
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
/// image (of one of its images) and destination (for a forward bump), and an earlier failed
/// deploy of this version (of one of its images' versions) there, remembered by the
/// `deploy-failed` label the sync report puts on merge requests.
async fn read_notices(gitlab: &GitlabClient, project: &str, request: &Request) -> Result<Notices> {
    let mut notices = Notices::default();
    if request.rollback.is_none() && request.also.is_empty() {
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
    } else if request.rollback.is_none() {
        // Several images: one list of the open merge requests into the target, whatever
        // their number, instead of one lookup per image's rollback branch.
        let branches: Vec<String> = request
            .images()
            .map(|image| {
                rollback_branch(
                    image,
                    &request.target_branch,
                    request.environment.as_deref(),
                )
            })
            .collect();
        notices.open_rollback = gitlab
            .open_merge_requests_into(project, &request.target_branch)
            .await?
            .into_iter()
            .filter(|m| branches.contains(&m.source_branch))
            .max_by_key(|m| m.iid)
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
            crate::gitlab::MergeRequestState::Merged,
        )
        .await?;
    notices.failed_before = failed
        .iter()
        .filter(|m| {
            m.description
                .as_deref()
                .and_then(marker::bump)
                .is_some_and(|s| {
                    s.recorded_images().iter().any(|recorded| {
                        ImageRef::parse(&recorded.image).is_ok_and(|i| {
                            request.images().any(|wanted| {
                                recorded.version() == wanted.version()
                                    && i.name.same_repository(&wanted.name)
                            })
                        })
                    })
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

/// Reads the archive at `sha` and plans the bump on it.
async fn read_snapshot(
    gitlab: &GitlabClient,
    project: &str,
    sha: &str,
    spec: &BumpSpec,
    targets: &[Target],
) -> Result<Snapshot> {
    // Only files that could reference an image (or that must be warned about) are kept.
    let keep = {
        let any_scope = Examiner::for_targets(targets, &[]);
        move |path: &str, bytes: &[u8]| {
            !is_yaml_path(path)
                || path == config::FILE_NAME
                || std::str::from_utf8(bytes).is_err()
                || any_scope.may_reference(bytes)
        }
    };
    let archive = match (&spec.base, &spec.read_at_base) {
        (Some(base), Some(read)) if base == sha => Archive::clone(read),
        _ => {
            gitlab
                .archive(
                    project,
                    sha,
                    Limits {
                        max_file: MAX_FILE_SIZE,
                        max_total: 4 * 1024 * 1024 * 1024,
                    },
                    wanted,
                    keep,
                )
                .await?
        }
    };
    let file = |path: &str| archive.files.iter().find(|f| f.path == path);
    let config = match file(config::FILE_NAME) {
        Some(f) => RepoConfig::parse(&String::from_utf8_lossy(&f.bytes), config::FILE_NAME)?,
        None => RepoConfig::absent(format!("{project} at {}", commit_sha::short(sha))),
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

    let dropped = archive
        .dropped
        .iter()
        .filter(|p| is_searched(p, &scope))
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
    let examiner = Examiner::for_targets(targets, &scope);
    let yaml: Vec<_> = archive
        .files
        .into_iter()
        .filter(|f| {
            is_yaml_path(&f.path) && f.path != config::FILE_NAME && examiner.in_scope(&f.path)
        })
        .collect();
    let searched = yaml.len() + dropped;
    // Parsing and planning every file is CPU work: on the blocking pool, across cores.
    let examined: Vec<Examined> = crate::blocking::run(move || {
        yaml.par_iter()
            .map(|f| examiner.examine(&f.path, &f.bytes))
            .collect()
    })
    .await;
    let plan = BumpPlan::gather(searched, examined, warnings);
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

pub(crate) async fn user_ids(
    gitlab: &GitlabClient,
    names: &[String],
    origin: &str,
    known: &[UserRef],
) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    for name in names {
        let name = name.trim_start_matches('@');
        if let Some(user) = known.iter().find(|u| u.username.eq_ignore_ascii_case(name)) {
            ids.push(user.id);
            continue;
        }
        match gitlab.user_id(name).await? {
            Some(id) => ids.push(id),
            None => bail!("unknown GitLab user {name:?} (from {origin})"),
        }
    }
    Ok(ids)
}

/// The repository paths a bump looks at: the given paths (a rollback gives the files it
/// reverts), else the environment's paths, else everything. A `--path` outside the
/// repository and an environment `.gitops-bot.yaml` does not define are usage errors.
pub fn resolve_scope(
    paths: &[PathBuf],
    environment: Option<&str>,
    config: &RepoConfig,
) -> Result<Vec<String>> {
    match environment {
        Some(env) if paths.is_empty() => {
            let paths = config
                .environment_paths(env)
                .map_err(|e| UsageError(e.to_string()))?;
            paths
                .iter()
                .map(|p| {
                    scope_path(p).map_err(|e| {
                        anyhow::anyhow!(
                            "{}: environments.{env}.paths: {e}",
                            crate::config::FILE_NAME
                        )
                    })
                })
                .collect()
        }
        _ => scope_paths(paths).map_err(Into::into),
    }
}

/// `--path`s as repository-relative prefixes, or the usage error of the first that is not one.
pub fn scope_paths(paths: &[PathBuf]) -> Result<Vec<String>, UsageError> {
    paths
        .iter()
        .map(|p| scope_path(&p.to_string_lossy()).map_err(|e| UsageError(format!("--path: {e}"))))
        .collect()
}
