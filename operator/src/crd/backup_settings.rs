//! `ShinyDB.spec.backup`: where an instance's backups go, whether its log is archived for
//! point-in-time recovery, how long backups are kept and whether they are encrypted.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::store::{ObjectStore, SecretKeySelector};

/// Backups of one instance. The server takes them (`ShinyBackup` asks for one) and archives
/// its log continuously; the operator renders this into the server's `backup:` configuration
/// and mounts the Secrets it names.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.retention.recoveryWindow) || self.walArchive.enabled").message("spec.backup.retention.recoveryWindow needs spec.backup.walArchive.enabled: a moment inside the window is reached by replaying the archived log").field_path(".retention.recoveryWindow")
)]
pub struct BackupSettings {
    /// The bucket.
    pub store: ObjectStore,
    /// Continuous archiving of the write-ahead log.
    #[serde(default)]
    pub wal_archive: WalArchive,
    /// Which backups are kept.
    #[serde(default)]
    pub retention: Retention,
    /// Client-side encryption of every chunk and archived log slice (AES-256-GCM): the
    /// bucket's owner never sees the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// Continuous archiving of the write-ahead log to the store.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WalArchive {
    /// Archive the log (with a base backup, any moment since can be restored).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The longest a committed write waits before it is archived: the most a lost volume
    /// costs (Go duration, such as `60s`).
    #[serde(default = "default_archive_timeout")]
    #[schemars(with = "String", length(max = 32))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1s')").message("spec.backup.walArchive.archiveTimeout must be at least 1s"))]
    pub archive_timeout: kube::core::Duration,
}

fn yes() -> bool {
    true
}

fn default_archive_timeout() -> kube::core::Duration {
    std::time::Duration::from_secs(60).into()
}

impl Default for WalArchive {
    fn default() -> Self {
        WalArchive {
            enabled: true,
            archive_timeout: default_archive_timeout(),
        }
    }
}

/// Which backups are kept: after each backup, those older than the window go, never the
/// newest `minBackups`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// How far back a restore must be able to go (Go duration, such as `336h`); unset: every
    /// backup is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", length(max = 32))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1h')").message("spec.backup.retention.recoveryWindow must be at least 1h"))]
    pub recovery_window: Option<kube::core::Duration>,
    /// The newest this many complete backups always stay, whatever their age.
    #[serde(default = "default_min_backups")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_backups: u32,
}

fn default_min_backups() -> u32 {
    2
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            recovery_window: None,
            min_backups: default_min_backups(),
        }
    }
}

/// Client-side encryption of backups.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Encryption {
    /// A Secret key holding a 256-bit key as 64 hexadecimal digits (`openssl rand -hex 32`).
    /// A restore needs the same key: keep a copy outside the cluster.
    pub key_secret: SecretKeySelector,
}
