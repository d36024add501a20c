//! The reconcile Flux is asked for, as `flux reconcile --with-source` asks: the
//! `reconcile.fluxcd.io/requestedAt` annotation on the object and on the source it reads
//! from. The time is the caller's; the patches are the `sync` mode's to send.

use serde_json::{Value, json};

use crate::health::flux::REQUESTED_AT;

/// The API group of every Flux source kind (`GitRepository`, `OCIRepository`,
/// `HelmRepository`, `Bucket`…).
pub const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";

/// The source a Flux object reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef<'a> {
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// The source of `obj` (a Kustomization's `spec.sourceRef`, or a HelmRelease's
/// `spec.chart.spec.sourceRef`), in the object's own `namespace` unless it names one;
/// `None` when it names none (a HelmRelease with `chartRef`, say).
pub fn source_ref<'a>(obj: &'a Value, namespace: &'a str) -> Option<SourceRef<'a>> {
    let source = obj
        .pointer("/spec/sourceRef")
        .or_else(|| obj.pointer("/spec/chart/spec/sourceRef"))?;
    Some(SourceRef {
        kind: source.get("kind")?.as_str()?,
        name: source.get("name")?.as_str()?,
        namespace: source
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or(namespace),
    })
}

/// The merge patch that asks the controller to reconcile now; `now` is the request's time
/// (RFC 3339), which the controller echoes in `status.lastHandledReconcileAt`.
pub fn reconcile_patch(now: &str) -> Value {
    json!({"metadata": {"annotations": {REQUESTED_AT: now}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_default_to_the_objects_namespace() {
        let ks = json!({"spec": {"sourceRef": {"kind": "GitRepository", "name": "ops"}}});
        assert_eq!(
            source_ref(&ks, "flux-system"),
            Some(SourceRef {
                kind: "GitRepository",
                namespace: "flux-system",
                name: "ops"
            })
        );
        let hr = json!({"spec": {"chart": {"spec": {"chart": "web", "sourceRef": {
            "kind": "HelmRepository", "name": "charts", "namespace": "shared"
        }}}}});
        assert_eq!(
            source_ref(&hr, "web"),
            Some(SourceRef {
                kind: "HelmRepository",
                namespace: "shared",
                name: "charts"
            })
        );
        let chart_ref = json!({"spec": {"chartRef": {"kind": "OCIRepository", "name": "web"}}});
        assert_eq!(source_ref(&chart_ref, "web"), None);
        let no_kind = json!({"spec": {"sourceRef": {"name": "ops"}}});
        assert_eq!(source_ref(&no_kind, "web"), None);
    }

    #[test]
    fn the_reconcile_request_is_the_annotation_flux_reconcile_sets() {
        assert_eq!(
            reconcile_patch("2024-05-01T10:00:00.000000001Z"),
            json!({"metadata": {"annotations": {
                "reconcile.fluxcd.io/requestedAt": "2024-05-01T10:00:00.000000001Z"
            }}})
        );
    }
}
