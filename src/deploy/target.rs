//! What `sync` deploys, as given on the command line or in `.gitops-bot.yaml`: Argo CD
//! Applications (`[NS/]NAME`), Flux objects (`KIND/NS/NAME`) and directories applied
//! directly. Parsing and choosing only; nothing here talks to a cluster.

use std::fmt;
use std::path::PathBuf;

use crate::config::{ConfigError, FILE_NAME, RepoConfig};

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

/// Why `sync` has nothing, or nothing valid, to deploy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetsError {
    #[error(
        "nothing to sync: pass --argocd-app, --flux or --apply, or --environment with targets in {}",
        FILE_NAME
    )]
    NoneGiven,
    /// The environment is not defined (or there is no file to define it).
    #[error("{0}")]
    Environment(ConfigError),
    /// An entry of the environment's `argocd_apps` or `flux` list is not a target.
    #[error("{}: environments.{environment}.{list}: {message}", FILE_NAME)]
    BadEntry {
        environment: String,
        list: &'static str,
        message: String,
    },
    /// An entry of the environment's `apply` list is not a path.
    #[error("{0}")]
    BadPath(String),
    #[error(
        "nothing to sync for environment {env:?}: list argocd_apps, flux or apply under environments.{env} in {file}, or pass them as flags",
        env = .0,
        file = FILE_NAME
    )]
    EmptyEnvironment(String),
    #[error("--observe-only waits for a controller; environment {0:?} has `apply` targets")]
    ObserveOnlyApply(String),
}

impl TargetsError {
    /// Whether the command line is what must change (exit status 2), rather than the
    /// repository's `.gitops-bot.yaml`.
    pub fn is_usage(&self) -> bool {
        !matches!(
            self,
            TargetsError::BadEntry { .. } | TargetsError::BadPath(_)
        )
    }
}

/// What `sync` deploys: the `given` flags' targets, else those `environment` lists in
/// `config` (its Argo CD apps, then its Flux objects, then its paths). `observe_only`
/// refuses an environment's `apply` targets, which no controller would report on (the
/// flags' are refused before, with the flags).
pub fn resolve(
    given: Vec<DeployTarget>,
    config: &RepoConfig,
    environment: Option<&str>,
    observe_only: bool,
) -> Result<Vec<DeployTarget>, TargetsError> {
    if !given.is_empty() {
        return Ok(given);
    }
    let env = environment.ok_or(TargetsError::NoneGiven)?;
    let env_config = config.environment(env).map_err(TargetsError::Environment)?;
    let entry = |list: &'static str| {
        move |message: String| TargetsError::BadEntry {
            environment: env.to_string(),
            list,
            message,
        }
    };
    let mut out = Vec::new();
    for s in &env_config.argocd_apps {
        out.push(DeployTarget::argocd(s).map_err(entry("argocd_apps"))?);
    }
    for s in &env_config.flux {
        out.push(DeployTarget::flux(s).map_err(entry("flux"))?);
    }
    for s in &env_config.apply {
        out.push(DeployTarget::apply(s).map_err(TargetsError::BadPath)?);
    }
    if out.is_empty() {
        return Err(TargetsError::EmptyEnvironment(env.to_string()));
    }
    if observe_only && out.iter().any(|t| matches!(t, DeployTarget::Apply { .. })) {
        return Err(TargetsError::ObserveOnlyApply(env.to_string()));
    }
    Ok(out)
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

    fn config(text: &str) -> RepoConfig {
        RepoConfig::parse(text, FILE_NAME).unwrap()
    }

    #[test]
    fn flags_win_over_the_environments_targets() {
        let config = config("environments:\n  prod:\n    argocd_apps: [web]\n");
        let given = vec![DeployTarget::apply("deploy").unwrap()];
        assert_eq!(
            resolve(given.clone(), &config, Some("prod"), false),
            Ok(given)
        );
    }

    #[test]
    fn an_environment_lists_apps_then_flux_objects_then_paths() {
        let config = config(
            "environments:\n  prod:\n    apply: [deploy]\n    flux: [ks/flux-system/apps]\n    argocd_apps: [argocd/web]\n",
        );
        let names: Vec<String> = resolve(Vec::new(), &config, Some("prod"), false)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            [
                "Application argocd/web",
                "Kustomization flux-system/apps",
                "apply deploy"
            ]
        );
        assert_eq!(
            resolve(Vec::new(), &config, Some("prod"), true),
            Err(TargetsError::ObserveOnlyApply("prod".into()))
        );
    }

    #[test]
    fn nothing_to_sync_is_said_with_what_to_do() {
        let config = config(
            "environments:\n  dev:\n    paths: [dev]\n  prod:\n    flux: [GitRepository/flux-system/x]\n",
        );
        let err = resolve(Vec::new(), &config, None, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "nothing to sync: pass --argocd-app, --flux or --apply, or --environment with targets in .gitops-bot.yaml"
        );
        assert!(err.is_usage());
        let err = resolve(Vec::new(), &config, Some("dev"), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "nothing to sync for environment \"dev\": list argocd_apps, flux or apply under environments.dev in .gitops-bot.yaml, or pass them as flags"
        );
        let err = resolve(Vec::new(), &config, Some("qa"), false).unwrap_err();
        assert!(matches!(err, TargetsError::Environment(_)), "{err}");
        assert!(err.is_usage());
        let err = resolve(Vec::new(), &config, Some("prod"), false).unwrap_err();
        assert!(
            err.to_string().starts_with(
                ".gitops-bot.yaml: environments.prod.flux: \"GitRepository/flux-system/x\": the kind must be"
            ),
            "{err}"
        );
        assert!(!err.is_usage(), "the repository's file is what must change");
    }
}
