//! Drift observation: each environment's targets read-only (get and list requests only),
//! assessed against the head of the default branch by [`crate::drift`]. Used by the `drift`
//! mode; [`drift_issue`](super::drift_issue) keeps each environment's GitLab issue up to
//! date from what it saw (nothing is written to the cluster).
//!
//! Argo CD Applications and Flux objects are read with one list per kind and namespace per
//! observation round (the first observation, then each re-observation within
//! `drift.confirm`), never one get per object: a target missing from its list is `unknown`,
//! and a list the bot may not read makes every target it covers `unknown`.
//!
//! Direct-apply targets are rendered once per pass from the repository at the head (one
//! archive read, then `kustomize build` or the directory's YAML, as `sync` renders them);
//! their live objects are read with one list per kind and namespace on every observation.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use kube::Client;
use kube::core::ApiResource;
use serde_json::Value;

use crate::cli::UsageError;
use crate::cluster::live::read_live;
use crate::cluster::{self, Kinds, dynamic_api, resource_of};
use crate::config::{self, RepoConfig};
use crate::deploy::{DeployTarget, resolve};
use crate::drift::{self, Confirmation, EnvironmentReport, Head, TargetId, TargetObservation};
use crate::gitlab::GitlabClient;
use crate::render::{self, Object};
use crate::workflows::checkout;
use crate::workflows::settings;

/// How often a non-converged environment is observed again within `drift.confirm`.
const REOBSERVE_EVERY: Duration = Duration::from_secs(2);

/// What one drift pass saw: the project, its settings at the head and a report per
/// environment (after `drift.confirm`).
pub struct Observed {
    /// The project's path with namespace.
    pub project: String,
    /// `.gitops-bot.yaml` at the head of the default branch.
    pub config: RepoConfig,
    /// One report per observed environment, in the order observed.
    pub reports: Vec<EnvironmentReport>,
}

/// Observes `selected` environments of `project` (every environment with targets when
/// empty) read-only, re-observing what is wrong until it clears or `drift.confirm` has
/// passed. Writes nothing: [`drift_issue::report`] does.
pub async fn observe(
    gitlab: &GitlabClient,
    client: &Client,
    project: &str,
    selected: &[String],
) -> Result<Observed> {
    let settings::DefaultHead {
        project: info,
        branch,
        head,
    } = settings::default_head(gitlab, project).await?;
    let config = settings::settings_at(gitlab, project, &head.id, || {
        format!("{project} at {branch}")
    })
    .await?;
    let environments = environments(selected, &config)?;
    let head_age = head.committed_date.as_deref().and_then(age_of);
    let head = Head {
        commit: &head.id,
        age: head_age,
    };

    let rendered = render_applied(gitlab, project, head.commit, &environments).await?;
    let mut reader = Reader {
        client,
        resources: Resources::default(),
        listed: HashMap::new(),
        kinds: Kinds::default(),
        rendered: &rendered,
        config: &config,
    };
    let started = Instant::now();
    let mut confirmations = Vec::new();
    reader.new_round();
    for (name, targets) in &environments {
        let report = reader.environment(name, targets, head).await;
        confirmations.push(Confirmation::start(report));
    }
    // Re-observe what is wrong until it clears or `drift.confirm` has passed.
    let deadline = started + config.drift.confirm;
    while confirmations.iter().any(Confirmation::open) && Instant::now() < deadline {
        tokio::time::sleep(REOBSERVE_EVERY.min(deadline - Instant::now())).await;
        reader.new_round();
        for (c, (name, targets)) in confirmations.iter_mut().zip(&environments) {
            if c.open() {
                let head = Head {
                    age: head_age.map(|a| a + started.elapsed()),
                    ..head
                };
                c.observe(reader.environment(name, targets, head).await);
            }
        }
    }
    let reports: Vec<EnvironmentReport> = confirmations
        .into_iter()
        .map(|c| {
            let changed = c.changed();
            let report = c.finish();
            if changed {
                tracing::info!(
                    environment = %report.environment,
                    "the state changed during drift.confirm; reporting the last one seen"
                );
            }
            report
        })
        .collect();
    Ok(Observed {
        project: info.path_with_namespace,
        config,
        reports,
    })
}

