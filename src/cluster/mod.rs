//! The Kubernetes adapter: connecting, and turning API errors into messages that name the
//! resource and the RBAC rule to add. It decides nothing about deploys; `sync` does.
//!
//! Connection, in order: `KUBE_API_URL` + `KUBE_TOKEN` (+ `KUBE_CA_FILE`), else kube's own
//! inference (`KUBECONFIG` / `~/.kube/config`, then the in-cluster service account).

pub mod apply;
pub mod pods;
pub mod wait;

use std::path::PathBuf;
use std::time::Duration;

use kube::api::{ApiResource, DynamicObject};
use kube::{Api, Client, Config};

use crate::env::var;

/// Every failure of a cluster step, with the resource it concerned.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    #[error("{0}")]
    Forbidden(Box<Denied>),
    #[error("{resource} {name}not found{scope_text}")]
    NotFound {
        resource: String,
        name: String,
        scope_text: String,
    },
    #[error("{resource} is not served by this cluster (is its controller installed?): {detail}")]
    NotServed { resource: String, detail: String },
    #[error("{verb} {resource} {name}failed: {source}")]
    Api {
        verb: String,
        resource: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("{0}")]
    Invalid(String),
}

/// A request RBAC refused, worded as the rule to add.
#[derive(Debug)]
pub struct Denied {
    verb: String,
    resource: String,
    group: String,
    plural: String,
    /// `"name" ` or empty.
    name: String,
    namespace: Option<String>,
    message: String,
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Denied {
            verb,
            resource,
            group,
            plural,
            name,
            namespace,
            message,
        } = self;
        let (scope, role) = match namespace {
            Some(ns) => (
                format!("namespace {ns}"),
                format!("Role bound to the bot's service account in namespace {ns}"),
            ),
            None => (
                "the cluster".to_string(),
                "ClusterRole bound to the bot's service account".to_string(),
            ),
        };
        write!(
            f,
            "forbidden: cannot {verb} {resource} {name}in {scope}; add this rule to the {role}: {{apiGroups: [\"{group}\"], resources: [\"{plural}\"], verbs: [\"{verb}\"]}} (the server said: {message})"
        )
    }
}

/// What a request was about, to word its errors.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub verb: &'a str,
    pub resource: &'a ApiResource,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

impl Subject<'_> {
    /// `applications.argoproj.io`, `deployments.apps`, `pods`.
    fn resource_name(&self) -> String {
        if self.resource.group.is_empty() {
            self.resource.plural.clone()
        } else {
            format!("{}.{}", self.resource.plural, self.resource.group)
        }
    }

    /// Turns `err` into a [`ClusterError`] naming this subject.
    pub fn error(&self, err: kube::Error) -> ClusterError {
        let name = self.name.map(|n| format!("{n:?} ")).unwrap_or_default();
        let scope_text = self
            .namespace
            .map(|ns| format!(" in namespace {ns}"))
            .unwrap_or_default();
        match &err {
            kube::Error::Api(status) if status.code == 403 => {
                ClusterError::Forbidden(Box::new(Denied {
                    verb: self.verb.to_string(),
                    resource: self.resource_name(),
                    group: self.resource.group.clone(),
                    plural: self.resource.plural.clone(),
                    name,
                    namespace: self.namespace.map(str::to_string),
                    message: status.message.clone(),
                }))
            }
            kube::Error::Api(status) if status.code == 404 && self.name.is_some() => {
                ClusterError::NotFound {
                    resource: self.resource_name(),
                    name,
                    scope_text,
                }
            }
            _ => ClusterError::Api {
                verb: self.verb.to_string(),
                resource: self.resource_name(),
                name,
                source: Box::new(err),
            },
        }
    }
}

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
    Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))
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
    let not_served = |detail: String| ClusterError::NotServed {
        resource: format!("{kind} ({group})"),
        detail,
    };
    let api_group = kube::discovery::group(client, group)
        .await
        .map_err(|e| not_served(e.to_string()))?;
    api_group
        .recommended_kind(kind)
        .map(|(resource, _)| resource)
        .ok_or_else(|| not_served(format!("group {group} has no kind {kind}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_errors_name_the_rule_to_add() {
        let resource = ApiResource {
            group: "argoproj.io".into(),
            version: "v1alpha1".into(),
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "Application".into(),
            plural: "applications".into(),
        };
        let subject = Subject {
            verb: "patch",
            resource: &resource,
            namespace: Some("argocd"),
            name: Some("helloworld"),
        };
        let status = kube::core::Status::failure("denied", "Forbidden").with_code(403);
        let message = subject
            .error(kube::Error::Api(Box::new(status)))
            .to_string();
        assert_eq!(
            message,
            "forbidden: cannot patch applications.argoproj.io \"helloworld\" in namespace argocd; add this rule to the Role bound to the bot's service account in namespace argocd: {apiGroups: [\"argoproj.io\"], resources: [\"applications\"], verbs: [\"patch\"]} (the server said: denied)"
        );
    }
}
