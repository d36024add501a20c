//! A group's projects, for `serve --project GROUP/*` and `GROUP/**`.

use serde::Deserialize;

use super::call::{Call, segment as encode};
use super::client::{GitlabClient, GitlabError};

/// A project as a group's project list gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct GroupProject {
    pub id: u64,
    pub path_with_namespace: String,
    #[serde(default)]
    pub archived: bool,
}

impl GitlabClient {
    /// The projects of `group` (a full path or ID) that are not archived, with those of its
    /// subgroups when `include_subgroups`, every page read. Projects shared with the group
    /// from elsewhere are left out (`with_shared=false`).
    pub async fn group_projects(
        &self,
        group: &str,
        include_subgroups: bool,
    ) -> Result<Vec<GroupProject>, GitlabError> {
        let call = Call::get(format!("groups/{}/projects", encode(group)))
            .param("archived", false)
            .param("include_subgroups", include_subgroups)
            .param("with_shared", false)
            .param("simple", true)
            .param("order_by", "id")
            .param("sort", "asc");
        let found: Vec<GroupProject> = self.pages_until(&call, "group projects", |_| false).await?;
        // `simple` answers may leave `archived` out; the filter above already applied.
        Ok(found.into_iter().filter(|p| !p.archived).collect())
    }
}
