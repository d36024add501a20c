//! Rollouts of Deployments, StatefulSets and DaemonSets, with `kubectl rollout status`'s
//! rules, plus the `observedGeneration` check kube-runtime's `is_deployment_completed` lacks
//! (without it, the previous rollout reads as done right after an apply).

use serde_json::Value;

use super::{Assessment, condition, generation_observed, int, text};

/// The kinds whose rollouts are waited for.
pub const KINDS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];

/// The rollout of `obj` (one of [`KINDS`]); other kinds are healthy once applied.
pub fn assess(obj: &Value, kind: &str) -> Assessment {
    if !generation_observed(obj) {
        return Assessment::pending(
            Some("Applied"),
            "Progressing",
            "waiting for the controller to observe the new spec",
        );
    }
    match kind {
        "Deployment" => deployment(obj),
        "StatefulSet" => stateful_set(obj),
        "DaemonSet" => daemon_set(obj),
        _ => Assessment::healthy(Some("Applied"), "Healthy", ""),
    }
}

fn progressing(message: String) -> Assessment {
    Assessment::pending(Some("Applied"), "Progressing", message)
}

fn deployment(obj: &Value) -> Assessment {
    if let Some(c) = condition(obj, "Progressing")
        && c.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
    {
        return Assessment::failed(
            Some("Applied"),
            "Degraded",
            format!(
                "ProgressDeadlineExceeded: {}",
                c.get("message").and_then(Value::as_str).unwrap_or("")
            ),
        );
    }
    if obj.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return Assessment::pending(Some("Applied"), "Suspended", "the deployment is paused");
    }
    let want = int(obj, &["spec", "replicas"]).unwrap_or(1);
    let status = |f: &str| int(obj, &["status", f]).unwrap_or(0);
    let (updated, replicas, available) = (
        status("updatedReplicas"),
        status("replicas"),
        status("availableReplicas"),
    );
    if updated < want {
        progressing(format!(
            "{updated} of {want} updated replicas are available"
        ))
    } else if replicas > updated {
        progressing(format!(
            "{} old replicas are pending termination",
            replicas - updated
        ))
    } else if available < updated {
        progressing(format!(
            "{available} of {updated} updated replicas are available"
        ))
    } else {
        Assessment::healthy(
            Some("Applied"),
            "Healthy",
            format!("{available} of {want} replicas available"),
        )
    }
}

fn stateful_set(obj: &Value) -> Assessment {
    if text(obj, &["spec", "updateStrategy", "type"]) == Some("OnDelete") {
        return Assessment::healthy(
            Some("Applied"),
            "Healthy",
            "updateStrategy OnDelete: not waited for",
        );
    }
    let want = int(obj, &["spec", "replicas"]).unwrap_or(1);
    let status = |f: &str| int(obj, &["status", f]).unwrap_or(0);
    let ready = status("readyReplicas");
    if ready < want {
        return progressing(format!("{ready} of {want} replicas are ready"));
    }
    let partition = int(
        obj,
        &["spec", "updateStrategy", "rollingUpdate", "partition"],
    )
    .unwrap_or(0);
    if partition > 0 {
        let updated = status("updatedReplicas");
        let expected = want - partition;
        return if updated < expected {
            progressing(format!(
                "{updated} of {expected} pods above partition {partition} are updated"
            ))
        } else {
            Assessment::healthy(
                Some("Applied"),
                "Healthy",
                format!("partitioned roll out complete: {updated} new pods"),
            )
        };
    }
    let current = text(obj, &["status", "currentRevision"]);
    let update = text(obj, &["status", "updateRevision"]);
    if update.is_some() && current != update {
        return progressing(format!(
            "{} of {want} pods are at revision {}",
            status("updatedReplicas"),
            update.unwrap_or("?")
        ));
    }
    Assessment::healthy(
        Some("Applied"),
        "Healthy",
        format!("{ready} of {want} replicas ready"),
    )
}

fn daemon_set(obj: &Value) -> Assessment {
    if text(obj, &["spec", "updateStrategy", "type"]) == Some("OnDelete") {
        return Assessment::healthy(
            Some("Applied"),
            "Healthy",
            "updateStrategy OnDelete: not waited for",
        );
    }
    let status = |f: &str| int(obj, &["status", f]).unwrap_or(0);
    let desired = status("desiredNumberScheduled");
    let updated = status("updatedNumberScheduled");
    let available = status("numberAvailable");
    if updated < desired {
        progressing(format!("{updated} of {desired} updated pods are scheduled"))
    } else if available < desired {
        progressing(format!(
            "{available} of {desired} updated pods are available"
        ))
    } else {
        Assessment::healthy(
            Some("Applied"),
            "Healthy",
            format!("{available} of {desired} pods available"),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::health::Verdict;

    fn deploy(generation: i64, observed: i64, status: Value) -> Value {
        let mut s = status;
        s["observedGeneration"] = json!(observed);
        json!({"metadata": {"generation": generation}, "spec": {"replicas": 2}, "status": s})
    }

    #[test]
    fn a_deployment_is_healthy_only_after_the_new_generation_rolled_out() {
        let done = json!({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2});
        assert_eq!(
            assess(&deploy(2, 1, done.clone()), "Deployment").verdict,
            Verdict::Pending
        );
        assert_eq!(
            assess(&deploy(2, 2, done), "Deployment").verdict,
            Verdict::Healthy
        );
        let half = json!({"replicas": 3, "updatedReplicas": 2, "availableReplicas": 1});
        let a = assess(&deploy(2, 2, half), "Deployment");
        assert_eq!(a.verdict, Verdict::Pending);
        assert_eq!(a.message, "1 old replicas are pending termination");
    }

    #[test]
    fn a_deployment_past_its_deadline_fails() {
        let status = json!({"replicas": 2, "updatedReplicas": 1, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
             "message": "ReplicaSet \"web-5d\" has timed out progressing."}
        ]});
        let a = assess(&deploy(2, 2, status), "Deployment");
        assert_eq!(a.verdict, Verdict::Failed);
        assert_eq!(a.health, "Degraded");
        assert!(
            a.message
                .starts_with("ProgressDeadlineExceeded: ReplicaSet")
        );
    }

    #[test]
    fn stateful_sets_wait_for_the_update_revision() {
        let sts = |current: &str| {
            json!({
                "metadata": {"generation": 1},
                "spec": {"replicas": 2},
                "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 1,
                           "currentRevision": current, "updateRevision": "web-2"}
            })
        };
        assert_eq!(
            assess(&sts("web-1"), "StatefulSet").verdict,
            Verdict::Pending
        );
        assert_eq!(
            assess(&sts("web-2"), "StatefulSet").verdict,
            Verdict::Healthy
        );
    }

    #[test]
    fn daemon_sets_wait_for_every_node() {
        let ds = |available: i64| {
            json!({
                "metadata": {"generation": 1},
                "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
                           "updatedNumberScheduled": 3, "numberAvailable": available}
            })
        };
        assert_eq!(assess(&ds(2), "DaemonSet").verdict, Verdict::Pending);
        assert_eq!(assess(&ds(3), "DaemonSet").verdict, Verdict::Healthy);
    }

    #[test]
    fn other_kinds_are_healthy_once_applied() {
        assert_eq!(assess(&json!({}), "Service").verdict, Verdict::Healthy);
    }
}
