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
//! With [`Depth::DryRun`] (`drift --deep`), each live object is also compared with what a
//! server-side dry-run apply of its Git object returns (one `PATCH … dryRun=All` per object
//! and observation, nothing stored): the only non-read request `drift` makes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use kube::Client;
use kube::core::ApiResource;
use serde_json::Value;

use crate::cli::UsageError;
use crate::cluster::apply;
use crate::cluster::live::{LiveObject, read_live};
use crate::cluster::{self, Kinds, dynamic_api, resource_of};
use crate::config::{self, RepoConfig};
use crate::deploy::{DeployTarget, resolve};
use crate::drift::{
    self, Confirmation, EnvironmentReport, Head, Seen, TargetId, TargetObservation,
};
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
    /// What was seen of each environment, for the next pass of a watcher that keeps it.
    pub seen: HashMap<String, Seen>,
}

/// How a pass observes.
#[derive(Debug, Clone, Default)]
pub struct Pass {
    /// How direct-apply targets are compared.
    pub depth: Depth,
    /// Re-observe what is wrong within the pass until it is confirmed or `drift.confirm` has
    /// passed (a scheduled job, which keeps nothing between runs). Without it, one
    /// observation: a watcher that keeps [`Observed::seen`] confirms across passes.
    pub wait: bool,
    /// What the previous pass saw (`Observed::seen`), so that consecutive passes count
    /// towards `drift.confirm`.
    pub prior: HashMap<String, Seen>,
}

/// How direct-apply targets are compared with the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Depth {
    /// Git's objects over the fields they set, from reads only (get and list).
    #[default]
    Fields,
    /// `--deep`: the server's dry-run apply of Git's objects (defaults and mutating
    /// webhooks applied) over every field; needs `patch` on the kinds.
    DryRun,
}

/// Observes `selected` environments of `project` (every environment with targets when
/// empty) read-only, re-observing what is wrong until it is confirmed (the same state and
/// objects for `drift.confirm`), clears, or the window has passed. Writes nothing:
/// [`drift_issue::report`](super::drift_issue::report) does.
pub async fn observe(
    gitlab: &GitlabClient,
    client: &Client,
    project: &str,
    selected: &[String],
) -> Result<Observed> {
    let pass = Pass {
        wait: true,
        ..Pass::default()
    };
    observe_with(gitlab, client, project, selected, &pass).await
}

