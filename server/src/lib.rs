//! ShinyDB's server: the engine behind gRPC (tonic) over TLS (rustls) with authentication.
//!
//! `main.rs` turns flags into a [`config::Config`] and calls [`server::run`]. Data flows one
//! way: `net` accepts connections (TLS from `tls`), tonic routes each call to a service in
//! `service`, which authenticates it and checks roles (`auth`) through `state`, then calls
//! the engine. `http` serves health and `metrics`; [`telemetry`] sets up logs and traces;
//! [`replication`] ships the log between a leader and its followers.

mod admission;
mod auth;
pub mod backup;
pub mod cli;
pub mod config;
mod error;
mod http;
mod metrics;
mod net;
pub mod replication;
pub mod server;
mod service;
pub mod staging;
mod state;
mod status_layer;
pub mod telemetry;
mod tls;

pub use auth::ADMIN_USER;
pub use error::ServerError;
pub use metrics::Metrics;
