//! `serve`: the webhook service. Answers within milliseconds and does the work on a
//! bounded queue.
//!
//! GitLab disables a hook that answers 4xx (permanently) or times out (temporarily), so only
//! a wrong secret (401), an oversized body (413) and a body that is not JSON (400) get a 4xx:
//! every other delivery is acknowledged with 200, and events of no interest are dropped
//! there. A full queue answers 503 so GitLab retries later. Deliveries are de-duplicated by
//! their delivery key; every action is SHA-pinned and idempotent, so replicas behind one
//! Service may see the same event without harm. State is in memory only. Connections are
//! bounded in number and in silence (see `http_server`).
//!
//! Many projects (`--project` globs, see `projects`): a delivery is routed by its project,
//! confirmed through the API, and answered by that project's dispatcher. With
//! `--drift-every`, the drift loop (`agent`) runs beside the webhooks.

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::alerts::{self, AlertClient};
use crate::cli::{ServeArgs, UsageError};
use crate::cluster;
use crate::env;
use crate::gitlab::Token;
use crate::gitlab::hooks::{Event, HookError, delivery_key, parse_event};
use crate::project_pattern::ProjectPattern;
mod agent;
mod http_server;
mod projects;

use crate::workflows::comments::{Dispatcher, Outcome, Trigger};
use agent::{Agent, DriftMetrics};
use http_server::{ConnectionStats, Limits};
use projects::{Projects, Refused};

/// Delivery keys remembered for de-duplication.
const DEDUP_CAPACITY: usize = 16_384;
/// The longest a delivery waits for GitLab to confirm a project seen for the first time.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one event may take (GitLab calls included) before it is abandoned.
const EVENT_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Metrics {
    received: AtomicU64,
    too_large: AtomicU64,
    unauthorized: AtomicU64,
    malformed: AtomicU64,
    ignored: AtomicU64,
    unmatched: AtomicU64,
    duplicates: AtomicU64,
    queued: AtomicU64,
    rejected_full: AtomicU64,
    queue_depth: AtomicU64,
    done: AtomicU64,
    answered: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    gitlab_errors: AtomicU64,
}

/// Remembers recent delivery keys, oldest forgotten first.
#[derive(Default)]
struct Dedup {
    seen: HashSet<String>,
    order: VecDeque<String>,
}

impl Dedup {
    /// `true` when the key is new (and now remembered).
    fn insert(&mut self, key: &str) -> bool {
        if self.seen.contains(key) {
            return false;
        }
        if self.order.len() >= DEDUP_CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen.insert(key.to_string());
        self.order.push_back(key.to_string());
        true
    }

    fn forget(&mut self, key: &str) {
        if self.seen.remove(key) {
            self.order.retain(|k| k != key);
        }
    }
}

/// One unit of work: a trigger and the dispatcher of its project.
type Job = (Arc<Dispatcher>, Trigger);

struct App {
    secret: Vec<u8>,
    queue: mpsc::Sender<Job>,
    dedup: Mutex<Dedup>,
    metrics: Arc<Metrics>,
    drift: Arc<DriftMetrics>,
    projects: Projects,
    ready: Arc<AtomicBool>,
    connections: Arc<ConnectionStats>,
    max_connections: u32,
    max_body: usize,
}

