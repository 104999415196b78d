//! `ShinyBackup`: one base backup of a ShinyDB to the store its `spec.backup` names. The
//! server and the bucket are the truth: a backup whose server no longer runs it and whose
//! manifest is not in the store ends `Failed` (`Interrupted`), never `Running` for ever.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// A backup request.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "shinydb.io",
    version = "v1alpha1",
    kind = "ShinyBackup",
    plural = "shinybackups",
    shortname = "sdbbackup",
    category = "shinydb",
    namespaced,
    status = "ShinyBackupStatus",
    printcolumn = r#"{"name":"Instance","type":"string","jsonPath":".spec.instance"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Size","type":"integer","format":"int64","jsonPath":".status.storedBytes"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.reason","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("spec is immutable: create a new ShinyBackup"))]
pub struct ShinyBackupSpec {
    /// Name of the ShinyDB (same namespace) to back up; its `spec.backup` names the store.
    #[schemars(length(min = 1, max = 63))]
    pub instance: String,
}

/// Observed state of a backup.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShinyBackupStatus {
    /// Where the backup is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    /// Why it failed, or why it waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<BackupReason>,
    /// What happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The server's id of the backup (`<UTC start>-<sequence>`), once it is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// The pod that takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// When the operator asked the server for it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it completed or failed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// When the operator last heard from the server about it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat: Option<String>,
    /// The backup holds exactly the writes up to this sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Bytes of the database files it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_bytes: Option<u64>,
    /// Bytes stored in the bucket (compressed, and encrypted when configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<u64>,
    /// While running: the share of the database files read, such as `42%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
}

/// Phase of a backup.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum BackupPhase {
    /// Accepted, waiting for the instance (or for its running backup) before it starts.
    Pending,
    /// The server is copying data to the store.
    Running,
    /// Its manifest is in the store: it can be restored.
    Completed,
    /// It never will be; see `reason` and `message`.
    Failed,
}

/// Why a backup failed or waits.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum BackupReason {
    /// The ShinyDB named in `spec.instance` does not exist.
    InstanceNotFound,
    /// The ShinyDB has no `spec.backup`.
    BackupNotConfigured,
    /// The instance is not ready to take a backup yet (Pending).
    InstanceNotReady,
    /// Another backup of the instance runs (Pending).
    AnotherBackupRunning,
    /// The store refused the credentials.
    InvalidCredentials,
    /// The bucket does not exist.
    BucketNotFound,
    /// The store could not be reached.
    StoreUnreachable,
    /// The server stopped or lost the backup before its manifest was written.
    Interrupted,
    /// What was uploaded does not match its hash.
    ChecksumMismatch,
    /// The server refused for another reason; see `message`.
    ServerError,
}
