//! A write deadline for connections: a client that stops reading (crashed, unplugged, or
//! hostile) would otherwise hold its connection, its open file and a `max_connections` slot for
//! ever, since a blocked write never fails by itself. hyper has no write timeout, so the
//! connection's stream fails a write that has made no progress for the limit.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A stream whose writes fail with `TimedOut` after `limit` without progress.
#[derive(Debug)]
pub struct StallGuard<S> {
    inner: S,
    limit: Duration,
    /// The deadline, allocated once and reset whenever a write starts to wait.
    sleep: Pin<Box<Sleep>>,
    /// Whether a write is waiting (`sleep` counts); cleared by any progress.
    armed: bool,
}

impl<S> StallGuard<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            sleep: Box::pin(tokio::time::sleep(limit)),
            armed: false,
        }
    }

    /// After a write returned `Pending`: arms the deadline (when not yet waiting) and checks
    /// it; the sleep's waker retries the write when it fires, which then fails.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if !self.armed {
            self.armed = true;
            self.sleep.as_mut().reset(Instant::now() + self.limit);
        }
        self.sleep.as_mut().poll(cx).is_ready().then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {} s", self.limit.as_secs()),
            )
        })
    }

    fn progress<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => match self.stalled(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
            ready => {
                self.armed = false;
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.progress(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.progress(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_reader_that_stops_fails_the_write_after_the_limit() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut w = StallGuard::new(a, Duration::from_millis(200));
        // Progress keeps it alive: more than the limit in total, never stalled that long.
        let reader = tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            let mut got = 0;
            while got < 64 * 1024 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                got += b.read(&mut buf).await.expect("read");
            }
            b
        });
        w.write_all(&vec![7; 64 * 1024])
            .await
            .expect("progressing writes");
        let _b = reader.await.expect("reader");
        // Nobody reads any more: the write fails once the buffer is full, after the limit.
        let start = std::time::Instant::now();
        let e = w.write_all(&vec![7; 64 * 1024]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(200));
    }
}
