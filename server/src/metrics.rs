//! Prometheus metrics: requests by method and status code, latency histograms, connections,
//! sessions, failed logins, and the engine's statistics (read when scraped).

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use shinydb_engine::Stats;

/// Reads one engine statistic.
type StatFn = fn(&Stats) -> u64;

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Open client connections.
    pub connections: IntGauge,
    /// Client connections accepted since start.
    pub connections_total: IntCounter,
    /// TLS handshakes that failed.
    pub handshake_failures: IntCounter,
    /// Failed logins.
    pub failed_logins: IntCounter,
    /// Certificate reloads.
    pub cert_reloads: IntCounter,
    sessions: IntGauge,
    engine: Vec<(IntGauge, StatFn)>,
    /// Base backups and the log's archive.
    pub backup: BackupMetrics,
    /// 0 standalone, 1 leader, 2 follower, 3 demoted.
    pub replication_role: IntGauge,
    /// The newest epoch in the data.
    pub replication_epoch: IntGauge,
    /// Followers streaming from this leader.
    pub replication_followers: IntGauge,
    /// 1 while fewer than `sync_replicas` followers are connected.
    pub replication_sync_degraded: IntGauge,
    /// Log bytes shipped to followers since start.
    pub replication_shipped_bytes: IntCounter,
    /// A follower's lag behind its leader, seconds.
    pub replication_lag: Gauge,
    /// Seeds from a leader since start.
    pub replication_seeds: IntCounter,
    /// Diverged tails rolled back since start.
    pub replication_rollbacks: IntCounter,
}

/// Base backups and the archive of the log.
pub struct BackupMetrics {
    /// Base backups completed since start.
    pub completed: IntCounter,
    /// Base backups that failed since start.
    pub failed: IntCounter,
    /// When the last base backup completed, seconds since the Unix epoch.
    pub last_success: Gauge,
    /// How long the last base backup took, seconds.
    pub last_duration: Gauge,
    /// Bytes the last base backup stored.
    pub last_stored_bytes: IntGauge,
    /// The newest batch in the archive.
    pub archived_seq: IntGauge,
    /// Seconds the oldest batch not yet archived has waited.
    pub archive_lag: Gauge,
    /// Batches committed but not yet archived.
    pub archive_pending_batches: IntGauge,
    /// Log slices archived since start.
    pub archived_slices: IntCounter,
    /// Bytes archived since start.
    pub archived_bytes: IntCounter,
    /// Failed archive attempts since start.
    pub archive_errors: IntCounter,
    /// Gaps recorded in the archive since start.
    pub archive_gaps: IntCounter,
}

