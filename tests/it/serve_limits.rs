//! `serve` against clients that hold connections: silent ones, slow or stalled headers and
//! bodies, idle keep-alive connections, and more connections than the cap. Raw TCP on
//! 127.0.0.1 against the real binary; the fake GitLab is only there for start-up.
//!
//! Timeouts are set to 1 s so the tests are quick; every wait is bounded generously
//! ([`BOUND`]) and no test asserts how fast anything happened.

use crate::common;
use crate::fake_gitlab;
use crate::mr_thread;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fake_gitlab::{FakeGitlab, Options};
use mr_thread::{PROJECT, Server};

/// How long a test waits for something that must happen (a connection closed by the
/// server, the process stopping) before it fails. Far above every timeout used here.
const BOUND: Duration = Duration::from_secs(30);

/// Raw HTTP/1.1 over TCP to the server, to hold and starve connections as clients do.
trait Raw {
    fn connect(&self) -> TcpStream;
    /// One `GET` on a fresh connection (`Connection: close`): the status and body, or
    /// `None` when the server closed the connection without an answer.
    fn raw_get(&self, path: &str) -> Option<(u16, String)>;
    /// `GET` until it is answered 200 (a slot may take a moment to free up).
    fn get_ok(&self, path: &str) -> String;
}

impl Raw for Server {
    fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr()).expect("connect")
    }

    fn raw_get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = self.connect();
        s.set_read_timeout(Some(BOUND)).expect("read timeout");
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        if s.write_all(request.as_bytes()).is_err() {
            return None;
        }
        let mut raw = Vec::new();
        match s.read_to_end(&mut raw) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !raw.is_empty() => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("reading the answer to GET {path}: {e}"),
        }
        parse_response(&raw)
    }

    fn get_ok(&self, path: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some((200, body)) = self.raw_get(path) {
                return body;
            }
            assert!(start.elapsed() < BOUND, "GET {path} never answered 200");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn start_fake() -> FakeGitlab {
    FakeGitlab::start(Options::default())
}

/// The status and body of one HTTP/1.1 response with a Content-Length.
fn parse_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Reads one response from a kept-alive connection (headers, then Content-Length bytes).
fn read_one_response(s: &mut TcpStream) -> (u16, String) {
    s.set_read_timeout(Some(BOUND)).expect("read timeout");
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        let n = match s.read(&mut byte) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            read => read.expect("read a response head"),
        };
        assert!(n == 1, "the server closed the connection mid-response");
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a content-length");
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).expect("read a response body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a status");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Whether the server closed `s` (end of stream or reset) within [`BOUND`]; anything it
/// sends before closing is discarded. `false` when the connection is still open then.
fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    while start.elapsed() < BOUND {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

/// Whether the server closed `s` while it kept sending one more header byte every 100 ms
/// (never silent, never done). `false` if it was still open after [`BOUND`].
fn closed_while_trickling(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    if s.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ").is_err() {
        return true;
    }
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    while start.elapsed() < BOUND {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if s.write_all(b"a").is_err() {
                    return true;
                }
            }
            Err(_) => return true,
        }
    }
    false
}

