//! What every service shares: the engine, users, metrics, limits and the shutdown signal.

use std::{
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use shinydb_engine::Db;
use tokio::sync::{Semaphore, watch};
use tonic::{Request, Response, Status, metadata::MetadataMap};
use tracing::{Instrument, debug, field::Empty, info_span};

use crate::{
    auth::{Auth, Principal},
    config::LimitsConfig,
    error::engine_status,
    metrics::Metrics,
    replication::Replication,
    telemetry::LogControl,
};

/// Engine writes that may wait for their sync at once. Group commit shares one fsync among
/// all of them; past this, writers queue without holding a thread.
pub const WRITE_SLOTS: usize = 256;

/// The peer of a connection, put in every request's extensions by the listener.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The client's address.
    pub addr: SocketAddr,
    /// The requests in flight on the connection.
    pub activity: Arc<crate::net::Activity>,
}

/// State shared by every service.
pub struct Shared {
    /// The engine.
    pub db: Arc<Db>,
    /// The server's part in replication: whether it takes writes, and whom they wait for.
    pub replication: Arc<Replication>,
    /// Users, sessions, keys.
    pub auth: Arc<Auth>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Request limits.
    pub limits: LimitsConfig,
    /// When the server started.
    pub started: Instant,
    /// Whether the gRPC listener uses TLS.
    pub tls: bool,
    /// The run-time log filter.
    pub log: LogControl,
    /// Becomes `true` when shutdown begins.
    pub shutdown: watch::Receiver<bool>,
    write_slots: Semaphore,
    read_slots: Semaphore,
}

/// A handle to the shared state.
pub type State = Arc<Shared>;

impl Shared {
    /// Bundles the shared state.
    pub fn new(
        replication: Arc<Replication>,
        auth: Arc<Auth>,
        metrics: Arc<Metrics>,
        limits: LimitsConfig,
        tls: bool,
        log: LogControl,
        shutdown: watch::Receiver<bool>,
    ) -> Shared {
        Shared {
            db: Arc::clone(replication.db()),
            replication,
            auth,
            metrics,
            started: Instant::now(),
            tls,
            log,
            shutdown,
            write_slots: Semaphore::new(WRITE_SLOTS),
            read_slots: Semaphore::new(limits.max_concurrent_reads as usize),
            limits,
        }
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Authenticates a request by its metadata.
    pub fn authenticate(&self, md: &MetadataMap) -> Result<Principal, Status> {
        let value =
            match md.get(shinydb_proto::AUTHORIZATION) {
                Some(v) => Some(v.to_str().map_err(|_| {
                    Status::unauthenticated("malformed authorization: not ASCII text")
                })?),
                None => None,
            };
        self.auth.authenticate(value)
    }

    /// The deadline of a request: its `grpc-timeout`, else the default, at most the maximum.
    pub fn deadline(&self, md: &MetadataMap) -> Duration {
        let max = Duration::from_millis(self.limits.max_deadline_ms);
        md.get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
            .unwrap_or(Duration::from_millis(self.limits.default_deadline_ms))
            .min(max)
    }

    /// The deadline for an operation asking for `ms` milliseconds (0: the default).
    pub fn deadline_ms(&self, ms: u32) -> Duration {
        let ms = if ms == 0 {
            self.limits.default_deadline_ms
        } else {
            u64::from(ms)
        };
        Duration::from_millis(ms.min(self.limits.max_deadline_ms))
    }

    /// Runs an authenticated unary call: authenticates, applies the deadline, records metrics
    /// and a span named after the method.
    pub async fn unary<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        req: Request<Req>,
        f: F,
    ) -> Result<Response<Resp>, Status>
    where
        F: FnOnce(Principal, Req) -> Fut,
        Fut: Future<Output = Result<Resp, Status>>,
    {
        let started = Instant::now();
        let deadline = self.deadline(req.metadata());
        let span = rpc_span(method, req.metadata());
        let result = async {
            let p = self.authenticate(req.metadata())?;
            tracing::Span::current().record("user", p.user.as_str());
            with_deadline(deadline, f(p, req.into_inner())).await
        }
        .instrument(span.clone())
        .await;
        self.record_outcome(method, started, &span, &result);
        result.map(Response::new)
    }

