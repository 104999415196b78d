//! ShinyDB's async Rust client.
//!
//! - **Connections**: `http://` or `https://` endpoints; TLS through rustls with a custom CA
//!   ([`ClientBuilder::ca_cert_pem`]); a small pool of connections ([`ClientBuilder::connections`]).
//! - **Authentication**: a user and password (logged in again when the session expires) or an
//!   API key.
//! - **The fast path**: document operations ([`Store`]) and queries travel over the pipelined
//!   stream of each pooled connection: a background task tags each request with an id and hands
//!   each response back to its caller, so concurrent callers' requests are in flight together
//!   on one HTTP/2 stream.
//! - **Queries**: YQL text ([`Client::query`]) or the typed builder ([`query::QueryBuilder`]),
//!   which produces the same typed query the parser does; results as [`QueryOutput`], whose
//!   [`QueryOutput::to_json`] is the shape every ShinyDB interface prints.
//! - **Resilience**: retries with exponential backoff and full jitter for transient errors
//!   only (never again for a write that may have been applied, unless it is idempotent); a
//!   circuit breaker (closed, open, half-open); timeout presets ([`Timeouts::default`],
//!   [`Timeouts::fast`], [`Timeouts::none`]).
//! - **Replicas**: writes go to the leader, following a follower's hint when it refuses one
//!   ([`ClientBuilder::follow_leader`]); reads can be spread over followers with a staleness
//!   bound, falling back to the leader ([`ClientBuilder::read_from_followers`]).
//! - **Metrics**: per-operation counts and latency percentiles ([`Client::metrics`]).
//!
//! ```no_run
//! use shinydb_client::{Client, bson::doc, query::{QueryBuilder, field}};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), shinydb_client::Error> {
//! let client = Client::builder("https://localhost:23469")
//!     .ca_cert_pem(std::fs::read("ca.crt").expect("CA file"))
//!     .api_key("sdbk_...")
//!     .build()?;
//! let orders = client.store("sales", "orders");
//! orders.insert(doc! {"_id": 1, "total": 40}).await?;
//!
//! let text = client.query("sales.orders.filter(total > 10).count()").await?;
//! let typed = QueryBuilder::on("sales", "orders")
//!     .filter(field("total").gt(10))
//!     .count()
//!     .build()?;
//! assert_eq!(client.query_typed(&typed).await?, text);
//! println!("{}", client.metrics().total());
//! # Ok(()) }
//! ```

mod bearer;
mod client;
mod error;
mod id;
mod metrics;
mod options;
mod pipeline;
pub mod query;
mod resilience;
mod routing;
mod store;
mod transport;

pub use bson;
pub use client::{Client, ClientBuilder};
pub use error::{Applied, Error, Result};
pub use id::DocId;
pub use metrics::{MetricsSnapshot, OpMetrics};
pub use options::{BreakerConfig, Credentials, RetryPolicy, Timeouts};
pub use query::QueryOutput;
pub use resilience::BreakerState;
pub use shinydb_proto::v1 as proto;
pub use store::{ScanPage, Store, UpdateOutcome};
/// The gRPC status codes [`Error::code`] returns.
pub use tonic::Code;
