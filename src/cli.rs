//! The command line: every flag, its help text and its defaults. No behaviour beyond parsing.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::deploy::DeployTarget;
use crate::image_ref::ImageRef;

#[derive(Debug, Parser)]
#[command(
    name = "gitops-bot",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (",
        env!("GITOPS_BOT_COMMIT"),
        " ",
        env!("GITOPS_BOT_BUILD_DATE"),
        ")"
    ),
    about = "GitOps deploys from GitLab CI: bump image tags in a config repo, byte for byte.",
    long_about = None,
    after_help = "\
Exit status: 0 on success (also when there is nothing to do), 1 on failure, 2 on usage errors.

Colour: help, errors and log lines are coloured only when writing to a terminal, and never when NO_COLOR is set (to any non-empty value). In GitLab CI, `sync` still prints the job log's collapsible-section markers.

`deploy`, `hold`, `unhold`, `rebase`, `rollback` and `help` are comment commands, not subcommands: write them in a comment on the bot's merge request (e.g. `gitops-bot deploy`). `status` is both: as a subcommand it shows the whole project, as a comment one merge request.",
)]
pub struct Cli {
    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub mode: Mode,
}

#[derive(Debug, Subcommand)]
pub enum Mode {
    /// Change the tag/digest of every reference to an image in a config repository.
    ///
    /// Finds the image in container specs (`image:` of containers, initContainers and
    /// ephemeralContainers at any depth), any other `image: name:tag` field, Helm-style
    /// `{registry, repository, tag, digest}` mappings, kustomize `images:` entries, Argo CD
    /// Application `kustomize.images`, and (with --setter) Flux `$imagepolicy` markers.
    /// Only the bytes of each reference change: comments, quoting, indentation, CRLF, a BOM
    /// and a missing final newline are kept.
    ///
    /// With --project, the change is committed on a bot branch through the GitLab API (one
    /// archive read, one commit) and proposed in one merge request, assigned to the
    /// operators; re-running updates that merge request instead of opening another. With
    /// `board: true` in .gitops-bot.yaml, the deploy board issue is refreshed afterwards (see
    /// `status`; a failure there is a warning). With --local DIR, the files of a checkout are
    /// edited in place.
    ///
    /// Environment: GITLAB_TOKEN (a project access token with the `api` scope; never a
    /// flag), CI_API_V4_URL / CI_SERVER_URL (default --gitlab-url), and CI_PROJECT_URL,
    /// CI_PROJECT_PATH, CI_COMMIT_SHA, CI_PIPELINE_URL (linked from the merge request).
    ///
    /// Exit status: 0 when the references are updated, already current or already deployed,
    /// 1 when an image is referenced nowhere (nothing is written) or a step fails, 2 on usage
    /// errors (also the same repository given twice).
    Bump(Box<BumpArgs>),

    /// Receive GitLab webhooks and run the comment commands of bot merge requests.
    ///
    /// Listens for Note Hook and Merge Request Hook deliveries at POST /webhook; commands are
    /// `gitops-bot deploy`, `hold`, `unhold`, `rebase`, `rollback`, `status`, `help`.
    ///
    /// Deliveries must carry `X-Gitlab-Token` equal to GITOPS_BOT_WEBHOOK_SECRET (else 401).
    /// Everything else GitLab sends gets 200 quickly (GitLab disables hooks that answer 4xx
    /// or time out): work runs on a bounded queue (503 when full, so GitLab retries), and
    /// repeated deliveries are acted on once. Also serves /healthz, /readyz and /metrics.
    ///
    /// One service can serve many config projects (--project is repeatable and takes
    /// GROUP/* and GROUP/**), e.g. behind one group webhook; each command is answered in its
    /// own project. With --drift-every it is also the always-on drift agent of those
    /// projects. Several replicas need no leader: each comment gets one reply, and each
    /// drift issue is written once (see the README's "Drift in serve").
    ///
    /// Plain HTTP/1.1 (terminate TLS in front). Connections are bounded so that idle or slow
    /// clients cannot exhaust the service: one whose request headers are not complete within
    /// --header-timeout (also the limit for idling between requests on a kept-alive
    /// connection), or on which nothing moves for --idle-timeout, is closed; request heads
    /// over 64 KiB get 431; beyond --max-connections a new connection gets 503 and is closed
    /// at once. /metrics counts open, refused and timed-out connections.
    ///
    /// SIGTERM or Ctrl-C stops accepting, finishes the requests in flight, closes idle
    /// connections and drains the queue.
    ///
    /// Deploys fail closed (all three command modes): `deploy` merges only the commit the
    /// commenter reviewed (the head when they commented, from the merge request's versions;
    /// or the SHA they name), only while it is still the head and the branch holds nothing
    /// but the bot's change. Anything that cannot be established is a refusal saying how
    /// to deploy explicitly. Each comment is answered once, whatever the number of
    /// deliveries or workers.
    Serve(ServeArgs),

