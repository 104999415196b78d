//! The server configuration file: the operator's fixed settings (paths, listeners, TLS files)
//! with the user's `spec.config` overrides merged in, checked by the server's own parser.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{GRPC_PORT, HTTP_PORT, Names, labels};
use crate::crd::{BackupSettings, ShinyDB, TlsMode};

/// Key of the configuration file in the ConfigMap.
pub const CONFIG_FILE: &str = "shinydb.yaml";
/// Where the ConfigMap is mounted.
pub const CONFIG_DIR: &str = "/etc/shinydb/config";
/// Where the server certificate Secret is mounted.
pub const TLS_DIR: &str = "/etc/shinydb/tls";
/// Where the admin password is mounted.
pub const ADMIN_DIR: &str = "/etc/shinydb/admin";
/// The data volume's mount point (the image's data directory).
pub const DATA_DIR: &str = "/data";
/// Where the store's access keys are mounted (`access-key-id`, `secret-access-key`).
pub const BACKUP_CREDENTIALS_DIR: &str = "/etc/shinydb/backup/credentials";
/// Where the store's CA certificates are mounted (`ca.crt`).
pub const BACKUP_CA_DIR: &str = "/etc/shinydb/backup/ca";
/// Where the backup encryption key is mounted (`key`).
pub const BACKUP_KEY_DIR: &str = "/etc/shinydb/backup/key";

/// Keys of the server configuration the operator sets itself; `spec.config` may not.
const OPERATOR_KEYS: &[&str] = &[
    "data_dir",
    "network.listen",
    "network.http_listen",
    "network.allow_insecure",
    "tls",
    "auth.admin_password_file",
    // `spec.backup` sets where backups go, how they are opened, archived and kept; the
    // tuning keys (chunk_size, parallelism, compression_level, archive.max_pending_bytes, …)
    // stay open to `spec.config`.
    "backup.store",
    "backup.endpoint",
    "backup.region",
    "backup.path_style",
    "backup.allow_http",
    "backup.ca_file",
    "backup.access_key_id_file",
    "backup.secret_access_key_file",
    "backup.encryption_key_file",
    "backup.archive.enabled",
    "backup.archive.timeout_seconds",
    "backup.retention.recovery_window_seconds",
    "backup.retention.min_backups",
];

/// A `spec.config` the operator refuses to roll out.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `spec.config` is not a mapping.
    #[error("spec.config must be an object of server configuration keys")]
    NotAnObject,
    /// The user set a key the operator manages.
    #[error("spec.config.{0} is set by the operator and cannot be overridden")]
    OperatorOwned(String),
    /// The user set a key `spec.backup` decides.
    #[error("spec.config.{0} comes from spec.backup: set it there")]
    BackupOwned(String),
    /// The server's parser refused the merged configuration.
    #[error("spec.config: {0}")]
    Server(String),
}

/// The server configuration of `db`, as the YAML file the pods read.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// The file's contents.
    pub yaml: String,
    /// `shutdown.grace_seconds` of the merged configuration.
    pub grace_seconds: u64,
}

/// Merges `spec.config` into the operator's settings and checks the result with the server's
/// configuration parser (unknown keys and bad values are refused, naming the key).
pub fn server_config_yaml(db: &ShinyDB) -> Result<ServerConfig, ConfigError> {
    let mut tree = json!({
        "data_dir": DATA_DIR,
        "network": {
            "listen": format!("0.0.0.0:{GRPC_PORT}"),
            "http_listen": format!("0.0.0.0:{HTTP_PORT}"),
        },
    });
    match db.spec.tls.mode {
        TlsMode::Disabled => tree["network"]["allow_insecure"] = json!(true),
        TlsMode::OperatorManaged | TlsMode::Provided => {
            tree["tls"] = json!({
                "cert": format!("{TLS_DIR}/tls.crt"),
                "key": format!("{TLS_DIR}/tls.key"),
            });
        }
    }
    tree["auth"] = json!({"admin_password_file": format!("{ADMIN_DIR}/password")});
    if let Some(backup) = &db.spec.backup {
        tree["backup"] = backup_section(backup);
    }
    if let Some(overrides) = &db.spec.config {
        let Value::Object(map) = overrides else {
            return Err(ConfigError::NotAnObject);
        };
        for key in OPERATOR_KEYS {
            if lookup(overrides, key).is_some() {
                let key = (*key).to_string();
                return Err(if key.starts_with("backup.") {
                    ConfigError::BackupOwned(key)
                } else {
                    ConfigError::OperatorOwned(key)
                });
            }
        }
        merge(&mut tree, &Value::Object(map.clone()));
    }
    let yaml_value =
        serde_yaml_ng::to_value(&tree).map_err(|e| ConfigError::Server(e.to_string()))?;
    let config: shinydb_server::config::Config = serde_path_to_error::deserialize(yaml_value)
        .map_err(|e| {
            let path = e.path().to_string();
            ConfigError::Server(format!("config key `{path}`: {}", e.into_inner()))
        })?;
    config
        .validate()
        .map_err(|e| ConfigError::Server(e.to_string()))?;
    let yaml = serde_yaml_ng::to_string(&tree).map_err(|e| ConfigError::Server(e.to_string()))?;
    Ok(ServerConfig {
        yaml,
        grace_seconds: config.shutdown.grace_seconds,
    })
}

