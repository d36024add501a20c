//! Why a workload's pods do not come up, read from the cluster: container states of the
//! pods and their newest warning event, one line per stuck container. Used to explain a
//! failed or timed-out deploy, and to fail a direct-apply rollout as soon as its new pods
//! are stuck (`ImagePullBackOff`, `CrashLoopBackOff`…) instead of at the progress deadline.

use std::time::Instant;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{ApiResource, ListParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::{Api, Client};
use serde_json::Value;

use super::{Subject, status_line};
use crate::health::pods::{images, latest_warning, problems};

/// Lines explaining the stuck containers of the pods in `namespace` matching `selector`
/// (all pods when `None`) whose images are `want_images` (any when `None`). Read failures
/// become a line too: explaining is best effort and never fails a deploy by itself.
pub async fn explain(
    client: &Client,
    namespace: &str,
    selector: Option<&str>,
    want_images: Option<&[String]>,
) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut params = ListParams::default();
    if let Some(s) = selector {
        params = params.labels(s);
    }
    let list = match pods.list(&params).await {
        Ok(list) => list,
        Err(e) => {
            let resource = ApiResource::erase::<Pod>(&());
            let subject = Subject {
                verb: "list",
                resource: &resource,
                namespace: Some(namespace),
                name: None,
            };
            return vec![format!("no pod details: {}", subject.error(e))];
        }
    };
    let mut out = Vec::new();
    for pod in list.items {
        let value = serde_json::to_value(&pod).unwrap_or(Value::Null);
        if !matches_images(&value, want_images) {
            continue;
        }
        let stuck = problems(&value);
        let Some(first) = stuck.first() else {
            continue;
        };
        // One events read per pod, however many of its containers are stuck.
        let event = warning_for(client, namespace, &first.pod).await;
        for problem in stuck {
            let mut line = format!("{namespace}/{problem}");
            if let Some(event) = &event {
                line.push_str(&format!("; event: {event}"));
            }
            out.push(line);
        }
    }
    out
}

async fn warning_for(client: &Client, namespace: &str, pod: &str) -> Option<String> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().fields(&format!("involvedObject.name={pod}"));
    let list = events.list(&params).await.ok()?;
    let values: Vec<Value> = list
        .items
        .iter()
        .filter_map(|e| serde_json::to_value(e).ok())
        .collect();
    latest_warning(&values)
}

fn matches_images(pod: &Value, want: Option<&[String]>) -> bool {
    match want {
        None => true,
        Some(want) => images(&pod["spec"]) == want,
    }
}

/// Watches the pods matching `selector` until one running `want_images` is stuck; returns
/// the explanation, or `None` at the deadline or if the pods cannot be watched.
pub async fn first_stuck(
    client: &Client,
    namespace: &str,
    selector: &str,
    want_images: &[String],
    deadline: Instant,
) -> Option<Vec<String>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let config = watcher::Config::default().labels(selector);
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(remaining, stream.next())
            .await
            .ok()??;
        let pod = match event {
            Ok(WatchEvent::Apply(pod) | WatchEvent::InitApply(pod)) => pod,
            Ok(_) => continue,
            Err(watcher::Error::InitialListFailed(kube::Error::Api(s)))
            | Err(watcher::Error::WatchStartFailed(kube::Error::Api(s)))
                if s.code == 403 =>
            {
                tracing::info!(
                    "cannot watch pods in {namespace} ({}); waiting on the rollout only",
                    status_line(&s)
                );
                return None;
            }
            Err(_) => continue,
        };
        let value = serde_json::to_value(&pod).unwrap_or(Value::Null);
        if !matches_images(&value, Some(want_images)) || problems(&value).is_empty() {
            continue;
        }
        return Some(explain(client, namespace, Some(selector), Some(want_images)).await);
    }
}

/// `matchLabels` of a workload's `spec.selector` as a label selector string.
pub fn selector_of(workload: &Value) -> Option<String> {
    let labels = workload
        .pointer("/spec/selector/matchLabels")?
        .as_object()?;
    if labels.is_empty() {
        return None;
    }
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(","),
    )
}
