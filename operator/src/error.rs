//! Errors of the reconciler and of the `run` command.

/// Why a reconciliation failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the API server failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The children could not be built.
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
    /// An object could not be serialized for server-side apply.
    #[error("serialize {kind}: {source}")]
    Serialize {
        /// Kind of the object.
        kind: &'static str,
        /// The serializer's error.
        source: serde_json::Error,
    },
}

impl Error {
    /// A short label for metrics (bounded cardinality).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(_)) => "api",
            Error::Kube(_) => "client",
            Error::Build(_) => "build",
            Error::Serialize { .. } => "serialize",
        }
    }
}

/// Why `shinydb-operator run` stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No Kubernetes configuration was found, or the client could not be built.
    #[error("kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// Leader election failed.
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
    /// The metrics and health listener failed.
    #[error("metrics listener {addr}: {source}")]
    Listen {
        /// Address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// This replica lost the leader lease while running; it exits so that it restarts clean.
    #[error("lost the leader lease")]
    LostLease,
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
