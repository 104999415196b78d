//! The command line's errors and their exit codes.

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line was wrong (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The server or the connection failed (exit code 1).
    #[error("{0}")]
    Client(#[from] shinydb_client::Error),
    /// Reading or writing a local file or stream failed, or its content was bad (exit code 1).
    #[error("{0}")]
    Input(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Client(_) | CliError::Input(_) => 1,
        }
    }
}

/// The command line's result type.
pub type CliResult<T = ()> = Result<T, CliError>;
