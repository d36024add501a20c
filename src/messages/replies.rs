//! What the bot answers under a comment command or an approval: one variant per outcome,
//! each rendered by its template `templates/messages/replies/<name>.md.j2` with the command
//! prefix as `prefix`. Deciding which reply is the caller's (policy, the command runners);
//! the words are the templates'.

use serde::Serialize;

use super::{MessageError, Messages, SourceInfo};

/// One commit the bot did not make, as a refusal names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitLine {
    pub id: String,
    pub title: String,
    pub author: String,
}

/// What the status reply says of the branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BranchState {
    /// One commit, the bot's own change.
    Ours,
    /// Commits the bot did not make (their ids).
    Foreign { commits: Vec<String> },
    /// Could not be checked.
    Unverified { why: String },
    /// Not open: nothing to check.
    Closed,
}

/// One deploy result on the merge request (from the sync report's labels and comment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployResult {
    pub environment: String,
    /// `deployed` or `failed`.
    pub outcome: String,
    pub url: Option<String>,
}

/// An environment hold, as `status` shows it: a merged rollback keeps `versions` of
/// `repository` out of `environment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldVersions {
    pub environment: String,
    pub repository: String,
    pub versions: Vec<String>,
    pub rollback_iid: u64,
    pub rollback_url: String,
}

/// A merge request the status reply links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub iid: u64,
    pub url: String,
}

/// Everything `status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub rollback: bool,
    pub image: String,
    pub version: String,
    pub destination: String,
    pub source: SourceInfo,
    pub state: String,
    pub head: Option<String>,
    pub branch: BranchState,
    pub pipeline: String,
    pub merge_status: String,
    pub held: bool,
    pub hold_label: String,
    pub results: Vec<DeployResult>,
    pub open_rollback: Option<Link>,
    /// The environment holds of the environments it concerns (merged rollbacks).
    pub holds: Vec<HeldVersions>,
    /// Why the holds could not be read, when they could not.
    pub holds_unknown: Option<String>,
    /// The environment whose own `operators` decide (no role stands in); `None`: the
    /// top-level operators and [`Status::role`].
    pub environment: Option<String>,
    pub operators: Vec<String>,
    pub role: String,
}

/// One target of a `sync` from a drift issue, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncedTarget {
    /// `Application argocd/web`, `Kustomization flux-system/apps`, `apply deploy`.
    pub target: String,
    /// `healthy`, `failed` or `timed out`.
    pub outcome: String,
    /// Why it is not healthy, in one line.
    pub reason: Option<String>,
}

/// One object a drift observation names (drifted, unhealthy, unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftObjectLine {
    pub state: String,
    pub kind: String,
    /// `namespace/name`.
    pub name: String,
    pub reason: String,
}

/// A fresh observation of an environment, as the drift issue's replies show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftObservation {
    pub state: String,
    pub head_revision: String,
    pub live_revision: Option<String>,
    pub objects: Vec<DriftObjectLine>,
    /// What the bot did to the issue's report (`no change`, `update #4 and comment
    /// (drifted)`, `comment and close #4 (was drifted for 2h)`).
    pub report: String,
}

