//! Connections: an endpoint and its TLS settings, and the pool of channels to it (each with
//! its pipelined stream and the credential its server gave).

use std::time::Duration;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tonic::{
    metadata::{Ascii, MetadataMap, MetadataValue},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
};

use crate::{
    bearer::BearerToken,
    error::{Error, Result},
    options::Options,
    pipeline::Pipeline,
};

/// One pooled connection: a channel for unary calls and its pipelined stream.
pub(crate) struct Conn {
    pub(crate) channel: Channel,
    pub(crate) pipeline: Pipeline,
}

/// The request header bounding how stale a follower's answer may be, in milliseconds.
const MAX_STALENESS_HEADER: &str = "x-shinydb-max-staleness-ms";

/// The staleness bound every request of a pool carries (none for the leader's pool).
#[derive(Clone, Default)]
pub(crate) struct Staleness(Option<MetadataValue<Ascii>>);

impl Staleness {
    /// At most `bound` behind the leader (`None`: any staleness).
    pub(crate) fn new(bound: Option<Duration>) -> Staleness {
        Staleness(
            bound.map(|d| MetadataValue::from(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))),
        )
    }

    /// Adds the bound to a request's metadata.
    pub(crate) fn apply(&self, md: &mut MetadataMap) {
        if let Some(v) = &self.0 {
            md.insert(MAX_STALENESS_HEADER, v.clone());
        }
    }
}

/// The pool of connections to one server, handed out round-robin.
pub(crate) struct Pool {
    /// The server's endpoint.
    pub(crate) endpoint: String,
    /// The credential for this server (sessions are per server).
    pub(crate) auth: Arc<BearerToken>,
    /// The staleness bound its requests carry.
    pub(crate) bound: Staleness,
    conns: Vec<Conn>,
    next: AtomicUsize,
}

impl Pool {
    /// Builds the connections to `endpoint` with `options`' TLS settings and credentials
    /// (lazily connected: a server that is down now is reached once it is up); every request
    /// carries `bound`.
    pub(crate) fn new(options: &Options, endpoint: &str, bound: Option<Duration>) -> Result<Pool> {
        let target = Options {
            endpoint: endpoint.to_string(),
            ..options.clone()
        };
        let channel_endpoint = self::endpoint(&target)?;
        let auth = Arc::new(BearerToken::new(options.credentials.clone()));
        let bound = Staleness::new(bound);
        let n = options.connections.max(1);
        let conns = (0..n)
            .map(|_| {
                let channel = channel_endpoint.connect_lazy();
                let pipeline = Pipeline::start(channel.clone(), Arc::clone(&auth), bound.clone());
                Conn { channel, pipeline }
            })
            .collect();
        Ok(Pool {
            endpoint: endpoint.to_string(),
            auth,
            bound,
            conns,
            next: AtomicUsize::new(0),
        })
    }

    /// The next connection.
    pub(crate) fn get(&self) -> &Conn {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        &self.conns[i]
    }
}

/// HTTP/2 flow-control window of each stream.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
/// HTTP/2 flow-control window of each connection.
const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;

fn endpoint(o: &Options) -> Result<Endpoint> {
    let uri: http::Uri = o
        .endpoint
        .parse()
        .map_err(|e| Error::Config(format!("endpoint {:?} is not a URI: {e}", o.endpoint)))?;
    let scheme = uri.scheme_str().unwrap_or("").to_string();
    if scheme != "http" && scheme != "https" {
        return Err(Error::Config(format!(
            "endpoint {:?} must start with http:// or https://",
            o.endpoint
        )));
    }
    let host = uri
        .host()
        .ok_or_else(|| Error::Config(format!("endpoint {:?} names no host", o.endpoint)))?
        .to_string();
    let mut ep = Endpoint::from(uri)
        .connect_timeout(o.timeouts.connect)
        .tcp_nodelay(true)
        // Fixed, generous windows (like the server's): many small pipelined responses must
        // not exhaust h2's budget for small DATA frames, which scales with the window.
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .keep_alive_while_idle(true)
        .http2_keep_alive_interval(std::time::Duration::from_secs(30));
    if scheme == "https" {
        let mut tls = ClientTlsConfig::new().domain_name(o.tls_domain.clone().unwrap_or(host));
        tls = match &o.ca_pem {
            Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
            None => tls.with_webpki_roots(),
        };
        ep = ep
            .tls_config(tls)
            .map_err(|e| Error::Config(format!("TLS settings: {e}")))?;
    } else if o.ca_pem.is_some() {
        return Err(Error::Config(format!(
            "a CA certificate was given but endpoint {:?} is plaintext: use https://",
            o.endpoint
        )));
    }
    Ok(ep)
}
