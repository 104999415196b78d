//! What can go wrong with a backup or a restore, named so a user can act on it.

use std::path::PathBuf;

/// A backup or restore failure.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// `backup.store` is not set.
    #[error("backups are not configured: set backup.store (s3://bucket/prefix or file:///path)")]
    NotConfigured,
    /// The store's URL or options cannot be used.
    #[error("backup store {store}: {reason}")]
    BadStore {
        /// The store URL.
        store: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The store refused the credentials.
    #[error("backup store {store} refused the credentials: {detail}")]
    InvalidCredentials {
        /// The store URL.
        store: String,
        /// The store's answer.
        detail: String,
    },
    /// The bucket, or an object the operation needs, does not exist.
    #[error("backup store {store}: not found: {detail}")]
    NotFound {
        /// The store URL.
        store: String,
        /// The store's answer.
        detail: String,
    },
    /// The store could not be reached.
    #[error("backup store {store} is unreachable: {detail}")]
    Unreachable {
        /// The store URL.
        store: String,
        /// Why.
        detail: String,
    },
    /// Any other answer from the store.
    #[error("backup store {store}: {detail}")]
    Store {
        /// The store URL.
        store: String,
        /// The store's answer.
        detail: String,
    },
    /// A downloaded object does not match the hash its manifest recorded.
    #[error("object {key} is corrupt: its manifest says SHA-256 {expected}, it holds {found}")]
    Corrupt {
        /// The object's key.
        key: String,
        /// The hash in the manifest.
        expected: String,
        /// The hash of what was downloaded.
        found: String,
    },
    /// An object that must not exist yet does (a create-only write lost the race).
    #[error("backup store {store}: {key} exists already")]
    AlreadyExists {
        /// The store URL.
        store: String,
        /// The object's key.
        key: String,
    },
    /// An archived slice of the log is damaged or not what its name says.
    #[error("archived log slice {key} is corrupt: {reason}")]
    CorruptArchive {
        /// The slice's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The archive lacks batches a restore needs.
    #[error(
        "the archive of lineage {lineage} has no batches {from} to {to}: \
         a restore cannot cross them (restore to a point before {from}, or from a later backup)"
    )]
    ArchiveGap {
        /// The lineage.
        lineage: String,
        /// The first missing batch.
        from: u64,
        /// The last missing batch.
        to: u64,
    },
    /// The archive ends before the restore's target.
    #[error(
        "the archive ends at batch {reached_seq} (committed {reached_time}), before the target \
         {target}: restore to that point or earlier, or with --latest"
    )]
    TargetBeyondArchive {
        /// The target, as asked.
        target: String,
        /// The last batch archived.
        reached_seq: u64,
        /// Its commit time, RFC 3339.
        reached_time: String,
    },
    /// The encryption key file cannot be used.
    #[error("backup.encryption_key_file {}: {reason}", path.display())]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An object cannot be sealed or opened.
    #[error("object {key} cannot be decrypted: {reason}")]
    Crypt {
        /// The object's name.
        key: String,
        /// Why.
        reason: String,
    },
    /// A manifest cannot be read.
    #[error("manifest {key}: {reason}")]
    BadManifest {
        /// The manifest's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// No complete backup matches what the restore asked for.
    #[error("no complete backup {wanted} in {store}")]
    NoBackup {
        /// What was asked for.
        wanted: String,
        /// The store URL.
        store: String,
    },
    /// The restore target holds data.
    #[error(
        "{} is not empty: restore into an empty or missing directory, or pass --replace",
        .0.display()
    )]
    TargetNotEmpty(PathBuf),
    /// The restored copy is not what the manifest describes.
    #[error("the restored copy does not match backup {id}: {reason}")]
    Mismatch {
        /// The backup.
        id: String,
        /// What differs.
        reason: String,
    },
    /// Another backup is running on this server.
    #[error("a backup is already running on this server")]
    Busy,
    /// The engine failed.
    #[error("engine: {0}")]
    Engine(#[from] shinydb_engine::Error),
}

impl BackupError {
    /// A one-word name of the failure (CamelCase), for machines: `shinydb-server restore
    /// --report` writes it, the operator shows it as a restore's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            BackupError::NotConfigured => "NotConfigured",
            BackupError::BadStore { .. } => "BadStore",
            BackupError::File { .. } => "FileError",
            BackupError::InvalidCredentials { .. } => "InvalidCredentials",
            BackupError::NotFound { .. } => "NotFound",
            BackupError::Unreachable { .. } => "StoreUnreachable",
            BackupError::Store { .. } => "StoreError",
            BackupError::Corrupt { .. } | BackupError::CorruptArchive { .. } => "ChecksumMismatch",
            BackupError::AlreadyExists { .. } => "AlreadyExists",
            BackupError::ArchiveGap { .. } => "ArchiveGap",
            BackupError::TargetBeyondArchive { .. } => "TargetBeyondArchive",
            BackupError::BadKey { .. } => "BadEncryptionKey",
            BackupError::Crypt { .. } => "DecryptionFailed",
            BackupError::BadManifest { .. } => "BadManifest",
            BackupError::NoBackup { .. } => "NoBackup",
            BackupError::TargetNotEmpty(_) => "TargetNotEmpty",
            BackupError::Mismatch { .. } => "VerificationFailed",
            BackupError::Busy => "Busy",
            BackupError::Engine(_) => "EngineError",
        }
    }

    /// Classifies an object-store error for `store` (the store's URL).
    pub(crate) fn from_store(store: &str, e: object_store::Error) -> BackupError {
        use object_store::Error as E;
        let store = store.to_string();
        match e {
            E::Unauthenticated { .. } | E::PermissionDenied { .. } => {
                BackupError::InvalidCredentials {
                    store,
                    detail: e.to_string(),
                }
            }
            E::NotFound { .. } => BackupError::NotFound {
                store,
                detail: e.to_string(),
            },
            E::AlreadyExists { path, .. } | E::Precondition { path, .. } => {
                BackupError::AlreadyExists { store, key: path }
            }
            other => {
                let detail = chain(&other);
                let lower = detail.to_lowercase();
                // object_store reports some refusals (a listing's 403, for one) as a generic
                // error carrying the HTTP status and the S3 error code.
                let refused = [
                    "403 forbidden",
                    "401 unauthorized",
                    "signaturedoesnotmatch",
                    "invalidaccesskeyid",
                    "accessdenied",
                ]
                .iter()
                .any(|w| lower.contains(w));
                if refused {
                    return BackupError::InvalidCredentials { store, detail };
                }
                if lower.contains("nosuchbucket") {
                    return BackupError::NotFound { store, detail };
                }
                let unreachable = ["error sending request", "connect", "dns error", "timed out"]
                    .iter()
                    .any(|w| lower.contains(w));
                if unreachable {
                    BackupError::Unreachable { store, detail }
                } else {
                    BackupError::Store { store, detail }
                }
            }
        }
    }
}

/// An error and its sources, one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

impl From<crate::staging::StagingError> for BackupError {
    fn from(e: crate::staging::StagingError) -> BackupError {
        BackupError::File {
            what: e.what,
            path: e.path,
            source: e.source,
        }
    }
}