fn build<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: Result<T, prometheus::Error>,
) -> Result<T, prometheus::Error> {
    let c = c?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let r = Registry::new();
        let requests = build(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "shinydb_requests_total",
                    "gRPC requests by method and status code",
                ),
                &["method", "code"],
            ),
        )?;
        let latency = build(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "shinydb_request_duration_seconds",
                    "gRPC request latency by method",
                )
                .buckets(vec![
                    0.000_05, 0.0001, 0.000_25, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
                &["method"],
            ),
        )?;
        let gauge = |name: &str, help: &str| build(&r, IntGauge::new(name, help));
        let counter = |name: &str, help: &str| build(&r, IntCounter::new(name, help));
        let connections = gauge("shinydb_connections", "open client connections")?;
        let connections_total = counter(
            "shinydb_connections_accepted_total",
            "client connections accepted",
        )?;
        let handshake_failures = counter(
            "shinydb_tls_handshake_failures_total",
            "TLS handshakes that failed or timed out",
        )?;
        let failed_logins = counter("shinydb_failed_logins_total", "failed logins")?;
        let cert_reloads = counter(
            "shinydb_tls_certificate_reloads_total",
            "server certificates loaded after a change on disk",
        )?;
        let sessions = gauge("shinydb_sessions", "active sessions")?;
        let specs: [(&str, &str, StatFn); 18] = [
            (
                "failed",
                "1 when the engine failed and refuses writes until a restart",
                |s| u64::from(s.failed),
            ),
            ("visible_seq", "newest visible sequence number", |s| {
                s.visible_seq
            }),
            (
                "checkpoint_seq",
                "sequence number covered by the B+tree",
                |s| s.checkpoint_seq,
            ),
            ("documents", "documents over every store", |s| s.documents),
            (
                "write_batches",
                "committed write batches since start",
                |s| s.write_batches,
            ),
            ("wal_syncs", "WAL syncs since start", |s| s.wal_syncs),
            ("wal_synced_batches", "batches covered by WAL syncs", |s| {
                s.wal_synced_batches
            }),
            ("memtable_bytes", "bytes held in memtables", |s| {
                s.memtable_bytes
            }),
            (
                "frozen_memtables",
                "memtables waiting for their flush",
                |s| s.frozen_memtables,
            ),
            ("flushes", "memtable flushes since start", |s| s.flushes),
            ("cache_hits", "page-cache hits since start", |s| {
                s.cache_hits
            }),
            ("cache_misses", "page-cache misses since start", |s| {
                s.cache_misses
            }),
            ("data_file_bytes", "size of the data file", |s| {
                s.data_file_bytes
            }),
            ("free_pages", "free pages in the data file", |s| {
                s.free_pages
            }),
            ("vlog_bytes", "bytes in value-log segments", |s| {
                s.vlog_bytes
            }),
            ("vlog_dead_bytes", "unreferenced value-log bytes", |s| {
                s.vlog_dead_bytes
            }),
            ("gc_runs", "GC passes since start", |s| s.gc_runs),
            (
                "gc_reclaimed_bytes",
                "bytes reclaimed by GC since start",
                |s| s.gc_reclaimed_bytes,
            ),
        ];
        let mut engine = Vec::with_capacity(specs.len());
        for (name, help, f) in specs {
            engine.push((gauge(&format!("shinydb_engine_{name}"), help)?, f));
        }
        let float = |name: &str, help: &str| build(&r, Gauge::new(name, help));
        let backup = BackupMetrics {
            completed: counter("shinydb_backups_completed_total", "base backups completed")?,
            failed: counter("shinydb_backups_failed_total", "base backups that failed")?,
            last_success: float(
                "shinydb_backup_last_success_timestamp_seconds",
                "when the last base backup completed",
            )?,
            last_duration: float(
                "shinydb_backup_last_duration_seconds",
                "how long the last base backup took",
            )?,
            last_stored_bytes: gauge(
                "shinydb_backup_last_stored_bytes",
                "bytes the last base backup stored",
            )?,
            archived_seq: gauge("shinydb_archive_archived_seq", "the newest archived batch")?,
            archive_lag: float(
                "shinydb_archive_lag_seconds",
                "how long the oldest batch not yet archived has waited",
            )?,
            archive_pending_batches: gauge(
                "shinydb_archive_pending_batches",
                "batches committed but not yet archived",
            )?,
            archived_slices: counter("shinydb_archive_slices_total", "log slices archived")?,
            archived_bytes: counter("shinydb_archive_bytes_total", "bytes of log archived")?,
            archive_errors: counter(
                "shinydb_archive_errors_total",
                "failed attempts to archive the log",
            )?,
            archive_gaps: counter(
                "shinydb_archive_gaps_total",
                "ranges of batches the archive will never hold",
            )?,
        };
        let replication_role = gauge(
            "shinydb_replication_role",
            "0 standalone, 1 leader, 2 follower, 3 demoted",
        )?;
        let replication_epoch = gauge("shinydb_replication_epoch", "the newest epoch")?;
        let replication_followers = gauge("shinydb_replication_followers", "followers streaming")?;
        let replication_sync_degraded = gauge(
            "shinydb_replication_sync_degraded",
            "1 while fewer than sync_replicas followers are connected",
        )?;
        let replication_shipped_bytes = counter(
            "shinydb_replication_shipped_bytes_total",
            "log bytes shipped to followers",
        )?;
        let replication_lag = build(
            &r,
            Gauge::new(
                "shinydb_replication_lag_seconds",
                "how far this follower may be behind its leader",
            ),
        )?;
        let replication_seeds = counter(
            "shinydb_replication_seeds_total",
            "data directories seeded from a leader",
        )?;
        let replication_rollbacks = counter(
            "shinydb_replication_rollbacks_total",
            "diverged log tails set aside (rollback/) before a seed",
        )?;
        Ok(Metrics {
            replication_role,
            replication_epoch,
            replication_followers,
            replication_sync_degraded,
            replication_shipped_bytes,
            replication_lag,
            replication_seeds,
            replication_rollbacks,
            registry: r,
            requests,
            latency,
            connections,
            connections_total,
            handshake_failures,
            failed_logins,
            cert_reloads,
            sessions,
            engine,
            backup,
        })
    }

    /// Records one finished request.
    pub fn observe(&self, method: &str, code: tonic::Code, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, code_name(code)])
            .inc();
        self.latency
            .with_label_values(&[method])
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition, with engine statistics (when the engine is open) and
    /// sessions read now.
    pub fn render(&self, stats: Option<&Stats>, sessions: usize) -> String {
        if let Some(stats) = stats {
            for (g, f) in &self.engine {
                g.set(i64::try_from(f(stats)).unwrap_or(i64::MAX));
            }
        }
        self.sessions
            .set(i64::try_from(sessions).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The canonical name of a status code, as gRPC spells it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}
