//! The engine's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the engine. New variants may be added: match the ones a
/// caller acts on and treat the rest as internal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error, with what the engine was doing.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What the engine was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is damaged: a checksum, length or structure check failed.
    #[error("corruption in {path}: {detail}")]
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// What was wrong, and where.
        detail: String,
    },
    /// A file was written by an unknown format version or is not a ShinyDB file.
    #[error("unsupported file {path}: {detail}")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// What was found.
        detail: String,
    },
    /// The engine hit a write or sync failure earlier and refuses writes until reopened.
    #[error("the engine has failed and refuses writes until it is reopened: {0}")]
    Failed(String),
    /// A name does not match `^[A-Za-z_][A-Za-z0-9_]{0,63}$` or is reserved.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A space, store, index or document does not exist.
    #[error("{kind} {name} not found")]
    NotFound {
        /// What kind of object.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A space, store, index or document `_id` exists already.
    #[error("{kind} {name} already exists")]
    AlreadyExists {
        /// What kind of object.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A unique index refused a write.
    #[error("unique index {index} already holds the key {key} (document _id {existing_id})")]
    UniqueViolation {
        /// The index's name.
        index: String,
        /// The duplicated key, as relaxed extended JSON.
        key: String,
        /// The `_id` of the document already holding it.
        existing_id: String,
    },
    /// The data directory is open already: in another process, or through another handle.
    #[error("{} is already open (by another process, or another handle in this one)", dir.display())]
    Locked {
        /// The data directory.
        dir: PathBuf,
    },
    /// A request was well-formed but not allowed in the current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A document or argument is not acceptable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A size limit was exceeded.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The write-ahead log no longer holds a batch a reader asked for: it was removed after a
    /// checkpoint. A replica in this state must start again from a backup.
    #[error("the log no longer holds sequence number {seq}; restore from a backup first")]
    LogTruncated {
        /// The first sequence number the reader needed.
        seq: u64,
    },
    /// A batch from another engine's log does not follow the last one applied.
    #[error("log record {seq} does not follow {applied}: records are missing")]
    LogGap {
        /// The batch offered.
        seq: u64,
        /// The last batch applied here.
        applied: u64,
    },
    /// The engine follows another engine's log ([`crate::Db::set_read_only`]): only
    /// [`crate::Db::apply_log`] may change it.
    #[error("the database is read-only: it follows another server's log")]
    ReadOnly,
    /// An internal invariant did not hold: a bug in the engine, not in the caller's input.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with a description of what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A corruption error for `path`.
    pub(crate) fn corruption(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Error::Corruption {
            path: path.into(),
            detail: detail.into(),
        }
    }
}
