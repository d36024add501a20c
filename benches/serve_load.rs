//! Benchmark: `gitops-bot serve` acknowledging webhook deliveries under load.
//!
//! Starts the fake GitLab (the service needs it at start-up), starts the release binary's
//! `serve` on 127.0.0.1, and runs `wrk` (Debian package) from a second process: POSTs of a
//! valid Note Hook delivery that is of no interest (a comment without a command), so every
//! request exercises token check, JSON parsing and command detection and is acknowledged
//! without queueing work. Reports requests/s, latency percentiles and the service's RSS
//! sampled over the run. Bounded: one 10 s run on loopback. Not a test: nothing asserts.
//!
//! `cargo bench --bench serve_load` (run by `bench/run.sh`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gitops_bot_fakes::fake_gitlab::{FakeGitlab, Options};

const SECRET: &str = "bench-secret";
const DURATION_S: u64 = 10;

fn main() {
    let bin = std::env::var_os("GITOPS_BOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/gitops-bot"));
    let fake = FakeGitlab::start(Options {
        seed_dir: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("ci-examples/helloworld-ops")),
        ..Options::default()
    });
    let bump = Command::new(&bin)
        .args([
            "bump",
            "--project",
            "group/helloworld-ops",
            "--gitlab-url",
            &fake.url(),
        ])
        .args(["--image", "registry.example.com/root/helloworld:ci-35"])
        .env("GITLAB_TOKEN", fake.token())
        .output()
        .expect("bump");
    assert!(
        bump.status.success(),
        "{}",
        String::from_utf8_lossy(&bump.stderr)
    );
    let note = fake.add_note(1, 3, "Looks fine to me, thanks!");
    let payload = fake.note_hook(1, note).to_string();

    let mut server = Command::new(&bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--project",
            "group/helloworld-ops",
            "--gitlab-url",
            &fake.url(),
        ])
        .env("GITLAB_TOKEN", fake.token())
        .env("GITOPS_BOT_WEBHOOK_SECRET", SECRET)
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines.next().expect("serve exited").expect("stderr line");
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("post.lua");
    let body = payload.replace('\\', "\\\\").replace('"', "\\\"");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = \"{body}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"X-Gitlab-Event\"] = \"Note Hook\"\nwrk.headers[\"X-Gitlab-Token\"] = \"{SECRET}\"\n"
        ),
    )
    .expect("write script");

    let pid = server.id();
    let rss_before = rss_kib(pid);
    let sampler = std::thread::spawn(move || {
        let mut samples = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(DURATION_S + 1) {
            samples.push(rss_kib(pid));
            std::thread::sleep(Duration::from_millis(500));
        }
        samples
    });
    let wrk = Command::new("wrk")
        .args([
            "-t1",
            "-c32",
            &format!("-d{DURATION_S}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(format!("http://{addr}/webhook"))
        .output()
        .expect("wrk (apt-get install wrk)");
    let samples = sampler.join().expect("sampler");
    let out = String::from_utf8_lossy(&wrk.stdout).into_owned();
    let metrics = reqwest::blocking::get(format!("http://{addr}/metrics"))
        .and_then(|r| r.text())
        .unwrap_or_default();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = server.wait();

    // wrk prints e.g. "Requests/sec:  32980.49" and "     99%    1.97ms".
    let value = |prefix: &str| -> String {
        out.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or("?")
            .to_string()
    };
    let non_2xx = out
        .lines()
        .find(|l| l.contains("Non-2xx"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or("0")
        .to_string();
    let ignored = metrics
        .lines()
        .find(|l| l.starts_with("gitops_bot_events_ignored_total "))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or("?");
    println!("### serve under load (wrk: 1 thread, 32 connections, {DURATION_S} s, loopback)\n");
    println!(
        "Each request: a valid Note Hook of {} bytes with no command (acknowledged, not queued).\n",
        payload.len()
    );
    println!("| figure | value | target |\n| --- | ---: | --- |");
    println!(
        "| acknowledged requests/s | {} | >= 5,000 |",
        value("Requests/sec:")
    );
    println!("| latency p50 | {} | |", value("50%"));
    println!("| latency p99 | {} | < 10 ms |", value("99%"));
    println!("| non-2xx answers | {non_2xx} | 0 |");
    println!("| deliveries the service counted as ignored | {ignored} | = requests |");
    println!("| service RSS before the run | {rss_before} KiB | |");
    println!(
        "| service RSS during the run (min / max of {} samples) | {} / {} KiB | < 50 MB, flat |",
        samples.len(),
        samples.iter().min().copied().unwrap_or(0),
        samples.iter().max().copied().unwrap_or(0)
    );
    println!("\nraw wrk output:\n```\n{}```", out);
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
