//! Helpers for driving the real `gitops-bot` binary.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn gitops_bot(args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_gitops-bot"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run gitops-bot");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example_repo() -> PathBuf {
    repo_root().join("ci-examples/helloworld-ops")
}

/// `../shared/corpus`, beside the project.
/// The example config repo reduced to its `prod` environment, without `.gitops-bot.yaml`:
/// the image is referenced twice, in `base/deployment.yml` and
/// `envs/prod/kustomization.yaml`. The fixture of the tests of `bump`, comments and `sync`
/// mechanics, which write their own `.gitops-bot.yaml`; the example's other environments
/// and configuration are tested where environments are.
pub fn prod_only_repo() -> tempfile::TempDir {
    let dir = copy_tree(&example_repo());
    for env in ["envs/dev", "envs/staging"] {
        std::fs::remove_dir_all(dir.path().join(env)).unwrap();
    }
    std::fs::remove_file(dir.path().join(".gitops-bot.yaml")).unwrap();
    dir
}

pub fn corpus_dir() -> PathBuf {
    repo_root().join("../shared/corpus")
}

/// Copies a directory tree (files and dirs only) into a fresh temp dir.
pub fn copy_tree(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_into(from, dir.path());
    dir
}

fn copy_into(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_into(&entry.path(), &target);
        } else if kind.is_file() {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes, by relative path.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel, fs::read(entry.path()).unwrap()));
        }
    }
    out
}

pub fn write(dir: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

pub fn read(dir: &Path, rel: &str) -> String {
    fs::read_to_string(dir.join(rel)).unwrap()
}

/// `gitops-bot ARGS --gitlab-url URL` with the token in GITLAB_TOKEN and none of the CI
/// variables of the machine running the tests.
pub fn bot_command(url: &str, token: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops-bot"));
    cmd.args(args).args(["--gitlab-url", url]);
    for (k, _) in std::env::vars() {
        if k.starts_with("CI_") || k == "GITLAB_TOKEN" || k == "RUST_LOG" || k == "TRIGGER_PAYLOAD"
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("GITLAB_TOKEN", token);
    cmd
}

/// Runs `cmd` and checks that `token` appears nowhere in its output.
pub fn run_without_leaking(mut cmd: Command, token: &str) -> Run {
    let out = cmd.output().expect("run gitops-bot");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stdout.contains(token) && !run.stderr.contains(token),
        "the token leaked:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

/// `gitops-bot bump --local DIR --image IMAGE --output json` plus `extra` flags.
pub fn bump_json(dir: &Path, image: &str, extra: &[&str]) -> Run {
    let dir = dir.to_str().unwrap();
    let mut args = vec!["bump", "--local", dir, "--image", image, "--output", "json"];
    args.extend_from_slice(extra);
    gitops_bot(&args)
}

/// The JSON document a run printed.
pub fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}
