//! The table of served kinds and the discovery documents built from it.
//!
//! Simulates: `/version`, `/api` (`APIVersions`), `/api/v1` and
//! `/apis/{group}/{version}` (`APIResourceList` with `name`, `singularName`,
//! `namespaced`, `kind`, `verbs`, `shortNames`, plus a `{plural}/status`
//! entry for kinds with a status subresource), `/apis` (`APIGroupList`),
//! `/apis/{group}` (`APIGroup`), and aggregated discovery
//! (`APIGroupDiscoveryList`, apidiscovery.k8s.io/v2) when the `Accept` header
//! asks for it, as `kube::Discovery::run_aggregated` does.
//!
//! Does not simulate: any kind outside [`KINDS`], several versions of one
//! group, categories, `storageVersionHash`, OpenAPI documents (`/openapi/v2`,
//! `/openapi/v3`), or the plain-text `404 page not found` a real server gives
//! for an unknown group (the fake answers a JSON `Status` instead).

use serde_json::{Value, json};

/// One served resource. Every routing and discovery decision reads this table.
#[derive(Debug)]
pub(crate) struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    /// Served by the apiextensions server (a CRD): list items keep their
    /// `apiVersion`/`kind`, field selectors are limited to metadata, and an
    /// update (PUT) must carry `metadata.resourceVersion`.
    pub crd: bool,
    /// Has a `/status` subresource: writes through the main resource ignore
    /// `status`, and `status` changes never bump `metadata.generation`.
    pub status_subresource: bool,
    /// The server maintains `metadata.generation` for this kind (workloads,
    /// Ingress, Pods as since Kubernetes 1.33, every CRD; not ConfigMaps,
    /// Secrets, Services, Events, ServiceAccounts or Namespaces).
    pub generation: bool,
    pub short_names: &'static [&'static str],
    /// Field selectors beyond `metadata.name`/`metadata.namespace`:
    /// (selector label, dotted path in the object).
    pub fields: &'static [(&'static str, &'static str)],
}

impl Kind {
    pub fn api_version(&self) -> String {
        api_version(self.group, self.version)
    }

    /// `deployments.apps`, or `pods` for the core group: how the API server
    /// names a resource in error messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Deployment.apps`, or `Pod`: how validation errors name a kind.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

const fn builtin(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
) -> Kind {
    Kind {
        group,
        version: "v1",
        kind,
        plural,
        singular,
        namespaced: true,
        crd: false,
        status_subresource: false,
        generation: false,
        short_names,
        fields: &[],
    }
}

const fn crd(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
    status_subresource: bool,
) -> Kind {
    Kind {
        group,
        version,
        kind,
        plural,
        singular,
        namespaced: true,
        crd: true,
        status_subresource,
        generation: true,
        short_names,
        fields: &[],
    }
}

/// Workloads: status subresource and generation, as in a real cluster.
const fn workload(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
) -> Kind {
    Kind {
        status_subresource: true,
        generation: true,
        ..builtin(group, kind, plural, singular, short_names)
    }
}

pub(crate) static KINDS: &[Kind] = &[
    Kind {
        namespaced: false,
        status_subresource: true,
        fields: &[("status.phase", "status.phase")],
        ..builtin("", "Namespace", "namespaces", "namespace", &["ns"])
    },
    Kind {
        fields: &[
            ("spec.nodeName", "spec.nodeName"),
            ("spec.restartPolicy", "spec.restartPolicy"),
            ("spec.schedulerName", "spec.schedulerName"),
            ("spec.serviceAccountName", "spec.serviceAccountName"),
            ("status.phase", "status.phase"),
            ("status.podIP", "status.podIP"),
            ("status.nominatedNodeName", "status.nominatedNodeName"),
        ],
        ..workload("", "Pod", "pods", "pod", &["po"])
    },
    Kind {
        fields: &[
            ("involvedObject.kind", "involvedObject.kind"),
            ("involvedObject.namespace", "involvedObject.namespace"),
            ("involvedObject.name", "involvedObject.name"),
            ("involvedObject.uid", "involvedObject.uid"),
            ("involvedObject.apiVersion", "involvedObject.apiVersion"),
            (
                "involvedObject.resourceVersion",
                "involvedObject.resourceVersion",
            ),
            ("involvedObject.fieldPath", "involvedObject.fieldPath"),
            ("reason", "reason"),
            ("reportingComponent", "reportingComponent"),
            ("source", "source.component"),
            ("type", "type"),
        ],
        ..builtin("", "Event", "events", "event", &["ev"])
    },
    Kind {
        status_subresource: true,
        fields: &[
            ("spec.clusterIP", "spec.clusterIP"),
            ("spec.type", "spec.type"),
        ],
        ..builtin("", "Service", "services", "service", &["svc"])
    },
    builtin("", "ConfigMap", "configmaps", "configmap", &["cm"]),
    Kind {
        fields: &[("type", "type")],
        ..builtin("", "Secret", "secrets", "secret", &[])
    },
    builtin(
        "",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        &["sa"],
    ),
    workload(
        "apps",
        "Deployment",
        "deployments",
        "deployment",
        &["deploy"],
    ),
    workload(
        "apps",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        &["sts"],
    ),
    workload("apps", "DaemonSet", "daemonsets", "daemonset", &["ds"]),
    workload("apps", "ReplicaSet", "replicasets", "replicaset", &["rs"]),
    workload(
        "networking.k8s.io",
        "Ingress",
        "ingresses",
        "ingress",
        &["ing"],
    ),
    // Argo CD's CRD declares `subresources: {}`: no status subresource, so
    // status writes go through the main resource and bump generation.
    crd(
        "argoproj.io",
        "v1alpha1",
        "Application",
        "applications",
        "application",
        &["app", "apps"],
        false,
    ),
    crd(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
        "kustomizations",
        "kustomization",
        &["ks"],
        true,
    ),
    crd(
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
        "helmreleases",
        "helmrelease",
        &["hr"],
        true,
    ),
    crd(
        "source.toolkit.fluxcd.io",
        "v1",
        "GitRepository",
        "gitrepositories",
        "gitrepository",
        &["gitrepo"],
        true,
    ),
];

/// Index into [`KINDS`] of the resource `plural` in `group`/`version`.
pub(crate) fn by_plural(group: &str, version: &str, plural: &str) -> Option<usize> {
    KINDS
        .iter()
        .position(|k| k.group == group && k.version == version && k.plural == plural)
}

/// Index into [`KINDS`] of `kind` served as `api_version` (`v1`, `apps/v1`).
pub(crate) fn by_kind(api_version: &str, kind: &str) -> Option<usize> {
    KINDS
        .iter()
        .position(|k| k.kind == kind && k.api_version() == api_version)
}

fn group_versions(group: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KINDS.iter().filter(|k| k.group == group) {
        if !out.contains(&k.version) {
            out.push(k.version);
        }
    }
    out
}

fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KINDS.iter().filter(|k| !k.group.is_empty()) {
        if !out.contains(&k.group) {
            out.push(k.group);
        }
    }
    out
}

