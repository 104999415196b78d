//! Command-line flags. Each flag is also a configuration key and has its own environment
//! variable; flags override the file and the `SHINYDB_<KEY>` variables.

use std::path::PathBuf;

use clap::Parser;
use serde_yaml_ng::Value;

use crate::config::Overrides;

/// ShinyDB server: a document database over gRPC.
#[derive(Debug, Parser)]
#[command(name = "shinydb-server", version, about)]
pub struct Cli {
    /// YAML configuration file (see --print-default-config).
    #[arg(long, env = "SHINYDB_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Directory holding the database files [config: data_dir; default ./shinydb-data].
    #[arg(long, env = "SHINYDB_DATA_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// gRPC address [config: network.listen; default 127.0.0.1:23469].
    #[arg(long, env = "SHINYDB_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// HTTP address for /healthz, /readyz, /metrics [config: network.http_listen; default
    /// 127.0.0.1:23470].
    #[arg(long, env = "SHINYDB_HTTP_LISTEN", value_name = "ADDR")]
    pub http_listen: Option<String>,
    /// PEM certificate chain [config: tls.cert].
    #[arg(long, env = "SHINYDB_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key [config: tls.key].
    #[arg(long, env = "SHINYDB_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates; clients must present a certificate signed by one [config:
    /// tls.client_ca].
    #[arg(long, env = "SHINYDB_CLIENT_CA", value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// Allow plaintext gRPC on a non-loopback address [config: network.allow_insecure].
    #[arg(long, env = "SHINYDB_ALLOW_INSECURE")]
    pub allow_insecure: bool,
    /// File with the first admin password, read when the data directory is new [config:
    /// auth.admin_password_file]. SHINYDB_ADMIN_PASSWORD also works.
    #[arg(long, env = "SHINYDB_ADMIN_PASSWORD_FILE", value_name = "FILE")]
    pub admin_password_file: Option<PathBuf>,
    /// Log filter such as info or shinydb_server=debug,info [config: logging.level].
    #[arg(long, env = "SHINYDB_LOG_LEVEL", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Print the documented default configuration and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Something other than serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `shinydb-server` does instead of serving.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Restores a base backup, and the archived log after it up to a target, into --data-dir,
    /// then exits. The store and its options come from the same configuration (file,
    /// SHINYDB_BACKUP_* variables) as the server's.
    Restore(RestoreArgs),
}

/// `shinydb-server restore`: one target of `--backup`, `--target-time`, `--target-seq` and
/// `--latest`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).multiple(false)))]
pub struct RestoreArgs {
    /// The backup store (overrides backup.store): s3://bucket/prefix or file:///path.
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,
    /// Exactly this backup, without the archived log (see `shinydb backup list`).
    #[arg(long, value_name = "ID", group = "target")]
    pub backup: Option<String>,
    /// The state at this time (RFC 3339, such as 2026-12-01T10:15:00Z): every batch committed
    /// at or before it, from the newest backup before it and the archived log.
    #[arg(long, value_name = "RFC3339", group = "target", value_parser = parse_time)]
    pub target_time: Option<i64>,
    /// The state right after this batch (a sequence number).
    #[arg(long, value_name = "N", group = "target")]
    pub target_seq: Option<u64>,
    /// The newest backup and everything archived after it.
    #[arg(long, group = "target")]
    pub latest: bool,
    /// Only backups of this lineage (one instance's history; see `shinydb backup status`).
    #[arg(long, value_name = "ID")]
    pub lineage: Option<String>,
    /// Replace a data directory that holds data (moved aside, removed after the swap).
    #[arg(long)]
    pub replace: bool,
    /// Only check that the target can be restored: find its backup and walk the archive to
    /// it (slices downloaded and checked), writing nothing; `bytes` in the report is what a
    /// restore would write.
    #[arg(long, conflicts_with = "replace")]
    pub check: bool,
    /// Also write the outcome to this file as JSON: `{"ok": true, "id", "seq",
    /// "commitTimeMs", "replayed", "lineage", "bytes", "seconds"}` or `{"ok": false, "reason",
    /// "message"}` (a Kubernetes Job passes /dev/termination-log).
    #[arg(long, value_name = "FILE")]
    pub report: Option<std::path::PathBuf>,
    /// Chunks downloaded at once [default: backup.parallelism].
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
}

/// An RFC 3339 time, as ms since the epoch.
fn parse_time(text: &str) -> Result<i64, String> {
    bson::DateTime::parse_rfc3339_str(text)
        .map(bson::DateTime::timestamp_millis)
        .map_err(|e| format!("not an RFC 3339 time such as 2026-12-01T10:15:00Z: {e}"))
}

fn path(p: &std::path::Path) -> Value {
    Value::String(p.display().to_string())
}

impl Cli {
    /// The configuration keys the flags set.
    pub fn overrides(&self) -> Overrides {
        let mut o: Overrides = Vec::new();
        if let Some(v) = &self.data_dir {
            o.push(("data_dir", path(v)));
        }
        if let Some(v) = &self.listen {
            o.push(("network.listen", Value::String(v.clone())));
        }
        if let Some(v) = &self.http_listen {
            o.push(("network.http_listen", Value::String(v.clone())));
        }
        if let Some(v) = &self.tls_cert {
            o.push(("tls.cert", path(v)));
        }
        if let Some(v) = &self.tls_key {
            o.push(("tls.key", path(v)));
        }
        if let Some(v) = &self.client_ca {
            o.push(("tls.client_ca", path(v)));
        }
        if self.allow_insecure {
            o.push(("network.allow_insecure", Value::Bool(true)));
        }
        if let Some(v) = &self.admin_password_file {
            o.push(("auth.admin_password_file", path(v)));
        }
        if let Some(v) = &self.log_level {
            o.push(("logging.level", Value::String(v.clone())));
        }
        if let Some(Command::Restore(RestoreArgs { from: Some(v), .. })) = &self.command {
            o.push(("backup.store", Value::String(v.clone())));
        }
        o
    }
}
