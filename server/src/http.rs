//! The HTTP endpoint on the second port: `/healthz` (the process is alive), `/readyz` (it
//! serves requests: the engine is open, the gRPC listener serves and shutdown has not begun)
//! and `/metrics` (Prometheus text exposition).
//!
//! It starts before the engine opens, so that a long WAL replay at start answers `/healthz`
//! (alive) and `/readyz` 503 (starting) instead of failing liveness probes.

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Router, extract::State as AxState, http::StatusCode, response::IntoResponse, routing::get,
};

use crate::{metrics::Metrics, state::State};

/// What the HTTP endpoint reports on.
pub struct Status {
    metrics: Arc<Metrics>,
    state: OnceLock<State>,
    ready: AtomicBool,
}

impl Status {
    /// Starting: not ready, no engine yet.
    pub fn new(metrics: Arc<Metrics>) -> Arc<Status> {
        Arc::new(Status {
            metrics,
            state: OnceLock::new(),
            ready: AtomicBool::new(false),
        })
    }

    /// The engine is open and the gRPC listener serves.
    pub fn serving(&self, state: State) {
        let _ = self.state.set(state);
        self.ready.store(true, Ordering::Release);
    }
}

/// The HTTP routes.
pub fn router(status: Arc<Status>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(status)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(AxState(h): AxState<Arc<Status>>) -> (StatusCode, &'static str) {
    match h.state.get() {
        Some(s) if s.shutting_down() => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
        Some(_) if h.ready.load(Ordering::Acquire) => (StatusCode::OK, "ready\n"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "starting\n"),
    }
}

async fn metrics(AxState(h): AxState<Arc<Status>>) -> impl IntoResponse {
    let body = tokio::task::spawn_blocking(move || match h.state.get() {
        Some(s) => h
            .metrics
            .render(Some(&s.db.stats()), s.auth.session_count()),
        None => h.metrics.render(None, 0),
    })
    .await
    .unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
