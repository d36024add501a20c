//! Direct apply: server-side apply of rendered objects with field manager `gitops-bot`.
//! Kinds are resolved through discovery (one request per group/version), and everything is
//! first applied with `dryRun=All`, so a manifest the server refuses stops the deploy before
//! any object changes. Namespaces and CRDs go first, as Helm and Argo CD order them.
//! [`dry_run`] is the same request for one object, without the real apply (`drift --deep`).

use kube::Client;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use super::{ClusterError, Kinds, Subject, dynamic_api};
use crate::render::Object;

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "gitops-bot";

/// One applied object, as the server returned it.
#[derive(Debug, Clone)]
pub struct Applied {
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub name: String,
    pub object: Value,
}

/// Whether [`apply_all`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Dry run, then for real.
    Apply,
    /// Only the dry run: what the objects would become (`kubectl diff`).
    DryRun,
}

/// Applies `objects` (dry run first, then for real unless `mode` is [`Mode::DryRun`]);
/// namespaced objects without a namespace go to `default_namespace`.
pub async fn apply_all(
    client: &Client,
    objects: &[Object],
    default_namespace: &str,
    mode: Mode,
) -> Result<Vec<Applied>, ClusterError> {
    let mut kinds = Kinds::default();
    let mut plan = Vec::with_capacity(objects.len());
    for object in objects {
        let (resource, namespaced) = kinds.of(client, object).await?;
        let namespace =
            namespaced.then(|| object.namespace().unwrap_or(default_namespace).to_string());
        plan.push((object, resource, namespace));
    }
    plan.sort_by_key(|(object, _, _)| rank(object.kind()));

    for dry_run in [true, false] {
        let mut applied = Vec::with_capacity(plan.len());
        for (object, resource, namespace) in &plan {
            let result = apply_one(client, resource, namespace.as_deref(), object, dry_run)
                .await
                .map_err(|refusal| ClusterError::ApplyRefused {
                    kind: object.kind().to_string(),
                    name: object.name().to_string(),
                    origin: object.source.clone(),
                    dry_run,
                    refusal: Box::new(refusal),
                })?;
            applied.push(Applied {
                resource: resource.clone(),
                namespace: namespace.clone(),
                name: object.name().to_string(),
                object: serde_json::to_value(&result).unwrap_or(Value::Null),
            });
        }
        if !dry_run || mode == Mode::DryRun {
            return Ok(applied);
        }
    }
    unreachable!("the loop returns after the real apply")
}

/// What the server would make of `object` if `sync` applied it now: a server-side apply
/// with `dryRun=All`, the same field manager and `force`, so defaulting and mutating
/// admission webhooks run and nothing is stored. Needs `patch` on the kind (a 403 names the
/// rule to add). `namespace` is where it goes (`None`: cluster-scoped).
pub async fn dry_run(
    client: &Client,
    resource: &ApiResource,
    namespace: Option<&str>,
    object: &Object,
) -> Result<Value, ClusterError> {
    let served = apply_one(client, resource, namespace, object, true).await?;
    serde_json::to_value(&served).map_err(|e| ClusterError::Unanswered {
        request: format!("patch {} {} (dry run)", object.kind(), object.name()),
        detail: e.to_string(),
    })
}

/// One server-side apply of `object` into `namespace`, as a dry run or for real.
async fn apply_one(
    client: &Client,
    resource: &ApiResource,
    namespace: Option<&str>,
    object: &Object,
    dry_run: bool,
) -> Result<DynamicObject, ClusterError> {
    let mut body = object.value.clone();
    if let Some(ns) = namespace {
        body["metadata"]["namespace"] = Value::String(ns.to_string());
    }
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = dry_run;
    dynamic_api(client, resource, namespace)
        .patch(object.name(), &params, &Patch::Apply(&body))
        .await
        .map_err(|e| {
            Subject {
                verb: "patch",
                resource,
                namespace,
                name: Some(object.name()),
            }
            .error(e)
        })
}

/// Apply order: what other objects need first.
fn rank(kind: &str) -> usize {
    const ORDER: &[&str] = &[
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Secret",
        "ConfigMap",
        "PersistentVolumeClaim",
        "Service",
    ];
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_and_config_come_before_workloads() {
        let mut kinds = vec!["Deployment", "Service", "Namespace", "ConfigMap", "Ingress"];
        kinds.sort_by_key(|k| rank(k));
        assert_eq!(
            kinds,
            vec!["Namespace", "ConfigMap", "Service", "Deployment", "Ingress"]
        );
    }
}
