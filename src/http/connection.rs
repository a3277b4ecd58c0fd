//! One HTTP/1.1 connection, with a watchdog that closes it when a client is too slow to send its headers or keeps
//! it open with nothing to do. Hyper's own header timer also runs while a keep-alive connection waits, so it cannot
//! tell "slow headers" from "idle": the IO wrapper below notices the first byte of each request instead.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::config::HttpLimits;

const IDLE: u8 = 0;
const HEAD: u8 = 1;
const BUSY: u8 = 2;

/// Where a connection is: waiting for a request, reading one's headers, or serving one.
pub(super) struct Phase {
    origin: Instant,
    state: AtomicU8,
    /// Milliseconds since `origin` when the current state began.
    since_ms: AtomicU64,
    in_flight: AtomicU64,
}

impl Phase {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            origin: Instant::now(),
            state: AtomicU8::new(IDLE),
            since_ms: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn bytes_read(&self) {
        if self.state.load(Ordering::Relaxed) == IDLE
            && self.state.compare_exchange(IDLE, HEAD, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            self.since_ms.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// A request's headers are in: it is being served.
    pub(super) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.state.store(BUSY, Ordering::Relaxed);
    }

    /// Its response is written (or the handler gave up): the connection waits again.
    pub(super) fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.since_ms.store(self.now_ms(), Ordering::Relaxed);
            self.state.store(IDLE, Ordering::Relaxed);
        }
    }

    /// When the connection must be closed if nothing changes, and why; `None` while a request is served (the body
    /// timeout and the handlers bound that).
    fn deadline(&self, limits: &HttpLimits) -> Option<(Instant, &'static str)> {
        let since = self.origin + Duration::from_millis(self.since_ms.load(Ordering::Relaxed));
        match self.state.load(Ordering::Relaxed) {
            IDLE => Some((since + limits.idle_timeout, "idle")),
            HEAD => Some((since + limits.header_timeout, "slow headers")),
            _ => None,
        }
    }
}

/// Completes when the connection has overstayed: idle too long, or its headers too slow.
pub(super) async fn overstay(phase: Arc<Phase>, limits: HttpLimits) -> &'static str {
    loop {
        match phase.deadline(&limits) {
            Some((at, why)) if at <= Instant::now() => return why,
            Some((at, _)) => tokio::time::sleep_until(at).await,
            // Serving: look again after the shorter timeout.
            None => tokio::time::sleep(limits.header_timeout.min(limits.idle_timeout)).await,
        }
    }
}

/// The socket, noting the first byte of each request in [`Phase`].
pub(super) struct Watched<T> {
    pub(super) inner: T,
    pub(super) phase: Arc<Phase>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.phase.bytes_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
