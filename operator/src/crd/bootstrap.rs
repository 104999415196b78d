//! `ShinyDB.spec.bootstrap`: how a new instance's data begins. Unset: empty. `restore`: from
//! a backup store, before the first pod starts (the backups of another instance, of one
//! deleted, or of another cluster).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::backup_settings::Encryption;
use super::restore::{RestoreTarget, Restored};
use super::store::ObjectStore;

/// How a new instance's data begins (immutable; set it when creating the instance).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    /// Restore the data from a backup store before the instance first starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<BootstrapRestore>,
}

/// A restore that makes a new instance's data: a Job runs `shinydb-server restore` into its
/// data volume, and no pod of the instance runs until it succeeded. The restored data keeps
/// its users, so the instance's `spec.auth.adminPasswordSecret` must hold the admin password
/// of the instance that took the backups.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapRestore {
    /// The bucket holding the backups (the `spec.backup.store` of the instance that took them).
    pub store: ObjectStore,
    /// The key the backups were encrypted with, if they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// Only backups and archived log of this lineage (one data directory's history); unset:
    /// any lineage in the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub lineage: Option<String>,
    /// The state to restore; unset: the latest recoverable state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<RestoreTarget>,
    /// The longest the restore Job may take.
    #[serde(default = "default_deadline")]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1m')").message("spec.bootstrap.restore.deadline must be at least 1m"))]
    pub deadline: kube::core::Duration,
}

fn default_deadline() -> kube::core::Duration {
    std::time::Duration::from_secs(3600).into()
}

/// How the bootstrap of an instance stands.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapStatus {
    /// Where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BootstrapPhase>,
    /// Why it failed (a name such as `NoBackup`, `ChecksumMismatch`, `ClaimExists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The Job running `shinydb-server restore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// What the restore produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored: Option<Restored>,
    /// When it started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it completed or failed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

/// Phase of a bootstrap.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum BootstrapPhase {
    /// The Job restores the data; no pod of the instance runs.
    Running,
    /// The volume holds the restored data; the instance runs on it.
    Completed,
    /// It never will; see `reason` and `message`. The instance stays at zero pods: delete it
    /// (and its volume claim) and create it again.
    Failed,
}
