//! What can go wrong in replication, and the status a caller gets for it.

use std::path::PathBuf;

use tonic::{Code, Status};

/// A replication failure.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// Reading or writing the epoch record failed.
    #[error("the epoch record: {0}")]
    Epoch(#[source] shinydb_engine::Error),
    /// The engine refused (applying the log, reading it, taking a snapshot).
    #[error("storage engine: {0}")]
    Engine(#[from] shinydb_engine::Error),
    /// Promotion of a server that already leads.
    #[error("this server already leads")]
    AlreadyLeader,
    /// Demotion of a server that does not lead.
    #[error("this server is {0}, not the leader: nothing to demote")]
    NotLeader(&'static str),
    /// An endpoint that is not `https://host:port` or `http://host:port`.
    #[error("{0:?} is not an endpoint such as https://host:port")]
    BadEndpoint(String),
    /// The leader could not be reached, or refused the credential.
    #[error("connecting to the leader {endpoint}: {message}")]
    Connect {
        /// The leader.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// The leader answered with an error.
    #[error("the leader {endpoint} refused: {status}")]
    Leader {
        /// The leader.
        endpoint: String,
        /// Its answer.
        status: Status,
    },
    /// A snapshot's bytes did not match their checksum, or did not add up.
    #[error("the snapshot from the leader is damaged: {0}")]
    BadSnapshot(String),
    /// A file in the data directory could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The saved run-time role is not one.
    #[error(
        "{}: {found:?} is not `leader`, `demoted` or `follower <endpoint>` (delete the file to \
         take the role from the configuration)",
        path.display()
    )]
    RoleFile {
        /// The file.
        path: PathBuf,
        /// What it holds (at most 200 characters).
        found: String,
    },
    /// The credential file could not be read.
    #[error("reading the replication credential {}: {source}", path.display())]
    Credential {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl ReplicationError {
    /// The gRPC status a caller of the Replication service gets.
    pub fn status(&self) -> Status {
        let code = match self {
            ReplicationError::AlreadyLeader | ReplicationError::NotLeader(_) => {
                Code::FailedPrecondition
            }
            ReplicationError::BadEndpoint(_) => Code::InvalidArgument,
            ReplicationError::Connect { .. } | ReplicationError::Leader { .. } => Code::Unavailable,
            ReplicationError::Epoch(_)
            | ReplicationError::Engine(_)
            | ReplicationError::BadSnapshot(_)
            | ReplicationError::File { .. }
            | ReplicationError::RoleFile { .. }
            | ReplicationError::Credential { .. } => Code::Internal,
        };
        Status::new(code, self.to_string())
    }
}

impl From<crate::staging::StagingError> for ReplicationError {
    fn from(e: crate::staging::StagingError) -> ReplicationError {
        ReplicationError::File {
            what: e.what,
            path: e.path,
            source: e.source,
        }
    }
}
