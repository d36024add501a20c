//! Groups and the projects besides the main one ([`super::Options::other_projects`]):
//! `GET /groups/:id/projects` (REST API v4 "Groups": `include_subgroups`, `archived`,
//! `simple`, paged like every list) and `GET /projects/:id` of another project.

use serde_json::{Value, json};

use super::api::{msg, paginate, project_json};
use super::http::{Request, Response};
use super::params::Params;
use super::{OtherProject, State};

/// The other project named by `id` (a numeric ID or a full path), if any.
pub(crate) fn other_project<'a>(state: &'a State, id: &str) -> Option<&'a OtherProject> {
    state
        .opts
        .other_projects
        .iter()
        .find(|o| id.parse::<u64>().ok() == Some(o.id) || o.path == id)
}

pub(crate) fn other_project_json(state: &State, o: &OtherProject) -> Value {
    let (namespace, path) = o.path.rsplit_once('/').unwrap_or(("", o.path.as_str()));
    json!({
        "id": o.id,
        "name": path,
        "path": path,
        "path_with_namespace": o.path,
        "name_with_namespace": o.path.replace('/', " / "),
        "namespace": { "path": namespace, "full_path": namespace, "kind": "group" },
        "default_branch": state.opts.default_branch,
        "visibility": "private",
        "archived": o.archived,
        "empty_repo": false,
        "web_url": format!("{}/{}", state.base_url, o.path),
    })
}

/// `GET /groups/:id/projects`: the projects directly in the group (`include_subgroups`:
/// also below it), by ID ascending; `archived=true|false` filters. 404 `Group Not Found`
/// when no project lives in or below the group (group IDs are not known here).
pub(crate) fn list_projects(state: &State, req: &Request, group: &str, p: &Params) -> Response {
    let subgroups = p.bool("include_subgroups").unwrap_or(false);
    let archived = p.bool("archived");
    let simple = p.bool("simple").unwrap_or(false);
    let main = (
        state.opts.project_id,
        state.opts.project_path.clone(),
        false,
        project_json(state),
    );
    let mut all = vec![main];
    for o in &state.opts.other_projects {
        all.push((
            o.id,
            o.path.clone(),
            o.archived,
            other_project_json(state, o),
        ));
    }
    let prefix = format!("{group}/");
    let below: Vec<_> = all
        .into_iter()
        .filter(|(_, path, _, _)| path.starts_with(&prefix))
        .collect();
    if below.is_empty() {
        return msg(404, "404 Group Not Found");
    }
    let mut found: Vec<(u64, Value)> = below
        .into_iter()
        .filter(|(_, path, _, _)| subgroups || !path[prefix.len()..].contains('/'))
        .filter(|(_, _, a, _)| archived.is_none_or(|want| *a == want))
        .map(|(id, _, _, mut json)| {
            if simple && let Some(o) = json.as_object_mut() {
                // GitLab's simple view has no settings such as `archived`.
                for key in ["archived", "visibility", "empty_repo", "merge_method"] {
                    o.remove(key);
                }
            }
            (id, json)
        })
        .collect();
    found.sort_by_key(|(id, _)| *id);
    paginate(state, req, p, found.into_iter().map(|(_, v)| v).collect())
}