/// A reply, by outcome. The variant's name (snake case) names its template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    ConfigUnreadable {
        error: String,
    },
    PermissionsUnreadable {
        error: String,
    },
    NotAllowed {
        verb: String,
        /// The environment whose own `operators` decide (no role stands in); `None`: the
        /// top-level operators and `role`.
        environment: Option<String>,
        operators: Vec<String>,
        role: String,
        user: String,
        /// Their role on the project; `None` when they are not a member.
        their_role: Option<String>,
    },
    /// A failure the reply can only name.
    Failed {
        error: String,
    },
    NotOpen {
        state: String,
    },
    OnHold {
        label: String,
    },
    /// A deploy outside the environment's window; the next opening in UTC and in the
    /// window's zone, already written out.
    OutsideWindow {
        environment: String,
        window: String,
        next_utc: String,
        next_local: String,
    },
    NamedNotHead {
        named: String,
        head: String,
    },
    Moved {
        seen: String,
        head: String,
    },
    /// The head the person reviewed is not known; `action` is "reviewed" or "approved".
    Unestablished {
        action: String,
        why: String,
        head: String,
    },
    ProposalUnreadable {
        error: String,
    },
    Foreign {
        commits: Vec<CommitLine>,
    },
    Merged {
        sha: String,
        target_branch: String,
    },
    WillMerge {
        sha: String,
        target_branch: String,
    },
    MergeAccepted {
        sha: String,
        state: String,
    },
    MovedWhileMerging {
        message: String,
    },
    /// GitLab's `detailed_merge_status` (empty when unknown).
    NotMergeable {
        status: String,
    },
    MergeFailed {
        message: String,
    },
    MayNotMerge {
        message: String,
        target_branch: String,
    },
    Held {
        label: String,
        reason: Option<String>,
    },
    Unheld {
        label: String,
    },
    /// `unhold` on a merged rollback whose environment is not established: nothing lifted.
    HoldEnvironmentUnknown {
        iid: u64,
        branch: String,
    },
    /// `unhold` on a merged rollback: the environment holds it set are lifted.
    HoldLifted {
        iid: u64,
        environments: Vec<String>,
        /// `repository version, …` per image held until now.
        images: Vec<String>,
    },
    RebaseNotOpen {
        state: String,
    },
    ProposalUnknown {
        why: String,
    },
    /// `rebase` of a promotion merge request whose promotion is not due now.
    PromotionNotDue {
        environment: String,
        why: String,
    },
    UpToDate {
        target_branch: String,
        target_head: String,
        head: String,
    },
    /// A merge request was written: the rebased proposal, or the rollback.
    Proposed {
        rollback: bool,
        iid: u64,
        url: String,
    },
    AlreadyThere {
        rollback: bool,
    },
    RollbackNotMerged {
        state: String,
    },
    ImageUnreadable {
        error: String,
    },
    RollbackUnclear {
        iid: u64,
        why: String,
        image: String,
    },
    RollbackAmbiguous {
        iid: u64,
        versions: Vec<String>,
        image: String,
    },
    Status(Box<Status>),
    /// The command list (its text comes from the comment parser).
    Help {
        text: String,
    },
    /// A command on an issue that is not one of the bot's drift issues.
    NotDriftIssue {
        why: String,
    },
    /// A merge request command on a drift issue.
    OnlyOnMergeRequests {
        verb: String,
    },
    /// A drift issue command (`sync`) on a merge request.
    OnlyOnDriftIssues {
        verb: String,
    },
    /// `sync` from a drift issue: what each target did, then the fresh observation (or why
    /// there is none).
    DriftSynced {
        environment: String,
        revision: String,
        outcome: String,
        reason: Option<String>,
        targets: Vec<SyncedTarget>,
        observed: Option<Box<DriftObservation>>,
        observe_error: Option<String>,
    },
    /// `status` on a drift issue: the fresh observation.
    DriftStatus {
        environment: String,
        observed: Box<DriftObservation>,
    },
    /// What the comment parser answers to input that is not a command (usage, "did you
    /// mean", one command per comment).
    Parse {
        text: String,
    },
}

impl Reply {
    /// The template's name: `replies/<variant in snake case>.md.j2`.
    pub(super) fn template(&self) -> Result<String, MessageError> {
        let value = serde_json::to_value(self).map_err(|e| MessageError::Data(e.to_string()))?;
        let name = value
            .get("reply")
            .and_then(|v| v.as_str())
            .ok_or_else(|| MessageError::Data("a reply without its name".into()))?;
        Ok(format!("replies/{name}.md.j2"))
    }
}

#[derive(Serialize)]
struct Context<'a> {
    #[serde(flatten)]
    reply: &'a Reply,
    prefix: &'a str,
}

#[derive(Serialize)]
struct Answer<'a> {
    author: &'a str,
    message: &'a str,
    marker: &'a str,
}

#[derive(Serialize)]
struct ApprovalAnswer<'a> {
    user: &'a str,
    done: bool,
    message: &'a str,
    marker: &'a str,
}

impl Messages {
    /// The text of `reply`, telling people to write commands with `prefix`.
    pub fn reply(&self, reply: &Reply, prefix: &str) -> Result<String, MessageError> {
        let text = self.render(&reply.template()?, &Context { reply, prefix })?;
        Ok(text.trim_end().to_string())
    }

    /// The note answering `author`'s comment: the reply, then the hidden marker.
    pub fn answer(
        &self,
        author: &str,
        message: &str,
        marker: &str,
    ) -> Result<String, MessageError> {
        let text = self.render(
            "replies/answer.md.j2",
            &Answer {
                author,
                message,
                marker,
            },
        )?;
        Ok(text.trim_end().to_string())
    }

    /// The note answering `user`'s approval (`deploy_on_approval`).
    pub fn approval_answer(
        &self,
        user: &str,
        done: bool,
        message: &str,
        marker: &str,
    ) -> Result<String, MessageError> {
        let text = self.render(
            "replies/approval.md.j2",
            &ApprovalAnswer {
                user,
                done,
                message,
                marker,
            },
        )?;
        Ok(text.trim_end().to_string())
    }
}

