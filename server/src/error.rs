//! The server's errors: what can stop it from starting, and how engine errors become gRPC
//! status codes.

use std::path::PathBuf;

use tonic::{Code, Status};

use crate::config::ConfigError;

/// Everything that can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The engine could not be opened or closed.
    #[error("storage engine: {0}")]
    Engine(#[from] shinydb_engine::Error),
    /// The data directory's lineage (for backups and the archive) could not be read or made.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    /// Replication could not be set up.
    #[error(transparent)]
    Replication(#[from] crate::replication::ReplicationError),
    /// The TLS certificates could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file the server needs could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Setting up users at first start failed.
    #[error("setting up authentication: {0}")]
    Auth(String),
    /// Logging or trace export could not be set up.
    #[error("telemetry: {0}")]
    Telemetry(String),
    /// The gRPC or HTTP server failed.
    #[error("serving: {0}")]
    Serve(String),
}

/// The gRPC status for an engine error.
pub fn engine_status(e: shinydb_engine::Error) -> Status {
    use shinydb_engine::Error as E;
    let code = match &e {
        E::NotFound { .. } => Code::NotFound,
        E::AlreadyExists { .. } | E::UniqueViolation { .. } => Code::AlreadyExists,
        E::InvalidArgument(_) | E::InvalidName { .. } => Code::InvalidArgument,
        E::LimitExceeded(_) => Code::ResourceExhausted,
        E::FailedPrecondition(_)
        | E::Locked { .. }
        | E::LogTruncated { .. }
        | E::LogGap { .. }
        | E::ReadOnly => Code::FailedPrecondition,
        E::Failed(_) => Code::Unavailable,
        E::Corruption { .. } => Code::DataLoss,
        _ => Code::Internal,
    };
    Status::new(code, e.to_string())
}