pub(crate) fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "37",
        "gitVersion": "v1.37.0-fake",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub(crate) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ]
    })
}

fn group_doc(group: &str) -> Value {
    let versions: Vec<Value> = group_versions(group)
        .into_iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

pub(crate) fn group_list() -> Value {
    let groups: Vec<Value> = groups().into_iter().map(group_doc).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, or `None` for a group the fake does not serve.
pub(crate) fn group(group: &str) -> Option<Value> {
    if group.is_empty() || group_versions(group).is_empty() {
        return None;
    }
    let mut doc = group_doc(group);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `/api/v1` or `/apis/{group}/{version}`, or `None` when nothing is served there.
pub(crate) fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for k in KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
    {
        resources.push(json!({
            "name": k.plural,
            "singularName": k.singular,
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": VERBS,
            "shortNames": k.short_names,
        }));
        if k.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", k.plural),
                "singularName": "",
                "namespaced": k.namespaced,
                "kind": k.kind,
                "verbs": STATUS_VERBS,
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let mut doc = json!({"kind": "APIResourceList", "groupVersion": api_version(group, version), "resources": resources});
    // The real server omits apiVersion on the core list but sets it for groups.
    if !group.is_empty() {
        doc["apiVersion"] = json!("v1");
    }
    Some(doc)
}

fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Content type of an aggregated discovery answer.
pub(crate) const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Aggregated discovery (apidiscovery.k8s.io/v2) for the core group (`core`)
/// or for every named group.
pub(crate) fn aggregated(core: bool) -> Value {
    let names: Vec<&str> = if core { vec![""] } else { groups() };
    let items: Vec<Value> = names
        .into_iter()
        .map(|g| {
            let versions: Vec<Value> = group_versions(g)
                .into_iter()
                .map(|v| {
                    let resources: Vec<Value> = KINDS
                        .iter()
                        .filter(|k| k.group == g && k.version == v)
                        .map(|k| {
                            let gvk = json!({"group": k.group, "version": k.version, "kind": k.kind});
                            let subresources: Vec<Value> = if k.status_subresource {
                                vec![json!({"subresource": "status", "responseKind": gvk, "verbs": STATUS_VERBS})]
                            } else {
                                Vec::new()
                            };
                            json!({
                                "resource": k.plural,
                                "responseKind": gvk,
                                "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": k.singular,
                                "verbs": VERBS,
                                "shortNames": k.short_names,
                                "subresources": subresources,
                            })
                        })
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            let mut metadata = json!({"creationTimestamp": null});
            if !g.is_empty() {
                metadata["name"] = json!(g);
            }
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items
    })
}