    /// Process one webhook payload (a pipeline trigger's $TRIGGER_PAYLOAD).
    ///
    /// For a project webhook pointed at a pipeline trigger URL: no server needed. The note
    /// and merge request are read again from the API before anything is done; the
    /// payload's head counts only when the merge request's versions agree.
    HandleEvent(HandleEventArgs),

    /// One polling pass: run every comment command on bot merge requests not answered yet.
    ///
    /// For a scheduled pipeline; no webhook needed. Edited comments are not commands. Then
    /// the auto-deploy pass: the bot's open, unarmed merge requests of `auto_deploy`
    /// environments (left open outside their window) are armed to merge when the pipeline
    /// succeeds, pinned to their verified head, once the window is open and they are not
    /// held; one line each says what was armed or why it waits.
    Commands(PollArgs),

    /// Deploy a merged commit (Argo CD, Flux or direct apply) to the environments it changed,
    /// wait for the outcomes and comment them on the merge request that brought it.
    ///
    /// What is deployed: with target flags (--argocd-app, --flux, --apply), those targets,
    /// named by --environment (at most one) or else by the environment of the bot's merge
    /// request. Else each --environment with the targets it lists in .gitops-bot.yaml. Else
    /// every environment whose `paths` hold a file the commit changed against its first
    /// parent (as GitLab's commit diff lists them); a commit that changed none deploys
    /// nothing, says so and exits 0. Environments are deployed concurrently, each with its
    /// own targets, namespace, verdict, comment, label and deployment record.
    ///
    /// For the config repo's pipeline on the default branch. Argo CD: requests a sync of
    /// exactly --commit (as `argocd app sync --revision`; refused if another operation runs)
    /// and watches the Application until it is Synced and Healthy at that commit. Flux:
    /// annotates the object (and its source) with reconcile.fluxcd.io/requestedAt and
    /// watches until Ready with the commit applied. --apply: server-side apply (field manager
    /// gitops-bot, dry run first) of the manifests under PATH, kustomize-built when PATH has a
    /// kustomization.yaml, then waits for Deployment/StatefulSet/DaemonSet rollouts.
    /// An environment's targets are its `argocd_apps`, `flux` and `apply` in .gitops-bot.yaml.
    ///
    /// The result is one comment per environment on each merge request that brought the
    /// commit (edited in place on re-runs), a `deployed::<env>` or `deploy-failed::<env>`
    /// label, and a GitLab deployment record (`success` only when healthy) unless the job
    /// declares `environment:` itself. With `board: true` in .gitops-bot.yaml, the deploy board
    /// issue is refreshed afterwards (see `status`); a board that cannot be written is a
    /// warning, never a failed sync.
    ///
    /// Environment: GITLAB_TOKEN, CI_API_V4_URL, CI_PROJECT_PATH, CI_COMMIT_SHA,
    /// CI_COMMIT_BRANCH, CI_JOB_URL; cluster access from KUBE_API_URL + KUBE_TOKEN (+
    /// KUBE_CA_FILE, KUBE_NAMESPACE), else KUBECONFIG, else the in-cluster service account.
    ///
    /// Exit status: 0 when every target of every environment is healthy at the commit (or
    /// there was nothing to deploy), 1 when one failed or timed out (the reason is the last
    /// line), 2 on usage errors.
    Sync(Box<SyncArgs>),

