//! The gRPC listener: accepts TCP connections, sets `TCP_NODELAY` on each (tonic does not when
//! it is handed its own incoming stream, which costs a 40 ms delayed-ACK stall on small
//! responses), caps the number of connections, and runs TLS handshakes concurrently so that
//! a slow client never holds up the accept loop.
//!
//! Every connection also watches a kill switch: when the shutdown grace period is over, its
//! reads and writes fail, so hyper ends the connection (and releases the engine) even if the
//! client never closes it.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
};
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::Connected;
use tracing::{debug, warn};

use crate::{
    metrics::Metrics,
    state::{PeerInfo, stopped},
    tls::ReloadingTls,
};

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Decrements the open-connection gauge when a connection ends.
struct Open(Arc<Metrics>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connections.dec();
    }
}

/// One client connection, plaintext or TLS.
pub struct ServerIo {
    io: Io,
    peer: PeerInfo,
    kill: CancellationToken,
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
    _open: Open,
}

impl ServerIo {
    fn new(io: Io, peer: PeerInfo, kill: &CancellationToken, open: Open) -> ServerIo {
        ServerIo {
            io,
            peer,
            kill: kill.clone(),
            killed: Box::pin(kill.clone().cancelled_owned()),
            _open: open,
        }
    }

    fn check(&self) -> io::Result<()> {
        if self.kill.is_cancelled() {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server's shutdown grace period is over",
            ))
        } else {
            Ok(())
        }
    }
}

impl Connected for ServerIo {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer
    }
}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        let r = match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        // An idle connection waits here: make the kill switch wake it.
        if r.is_pending() && this.killed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(this.check());
        }
        r
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Listener settings.
pub struct Accept {
    /// TLS, when configured.
    pub tls: Option<Arc<ReloadingTls>>,
    /// Metrics to count connections in.
    pub metrics: Arc<Metrics>,
    /// Open connections at most.
    pub max_connections: u32,
    /// Time a client has for its TLS handshake.
    pub handshake_timeout: Duration,
    /// Cancelled when the shutdown grace period is over: every connection's I/O fails.
    pub kill: CancellationToken,
}

/// Accepts connections until `shutdown` turns true; yields them (handshaken) as a stream
/// for tonic.
pub fn incoming(
    listener: TcpListener,
    accept: Accept,
    mut shutdown: watch::Receiver<bool>,
) -> ReceiverStream<Result<ServerIo, io::Error>> {
    let (tx, rx) = mpsc::channel(128);
    tokio::spawn(async move {
        loop {
            let (tcp, addr) = tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = tx.closed() => break,
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            if let Err(e) = tcp.set_nodelay(true) {
                debug!(error = %e, "setting TCP_NODELAY failed");
            }
            let m = &accept.metrics;
            if m.connections.get() >= i64::from(accept.max_connections) {
                warn!(peer = %addr, max = accept.max_connections,
                    "refusing a connection: network.max_connections reached");
                continue;
            }
            m.connections.inc();
            m.connections_total.inc();
            let open = Open(Arc::clone(m));
            match &accept.tls {
                None => {
                    let peer = PeerInfo { addr };
                    let io = ServerIo::new(Io::Plain(tcp), peer, &accept.kill, open);
                    if tx.send(Ok(io)).await.is_err() {
                        break;
                    }
                }
                Some(tls) => {
                    let acceptor = tls.acceptor();
                    let tx = tx.clone();
                    let timeout = accept.handshake_timeout;
                    let metrics = Arc::clone(m);
                    let kill = accept.kill.clone();
                    tokio::spawn(async move {
                        match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                let peer = PeerInfo { addr };
                                let io =
                                    ServerIo::new(Io::Tls(Box::new(stream)), peer, &kill, open);
                                let _ = tx.send(Ok(io)).await;
                            }
                            Ok(Err(e)) => {
                                metrics.handshake_failures.inc();
                                debug!(peer = %addr, error = %e, "TLS handshake failed");
                            }
                            Err(_) => {
                                metrics.handshake_failures.inc();
                                debug!(peer = %addr, "TLS handshake timed out");
                            }
                        }
                    });
                }
            }
        }
        debug!("stopped accepting connections");
    });
    ReceiverStream::new(rx)
}
