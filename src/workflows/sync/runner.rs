//! What the runners of `sync` share: the [`Context`] of one sync, waiting on one object to
//! an [`Outcome`] with every change in the job log ([`settle`]), the two requests they make
//! of an object, and the pods' explanation of workloads that are not healthy. The runners
//! import this module; it imports no runner, and nothing imports the dispatcher.

use std::time::Instant;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::Value;

pub(crate) use crate::cluster::get;
use crate::cluster::wait::{LastSeen, until_settled};
use crate::cluster::{ClusterError, Subject, pods};
use crate::deploy::outcome::{self, Outcome};
use crate::health::{Assessment, ResourceRow};

use super::progress::Progress;

/// What every runner shares.
pub struct Context<'a> {
    pub client: &'a Client,
    pub commit: &'a str,
    pub deadline: Instant,
    pub observe_only: bool,
    pub default_namespace: &'a str,
    /// Shown in the Argo CD operation's info: who asked, from which job.
    pub info: &'a str,
    pub progress: &'a Progress,
}

impl Context<'_> {
    /// Why `label` is not healthy, in one line (see [`outcome::reason`]).
    pub(crate) fn reason(
        &self,
        outcome: Outcome,
        label: &str,
        last: Option<&Assessment>,
    ) -> Option<String> {
        outcome::reason(outcome, label, last, self.progress.elapsed())
    }
}

/// Waits on one object until `assess` gives a verdict or the deadline passes, with every
/// new assessment in the job log; how it ended, and what was seen last.
pub(crate) async fn settle(
    ctx: &Context<'_>,
    resource: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    assess: impl FnMut(&Value) -> Assessment,
) -> Result<(Outcome, LastSeen), ClusterError> {
    let label = match namespace {
        Some(ns) => format!("{} {ns}/{name}", resource.kind),
        None => format!("{} {name}", resource.kind),
    };
    let seen = until_settled(
        ctx.client,
        resource,
        namespace,
        name,
        ctx.deadline,
        assess,
        |a| ctx.progress.transition(&label, a),
    )
    .await?;
    Ok((Outcome::of_wait(seen.assessment.as_ref()), seen))
}

pub(crate) async fn merge_patch(
    api: &Api<DynamicObject>,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
    patch: &Value,
) -> Result<DynamicObject, ClusterError> {
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(|e| {
            Subject {
                verb: "patch",
                resource,
                namespace: Some(namespace),
                name: Some(name),
            }
            .error(e)
        })
}

/// Pod explanations for the namespaces of workloads among `rows` that are not healthy.
pub(crate) async fn explain_rows(ctx: &Context<'_>, rows: &[ResourceRow]) -> Vec<String> {
    let mut out = Vec::new();
    for ns in outcome::namespaces_to_explain(rows) {
        out.extend(pods::explain(ctx.client, ns, None, None).await);
    }
    out
}

pub(crate) fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}