    /// Report how far each environment's live state is from the default branch, in one GitLab
    /// issue per environment.
    ///
    /// Reads .gitops-bot.yaml at the head of the default branch and observes each
    /// environment's targets (`argocd_apps`, `flux`, `apply`, the ones `sync` deploys) with
    /// get and list requests only (Applications, Kustomizations and HelmReleases with one list
    /// per kind and namespace per observation, not one get each). Each environment is `converged`, `behind` (a controller has not
    /// reached the head `drift.grace` after it was committed or merged, default 10m), `drifted` (Argo
    /// CD OutOfSync, Flux Drifted=True, a directly applied object that differs from Git or is
    /// missing), `degraded` (not healthy, not ready, stalled, suspended) or `unknown` (cannot
    /// be read or compared: a 403, a missing object, an Argo CD ComparisonError, a
    /// direct-apply directory that does not render); the worst of its objects counts, in the
    /// order unknown, degraded, drifted, behind. A state other than converged counts only if
    /// it stays the same (state and objects) for `drift.confirm` (default 2m) of
    /// re-observing every few seconds; one that clears is reported as converged, one that
    /// changes is shown as not confirmed yet and not written. Writes nothing to the cluster.
    ///
    /// Direct apply: each `apply` directory is rendered from the repository at the head (as
    /// `sync` renders it) and compared with the live objects (one list per kind and
    /// namespace) over the fields Git sets: server fields (status, managedFields,
    /// resourceVersion, uid, generation, creationTimestamp), defaults and extra live fields
    /// are not drift; a missing object is. What differs is named by JSON pointer, at most 10
    /// per object. A Secret's values are never shown, only the keys that differ. Fields
    /// listed in `drift.ignore` (Flux's ignore-rule shape: `paths` and an optional `target`
    /// whose keys are anchored regular expressions, as in Flux) are skipped. With --deep, each live object is compared instead with what a server-side
    /// dry-run apply of its Git object returns (defaults and mutating webhooks applied):
    /// this needs `patch` on the kinds (deploy/rbac/drift/deep/).
    ///
    /// Each environment's issue (labels gitops-bot::drift and env::NAME; found by a hidden
    /// marker in one paged list of the drift issues per run) is created on the first
    /// divergence (an incident for `tier: production`, assigned to the operators), edited
    /// with one comment only when the state or its objects change (a rerun that sees the
    /// same writes nothing), closed with a comment on convergence and reopened on a new
    /// divergence. A failed issue search fails the run rather than risk a duplicate.
    /// Several runs at once (replicas of `serve --drift-every`) re-read before writing and
    /// remove what a simultaneous run duplicated (an issue, a comment).
    ///
    /// Environment: GITLAB_TOKEN (`api` scope, Reporter role), CI_API_V4_URL,
    /// CI_PROJECT_PATH; the cluster variables of `sync`. RBAC: deploy/rbac/drift/ (get,
    /// list, watch; list on the kinds an `apply` directory holds); with --deep also
    /// deploy/rbac/drift/deep/ (patch on those kinds, used for dry runs only).
    ///
    /// With --alert-url, each issue write is followed by one alert (GitLab's alert fields:
    /// title, description, start_time, end_time on convergence, service, monitoring_tool,
    /// severity, fingerprint `<project>/<environment>`, gitlab_environment_name, hosts),
    /// sent with `Authorization: Bearer $GITOPS_BOT_ALERT_TOKEN` when that variable is set.
    /// An alert that fails is reported on stderr and makes the exit status 1; the issue
    /// stays written and its marker records the alert as owed (one more write), so the next
    /// run sends it again even when nothing changed, then clears the mark.
    ///
    /// Exit status: 0 when the report is printed (whatever it says, unless --fail-on-drift),
    /// 1 with --fail-on-drift when an environment is not converged, when an alert could not
    /// be delivered, or on failure, 2 on usage errors.
    Drift(DriftArgs),

    /// Show in a merge request of the config repo what it changes in what gets applied.
    ///
    /// For merge request pipelines. Reads the repository at the merge request's base and
    /// head, renders every affected kustomize root (`kustomize build`, else `kubectl
    /// kustomize`) and Helm chart (`helm template`) at both and diffs the outputs; changed
    /// plain YAML files are diffed as they are. Without those tools on PATH the raw files are
    /// diffed, and the comment says so. With --live, the head's objects are also compared
    /// with the cluster through a server-side dry run (as `kubectl diff`; needs get and patch
    /// on them). The result is one comment on the merge request, edited in place by later
    /// pipelines, cut at line boundaries under GitLab's comment limit.
    ///
    /// Environment: GITLAB_TOKEN, CI_API_V4_URL, CI_PROJECT_PATH, CI_MERGE_REQUEST_IID,
    /// CI_JOB_URL; with --live, the cluster variables of `sync`.
    Preview(PreviewArgs),

