//! Workflows: the orchestrations that more than one mode runs, between the modes and the
//! adapters. Proposing a bump (`bump --project`, `rebase`, `rollback`, `sync
//! --rollback-on-failure`), checking what a bot branch holds, planning a rollback from Git,
//! answering comment commands (`serve`, `handle-event`, `commands`), auto-deploying a bump
//! (`auto_deploy`), and deploying targets and waiting for them (`sync`: the `sync` mode, the
//! drift issue's `sync`, `serve --sync-on-merge`). They join the pure core with the GitLab
//! adapter and print nothing, except `sync`, whose progress lines and reporting warnings are
//! the job log of a deploy; modes call them and own the rest of the output.

pub mod auto_deploy;
pub mod board;
pub mod checkout;
pub mod comments;
pub mod drift;
pub mod drift_issue;
pub mod holds;
pub mod promotion;
pub mod propose;
pub mod rollback;
pub mod settings;
pub mod sync;
pub mod verify;