/// The environments to observe with their targets: those named by `--environment` (each
/// must exist and have targets), else every environment that lists targets.
fn environments(
    selected: &[String],
    config: &RepoConfig,
) -> Result<Vec<(String, Vec<DeployTarget>)>> {
    let usage = |e: &dyn std::fmt::Display| anyhow::Error::new(UsageError(e.to_string()));
    let mut out = Vec::new();
    if selected.is_empty() {
        for (name, env) in &config.environments {
            if env.argocd_apps.is_empty() && env.flux.is_empty() && env.apply.is_empty() {
                continue;
            }
            out.push((
                name.clone(),
                resolve(Vec::new(), config, Some(name), false)?,
            ));
        }
        if out.is_empty() {
            return Err(usage(&format!(
                "no environment of {} lists argocd_apps, flux or apply: nothing to observe",
                config::FILE_NAME
            )));
        }
        return Ok(out);
    }
    for name in selected {
        config.environment(name).map_err(|e| usage(&e))?;
        if out.iter().any(|(n, _)| n == name) {
            continue;
        }
        let targets = resolve(Vec::new(), config, Some(name), false).map_err(|e| {
            if e.is_usage() {
                usage(&e)
            } else {
                anyhow::Error::new(e)
            }
        })?;
        out.push((name.clone(), targets));
    }
    Ok(out)
}

/// The discovery answers of this run: each kind is looked up once, not on every read of
/// every round of `drift.confirm`. Failures are not kept (the next read asks again).
#[derive(Default)]
struct Resources(HashMap<(String, String), ApiResource>);

impl Resources {
    async fn of(
        &mut self,
        client: &Client,
        group: &str,
        kind: &str,
    ) -> Result<ApiResource, String> {
        let key = (group.to_string(), kind.to_string());
        if let Some(found) = self.0.get(&key) {
            return Ok(found.clone());
        }
        let found = resource_of(client, group, kind)
            .await
            .map_err(|e| e.to_string())?;
        self.0.insert(key, found.clone());
        Ok(found)
    }
}

/// What `drift` reads with, kept for the whole run (discovery answers, rendered objects),
/// and the lists of the current observation round.
struct Reader<'a> {
    client: &'a Client,
    resources: Resources,
    listed: HashMap<(String, String, String), Result<Listing, String>>,
    kinds: Kinds,
    rendered: &'a Rendered,
    config: &'a RepoConfig,
}

impl Reader<'_> {
    async fn environment(
        &mut self,
        environment: &str,
        targets: &[DeployTarget],
        head: Head<'_>,
    ) -> EnvironmentReport {
        let mut observations = Vec::new();
        for target in targets {
            observations.push(self.target(environment, target).await);
        }
        drift::assess(environment, head, self.config.drift.grace, &observations)
    }

    /// One target, found in its kind's list of its namespace (one list per kind and
    /// namespace per round, after the kind's discovery, once per run), or for direct apply
    /// one list per kind and namespace; what cannot be read is `unknown`.
    async fn target(&mut self, environment: &str, target: &DeployTarget) -> TargetObservation {
        match target {
            DeployTarget::ArgoApp { namespace, name } => {
                let id = TargetId::new("Application", Some(namespace), name);
                match self
                    .listed("argoproj.io", "Application", namespace, name)
                    .await
                {
                    Ok(app) => drift::argo(id, app),
                    Err(why) => TargetObservation::unknown(id, why),
                }
            }
            DeployTarget::Flux {
                kind,
                namespace,
                name,
            } => {
                let id = TargetId::new(kind.kind(), Some(namespace), name);
                match self
                    .listed(kind.group(), kind.kind(), namespace, name)
                    .await
                {
                    Ok(obj) => drift::flux(id, obj),
                    Err(why) => TargetObservation::unknown(id, why),
                }
            }
            DeployTarget::Apply { path } => self.applied(environment, path).await,
        }
    }

    /// `namespace/name` of `group`'s `kind`, from this round's list of that kind in that
    /// namespace (listed on first use). A failed list fails every target it covers; a name
    /// missing from the list is not found.
    async fn listed(
        &mut self,
        group: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<&Value, String> {
        let key = (group.to_string(), kind.to_string(), namespace.to_string());
        if !self.listed.contains_key(&key) {
            let listing = list(self.client, &mut self.resources, group, kind, namespace).await;
            self.listed.insert(key.clone(), listing);
        }
        match self.listed.get(&key) {
            Some(Ok(listing)) => listing.by_name.get(name).ok_or_else(|| {
                format!(
                    "{}: \"{name}\" is not among the {} listed (not found) — check the name and namespace in {}",
                    listing.request,
                    listing.by_name.len(),
                    config::FILE_NAME
                )
            }),
            Some(Err(why)) => Err(why.clone()),
            None => Err(format!("{kind} {namespace}/{name}: not listed")),
        }
    }

    /// Starts an observation round: the lists of the last round are not used again.
    fn new_round(&mut self) {
        self.listed.clear();
    }

    /// A direct-apply target: its rendered objects against the live ones.
    async fn applied(&mut self, environment: &str, path: &Path) -> TargetObservation {
        let id = TargetId::new("Apply", None, &path.display().to_string());
        let objects = match self.rendered.get(path) {
            Some(Ok(objects)) => objects,
            Some(Err(why)) => return TargetObservation::unknown(id, why.clone()),
            None => return TargetObservation::unknown(id, "not rendered"),
        };
        let default_namespace = self
            .config
            .environments
            .get(environment)
            .and_then(|e| e.namespace.clone())
            .unwrap_or_else(|| self.client.default_namespace().to_string());
        match read_live(self.client, &mut self.kinds, objects, &default_namespace).await {
            Ok(live) => {
                let pairs: Vec<drift::Applied<'_>> = objects
                    .iter()
                    .zip(&live)
                    .map(|(o, l)| drift::Applied {
                        git: &o.value,
                        namespace: l.namespace.as_deref(),
                        live: l.live.as_ref(),
                    })
                    .collect();
                drift::apply(id, &pairs, &self.config.drift.ignore)
            }
            Err(e) => TargetObservation::unknown(id, e.to_string()),
        }
    }
}

