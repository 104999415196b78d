//! Errors of the benchmark: bad usage, a failed operation (which fails the whole run), and
//! services that would not start.

use std::path::PathBuf;

use crate::workload::Mismatch;

/// Everything that can end a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The command line or a combination of options is not valid.
    #[error("{0}")]
    Usage(String),
    /// An operation against a target failed.
    #[error("{target}: {op} failed: {message}")]
    Operation {
        /// The target's name.
        target: &'static str,
        /// The operation.
        op: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A read returned something the driver did not write.
    #[error("{target}: wrong read result: {mismatch}")]
    Verify {
        /// The target's name.
        target: &'static str,
        /// What was wrong.
        mismatch: Mismatch,
    },
    /// Connecting or preparing a target failed.
    #[error("{target}: connecting: {message}")]
    Connect {
        /// The target's name.
        target: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A helper process (initdb, pg_ctl, shinydb-server) failed.
    #[error("{what}: {message}")]
    Service {
        /// What was being started or stopped.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A histogram could not be created or merged.
    #[error("histogram: {0}")]
    Histogram(String),
    /// A client task panicked or was cancelled.
    #[error("client task: {0}")]
    Task(String),
    /// The run ended before any operation was measured.
    #[error("no operation was measured (a warm-up longer than the run?)")]
    NothingMeasured,
}

impl BenchError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> BenchError {
        BenchError::Io {
            path: path.into(),
            source,
        }
    }

    /// A failed helper process or service step.
    pub fn service(what: impl Into<String>, message: impl std::fmt::Display) -> BenchError {
        BenchError::Service {
            what: what.into(),
            message: message.to_string(),
        }
    }
}
