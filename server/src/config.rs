//! The server's configuration: a YAML file whose every key has a default, overridden by
//! `SHINYDB_*` environment variables and by command-line flags.
//!
//! Precedence, lowest first: built-in defaults, the YAML file (`--config`), environment
//! variables named after a key's path (`storage.gc.enabled` → `SHINYDB_STORAGE_GC_ENABLED`),
//! then the flags (whose own variables, such as `SHINYDB_LISTEN`, count as flags). Unknown keys
//! and bad values are errors that name the key. `shinydb-server --print-default-config` prints
//! [`DEFAULT_CONFIG_YAML`], which documents every key.

mod bytesize;

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

pub use bytesize::ByteSize;

/// The documented default configuration, printed by `--print-default-config`.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("config/default.yaml");

/// The prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "SHINYDB_";

/// Everything wrong with a configuration, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML, or its top level is not a mapping.
    #[error("config file {path} is not valid YAML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the YAML parser said, with the position.
        message: String,
    },
    /// A key is unknown or its value has the wrong type or form.
    #[error("config key `{key}`: {message}")]
    Key {
        /// The dotted path of the key (or of its parent, for an unknown key).
        key: String,
        /// What was wrong.
        message: String,
    },
}

impl ConfigError {
    fn key(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Key {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory holding the database files.
    pub data_dir: PathBuf,
    /// Listeners, HTTP/2 and connection settings.
    pub network: NetworkConfig,
    /// TLS certificates.
    pub tls: TlsConfig,
    /// Authentication.
    pub auth: AuthConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// The storage engine.
    pub storage: StorageConfig,
    /// Graceful shutdown.
    pub shutdown: ShutdownConfig,
    /// Log output.
    pub logging: LoggingConfig,
    /// OpenTelemetry trace export.
    pub tracing: TracingConfig,
    /// Backups to object storage.
    pub backup: BackupConfig,
    /// Replication: this server's role, its leader, synchronous followers.
    pub replication: ReplicationConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./shinydb-data"),
            network: NetworkConfig::default(),
            tls: TlsConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            storage: StorageConfig::default(),
            shutdown: ShutdownConfig::default(),
            logging: LoggingConfig::default(),
            tracing: TracingConfig::default(),
            backup: BackupConfig::default(),
            replication: ReplicationConfig::default(),
        }
    }
}

/// Listeners, HTTP/2 and connection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// The gRPC listener.
    pub listen: SocketAddr,
    /// The HTTP listener for `/healthz`, `/readyz` and `/metrics`.
    pub http_listen: SocketAddr,
    /// Allow plaintext gRPC on a non-loopback address.
    pub allow_insecure: bool,
    /// Concurrent HTTP/2 streams one connection may open.
    pub max_concurrent_streams: u32,
    /// HTTP/2 flow-control window of one stream.
    pub stream_window_size: ByteSize,
    /// HTTP/2 flow-control window of one connection.
    pub connection_window_size: ByteSize,
    /// HTTP/2 ping interval on idle connections, in seconds (0: never).
    pub keepalive_interval_seconds: u64,
    /// Seconds to wait for a ping's answer before closing the connection.
    pub keepalive_timeout_seconds: u64,
    /// Seconds a client has to finish the TLS handshake.
    pub handshake_timeout_seconds: u64,
    /// Open client connections at most; more are refused.
    pub max_connections: u32,
    /// Open client connections from one IP address at most; more are refused.
    pub max_connections_per_ip: u32,
    /// Seconds a connection may go without a request in flight before it is closed (HTTP/2
    /// pings do not count).
    pub idle_timeout_seconds: u64,
    /// Seconds after which a connection is asked to go away (HTTP/2 GOAWAY; requests in flight
    /// get `keepalive_timeout_seconds` more to finish; 0: never).
    pub max_connection_age_seconds: u64,
    /// Open connections to the HTTP listener at most; more are closed at once.
    pub http_max_connections: u32,
    /// Seconds an HTTP connection may make no progress (read or write) before it is closed.
    pub http_idle_timeout_seconds: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 23469)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 23470)),
            allow_insecure: false,
            max_concurrent_streams: 1024,
            stream_window_size: ByteSize(2 << 20),
            connection_window_size: ByteSize(8 << 20),
            keepalive_interval_seconds: 30,
            keepalive_timeout_seconds: 10,
            handshake_timeout_seconds: 10,
            max_connections: 4096,
            max_connections_per_ip: 512,
            idle_timeout_seconds: 600,
            max_connection_age_seconds: 0,
            http_max_connections: 64,
            http_idle_timeout_seconds: 30,
        }
    }
}

