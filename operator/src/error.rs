//! Errors of the reconciler and of the `run` command.

/// Why a reconciliation failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading what the reconciliation needs (the dereference step) failed.
    #[error("reading {what}: {source}")]
    Fetch {
        /// The object, as `Kind name`.
        what: String,
        /// The API's error.
        source: kube::Error,
    },
    /// The children could not be built.
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
    /// Applying or deleting a child failed.
    #[error("{what}: {source}")]
    Apply {
        /// What was done to which object.
        what: String,
        /// The API's error.
        source: kube::Error,
    },
    /// Writing the status failed.
    #[error("writing the status: {0}")]
    Status(kube::Error),
    /// The operator could not talk to an instance's server (a Secret it needs).
    #[error(transparent)]
    Connect(#[from] crate::backup::ConnectError),
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
            Error::Fetch { source, .. } | Error::Apply { source, .. } | Error::Status(source) => {
                match source {
                    kube::Error::Api(_) => "api",
                    _ => "client",
                }
            }
            Error::Build(_) => "build",
            Error::Connect(_) => "connect",
            Error::Serialize { .. } => "serialize",
        }
    }

    /// The API server's answer, when the error is one.
    pub fn api_status(&self) -> Option<&kube::core::Status> {
        match self {
            Error::Fetch { source, .. } | Error::Apply { source, .. } | Error::Status(source) => {
                match source {
                    kube::Error::Api(s) => Some(s.as_ref()),
                    _ => None,
                }
            }
            Error::Build(_) | Error::Connect(_) | Error::Serialize { .. } => None,
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
