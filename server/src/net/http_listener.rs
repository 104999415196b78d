//! The HTTP listener (`/healthz`, `/readyz`, `/metrics`): at most
//! `network.http_max_connections` open connections (more are closed at once), and a connection
//! whose reads and writes make no progress for `network.http_idle_timeout_seconds` is closed,
//! so slow or idle clients cannot hold it.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep},
};
use tracing::{debug, warn};

/// A TCP listener with a connection cap and an idle timeout, for `axum::serve`.
pub struct HttpListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    idle_timeout: Duration,
}

impl HttpListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener, max_connections: u32, idle_timeout: Duration) -> HttpListener {
        let slots = usize::try_from(max_connections).unwrap_or(usize::MAX);
        HttpListener {
            inner,
            slots: Arc::new(Semaphore::new(slots)),
            idle_timeout,
        }
    }
}

impl axum::serve::Listener for HttpListener {
    type Io = HttpIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (HttpIo, SocketAddr) {
        loop {
            let (tcp, addr) = match self.inner.accept().await {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "accepting an HTTP connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match Arc::clone(&self.slots).try_acquire_owned() {
                Ok(permit) => {
                    let io = HttpIo {
                        tcp,
                        idle_timeout: self.idle_timeout,
                        idle: Box::pin(tokio::time::sleep(self.idle_timeout)),
                        _permit: permit,
                    };
                    return (io, addr);
                }
                Err(_) => {
                    debug!(peer = %addr,
                        "refusing an HTTP connection: network.http_max_connections reached");
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// One HTTP connection: its bytes must keep moving.
pub struct HttpIo {
    tcp: TcpStream,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl HttpIo {
    /// After progress: the idle timer starts again.
    fn progressed(&mut self) {
        let deadline = Instant::now() + self.idle_timeout;
        self.idle.as_mut().reset(deadline);
    }

    /// While waiting: an error once the timer has run out.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.idle.as_mut().poll(cx).is_ready().then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "no progress for network.http_idle_timeout_seconds",
            )
        })
    }

    fn after<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match r {
            Poll::Ready(_) => {
                self.progressed();
                r
            }
            Poll::Pending => match self.poll_idle(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}

impl AsyncRead for HttpIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_read(cx, buf);
        this.after(cx, r)
    }
}

impl AsyncWrite for HttpIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_write(cx, buf);
        this.after(cx, r)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
