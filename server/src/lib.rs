//! ShinyDB's server: the engine behind gRPC (tonic) over TLS (rustls) with authentication.
//!
//! `main.rs` turns flags into a [`config::Config`] and calls [`server::run`]. Data flows one
//! way: [`net`] accepts connections (TLS from [`tls`]), tonic routes each call to a service in
//! [`service`], which authenticates it and checks roles ([`auth`]) through [`state`], then calls
//! the engine. [`http`] serves health and [`metrics`]; [`telemetry`] sets up logs and traces.

pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
pub mod net;
pub mod server;
pub mod service;
pub mod state;
pub mod status_layer;
pub mod telemetry;
pub mod tls;

pub use error::ServerError;
