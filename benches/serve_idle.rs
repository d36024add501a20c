//! Benchmark: `gitops-bot serve` against thousands of idle connections (issue 10: "probing
//! held 4,000 idle connections for 40 s and none was closed").
//!
//! Starts the fake GitLab (the service needs it at start-up) and the release binary's
//! `serve` on 127.0.0.1, opens N connections that never send a byte, then for S seconds
//! reports once a second: how many of them the server still holds open, whether a fresh
//! `GET /healthz` is answered (status and latency), and the service's RSS. Two runs: the
//! defaults (`--max-connections 1024`, 10 s timeouts), and a cap above N so that every
//! connection is accepted and only the timeouts close them (a binary from before the
//! limits gets the first run only, for comparison). Bounded (2 × S seconds on loopback).
//! Not a test: nothing asserts.
//!
//! `cargo bench --bench serve_idle`; knobs: `BENCH_IDLE_CONNECTIONS` [4000],
//! `BENCH_IDLE_SECONDS` [40], `GITOPS_BOT` [target/release/gitops-bot]. Needs an open-file
//! limit above N + 100 for this process and N + 100 for the service (`ulimit -n`).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gitops_bot_fakes::fake_gitlab::{FakeGitlab, Options};

fn main() {
    let n: usize = knob("BENCH_IDLE_CONNECTIONS", 4000);
    let seconds: u64 = knob("BENCH_IDLE_SECONDS", 40);
    let bin = std::env::var_os("GITOPS_BOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/gitops-bot"));
    let fake = FakeGitlab::start(Options::default());

    println!("### serve against {n} idle connections ({seconds} s, loopback)\n");
    println!("binary: `{}`\n", bin.display());
    let cap_above = (n + 1000).to_string();
    let runs = if has_limits(&bin) {
        vec![
            (
                "defaults (--max-connections 1024, --header-timeout 10s, --idle-timeout 10s)",
                vec![],
            ),
            (
                "cap above N (--max-connections N+1000): only the timeouts close connections",
                vec!["--max-connections", cap_above.as_str()],
            ),
        ]
    } else {
        vec![("a binary without connection limits, its defaults", vec![])]
    };
    for (title, extra) in runs {
        println!("#### {title}\n");
        run(&bin, &fake, &extra, n, seconds);
    }
}