/// Every reply template, by name, embedded in the binary.
pub(super) const TEMPLATES: &[(&str, &str)] = &[
    (
        "replies/already_there.md.j2",
        include_str!("../../templates/messages/replies/already_there.md.j2"),
    ),
    (
        "replies/answer.md.j2",
        include_str!("../../templates/messages/replies/answer.md.j2"),
    ),
    (
        "replies/approval.md.j2",
        include_str!("../../templates/messages/replies/approval.md.j2"),
    ),
    (
        "replies/config_unreadable.md.j2",
        include_str!("../../templates/messages/replies/config_unreadable.md.j2"),
    ),
    (
        "replies/drift_status.md.j2",
        include_str!("../../templates/messages/replies/drift_status.md.j2"),
    ),
    (
        "replies/drift_synced.md.j2",
        include_str!("../../templates/messages/replies/drift_synced.md.j2"),
    ),
    (
        "replies/failed.md.j2",
        include_str!("../../templates/messages/replies/failed.md.j2"),
    ),
    (
        "replies/foreign.md.j2",
        include_str!("../../templates/messages/replies/foreign.md.j2"),
    ),
    (
        "replies/held.md.j2",
        include_str!("../../templates/messages/replies/held.md.j2"),
    ),
    (
        "replies/hold_environment_unknown.md.j2",
        include_str!("../../templates/messages/replies/hold_environment_unknown.md.j2"),
    ),
    (
        "replies/hold_lifted.md.j2",
        include_str!("../../templates/messages/replies/hold_lifted.md.j2"),
    ),
    (
        "replies/help.md.j2",
        include_str!("../../templates/messages/replies/help.md.j2"),
    ),
    (
        "replies/image_unreadable.md.j2",
        include_str!("../../templates/messages/replies/image_unreadable.md.j2"),
    ),
    (
        "replies/may_not_merge.md.j2",
        include_str!("../../templates/messages/replies/may_not_merge.md.j2"),
    ),
    (
        "replies/only_on_drift_issues.md.j2",
        include_str!("../../templates/messages/replies/only_on_drift_issues.md.j2"),
    ),
    (
        "replies/only_on_merge_requests.md.j2",
        include_str!("../../templates/messages/replies/only_on_merge_requests.md.j2"),
    ),
    (
        "replies/outside_window.md.j2",
        include_str!("../../templates/messages/replies/outside_window.md.j2"),
    ),
    (
        "replies/merge_accepted.md.j2",
        include_str!("../../templates/messages/replies/merge_accepted.md.j2"),
    ),
    (
        "replies/merge_failed.md.j2",
        include_str!("../../templates/messages/replies/merge_failed.md.j2"),
    ),
    (
        "replies/merged.md.j2",
        include_str!("../../templates/messages/replies/merged.md.j2"),
    ),
    (
        "replies/moved.md.j2",
        include_str!("../../templates/messages/replies/moved.md.j2"),
    ),
    (
        "replies/moved_while_merging.md.j2",
        include_str!("../../templates/messages/replies/moved_while_merging.md.j2"),
    ),
    (
        "replies/named_not_head.md.j2",
        include_str!("../../templates/messages/replies/named_not_head.md.j2"),
    ),
    (
        "replies/not_allowed.md.j2",
        include_str!("../../templates/messages/replies/not_allowed.md.j2"),
    ),
    (
        "replies/not_drift_issue.md.j2",
        include_str!("../../templates/messages/replies/not_drift_issue.md.j2"),
    ),
    (
        "replies/not_mergeable.md.j2",
        include_str!("../../templates/messages/replies/not_mergeable.md.j2"),
    ),
    (
        "replies/not_open.md.j2",
        include_str!("../../templates/messages/replies/not_open.md.j2"),
    ),
    (
        "replies/on_hold.md.j2",
        include_str!("../../templates/messages/replies/on_hold.md.j2"),
    ),
    (
        "replies/parse.md.j2",
        include_str!("../../templates/messages/replies/parse.md.j2"),
    ),
    (
        "replies/permissions_unreadable.md.j2",
        include_str!("../../templates/messages/replies/permissions_unreadable.md.j2"),
    ),
    (
        "replies/proposal_unknown.md.j2",
        include_str!("../../templates/messages/replies/proposal_unknown.md.j2"),
    ),
    (
        "replies/promotion_not_due.md.j2",
        include_str!("../../templates/messages/replies/promotion_not_due.md.j2"),
    ),
    (
        "replies/proposal_unreadable.md.j2",
        include_str!("../../templates/messages/replies/proposal_unreadable.md.j2"),
    ),
    (
        "replies/proposed.md.j2",
        include_str!("../../templates/messages/replies/proposed.md.j2"),
    ),
    (
        "replies/rebase_not_open.md.j2",
        include_str!("../../templates/messages/replies/rebase_not_open.md.j2"),
    ),
    (
        "replies/rollback_ambiguous.md.j2",
        include_str!("../../templates/messages/replies/rollback_ambiguous.md.j2"),
    ),
    (
        "replies/rollback_not_merged.md.j2",
        include_str!("../../templates/messages/replies/rollback_not_merged.md.j2"),
    ),
    (
        "replies/rollback_unclear.md.j2",
        include_str!("../../templates/messages/replies/rollback_unclear.md.j2"),
    ),
    (
        "replies/status.md.j2",
        include_str!("../../templates/messages/replies/status.md.j2"),
    ),
    (
        "replies/unestablished.md.j2",
        include_str!("../../templates/messages/replies/unestablished.md.j2"),
    ),
    (
        "replies/unheld.md.j2",
        include_str!("../../templates/messages/replies/unheld.md.j2"),
    ),
    (
        "replies/up_to_date.md.j2",
        include_str!("../../templates/messages/replies/up_to_date.md.j2"),
    ),
    (
        "replies/will_merge.md.j2",
        include_str!("../../templates/messages/replies/will_merge.md.j2"),
    ),
];
