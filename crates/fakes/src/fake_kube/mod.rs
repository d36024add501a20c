//! A fake Kubernetes API server for integration tests, spoken to by the real
//! `kube` client over plain HTTP on `127.0.0.1`.
//!
//! [`FakeKube::start`] binds `127.0.0.1:0` and serves from its own tokio
//! runtime on a background thread; every control method is synchronous and
//! may be called from any thread while the server runs (a test typically
//! scripts a simulated controller in a thread with [`FakeKube::wait_for`] and
//! [`FakeKube::update`]). Dropping the `FakeKube` stops the server.
//!
//! What it simulates, by file:
//! * `server.rs` — bearer-token auth (401), URL layout and routing, the
//!   request log;
//! * `kinds.rs` — the table of served kinds and discovery (`/version`,
//!   `/api`, `/apis`, resource lists, aggregated discovery);
//! * `handlers.rs` — get, list (selectors, paging), create, update, patch
//!   (merge, JSON, server-side apply), delete (preconditions, finalizers);
//! * `store.rs` — resourceVersion, uid, generation, no-op writes, history;
//! * `watch.rs` — watch streams, bookmarks, 410 after compaction, cut
//!   streams;
//! * `rbac.rs` — deny rules and the real 403 message;
//! * `flux.rs` — a Flux controller answering a reconcile request with the documented
//!   conditions ([`FakeKube::flux_reconcile`]);
//! * `select.rs`, `patch.rs`, `status.rs` — selectors, patch formats,
//!   `Status` errors.
//!
//! Each file's opening comment says what it does *not* simulate. The main
//! deviations from a real API server: server-side apply is a recursive map
//! merge without field ownership; strategic merge patch is 415; no
//! built-in defaulting or schema validation (admission is a Secret's
//! `stringData` and the test's hooks); resourceVersions are small integers
//! starting above 1000.
//!
//! Deadlock rule: the closures given to [`FakeKube::update`] and the
//! predicates of [`FakeKube::wait_for`] run with the store locked, so they
//! must not call back into the `FakeKube`.
#![allow(dead_code)]

mod flux;
mod handlers;
mod kinds;
mod patch;
mod rbac;
mod select;
mod server;
mod status;
mod store;
mod watch;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::broadcast;

#[allow(unused_imports)] // for the test binaries that simulate Flux
pub use flux::{FluxObject, FluxOutcome};
use rbac::{Attributes, Rule};
use status::ApiError;
use store::State;

/// How the fake is started.
#[derive(Clone, Debug)]
pub struct Options {
    /// Every request must carry `Authorization: Bearer <token>`, else 401.
    pub token: String,
    /// How often an open watch that asked for `allowWatchBookmarks=true`
    /// gets a `BOOKMARK` event.
    pub bookmark_interval: Duration,
    /// The user named in 403 messages.
    pub user: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            token: "fake-kube-token".to_string(),
            bookmark_interval: Duration::from_millis(200),
            user: "system:serviceaccount:gitops:gitops-bot".to_string(),
        }
    }
}

/// One request as the fake received and answered it. The token is never logged.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub method: String,
    /// The path as sent on the wire (still percent-encoded).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub content_type: Option<String>,
    pub body: String,
    /// The answer's status code (200 for a watch that started).
    pub status: u16,
    /// When the request arrived.
    pub at: Instant,
}

impl LoggedRequest {
    /// A decoded query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        server::parse_query(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// A GET with `watch=true` (or `1`).
    pub fn is_watch(&self) -> bool {
        self.method == "GET" && matches!(self.param("watch").as_deref(), Some("true" | "1"))
    }
}

/// State shared by the server tasks and the test-facing handle.
struct Shared {
    options: Options,
    address: SocketAddr,
    state: Mutex<State>,
    /// Notified after every store access that may have changed something.
    changed: Condvar,
    /// Bumped to cut every open watch stream.
    kill: tokio::sync::watch::Sender<u64>,
    rules: Mutex<Vec<Rule>>,
    log: Mutex<Vec<LoggedRequest>>,
    logged: Condvar,
    open_watches: AtomicUsize,
    events_sent: AtomicU64,
    /// Held while `open_watches` or `events_sent` changes; `watched` is notified after.
    watch_activity: Mutex<()>,
    watched: Condvar,
    /// While `true`, new watch requests wait unanswered (see [`FakeKube::hold_watches`]).
    hold_watches: tokio::sync::watch::Sender<bool>,
    /// Object events left before every watch is cut; 0 = not armed.
    drop_after: AtomicU64,
    /// The mutating admission hooks, by kind (see [`FakeKube::mutate_on_admission`]).
    mutations: Mutex<Vec<(usize, Mutation)>>,
}

