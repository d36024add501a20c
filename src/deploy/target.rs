//! What `sync` deploys, as given on the command line or in `.gitops-bot.yaml`: Argo CD
//! Applications (`[NS/]NAME`), Flux objects (`KIND/NS/NAME`) and directories applied
//! directly. Parsing only; nothing here talks to a cluster.

use std::fmt;
use std::path::PathBuf;

/// The namespace Argo CD Applications live in unless told otherwise.
pub const ARGOCD_NAMESPACE: &str = "argocd";

/// One thing `sync` deploys and waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployTarget {
    ArgoApp {
        namespace: String,
        name: String,
    },
    Flux {
        kind: FluxKind,
        namespace: String,
        name: String,
    },
    Apply {
        path: PathBuf,
    },
}

/// The Flux objects `sync` can reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FluxKind {
    Kustomization,
    HelmRelease,
}

impl FluxKind {
    pub fn kind(self) -> &'static str {
        match self {
            FluxKind::Kustomization => "Kustomization",
            FluxKind::HelmRelease => "HelmRelease",
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            FluxKind::Kustomization => "kustomize.toolkit.fluxcd.io",
            FluxKind::HelmRelease => "helm.toolkit.fluxcd.io",
        }
    }
}

impl DeployTarget {
    /// `NAME` (in namespace `argocd`) or `NS/NAME`.
    pub fn argocd(s: &str) -> Result<DeployTarget, String> {
        let (namespace, name) = match s.split_once('/') {
            Some((ns, name)) => (ns, name),
            None => (ARGOCD_NAMESPACE, s),
        };
        if !is_name(namespace) || !is_name(name) {
            return Err(format!(
                "{s:?} is not an Argo CD Application as [NAMESPACE/]NAME (lowercase Kubernetes names), e.g. argocd/helloworld"
            ));
        }
        Ok(DeployTarget::ArgoApp {
            namespace: namespace.into(),
            name: name.into(),
        })
    }

    /// `Kustomization/NS/NAME` or `HelmRelease/NS/NAME` (kind case-insensitive; `ks`, `hr`).
    pub fn flux(s: &str) -> Result<DeployTarget, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let kind = parts.first().map(|k| k.to_ascii_lowercase());
        let kind = match kind.as_deref() {
            Some("kustomization" | "ks") => FluxKind::Kustomization,
            Some("helmrelease" | "hr") => FluxKind::HelmRelease,
            _ => {
                return Err(format!(
                    "{s:?}: the kind must be Kustomization or HelmRelease, as KIND/NAMESPACE/NAME, e.g. Kustomization/flux-system/apps"
                ));
            }
        };
        match parts.as_slice() {
            [_, ns, name] if is_name(ns) && is_name(name) => Ok(DeployTarget::Flux {
                kind,
                namespace: ns.to_string(),
                name: name.to_string(),
            }),
            _ => Err(format!(
                "{s:?} is not KIND/NAMESPACE/NAME, e.g. Kustomization/flux-system/apps"
            )),
        }
    }

    pub fn apply(s: &str) -> Result<DeployTarget, String> {
        if s.trim().is_empty() {
            return Err("--apply needs a file or directory".into());
        }
        Ok(DeployTarget::Apply {
            path: PathBuf::from(s),
        })
    }
}

impl fmt::Display for DeployTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeployTarget::ArgoApp { namespace, name } => {
                write!(f, "Application {namespace}/{name}")
            }
            DeployTarget::Flux {
                kind,
                namespace,
                name,
            } => write!(f, "{} {namespace}/{name}", kind.kind()),
            DeployTarget::Apply { path } => write!(f, "apply {}", path.display()),
        }
    }
}

/// A DNS-1123 name (what Kubernetes accepts for namespaces and most objects).
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argocd_apps_default_to_the_argocd_namespace() {
        assert_eq!(
            DeployTarget::argocd("helloworld").unwrap(),
            DeployTarget::ArgoApp {
                namespace: "argocd".into(),
                name: "helloworld".into()
            }
        );
        assert_eq!(
            DeployTarget::argocd("ops/hello").unwrap().to_string(),
            "Application ops/hello"
        );
        assert!(DeployTarget::argocd("a/b/c").is_err());
        assert!(DeployTarget::argocd("Hello").is_err());
    }

    #[test]
    fn flux_objects_need_kind_namespace_and_name() {
        assert_eq!(
            DeployTarget::flux("ks/flux-system/apps")
                .unwrap()
                .to_string(),
            "Kustomization flux-system/apps"
        );
        assert_eq!(
            DeployTarget::flux("HelmRelease/web/podinfo")
                .unwrap()
                .to_string(),
            "HelmRelease web/podinfo"
        );
        let err = DeployTarget::flux("GitRepository/flux-system/x").unwrap_err();
        assert!(err.contains("Kustomization or HelmRelease"), "{err}");
        assert!(DeployTarget::flux("Kustomization/apps").is_err());
    }
}
