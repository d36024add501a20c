//! The HTTP/1.1 accept loop behind `serve`, with the limits that keep idle, slow and
//! too many clients from exhausting it.
//!
//! * **Header timeout** (hyper's `header_read_timeout`): a request's head must arrive in
//!   full within it, counted from the connection's opening and, on a kept-alive connection,
//!   from the end of the previous answer. So a client that sends nothing, stalls or trickles
//!   its headers, or idles between requests is closed (no answer: hyper just closes).
//! * **Idle timeout** ([`Watched`]): a connection on which no byte moves in either direction
//!   for that long while the server waits on it is closed: a stalled body, a client that
//!   does not read its answer. The service answers every request in milliseconds (work goes
//!   to a queue), so the server itself is never the silent side for long.
//! * **Connection cap**: a semaphore permit per connection, held for its lifetime. With
//!   every permit taken, a new connection gets a canned 503 and is closed at once rather
//!   than left waiting in the listen backlog: the client learns at once instead of timing
//!   out, the kernel's backlog stays empty so the service recovers as soon as the held
//!   connections end, and no descriptor or task is kept for it.
//! * **Header size**: a request head is at most [`MAX_BUF`] (hyper answers 431 beyond), and
//!   read buffers grow to about that, so the cap also bounds memory: in the order of
//!   `max_connections × MAX_BUF` for buffers (64 MiB at the default cap).
//!
//! Plain HTTP/1 only: GitLab delivers webhooks over HTTP/1.1, and HTTP/2 detection would
//! read the connection preface with no timeout.
//!
//! Shutdown: the listener is closed (new connections are refused by the kernel), every
//! connection finishes its request in flight and closes (idle ones at once), and the loop
//! returns once all are gone: at most the longer of the two timeouts.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};

/// Largest request head (hyper answers 431 beyond; GitLab's are a few KiB), and the size
/// each connection's read buffer grows to (hyper's default is about 400 KiB).
pub(crate) const MAX_BUF: usize = 64 * 1024;

/// Sent to a connection over the cap, before closing it.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
content-length: 34\r\nretry-after: 10\r\nconnection: close\r\n\r\n\
too many connections, retry later\n";

/// Descriptors the process needs besides its connections (listener, stdio, GitLab client).
const SPARE_DESCRIPTORS: u64 = 64;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: u32,
}

/// Connection counters for `/metrics`.
#[derive(Default)]
pub(crate) struct ConnectionStats {
    pub accepted: AtomicU64,
    pub open: AtomicU64,
    pub rejected: AtomicU64,
    pub header_timeouts: AtomicU64,
    pub idle_timeouts: AtomicU64,
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for the open
/// connections to finish (see the module docs).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()>,
) {
    warn_if_descriptors_short(limits.max_connections);
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(MAX_BUF)
        .max_buf_size(MAX_BUF);
    // Dropping the sender tells every connection to finish.
    let (stop, stopped) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let mut full = false;
    loop {
        let (stream, peer) = tokio::select! {
            // Shutdown first: a steady stream of connections must not delay it.
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !full {
                tracing::warn!(
                    max = limits.max_connections,
                    "every connection slot is taken: refusing new connections (503) until one frees"
                );
                full = true;
            }
            refuse(stream, &stats);
            continue;
        };
        if full {
            tracing::info!("connection slots free again");
            full = false;
        }
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let io = TokioIo::new(Watched::new(stream, limits.idle_timeout, stats.clone()));
        let connection = http.serve_connection(io, TowerToHyperService::new(router.clone()));
        tokio::spawn(serve_connection(
            connection,
            Slot::new(slot, stats.clone()),
            stopped.clone(),
            peer,
        ));
    }
    drop(listener);
    drop(stop);
    // Every connection holds a permit until it ends.
    let _all = slots.acquire_many(limits.max_connections).await;
}

async fn serve_connection<F>(
    connection: http1::Connection<TokioIo<Watched>, F>,
    slot: Slot,
    mut stop: watch::Receiver<()>,
    peer: SocketAddr,
) where
    F: hyper::service::HttpService<hyper::body::Incoming>,
    F::ResBody: 'static,
    <F::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connection = pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    match ended {
        Ok(()) => {}
        Err(e) if e.is_timeout() => {
            slot.stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "closed: no complete request head in time");
        }
        Err(e) => tracing::debug!(%peer, error = %e, "connection ended with an error"),
    }
}

/// A connection's permit; while it lives the connection counts as open.
struct Slot {
    _permit: OwnedSemaphorePermit,
    stats: Arc<ConnectionStats>,
}

impl Slot {
    fn new(permit: OwnedSemaphorePermit, stats: Arc<ConnectionStats>) -> Slot {
        stats.open.fetch_add(1, Ordering::Relaxed);
        Slot {
            _permit: permit,
            stats,
        }
    }
}

