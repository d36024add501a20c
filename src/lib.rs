//! gitops-bot: GitOps deploys from GitLab CI. The library holds the pure pieces (image
//! references, finding and editing references in YAML, diffs) and the modes that join them;
//! the binary in `main.rs` only parses arguments and owns exit codes.

pub mod blocking;
pub mod bump;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod commit_sha;
pub mod config;
pub mod deploy;
pub mod diff;
pub mod env;
pub mod forms;
pub mod gitlab;
pub mod health;
pub mod http_status;
pub mod image_ref;
pub mod manifest;
pub mod marker;
pub mod messages;
pub mod modes;
pub mod output;
pub mod plural;
pub mod policy;
pub mod render;
pub mod render_plan;
pub mod reviewed;
pub mod workdir;
pub mod workflows;