    /// Propose each due promotion: per environment promoted from another, decide whether
    /// the versions proven in its source may be proposed now, and open or update its single
    /// promotion merge request (branch `gitops-bot/<environment>/promote`).
    ///
    /// Reads .gitops-bot.yaml at the head of the default branch. For each environment Y with
    /// `promote_from: X` (or each one named by --environment), it reads X's latest GitLab
    /// deployment record (the one `sync` makes, `success` only after the healthy verdict)
    /// and X's files at that deployment's commit, and Y's files at the head. Images are
    /// found as `bump` finds them and matched by normalised repository (`nginx` is
    /// `docker.io/library/nginx`). For each image both reference, when X has exactly one
    /// version and Y another, the promotion moves Y to it; an image with several versions in
    /// X, or one Y does not reference, is listed as skipped, never added to Y.
    ///
    /// Nothing is proposed, and the output says why, when X's latest deployment is not a
    /// success, when X's files at the head carry other versions than that deployment, or
    /// when Y's `soak` has not passed since it turned healthy (with the time it will).
    ///
    /// Otherwise every image to move goes in one commit and one merge request, titled
    /// "Promote N images from X to Y", whose description shows the evidence: X's deployment
    /// (commit, the merge request that brought it, when it turned healthy), the soak, and
    /// per image from → to and the app build it came from. Rerunning with the same versions
    /// writes nothing; other versions rewrite the same merge request. It is deployed with
    /// the `deploy` comment like any bot merge request. `sync` does the same right after a
    /// healthy deploy of X for environments without a soak. With `board: true` in
    /// .gitops-bot.yaml, the deploy board issue is refreshed at the end (see `status`); a
    /// board that cannot be written is a warning.
    ///
    /// A merged rollback of Y holds Y for the versions it rolled back from (read from Git):
    /// those are skipped, with the rollback merge request and how to lift the hold, until an
    /// operator of Y comments `unhold` on it or a newer version arrives. When the holds
    /// cannot be read, nothing is proposed.
    ///
    /// At the end it also runs the auto-deploy pass of `commands` (auto_deploy merge
    /// requests waiting for their window are armed once it is open), saying what it did on
    /// stderr.
    ///
    /// Environment: GITLAB_TOKEN (`api` scope, Developer role), CI_API_V4_URL,
    /// CI_PROJECT_PATH.
    ///
    /// Exit status: 0 when the answer is printed (whatever it says), 1 when a read or a write
    /// fails, 2 on usage errors (an unknown environment, one without promote_from named).
    Promote(PromoteArgs),

    /// Show what runs where: environments × images at the head of the default branch, each
    /// environment's last deployment, open bot merge requests and deploy windows.
    ///
    /// Reads .gitops-bot.yaml at the head of the default branch. Per environment: the
    /// version of each image in its files (found as `bump` finds them, by normalised
    /// repository; several versions when its files disagree), its latest GitLab deployment
    /// record (status, commit, time), the open merge requests of the bot for it (`bump`,
    /// `promotion`: branch gitops-bot/<env>/promote, `rollback`; told by their source branch,
    /// then their marker), and, when it has a `window` and is outside it, the next opening.
    /// Versions come from Git only, never from merge request descriptions.
    ///
    /// Requests: the project, the branch, the settings file, one archive of the head, one
    /// deployments read per environment and the open merge requests (100 per page).
    ///
    /// With --board, the same view is written to the "Deploy board" issue (label
    /// gitops-bot::board and a hidden marker; created on first use, its description edited
    /// only when the view changed). With `board: true` in .gitops-bot.yaml, `bump`, `sync` and
    /// `promote` refresh it too.
    ///
    /// JSON (--output json): {project, project_url, branch, head, environments: [{name,
    /// tier, promote_from, images: [{repository, name, versions}], last_deploy: {id, status,
    /// sha, at, commit_url, environment_url} | null, merge_requests: [{iid, kind, title, url,
    /// source_branch}], window: {window, open, next_opening} | null, warnings}],
    /// other_merge_requests}. Fields are only ever added.
    ///
    /// Environment: GITLAB_TOKEN (`api` scope, Reporter role; --board writes issues),
    /// CI_API_V4_URL, CI_PROJECT_PATH.
    ///
    /// Exit status: 0 when the view is printed, 1 when a read or the board write fails, 2 on
    /// usage errors.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The config project on GitLab [default: $CI_PROJECT_PATH].
    #[arg(long, value_name = "ID|PATH")]
    pub project: Option<String>,

