//! The command line's arguments (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// ShinyDB's command line: queries, import and export, an interactive shell and management.
///
/// Exit codes: 0 success, 1 server or query error (message on stderr), 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "shinydb", version)]
pub struct Cli {
    /// How to reach and authenticate to the server.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Connection and credentials.
#[derive(Debug, Args, Clone)]
pub struct Connection {
    /// The server: `http://host:port` (plaintext) or `https://host:port` (TLS).
    #[arg(
        long,
        global = true,
        env = "SHINYDB_ENDPOINT",
        default_value = "http://127.0.0.1:23469"
    )]
    pub endpoint: String,
    /// PEM file of the CA that signed the server's certificate.
    #[arg(long, global = true, env = "SHINYDB_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// The TLS name to verify instead of the endpoint's host.
    #[arg(long, global = true, env = "SHINYDB_TLS_DOMAIN")]
    pub tls_domain: Option<String>,
    /// User name to log in as.
    #[arg(long, global = true, env = "SHINYDB_USER")]
    pub user: Option<String>,
    /// Read the login password from the first line of standard input (otherwise from
    /// SHINYDB_PASSWORD). Give it before the subcommand.
    #[arg(long)]
    pub password_stdin: bool,
    /// Authenticate with an API key instead of a user and password.
    #[arg(long, global = true, env = "SHINYDB_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Time limit per operation: `default` (30 s), `fast` (2 s) or `none`.
    #[arg(long, global = true, value_enum, default_value = "default")]
    pub timeouts: TimeoutPreset,
}

/// Timeout presets.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TimeoutPreset {
    /// Connect within 10 s, each operation within 30 s.
    Default,
    /// Connect within 1 s, each operation within 2 s.
    Fast,
    /// No limit per operation.
    None,
}

/// How query results are printed.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    /// One JSON value (the YQL result shapes).
    Json,
    /// A table for people.
    Table,
}

/// Input formats of `import`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// One JSON array of documents.
    Json,
    /// One JSON document per line.
    Ndjson,
}

/// Roles.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
#[value(rename_all = "snake_case")]
pub enum Role {
    /// Everything (globally: also spaces, users and server settings).
    Admin,
    /// Read and write documents.
    ReadWrite,
    /// Read documents and the catalog.
    ReadOnly,
    /// Only stream the replication log and take seeding snapshots (a follower's credential;
    /// global only).
    Replication,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs a YQL query and prints its result.
    Query {
        /// The query, such as `sales.orders.filter(total > 10).limit(5)`.
        yql: String,
        /// `json` (one JSON value) or `table`.
        #[arg(long, short, value_enum, default_value = "json")]
        output: Output,
    },
    /// Plans a query and prints how it runs.
    Explain {
        /// The query.
        yql: String,
    },
    /// Loads documents from a file into a store (created if missing).
    Import {
        /// The target, `space.store`.
        target: String,
        /// A JSON array or NDJSON file.
        file: PathBuf,
        /// The file's format (default: `json` for `.json` files, else `ndjson`).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Documents per atomic insert.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch: u32,
    },
    /// Writes every document of a store to standard output, one JSON document per line.
    Export {
        /// The source, `space.store`.
        source: String,
        /// The output format (only `ndjson`).
        #[arg(long, value_enum, default_value = "ndjson")]
        format: ExportFormat,
    },
    /// An interactive shell: YQL queries and dot-commands (`.help`).
    Shell,
    /// Spaces.
    #[command(subcommand)]
    Space(SpaceCmd),
    /// Stores.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Secondary indexes.
    #[command(subcommand)]
    Index(IndexCmd),
    /// Users and roles.
    #[command(subcommand)]
    User(UserCmd),
    /// API keys.
    #[command(subcommand)]
    Apikey(ApiKeyCmd),
    /// Backups to the server's object store (global admin).
    #[command(subcommand)]
    Backup(BackupCmd),
    /// Replication: the role, followers and their lag; role changes (global admin).
    #[command(subcommand)]
    Replica(ReplicaCmd),
    /// The server's version, uptime and (for admins) statistics.
    Status,
    /// Exits 0 once the server answers its health check.
    Ping {
        /// Keep trying for up to this many seconds.
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON document per line.
    Ndjson,
}

/// `space ...`.
#[derive(Debug, Subcommand)]
pub enum SpaceCmd {
    /// Creates a space.
    Create {
        /// Its name.
        name: String,
    },
    /// Drops a space.
    Drop {
        /// Its name.
        name: String,
        /// Also drop its stores.
        #[arg(long)]
        cascade: bool,
    },
    /// Lists spaces.
    List,
}

/// `store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Creates a store.
    Create {
        /// `space.store`.
        target: String,
    },
    /// Drops a store and its documents.
    Drop {
        /// `space.store`.
        target: String,
    },
    /// Lists the stores of a space.
    List {
        /// The space.
        space: String,
    },
}

