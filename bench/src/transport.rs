//! Transport settings shared by every gRPC line of the benchmark: shinydb-server's defaults
//! (`network.*` in server/src/config/default.yaml), so the echo floor runs over the same
//! HTTP/2 configuration, and the client endpoints built the same way for the echo and ShinyDB.

use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::{error::BenchError, tls};

/// HTTP/2 settings of a server.
#[derive(Debug, Clone, Copy)]
pub struct ServerTransport {
    /// Flow-control window of one stream, bytes.
    pub stream_window: u32,
    /// Flow-control window of one connection, bytes.
    pub connection_window: u32,
    /// Concurrent streams per connection.
    pub max_concurrent_streams: u32,
    /// Seconds between keepalive pings.
    pub keepalive_interval_seconds: u64,
    /// Seconds to wait for a ping's answer.
    pub keepalive_timeout_seconds: u64,
}

/// shinydb-server's defaults.
pub const SERVER: ServerTransport = ServerTransport {
    stream_window: 2 << 20,
    connection_window: 8 << 20,
    max_concurrent_streams: 1024,
    keepalive_interval_seconds: 30,
    keepalive_timeout_seconds: 10,
};

/// A client endpoint for `uri` with TCP_NODELAY and the server's window sizes, trusting
/// `ca_pem` when the URI is https.
pub fn endpoint(uri: &str, ca_pem: Option<&str>) -> Result<Endpoint, BenchError> {
    let bad = |e: tonic::transport::Error| BenchError::Connect {
        target: "grpc",
        message: format!("{uri}: {e}"),
    };
    let mut ep = Endpoint::from_shared(uri.to_string())
        .map_err(bad)?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .initial_stream_window_size(SERVER.stream_window)
        .initial_connection_window_size(SERVER.connection_window)
        .http2_adaptive_window(false);
    if let Some(ca) = ca_pem {
        ep = ep
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(ca))
                    .domain_name(tls::SERVER_NAME),
            )
            .map_err(bad)?;
    }
    Ok(ep)
}

/// Connects `endpoint`.
pub async fn connect(endpoint: &Endpoint) -> Result<Channel, BenchError> {
    endpoint.connect().await.map_err(|e| BenchError::Connect {
        target: "grpc",
        message: format!("{}: {e}", endpoint.uri()),
    })
}
