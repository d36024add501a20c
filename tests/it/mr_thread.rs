//! The world of comment-command tests: a config repo on the fake GitLab with a bot merge
//! request !1, users of every role, the binary run against it, and `serve` as a child.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Run};
use crate::fake_gitlab::{FakeGitlab, MAINTAINER, Options};

pub const PROJECT: &str = "group/helloworld-ops";
pub const IMAGE: &str = "registry.example.com/root/helloworld";
pub const OPERATOR: u64 = 2;
pub const REVIEWER: u64 = 3;
pub const STRANGER: u64 = 4;
pub const MAINTAINER_USER: u64 = 5;

/// A config repo with operators, a bot merge request !1 proposing ci-35, and users:
/// operator (listed operator), reviewer (Developer), stranger (no member), maint (Maintainer).
pub fn setup(config: &str) -> (FakeGitlab, tempfile::TempDir) {
    setup_with(config, Options::default())
}

/// [`setup`] with other fake options (the seed and the users are added to them).
pub fn setup_with(config: &str, options: Options) -> (FakeGitlab, tempfile::TempDir) {
    let seed = common::prod_only_repo();
    common::write(seed.path(), ".gitops-bot.yaml", config);
    let mut opts = Options {
        seed_dir: Some(seed.path().to_path_buf()),
        ..options
    };
    opts.users.push((STRANGER, "stranger".into()));
    opts.users.push((MAINTAINER_USER, "maint".into()));
    opts.members.push((MAINTAINER_USER, MAINTAINER));
    let fake = FakeGitlab::start(opts);
    let run = bump_to(&fake, "ci-35");
    assert_eq!(run.code, 0, "{}", run.stderr);
    (fake, seed)
}

/// `bump --project` of the image to `version`.
pub fn bump_to(fake: &FakeGitlab, version: &str) -> Run {
    bot(
        fake,
        &[
            "bump",
            "--project",
            PROJECT,
            "--image",
            &format!("{IMAGE}:{version}"),
        ],
    )
}

/// The operator deploys !1 by comment; it is merged.
pub fn deploy_first(fake: &FakeGitlab) {
    fake.add_note(1, OPERATOR, "gitops-bot deploy");
    poll(fake);
    assert_eq!(mr(fake, 1)["state"], "merged", "{:?}", replies(fake, 1));
}

/// The merge request opened last.
pub fn latest_mr(fake: &FakeGitlab) -> Value {
    fake.merge_requests()
        .into_iter()
        .max_by_key(|m| m["iid"].as_u64())
        .expect("a merge request")
}

pub fn default_setup() -> (FakeGitlab, tempfile::TempDir) {
    setup("operators: [operator]\n")
}

/// Runs the binary against the fake with the token in GITLAB_TOKEN and no CI variables.
pub fn bot(fake: &FakeGitlab, args: &[&str]) -> Run {
    common::run_without_leaking(command(fake, args), fake.token())
}

pub fn command(fake: &FakeGitlab, args: &[&str]) -> Command {
    common::bot_command(&fake.url(), fake.token(), args)
}

pub fn poll(fake: &FakeGitlab) -> Run {
    let run = bot(fake, &["commands", "--project", PROJECT]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run
}

pub fn mr(fake: &FakeGitlab, iid: u64) -> Value {
    fake.merge_requests()
        .into_iter()
        .find(|m| m["iid"] == iid)
        .expect("merge request")
}

/// The bot's replies on !iid.
pub fn replies(fake: &FakeGitlab, iid: u64) -> Vec<String> {
    fake.notes(iid)
        .into_iter()
        .filter(|n| {
            n["author"]["username"] == "gitops-bot"
                && n["body"].as_str().unwrap_or("").contains("\"reply_to\"")
        })
        .map(|n| n["body"].as_str().unwrap().to_string())
        .collect()
}

pub fn main_file(fake: &FakeGitlab, path: &str) -> String {
    String::from_utf8(fake.file("main", path).unwrap()).unwrap()
}

pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    pub fn start(fake: &FakeGitlab, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--project", PROJECT];
        args.extend_from_slice(extra);
        let mut child = command(fake, &args)
            .env("GITOPS_BOT_WEBHOOK_SECRET", "s3cret")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines.next().expect("serve exited").unwrap();
            if let Some(a) = line.strip_prefix("listening on ") {
                break a.to_string();
            }
        };
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            url: format!("http://{addr}"),
        }
    }

    pub fn post(&self, token: &str, event: &str, body: &[u8], key: Option<&str>) -> (u16, String) {
        let client = reqwest::blocking::Client::new();
        let mut req = client
            .post(format!("{}/webhook", self.url))
            .header("X-Gitlab-Token", token)
            .header("X-Gitlab-Event", event)
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req.send().expect("post");
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let resp = reqwest::blocking::get(format!("{}{path}", self.url)).expect("get");
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    }

    /// SIGTERM, then the exit code of the graceful shutdown (which must come within 30 s).
    pub fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // A signal here means SIGTERM found no handler: killed, not drained.
                return status.code().unwrap_or_else(|| {
                    panic!("serve ended by a signal, not by exiting: {status}")
                });
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "serve did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.url
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address")
    }
}

impl Drop for Server {
    /// A failed test must not leave the server running (it holds the test's stdout open).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
