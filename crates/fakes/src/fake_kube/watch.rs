//! Watch streams: what the API server's watch cache sends on `?watch=true`.
//!
//! Simulates: one JSON event per line (`{"type":"ADDED|MODIFIED|DELETED|
//! BOOKMARK|ERROR","object":{…}}`) in a chunked 200 answer; with no
//! `resourceVersion` (or `"0"`) a synthetic `ADDED` for every matching object
//! first; from an RV, a replay of every later change; then live changes. As
//! in the watch cache, a change that makes an object stop matching the
//! selectors is sent as `DELETED` (the old object at the new RV) and one that
//! makes it start matching as `ADDED`. `BOOKMARK`s (kind, apiVersion and
//! `metadata.resourceVersion` only) every `Options::bookmark_interval` when
//! `allowWatchBookmarks=true`; `sendInitialEvents=true` ends the initial
//! events with a bookmark annotated `k8s.io/initial-events-end: "true"`. An
//! RV older than the last compaction gets 200 and a single `ERROR` event
//! whose object is a 410 `Expired` Status (`too old resource version: X
//! (Y)`), then the stream ends. `timeoutSeconds` ends the stream cleanly;
//! `FakeKube::drop_watches` cuts it abruptly (no terminating chunk).
//!
//! Does not simulate: the real server's random default timeout (absent
//! `timeoutSeconds` means 1800 s here), a watch from an RV newer than the
//! store (the real server waits, then answers 504 "Too large resource
//! version"; here it simply waits for that RV), progress-notify or
//! `resourceVersionMatch` semantics, and websocket or protobuf watches.

use std::collections::VecDeque;
use std::future::pending;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::{Value, json};
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::Shared;
use super::kinds::KINDS;
use super::select::Filter;
use super::status;
use super::store::{Change, ChangeType};

/// How long a cut stream waits so the events already handed to hyper are
/// flushed before the connection is aborted.
const FLUSH_GRACE: Duration = Duration::from_millis(30);

/// Where a watch starts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Start {
    /// No `resourceVersion`, or `"0"`: current state first, then changes.
    Now,
    /// Changes after this RV.
    After(u64),
}

pub(crate) struct Params {
    pub filter: Filter,
    pub start: Start,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Duration,
}

struct Line {
    bytes: Bytes,
    /// An object event (counted by `events_sent`), not a bookmark or error.
    object: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Live,
    /// Send what is queued, then end cleanly.
    Ending,
    /// Cut the connection.
    Abort,
    Done,
}

/// Decrements the open-watch count however the stream ends.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        let open = &self.0.open_watches;
        self.0
            .watch_activity(|| open.fetch_sub(1, Ordering::SeqCst));
    }
}

struct Watch {
    shared: Arc<Shared>,
    filter: Filter,
    queue: VecDeque<Line>,
    rx: Option<broadcast::Receiver<Arc<Change>>>,
    kill: tokio::sync::watch::Receiver<u64>,
    deadline: Instant,
    bookmark: Option<Interval>,
    /// Bookmarks never go below where the client asked to start.
    min_rv: u64,
    phase: Phase,
    _guard: OpenGuard,
}

enum Wake {
    Kill(bool),
    Timeout,
    Change(Result<Arc<Change>, RecvError>),
    Tick,
}

fn event_line(kind: &str, object: &Value) -> Line {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    serde_json::to_writer(&mut out, object).expect("a JSON value serializes");
    out.extend_from_slice(b"}\n");
    Line {
        bytes: Bytes::from(out),
        object: kind != "BOOKMARK" && kind != "ERROR",
    }
}

fn bookmark_line(kind: usize, rv: u64, initial_events_end: bool) -> Line {
    let k = &KINDS[kind];
    let mut metadata = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line(
        "BOOKMARK",
        &json!({"kind": k.kind, "apiVersion": k.api_version(), "metadata": metadata}),
    )
}

/// The event one watcher sees for one change, if any (cacher semantics).
fn convert(filter: &Filter, change: &Change) -> Option<Line> {
    if change.kind != filter.kind {
        return None;
    }
    let now = change.change != ChangeType::Deleted && filter.matches(&change.object);
    let before = change.prev.as_ref().is_some_and(|p| filter.matches(p));
    match (change.change, before, now) {
        (ChangeType::Deleted, true, _) => Some(event_line("DELETED", &change.object)),
        (ChangeType::Deleted, false, _) => None,
        (_, false, true) => Some(event_line("ADDED", &change.object)),
        (_, true, true) => Some(event_line("MODIFIED", &change.object)),
        (_, true, false) => {
            // The old object, at the RV of the change that moved it out.
            let mut old = (**change.prev.as_ref().expect("before implies prev")).clone();
            old["metadata"]["resourceVersion"] = json!(change.rv.to_string());
            Some(event_line("DELETED", &old))
        }
        (_, false, false) => None,
    }
}

async fn recv(rx: &mut Option<broadcast::Receiver<Arc<Change>>>) -> Result<Arc<Change>, RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => pending().await,
    }
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => pending().await,
    }
}