/// A mutating admission hook: changes an object about to be written.
type Mutation = Arc<dyn Fn(&mut Value) + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test closure that panicked while holding a lock must not take the
    // server down with it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Runs `f` on the locked store, then wakes every waiter.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.state());
        self.changed.notify_all();
        r
    }

    /// Runs the mutating admission hooks of `kind` on `obj`.
    fn mutate(&self, kind: usize, obj: &mut Value) {
        let hooks: Vec<Mutation> = lock(&self.mutations)
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, f)| f.clone())
            .collect();
        for f in hooks {
            f(obj);
        }
    }

    fn authorize(&self, a: &Attributes<'_>) -> Result<(), ApiError> {
        rbac::check(&lock(&self.rules), &self.options.user, a)
    }

    fn log_request(&self, r: LoggedRequest) {
        lock(&self.log).push(r);
        self.logged.notify_all();
    }

    fn drop_watches(&self) {
        self.kill.send_modify(|n| *n += 1);
    }

    /// Runs `f` (a change of `open_watches` or `events_sent`) so that a waiter of
    /// [`FakeKube::wait_for_open_watches`] or [`FakeKube::wait_for_events_sent`] cannot miss
    /// it, then wakes them.
    fn watch_activity<R>(&self, f: impl FnOnce() -> R) -> R {
        let r = {
            let _held = lock(&self.watch_activity);
            f()
        };
        self.watched.notify_all();
        r
    }

    /// Called for every object event a watch stream hands to the client.
    fn count_event(&self) {
        self.watch_activity(|| self.events_sent.fetch_add(1, Ordering::SeqCst));
        let left = self
            .drop_after
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if left == Ok(1) {
            self.drop_watches();
        }
    }
}

/// A running fake API server. See the module documentation.
pub struct FakeKube {
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn kind_index(api_version: &str, kind: &str) -> usize {
    kinds::by_kind(api_version, kind)
        .unwrap_or_else(|| panic!("fake-kube does not serve {api_version} {kind}"))
}

fn namespace_for(kind: usize, ns: Option<&str>) -> Option<&str> {
    let k = &kinds::KINDS[kind];
    match (k.namespaced, ns) {
        (true, None) => panic!("{} is namespaced: give a namespace", k.kind),
        (true, ns) => ns,
        (false, _) => None,
    }
}

impl FakeKube {
    /// Starts a server on `127.0.0.1` with a random free port.
    pub fn start(options: Options) -> FakeKube {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", 0)).expect("fake-kube: bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("fake-kube: non-blocking listener");
        let address = listener.local_addr().expect("fake-kube: local address");
        let (events, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared {
            options,
            address,
            state: Mutex::new(State::new(events)),
            changed: Condvar::new(),
            kill: tokio::sync::watch::Sender::new(0),
            rules: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            logged: Condvar::new(),
            open_watches: AtomicUsize::new(0),
            events_sent: AtomicU64::new(0),
            watch_activity: Mutex::new(()),
            watched: Condvar::new(),
            hold_watches: tokio::sync::watch::Sender::new(false),
            drop_after: AtomicU64::new(0),
            mutations: Mutex::new(Vec::new()),
        });
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let app = server::router(shared.clone());
        let thread = std::thread::Builder::new()
            .name(format!("fake-kube-{}", address.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("fake-kube: tokio runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("fake-kube: tokio listener");
                    tokio::select! {
                        r = axum::serve(listener, app).into_future() => {
                            if let Err(e) = r {
                                eprintln!("fake-kube: server stopped: {e}");
                            }
                        }
                        _ = stop => {}
                    }
                });
                // Open connections (watches) are dropped, not awaited.
                rt.shutdown_background();
            })
            .expect("fake-kube: spawn server thread");
        FakeKube {
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.shared.address
    }

    pub fn token(&self) -> &str {
        &self.shared.options.token
    }

    /// Creates or replaces an object as a controller would (status included,
    /// no precondition). It must carry `apiVersion`, `kind`, `metadata.name`
    /// and, for namespaced kinds, `metadata.namespace`. Emits ADDED or
    /// MODIFIED (nothing if nothing changed); returns the stored object.
    pub fn put(&self, obj: Value) -> Value {
        let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = kind_index(&api_version, obj["kind"].as_str().unwrap_or(""));
        let name = obj["metadata"]["name"].as_str().unwrap_or("");
        assert!(!name.is_empty(), "fake-kube put: metadata.name is required");
        let ns = obj["metadata"]["namespace"].as_str();
        namespace_for(kind, ns);
        self.shared
            .with_state(|st| (**st.write(kind, obj).object()).clone())
    }

    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let kind = kind_index(api_version, kind);
        let ns = namespace_for(kind, ns);
        self.shared
            .state()
            .get(kind, ns, name)
            .map(|o| (*o).clone())
    }

