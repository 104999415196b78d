//! The client's error type.

use tonic::Code;

/// The response header in which a follower names its leader.
pub(crate) const LEADER_HEADER: &str = "x-shinydb-leader";

/// Whether a failed operation may have been applied by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The server said so, or the request never left the client: safe to send again.
    No,
    /// The connection broke while the request was in flight: it may or may not have been
    /// applied.
    Maybe,
}

/// What went wrong.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The server answered with an error status.
    #[error("{message} ({code:?})")]
    Server {
        /// The gRPC status code.
        code: Code,
        /// What the server said was wrong.
        message: String,
        /// Whether the operation may have been applied.
        applied: Applied,
    },
    /// A follower refused the operation (a write, or a read it is too stale for) and named
    /// its leader: send it there. Never applied. Its code is `FailedPrecondition`.
    #[error("{message} (the leader is {leader})")]
    NotLeader {
        /// What the server said.
        message: String,
        /// The leader's endpoint.
        leader: String,
    },
    /// The operation did not finish within its timeout.
    #[error("the operation timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The circuit breaker is open after repeated failures: the call was not sent.
    #[error("the circuit breaker is open after repeated failures: not sending until it half-opens")]
    CircuitOpen,
    /// The client's configuration is invalid (endpoint, certificate, credentials).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// An argument or a server response could not be encoded or decoded.
    #[error("{0}")]
    Invalid(String),
}

/// The code of a status, with the connection breaking counted as `Unavailable` (retryable, like a
/// refused connection): tonic reports most h2 and hyper failures as `Unknown`, `Internal` or
/// `Cancelled`, and a status made from a transport error has a source, while one the server
/// sent has none.
pub(crate) fn transport_code(s: &tonic::Status) -> Code {
    let broken = std::error::Error::source(s).is_some()
        && matches!(s.code(), Code::Unknown | Code::Internal | Code::Cancelled);
    if broken { Code::Unavailable } else { s.code() }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error of a status answered by the server; `applied` says whether the operation may
    /// have taken effect.
    pub fn from_status(s: &tonic::Status, applied: Applied) -> Error {
        let leader = s
            .metadata()
            .get(LEADER_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|l| !l.is_empty());
        if let (Code::FailedPrecondition, Some(leader)) = (s.code(), leader) {
            return Error::NotLeader {
                message: s.message().to_string(),
                leader: leader.to_string(),
            };
        }
        Error::Server {
            code: transport_code(s),
            message: s.message().to_string(),
            applied,
        }
    }

    /// The gRPC code: the server's (connection failures are `Unavailable`, as tonic reports
    /// them), `Unavailable` for an open breaker, `DeadlineExceeded` for a client-side timeout.
    pub fn code(&self) -> Code {
        match self {
            Error::Server { code, .. } => *code,
            Error::CircuitOpen => Code::Unavailable,
            Error::NotLeader { .. } => Code::FailedPrecondition,
            Error::Timeout(_) => Code::DeadlineExceeded,
            Error::Config(_) | Error::Invalid(_) => Code::InvalidArgument,
        }
    }

    /// Whether the error is transient: trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Server { code, .. } => matches!(code, Code::Unavailable | Code::Aborted),
            Error::Timeout(_) => true,
            Error::CircuitOpen | Error::NotLeader { .. } | Error::Config(_) | Error::Invalid(_) => {
                false
            }
        }
    }

    /// The leader a follower named when it refused the operation.
    pub fn leader(&self) -> Option<&str> {
        match self {
            Error::NotLeader { leader, .. } => Some(leader),
            _ => None,
        }
    }

    /// Whether the operation certainly had no effect.
    pub fn certainly_not_applied(&self) -> bool {
        match self {
            Error::Server { applied, .. } => *applied == Applied::No,
            Error::CircuitOpen | Error::NotLeader { .. } | Error::Config(_) | Error::Invalid(_) => {
                true
            }
            Error::Timeout(_) => false,
        }
    }

    /// Whether the error counts against the server's health (for the circuit breaker):
    /// transient failures do, answers such as `NotFound` or `InvalidArgument` do not.
    pub fn is_failure_of_server(&self) -> bool {
        self.is_transient()
            || matches!(self, Error::Server { code, .. } if matches!(code, Code::Internal | Code::Unknown | Code::DataLoss))
    }
}
