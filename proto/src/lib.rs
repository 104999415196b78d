//! ShinyDB's gRPC protocol, package `shinydb.v1`, generated from `proto/shinydb/v1/*.proto`.
//!
//! The server implements the service traits (`documents_server::Documents`, ...); clients use
//! the generated clients (`documents_client::DocumentsClient`, ...). Documents travel as BSON
//! bytes. The `.proto` files are the reference for every message and field.

/// Version 1 of the protocol.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("shinydb.v1");
}

/// The gRPC metadata key that carries credentials: `authorization: Bearer <token or API key>`.
pub const AUTHORIZATION: &str = "authorization";
