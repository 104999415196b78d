//! The HTTP endpoint on the second port: `/healthz` (the process is alive and its engine has
//! not failed), `/readyz` (it serves requests: the engine is open and has not failed, the gRPC
//! listener serves and shutdown has not begun) and `/metrics` (Prometheus text exposition).
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

/// Alive, unless the engine failed: it then refuses writes until it is reopened, which a
/// restart does, so the liveness probe asks for one.
async fn healthz(AxState(h): AxState<Arc<Status>>) -> (StatusCode, String) {
    match failure(&h) {
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
        None => (StatusCode::OK, "ok\n".into()),
    }
}

async fn readyz(AxState(h): AxState<Arc<Status>>) -> (StatusCode, String) {
    if let Some(why) = failure(&h) {
        return (StatusCode::SERVICE_UNAVAILABLE, why);
    }
    match h.state.get() {
        Some(s) if s.shutting_down() => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into()),
        Some(_) if h.ready.load(Ordering::Acquire) => (StatusCode::OK, "ready\n".into()),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "starting\n".into()),
    }
}

/// `engine failed: <why>` once the engine has failed.
fn failure(h: &Status) -> Option<String> {
    let why = h.state.get()?.db.failure()?;
    Some(format!("engine failed (restart to recover): {why}\n"))
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
