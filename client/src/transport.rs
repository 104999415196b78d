//! Connections: the endpoint and its TLS settings, the pool of channels, and the credential
//! sent with every call.

use std::{
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use parking_lot::RwLock;
use shinydb_proto::{
    AUTHORIZATION,
    v1::{LoginRequest, users_client::UsersClient},
};
use tonic::{
    metadata::{MetadataMap, MetadataValue},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
};

use crate::{
    error::{Applied, Error, Result},
    options::{Credentials, Options},
    pipeline::Pipeline,
};

/// The credential sent with every call, and how to renew it.
pub(crate) struct Auth {
    credentials: Credentials,
    /// The bearer token in force (a session token or the API key); empty: none yet.
    token: RwLock<String>,
    /// Serialises logins so that concurrent callers share one.
    login: tokio::sync::Mutex<()>,
}

impl Auth {
    pub(crate) fn new(credentials: Credentials) -> Auth {
        let token = match &credentials {
            Credentials::ApiKey(k) => k.clone(),
            Credentials::Password { .. } | Credentials::None => String::new(),
        };
        Auth {
            credentials,
            token: RwLock::new(token),
            login: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether an `Unauthenticated` answer can be cured by logging in again.
    pub(crate) fn can_refresh(&self) -> bool {
        matches!(self.credentials, Credentials::Password { .. })
    }

    /// Whether `token` is still the one in force.
    pub(crate) fn is_current(&self, token: &str) -> bool {
        *self.token.read() == token
    }

    /// The token in force, logging in first if there is none yet.
    pub(crate) async fn bearer(&self, channel: &Channel) -> Result<String> {
        let t = self.token.read().clone();
        if !t.is_empty() || !self.can_refresh() {
            return Ok(t);
        }
        self.refresh(channel, "").await
    }

    /// Logs in again unless another caller already replaced `stale`; returns the new token.
    pub(crate) async fn refresh(&self, channel: &Channel, stale: &str) -> Result<String> {
        let _guard = self.login.lock().await;
        {
            let t = self.token.read();
            if *t != stale && !t.is_empty() {
                return Ok(t.clone());
            }
        }
        let Credentials::Password { user, password } = &self.credentials else {
            return Ok(self.token.read().clone());
        };
        let resp = UsersClient::new(channel.clone())
            .login(LoginRequest {
                user: user.clone(),
                password: password.clone(),
            })
            .await
            .map_err(|s| Error::from_status(&s, Applied::No))?
            .into_inner();
        tracing::debug!(user, "logged in");
        *self.token.write() = resp.token.clone();
        Ok(resp.token)
    }

    /// Adds `authorization: Bearer <token>` to a call's metadata (nothing for no token).
    pub(crate) fn apply(&self, token: &str, md: &mut MetadataMap) -> Result<()> {
        if token.is_empty() {
            return Ok(());
        }
        let v = MetadataValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Error::Config("the credential holds characters a header cannot".into()))?;
        md.insert(AUTHORIZATION, v);
        Ok(())
    }
}

/// One pooled connection: a channel for unary calls and its pipelined stream.
pub(crate) struct Conn {
    pub(crate) channel: Channel,
    pub(crate) pipeline: Pipeline,
}

/// The pool of connections, handed out round-robin.
pub(crate) struct Pool {
    conns: Vec<Conn>,
    next: AtomicUsize,
}

impl Pool {
    /// Builds the endpoint and its connections (lazily connected: a server that is down now
    /// is reached once it is up).
    pub(crate) fn new(options: &Options, auth: &Arc<Auth>) -> Result<Pool> {
        let endpoint = endpoint(options)?;
        let n = options.connections.max(1);
        let conns = (0..n)
            .map(|_| {
                let channel = endpoint.connect_lazy();
                let pipeline = Pipeline::start(channel.clone(), Arc::clone(auth));
                Conn { channel, pipeline }
            })
            .collect();
        Ok(Pool {
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
