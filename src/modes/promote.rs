//! `promote`: for each environment promoted from another, decide whether a promotion may be
//! proposed now and, when it may and moves something, open or update the target's single
//! promotion merge request. Reading, deciding and proposing are
//! [`crate::workflows::promotion`]'s (shared with `sync`); this mode only reports.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use serde::Serialize;

use crate::bump::merge_request::Action;
use crate::cli::{OutputFormat, PromoteArgs};
use crate::commit_sha;
use crate::image_ref::Version;
use crate::modes::{connect, project_or_ci};
use crate::promotion::{Blocked, Healthy, Hold, ImagePromotion, Moved};
use crate::workflows::auto_deploy;
use crate::workflows::promotion::{
    self as workflow, Gates, How, Outcome, Pair, Ready, human, time,
};
use crate::workflows::propose::Proposed;

pub async fn run(args: &PromoteArgs) -> Result<ExitCode> {
    let project = project_or_ci(args.project.as_deref())?;
    let gitlab = connect(&args.gitlab)?;
    let (repo, mut trees) = workflow::read_repo(&gitlab, &project).await?;
    let pairs = workflow::pairs(&args.environments, &repo.config)?;
    let bot = gitlab.current_user().await?;
    let mut held = BTreeMap::new();
    let mut reports = Vec::new();
    for pair in &pairs {
        let holds = workflow::read_holds(&gitlab, &project, &bot, &repo.config, &pair.target).await;
        if let Ok(holds) = &holds {
            held.insert(pair.target.clone(), active(holds));
        }
        let how = if args.dry_run {
            How::DryRun
        } else {
            How::Write
        };
        let outcome = workflow::promote(
            &gitlab,
            &project,
            &repo,
            &mut trees,
            pair,
            Gates {
                holds: &holds,
                now: Utc::now(),
            },
            how,
        )
        .await?;
        let report = match outcome {
            Outcome::Blocked(blocked) => Report::blocked(pair, blocked),
            Outcome::UpToDate(ready, closed) => {
                let written = closed.map(|m| *m).map(|m| Written {
                    action: Did::Closed,
                    branch: m.source_branch,
                    merge_request: Some(MergeRequestRef {
                        iid: m.iid,
                        url: m.web_url,
                    }),
                    would_write: None,
                });
                Report::ready(pair, *ready, written)
            }
            Outcome::Proposed(ready, proposed) => {
                let written = Written::of(*proposed, pair)?;
                Report::ready(pair, *ready, Some(written))
            }
        };
        reports.push(report);
    }
    let written = repo.config.board && !args.dry_run;
    crate::workflows::board::after_write(&gitlab, &project, written).await;

    let prefix = &repo.config.command_prefix;
    match args.output {
        OutputFormat::Text => print!("{}{}", text(&reports), holds_text(&held, prefix)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "head": repo.head,
                "environments": reports,
                "holds": held,
            }))?
        ),
    }
    // Auto-deploy merge requests waiting for their window are armed once it is open.
    if !args.dry_run && repo.config.environments.values().any(|e| e.auto_deploy) {
        for line in auto_deploy::arm_waiting(&gitlab, &project, &bot).await? {
            eprintln!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
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

/// What was done with the promotion merge request: the bump's actions, and closing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Did {
    Created,
    Updated,
    Reopened,
    Current,
    ClosedNotReopened,
    AlreadyDeployed,
    DryRun,
    /// Nothing left to promote: the open merge request was closed with a note.
    Closed,
}

impl From<Action> for Did {
    fn from(action: Action) -> Did {
        match action {
            Action::Created => Did::Created,
            Action::Updated => Did::Updated,
            Action::Reopened => Did::Reopened,
            Action::Current => Did::Current,
            Action::ClosedNotReopened => Did::ClosedNotReopened,
            Action::AlreadyDeployed => Did::AlreadyDeployed,
            Action::DryRun => Did::DryRun,
        }
    }
}

/// What proposing the promotion did.
#[derive(Debug, Serialize)]
struct Written {
    action: Did,
    branch: String,
    merge_request: Option<MergeRequestRef>,
    /// With `--dry-run`: the merge request that would be written.
    would_write: Option<WouldWrite>,
}

#[derive(Debug, Serialize)]
struct MergeRequestRef {
    iid: u64,
    url: String,
}

#[derive(Debug, Serialize)]
struct WouldWrite {
    title: String,
    description: String,
    assignees: Vec<String>,
}

impl Written {
    fn of(proposed: Proposed, pair: &Pair) -> Result<Written> {
        match proposed {
            Proposed::Done(p) => Ok(Written {
                action: p.action.into(),
                branch: p.branch,
                merge_request: p.merge_request.map(|m| MergeRequestRef {
                    iid: m.iid,
                    url: m.web_url,
                }),
                would_write: p.would_write.map(|w| WouldWrite {
                    title: w.fields.title,
                    description: w.fields.description,
                    assignees: w.assignees,
                }),
            }),
            // The versions were read from the target's files a moment ago: a bump that
            // cannot find them now means the files changed in between; nothing was written.
            Proposed::Rejected { error, .. } => Err(anyhow::anyhow!(
                "cannot propose the promotion of {} to {}: {error}",
                pair.source,
                pair.target
            )),
        }
    }

    fn line(&self) -> String {
        let mr = |verb: &str| match &self.merge_request {
            Some(m) => format!("{verb} merge request !{}: {}", m.iid, m.url),
            None => format!("{verb} the merge request from {}", self.branch),
        };
        match self.action {
            Did::Created => mr("created"),
            Did::Updated => mr("updated"),
            Did::Reopened => mr("reopened"),
            Did::Current => mr("already proposed in"),
            Did::ClosedNotReopened => format!(
                "{}; it was closed by a person and is not reopened",
                mr("already proposed in")
            ),
            Did::AlreadyDeployed => "the default branch already has these versions".into(),
            Did::Closed => mr("nothing left to promote: closed"),
            Did::DryRun => format!(
                "dry run: would open or update the merge request from {}",
                self.branch
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum State {
    /// Images to move, and the source's deployment allows it now.
    Promotion,
    /// The target already runs the source's versions.
    UpToDate,
    /// The target's holds could not be read: nothing is proposed.
    HoldsUnreadable,
    /// The soak time has not passed.
    Soaking,
    /// The source's latest deployment is not a success.
    SourceNotHealthy,
    /// The source's files carry other versions than its healthy deployment.
    SourceMovedOn,
    /// The source has never been deployed (no GitLab deployment record).
    NoDeployment,
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
    fn new(
        healthy: &Healthy,
        soak: Duration,
        met_at: Option<chrono::DateTime<Utc>>,
        met: bool,
    ) -> Self {
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
    /// What was written (or with `--dry-run`, would be) for a promotion.
    proposal: Option<Written>,
}

impl Report {
    fn ready(pair: &Pair, ready: Ready, written: Option<Written>) -> Report {
        let (target, source) = (pair.target.as_str(), pair.source.as_str());
        let reason = match (ready.plan.is_empty(), ready.plan.skipped.is_empty()) {
            (false, _) => None,
            (true, true) => Some(format!(
                "{target} already runs the versions {source} runs healthy"
            )),
            (true, false) if ready.plan.skipped.iter().any(|s| s.reason.is_hold()) => {
                Some(format!(
                    "no image to move: {target} is held for versions {source} runs healthy (see skipped)"
                ))
            }
            (true, false) => Some(format!(
                "no image to move: {target} runs the versions {source} runs healthy, apart from the skipped ones"
            )),
        };
        Report {
            environment: target.to_string(),
            promote_from: source.to_string(),
            state: if ready.plan.is_empty() {
                State::UpToDate
            } else {
                State::Promotion
            },
            reason,
            deployment: Some(Evidence::new(
                &ready.healthy,
                pair.soak,
                Some(ready.soak_met_at),
                true,
            )),
            images: ready.plan.images,
            skipped: ready
                .plan
                .skipped
                .into_iter()
                .map(|s| SkippedImage {
                    repository: s.repository,
                    name: s.name,
                    reason: s.reason.to_string(),
                })
                .collect(),
            moved: Vec::new(),
            warnings: ready.warnings,
            proposal: written,
        }
    }

    fn blocked(pair: &Pair, blocked: Blocked) -> Report {
        let (target, source, soak) = (pair.target.as_str(), pair.source.as_str(), pair.soak);
        let reason = workflow::why_blocked(pair, &blocked);
        let (state, deployment, moved) = match blocked {
            Blocked::HoldsUnreadable { .. } => (State::HoldsUnreadable, None, Vec::new()),
            Blocked::NoDeployment => (State::NoDeployment, None, Vec::new()),
            Blocked::NotHealthy { .. } => (State::SourceNotHealthy, None, Vec::new()),
            Blocked::MovedOn { healthy, moved } => (
                State::SourceMovedOn,
                Some(Evidence::new(&healthy, soak, None, false)),
                moved,
            ),
            Blocked::Soaking {
                healthy,
                soak,
                until,
            } => (
                State::Soaking,
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
            proposal: None,
        }
    }
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
        if let Some(written) = &r.proposal {
            if let Some(would) = &written.would_write {
                let assignees = match would.assignees.as_slice() {
                    [] => "(none)".to_string(),
                    list => list.join(", "),
                };
                out.push_str(&format!(
                    "  would write on branch {}:\n  title: {}\n  assignees: {assignees}\n  description:\n{}\n",
                    written.branch, would.title, would.description
                ));
            }
            out.push_str(&format!("  {}\n", written.line()));
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
