//! Prometheus metrics of the operator and the HTTP listener serving them with the health
//! endpoints (`/metrics`, `/healthz`, `/readyz`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use crate::error::RunError;

/// The operator's metrics.
pub struct Metrics {
    registry: Registry,
    /// Reconciliations by result (`ok`, `error`).
    pub reconciliations: IntCounterVec,
    /// Failed reconciliations by error class.
    pub errors: IntCounterVec,
    /// Reconciliation durations in seconds.
    pub duration: HistogramVec,
    /// 1 while this replica holds the leader lease.
    pub leader: IntGauge,
    /// Finished ShinyBackups, by result (`completed`, `failed`).
    pub backups: IntCounterVec,
    /// When each instance's last backup completed, seconds since the Unix epoch.
    pub last_backup_success: GaugeVec,
    /// Finished ShinyRestores, by result (`completed`, `failed`).
    pub restores: IntCounterVec,
    /// Seconds from a restore's start until its instance served the restored data.
    pub restore_duration: Histogram,
    /// Restore drills that ended, by result (`passed`, `failed`).
    pub drills: IntCounterVec,
    /// Each instance's last drill's recovery time in seconds.
    pub drill_recovery_seconds: GaugeVec,
    ready: AtomicBool,
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let reconciliations = IntCounterVec::new(
            Opts::new(
                "shinydb_operator_reconciliations_total",
                "Reconciliations of ShinyDB resources, by result.",
            ),
            &["result"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "shinydb_operator_reconcile_errors_total",
                "Failed reconciliations, by error class.",
            ),
            &["error"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "shinydb_operator_reconcile_duration_seconds",
                "Time spent in one reconciliation.",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["result"],
        )?;
        let leader = IntGauge::new(
            "shinydb_operator_leader",
            "1 while this replica holds the leader lease.",
        )?;
        registry.register(Box::new(reconciliations.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        let backups = IntCounterVec::new(
            Opts::new(
                "shinydb_operator_backups_total",
                "ShinyBackups that finished, by result.",
            ),
            &["result"],
        )?;
        let last_backup_success = GaugeVec::new(
            Opts::new(
                "shinydb_operator_last_backup_success_timestamp_seconds",
                "When the instance's last backup completed (Unix time).",
            ),
            &["namespace", "instance"],
        )?;
        registry.register(Box::new(leader.clone()))?;
        registry.register(Box::new(backups.clone()))?;
        registry.register(Box::new(last_backup_success.clone()))?;
        let restores = IntCounterVec::new(
            Opts::new(
                "shinydb_operator_restores_total",
                "ShinyRestores that finished, by result.",
            ),
            &["result"],
        )?;
        let restore_duration = Histogram::with_opts(
            HistogramOpts::new(
                "shinydb_operator_restore_duration_seconds",
                "Time from a restore's start until its instance served the restored data.",
            )
            .buckets(vec![10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0]),
        )?;
        registry.register(Box::new(restores.clone()))?;
        registry.register(Box::new(restore_duration.clone()))?;
        let drills = IntCounterVec::new(
            Opts::new(
                "shinydb_operator_drills_total",
                "Restore drills that ended, by result.",
            ),
            &["result"],
        )?;
        let drill_recovery_seconds = GaugeVec::new(
            Opts::new(
                "shinydb_operator_drill_recovery_seconds",
                "The recovery time the instance's last restore drill measured.",
            ),
            &["namespace", "instance"],
        )?;
        registry.register(Box::new(drills.clone()))?;
        registry.register(Box::new(drill_recovery_seconds.clone()))?;
        Ok(Metrics {
            registry,
            reconciliations,
            errors,
            duration,
            leader,
            backups,
            last_backup_success,
            restores,
            restore_duration,
            drills,
            drill_recovery_seconds,
            ready: AtomicBool::new(false),
        })
    }

    /// Marks the operator ready (connected to the API server and watching or standing by).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec only fails for invalid metric families, which registration rules out.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

async fn metrics(State(m): State<Arc<Metrics>>) -> String {
    m.render()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(m): State<Arc<Metrics>>) -> (StatusCode, &'static str) {
    if m.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

/// Binds `addr` and serves the metrics and health endpoints until the task is dropped.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<(), RunError> {
    let app = Router::new()
        .route("/metrics", get(self::metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(metrics);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Listen { addr, source })?;
    axum::serve(listener, app)
        .await
        .map_err(|source| RunError::Listen { addr, source })
}