    /// Like [`Shared::unary`] for the one call that needs no credentials (login); `f` gets the
    /// client's address.
    pub async fn unary_anonymous<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        req: Request<Req>,
        f: F,
    ) -> Result<Response<Resp>, Status>
    where
        F: FnOnce(Option<SocketAddr>, Req) -> Fut,
        Fut: Future<Output = Result<Resp, Status>>,
    {
        let started = Instant::now();
        let deadline = self.deadline(req.metadata());
        let peer = req.extensions().get::<PeerInfo>().map(|p| p.addr);
        let span = rpc_span(method, req.metadata());
        let result = with_deadline(deadline, f(peer, req.into_inner()))
            .instrument(span.clone())
            .await;
        self.record_outcome(method, started, &span, &result);
        result.map(Response::new)
    }

    /// Records the outcome of a call.
    pub fn record_outcome<T>(
        &self,
        method: &str,
        started: Instant,
        span: &tracing::Span,
        result: &Result<T, Status>,
    ) {
        let code = match result {
            Ok(_) => tonic::Code::Ok,
            Err(e) => e.code(),
        };
        span.record("rpc.grpc.status_code", code as i32);
        self.metrics.observe(method, code, started.elapsed());
        if let Err(e) = result {
            debug!(parent: span, method, code = ?e.code(), message = e.message(), "request failed");
        }
    }

    /// Runs an engine write on a blocking thread (writes wait for their sync), then waits
    /// for the synchronous followers (`replication.sync_replicas`). A follower refuses,
    /// naming its leader.
    pub async fn write<T, F>(&self, f: F) -> Result<T, Status>
    where
        F: FnOnce(&shinydb_engine::Db) -> shinydb_engine::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.replication.check_writable()?;
        let _slot = self
            .write_slots
            .acquire()
            .await
            .map_err(|_| Status::unavailable("the server is shutting down"))?;
        let db = Arc::clone(&self.db);
        let out = blocking(move || {
            let out = f(&db).map_err(engine_status)?;
            // At least this write's batch: waiting for it covers the write.
            Ok((out, db.last_seq()))
        })
        .await?;
        self.replication.wait_replicated(out.1).await?;
        Ok(out.0)
    }

    /// Runs a change to users or API keys on a blocking thread: like [`Shared::write`],
    /// refused on a follower and acknowledged only once `replication.sync_replicas` followers
    /// have it (a created user or a revoked key must survive a failover too).
    pub async fn write_auth<T, F>(&self, f: F) -> Result<T, Status>
    where
        F: FnOnce(&Auth) -> Result<T, Status> + Send + 'static,
        T: Send + 'static,
    {
        self.replication.check_writable()?;
        let (auth, db) = (Arc::clone(&self.auth), Arc::clone(&self.db));
        let (out, seq) = blocking(move || Ok((f(&auth)?, db.last_seq()))).await?;
        self.replication.wait_replicated(seq).await?;
        Ok(out)
    }

    /// Runs a longer read (scans, queries) on a blocking thread, once one of the
    /// `limits.max_concurrent_reads` slots is free (waiting up to `limits.read_queue_ms`).
    pub async fn read<T, F>(&self, f: F) -> Result<T, Status>
    where
        F: FnOnce(&shinydb_engine::Db) -> Result<T, Status> + Send + 'static,
        T: Send + 'static,
    {
        let wait = Duration::from_millis(self.limits.read_queue_ms);
        let _slot = match tokio::time::timeout(wait, self.read_slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => return Err(Status::unavailable("the server is shutting down")),
            Err(_) => {
                return Err(Status::resource_exhausted(format!(
                    "{} reads are running (limits.max_concurrent_reads) and none finished \
                     within {} ms (limits.read_queue_ms): retry later",
                    self.limits.max_concurrent_reads, self.limits.read_queue_ms
                )));
            }
        };
        let db = Arc::clone(&self.db);
        blocking(move || f(&db)).await
    }
}

/// The span of one call, named after its method, continuing the caller's trace when the
/// request carries W3C trace context (`traceparent`).
pub fn rpc_span(method: &'static str, md: &MetadataMap) -> tracing::Span {
    let span = info_span!(
        "rpc",
        otel.name = method,
        otel.kind = "server",
        user = Empty,
        rpc.grpc.status_code = Empty
    );
    if md.contains_key("traceparent") {
        let parent =
            opentelemetry::global::get_text_map_propagator(|p| p.extract(&MetadataExtractor(md)));
        if let Err(e) = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, parent) {
            debug!(error = %e, "the caller's trace context could not be continued");
        }
    }
    span
}

/// Reads trace context from gRPC metadata.
struct MetadataExtractor<'a>(&'a MetadataMap);

impl opentelemetry::propagation::Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|k| match k {
                tonic::metadata::KeyRef::Ascii(k) => Some(k.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// Runs blocking work (engine calls, argon2) on the blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T, Status>
where
    F: FnOnce() -> Result<T, Status> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| Status::internal(format!("a request handler failed: {e}")))?
}

/// Runs an engine call on the blocking pool, keeping the engine's error.
pub async fn blocking_engine<T, F>(f: F) -> shinydb_engine::Result<T>
where
    F: FnOnce() -> shinydb_engine::Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(shinydb_engine::Error::Internal(format!(
            "a task failed: {e}"
        )))
    })
}

tokio::task_local! {
    /// When the request being served must have its answer (set by [`with_deadline`]).
    static DEADLINE: tokio::time::Instant;
}

/// When the request being served must have its answer, if it has a deadline: waits inside
/// it that can say why they ran out use it (they end at the same instant, and the inner
/// answer wins).
pub fn request_deadline() -> Option<tokio::time::Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Fails with `DeadlineExceeded` when `fut` takes longer than `deadline`. A write already
/// handed to the engine still completes; only its answer is lost.
///
/// Ends a little before `deadline` (a twentieth, at most 100 ms): tonic ends a call whose
/// `grpc-timeout` passed with a bare "Timeout expired", and the answer should say why.
pub async fn with_deadline<T>(
    deadline: Duration,
    fut: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let ours = deadline.saturating_sub((deadline / 20).min(Duration::from_millis(100)));
    let until = tokio::time::Instant::now() + ours;
    match DEADLINE
        .scope(until, tokio::time::timeout_at(until, fut))
        .await
    {
        Ok(r) => r,
        Err(_) => Err(Status::deadline_exceeded(format!(
            "the request did not finish within its deadline of {} ms",
            deadline.as_millis()
        ))),
    }
}

/// Parses a `grpc-timeout` header value: digits and a unit (H, M, S, m, u, n).
pub fn parse_grpc_timeout(v: &str) -> Option<Duration> {
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (num, unit) = v.split_at(v.len() - 1);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|v| *v).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("5x"), None);
        assert_eq!(parse_grpc_timeout("m"), None);
    }
}
