//! The fakes that gitops-bot's integration tests (`tests/it`) and benchmarks (`benches/`)
//! drive the real binary against, on 127.0.0.1 only. A dev-only crate of the workspace
//! (`publish = false`): compiled once instead of once per test or bench binary.
//!
//! - [`fake_gitlab`]: a fake GitLab REST API backed by a real bare git repository (through
//!   the `git` CLI), with GitLab's documented answers, errors and injectable faults.
//! - [`fake_kube`]: a fake Kubernetes API server (discovery, get/list/watch, patch and
//!   server-side apply, RBAC denials) for the real `kube` client, and simulated controllers.

pub mod fake_gitlab;
pub mod fake_kube;
