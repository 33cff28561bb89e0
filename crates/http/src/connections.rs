//! What holds each connection to account, whatever its client does:
//! - a connection with no request in flight that moves no byte for
//!   [`HttpConfig::idle_timeout`](crate::HttpConfig) is closed, over HTTP/1 and HTTP/2
//!   alike (hyper's own timeouts start only once a request begins, and HTTP/2 has none);
//! - at most [`HttpConfig::max_connections`](crate::HttpConfig) are open at once: past
//!   that, a new connection is closed unserved at once, so those in progress are not
//!   harmed and those queued behind it are not held up;
//! - failed accepts (out of file descriptors, say) are logged at most once a second,
//!   with the count of those not logged.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::body::{Body, Bytes};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The default cap on open connections: 1,024, or fewer where the process may open
/// fewer files (keeping 64 for the database pool, the log and the rest).
pub fn default_max_connections() -> usize {
    const DEFAULT: usize = 1024;
    const RESERVED: u64 = 64;
    #[cfg(unix)]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        if let Some(soft) = limit.current {
            let usable = soft.saturating_sub(RESERVED).max(1);
            return usize::try_from(usable).unwrap_or(DEFAULT).min(DEFAULT);
        }
    }
    DEFAULT
}

/// A connection's traffic: when it last moved a byte, and its requests in flight.
#[derive(Debug)]
pub(crate) struct Activity {
    born: Instant,
    /// Milliseconds after `born` of the last byte read or written.
    last: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            born: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    fn touch(&self) {
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    /// How long the connection has been idle: zero while a request is in flight.
    pub(crate) fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.born.elapsed().saturating_sub(last)
    }

    /// Marks a request in flight until the guard, and the answer's body that holds
    /// it, are dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body that holds `G` (a request in flight, a slot of a limit) until it
/// is sent or dropped.
pub(crate) struct Guarded<G> {
    body: Body,
    _guard: G,
}

impl<G: Send + Unpin + 'static> Guarded<G> {
    pub(crate) fn body(body: Body, guard: G) -> Body {
        Body::new(Self {
            body,
            _guard: guard,
        })
    }
}

impl<G: Unpin> HttpBody for Guarded<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A socket that notes each byte it moves in its connection's [`Activity`].
#[derive(Debug)]
pub(crate) struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    pub(crate) fn new(inner: S, activity: Arc<Activity>) -> Self {
        activity.touch();
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Logs a recurring warning at most once a second, with how many were not logged.
#[derive(Debug)]
pub(crate) struct RateLimited {
    what: &'static str,
    last: Option<Instant>,
    unlogged: u64,
}

impl RateLimited {
    pub(crate) fn new(what: &'static str) -> Self {
        Self {
            what,
            last: None,
            unlogged: 0,
        }
    }

    pub(crate) fn warn(&mut self, error: Option<&io::Error>) {
        if self
            .last
            .is_some_and(|last| last.elapsed() < Duration::from_secs(1))
        {
            self.unlogged += 1;
            return;
        }
        self.last = Some(Instant::now());
        let also = std::mem::take(&mut self.unlogged);
        match error {
            Some(error) => tracing::warn!(%error, also_since_last = also, "{}", self.what),
            None => tracing::warn!(also_since_last = also, "{}", self.what),
        }
    }
}
