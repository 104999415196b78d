//! The HTTP endpoint on the second port: `/healthz` (the process is alive), `/readyz` (it
//! serves requests: the engine is open and shutdown has not begun) and `/metrics` (Prometheus
//! text exposition).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Router, extract::State as AxState, http::StatusCode, response::IntoResponse, routing::get,
};

use crate::state::State;

#[derive(Clone)]
struct Http {
    state: State,
    ready: Arc<AtomicBool>,
}

/// The HTTP routes. `ready` turns true once the gRPC listener serves.
pub fn router(state: State, ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Http { state, ready })
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(AxState(h): AxState<Http>) -> (StatusCode, &'static str) {
    if h.state.shutting_down() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else if !h.ready.load(Ordering::Acquire) {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}

async fn metrics(AxState(h): AxState<Http>) -> impl IntoResponse {
    let s = Arc::clone(&h.state);
    let body = tokio::task::spawn_blocking(move || {
        s.metrics.render(&s.db.stats(), s.auth.session_count())
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
