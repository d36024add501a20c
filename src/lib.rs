//! gitops-bot: GitOps deploys from GitLab CI.
//!
//! The crate is layered; each layer uses only the ones above it:
//!
//! 1. **The pure core**: values and decisions, no network, no clock, no environment. Image
//!    references and versions, YAML sites and byte-splicing edits, bump plans and merge
//!    request shapes, the comment-command parser, authorisation and deploy policy, promotion (what moves and when), health
//!    per kind, what `sync` asks of Argo CD and Flux, markers, messages and replies, the
//!    repository settings.
//! 2. **The adapters**: GitLab (REST), the Kubernetes cluster, rendering with
//!    kustomize/helm, the local checkout, and the blocking pool.
//! 3. **The workflows**: orchestrations several modes share (proposing a bump, checking a
//!    bot branch, planning a rollback, answering comment commands).
//! 4. **The modes**: one per subcommand; glue that reads inputs, runs the core, adapters and
//!    workflows, and writes outputs. `main.rs` only parses arguments and owns exit codes.

// 1. The pure core.
pub mod board;
pub mod bump;
pub mod commands;
pub mod commit_sha;
pub mod config;
pub mod deploy;
pub mod diff;
pub mod drift;
pub mod duration;
pub mod forms;
pub mod health;
pub mod http_status;
pub mod image_ref;
pub mod manifest;
pub mod marker;
pub mod messages;
pub mod objects;
pub mod plural;
pub mod policy;
pub mod project_pattern;
pub mod promotion;
pub mod render_plan;
pub mod reviewed;
pub mod status_view;
pub mod usage;
pub mod window;

// 2. The adapters.
pub mod alerts;
pub mod blocking;
pub mod cluster;
pub mod env;
pub mod gitlab;
pub mod render;
pub mod workdir;

// 3. The workflows.
pub mod workflows;

// 4. The modes, their command line and their output.
pub mod cli;
pub mod modes;
pub mod output;
