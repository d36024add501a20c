//! Waiting for one object to reach a verdict, driven by a watch (never by polling), as
//! kube-runtime's `await_condition` does, but reporting every change of assessment on the
//! way. kube-runtime's watcher resumes a dropped watch from the last resourceVersion and
//! re-lists after `410 Gone`, so a transition is never missed: the latest state is always
//! seen. The deadline is the caller's.

use std::time::Instant;

use futures_util::StreamExt;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use serde_json::Value;

use super::{ClusterError, Subject, dynamic_api, error_text, status_line};
use crate::health::{Assessment, Verdict};

/// What a wait saw last.
#[derive(Debug)]
pub struct LastSeen {
    /// The last assessment: a verdict, or still pending when the deadline passed (`None`
    /// when nothing was seen by then).
    pub assessment: Option<Assessment>,
    /// The object as last seen (`Null` if it is gone or was never seen).
    pub object: Value,
}

/// Watches `namespace/name` of `resource` until `assess` gives a verdict or `deadline`
/// passes; `on_change` sees every new assessment. A missing object settles as failed.
pub async fn until_settled(
    client: &Client,
    resource: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    deadline: Instant,
    mut assess: impl FnMut(&Value) -> Assessment,
    mut on_change: impl FnMut(&Assessment),
) -> Result<LastSeen, ClusterError> {
    let api: Api<DynamicObject> = dynamic_api(client, resource, namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut last: Option<Assessment> = None;
    let mut object = Value::Null;
    let mut seen_in_init = false;
    let subject = Subject {
        verb: "watch",
        resource,
        namespace,
        name: Some(name),
    };
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = match tokio::time::timeout(remaining, stream.next()).await {
            Err(_) | Ok(None) => {
                return Ok(LastSeen {
                    assessment: last,
                    object,
                });
            }
            Ok(Some(event)) => event,
        };
        let assessment = match event {
            Ok(Event::Init) => {
                seen_in_init = false;
                continue;
            }
            Ok(Event::InitApply(obj)) | Ok(Event::Apply(obj)) => {
                seen_in_init = true;
                object = serde_json::to_value(&obj).unwrap_or(Value::Null);
                assess(&object)
            }
            Ok(Event::InitDone) if seen_in_init => continue,
            Ok(Event::InitDone) | Ok(Event::Delete(_)) => {
                object = Value::Null;
                Assessment::missing(&format!("{} {name}", resource.kind))
            }
            Err(err) => {
                if let Some(fatal) = fatal(&subject, err) {
                    return Err(fatal);
                }
                continue;
            }
        };
        if last.as_ref() != Some(&assessment) {
            on_change(&assessment);
            last = Some(assessment.clone());
        }
        if assessment.verdict != Verdict::Pending {
            return Ok(LastSeen {
                assessment: Some(assessment),
                object,
            });
        }
    }
}

/// Watch errors that retrying cannot cure (403, 404 of the resource type); others are
/// logged and the watcher retries with backoff.
fn fatal(subject: &Subject<'_>, err: watcher::Error) -> Option<ClusterError> {
    let (verb, source) = match err {
        watcher::Error::InitialListFailed(e) => ("list", e),
        watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => ("watch", e),
        watcher::Error::WatchError(status) => {
            tracing::debug!(code = status.code, message = %status.message, "watch error; resuming");
            return None;
        }
        watcher::Error::NoResourceVersion => {
            return Some(ClusterError::NoResourceVersion {
                kind: subject.resource.kind.clone(),
            });
        }
    };
    match &source {
        kube::Error::Api(status) if status.code == 403 => Some(
            Subject {
                verb,
                ..subject.clone()
            }
            .error(source),
        ),
        kube::Error::Api(status) if status.code == 404 => Some(ClusterError::NotServed {
            resource: subject.resource.api_version.clone() + " " + &subject.resource.kind,
            detail: status_line(status),
        }),
        _ => {
            tracing::info!("watch interrupted ({}); resuming", error_text(&source));
            None
        }
    }
}
