//! Why pods do not come up: the container states and events a person would look for with
//! `kubectl describe pod`, reduced to one line each. Pure: the caller lists the pods and
//! events.

use serde_json::Value;

/// Waiting reasons that only repeat until someone changes something: reported at once.
pub const STUCK: &[&str] = &[
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// One container that is stuck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pod: String,
    pub container: String,
    pub reason: String,
    pub image: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pod {} container {}: {} (image {})",
            self.pod, self.container, self.reason, self.image
        )?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// The stuck containers of `pod` (init containers included), with their images.
pub fn problems(pod: &Value) -> Vec<Problem> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let mut out = Vec::new();
    for list in ["initContainerStatuses", "containerStatuses"] {
        let Some(statuses) = pod
            .pointer(&format!("/status/{list}"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for status in statuses {
            let waiting = status.pointer("/state/waiting");
            let reason = waiting
                .and_then(|w| w.get("reason"))
                .and_then(Value::as_str);
            let Some(reason) = reason.filter(|r| STUCK.contains(r)) else {
                continue;
            };
            out.push(Problem {
                pod: name.to_string(),
                container: status["name"].as_str().unwrap_or("?").to_string(),
                reason: reason.to_string(),
                image: status["image"].as_str().unwrap_or("?").to_string(),
                message: waiting
                    .and_then(|w| w.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        }
    }
    out
}

/// The images of a pod template or pod spec (containers and init containers).
pub fn images(spec: &Value) -> Vec<String> {
    let mut out: Vec<String> = ["initContainers", "containers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The message of the newest `Warning` event, e.g. `Failed to pull image "…": not found`.
pub fn latest_warning(events: &[Value]) -> Option<String> {
    events
        .iter()
        .filter(|e| e.get("type").and_then(Value::as_str) == Some("Warning"))
        .max_by_key(|e| {
            ["lastTimestamp", "eventTime", "firstTimestamp"]
                .iter()
                .find_map(|k| e.get(*k).and_then(Value::as_str))
                .unwrap_or("")
                .to_string()
        })
        .and_then(|e| e.get("message").and_then(Value::as_str))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn image_pull_back_off_names_the_image() {
        let pod = json!({
            "metadata": {"name": "web-5d-x"},
            "status": {"containerStatuses": [
                {"name": "web", "image": "registry.example.com/web:ci-36",
                 "state": {"waiting": {"reason": "ImagePullBackOff",
                   "message": "Back-off pulling image \"registry.example.com/web:ci-36\""}}},
                {"name": "sidecar", "image": "envoy:1", "state": {"running": {}}}
            ]}
        });
        let found = problems(&pod);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].to_string(),
            "pod web-5d-x container web: ImagePullBackOff (image registry.example.com/web:ci-36): Back-off pulling image \"registry.example.com/web:ci-36\""
        );
    }

    #[test]
    fn running_and_briefly_waiting_containers_are_fine() {
        let pod = json!({"metadata": {"name": "p"}, "status": {"containerStatuses": [
            {"name": "a", "image": "x", "state": {"waiting": {"reason": "ContainerCreating"}}}
        ]}});
        assert!(problems(&pod).is_empty());
    }

    #[test]
    fn the_newest_warning_wins() {
        let events = vec![
            json!({"type": "Warning", "lastTimestamp": "2026-01-01T00:00:01Z", "message": "old"}),
            json!({"type": "Normal", "lastTimestamp": "2026-01-01T00:00:09Z", "message": "pulling"}),
            json!({"type": "Warning", "lastTimestamp": "2026-01-01T00:00:05Z", "message": "Failed to pull image \"x\": not found"}),
        ];
        assert_eq!(
            latest_warning(&events).as_deref(),
            Some("Failed to pull image \"x\": not found")
        );
    }

    #[test]
    fn images_of_a_template() {
        let spec = json!({"containers": [{"image": "b"}, {"image": "a"}], "initContainers": [{"image": "a"}]});
        assert_eq!(images(&spec), vec!["a".to_string(), "b".to_string()]);
    }
}
