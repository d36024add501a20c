//! The integration tests, one binary with one module per area (linked once, instead of once
//! per file). They drive the real `gitops-bot` binary (`CARGO_BIN_EXE_gitops-bot`) or the
//! library against the fakes of `crates/fakes` on 127.0.0.1. Run one area with
//! `cargo test --test it sync::`.

// Shared helpers.
mod common;
mod mr_thread;

// The fakes, a dev-only crate of the workspace (compiled once, for the tests and the benches).
use gitops_bot_fakes::{fake_gitlab, fake_kube};

// The areas.
mod accounting_properties;
mod bump_coverage;
mod bump_gitlab;
mod bump_images;
mod bump_local;
mod cli;
mod commands;
mod corpus;
mod deploy_integrity;
mod drift;
mod drift_commands;
mod drift_scale;
mod e2e;
mod edit_properties;
mod environments;
mod fake_gitlab_selftest;
mod fake_kube_selftest;
mod fake_webhook;
mod golden_edits;
mod holds;
mod preview;
mod promote;
mod serve_agent;
mod serve_limits;
mod status;
mod sync;
mod sync_on_merge;
mod version;

/// `autotests = false`: a test file put directly under `tests/` would not be built, so it
/// would pass by never running. Every integration test is a module of this binary.
#[test]
fn every_integration_test_is_a_module_of_tests_it() {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut stray: Vec<String> = std::fs::read_dir(&tests)
        .expect("read tests/")
        .map(|e| e.expect("a tests/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.display().to_string())
        .collect();
    stray.sort();
    assert!(
        stray.is_empty(),
        "move these into tests/it/ and declare them in tests/it/main.rs: {stray:?}"
    );
}