/// TLS certificates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM file with the server's certificate chain (leaf first).
    pub cert: Option<PathBuf>,
    /// PEM file with the server's private key.
    pub key: Option<PathBuf>,
    /// PEM file with CA certificates; when set, clients must present a certificate it signed.
    pub client_ca: Option<PathBuf>,
}

/// Authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// File holding the first admin password (read only when the data directory is new).
    pub admin_password_file: Option<PathBuf>,
    /// Seconds a session lasts after login.
    pub session_lifetime_seconds: u64,
    /// Failed logins allowed per user at one client address, and per client address, within the
    /// window (never per user alone, so nobody can lock a user out everywhere).
    pub max_failed_logins: u32,
    /// The window, in seconds, over which failed logins are counted; a locked-out user or
    /// address may try again when it has passed.
    pub failed_login_window_seconds: u64,
    /// Shortest password accepted.
    pub min_password_length: u32,
    /// Longest lifetime of an API key, in seconds; keys asked for without one get it.
    pub max_api_key_lifetime_seconds: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            admin_password_file: None,
            session_lifetime_seconds: 3600,
            max_failed_logins: 5,
            failed_login_window_seconds: 60,
            min_password_length: 8,
            max_api_key_lifetime_seconds: 365 * 24 * 3600,
        }
    }
}

/// Request limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest gRPC message accepted or sent.
    pub max_message_size: ByteSize,
    /// Documents in one page of a scan or one chunk of a query result, at most.
    pub max_page_documents: u32,
    /// Documents one find may return, at most: a find asking for more (or without a `limit`)
    /// that matches more is refused, so no query holds an unbounded result in memory.
    pub max_result_documents: u32,
    /// Groups one grouped query may make, at most; past it the query is refused.
    pub max_result_groups: u32,
    /// Writes in one atomic batch or insert, at most.
    pub max_batch_writes: u32,
    /// Deadline of a request whose client sets none, in milliseconds.
    pub default_deadline_ms: u64,
    /// Longest deadline honoured, in milliseconds; longer ones are cut to this.
    pub max_deadline_ms: u64,
    /// Requests one pipelined stream may have in flight; the stream stops reading past it.
    pub max_in_flight_per_stream: u32,
    /// Scans and queries running at once, at most; more wait up to `read_queue_ms` for a slot,
    /// then are refused (RESOURCE_EXHAUSTED), so reads cannot take every thread and memory.
    pub max_concurrent_reads: u32,
    /// How long a read waits for a slot, in milliseconds.
    pub read_queue_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_message_size: ByteSize(32 << 20),
            max_page_documents: 1000,
            max_result_documents: 10_000,
            max_result_groups: 100_000,
            max_batch_writes: 10_000,
            default_deadline_ms: 30_000,
            max_deadline_ms: 300_000,
            max_in_flight_per_stream: 1024,
            max_concurrent_reads: 64,
            read_queue_ms: 1000,
        }
    }
}

/// When an acknowledged write reaches stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fdatasync before acknowledging (concurrent writers share one sync: group commit).
    Sync,
    /// Acknowledge once the OS has the write; sync every `sync_interval_ms`.
    Interval,
    /// Acknowledge once the OS has the write; sync only at checkpoints.
    None,
}

/// The storage engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sync`, `interval` or `none`.
    pub durability: Durability,
    /// Sync interval with `durability: interval`, in milliseconds.
    pub sync_interval_ms: u64,
    /// Writes held in one memtable before it is flushed.
    pub memtable_size: ByteSize,
    /// Memtables waiting for their flush before writers are held back.
    pub max_frozen_memtables: u32,
    /// B+tree page cache.
    pub cache_size: ByteSize,
    /// Documents larger than this go to the value log.
    pub value_log_threshold: ByteSize,
    /// Bodies larger than this are compressed with zstd.
    pub compression_threshold: ByteSize,
    /// zstd level, 1 (fast) to 19 (small).
    pub compression_level: i32,
    /// WAL segment size.
    pub wal_segment_size: ByteSize,
    /// Value-log segment size.
    pub vlog_segment_size: ByteSize,
    /// The most one atomic batch may write (every write path: Insert, Batch, the pipelined
    /// stream and YQL writes over many documents); at most 1 GiB.
    pub max_batch_size: ByteSize,
    /// Value-log garbage collection.
    pub gc: GcConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            durability: Durability::Sync,
            sync_interval_ms: 100,
            memtable_size: ByteSize(64 << 20),
            max_frozen_memtables: 2,
            cache_size: ByteSize(256 << 20),
            value_log_threshold: ByteSize(2 << 10),
            compression_threshold: ByteSize(4 << 10),
            compression_level: 3,
            wal_segment_size: ByteSize(64 << 20),
            vlog_segment_size: ByteSize(256 << 20),
            max_batch_size: ByteSize(256 << 20),
            gc: GcConfig::default(),
        }
    }
}