/// `index ...`.
#[derive(Debug, Subcommand)]
pub enum IndexCmd {
    /// Creates and builds an index.
    Create {
        /// `space.store`.
        target: String,
        /// The index name.
        name: String,
        /// Dotted field paths, comma-separated, in key order.
        #[arg(long, value_delimiter = ',', required = true)]
        fields: Vec<String>,
        /// Refuse two documents with the same key.
        #[arg(long)]
        unique: bool,
    },
    /// Drops an index.
    Drop {
        /// `space.store`.
        target: String,
        /// The index name.
        name: String,
    },
    /// Lists the indexes of a store.
    List {
        /// `space.store`.
        target: String,
    },
}

/// `user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Creates a user; its password is read from standard input (after the login password
    /// when --password-stdin is given for both).
    Create {
        /// The user name.
        name: String,
        /// Its role.
        #[arg(long, value_enum)]
        role: Role,
        /// Grant the role in this space only.
        #[arg(long)]
        space: Option<String>,
        /// Read the new user's password from standard input (required).
        #[arg(long = "password-stdin", id = "new_password_stdin", required = true)]
        password_stdin: bool,
    },
    /// Drops a user, its sessions and API keys.
    Drop {
        /// The user name.
        name: String,
    },
    /// Lists users and their roles.
    List,
    /// Grants a role.
    Grant {
        /// The user name.
        name: String,
        /// The role.
        #[arg(long, value_enum)]
        role: Role,
        /// In this space only.
        #[arg(long)]
        space: Option<String>,
    },
    /// Revokes a role exactly as granted.
    Revoke {
        /// The user name.
        name: String,
        /// The role.
        #[arg(long, value_enum)]
        role: Role,
        /// The space it was granted in.
        #[arg(long)]
        space: Option<String>,
    },
    /// Sets a user's password (read from standard input).
    Passwd {
        /// The user name.
        name: String,
    },
}

/// `backup ...`.
#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Starts an online base backup now; returns once the server runs it (the server
    /// finishes it on its own), or with `--wait` when its manifest is written.
    Create {
        /// A label kept with the backup and listed (printable ASCII, no spaces).
        #[arg(long, default_value = "")]
        tag: String,
        /// Wait for the backup to complete (a progress bar on a terminal) and print it.
        #[arg(long)]
        wait: bool,
    },
    /// Lists the backups in the store, newest first.
    List,
    /// Downloads every chunk of a backup and checks its hashes.
    Verify {
        /// The backup's id.
        id: String,
        /// Also rebuild the data directory beside the server's and open it.
        #[arg(long)]
        deep: bool,
    },
    /// Deletes a backup (its manifest first, then its chunks).
    Delete {
        /// The backup's id.
        id: String,
    },
    /// Shows whether the log is archived, how far, and which moments a restore can reach.
    Status,
}

/// `replica ...`.
#[derive(Debug, Subcommand)]
pub enum ReplicaCmd {
    /// Shows the role, epoch, leader, and each follower's positions and lag.
    Status,
    /// Makes this follower the leader of a new epoch.
    Promote,
    /// Makes this leader read-only until it is told to follow.
    Demote,
    /// Makes this server follow the leader at ENDPOINT (https://host:port).
    Follow {
        /// The leader's endpoint.
        endpoint: String,
    },
}

/// `apikey ...`.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCmd {
    /// Creates an API key and prints its id and secret (shown only once).
    Create {
        /// The user it acts as (default: the caller).
        #[arg(long, default_value = "")]
        user: String,
        /// A note for people.
        #[arg(long, default_value = "")]
        description: String,
        /// Lifetime in seconds (default: the longest the server allows,
        /// `auth.max_api_key_lifetime_seconds`).
        #[arg(long)]
        expires_in: Option<u64>,
    },
    /// Revokes an API key.
    Revoke {
        /// The key's id.
        id: String,
    },
    /// Lists API keys (never their secrets).
    List {
        /// Whose keys (default: the caller's; `*`: everyone's).
        #[arg(long, default_value = "")]
        user: String,
    },
}