impl Drop for Slot {
    /// Runs before the permit is released, so `open` never exceeds the cap.
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Over the cap: a 503 if the socket takes it without waiting, then close.
fn refuse(stream: TcpStream, stats: &ConnectionStats) {
    stats.rejected.fetch_add(1, Ordering::Relaxed);
    let _ = stream.try_write(BUSY);
    // Whatever request already arrived is read and dropped, so the close is a FIN rather
    // than a reset that could discard the 503 on the client's side.
    let _ = stream.try_read(&mut [0u8; 4096]);
}

async fn accept_failed(e: io::Error) {
    // The peer gave up between its handshake and our accept: nothing to do.
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    // Most likely out of file descriptors: give open connections time to end.
    tracing::error!(error = %e, "cannot accept connections; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Warns when the open-file limit cannot hold `max_connections` connections.
fn warn_if_descriptors_short(max_connections: u32) {
    let Some(limit) = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| soft_open_files(&text))
    else {
        return;
    };
    let needed = u64::from(max_connections) + SPARE_DESCRIPTORS;
    if limit < needed {
        tracing::warn!(
            limit,
            needed,
            "the open-file limit is below --max-connections plus {SPARE_DESCRIPTORS}: connections \
             may fail with \"too many open files\" before the cap refuses them; raise the limit \
             (ulimit -n) or lower --max-connections"
        );
    }
}

/// The soft "Max open files" of a `/proc/<pid>/limits` text; `None` when unlimited.
fn soft_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|soft| soft.parse().ok())
}

/// A TCP stream that fails with `TimedOut` once no byte has moved for `idle` while the
/// server waits to read or write.
pub(crate) struct Watched {
    stream: TcpStream,
    idle: Duration,
    last_progress: Instant,
    /// Armed lazily: moved forward to `last_progress + idle` only when it fires.
    timer: Pin<Box<Sleep>>,
    stats: Arc<ConnectionStats>,
    expired: bool,
}

impl Watched {
    fn new(stream: TcpStream, idle: Duration, stats: Arc<ConnectionStats>) -> Watched {
        let now = Instant::now();
        Watched {
            stream,
            idle,
            last_progress: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
            stats,
            expired: false,
        }
    }

    /// Called when the stream is not ready: `true` once the connection has been silent
    /// for `idle` (else the timer will wake the task when it might be).
    fn silent_too_long(&mut self, cx: &mut Context<'_>) -> bool {
        if self.expired {
            return true;
        }
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            let deadline = self.last_progress + self.idle;
            if Instant::now() >= deadline {
                self.expired = true;
                self.stats.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(idle = ?self.idle, "closed: the connection was silent too long");
                return true;
            }
            self.timer.as_mut().reset(deadline);
        }
    }

    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        if self.silent_too_long(cx) {
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection was idle too long",
            )))
        } else {
            Poll::Pending
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Pending => this.stalled(cx),
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.last_progress = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write(cx, buf) {
            Poll::Pending => this.stalled(cx),
            Poll::Ready(result) => Poll::Ready(this.wrote(result)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.stalled(cx),
            Poll::Ready(result) => Poll::Ready(this.wrote(result)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl Watched {
    fn wrote(&mut self, result: io::Result<usize>) -> io::Result<usize> {
        if matches!(result, Ok(n) if n > 0) {
            self.last_progress = Instant::now();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(BUSY).expect("ASCII");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.parse().ok())
            .expect("a content-length");
        assert_eq!(length, body.len());
        assert!(head.starts_with("HTTP/1.1 503 "));
    }

    #[test]
    fn reads_the_soft_open_file_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63603                63603                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(soft_open_files(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files     \n";
        assert_eq!(soft_open_files(unlimited), None);
        assert_eq!(soft_open_files(""), None);
    }

    /// Real time, with wide margins: the idle limit is 1 s and the client speaks every 0.3 s.
    #[tokio::test]
    async fn a_silent_stream_times_out_and_a_talking_one_does_not() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mut client = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let stats = Arc::new(ConnectionStats::default());
        let mut watched = Watched::new(server, Duration::from_secs(1), stats.clone());

        let mut buf = [0u8; 16];
        // 1.5 s in all, longer than the limit, but never 1 s without a byte.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            client.write_all(b"x").await.expect("write");
            assert_eq!(watched.read(&mut buf).await.expect("read"), 1);
        }
        assert_eq!(stats.idle_timeouts.load(Ordering::Relaxed), 0);
        let e = watched.read(&mut buf).await.expect_err("silent");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(stats.idle_timeouts.load(Ordering::Relaxed), 1);
    }
}
