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
    /// When backups are taken: each run creates a ShinyBackup named
    /// `<instance>-<schedule>-<UTC yyyymmddhhmm>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub schedules: Vec<BackupSchedule>,
    /// Restore drills: each run restores the newest complete backup into a throwaway instance
    /// `<instance>-drill-<UTC yyyymmddhhmm>`, checks every store's document count against the
    /// backup's manifest, records the result and the recovery time in
    /// `status.backup.lastDrill`, then deletes the throwaway instance and its volume.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub drills: Vec<BackupSchedule>,
}

/// A backup (or drill) schedule, with CronJob's semantics: 5-field cron in an IANA time zone; a run
/// missed (the operator was down) is taken late once if still inside `startingDeadline`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupSchedule {
    /// Its name, part of the ShinyBackups' names.
    #[schemars(length(min = 1, max = 40))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([a-z0-9-]*[a-z0-9])?$')").message("spec.backup.schedules[].name: lowercase letters, digits and '-' only"))]
    pub name: String,
    /// Minute, hour, day of month, month, day of week, such as `0 3 * * *` (03:00 daily).
    #[schemars(length(min = 9, max = 128))]
    pub cron: String,
    /// The IANA time zone the cron fields are read in, such as `Europe/Paris`.
    #[serde(default = "utc")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: String,
    /// No new runs while true.
    #[serde(default)]
    pub suspend: bool,
    /// How late a missed run may still be taken (Go duration).
    #[serde(default = "default_starting_deadline")]
    #[schemars(with = "String", length(max = 32))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('10s')").message("spec.backup.schedules[].startingDeadline must be at least 10s"))]
    pub starting_deadline: kube::core::Duration,
}

fn utc() -> String {
    "UTC".into()
}

fn default_starting_deadline() -> kube::core::Duration {
    std::time::Duration::from_secs(3600).into()
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