/// Value-log garbage collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcConfig {
    /// Run GC in the background.
    pub enabled: bool,
    /// Seconds between background GC passes.
    pub interval_seconds: u64,
    /// A segment is rewritten once this fraction of it is garbage (0 < ratio <= 1).
    pub dead_ratio: f64,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            enabled: true,
            interval_seconds: 30,
            dead_ratio: 0.5,
        }
    }
}

/// Backups to object storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Where backups go: `s3://bucket/prefix` or `file:///absolute/path`; `None`: off.
    pub store: Option<String>,
    /// The S3 endpoint URL, for S3-compatible servers; `None`: AWS.
    pub endpoint: Option<String>,
    /// The S3 region.
    pub region: String,
    /// Path-style S3 requests (`endpoint/bucket/key`), as most S3-compatible servers need.
    pub path_style: bool,
    /// Allow plain HTTP to the endpoint.
    pub allow_http: bool,
    /// PEM certificates to trust for the endpoint (a private CA).
    pub ca_file: Option<PathBuf>,
    /// File holding the access key id (a mounted Secret); re-read by every backup and
    /// restore. `None`: `AWS_ACCESS_KEY_ID` and the other usual AWS variables.
    pub access_key_id_file: Option<PathBuf>,
    /// File holding the secret access key; re-read like `access_key_id_file`.
    pub secret_access_key_file: Option<PathBuf>,
    /// Raw bytes per uploaded chunk (each one zstd frame).
    pub chunk_size: ByteSize,
    /// Chunks uploaded or downloaded at once.
    pub parallelism: u32,
    /// zstd level of the chunks, 1 to 19.
    pub compression_level: i32,
    /// Stored bytes per second a base backup uploads, at most; `None`: unlimited.
    pub max_upload_rate: Option<ByteSize>,
    /// A file holding a 256-bit key (64 hexadecimal digits): every chunk and archived log
    /// slice is encrypted with AES-256-GCM before it leaves the server; re-read by every
    /// operation. `None`: stored as compressed plaintext.
    pub encryption_key_file: Option<PathBuf>,
    /// Which backups are deleted after each new one.
    pub retention: RetentionConfig,
    /// Continuous archiving of the write-ahead log, for point-in-time recovery.
    pub archive: ArchiveConfig,
}

/// A server's part in replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationRole {
    /// No replication (followers cannot connect).
    Standalone,
    /// Takes writes and serves its log to followers.
    Leader,
    /// Read-only; applies the log of `replication.leader`.
    Follower,
}

/// What a leader does when fewer than `sync_replicas` followers are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncDurability {
    /// Writes wait (and fail at their deadline) until enough followers acknowledge them.
    Required,
    /// Writes go on asynchronously, and status and metrics say so.
    Preferred,
}