/// The value of an unlabelled metric line `name value`.
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn serve_closes_silent_slow_header_and_idle_keep_alive_connections() {
    let fake = start_fake();
    // Only the header timeout is short: it alone must close all of these.
    let server = Server::start(&fake, &["--header-timeout", "1s", "--idle-timeout", "1h"]);

    let mut silent = server.connect();
    let mut partial = server.connect();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .expect("write a partial head");
    let mut kept_alive = server.connect();
    for _ in 0..2 {
        kept_alive
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("write a request");
        assert_eq!(
            read_one_response(&mut kept_alive),
            (200, "ok\n".to_string()),
            "a kept-alive connection serves a second request"
        );
    }
    let mut trickling = server.connect();

    assert!(
        closed_while_trickling(&mut trickling),
        "a client still sending its headers is cut off"
    );
    assert!(
        closed_by_server(&mut silent),
        "a connection that never sends is closed"
    );
    assert!(
        closed_by_server(&mut partial),
        "a connection stalled mid-headers is closed"
    );
    assert!(
        closed_by_server(&mut kept_alive),
        "an idle kept-alive connection is closed"
    );

    let metrics = server.get_ok("/metrics");
    assert!(
        metric(
            &metrics,
            "gitops_bot_connections_timed_out_total{reason=\"header\"}"
        )
        .is_some_and(|n| n >= 4),
        "{metrics}"
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn serve_closes_connections_silent_mid_request() {
    let fake = start_fake();
    // Only the idle timeout is short: a stalled body is never closed by the header timeout.
    let server = Server::start(&fake, &["--header-timeout", "1h", "--idle-timeout", "1s"]);

    let mut stalled_body = server.connect();
    stalled_body
        .write_all(
            b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Gitlab-Token: s3cret\r\n\
              X-Gitlab-Event: Note Hook\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"object_kind\":",
        )
        .expect("write a partial request");
    let mut silent = server.connect();

    assert!(
        closed_by_server(&mut stalled_body),
        "a request whose body stalls is closed"
    );
    assert!(
        closed_by_server(&mut silent),
        "a silent connection is closed"
    );

    let metrics = server.get_ok("/metrics");
    assert!(
        metric(
            &metrics,
            "gitops_bot_connections_timed_out_total{reason=\"idle\"}"
        )
        .is_some_and(|n| n >= 2),
        "{metrics}"
    );
    // The stalled delivery was never taken as an event.
    assert_eq!(
        metric(&metrics, "gitops_bot_events_queued_total"),
        Some(0),
        "{metrics}"
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn serve_refuses_connections_over_the_cap_and_answers_again_when_one_frees() {
    let fake = start_fake();
    // Timeouts far beyond the test: only the cap and the clients decide here.
    let server = Server::start(
        &fake,
        &[
            "--max-connections",
            "4",
            "--header-timeout",
            "1h",
            "--idle-timeout",
            "1h",
        ],
    );

    // Accepted in order, so these three hold slots before anything below connects.
    let idle: Vec<TcpStream> = (0..3).map(|_| server.connect()).collect();
    // Below the cap a request is served while they idle; its kept-alive connection then
    // holds the fourth and last slot.
    let mut kept_alive = server.connect();
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("write a request");
    assert_eq!(
        read_one_response(&mut kept_alive),
        (200, "ok\n".to_string())
    );

    // Over the cap: answered 503 at once and closed (or just closed, when the close races
    // the request on the wire); never served, never left waiting.
    let over = server.raw_get("/healthz");
    assert!(
        matches!(&over, None | Some((503, _))),
        "over the cap: {over:?}"
    );

    // A client leaving frees its slot.
    drop(kept_alive);
    let metrics = server.get_ok("/metrics");
    assert_eq!(
        metric(&metrics, "gitops_bot_connections_open"),
        Some(4),
        "three idle connections and the one asking: {metrics}"
    );
    assert_eq!(metric(&metrics, "gitops_bot_connections_max"), Some(4));
    assert!(
        metric(&metrics, "gitops_bot_connections_rejected_total").is_some_and(|n| n >= 1),
        "{metrics}"
    );

    // SIGTERM closes the idle connections instead of waiting out their (1 h) timeouts.
    assert_eq!(server.stop(), 0);
    drop(idle);
}

#[test]
fn serve_refuses_request_heads_over_64_kib() {
    let fake = start_fake();
    let server = Server::start(&fake, &[]);
    let mut s = server.connect();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    // The server may stop reading (and close) before the whole head is written.
    let _ = s.write_all(head.as_bytes());
    s.set_read_timeout(Some(BOUND)).expect("read timeout");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let answer = parse_response(&raw);
    assert!(
        matches!(answer, None | Some((431, _))),
        "a 100 KiB head: {answer:?}"
    );
    // A head of ordinary size still passes.
    assert_eq!(server.raw_get("/healthz"), Some((200, "ok\n".to_string())));
    assert_eq!(server.stop(), 0);
}

#[test]
fn a_delivery_without_the_secret_is_refused_before_its_body_is_read() {
    let fake = start_fake();
    let server = Server::start(&fake, &["--header-timeout", "1h", "--idle-timeout", "1h"]);
    // Announce a 3 MB body and send none of it: the answer must not wait for it.
    let mut s = server.connect();
    s.set_read_timeout(Some(BOUND)).expect("read timeout");
    s.write_all(
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Gitlab-Token: wrong\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n",
    )
    .expect("write the head");
    let (status, body) = read_one_response(&mut s);
    assert_eq!(status, 401, "{body}");
    // With the secret, a declared length over --max-body is refused without reading it.
    let mut s = server.connect();
    s.set_read_timeout(Some(BOUND)).expect("read timeout");
    s.write_all(
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Gitlab-Token: s3cret\r\nContent-Type: application/json\r\nContent-Length: 30000000\r\n\r\n",
    )
    .expect("write the head");
    let (status, _) = read_one_response(&mut s);
    assert_eq!(status, 413);
    assert_eq!(server.stop(), 0);
}

#[test]
fn serve_rejects_nonsense_limits() {
    for args in [
        ["--max-connections", "0"],
        ["--header-timeout", "0"],
        ["--idle-timeout", "0s"],
        ["--header-timeout", "soon"],
    ] {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--project", PROJECT];
        all.extend_from_slice(&args);
        let run = common::gitops_bot(&all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(args[0]), "{args:?}: {}", run.stderr);
    }
}
