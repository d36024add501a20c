//! A simulated Flux controller (kustomize-controller, helm-controller) answering one
//! `reconcile.fluxcd.io/requestedAt` request the way Flux documents it
//! (kustomize-controller `docs/spec/v1/kustomizations.md`, "Kustomization Status"; the
//! controllers' `finalizeStatus`):
//!
//! * when a reconcile starts: `Reconciling=True` (reason `Progressing`) and `Ready=Unknown`
//!   (reason `Progressing`, "Reconciliation in progress"); `lastHandledReconcileAt` still
//!   holds the previous request;
//! * when it ends, `lastHandledReconcileAt` takes the annotation's value and
//!   `lastAttemptedRevision` the revision tried; then
//!   * on success: `Ready=True` (`ReconciliationSucceeded`, "Applied revision: …"), the
//!     `Reconciling` condition is removed, `lastAppliedRevision` and `observedGeneration`
//!     catch up;
//!   * on failure: `Ready=False` with the failure's reason and message, `Reconciling=True`
//!     with reason `ProgressingWithRetry` (the controller retries with backoff), and
//!     `observedGeneration` stays where it was (it only moves on success or stall).
//!
//! Does not simulate: sources and artifacts, dependencies, health checks, inventories,
//! `Stalled`, `.status.history`, or retries (one request, one answer).

use std::time::Duration;

use serde_json::{Value, json};

use super::FakeKube;

/// `reconcile.fluxcd.io/requestedAt`
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// How the simulated reconcile ends.
#[derive(Clone, Debug)]
pub enum FluxOutcome {
    /// The revision was applied and is healthy.
    Applied,
    /// The attempt failed with this `Ready` reason (`HealthCheckFailed`, `BuildFailed`…)
    /// and message.
    Failed { reason: String, message: String },
}

/// One Flux object (`Kustomization` or `HelmRelease`) the simulated controller owns.
#[derive(Clone, Debug)]
pub struct FluxObject<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

impl FakeKube {
    /// Waits (up to `patience`) for a reconcile request on `object` that the controller has
    /// not handled yet, then plays one reconcile of `revision` (e.g. `main@sha1:<sha>`)
    /// ending in `outcome`, a short pause between the documented steps. Returns the
    /// request's value.
    pub fn flux_reconcile(
        &self,
        object: &FluxObject<'_>,
        revision: &str,
        outcome: FluxOutcome,
        patience: Duration,
    ) -> String {
        let requested = self.wait_for(
            object.api_version,
            object.kind,
            Some(object.namespace),
            object.name,
            patience,
            |o| pending_request(o).is_some(),
        );
        let asked = pending_request(&requested).unwrap_or_default();
        let update = |f: &dyn Fn(&mut Value)| {
            self.update(
                object.api_version,
                object.kind,
                Some(object.namespace),
                object.name,
                f,
            );
        };
        update(&|o| {
            let message =
                format!("Fetching manifests for revision {revision} with a timeout of 4m30s");
            set_condition(o, "Reconciling", "True", "Progressing", &message);
            set_condition(
                o,
                "Ready",
                "Unknown",
                "Progressing",
                "Reconciliation in progress",
            );
        });
        std::thread::sleep(Duration::from_millis(50));
        update(&|o| {
            o["status"]["lastHandledReconcileAt"] = json!(asked);
            o["status"]["lastAttemptedRevision"] = json!(revision);
            match &outcome {
                FluxOutcome::Applied => {
                    let message = format!("Applied revision: {revision}");
                    set_condition(o, "Ready", "True", "ReconciliationSucceeded", &message);
                    remove_condition(o, "Reconciling");
                    o["status"]["lastAppliedRevision"] = json!(revision);
                    o["status"]["observedGeneration"] = o["metadata"]["generation"].clone();
                }
                FluxOutcome::Failed { reason, message } => {
                    set_condition(o, "Ready", "False", reason, message);
                    let reconciling = condition_message(o, "Reconciling");
                    set_condition(
                        o,
                        "Reconciling",
                        "True",
                        "ProgressingWithRetry",
                        &reconciling,
                    );
                }
            }
        });
        asked
    }
}

/// The annotation's value when the controller has not handled it yet.
fn pending_request(obj: &Value) -> Option<String> {
    let asked = obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(REQUESTED_AT))
        .and_then(Value::as_str)?;
    let handled = obj
        .pointer("/status/lastHandledReconcileAt")
        .and_then(Value::as_str);
    (handled != Some(asked)).then(|| asked.to_string())
}

/// Sets a condition as `meta.SetStatusCondition` does: the transition time moves only
/// when the status changes; `observedGeneration` is the object's generation.
fn set_condition(obj: &mut Value, type_: &str, status: &str, reason: &str, message: &str) {
    let generation = obj["metadata"]["generation"].clone();
    if !obj["status"].is_object() {
        obj["status"] = json!({});
    }
    if !obj["status"]["conditions"].is_array() {
        obj["status"]["conditions"] = json!([]);
    }
    let now = super::store::now_rfc3339();
    let Some(conditions) = obj["status"]["conditions"].as_array_mut() else {
        return;
    };
    let new = json!({
        "type": type_, "status": status, "reason": reason, "message": message,
        "observedGeneration": generation, "lastTransitionTime": now,
    });
    match conditions.iter_mut().find(|c| c["type"] == type_) {
        Some(old) => {
            let kept_time = (old["status"] == status).then(|| old["lastTransitionTime"].clone());
            *old = new;
            if let Some(t) = kept_time {
                old["lastTransitionTime"] = t;
            }
        }
        None => conditions.push(new),
    }
}

fn remove_condition(obj: &mut Value, type_: &str) {
    if let Some(conditions) = obj["status"]["conditions"].as_array_mut() {
        conditions.retain(|c| c["type"] != type_);
    }
}

fn condition_message(obj: &Value, type_: &str) -> String {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["type"] == type_))
        .and_then(|c| c["message"].as_str())
        .unwrap_or("")
        .to_string()
}
