//! Workflows: the orchestrations that more than one mode runs, between the modes and the
//! adapters. Proposing a bump (`bump --project`, `rebase`, `rollback`, `sync
//! --rollback-on-failure`), checking what a bot branch holds, planning a rollback from Git,
//! answering comment commands (`serve`, `handle-event`, `commands`), and auto-deploying a
//! bump (`auto_deploy`). They join the pure
//! core with the GitLab adapter and print nothing; modes call them and own the output.

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
