//! Which environments one `sync` deploys and what each deploys ([`Planned`]), from the
//! command line, `.gitops-bot.yaml` and the files the commit changed. Pure: the `sync` mode
//! reads the commit's diff and hands the paths here; nothing here talks to GitLab or a
//! cluster.

use crate::config::RepoConfig;

use super::target::{DeployTarget, TargetsError, resolve};

/// One environment's part of a sync (or the one unnamed deploy of target flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Names the result comment, label and deployment record; `None` only for target flags
    /// with no environment known.
    pub environment: Option<String>,
    pub targets: Vec<DeployTarget>,
    /// For applied objects that name none: `--namespace`, else the environment's.
    pub namespace: Option<String>,
}

/// What the target flags deploy, named `environment`: exactly one [`Planned`].
pub fn flags(
    given: Vec<DeployTarget>,
    config: &RepoConfig,
    environment: Option<String>,
    namespace: Option<&str>,
) -> Result<Planned, TargetsError> {
    let targets = resolve(given, config, environment.as_deref(), false)?;
    // An environment the settings do not list (named by a merge request's marker, deployed
    // with target flags) has no namespace of its own, as one that sets none.
    let namespace = namespace.map(str::to_string).or_else(|| {
        let env = environment.as_deref()?;
        config.environments.get(env)?.namespace.clone()
    });
    Ok(Planned {
        environment,
        targets,
        namespace,
    })
}

/// Each of `names` (first occurrence order, repeats dropped) with the targets it lists in
/// `config`. Every environment is checked before any is deployed: one bad entry refuses
/// the whole sync.
pub fn environments(
    names: &[String],
    config: &RepoConfig,
    observe_only: bool,
    namespace: Option<&str>,
) -> Result<Vec<Planned>, TargetsError> {
    let mut out: Vec<Planned> = Vec::new();
    for name in names {
        if out.iter().any(|p| p.environment.as_ref() == Some(name)) {
            continue;
        }
        let targets = resolve(Vec::new(), config, Some(name), observe_only)?;
        let namespace = namespace
            .map(str::to_string)
            .or_else(|| config.environments.get(name)?.namespace.clone());
        out.push(Planned {
            environment: Some(name.clone()),
            targets,
            namespace,
        });
    }
    Ok(out)
}

/// The environments (by name) whose `paths` hold one of the `changed` files,
/// each given as its paths before and after the change: a file moved out of an
/// environment's directory changed that environment too.
pub fn touched(config: &RepoConfig, changed: &[(String, String)]) -> Vec<String> {
    let files: Vec<String> = changed
        .iter()
        .flat_map(|(old, new)| [old.clone(), new.clone()])
        .collect();
    config
        .environments_touching(&files)
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "environments:\n  dev:\n    paths: [envs/dev]\n    argocd_apps: [argocd/hello-dev]\n  staging:\n    paths: [envs/staging]\n    argocd_apps: [argocd/hello-staging]\n    namespace: hello-staging\n  prod:\n    paths: [envs/prod]\n    argocd_apps: [argocd/hello]\n";

    fn config() -> RepoConfig {
        RepoConfig::parse(CONFIG, ".gitops-bot.yaml").unwrap()
    }

    fn same(path: &str) -> (String, String) {
        (path.to_string(), path.to_string())
    }

    #[test]
    fn the_environments_whose_paths_hold_a_changed_file() {
        let changed = [
            same("envs/staging/kustomization.yaml"),
            same("envs/dev/kustomization.yaml"),
            same("README.md"),
        ];
        assert_eq!(touched(&config(), &changed), ["dev", "staging"]);
    }

    #[test]
    fn files_outside_every_environment_touch_none() {
        assert!(
            touched(
                &config(),
                &[same("docs/index.md"), same("base/deployment.yml")]
            )
            .is_empty()
        );
        assert!(touched(&config(), &[]).is_empty());
    }

    #[test]
    fn a_file_moved_out_of_an_environment_touches_it() {
        let moved = (
            "envs/prod/extra.yaml".to_string(),
            "attic/extra.yaml".to_string(),
        );
        assert_eq!(touched(&config(), &[moved]), ["prod"]);
    }

    #[test]
    fn a_path_prefix_is_not_a_directory() {
        assert!(touched(&config(), &[same("envs/devtools/x.yaml")]).is_empty());
    }

    #[test]
    fn each_environment_brings_its_own_targets_and_namespace() {
        let names = [
            "staging".to_string(),
            "dev".to_string(),
            "staging".to_string(),
        ];
        let plan = environments(&names, &config(), false, None).unwrap();
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].environment.as_deref(), Some("staging"));
        assert_eq!(
            plan[0].targets,
            [DeployTarget::argocd("argocd/hello-staging").unwrap()]
        );
        assert_eq!(plan[0].namespace.as_deref(), Some("hello-staging"));
        assert_eq!(plan[1].environment.as_deref(), Some("dev"));
        assert_eq!(plan[1].namespace, None);
        let plan = environments(&names, &config(), false, Some("x")).unwrap();
        assert_eq!(plan[0].namespace.as_deref(), Some("x"));
    }

    #[test]
    fn one_unknown_environment_refuses_them_all() {
        let names = ["dev".to_string(), "qa".to_string()];
        let err = environments(&names, &config(), false, None).unwrap_err();
        assert!(err.is_usage());
        assert!(
            err.to_string().contains("unknown environment \"qa\""),
            "{err}"
        );
    }

    #[test]
    fn target_flags_are_one_deploy_under_the_environment_named() {
        let given = vec![DeployTarget::argocd("web").unwrap()];
        let planned = flags(given.clone(), &config(), Some("staging".into()), None).unwrap();
        assert_eq!(planned.targets, given);
        assert_eq!(planned.namespace.as_deref(), Some("hello-staging"));
        let planned = flags(given, &config(), None, None).unwrap();
        assert_eq!(planned.environment, None);
    }
}
