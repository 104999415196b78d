//! `ShinyBackup`: one backup of a ShinyDB to S3-compatible object storage. The API is fixed
//! here; its controller comes with the backup feature.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
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
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("spec is immutable: create a new ShinyBackup"))]
pub struct ShinyBackupSpec {
    /// Name of the ShinyDB (same namespace) to back up.
    #[schemars(length(min = 1, max = 63))]
    pub instance: String,
    /// Where the backup goes.
    pub destination: ObjectStore,
}

/// An S3-compatible bucket location.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStore {
    /// Endpoint URL, such as `https://s3.eu-west-1.amazonaws.com` or a MinIO address.
    #[schemars(length(min = 1, max = 2048))]
    pub endpoint: String,
    /// Bucket name.
    #[schemars(length(min = 3, max = 63))]
    pub bucket: String,
    /// Key prefix inside the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub prefix: Option<String>,
    /// Region (some providers require one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub region: Option<String>,
    /// Address buckets as `endpoint/bucket` instead of `bucket.endpoint`.
    #[serde(default)]
    pub path_style: bool,
    /// Access keys.
    pub credentials: S3Credentials,
    /// Secret with `ca.crt` to trust for the endpoint (self-signed MinIO, for example).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub ca_secret_name: Option<String>,
}

/// Secret holding S3 access keys.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Credentials {
    /// Secret name (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Key of the access key id.
    #[serde(default = "default_access_key")]
    pub access_key_id_key: String,
    /// Key of the secret access key.
    #[serde(default = "default_secret_key")]
    pub secret_access_key_key: String,
}

fn default_access_key() -> String {
    "AWS_ACCESS_KEY_ID".into()
}

fn default_secret_key() -> String {
    "AWS_SECRET_ACCESS_KEY".into()
}

/// Observed state of a backup.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ShinyBackupStatus {
    /// Where the backup is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    /// Conditions keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// When the backup started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it completed or failed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// Object key of the backup in the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Size of the backup in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Phase of a backup.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum BackupPhase {
    /// Accepted, not started.
    Pending,
    /// Copying data.
    Running,
    /// Stored and verified.
    Completed,
    /// Failed; see the conditions.
    Failed,
}