    /// Every object of a kind (in `ns` when given), in name order.
    pub fn list(&self, api_version: &str, kind: &str, ns: Option<&str>) -> Vec<Value> {
        let kind = kind_index(api_version, kind);
        let ns = ns.filter(|_| kinds::KINDS[kind].namespaced);
        self.shared
            .state()
            .of_kind(kind, ns)
            .map(|o| (**o).clone())
            .collect()
    }

    /// Changes an object in place as a controller would (status included).
    /// Identity (`name`, `namespace`, `uid`, `creationTimestamp`) is kept;
    /// `resourceVersion` and `generation` are the server's. Emits MODIFIED
    /// unless nothing changed. Panics if the object does not exist.
    pub fn update(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) -> Value {
        let kind_ix = kind_index(api_version, kind);
        let ns = namespace_for(kind_ix, ns);
        let updated = self.shared.with_state(|st| {
            let old = st.get(kind_ix, ns, name)?;
            let mut new = (*old).clone();
            f(&mut new);
            assert!(
                new.is_object(),
                "fake-kube update: the object must stay a JSON object"
            );
            if !new["metadata"].is_object() {
                new["metadata"] = serde_json::json!({});
            }
            new["metadata"]["name"] = name.into();
            if let Some(ns) = ns {
                new["metadata"]["namespace"] = ns.into();
            }
            Some((**st.write(kind_ix, new).object()).clone())
        });
        updated.unwrap_or_else(|| panic!("fake-kube update: {kind} {ns:?}/{name} does not exist"))
    }