/// Whether the binary's `serve` has the connection limits (older builds do not).
fn has_limits(bin: &Path) -> bool {
    Command::new(bin)
        .args(["serve", "--help"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("--max-connections"))
}

fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One idle client connection, as the bench sees it.
struct Idle {
    stream: TcpStream,
    opened: Instant,
    /// When the bench first saw it closed by the server (polled once a second).
    closed: Option<Instant>,
    refused: bool,
}

fn run(bin: &Path, fake: &FakeGitlab, extra: &[&str], n: usize, seconds: u64) {
    let (mut server, addr) = start(bin, fake, extra);
    let rss_idle = rss_kib(server.id());

    // Paced (a pause every 50 connects) so the burst does not overflow the kernel's listen
    // backlog, which would stall connects for a 1 s SYN retry and smear the opening.
    let opening = Instant::now();
    let mut idle: Vec<Idle> = Vec::with_capacity(n);
    let mut connect_errors = 0usize;
    let mut first_error = None;
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        if i % 50 == 49 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let connecting = Instant::now();
        let connected = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
        slowest = slowest.max(connecting.elapsed());
        match connected {
            Ok(stream) => {
                let _ = stream.set_nonblocking(true);
                idle.push(Idle {
                    stream,
                    opened: Instant::now(),
                    closed: None,
                    refused: false,
                });
            }
            Err(e) => {
                connect_errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    println!(
        "opened {} of {n} connections in {:.2} s (slowest connect {:.0} ms){}\n",
        idle.len(),
        opening.elapsed().as_secs_f64(),
        slowest.as_secs_f64() * 1000.0,
        first_error
            .map(|e| format!("; {connect_errors} failed to connect, first: {e}"))
            .unwrap_or_default()
    );
    println!(
        "| t (s) after the last connect | idle connections still open | refused so far (503, closed) | GET /healthz | its latency | service RSS |"
    );
    println!("| ---: | ---: | ---: | --- | ---: | ---: |");
    let start = Instant::now();
    let mut held_rss = 0;
    for t in 0..=seconds {
        if let Some(wait) = Duration::from_secs(t).checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        let now = Instant::now();
        for c in idle.iter_mut().filter(|c| c.closed.is_none()) {
            if let State::Closed { got_503 } = poll_state(&mut c.stream) {
                c.closed = Some(now);
                c.refused = got_503;
            }
        }
        let probe = Instant::now();
        let health = healthz(addr);
        let latency = probe.elapsed();
        let rss = rss_kib(server.id());
        held_rss = held_rss.max(rss);
        if t <= 2 || t % 5 == 0 || t == seconds {
            let still_open = idle.iter().filter(|c| c.closed.is_none()).count();
            let refused = idle.iter().filter(|c| c.refused).count();
            println!(
                "| {t} | {still_open} | {refused} | {health} | {:.1} ms | {rss} KiB |",
                latency.as_secs_f64() * 1000.0
            );
        }
    }
    let mut lifetimes: Vec<f64> = idle
        .iter()
        .filter(|c| !c.refused)
        .filter_map(|c| c.closed.map(|at| (at - c.opened).as_secs_f64()))
        .collect();
    lifetimes.sort_by(f64::total_cmp);
    let still_open = idle.iter().filter(|c| c.closed.is_none()).count();
    let refused = idle.iter().filter(|c| c.refused).count();
    println!(
        "\nper connection: {refused} refused at once; {} accepted and later closed by the server, \
         {} s after their connect (min / median / max, to the 1 s polling); {still_open} still \
         open at the end",
        lifetimes.len(),
        match (
            lifetimes.first(),
            lifetimes.get(lifetimes.len() / 2),
            lifetimes.last()
        ) {
            (Some(a), Some(m), Some(z)) => format!("{a:.0} / {m:.0} / {z:.0}"),
            _ => "- / - / -".into(),
        }
    );
    let metrics = get(addr, "/metrics").unwrap_or_else(|e| format!("(no /metrics: {e})"));
    println!(
        "\nservice RSS before the connections: {rss_idle} KiB; highest while they were open: {held_rss} KiB\n"
    );
    println!("service counters at the end:\n```");
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("gitops_bot_connections_") || l.starts_with("(no "))
    {
        println!("{line}");
    }
    println!("```\n");
    drop(idle);
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let stopping = Instant::now();
    let code = server.wait().ok().and_then(|s| s.code());
    println!(
        "SIGTERM: exit code {code:?} after {:.2} s\n",
        stopping.elapsed().as_secs_f64()
    );
}

fn start(bin: &Path, fake: &FakeGitlab, extra: &[&str]) -> (Child, SocketAddr) {
    let mut server = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--project",
            "group/helloworld-ops",
            "--gitlab-url",
            &fake.url(),
        ])
        .args(extra)
        .env("GITLAB_TOKEN", fake.token())
        .env("GITOPS_BOT_WEBHOOK_SECRET", "bench-secret")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines.next().expect("serve exited").expect("stderr line");
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.parse().expect("an address");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (server, addr)
}

enum State {
    Open,
    Closed { got_503: bool },
}

/// Non-blocking: whatever the server sent, and whether it has closed the connection.
fn poll_state(s: &mut TcpStream) -> State {
    let mut buf = [0u8; 512];
    let mut got_503 = false;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return State::Closed { got_503 },
            Ok(n) => got_503 |= buf[..n].starts_with(b"HTTP/1.1 503"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // Bytes without a close yet (a 503 still being closed): look again next time.
                return if got_503 {
                    State::Closed { got_503 }
                } else {
                    State::Open
                };
            }
            Err(_) => return State::Closed { got_503 },
        }
    }
}

/// `GET /healthz` on a fresh connection with a 5 s budget: "200", "503", or what failed.
fn healthz(addr: SocketAddr) -> String {
    match get(addr, "/healthz") {
        Ok(_) => "200".into(),
        Err(e) => e,
    }
}

fn get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if raw.is_empty() => return Err(format!("no answer ({})", e.kind())),
        Err(_) => {}
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .unwrap_or("closed, no answer");
    match text.split_once("\r\n\r\n") {
        Some((_, body)) if status == "200" => Ok(body.to_string()),
        _ => Err(status.to_string()),
    }
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