pub async fn run(args: &ServeArgs) -> Result<ExitCode> {
    let secret = std::env::var("GITOPS_BOT_WEBHOOK_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .context("GITOPS_BOT_WEBHOOK_SECRET is not set: set it to the secret token configured on the GitLab webhook")?;
    let patterns = if args.projects.is_empty() {
        vec![ProjectPattern::parse(&super::project_or_ci(None)?).map_err(UsageError)?]
    } else {
        args.projects.clone()
    };
    let gitlab = super::connect(&args.gitlab)?;
    let bot = gitlab
        .current_user()
        .await
        .context("cannot read the bot's own user (GET /user)")?;
    let projects = Projects::new(
        gitlab.clone(),
        bot,
        patterns.clone(),
        args.command_prefix.clone(),
        args.sync_on_merge,
    );
    projects.preload().await?;
    // Everything the drift loop needs is set up before the service answers, so that a
    // missing cluster configuration or a bad alert setup fails the start.
    let agent = match args.drift_every {
        Some(every) => Some(Agent {
            gitlab,
            cluster: cluster::connect()
                .await
                .context("--drift-every needs read access to the cluster (deploy/rbac/drift/)")?,
            patterns,
            every,
            alerts: match &args.alert_url {
                Some(url) => Some(AlertClient::new(
                    url.clone(),
                    env::var(alerts::TOKEN_VAR).map(Token::new),
                )?),
                None => None,
            },
            seen: Default::default(),
        }),
        None => None,
    };
    let drift = Arc::new(DriftMetrics::default());
    let (stop_drift, drift_stopped) = tokio::sync::watch::channel(());
    let drift_loop = agent.map(|a| tokio::spawn(a.run(drift.clone(), drift_stopped)));
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(true));
    let limits = Limits {
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections,
    };
    let connections = Arc::new(ConnectionStats::default());
    let (sender, receiver) = mpsc::channel(args.queue.max(1));
    let worker = tokio::spawn(work(receiver, metrics.clone()));
    let app = Arc::new(App {
        secret: secret.into_bytes(),
        queue: sender,
        dedup: Mutex::default(),
        metrics,
        drift,
        projects,
        ready: ready.clone(),
        connections: connections.clone(),
        max_connections: limits.max_connections,
        max_body: args.max_body,
    });
    let router = Router::new()
        .route("/webhook", post(webhook))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(app);
    // Before anyone can learn the address: from here on SIGTERM drains instead of killing.
    let stop = shutdown(ready);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        header_timeout = ?limits.header_timeout,
        idle_timeout = ?limits.idle_timeout,
        max_connections = limits.max_connections,
        "serving webhooks at /webhook"
    );
    eprintln!("listening on {}", listener.local_addr()?);
    http_server::serve(listener, router, limits, connections, stop).await;
    drop(stop_drift);
    if let Some(drift_loop) = drift_loop {
        drift_loop
            .await
            .context("the drift loop stopped abnormally")?;
    }
    // The router (and with it the queue's sender) is gone: the worker drains and stops.
    worker.await.context("the worker stopped abnormally")?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGTERM or SIGINT, after marking the server not ready. The handlers are
/// installed here, before the future is first polled: the accept loop may go some time
/// without polling it (a burst of connections), and until a handler exists, SIGTERM would
/// kill the process instead of draining it.
fn shutdown(ready: Arc<AtomicBool>) -> impl Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot handle SIGTERM/SIGINT: stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        ready.store(false, Ordering::SeqCst);
        tracing::info!("shutting down: no new deliveries, draining the queue");
    }
}

