//! One accepted gRPC connection's I/O, plaintext or TLS, with the checks the listener needs on
//! every read: the shutdown kill switch and the idle timeout.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::{Instant, Sleep},
};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::Connected;

use super::Slot;
use crate::state::PeerInfo;

/// The transport under a connection.
pub enum Io {
    /// Plain TCP (loopback, or `allow_insecure`).
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

/// One client connection.
pub struct ServerIo {
    io: Io,
    peer: PeerInfo,
    kill: CancellationToken,
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    _slot: Slot,
}

impl ServerIo {
    /// Wraps an accepted (and handshaken) connection.
    pub fn new(
        io: Io,
        peer: PeerInfo,
        kill: &CancellationToken,
        idle_timeout: Duration,
        slot: Slot,
    ) -> ServerIo {
        ServerIo {
            io,
            peer,
            kill: kill.clone(),
            killed: Box::pin(kill.clone().cancelled_owned()),
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            _slot: slot,
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

    /// Polled while a read waits: an error once the connection has been idle too long. Keeps
    /// the timer armed for the next possible deadline otherwise.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        while self.idle.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            match self.peer.activity.idle_deadline(self.idle_timeout) {
                Some(deadline) if Instant::from_std(deadline) <= now => {
                    return Some(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request for network.idle_timeout_seconds",
                    ));
                }
                Some(deadline) => self.idle.as_mut().reset(Instant::from_std(deadline)),
                // Busy: look again a timeout from now.
                None => self.idle.as_mut().reset(now + self.idle_timeout),
            }
        }
        None
    }
}

impl Connected for ServerIo {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer.clone()
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
        if r.is_pending() {
            // An idle connection waits here: the kill switch and the idle timer wake it.
            if this.killed.as_mut().poll(cx).is_ready() {
                return Poll::Ready(this.check());
            }
            if let Some(e) = this.poll_idle(cx) {
                return Poll::Ready(Err(e));
            }
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