/// Each direct-apply path's objects, or why it could not be rendered.
type Rendered = HashMap<PathBuf, Result<Vec<Object>, String>>;

/// The objects of every direct-apply path of `environments`, rendered from the repository
/// at `commit` (read once, only when there is such a path).
async fn render_applied(
    gitlab: &GitlabClient,
    project: &str,
    commit: &str,
    environments: &[(String, Vec<DeployTarget>)],
) -> Result<Rendered> {
    let paths: Vec<PathBuf> = environments
        .iter()
        .flat_map(|(_, targets)| targets)
        .filter_map(|t| match t {
            DeployTarget::Apply { path } => Some(path.clone()),
            _ => None,
        })
        .collect();
    let mut out = Rendered::new();
    if paths.is_empty() {
        return Ok(out);
    }
    let files = checkout::read_tree(gitlab, project, commit).await?;
    let tree = checkout::write_tree(&files)?;
    for path in paths {
        if out.contains_key(&path) {
            continue;
        }
        let inside = !path.as_os_str().is_empty()
            && path
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        let objects = if !inside {
            Err(format!(
                "apply path {} is not inside the repository (relative, without ..)",
                path.display()
            ))
        } else if !tree.path().join(&path).exists() {
            Err(format!(
                "{} does not exist at {}",
                path.display(),
                crate::commit_sha::short(commit)
            ))
        } else {
            let full = tree.path().join(&path);
            // Sources and errors name repository paths, not the temporary directory.
            let prefix = format!("{}/", tree.path().display());
            crate::blocking::run(move || render::objects(&full))
                .await
                .map_err(|e| e.to_string().replace(&prefix, ""))
                .and_then(|objects| {
                    if objects.is_empty() {
                        return Err(format!("{} holds no Kubernetes objects", path.display()));
                    }
                    Ok(objects
                        .into_iter()
                        .map(|o| Object {
                            source: o.source.replace(&prefix, ""),
                            ..o
                        })
                        .collect())
                })
        };
        out.insert(path, objects);
    }
    Ok(out)
}

/// One kind's objects in one namespace, by name, and the request that listed them.
struct Listing {
    /// `list applications.argoproj.io in namespace argocd`
    request: String,
    by_name: HashMap<String, Value>,
}

/// Every `group`'s `kind` in `namespace`, with one list request, or why they could not be
/// listed.
async fn list(
    client: &Client,
    resources: &mut Resources,
    group: &str,
    kind: &str,
    namespace: &str,
) -> Result<Listing, String> {
    let resource = resources.of(client, group, kind).await?;
    let api = dynamic_api(client, &resource, Some(namespace));
    let items = cluster::list(&api, &resource, namespace)
        .await
        .map_err(|e| e.to_string())?;
    let mut by_name = HashMap::with_capacity(items.len());
    for item in items {
        let Some(name) = item.metadata.name.clone() else {
            continue;
        };
        let value =
            serde_json::to_value(&item).map_err(|e| format!("{kind} {namespace}/{name}: {e}"))?;
        by_name.insert(name, value);
    }
    let request = cluster::Subject {
        verb: "list",
        resource: &resource,
        namespace: Some(namespace),
        name: None,
    }
    .request();
    Ok(Listing { request, by_name })
}

/// How long ago `date` (RFC 3339) was; a date in the future counts as now.
fn age_of(date: &str) -> Option<Duration> {
    let at = chrono::DateTime::parse_from_rfc3339(date).ok()?;
    let age = chrono::Utc::now().signed_duration_since(at);
    Some(age.to_std().unwrap_or(Duration::ZERO))
}