/// [`observe`] as `pass` says.
pub async fn observe_with(
    gitlab: &GitlabClient,
    client: &Client,
    project: &str,
    selected: &[String],
    pass: &Pass,
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
    let head_age = head_age(gitlab, project, &branch, &head, config.drift.grace).await;
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
        depth: pass.depth,
    };
    let confirm = config.drift.confirm;
    let started = Instant::now();
    let mut confirmations = Vec::new();
    reader.new_round();
    for (name, targets) in &environments {
        let report = reader.environment(name, targets, head).await;
        // Seen as the round began, for every environment of it: what stays the same until
        // `started + confirm` has then stayed the same for the whole window.
        confirmations.push(Confirmation::start(report, pass.prior.get(name), started));
    }
    // Re-observe what is wrong until it is confirmed or clears, at most `drift.confirm`.
    let deadline = started + confirm;
    let open = |cs: &[Confirmation]| cs.iter().any(|c| c.open(confirm, Instant::now()));
    while pass.wait && open(&confirmations) && Instant::now() < deadline {
        tokio::time::sleep(REOBSERVE_EVERY.min(deadline.saturating_duration_since(Instant::now())))
            .await;
        reader.new_round();
        let round = Instant::now();
        for (c, (name, targets)) in confirmations.iter_mut().zip(&environments) {
            if c.open(confirm, round) {
                let head = Head {
                    age: head_age.map(|a| a + started.elapsed()),
                    ..head
                };
                let report = reader.environment(name, targets, head).await;
                c.observe(report, round);
            }
        }
    }
    let seen = environments
        .iter()
        .zip(&confirmations)
        .map(|((name, _), c)| (name.clone(), c.seen()))
        .collect();
    let now = Instant::now();
    let reports: Vec<EnvironmentReport> = confirmations
        .into_iter()
        .map(|c| {
            let changed = c.changed();
            let report = c.finish(confirm, now);
            if report.unconfirmed {
                tracing::info!(
                    environment = %report.environment,
                    state = %report.state,
                    changed,
                    "not the same for drift.confirm yet: shown, not written"
                );
            }
            report
        })
        .collect();
    Ok(Observed {
        project: info.path_with_namespace,
        config,
        reports,
        seen,
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
    depth: Depth,
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
        let live = match read_live(self.client, &mut self.kinds, objects, &default_namespace).await
        {
            Ok(live) => live,
            Err(e) => return TargetObservation::unknown(id, e.to_string()),
        };
        let served = match self.depth {
            Depth::Fields => vec![None; objects.len()],
            Depth::DryRun => match self.dry_run(objects, &live).await {
                Ok(served) => served,
                Err(e) => {
                    return TargetObservation::unknown(
                        id,
                        format!("server-side dry run (--deep): {e}"),
                    );
                }
            },
        };
        let pairs: Vec<drift::Applied<'_>> = objects
            .iter()
            .zip(&live)
            .zip(&served)
            .map(|((o, l), served)| drift::Applied {
                git: &o.value,
                namespace: l.namespace.as_deref(),
                live: l.live.as_ref(),
                served: served.as_ref(),
            })
            .collect();
        drift::apply(id, &pairs, &self.config.drift.ignore)
    }

    /// `--deep`: what the server's dry-run apply makes of each object that exists (a
    /// missing one is drift as it is, and applying it would need `create`); the first
    /// refusal ends it (a 403 names the `patch` rule to add).
    async fn dry_run(
        &mut self,
        objects: &[Object],
        live: &[LiveObject],
    ) -> Result<Vec<Option<Value>>, cluster::ClusterError> {
        let mut served = Vec::with_capacity(objects.len());
        for (object, l) in objects.iter().zip(live) {
            if l.live.is_none() {
                served.push(None);
                continue;
            }
            let (resource, _) = self.kinds.of(self.client, object).await?;
            served.push(Some(
                apply::dry_run(self.client, &resource, l.namespace.as_deref(), object).await?,
            ));
        }
        Ok(served)
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
        let objects = if let Err(why) = checkout::check_repository_path(&path) {
            Err(why)
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
    let items = cluster::list(&api, &resource, Some(namespace))
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

/// How long the head has been the head of `branch`, as far as GitLab tells: since its
/// commit date, or since the merge of a merge request that brought it when that is later (a
/// fast-forward merge keeps the commit's own, older date, which would end `drift.grace`
/// before the controllers could have seen the commit). The merge requests are read only when
/// the commit date alone would end the grace; when they cannot be read, the commit date
/// counts (the grace may end early: a `behind` too soon rather than a lag unseen).
async fn head_age(
    gitlab: &GitlabClient,
    project: &str,
    branch: &str,
    head: &crate::gitlab::Commit,
    grace: Duration,
) -> Option<Duration> {
    let committed = head.committed_date.as_deref().and_then(age_of);
    if committed.is_some_and(|age| age < grace) {
        return committed;
    }
    let merged = match gitlab.merge_requests_for_commit(project, &head.id).await {
        Ok(found) => found
            .iter()
            .filter(|m| m.state == "merged" && m.target_branch == branch)
            .filter_map(|m| m.merged_at.as_deref().and_then(age_of))
            .min(),
        Err(e) => {
            tracing::warn!(
                commit = %head.id,
                error = %e,
                "cannot read the merge requests of the head commit; drift.grace counts from its commit date"
            );
            None
        }
    };
    match (committed, merged) {
        (Some(c), Some(m)) => Some(c.min(m)),
        (c, m) => c.or(m),
    }
}

/// How long ago `date` (RFC 3339) was; a date in the future counts as now.
fn age_of(date: &str) -> Option<Duration> {
    let at = chrono::DateTime::parse_from_rfc3339(date).ok()?;
    let age = chrono::Utc::now().signed_duration_since(at);
    Some(age.to_std().unwrap_or(Duration::ZERO))
}
