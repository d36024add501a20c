//! The GitLab adapter: an HTTP client with GitLab's retry and error semantics, the calls
//! gitops-bot makes, and safe reading of repository archives. It knows nothing about YAML
//! editing or what a bump is.

mod api;
pub mod archive;
mod call;
mod client;
mod deploys;
mod ensure;
mod groups;
pub mod hooks;
mod issues;
mod review;

pub use api::{
    Commit, MergeRequest, MergeRequestFields, MergeRequestState, Note, Pipeline, Project, UserRef,
};
pub use archive::{Archive, ArchiveFile, Limits};
pub(crate) use client::without_url;
pub use client::{GitlabClient, GitlabError, Token, api_base};
pub use deploys::{Deployment, DeploymentOutcome};
pub use ensure::Ensured;
pub use groups::GroupProject;
pub use issues::{Issue, IssueChange, IssueFields};
pub use review::{
    Approval, ChangedPath, MergeOutcome, Noteable, Reacted, Reaction, ThreadNote, Version,
};
