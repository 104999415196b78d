//! `ShinyRestore`: restores a ShinyDB from a `ShinyBackup` or a backup location. The API is
//! fixed here; its controller comes with the backup feature.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::store::ObjectStore;

/// A restore request.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "shinydb.io",
    version = "v1alpha1",
    kind = "ShinyRestore",
    plural = "shinyrestores",
    shortname = "sdbrestore",
    category = "shinydb",
    namespaced,
    status = "ShinyRestoreStatus",
    printcolumn = r#"{"name":"Instance","type":"string","jsonPath":".spec.instance"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self == oldSelf").message("spec is immutable: create a new ShinyRestore"),
    validation = Rule::new("has(self.backupName) != has(self.source)").message("exactly one of spec.backupName and spec.source must be set")
)]
pub struct ShinyRestoreSpec {
    /// Name of the ShinyDB (same namespace) to restore into.
    #[schemars(length(min = 1, max = 63))]
    pub instance: String,
    /// A completed ShinyBackup in the same namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub backup_name: Option<String>,
    /// A backup location, for backups made elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ObjectStore>,
    /// With `source`: the object key of the backup inside the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub location: Option<String>,
}

/// Observed state of a restore.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ShinyRestoreStatus {
    /// Where the restore is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    /// Conditions keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// When the restore started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it completed or failed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Phase of a restore.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum RestorePhase {
    /// Accepted, not started.
    Pending,
    /// The instance is stopped and data is being restored.
    Running,
    /// The instance runs on the restored data.
    Completed,
    /// Failed; see the conditions.
    Failed,
}
