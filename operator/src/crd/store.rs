//! Where backups live: an S3-compatible bucket, and the Secrets that open it.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// An S3-compatible bucket location.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStore {
    /// Endpoint URL of an S3-compatible server, such as `http://10.0.0.5:9000` or
    /// `https://minio.storage.svc:9000`; unset: AWS S3 in `region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("spec.backup.store.endpoint must start with http:// or https://"))]
    pub endpoint: Option<String>,
    /// Bucket name.
    #[schemars(length(min = 3, max = 63))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9][a-z0-9.-]*[a-z0-9]$')").message("spec.backup.store.bucket: lowercase letters, digits, '.' and '-' only"))]
    pub bucket: String,
    /// Key prefix inside the bucket (backups go under `<prefix>/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub prefix: Option<String>,
    /// Region.
    #[serde(default = "default_region")]
    #[schemars(length(min = 1, max = 64))]
    pub region: String,
    /// Address buckets as `endpoint/bucket` instead of `bucket.endpoint`, as most
    /// S3-compatible servers need.
    #[serde(default)]
    pub path_style: bool,
    /// Access keys; unset: the pod's environment provides them (workload identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<S3Credentials>,
    /// A Secret key holding the PEM certificates to trust for the endpoint (a private CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret: Option<SecretKeySelector>,
}

fn default_region() -> String {
    "us-east-1".into()
}

/// The Secret holding S3 access keys. Mounted into the server pods and read by every
/// backup, so a changed Secret is used without restarting them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Credentials {
    /// Secret name (same namespace).
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Key of the access key id.
    #[serde(default = "default_access_key")]
    #[schemars(length(min = 1, max = 253))]
    pub access_key_id_key: String,
    /// Key of the secret access key.
    #[serde(default = "default_secret_key")]
    #[schemars(length(min = 1, max = 253))]
    pub secret_access_key_key: String,
}

fn default_access_key() -> String {
    "AWS_ACCESS_KEY_ID".into()
}

fn default_secret_key() -> String {
    "AWS_SECRET_ACCESS_KEY".into()
}

/// One key of a Secret in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Secret name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}