    /// Removes an object at once (finalizers are ignored); emits DELETED.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let kind = kind_index(api_version, kind);
        let ns = namespace_for(kind, ns);
        self.shared
            .with_state(|st| st.remove(kind, ns, name))
            .map(|o| (*o).clone())
    }

    /// Blocks until the object exists and satisfies `pred`; returns it.
    /// Panics after `timeout`, showing the object as it is then.
    pub fn wait_for(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let kind_ix = kind_index(api_version, kind);
        let ns = namespace_for(kind_ix, ns);
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state();
        loop {
            let current = st.get(kind_ix, ns, name);
            if let Some(obj) = &current
                && pred(obj)
            {
                return (**obj).clone();
            }
            let now = Instant::now();
            if now >= deadline {
                drop(st);
                let shown = current
                    .map(|o| serde_json::to_string_pretty(&*o).unwrap_or_default())
                    .unwrap_or_else(|| "<absent>".to_string());
                panic!(
                    "fake-kube wait_for: {kind} {ns:?}/{name} did not satisfy the predicate within {timeout:?}; it is now:\n{shown}"
                );
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Blocks until the object does not exist. Panics after `timeout`.
    pub fn wait_for_absent(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        timeout: Duration,
    ) {
        let kind_ix = kind_index(api_version, kind);
        let ns = namespace_for(kind_ix, ns);
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state();
        while st.get(kind_ix, ns, name).is_some() {
            let now = Instant::now();
            assert!(
                now < deadline,
                "fake-kube wait_for_absent: {kind} {ns:?}/{name} still exists after {timeout:?}"
            );
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Forgets the change history: a later watch from an older
    /// resourceVersion gets a 410 `Expired` ERROR event, and outstanding
    /// `continue` tokens become 410 as well.
    pub fn compact(&self) {
        self.shared.with_state(State::compact);
    }

    /// Cuts every open watch stream now, abruptly (no terminating chunk).
    pub fn drop_watches(&self) {
        self.shared.drop_watches();
    }

    /// Cuts every open watch stream right after the next `n` object events
    /// (ADDED/MODIFIED/DELETED, counted across all streams) have been sent.
    /// One-shot; `0` disarms.
    pub fn drop_watches_after(&self, n: u64) {
        self.shared.drop_after.store(n, Ordering::SeqCst);
    }

    /// Makes matching requests fail with 403. `verb` is one of get, list,
    /// watch, create, update, patch, delete, deletecollection (or `*`);
    /// `plural` may name a subresource (`deployments/status`) or be `*`;
    /// `namespace: None` denies everywhere, including cluster scope.
    pub fn forbid(&self, verb: &str, group: &str, plural: &str, namespace: Option<&str>) {
        let rule = Rule {
            verb: verb.to_string(),
            group: group.to_string(),
            resource: plural.to_string(),
            namespace: namespace.map(str::to_string),
        };
        let mut rules = lock(&self.shared.rules);
        if !rules.contains(&rule) {
            rules.push(rule);
        }
    }

    /// Removes a rule added by [`FakeKube::forbid`] with the same arguments.
    pub fn allow(&self, verb: &str, group: &str, plural: &str, namespace: Option<&str>) {
        lock(&self.shared.rules).retain(|r| {
            !(r.verb == verb
                && r.group == group
                && r.resource == plural
                && r.namespace.as_deref() == namespace)
        });
    }

    /// Adds a mutating admission hook for `kind`, standing for defaulting and mutating
    /// webhooks: `f` changes the object of every create, update and patch of that kind
    /// through the API, dry runs included, before it is stored or answered. Objects
    /// written with [`FakeKube::put`] and [`FakeKube::update`] skip it (they are the
    /// stored state as a test sets it). Runs with the store locked: it must not call back
    /// into the `FakeKube`.
    pub fn mutate_on_admission(
        &self,
        api_version: &str,
        kind: &str,
        f: impl Fn(&mut Value) + Send + Sync + 'static,
    ) {
        let kind = kind_index(api_version, kind);
        lock(&self.shared.mutations).push((kind, Arc::new(f)));
    }

    /// Removes every rule added by [`FakeKube::forbid`].
    pub fn allow_all(&self) {
        lock(&self.shared.rules).clear();
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Blocks until a logged request satisfies `pred`; returns the first
    /// such. Panics after `timeout`, listing what was received.
    pub fn wait_for_request(
        &self,
        timeout: Duration,
        pred: impl Fn(&LoggedRequest) -> bool,
    ) -> LoggedRequest {
        let deadline = Instant::now() + timeout;
        let mut log = lock(&self.shared.log);
        loop {
            if let Some(r) = log.iter().find(|r| pred(r)) {
                return r.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let seen: Vec<String> = log
                    .iter()
                    .map(|r| format!("{} {}?{} -> {}", r.method, r.path, r.query, r.status))
                    .collect();
                drop(log);
                panic!(
                    "fake-kube wait_for_request: no matching request within {timeout:?}; received:\n{}",
                    seen.join("\n")
                );
            }
            log = self
                .shared
                .logged
                .wait_timeout(log, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.state().rv
    }

    /// When the store last changed (through the API or a test control).
    pub fn last_change_at(&self) -> Option<Instant> {
        self.shared.state().last_change_at
    }

    /// Object events (not bookmarks or errors) sent on watch streams so far.
    pub fn events_sent(&self) -> u64 {
        self.shared.events_sent.load(Ordering::SeqCst)
    }

    /// Watch streams open right now.
    pub fn open_watches(&self) -> usize {
        self.shared.open_watches.load(Ordering::SeqCst)
    }

    /// Blocks until at least `n` watch streams are open (woken when one opens, no
    /// polling). Panics after `timeout`.
    pub fn wait_for_open_watches(&self, n: usize, timeout: Duration) {
        self.wait_for_watches(
            timeout,
            |open, _| open >= n,
            || format!("{} watch streams open, wanted {n}", self.open_watches()),
        );
    }

    /// Blocks until at least `n` object events (as counted by [`FakeKube::events_sent`])
    /// have been handed to watch clients (woken as each is sent). Panics after `timeout`.
    pub fn wait_for_events_sent(&self, n: u64, timeout: Duration) {
        self.wait_for_watches(
            timeout,
            |_, sent| sent >= n,
            || {
                format!(
                    "{} object events sent on watches, wanted {n}",
                    self.events_sent()
                )
            },
        );
    }

    fn wait_for_watches(
        &self,
        timeout: Duration,
        done: impl Fn(usize, u64) -> bool,
        what: impl Fn() -> String,
    ) {
        let deadline = Instant::now() + timeout;
        let mut held = lock(&self.shared.watch_activity);
        while !done(self.open_watches(), self.events_sent()) {
            let now = Instant::now();
            if now >= deadline {
                drop(held);
                panic!("fake-kube: {} after {timeout:?}", what());
            }
            held = self
                .shared
                .watched
                .wait_timeout(held, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// From now on, new watch requests wait unanswered (as over a slow or broken network)
    /// until [`FakeKube::release_watches`]; their log entries are written when they are
    /// answered. Open watches are not affected. With [`FakeKube::drop_watches`] and
    /// [`FakeKube::compact`] this makes a client resume from a resourceVersion that is
    /// gone by the time its watch is answered (410 Expired), whatever the timing.
    pub fn hold_watches(&self) {
        self.shared.hold_watches.send_replace(true);
    }

    /// Answers the watch requests held by [`FakeKube::hold_watches`], and new ones at once.
    pub fn release_watches(&self) {
        self.shared.hold_watches.send_replace(false);
    }

    /// The resourceVersion of the last [`FakeKube::compact`] (0 before any): a watch from
    /// an older one is answered 410 Expired.
    pub fn compacted_resource_version(&self) -> u64 {
        self.shared.state().compacted_rv
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.shared.drop_watches();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
