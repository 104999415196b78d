//! The transport's floor: a bidirectional-streaming echo hosted by the benchmark itself on
//! loopback, on a runtime of its own (two worker threads, like a server process on this
//! machine, so requests cross threads as they do to shinydb-server), with shinydb-server's
//! transport settings (TCP_NODELAY on every accepted
//! connection, its HTTP/2 window sizes and stream limit, rustls with ring for TLS). Each client
//! thread keeps one message of a record's size in flight on a stream of its own, so its round
//! trip is what a ShinyDB read over the same transport cannot beat.

use std::{io, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use bytes::Bytes;
use futures::Stream;
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
    sync::{mpsc, oneshot},
};
use tokio_rustls::TlsAcceptor;
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tonic::{
    Request, Response, Status, Streaming,
    transport::{Channel, Server, server::Connected},
};
use tracing::debug;

use crate::{
    driver::{OpKind, Worker},
    error::BenchError,
    tls::Pki,
    transport,
};

/// The generated echo protocol.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("shinydb.bench.v1");
}

use proto::{
    EchoMessage,
    echo_client::EchoClient,
    echo_server::{Echo, EchoServer},
};

struct EchoService;

type EchoStream = Pin<Box<dyn Stream<Item = Result<EchoMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Echo for EchoService {
    type StreamStream = EchoStream;

    async fn stream(
        &self,
        request: Request<Streaming<EchoMessage>>,
    ) -> Result<Response<EchoStream>, Status> {
        let input = request.into_inner();
        Ok(Response::new(Box::pin(input)))
    }
}

/// The echo server, running on its own runtime until dropped.
pub struct EchoHost {
    /// Its address.
    pub addr: SocketAddr,
    /// Whether it serves TLS.
    pub tls: bool,
    stop: Option<oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl EchoHost {
    /// The URI clients connect to.
    pub fn uri(&self) -> String {
        if self.tls {
            format!("https://{}:{}", crate::tls::SERVER_NAME, self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }
}

impl Drop for EchoHost {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn server_config(pki: &Pki) -> Result<ServerConfig, BenchError> {
    let bad = |e: &dyn std::fmt::Display| BenchError::service("echo server TLS", e);
    let certs = CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).map_err(|e| bad(&e))?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(&e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| bad(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

async fn serve<IO>(incoming: mpsc::Receiver<Result<IO, io::Error>>, stop: oneshot::Receiver<()>)
where
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
{
    let t = transport::SERVER;
    let r = Server::builder()
        .initial_stream_window_size(t.stream_window)
        .initial_connection_window_size(t.connection_window)
        .max_concurrent_streams(t.max_concurrent_streams)
        .http2_adaptive_window(Some(false))
        .http2_keepalive_interval(Some(Duration::from_secs(t.keepalive_interval_seconds)))
        .http2_keepalive_timeout(Some(Duration::from_secs(t.keepalive_timeout_seconds)))
        .add_service(EchoServer::new(EchoService))
        .serve_with_incoming_shutdown(ReceiverStream::new(incoming), async {
            let _ = stop.await;
        })
        .await;
    if let Err(e) = r {
        debug!(error = %e, "echo server ended");
    }
}

impl EchoHost {
    /// Starts the echo server on a free loopback port, on a new two-thread runtime; TLS with
    /// `pki`'s certificate if given.
    pub fn start(pki: Option<&Pki>) -> Result<EchoHost, BenchError> {
        let fail = |e: io::Error| BenchError::service("echo server", e);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("echo-server")
            .enable_all()
            .build()
            .map_err(fail)?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(fail)?;
        std_listener.set_nonblocking(true).map_err(fail)?;
        let addr = std_listener.local_addr().map_err(fail)?;
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(std_listener).map_err(fail)?
        };
        let config = pki.map(server_config).transpose()?;
        let (stop_tx, stop_rx) = oneshot::channel();
        runtime.spawn(Self::accept(listener, config, stop_rx));
        Ok(EchoHost {
            addr,
            tls: pki.is_some(),
            stop: Some(stop_tx),
            runtime: Some(runtime),
        })
    }

    async fn accept(
        listener: TcpListener,
        config: Option<ServerConfig>,
        stop_rx: oneshot::Receiver<()>,
    ) {
        match config {
            None => {
                let (tx, rx) = mpsc::channel(64);
                tokio::spawn(async move {
                    while let Ok((tcp, _)) = listener.accept().await {
                        let _ = tcp.set_nodelay(true);
                        if tx.send(Ok(tcp)).await.is_err() {
                            break;
                        }
                    }
                });
                tokio::spawn(serve(rx, stop_rx));
            }
            Some(config) => {
                let acceptor = TlsAcceptor::from(Arc::new(config));
                let (tx, rx) = mpsc::channel(64);
                tokio::spawn(async move {
                    while let Ok((tcp, _)) = listener.accept().await {
                        let _ = tcp.set_nodelay(true);
                        let (acceptor, tx) = (acceptor.clone(), tx.clone());
                        tokio::spawn(async move {
                            match acceptor.accept(tcp).await {
                                Ok(s) => {
                                    let _ = tx.send(Ok(s)).await;
                                }
                                Err(e) => debug!(error = %e, "echo TLS handshake failed"),
                            }
                        });
                    }
                });
                tokio::spawn(serve(rx, stop_rx));
            }
        }
    }
}

/// One client thread: a stream of its own with one message in flight.
pub struct EchoWorker {
    tx: mpsc::Sender<EchoMessage>,
    rx: Streaming<EchoMessage>,
    payload: Bytes,
    next_id: u64,
}

impl EchoWorker {
    /// Opens a stream on `channel`; every message carries `size` bytes.
    pub async fn open(channel: Channel, size: usize) -> Result<EchoWorker, BenchError> {
        let (tx, rx) = mpsc::channel(4);
        let mut client = EchoClient::new(channel);
        let rx = client
            .stream(ReceiverStream::new(rx))
            .await
            .map_err(|e| BenchError::Connect {
                target: "echo",
                message: e.to_string(),
            })?
            .into_inner();
        Ok(EchoWorker {
            tx,
            rx,
            payload: Bytes::from(vec![b'x'; size]),
            next_id: 0,
        })
    }
}

fn failed(message: impl Into<String>) -> BenchError {
    BenchError::Operation {
        target: "echo",
        op: "echo",
        message: message.into(),
    }
}

impl Worker for EchoWorker {
    async fn step(&mut self) -> Result<OpKind, BenchError> {
        self.next_id += 1;
        let msg = EchoMessage {
            id: self.next_id,
            payload: self.payload.clone(),
        };
        self.tx
            .send(msg)
            .await
            .map_err(|_| failed("the stream closed"))?;
        match self.rx.next().await {
            Some(Ok(m)) if m.id == self.next_id && m.payload.len() == self.payload.len() => {
                Ok(OpKind::Echo)
            }
            Some(Ok(m)) => Err(failed(format!(
                "got message {} of {} bytes, sent {} of {}",
                m.id,
                m.payload.len(),
                self.next_id,
                self.payload.len()
            ))),
            Some(Err(s)) => Err(failed(s.to_string())),
            None => Err(failed("the stream ended")),
        }
    }
}
