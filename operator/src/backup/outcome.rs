//! What a failed request for a backup says about the backup: failed for a named reason,
//! refused because another one runs, or unknown (the connection broke: the server and the
//! bucket decide).

use shinydb_client::{Code, Error};

use crate::crd::BackupReason;

/// What a failed `Backups/Create` means for the ShinyBackup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The backup failed and never will complete.
    Failed(BackupReason, String),
    /// The server runs another backup: this one did not start.
    Busy(String),
    /// The answer was lost (connection broken, timed out): the backup may still run.
    Unknown(String),
}

/// Classifies the error `Backups/Create` ended with, by the server's status code and its
/// error text (`shinydb_server::backup::BackupError`'s messages).
pub fn of_create_error(e: &Error) -> Outcome {
    let text = e.to_string();
    let Error::Server { code, message, .. } = e else {
        return match e {
            Error::Timeout(_) | Error::CircuitOpen => Outcome::Unknown(text),
            _ => Outcome::Failed(BackupReason::ServerError, text),
        };
    };
    let store = store_reason(message);
    match code {
        Code::Aborted => Outcome::Busy(message.clone()),
        Code::DataLoss => Outcome::Failed(BackupReason::ChecksumMismatch, message.clone()),
        Code::Unavailable if store == Some(BackupReason::StoreUnreachable) => {
            Outcome::Failed(BackupReason::StoreUnreachable, message.clone())
        }
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => Outcome::Unknown(text),
        _ => Outcome::Failed(store.unwrap_or(BackupReason::ServerError), message.clone()),
    }
}

/// What the server's text of a store failure names (`BackupError`'s messages); `None`: not a
/// failure of the store.
pub fn store_reason(message: &str) -> Option<BackupReason> {
    if !message.starts_with("backup store ") {
        return None;
    }
    if message.contains(" refused the credentials") {
        Some(BackupReason::InvalidCredentials)
    } else if message.contains(": not found: ") {
        Some(BackupReason::BucketNotFound)
    } else if message.contains(" is unreachable: ") {
        Some(BackupReason::StoreUnreachable)
    } else {
        Some(BackupReason::ServerError)
    }
}
