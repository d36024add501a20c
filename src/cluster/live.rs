//! Rendered objects' kinds and live counterparts. [`Kinds`] resolves each `apiVersion`/`kind`
//! through discovery once (what `apply` and `drift` share); [`read_live`] reads the live
//! objects read-only, with one `list` per kind and namespace, never one `get` per object.
//! It decides nothing: comparing is [`crate::drift::compare`]'s.

use std::collections::{BTreeMap, HashMap};

use kube::Client;
use kube::api::{ApiResource, GroupVersionKind};
use kube::discovery::{Scope, pinned_kind};
use serde_json::Value;

use super::{ClusterError, discovery_error, dynamic_api};
use crate::render::Object;

/// The kinds resolved so far (`apiVersion`, `kind`) → (resource, namespaced); failures are
/// not kept.
#[derive(Debug, Default)]
pub struct Kinds(HashMap<(String, String), (ApiResource, bool)>);

impl Kinds {
    /// The served resource of `object`'s `apiVersion` and `kind`, and whether it is
    /// namespaced.
    pub async fn of(
        &mut self,
        client: &Client,
        object: &Object,
    ) -> Result<(ApiResource, bool), ClusterError> {
        let key = (object.api_version().to_string(), object.kind().to_string());
        if let Some(found) = self.0.get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = match object.api_version().split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", object.api_version()),
        };
        if version.is_empty() {
            return Err(ClusterError::NoVersion {
                origin: object.source.clone(),
                api_version: object.api_version().to_string(),
            });
        }
        let gvk = GroupVersionKind::gvk(group, version, object.kind());
        let (resource, caps) = pinned_kind(client, &gvk).await.map_err(|e| {
            discovery_error(
                &format!("API version {}", object.api_version()),
                format!(
                    "{} {} ({})",
                    object.api_version(),
                    object.kind(),
                    object.source
                ),
                e,
            )
        })?;
        let found = (resource, caps.scope == Scope::Namespaced);
        self.0.insert(key, found.clone());
        Ok(found)
    }
}

/// One rendered object with where it lives and its live counterpart (`None`: missing).
#[derive(Debug, Clone)]
pub struct LiveObject {
    /// Its own namespace, else the default one; `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub live: Option<Value>,
}

/// The live counterparts of `objects`, in their order; namespaced objects that name no
/// namespace are looked for in `default_namespace`, as `apply` puts them there. The first
/// refused or failed read ends it (a 403 names the `list` rule to add).
pub async fn read_live(
    client: &Client,
    kinds: &mut Kinds,
    objects: &[Object],
    default_namespace: &str,
) -> Result<Vec<LiveObject>, ClusterError> {
    let mut placed = Vec::with_capacity(objects.len());
    for object in objects {
        let (resource, namespaced) = kinds.of(client, object).await?;
        let namespace =
            namespaced.then(|| object.namespace().unwrap_or(default_namespace).to_string());
        placed.push((resource, namespace));
    }
    // One list per (kind, namespace): by name.
    let mut listed: BTreeMap<(String, Option<String>), HashMap<String, Value>> = BTreeMap::new();
    for (resource, namespace) in &placed {
        let key = (list_key(resource), namespace.clone());
        if listed.contains_key(&key) {
            continue;
        }
        let api = dynamic_api(client, resource, namespace.as_deref());
        let by_name = super::list(&api, resource, namespace.as_deref())
            .await?
            .into_iter()
            .filter_map(|item| {
                let name = item.metadata.name.clone()?;
                serde_json::to_value(&item).ok().map(|v| (name, v))
            })
            .collect();
        listed.insert(key, by_name);
    }
    Ok(objects
        .iter()
        .zip(placed)
        .map(|(object, (resource, namespace))| {
            let live = listed
                .get(&(list_key(&resource), namespace.clone()))
                .and_then(|by_name| by_name.get(object.name()))
                .cloned();
            LiveObject { namespace, live }
        })
        .collect())
}

/// What a list is of: `apps/v1 deployments`.
fn list_key(resource: &ApiResource) -> String {
    format!("{} {}", resource.api_version, resource.plural)
}