/// Replication: followers stream the leader's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationConfig {
    /// This server's role at start (`Replication.Promote`, `Demote` and `Follow` change it).
    pub role: ReplicationRole,
    /// A follower's leader: its gRPC endpoint, `https://host:port`.
    pub leader: Option<String>,
    /// The name a leader lists this follower by; `None`: the host name.
    pub name: Option<String>,
    /// A file holding the credential a follower presents to its leader: the replica set's
    /// peer key (then also accepted from peers, as the `replication` role), or the API key of
    /// a user with the `replication` role; re-read at every connection.
    pub credential_file: Option<PathBuf>,
    /// PEM certificates a follower trusts for its leader; `None`: `tls.client_ca`, else the
    /// system's roots.
    pub ca_file: Option<PathBuf>,
    /// The name the leader's certificate must hold; `None`: the endpoint's host.
    pub tls_domain: Option<String>,
    /// Followers that must have a write durably before its client is told (0: asynchronous).
    pub sync_replicas: u32,
    /// With fewer than `sync_replicas` followers connected: wait (`required`) or go on
    /// asynchronously (`preferred`).
    pub sync_durability: SyncDurability,
    /// The most log a leader keeps for followers that are behind or gone; past it they must
    /// seed again.
    pub max_retained_bytes: ByteSize,
    /// The newest log kept in memory to serve followers near the tail without reading files.
    pub tail_bytes: ByteSize,
    /// How often a leader tells an idle follower it is there, in milliseconds.
    pub heartbeat_ms: u64,
    /// A follower reconnects after this long without a message from its leader, in
    /// milliseconds.
    pub leader_timeout_ms: u64,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            role: ReplicationRole::Standalone,
            leader: None,
            name: None,
            credential_file: None,
            ca_file: None,
            tls_domain: None,
            sync_replicas: 0,
            sync_durability: SyncDurability::Required,
            max_retained_bytes: ByteSize(4 << 30),
            tail_bytes: ByteSize(64 << 20),
            heartbeat_ms: 1000,
            leader_timeout_ms: 5000,
        }
    }
}

/// Continuous archiving of the write-ahead log to the backup store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveConfig {
    /// Archive the log whenever `backup.store` is set.
    pub enabled: bool,
    /// The longest a committed batch waits before it is archived: the most a lost disk can
    /// cost, with a base backup and the archive.
    pub timeout_seconds: u64,
    /// The most log kept locally for the archive while the store cannot take it. Past it the
    /// server lets the log go, records the gap (status, metrics, log) and keeps serving.
    pub max_pending_bytes: ByteSize,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            enabled: true,
            timeout_seconds: 60,
            max_pending_bytes: ByteSize(1 << 30),
        }
    }
}

/// Which backups are deleted after each new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Complete backups that ended longer ago than this are deleted (0: keep every backup).
    pub recovery_window_seconds: u64,
    /// The newest this many complete backups always stay, whatever their age.
    pub min_backups: u32,
    /// A backup without a manifest whose newest object is older than this was interrupted and
    /// is deleted.
    pub sweep_incomplete_after_seconds: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            recovery_window_seconds: 0,
            min_backups: 2,
            sweep_incomplete_after_seconds: 86_400,
        }
    }
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            store: None,
            endpoint: None,
            region: "us-east-1".into(),
            path_style: false,
            allow_http: false,
            ca_file: None,
            access_key_id_file: None,
            secret_access_key_file: None,
            chunk_size: ByteSize(16 << 20),
            parallelism: 4,
            compression_level: 3,
            max_upload_rate: None,
            encryption_key_file: None,
            retention: RetentionConfig::default(),
            archive: ArchiveConfig::default(),
        }
    }
}

/// Graceful shutdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Seconds in-flight requests get to finish after SIGTERM before connections are closed.
    pub grace_seconds: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig { grace_seconds: 10 }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// A `tracing` filter: `info`, `debug`, `shinydb_server=debug,info`, ...
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// OpenTelemetry trace export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingConfig {
    /// OTLP/gRPC collector endpoint, such as `http://127.0.0.1:4317`; unset: no export.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// Fraction of traces sampled, 0 to 1.
    pub sample_ratio: f64,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            otlp_endpoint: None,
            service_name: "shinydb-server".into(),
            sample_ratio: 1.0,
        }
    }
}