    /// A table, or one JSON document.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Also write the view to the deploy board issue (whatever `board` says in
    /// .gitops-bot.yaml).
    #[arg(long)]
    pub board: bool,

    #[command(flatten)]
    pub gitlab: GitlabArgs,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The config project on GitLab [default: $CI_PROJECT_PATH].
    #[arg(long, value_name = "ID|PATH")]
    pub project: Option<String>,

    /// Only this target environment (repeatable; it must have promote_from) [default: every
    /// environment with promote_from].
    #[arg(long = "environment", value_name = "NAME")]
    pub environments: Vec<String>,

    /// A few lines per environment, or one JSON document.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Say what would be written (title, branch, description) and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub gitlab: GitlabArgs,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The config project on GitLab [default: $CI_PROJECT_PATH].
    #[arg(long, value_name = "ID|PATH")]
    pub project: Option<String>,

    /// The merge request [default: $CI_MERGE_REQUEST_IID].
    #[arg(long, value_name = "IID")]
    pub mr: Option<u64>,

    /// Also diff the head's objects against the live cluster (server-side dry run).
    #[arg(long)]
    pub live: bool,

    /// Namespace for objects that name none (with --live) [default: the kubeconfig's].
    #[arg(long, value_name = "NS", requires = "live")]
    pub namespace: Option<String>,

    /// Print the comment instead of posting it.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub gitlab: GitlabArgs,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The config project on GitLab [default: $CI_PROJECT_PATH].
    #[arg(long, value_name = "ID|PATH")]
    pub project: Option<String>,

    /// Only this environment of .gitops-bot.yaml (repeatable) [default: all of them].
    #[arg(long = "environment", value_name = "NAME")]
    pub environments: Vec<String>,

    /// One line per environment and its objects, or one JSON document.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Exit with status 1 when an environment is not converged (a state confirmed by
    /// drift.confirm: one still changing at the end of the window does not count).
    #[arg(long)]
    pub fail_on_drift: bool,

    /// Observe, and print what would be written to each environment's drift issue (create,
    /// update, comment, close, reopen) without writing anything.
    #[arg(long)]
    pub dry_run: bool,

    /// Compare direct-apply targets by server-side dry run: each object that exists is
    /// applied with `dryRun=All` (field manager gitops-bot, force, as `sync` applies it),
    /// and what the server returns, defaults and mutating webhooks included, is compared
    /// with the live object over every field. Nothing is stored, but the request is a
    /// PATCH: it needs the `patch` verb on those kinds (the optional Role in
    /// deploy/rbac/drift/deep/); a 403 makes the environment unknown. Without --deep,
    /// drift sends get and list requests only.
    #[arg(long)]
    pub deep: bool,

    /// After each issue write, POST one alert for that environment to URL (http or https: a
    /// GitLab alert HTTP integration endpoint, or any JSON webhook), with `fingerprint:
    /// <project>/<environment>` and an `end_time` when it converged again. Only on a
    /// change, like the issue: never on a rerun that sees the same thing, unless the last
    /// alert was not delivered (then that run sends it again). The bearer token
    /// is read from GITOPS_BOT_ALERT_TOKEN (never printed).
    #[arg(long, value_name = "URL", value_parser = crate::alerts::parse_url)]
    pub alert_url: Option<url::Url>,

    #[command(flatten)]
    pub gitlab: GitlabArgs,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The config project on GitLab [default: $CI_PROJECT_PATH].
    #[arg(long, value_name = "ID|PATH")]
    pub project: Option<String>,

    /// The merged commit to deploy [default: $CI_COMMIT_SHA].
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,

    /// An Argo CD Application to sync, as [NAMESPACE/]NAME (namespace default: argocd;
    /// repeatable).
    #[arg(long = "argocd-app", value_name = "[NS/]NAME", value_parser = DeployTarget::argocd)]
    pub argocd_apps: Vec<DeployTarget>,

    /// A Flux Kustomization or HelmRelease to reconcile, as KIND/NAMESPACE/NAME (repeatable).
    #[arg(long = "flux", value_name = "KIND/NS/NAME", value_parser = DeployTarget::flux)]
    pub flux: Vec<DeployTarget>,

    /// A file or directory of manifests to apply directly (repeatable).
    #[arg(long = "apply", value_name = "PATH", value_parser = DeployTarget::apply)]
    pub apply: Vec<DeployTarget>,

    /// Namespace for applied objects that name none [default: the environment's
    /// `namespace`, else the kubeconfig's namespace].
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,

