//! The Kubernetes adapter: connecting, discovery, and turning API errors into one line that
//! names the request, the status and what to do (`error.rs`). It decides nothing about
//! deploys; `sync` does.
//!
//! Connection, in order: `KUBE_API_URL` + `KUBE_TOKEN` (+ `KUBE_CA_FILE`), else kube's own
//! inference (`KUBECONFIG` / `~/.kube/config`, then the in-cluster service account).

pub mod apply;
mod error;
pub mod live;
pub mod pods;
pub mod wait;

pub use error::{ClusterError, Subject, describe, discovery_error, error_text, status_line};
pub use live::Kinds;

use std::path::PathBuf;
use std::time::Duration;

use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client, Config};

use crate::env::var;

/// The client, from the environment (see the module documentation).
pub async fn connect() -> Result<Client, ClusterError> {
    let mut config = match var("KUBE_API_URL") {
        Some(url) => {
            let uri = url
                .parse()
                .map_err(|e| ClusterError::Config(format!("KUBE_API_URL {url:?}: {e}")))?;
            let mut config = Config::new(uri);
            let token = var("KUBE_TOKEN").ok_or_else(|| {
                ClusterError::Config(
                    "KUBE_API_URL is set but KUBE_TOKEN is not: give the service account token as a masked CI/CD variable".into(),
                )
            })?;
            config.auth_info.token = Some(token.trim().to_string().into());
            if let Some(ca) = var("KUBE_CA_FILE") {
                config.root_cert = Some(read_pem_certs(&PathBuf::from(ca))?);
            }
            if let Some(ns) = var("KUBE_NAMESPACE") {
                config.default_namespace = ns;
            }
            config
        }
        None => Config::infer().await.map_err(|e| {
            ClusterError::Config(format!(
                "{e}; set KUBE_API_URL and KUBE_TOKEN, or KUBECONFIG, or run in a pod with a service account"
            ))
        })?,
    };
    config.connect_timeout = Some(Duration::from_secs(10));
    // Watches are held open by the server for up to `timeoutSeconds`; reads of one
    // object must not hang for that long.
    config.read_timeout = Some(Duration::from_secs(300));
    Client::try_from(config).map_err(|e| ClusterError::Config(error_text(&e)))
}

/// The DER certificates in a PEM file.
fn read_pem_certs(path: &PathBuf) -> Result<Vec<Vec<u8>>, ClusterError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let invalid = |e: &dyn std::fmt::Display| {
        ClusterError::Config(format!("KUBE_CA_FILE {}: {e}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid(&e))?
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&e))?;
    if certs.is_empty() {
        return Err(invalid(&"no PEM certificate in it"));
    }
    Ok(certs)
}

/// A dynamic API for `resource` in `namespace` (or cluster-wide).
pub fn dynamic_api(
    client: &Client,
    resource: &ApiResource,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

/// The served resource for `group`'s `kind` (the group's preferred version), via discovery.
pub async fn resource_of(
    client: &Client,
    group: &str,
    kind: &str,
) -> Result<ApiResource, ClusterError> {
    let resource = || format!("{kind} ({group})");
    let api_group = kube::discovery::group(client, group)
        .await
        .map_err(|e| discovery_error(&format!("API group {group}"), resource(), e))?;
    api_group
        .recommended_kind(kind)
        .map(|(resource, _)| resource)
        .ok_or_else(|| ClusterError::NotServed {
            resource: resource(),
            detail: format!("group {group} has no kind {kind}"),
        })
}

/// One object of `resource`: `namespace/name` through `api`, errors naming the request.
pub async fn get(
    api: &Api<DynamicObject>,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
) -> Result<DynamicObject, ClusterError> {
    api.get(name).await.map_err(|e| {
        Subject {
            verb: "get",
            resource,
            namespace: Some(namespace),
            name: Some(name),
        }
        .error(e)
    })
}

/// Every object of `resource` in `namespace` (all namespaces, or a cluster-scoped kind,
/// with `None`), with one `list` request (all pages: the
/// request sets no limit), errors naming the request (a 403 names the `list` rule to add).
pub async fn list(
    api: &Api<DynamicObject>,
    resource: &ApiResource,
    namespace: Option<&str>,
) -> Result<Vec<DynamicObject>, ClusterError> {
    api.list(&ListParams::default())
        .await
        .map(|list| list.items)
        .map_err(|e| {
            Subject {
                verb: "list",
                resource,
                namespace,
                name: None,
            }
            .error(e)
        })
}