async fn work(mut receiver: mpsc::Receiver<Job>, metrics: Arc<Metrics>) {
    while let Some((dispatcher, trigger)) = receiver.recv().await {
        metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
        // Every log line and audit event of this trigger carries what it is about.
        let project = dispatcher.project();
        let span = match &trigger {
            Trigger::Note { iid, note_id, .. } => {
                tracing::info_span!("trigger", project, merge_request = iid, note = note_id)
            }
            Trigger::Approval { iid, user, .. } => {
                tracing::info_span!("trigger", project, merge_request = iid, approval_by = %user.username)
            }
            Trigger::IssueNote { iid, note_id } => {
                tracing::info_span!("trigger", issue = iid, note = note_id)
            }
            Trigger::Merged { iid } => tracing::info_span!("trigger", merged = iid),
        };
        let handled = tokio::time::timeout(EVENT_TIMEOUT, dispatcher.handle(&trigger))
            .instrument(span)
            .await;
        let counter = match handled {
            Ok(Ok(Outcome::Done)) => &metrics.done,
            Ok(Ok(Outcome::Answered)) => &metrics.answered,
            Ok(Ok(Outcome::Refused)) => &metrics.refused,
            Ok(Ok(Outcome::Ignored)) => &metrics.ignored,
            Ok(Ok(Outcome::Failed)) => &metrics.failed,
            Ok(Err(e)) => {
                tracing::error!(?trigger, error = %format!("{e:#}"), "event failed");
                metrics.gitlab_errors.fetch_add(1, Ordering::Relaxed);
                &metrics.failed
            }
            Err(_) => {
                tracing::error!(?trigger, "event abandoned after {EVENT_TIMEOUT:?}");
                &metrics.failed
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Constant-time comparison: the time taken does not reveal how much of a guess matched.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ e);
    }
    diff == 0
}

/// The secret is checked before a byte of the body is read, so a client without it never
/// gets the service to buffer a body (up to `--max-body` per connection) on its behalf.
async fn webhook(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> (StatusCode, &'static str) {
    let m = &app.metrics;
    m.received.fetch_add(1, Ordering::Relaxed);
    let token = headers
        .get("x-gitlab-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same_secret(token, &app.secret) {
        m.unauthorized.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::UNAUTHORIZED,
            "wrong or missing X-Gitlab-Token\n",
        );
    }
    let too_large = (
        StatusCode::PAYLOAD_TOO_LARGE,
        "the body is over --max-body (or was not sent whole)\n",
    );
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > app.max_body) {
        m.too_large.fetch_add(1, Ordering::Relaxed);
        return too_large;
    }
    let Ok(body) = axum::body::to_bytes(body, app.max_body).await else {
        m.too_large.fetch_add(1, Ordering::Relaxed);
        return too_large;
    };
    let kind = headers.get("x-gitlab-event").and_then(|v| v.to_str().ok());
    let event = match parse_event(kind, &body) {
        Ok(e) => e,
        Err(HookError::NotJson(_)) => {
            m.malformed.fetch_add(1, Ordering::Relaxed);
            return (StatusCode::BAD_REQUEST, "the body is not JSON\n");
        }
        Err(e) => {
            tracing::debug!(error = %e, "delivery without the fields the bot needs: ignored");
            m.ignored.fetch_add(1, Ordering::Relaxed);
            return (StatusCode::OK, "ignored\n");
        }
    };
    let Some((project_id, project_path)) = project_of(&event) else {
        m.ignored.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::OK, "ignored\n");
    };
    if !crate::project_pattern::allowed(app.projects.patterns(), project_id, project_path) {
        m.unmatched.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::OK, "ignored\n");
    }
    // Only what may be a command goes on to GitLab (a project seen for the first time is
    // read from the API), so a group hook's stream of other events costs nothing.
    if Trigger::from_event(&event, project_id).is_none()
        && !(app.projects.sync_on_merge() && Trigger::merged(&event, project_id).is_some())
    {
        m.ignored.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::OK, "ignored\n");
    }
    // A project seen for the first time is read from GitLab while the delivery waits, at
    // most this long: GitLab gives up on a hook after about 10 s.
    let routed = tokio::time::timeout(
        CONFIRM_TIMEOUT,
        app.projects.dispatcher(project_id, project_path),
    )
    .await
    .unwrap_or_else(|_| {
        Err(Refused::Unconfirmed(anyhow::anyhow!(
            "GitLab did not answer within {CONFIRM_TIMEOUT:?}"
        )))
    });
    let dispatcher = match routed {
        Ok(d) => d,
        Err(Refused::Unmatched) => {
            m.unmatched.fetch_add(1, Ordering::Relaxed);
            return (StatusCode::OK, "ignored\n");
        }
        Err(Refused::Unconfirmed(e)) => {
            tracing::error!(project = project_id, error = %format!("{e:#}"), "cannot confirm the delivery's project");
            m.gitlab_errors.fetch_add(1, Ordering::Relaxed);
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot confirm the project with GitLab now, retry later\n",
            );
        }
    };
    let Some(trigger) = dispatcher.trigger_for(&event) else {
        m.ignored.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::OK, "ignored\n");
    };
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let key = delivery_key(&pairs, &event);
    if let Some(key) = &key
        && !app
            .dedup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key)
    {
        m.duplicates.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::OK, "duplicate\n");
    }
    match app.queue.try_send((dispatcher, trigger)) {
        Ok(()) => {
            m.queued.fetch_add(1, Ordering::Relaxed);
            m.queue_depth.fetch_add(1, Ordering::Relaxed);
            (StatusCode::OK, "queued\n")
        }
        Err(_) => {
            if let Some(key) = &key {
                app.dedup
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .forget(key);
            }
            m.rejected_full.fetch_add(1, Ordering::Relaxed);
            (StatusCode::SERVICE_UNAVAILABLE, "busy, retry later\n")
        }
    }
}

/// The project a delivery says it is from (id, path): a hint for routing only.
fn project_of(event: &Event) -> Option<(u64, &str)> {
    match event {
        Event::Note(n) => Some((n.project_id, n.project_path.as_str())),
        Event::MergeRequest(e) => Some((e.project_id, e.project_path.as_str())),
        _ => None,
    }
}

async fn readyz(State(app): State<Arc<App>>) -> (StatusCode, &'static str) {
    if app.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    }
}