impl Watch {
    /// Queues the changes already broadcast up to the current RV, then a
    /// bookmark at that RV, so the bookmark never skips an undelivered event.
    fn bookmark_now(&mut self) {
        let rv = {
            let st = self.shared.state();
            if let Some(rx) = &mut self.rx {
                loop {
                    match rx.try_recv() {
                        Ok(change) => {
                            if let Some(line) = convert(&self.filter, &change) {
                                self.queue.push_back(line);
                            }
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(_) => {
                            // Lagged or closed: end; the client resumes.
                            self.phase = Phase::Ending;
                            return;
                        }
                    }
                }
            }
            st.rv
        };
        self.queue
            .push_back(bookmark_line(self.filter.kind, rv.max(self.min_rv), false));
    }

    async fn next(&mut self) -> Option<Result<Bytes, io::Error>> {
        loop {
            if self.phase != Phase::Done && self.kill.has_changed().unwrap_or(false) {
                self.phase = Phase::Abort;
            }
            match self.phase {
                Phase::Done => return None,
                Phase::Abort => {
                    tokio::time::sleep(FLUSH_GRACE).await;
                    self.phase = Phase::Done;
                    return Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "fake-kube dropped the watch",
                    )));
                }
                Phase::Live | Phase::Ending => {}
            }
            if let Some(line) = self.queue.pop_front() {
                if line.object {
                    self.shared.count_event();
                }
                return Some(Ok(line.bytes));
            }
            if self.phase == Phase::Ending {
                self.phase = Phase::Done;
                return None;
            }
            let wake = {
                let Watch {
                    kill,
                    rx,
                    bookmark,
                    deadline,
                    ..
                } = self;
                tokio::select! {
                    biased;
                    r = kill.changed() => Wake::Kill(r.is_ok()),
                    _ = tokio::time::sleep_until(*deadline) => Wake::Timeout,
                    r = recv(rx) => Wake::Change(r),
                    _ = tick(bookmark) => Wake::Tick,
                }
            };
            match wake {
                Wake::Kill(true) => self.phase = Phase::Abort,
                // The server is shutting down.
                Wake::Kill(false) | Wake::Timeout => self.phase = Phase::Done,
                Wake::Change(Ok(change)) => {
                    if let Some(line) = convert(&self.filter, &change) {
                        self.queue.push_back(line);
                    }
                }
                // Lagged behind the broadcast: end cleanly so the client
                // resumes from its last RV (replayed from history).
                Wake::Change(Err(_)) => self.phase = Phase::Done,
                Wake::Tick => self.bookmark_now(),
            }
        }
    }
}

/// Opens a watch: decides under the store lock what to replay and
/// subscribes to live changes, so nothing is missed or sent twice.
pub(crate) fn open(
    shared: Arc<Shared>,
    p: Params,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    // Subscribed before the watch counts as open: a `drop_watches` from anyone who saw it
    // open (`FakeKube::wait_for_open_watches`) cuts it.
    let kill = shared.kill.subscribe();
    let mut queue = VecDeque::new();
    let mut phase = Phase::Live;
    let mut rx = None;
    let mut min_rv = 0;
    {
        let st = shared.state();
        match p.start {
            Start::After(from) if !p.send_initial_events && from < st.compacted_rv => {
                let msg = format!("too old resource version: {from} ({})", st.compacted_rv);
                let err = status::expired(&msg);
                queue.push_back(event_line("ERROR", &err.body));
                phase = Phase::Ending;
            }
            Start::After(from) if !p.send_initial_events => {
                rx = Some(st.subscribe());
                min_rv = from;
                let first = st.history.partition_point(|c| c.rv <= from);
                queue.extend(
                    st.history[first..]
                        .iter()
                        .filter_map(|c| convert(&p.filter, c)),
                );
            }
            _ => {
                rx = Some(st.subscribe());
                let ns = p.filter.namespace.as_deref();
                queue.extend(
                    st.of_kind(p.filter.kind, ns)
                        .filter(|o| p.filter.matches(o))
                        .map(|o| event_line("ADDED", o)),
                );
                if p.send_initial_events && p.bookmarks {
                    queue.push_back(bookmark_line(p.filter.kind, st.rv, true));
                }
            }
        }
    }
    shared.watch_activity(|| shared.open_watches.fetch_add(1, Ordering::SeqCst));
    let bookmark = (p.bookmarks && phase == Phase::Live).then(|| {
        let every = shared
            .options
            .bookmark_interval
            .max(Duration::from_millis(1));
        let mut i = tokio::time::interval_at(Instant::now() + every, every);
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        i
    });
    let watch = Watch {
        kill,
        _guard: OpenGuard(shared.clone()),
        shared,
        filter: p.filter,
        queue,
        rx,
        deadline: Instant::now() + p.timeout,
        bookmark,
        min_rv,
        phase,
    };
    futures_util::stream::unfold(watch, |mut w| async move {
        let item = w.next().await?;
        Some((item, w))
    })
}