/// Values set by command-line flags, as (dotted key, YAML value).
pub type Overrides = Vec<(&'static str, Value)>;

impl Config {
    /// Loads the configuration: defaults, then `file`, then `SHINYDB_*` variables from `env`,
    /// then `flags`. The result is validated.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: Overrides,
    ) -> Result<Config, ConfigError> {
        let mut tree = match file {
            Some(path) => read_file(path)?,
            None => Value::Mapping(Mapping::new()),
        };
        let keys = known_keys();
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        env.sort();
        // Where each overridden key came from, for error messages.
        let mut origins: Vec<(String, String)> = Vec::new();
        for (name, raw) in env {
            if let Some(key) = keys.iter().find(|k| env_name(k) == name) {
                let value = parse_scalar(&raw)
                    .map_err(|m| ConfigError::key(key.clone(), format!("from {name}: {m}")))?;
                set_path(&mut tree, key, value)?;
                origins.retain(|(k, _)| k != key);
                origins.push((key.clone(), name));
            }
        }
        for (key, value) in flags {
            set_path(&mut tree, key, value)?;
            origins.retain(|(k, _)| k != key);
            origins.push((key.to_string(), "a command-line flag".into()));
        }
        let config: Config = serde_path_to_error::deserialize(tree).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." { String::new() } else { path };
            let mut message = e.into_inner().to_string();
            if let Some((_, origin)) = origins.iter().find(|(k, _)| *k == key) {
                message.push_str(&format!(" (set by {origin})"));
            }
            ConfigError::key(key, message)
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |key: &str, v: u64| {
            if v == 0 {
                Err(ConfigError::key(key, "must be greater than 0"))
            } else {
                Ok(())
            }
        };
        match (&self.tls.cert, &self.tls.key) {
            (Some(_), None) => return Err(ConfigError::key("tls.key", "tls.cert needs a key")),
            (None, Some(_)) => {
                return Err(ConfigError::key("tls.cert", "tls.key needs a certificate"));
            }
            _ => {}
        }
        if self.tls.client_ca.is_some() && self.tls.cert.is_none() {
            return Err(ConfigError::key(
                "tls.client_ca",
                "client certificates need TLS: set tls.cert and tls.key",
            ));
        }
        if self.tls.cert.is_none()
            && !self.network.listen.ip().is_loopback()
            && !self.network.allow_insecure
        {
            return Err(ConfigError::key(
                "network.listen",
                format!(
                    "{} is not a loopback address: serving plaintext there needs TLS \
                     (tls.cert, tls.key) or network.allow_insecure (--allow-insecure)",
                    self.network.listen
                ),
            ));
        }
        if let Some(store) = &self.backup.store
            && !(store.starts_with("s3://") || store.starts_with("file:///"))
        {
            return Err(ConfigError::key(
                "backup.store",
                format!("{store:?} is neither s3://bucket/prefix nor file:///absolute/path"),
            ));
        }
        if self.backup.access_key_id_file.is_some() != self.backup.secret_access_key_file.is_some()
        {
            return Err(ConfigError::key(
                "backup.access_key_id_file",
                "access_key_id_file and secret_access_key_file go together",
            ));
        }
        if !(1..=19).contains(&self.backup.compression_level) {
            return Err(ConfigError::key(
                "backup.compression_level",
                "must be between 1 and 19",
            ));
        }
        if !(1 << 20..=1 << 30).contains(&self.backup.chunk_size.0) {
            return Err(ConfigError::key(
                "backup.chunk_size",
                "must be between 1MiB and 1GiB",
            ));
        }
        positive("backup.parallelism", self.backup.parallelism.into())?;
        if let Some(rate) = self.backup.max_upload_rate
            && !(64 << 10..=u64::from(u32::MAX)).contains(&rate.0)
        {
            return Err(ConfigError::key(
                "backup.max_upload_rate",
                "must be between 64KiB and 4GiB (per second), or null for no limit",
            ));
        }
        let r = &self.replication;
        if r.role == ReplicationRole::Follower && r.leader.is_none() {
            return Err(ConfigError::key(
                "replication.leader",
                "a follower needs its leader's endpoint (https://host:port)",
            ));
        }
        if let Some(l) = &r.leader
            && !(l.starts_with("https://") || l.starts_with("http://"))
        {
            return Err(ConfigError::key(
                "replication.leader",
                format!("{l:?} is not an endpoint such as https://host:port"),
            ));
        }
        positive("replication.heartbeat_ms", r.heartbeat_ms)?;
        if r.leader_timeout_ms <= r.heartbeat_ms {
            return Err(ConfigError::key(
                "replication.leader_timeout_ms",
                "must be longer than replication.heartbeat_ms",
            ));
        }
        positive(
            "limits.max_concurrent_reads",
            self.limits.max_concurrent_reads.into(),
        )?;
        positive(
            "backup.archive.timeout_seconds",
            self.backup.archive.timeout_seconds,
        )?;
        if self.backup.archive.max_pending_bytes.0 < 1 << 20 {
            return Err(ConfigError::key(
                "backup.archive.max_pending_bytes",
                "must be at least 1MiB",
            ));
        }
        positive(
            "network.max_concurrent_streams",
            self.network.max_concurrent_streams.into(),
        )?;
        positive(
            "network.max_connections",
            self.network.max_connections.into(),
        )?;
        positive(
            "network.max_connections_per_ip",
            self.network.max_connections_per_ip.into(),
        )?;
        positive(
            "network.idle_timeout_seconds",
            self.network.idle_timeout_seconds,
        )?;
        positive(
            "network.http_max_connections",
            self.network.http_max_connections.into(),
        )?;
        positive(
            "network.http_idle_timeout_seconds",
            self.network.http_idle_timeout_seconds,
        )?;
        for (key, v, min) in [
            (
                "network.stream_window_size",
                self.network.stream_window_size,
                65_535,
            ),
            (
                "network.connection_window_size",
                self.network.connection_window_size,
                65_535,
            ),
        ] {
            if v.0 < min || v.0 > (1 << 31) - 1 {
                return Err(ConfigError::key(
                    key,
                    "must be between 64KiB - 1 and 2GiB - 1 (HTTP/2 window limits)",
                ));
            }
        }
        positive(
            "network.handshake_timeout_seconds",
            self.network.handshake_timeout_seconds,
        )?;
        positive(
            "auth.session_lifetime_seconds",
            self.auth.session_lifetime_seconds,
        )?;
        positive("auth.max_failed_logins", self.auth.max_failed_logins.into())?;
        positive(
            "auth.max_api_key_lifetime_seconds",
            self.auth.max_api_key_lifetime_seconds,
        )?;
        positive(
            "auth.failed_login_window_seconds",
            self.auth.failed_login_window_seconds,
        )?;
        if self.limits.max_message_size.0 < 4096 || self.limits.max_message_size.0 > (1 << 30) {
            return Err(ConfigError::key(
                "limits.max_message_size",
                "must be between 4KiB and 1GiB",
            ));
        }
        positive(
            "limits.max_page_documents",
            self.limits.max_page_documents.into(),
        )?;
        positive(
            "limits.max_result_documents",
            self.limits.max_result_documents.into(),
        )?;
        positive(
            "limits.max_result_groups",
            self.limits.max_result_groups.into(),
        )?;
        positive(
            "limits.max_batch_writes",
            self.limits.max_batch_writes.into(),
        )?;
        positive(
            "limits.default_deadline_ms",
            self.limits.default_deadline_ms,
        )?;
        if self.limits.max_deadline_ms < self.limits.default_deadline_ms {
            return Err(ConfigError::key(
                "limits.max_deadline_ms",
                "must be at least limits.default_deadline_ms",
            ));
        }
        positive(
            "limits.max_in_flight_per_stream",
            self.limits.max_in_flight_per_stream.into(),
        )?;
        if self.storage.durability == Durability::Interval {
            positive("storage.sync_interval_ms", self.storage.sync_interval_ms)?;
        }
        positive("storage.memtable_size", self.storage.memtable_size.0)?;
        positive(
            "storage.max_frozen_memtables",
            self.storage.max_frozen_memtables.into(),
        )?;
        positive("storage.cache_size", self.storage.cache_size.0)?;
        if !(1..=19).contains(&self.storage.compression_level) {
            return Err(ConfigError::key(
                "storage.compression_level",
                "must be between 1 and 19",
            ));
        }
        positive("storage.wal_segment_size", self.storage.wal_segment_size.0)?;
        positive("storage.max_batch_size", self.storage.max_batch_size.0)?;
        if self.storage.max_batch_size.0 > 1 << 30 {
            return Err(ConfigError::key(
                "storage.max_batch_size",
                "must be at most 1GiB (the log's record limit)",
            ));
        }
        positive(
            "storage.vlog_segment_size",
            self.storage.vlog_segment_size.0,
        )?;
        if self.storage.gc.enabled {
            positive(
                "storage.gc.interval_seconds",
                self.storage.gc.interval_seconds,
            )?;
        }
        if !(self.storage.gc.dead_ratio > 0.0 && self.storage.gc.dead_ratio <= 1.0) {
            return Err(ConfigError::key(
                "storage.gc.dead_ratio",
                "must be greater than 0 and at most 1",
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.logging.level) {
            return Err(ConfigError::key(
                "logging.level",
                format!("{:?} is not a log filter: {e}", self.logging.level),
            ));
        }
        if let Some(ep) = &self.tracing.otlp_endpoint
            && ep.parse::<http::Uri>().is_err()
        {
            return Err(ConfigError::key(
                "tracing.otlp_endpoint",
                format!("{ep:?} is not a URL such as http://127.0.0.1:4317"),
            ));
        }
        if !(0.0..=1.0).contains(&self.tracing.sample_ratio) {
            return Err(ConfigError::key(
                "tracing.sample_ratio",
                "must be between 0 and 1",
            ));
        }
        Ok(())
    }

    /// The engine options this configuration asks for.
    pub fn engine_options(&self) -> shinydb_engine::Options {
        let s = &self.storage;
        shinydb_engine::Options {
            sync: match s.durability {
                Durability::Sync => shinydb_engine::SyncMode::Sync,
                Durability::Interval => {
                    shinydb_engine::SyncMode::Interval(Duration::from_millis(s.sync_interval_ms))
                }
                Durability::None => shinydb_engine::SyncMode::None,
            },
            memtable_bytes: usize::try_from(s.memtable_size.0).unwrap_or(usize::MAX),
            max_frozen_memtables: s.max_frozen_memtables as usize,
            cache_bytes: s.cache_size.0,
            value_log_threshold: usize::try_from(s.value_log_threshold.0).unwrap_or(usize::MAX),
            compression_threshold: usize::try_from(s.compression_threshold.0).unwrap_or(usize::MAX),
            compression_level: s.compression_level,
            wal_segment_bytes: s.wal_segment_size.0,
            vlog_segment_bytes: s.vlog_segment_size.0,
            max_batch_bytes: usize::try_from(s.max_batch_size.0).unwrap_or(usize::MAX),
            gc_interval: s
                .gc
                .enabled
                .then(|| Duration::from_secs(s.gc.interval_seconds)),
            gc_dead_ratio: s.gc.dead_ratio,
            // A follower's catalog is its leader's.
            drop_unfinished_indexes: self.replication.role != ReplicationRole::Follower,
            // The archiver and a leader's followers must see every batch, also those a
            // checkpoint before a restart covered: they say how much to keep once they know.
            retain_log: (self.backup.store.is_some() && self.backup.archive.enabled)
                || self.replication.role == ReplicationRole::Leader,
            read_only: self.replication.role == ReplicationRole::Follower,
            max_query_groups: self.limits.max_result_groups as usize,
        }
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_yaml_ng::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

fn read_file(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Value = serde_yaml_ng::from_str(&text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    match value {
        Value::Null => Ok(Value::Mapping(Mapping::new())),
        Value::Mapping(_) => Ok(value),
        _ => Err(ConfigError::Syntax {
            path: path.to_path_buf(),
            message: "the top level must be a mapping of keys".into(),
        }),
    }
}

/// Every leaf key of the configuration, as dotted paths.
pub fn known_keys() -> Vec<String> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Mapping(m) => {
                for (k, v) in m {
                    if let Some(k) = k.as_str() {
                        let path = if prefix.is_empty() {
                            k.to_string()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&path, v, out);
                    }
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_yaml_ng::to_value(Config::default()) {
        walk("", &v, &mut out);
    }
    out
}

/// The environment variable that overrides a dotted key.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

fn parse_scalar(raw: &str) -> Result<Value, String> {
    serde_yaml_ng::from_str(raw).map_err(|e| e.to_string())
}

fn set_path(tree: &mut Value, key: &str, value: Value) -> Result<(), ConfigError> {
    let mut node = tree;
    let parts: Vec<&str> = key.split('.').collect();
    let Some((last, parents)) = parts.split_last() else {
        return Ok(());
    };
    for (i, p) in parents.iter().enumerate() {
        let here = parts[..=i].join(".");
        let map = match node {
            Value::Mapping(m) => m,
            Value::Null => {
                *node = Value::Mapping(Mapping::new());
                match node {
                    Value::Mapping(m) => m,
                    _ => return Err(ConfigError::key(here, "expected a mapping")),
                }
            }
            _ => return Err(ConfigError::key(here, "expected a mapping")),
        };
        node = map
            .entry(Value::String((*p).to_string()))
            .or_insert(Value::Mapping(Mapping::new()));
    }
    match node {
        Value::Mapping(m) => {
            m.insert(Value::String((*last).to_string()), value);
            Ok(())
        }
        _ => Err(ConfigError::key(
            parents.join("."),
            "expected a mapping of keys",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, yaml).expect("write");
        Config::load(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            Vec::new(),
        )
    }

    #[test]
    fn the_documented_default_file_is_the_default() {
        let parsed: Config = serde_yaml_ng::from_str(DEFAULT_CONFIG_YAML).expect("parses");
        assert_eq!(parsed, Config::default());
        parsed.validate().expect("valid");
    }

    #[test]
    fn every_key_is_in_the_documented_default_file_with_a_comment() {
        let doc: Value = serde_yaml_ng::from_str(DEFAULT_CONFIG_YAML).expect("parses");
        let lines: Vec<&str> = DEFAULT_CONFIG_YAML.lines().collect();
        for key in known_keys() {
            let mut node = &doc;
            for p in key.split('.') {
                node = node
                    .get(p)
                    .unwrap_or_else(|| panic!("{key} missing from default.yaml"));
            }
            let leaf = key.rsplit('.').next().expect("leaf");
            let at = lines
                .iter()
                .position(|l| l.trim_start().starts_with(&format!("{leaf}:")))
                .unwrap_or_else(|| panic!("{key} has no line"));
            assert!(
                at > 0 && lines[at - 1].trim_start().starts_with('#'),
                "{key} has no comment above it"
            );
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = load("network:\n  listne: 127.0.0.1:1\n", &[]).expect_err("must fail");
        let s = e.to_string();
        assert!(s.contains("`network.listne`"), "{s}");
        let e = load("bogus: 1\n", &[]).expect_err("must fail");
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = load("storage:\n  durability: sometimes\n", &[]).expect_err("must fail");
        assert!(e.to_string().contains("storage.durability"), "{e}");
        let e = load("storage:\n  cache_size: lots\n", &[]).expect_err("must fail");
        assert!(e.to_string().contains("storage.cache_size"), "{e}");
        let e = load("storage:\n  compression_level: 40\n", &[]).expect_err("must fail");
        assert!(e.to_string().contains("storage.compression_level"), "{e}");
        let e = load("network:\n  listen: nowhere\n", &[]).expect_err("must fail");
        assert!(e.to_string().contains("network.listen"), "{e}");
        for (yaml, key) in [
            ("backup:\n  store: ftp://x\n", "backup.store"),
            ("backup:\n  store: file://relative\n", "backup.store"),
            (
                "backup:\n  access_key_id_file: /k\n",
                "backup.access_key_id_file",
            ),
            ("backup:\n  chunk_size: 1KiB\n", "backup.chunk_size"),
            ("backup:\n  parallelism: 0\n", "backup.parallelism"),
            (
                "backup:\n  max_upload_rate: 1KiB\n",
                "backup.max_upload_rate",
            ),
            (
                "backup:\n  max_upload_rate: 8GiB\n",
                "backup.max_upload_rate",
            ),
            (
                "backup:\n  archive:\n    timeout_seconds: 0\n",
                "backup.archive.timeout_seconds",
            ),
            (
                "backup:\n  archive:\n    max_pending_bytes: 1KiB\n",
                "backup.archive.max_pending_bytes",
            ),
        ] {
            let e = load(yaml, &[]).expect_err(yaml);
            assert!(e.to_string().contains(key), "{yaml}: {e}");
        }
        let c = load("", &[("SHINYDB_BACKUP_STORE", "s3://b/p")])
            .expect("a store from the environment");
        assert_eq!(c.backup.store.as_deref(), Some("s3://b/p"));
    }

    #[test]
    fn env_overrides_file_and_flags_override_env() {
        let c = load(
            "storage:\n  cache_size: 1MiB\n  gc:\n    enabled: true\n",
            &[
                ("SHINYDB_STORAGE_CACHE_SIZE", "2MiB"),
                ("SHINYDB_STORAGE_GC_ENABLED", "false"),
                ("SHINYDB_ENDPOINT", "ignored: a client variable"),
            ],
        )
        .expect("loads");
        assert_eq!(c.storage.cache_size, ByteSize(2 << 20));
        assert!(!c.storage.gc.enabled);
        let c = Config::load(
            None,
            [("SHINYDB_DATA_DIR".to_string(), "/a".to_string())],
            vec![("data_dir", Value::String("/b".into()))],
        )
        .expect("loads");
        assert_eq!(c.data_dir, PathBuf::from("/b"));
        let e = load("", &[("SHINYDB_LIMITS_MAX_PAGE_DOCUMENTS", "many")]).expect_err("must fail");
        assert!(e.to_string().contains("limits.max_page_documents"), "{e}");
    }

    #[test]
    fn plaintext_off_loopback_needs_allow_insecure() {
        let e = load("network:\n  listen: 0.0.0.0:23469\n", &[]).expect_err("must fail");
        assert!(e.to_string().contains("allow_insecure"), "{e}");
        load(
            "network:\n  listen: 0.0.0.0:23469\n  allow_insecure: true\n",
            &[],
        )
        .expect("allowed");
    }
}