/// One metric family of `/metrics` (Prometheus text format): its help and type, then one
/// line per `(labels, value)` (`labels` as written: empty or `{k="v",…}`).
fn write_family<L: AsRef<str>>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    rows: &[(L, u64)],
) {
    let _ = writeln!(
        out,
        "# HELP gitops_bot_{name} {help}\n# TYPE gitops_bot_{name} {kind}"
    );
    for (labels, value) in rows {
        let _ = writeln!(out, "gitops_bot_{name}{} {value}", labels.as_ref());
    }
}

async fn metrics_text(State(app): State<Arc<App>>) -> String {
    let m = &app.metrics;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: &[(&str, u64)]| {
        write_family(&mut out, name, kind, help, rows)
    };
    family(
        "events_received_total",
        "counter",
        "Webhook deliveries received.",
        &[("", get(&m.received))],
    );
    family(
        "events_rejected_total",
        "counter",
        "Deliveries refused before processing.",
        &[
            ("{reason=\"token\"}", get(&m.unauthorized)),
            ("{reason=\"too_large\"}", get(&m.too_large)),
            ("{reason=\"malformed\"}", get(&m.malformed)),
            ("{reason=\"queue_full\"}", get(&m.rejected_full)),
        ],
    );
    family(
        "events_ignored_total",
        "counter",
        "Deliveries of no interest.",
        &[("", get(&m.ignored))],
    );
    family(
        "events_unmatched_total",
        "counter",
        "Deliveries from projects that no --project allows (by the payload, or by GitLab's answer), ignored.",
        &[("", get(&m.unmatched))],
    );
    family(
        "events_duplicate_total",
        "counter",
        "Repeated deliveries acted on once.",
        &[("", get(&m.duplicates))],
    );
    family(
        "events_queued_total",
        "counter",
        "Deliveries queued for processing.",
        &[("", get(&m.queued))],
    );
    family(
        "events_processed_total",
        "counter",
        "Events processed, by outcome.",
        &[
            ("{outcome=\"done\"}", get(&m.done)),
            ("{outcome=\"answered\"}", get(&m.answered)),
            ("{outcome=\"refused\"}", get(&m.refused)),
            ("{outcome=\"failed\"}", get(&m.failed)),
        ],
    );
    family(
        "queue_depth",
        "gauge",
        "Events waiting to be processed.",
        &[("", get(&m.queue_depth))],
    );
    family(
        "gitlab_api_errors_total",
        "counter",
        "Events that failed on a GitLab API error.",
        &[("", get(&m.gitlab_errors))],
    );
    let c = &app.connections;
    family(
        "connections_open",
        "gauge",
        "HTTP connections open now.",
        &[("", get(&c.open))],
    );
    family(
        "connections_max",
        "gauge",
        "Connections held at once (--max-connections); beyond it new ones get 503.",
        &[("", u64::from(app.max_connections))],
    );
    family(
        "connections_accepted_total",
        "counter",
        "HTTP connections accepted and served.",
        &[("", get(&c.accepted))],
    );
    family(
        "connections_rejected_total",
        "counter",
        "Connections answered 503 and closed because every slot was taken.",
        &[("", get(&c.rejected))],
    );
    family(
        "connections_timed_out_total",
        "counter",
        "Connections closed by a timeout: no complete request head within --header-timeout (header), nothing moving for --idle-timeout (idle).",
        &[
            ("{reason=\"header\"}", get(&c.header_timeouts)),
            ("{reason=\"idle\"}", get(&c.idle_timeouts)),
        ],
    );
    app.drift.render(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SIGTERM sent before the shutdown future is first polled (the accept loop may not poll
    /// it for a while when connections keep arriving) is still a graceful shutdown: the
    /// handler exists from the moment the future does. Were it not installed, this signal
    /// would kill the test process.
    #[tokio::test]
    async fn sigterm_before_the_first_poll_is_a_graceful_shutdown() {
        let ready = Arc::new(AtomicBool::new(true));
        let stop = shutdown(ready.clone());
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(30), stop)
            .await
            .expect("the pending SIGTERM ends the shutdown future");
        assert!(!ready.load(Ordering::SeqCst), "no longer ready");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"abcd", b"abc"));
        assert!(!same_secret(b"", b"abc"));
    }

    #[test]
    fn dedup_remembers_and_forgets() {
        let mut d = Dedup::default();
        assert!(d.insert("a"));
        assert!(!d.insert("a"));
        d.forget("a");
        assert!(d.insert("a"));
        for i in 0..DEDUP_CAPACITY + 1 {
            d.insert(&i.to_string());
        }
        assert!(d.insert("a"), "the oldest key is forgotten first");
    }
}