/// The server's `backup:` section for `spec.backup`: the store as an `s3://` URL, its
/// options, and the mounted Secrets' files.
fn backup_section(backup: &BackupSettings) -> Value {
    let store = &backup.store;
    let prefix = store
        .prefix
        .as_deref()
        .unwrap_or_default()
        .trim_matches('/');
    let url = if prefix.is_empty() {
        format!("s3://{}", store.bucket)
    } else {
        format!("s3://{}/{prefix}", store.bucket)
    };
    let seconds = |d: kube::core::Duration| std::time::Duration::from(d).as_secs();
    let mut section = json!({
        "store": url,
        "region": store.region,
        "path_style": store.path_style,
        "archive": {
            "enabled": backup.wal_archive.enabled,
            "timeout_seconds": seconds(backup.wal_archive.archive_timeout).max(1),
        },
        "retention": {
            "recovery_window_seconds": backup.retention.recovery_window.map_or(0, seconds),
            "min_backups": backup.retention.min_backups,
        },
    });
    if let Some(endpoint) = &store.endpoint {
        section["endpoint"] = json!(endpoint);
        section["allow_http"] = json!(endpoint.starts_with("http://"));
    }
    if store.credentials.is_some() {
        section["access_key_id_file"] = json!(format!("{BACKUP_CREDENTIALS_DIR}/access-key-id"));
        section["secret_access_key_file"] =
            json!(format!("{BACKUP_CREDENTIALS_DIR}/secret-access-key"));
    }
    if store.ca_secret.is_some() {
        section["ca_file"] = json!(format!("{BACKUP_CA_DIR}/ca.crt"));
    }
    if backup.encryption.is_some() {
        section["encryption_key_file"] = json!(format!("{BACKUP_KEY_DIR}/key"));
    }
    section
}

/// The `backup:` section of `backup` as the server's `SHINYDB_BACKUP_*` variables (what a
/// restore Job passes instead of a configuration file), in key order.
pub fn backup_env(backup: &BackupSettings) -> Vec<(String, String)> {
    fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    flatten(&format!("{prefix}.{key}"), v, out);
                }
            }
            // JSON is YAML: the server parses each value as YAML, and a quoted string stays
            // a string (a bucket named `123` is not a number).
            // Unset: the server's default.
            Value::Null => {}
            scalar => out.push((shinydb_server::config::env_name(prefix), scalar.to_string())),
        }
    }
    let mut out = Vec::new();
    flatten("backup", &backup_section(backup), &mut out);
    out
}

/// The value at dotted `key`, if present.
fn lookup<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(value, |v, part| v.get(part))
}

/// Deep-merges `overrides` into `base`: objects merge key by key, anything else replaces.
fn merge(base: &mut Value, overrides: &Value) {
    match (base, overrides) {
        (Value::Object(base), Value::Object(overrides)) => {
            for (key, value) in overrides {
                merge(base.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (base, value) => *base = value.clone(),
    }
}

/// A short, stable hash of the configuration file, put on the pod template so that a change
/// rolls the pods (certificates are not part of it: the server reloads them).
pub fn config_hash(config: &ServerConfig) -> String {
    hex::encode(&Sha256::digest(config.yaml.as_bytes())[..16])
}

/// The ConfigMap holding the configuration file.
pub(super) fn config_map(
    names: &Names,
    owner: &OwnerReference,
    db: &ShinyDB,
    config: &ServerConfig,
) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(names.config_map()),
            namespace: Some(names.namespace.clone()),
            labels: Some(labels(db)),
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        data: Some([(CONFIG_FILE.to_string(), config.yaml.clone())].into()),
        ..ConfigMap::default()
    }
}
