//! One connection's clock: hyper's header read timer made to tell a first request from a
//! keep-alive wait.
//!
//! hyper (1.x, HTTP/1) arms its header read timer each time it starts waiting for a request
//! head: on a new connection, and again after each response on a keep-alive connection, where
//! the wait is mostly idle time. [`ConnTimer`] gives the first wait `header_read_timeout`, and a
//! keep-alive wait `idle_timeout` until the next request's first byte arrives, then
//! `header_read_timeout` from that byte for the rest of its head. The byte is seen by
//! [`Counted`], which wraps the connection's stream; requests are counted by the service.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a connection's timer needs to know, shared by the stream, the service and the timer.
#[derive(Debug, Default)]
pub(crate) struct ConnActivity {
    /// Requests whose head was read (the service was called).
    requests: AtomicU64,
    /// Reads that returned at least one byte.
    reads: AtomicU64,
}

impl ConnActivity {
    /// Counts a request whose head hyper has read.
    pub(crate) fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// A stream that counts the reads that bring bytes.
pub(crate) struct Counted<S> {
    inner: S,
    activity: Arc<ConnActivity>,
}

impl<S> Counted<S> {
    pub(crate) fn new(inner: S, activity: Arc<ConnActivity>) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.reads.fetch_add(1, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
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

/// hyper's timer for one connection (see the module doc).
#[derive(Clone)]
pub(crate) struct ConnTimer {
    pub(crate) activity: Arc<ConnActivity>,
    pub(crate) idle_timeout: Duration,
    pub(crate) header_read_timeout: Duration,
}

impl hyper::rt::Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let keep_alive = self.activity.requests.load(Ordering::Relaxed) > 0;
        let (phase, deadline) = if keep_alive {
            (Phase::Idle, Instant::now() + self.idle_timeout)
        } else {
            (Phase::Head, deadline)
        };
        Box::pin(ConnSleep {
            sleep: Box::pin(tokio::time::sleep_until(deadline.into())),
            phase,
            reads_at_start: self.activity.reads.load(Ordering::Relaxed),
            activity: self.activity.clone(),
            header_read_timeout: self.header_read_timeout,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Keep-alive: no byte of the next request yet.
    Idle,
    /// Reading a head.
    Head,
}

struct ConnSleep {
    sleep: Pin<Box<tokio::time::Sleep>>,
    phase: Phase,
    reads_at_start: u64,
    activity: Arc<ConnActivity>,
    header_read_timeout: Duration,
}

impl ConnSleep {
    /// hyper polls this right after each read that left the head incomplete, so the first
    /// poll that sees a new read is close to the first byte's arrival.
    fn leave_idle_on_first_byte(&mut self) {
        if self.phase == Phase::Idle
            && self.activity.reads.load(Ordering::Relaxed) != self.reads_at_start
        {
            self.phase = Phase::Head;
            let deadline = tokio::time::Instant::now() + self.header_read_timeout;
            self.sleep.as_mut().reset(deadline);
        }
    }
}

impl Future for ConnSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.leave_idle_on_first_byte();
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        // The idle deadline passed; a byte may have come in since the last poll.
        let phase = self.phase;
        self.leave_idle_on_first_byte();
        if phase != self.phase {
            return self.sleep.as_mut().poll(cx);
        }
        Poll::Ready(())
    }
}

impl hyper::rt::Sleep for ConnSleep {}
