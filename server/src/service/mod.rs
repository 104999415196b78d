//! The gRPC services, one file per area. Each handler authenticates through
//! [`crate::state::Shared::unary`], checks the permission matrix ([`crate::auth::roles`]) and
//! calls the engine.

pub mod backup;
pub mod catalog;
pub mod convert;
pub mod documents;
pub mod query;
pub mod replication;
pub mod server;
pub mod stream;
pub mod users;