    /// Give up waiting after this long (e.g. 90s, 10m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,

    /// Do not request a sync or reconcile; only wait for the controller's own (needs only
    /// get/list/watch).
    #[arg(long)]
    pub observe_only: bool,

    /// On failure or timeout, open the revert merge request (as the `rollback` command)
    /// assigned to the bump's assignees, and link it in the comment.
    #[arg(long)]
    pub rollback_on_failure: bool,

    /// An environment to deploy, with its targets in .gitops-bot.yaml (repeatable) [default:
    /// every environment whose `paths` hold a file the commit changed]. With target flags,
    /// at most one: it only names the comment, label and deployment record.
    #[arg(long, value_name = "NAME")]
    pub environment: Vec<String>,

    #[command(flatten)]
    pub gitlab: GitlabArgs,
}

impl SyncArgs {
    /// Every target given on the command line, in order of kind.
    pub fn targets(&self) -> Vec<DeployTarget> {
        self.argocd_apps
            .iter()
            .chain(&self.flux)
            .chain(&self.apply)
            .cloned()
            .collect()
    }
}

/// `90s`, `10m`, `1h`, `1m30s` or plain seconds; `0s` is no duration here.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = crate::duration::parse(s)?;
    if d.is_zero() && s.parse::<u64>().is_err() {
        return Err(format!(
            "{s:?} is not a duration like 90s, 10m, 1h or 1m30s"
        ));
    }
    Ok(d)
}

pub use crate::usage::UsageError;

/// The comment command (`deploy`, `hold`, …) that clap's "unrecognized subcommand" error is
/// about, if it is one: someone ran `gitops-bot deploy` instead of writing it on the merge
/// request.
pub fn comment_command(err: &clap::Error) -> Option<&'static str> {
    if err.kind() != ErrorKind::InvalidSubcommand {
        return None;
    }
    let Some(ContextValue::String(word)) = err.get(ContextKind::InvalidSubcommand) else {
        return None;
    };
    crate::commands::VERBS
        .iter()
        .copied()
        .find(|verb| verb == word)
}

/// What to say instead of clap's error for [`comment_command`]s.
pub fn comment_command_message(verb: &str) -> String {
    format!(
        "`{verb}` is a comment command: write `gitops-bot {verb}` in a comment on the bot's merge request"
    )
}

/// A duration as [`parse_duration`] reads it, of at least one second.
fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("{s:?} is no time at all: give at least 1s"));
    }
    Ok(d)
}

/// What every comment-command mode needs.
#[derive(Debug, Args)]
pub struct CommentModeArgs {
    /// The config project whose bump merge requests take commands [default: $CI_PROJECT_PATH].
    #[arg(long, value_name = "ID|PATH")]
    pub project: Option<String>,

    /// The word that starts a command line (`gitops-bot deploy`); `@<bot username>` works too
    /// [default: `command_prefix` of .gitops-bot.yaml on the default branch, else gitops-bot].
    #[arg(long, value_name = "WORD")]
    pub command_prefix: Option<String>,

    #[command(flatten)]
    pub gitlab: GitlabArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    pub listen: std::net::SocketAddr,

    /// When a bot merge request is merged (a `merge` merge request event), sync the merged
    /// commit as the pipeline's `sync` job would: the environments whose paths it changed,
    /// the result comment, label and deployment record. For teams without a post-merge
    /// pipeline; needs the cluster access of `sync`. Off by default.
    #[arg(long)]
    pub sync_on_merge: bool,

    /// Deliveries waiting to be processed; beyond this, 503 (GitLab retries).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub queue: usize,

    /// Largest accepted delivery, in bytes (note events embed the MR description).
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body: usize,

    /// A request's headers must arrive in full within this time, counted from the
    /// connection's opening or from the previous answer on a kept-alive connection; else the
    /// connection is closed. Bounds silent, slow-header and idle kept-alive clients
    /// (GitLab itself gives up on a delivery after about 10 s).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub header_timeout: std::time::Duration,

    /// A connection on which no byte moves in either direction for this long while the
    /// service waits on it (a stalled body, a client that does not read the answer) is
    /// closed.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub idle_timeout: std::time::Duration,

    /// Connections held at once. Beyond it a new connection gets 503 and is closed at once,
    /// so a flood neither queues up nor runs the process out of file descriptors.
    /// 1024 is far above what GitLab needs (one short connection per delivery) and keeps
    /// buffers to about 64 MiB; keep it below the open-file limit (`ulimit -n`; the service
    /// warns at start-up when it is not).
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// A config project whose bump merge requests take commands (repeatable): its full
    /// path, its numeric ID, `GROUP/*` (the projects directly in the group) or `GROUP/**`
    /// (also those of its subgroups), for one group webhook serving a team's config repos.
    /// A delivery's project path only routes it: the project is read from the API (GET
    /// /projects/:id) and must still match before anything is done. Deliveries from other
    /// projects get 200 and are ignored (counted in gitops_bot_events_unmatched_total)
    /// [default: $CI_PROJECT_PATH].
    #[arg(long = "project", value_name = "ID|PATH|GROUP/*|GROUP/**",
          value_parser = crate::project_pattern::ProjectPattern::parse)]
    pub projects: Vec<crate::project_pattern::ProjectPattern>,

    /// The word that starts a command line (`gitops-bot deploy`) in every served project;
    /// `@<bot username>` works too [default: `command_prefix` of each project's
    /// .gitops-bot.yaml on its default branch, else gitops-bot].
    #[arg(long, value_name = "WORD")]
    pub command_prefix: Option<String>,

    /// Also run the drift pass (what `gitops-bot drift` does: observe read-only, keep each
    /// environment's drift issue true) in the background, about every DURATION (with up to
    /// 20% of random jitter, so that replicas do not fire together), one project at a time,
    /// for every allowed project whose .gitops-bot.yaml lists environments with targets.
    /// Globs are listed again through the API on every round (archived projects are
    /// skipped). A pass that fails is logged and counted, never fatal; it writes nothing it
    /// could not establish. A pass does not wait for `drift.confirm`: consecutive passes
    /// count towards it instead. Needs the cluster access of `drift` (KUBE_API_URL + KUBE_TOKEN,
    /// KUBECONFIG, or the in-cluster service account, bound to deploy/rbac/drift/). Off by
    /// default. /metrics then has gitops_bot_drift_passes_total and gitops_bot_drift_state.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub drift_every: Option<std::time::Duration>,

    /// With --drift-every: after each drift issue write, POST one alert for that environment
    /// to URL, as `drift --alert-url` does (bearer token from GITOPS_BOT_ALERT_TOKEN, never
    /// printed). An alert that fails is logged and counted; the next change sends again.
    #[arg(long, value_name = "URL", value_parser = crate::alerts::parse_url,
          requires = "drift_every")]
    pub alert_url: Option<url::Url>,

    #[command(flatten)]
    pub gitlab: GitlabArgs,
}

#[derive(Debug, Args)]
pub struct HandleEventArgs {
    /// The webhook payload (JSON) to process.
    #[arg(long, value_name = "FILE", env = "TRIGGER_PAYLOAD")]
    pub payload: PathBuf,

    #[command(flatten)]
    pub common: CommentModeArgs,
}

#[derive(Debug, Args)]
pub struct PollArgs {
    /// Also look at bot merge requests merged within this many days (for `rollback`); on
    /// open drift issues, only comments made within this many days are commands.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub merged_within_days: u32,

    #[command(flatten)]
    pub common: CommentModeArgs,
}

/// How to reach GitLab. The token is read from GITLAB_TOKEN only, never from a flag, so it
/// does not show in process lists or CI logs.
#[derive(Debug, Args)]
pub struct GitlabArgs {
    /// GitLab server or API URL [default: $CI_API_V4_URL, else $CI_SERVER_URL].
    #[arg(long, value_name = "URL")]
    pub gitlab_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("target")
        .required(true)
        .args(["local", "project"])
))]
pub struct BumpArgs {
    /// The new image: `REF:TAG`, `REF@DIGEST` or `REF:TAG@DIGEST`
    /// (e.g. registry.example.com/group/helloworld:ci-35). Repeat it to deploy several
    /// images of distinct repositories in one commit and one merge request ("Deploy 2 images
    /// to prod"); if any of them is referenced nowhere, nothing is written.
    #[arg(
        long = "image",
        value_name = "REF:TAG[@DIGEST]",
        value_parser = parse_image,
        required = true
    )]
    pub images: Vec<ImageRef>,

    /// Edit the checkout in DIR instead of the GitLab project (no server needed).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["project", "target_branch", "assignees", "reviewers", "labels", "template", "dotenv", "reopen"]
    )]
    pub local: Option<PathBuf>,

    /// The config project on GitLab: numeric ID or full path (group/helloworld-ops).
    #[arg(long, value_name = "ID|PATH")]
    pub project: Option<String>,

    /// Only search under this directory of the repository (repeatable).
    #[arg(long = "path", value_name = "SUBDIR")]
    pub paths: Vec<PathBuf>,

    /// Use the paths of this environment from .gitops-bot.yaml (and name it in the MR); with
    /// its `auto_deploy`, ask GitLab to merge the MR when its pipeline succeeds.
    #[arg(long, value_name = "NAME", conflicts_with = "paths")]
    pub environment: Option<String>,

    /// Branch the merge request targets [default: the project's default branch].
    #[arg(long, value_name = "BRANCH")]
    pub target_branch: Option<String>,

    /// Assign the merge request to this GitLab user (repeatable) [default: the environment's
    /// `operators` in .gitops-bot.yaml, else the top-level `operators`].
    #[arg(long = "assignee", value_name = "USER")]
    pub assignees: Vec<String>,

    /// Ask this GitLab user to review (repeatable) [default: `reviewers` of .gitops-bot.yaml].
    #[arg(long = "reviewer", value_name = "USER")]
    pub reviewers: Vec<String>,

    /// Put this label on the merge request (repeatable) [default: `labels` of
    /// .gitops-bot.yaml].
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,

    /// A minijinja template for the merge request description (replaces the built-in
    /// templates/messages/merge_request.md.j2).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,

    /// Write GITOPS_BOT_MR_IID, GITOPS_BOT_MR_URL and GITOPS_BOT_BRANCH to FILE (a GitLab CI
    /// dotenv report for later jobs).
    #[arg(long, value_name = "FILE")]
    pub dotenv: Option<PathBuf>,

    /// Reopen the bot's merge request for this version if a person closed it.
    #[arg(long)]
    pub reopen: bool,

    #[command(flatten)]
    pub gitlab: GitlabArgs,

    /// Only change fields marked `# {"$imagepolicy": "NS:POLICY[:tag|:name|:digest]"}`
    /// for this Flux image policy, and nothing else.
    #[arg(long, value_name = "NS:POLICY", value_parser = parse_setter)]
    pub setter: Option<String>,

    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Treat warnings (unparsable or skipped files, references that cannot be edited) as
    /// errors: print them and write nothing.
    #[arg(long)]
    pub strict: bool,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

impl BumpArgs {
    /// The images, checked beyond what parsing checks: distinct repositories, and one image
    /// with `--setter` (a Flux image policy selects one image).
    pub fn checked_images(&self) -> Result<&[ImageRef], UsageError> {
        crate::bump::distinct_repositories(&self.images).map_err(UsageError)?;
        if self.setter.is_some() && self.images.len() > 1 {
            return Err(UsageError::new(
                "--setter names one Flux image policy: give one --image with it",
            ));
        }
        Ok(&self.images)
    }
}

fn parse_image(s: &str) -> Result<ImageRef, String> {
    let image = ImageRef::parse(s).map_err(|e| e.to_string())?;
    if !image.has_version() {
        return Err(format!(
            "{s:?} has no tag or digest: give the version to deploy, e.g. {s}:1.2.3"
        ));
    }
    Ok(image)
}

fn parse_setter(s: &str) -> Result<String, String> {
    let ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    };
    match s.split_once(':') {
        Some((ns, name)) if ok(ns) && ok(name) => Ok(s.to_string()),
        _ => Err(format!(
            "{s:?} is not NAMESPACE:POLICY (lowercase Kubernetes names), e.g. flux-system:podinfo"
        )),
    }
}

impl Cli {
    /// Logs go to stderr; stdout is kept for results. Coloured only on a terminal, and
    /// never with `NO_COLOR`.
    pub fn init_logging(&self) {
        // The audit events of comment commands (target `audit`) are always on.
        let default = match self.verbose {
            0 => "warn,audit=info",
            1 => "gitops_bot=debug,audit=info",
            _ => "gitops_bot=trace,audit=info",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ))
            .with_target(false)
            .init();
    }
}

/// Whether output to a stream gets colour codes: only on a terminal, and not when
/// `NO_COLOR` holds anything (<https://no-color.org>). GitLab CI's job log renders colour but
/// is not a terminal, so it gets none either.
fn colour(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(true, Some(OsStr::new("false"))));
        assert!(!colour(false, None));
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
