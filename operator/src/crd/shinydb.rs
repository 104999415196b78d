//! `ShinyDB`: one database instance (a StatefulSet with its Services, configuration and TLS).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::backup_settings::BackupSettings;
use super::bootstrap::{Bootstrap, BootstrapStatus};

/// Desired state of a ShinyDB instance.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "shinydb.io",
    version = "v1alpha1",
    kind = "ShinyDB",
    plural = "shinydbs",
    shortname = "sdb",
    category = "shinydb",
    namespaced,
    status = "ShinyDBStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.version"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("self.metadata.name.size() <= 52").message("metadata.name: at most 52 characters (pod and Service names are derived from it)")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.bootstrap) == has(oldSelf.bootstrap)").message("spec.bootstrap is set only when the instance is created: it makes the first data"),
    validation = Rule::new("!has(self.bootstrap) || !has(self.bootstrap.restore) || (has(self.auth) && has(self.auth.adminPasswordSecret))").message("spec.bootstrap.restore needs spec.auth.adminPasswordSecret: the restored data keeps its users, so name the Secret holding the admin password of the instance that took the backups")
)]
pub struct ShinyDBSpec {
    /// Server version; the image is `shinydb/server:<version>` unless `image` is set.
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9A-Za-z._-]+$')").message("spec.version: letters, digits, '.', '_' and '-' only"))]
    pub version: String,
    /// Full image reference overriding the one derived from `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,
    /// When the kubelet pulls the image.
    #[serde(default)]
    pub image_pull_policy: PullPolicy,
    /// Number of server pods. Only 1 is served until replication exists; more are accepted and
    /// reported through `Ready=False` with reason `ReplicationUnavailable`.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 9))]
    pub replicas: i32,
    /// Persistent storage of each pod.
    #[serde(default)]
    pub storage: StorageSpec,
    /// CPU and memory of the server container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Transport security.
    #[serde(default)]
    pub tls: TlsSpec,
    /// The administrator's credentials.
    #[serde(default)]
    pub auth: AuthSpec,
    /// Server configuration overrides, as in the server's YAML file (for example
    /// `{storage: {durability: interval}}`). Checked by the operator with the server's own
    /// parser before rollout; keys the operator owns (`data_dir`, listeners, `tls`,
    /// `auth.admin_password_file`) are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub config: Option<serde_json::Value>,
    /// Overrides of the pods' template.
    #[serde(default)]
    pub pod_template: PodTemplateOverrides,
    /// The client Service.
    #[serde(default)]
    pub service: ServiceSpec,
    /// Prometheus scraping of the servers.
    #[serde(default)]
    pub monitoring: MonitoringSpec,
    /// Backups to an S3-compatible bucket and continuous archiving of the log; unset: none.
    /// `ShinyBackup` resources take the backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSettings>,
    /// How the instance's data begins; unset: empty. Set only when creating the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.bootstrap is immutable: it made the instance's first data"))]
    pub bootstrap: Option<Bootstrap>,
}

fn one() -> i32 {
    1
}

/// An object whose unknown fields the API server keeps (not pruned).
fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// Image pull policy of the server container.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum PullPolicy {
    /// Always pull.
    Always,
    /// Pull when the node does not have the image.
    #[default]
    IfNotPresent,
    /// Never pull (the image must be on the node).
    Never,
}

impl PullPolicy {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// Storage of each pod.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Size of each pod's volume. Cannot change after creation (StatefulSet volume claim
    /// templates are immutable).
    #[serde(default = "default_size")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.storage.size is immutable"))]
    pub size: Quantity,
    /// StorageClass of the volumes; the cluster's default class when unset. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.storage.storageClassName is immutable"))]
    pub storage_class_name: Option<String>,
    /// What happens to the volumes when the ShinyDB is deleted.
    #[serde(default)]
    pub reclaim_policy: VolumeReclaimPolicy,
}

fn default_size() -> Quantity {
    Quantity("1Gi".into())
}

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec {
            size: default_size(),
            storage_class_name: None,
            reclaim_policy: VolumeReclaimPolicy::default(),
        }
    }
}

/// Fate of the volumes when their ShinyDB is deleted.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum VolumeReclaimPolicy {
    /// Keep the PersistentVolumeClaims (and the data).
    #[default]
    Retain,
    /// Delete the PersistentVolumeClaims with the ShinyDB.
    Delete,
}

/// Transport security of the server.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.mode != 'Disabled' || self.allowInsecure").message("spec.tls.allowInsecure must be true when spec.tls.mode is Disabled").field_path(".allowInsecure"),
    validation = Rule::new("self.mode != 'Provided' || has(self.secretName)").message("spec.tls.secretName is required when spec.tls.mode is Provided").field_path(".secretName"),
    validation = Rule::new("duration(self.renewBefore) < duration(self.certificateDuration)").message("spec.tls.renewBefore must be shorter than spec.tls.certificateDuration").field_path(".renewBefore"),
    validation = Rule::new("duration(self.certificateDuration) <= duration(self.caDuration)").message("spec.tls.certificateDuration must not exceed spec.tls.caDuration").field_path(".certificateDuration")
)]
pub struct TlsSpec {
    /// Who provides the server certificate.
    #[serde(default)]
    pub mode: TlsMode,
    /// Must be true to run with `mode: Disabled` (plaintext inside the cluster).
    #[serde(default)]
    pub allow_insecure: bool,
    /// With `mode: Provided`: a Secret in the same namespace with `tls.crt`, `tls.key` and
    /// `ca.crt` (cert-manager's layout). Changes are picked up without restarting pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: Option<String>,
    /// Lifetime of operator-issued server certificates (Go duration, such as `2160h`).
    #[serde(default = "default_cert_duration")]
    #[schemars(with = "String", length(max = 32))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1m')").message("spec.tls.certificateDuration must be at least 1m"))]
    pub certificate_duration: kube::core::Duration,
    /// Lifetime of the operator's CA; it is rotated (old and new trusted together until every
    /// certificate has moved) within `renewBefore` of its expiry.
    #[serde(default = "default_ca_duration")]
    #[schemars(with = "String", length(max = 32))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1m')").message("spec.tls.caDuration must be at least 1m"))]
    pub ca_duration: kube::core::Duration,
    /// Certificates are renewed this long before they expire.
    #[serde(default = "default_renew_before")]
    #[schemars(with = "String", length(max = 32))]
    pub renew_before: kube::core::Duration,
    /// The cluster's DNS domain, used in the certificate's names.
    #[serde(default = "default_domain")]
    #[schemars(length(min = 1, max = 253))]
    pub cluster_domain: String,
}

fn hours(h: u64) -> kube::core::Duration {
    std::time::Duration::from_secs(h * 3600).into()
}

fn default_cert_duration() -> kube::core::Duration {
    hours(2160)
}

fn default_ca_duration() -> kube::core::Duration {
    hours(8760)
}

fn default_renew_before() -> kube::core::Duration {
    hours(360)
}

fn default_domain() -> String {
    "cluster.local".into()
}

impl Default for TlsSpec {
    fn default() -> Self {
        TlsSpec {
            mode: TlsMode::default(),
            allow_insecure: false,
            secret_name: None,
            certificate_duration: default_cert_duration(),
            ca_duration: default_ca_duration(),
            renew_before: default_renew_before(),
            cluster_domain: default_domain(),
        }
    }
}

/// Source of the server certificate.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum TlsMode {
    /// The operator runs a CA per instance and issues and renews the server certificate.
    #[default]
    OperatorManaged,
    /// A Secret the user provides (for example from cert-manager).
    Provided,
    /// Plaintext; refused unless `allowInsecure` is true.
    Disabled,
}

/// Administrator credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// A Secret holding the first admin password. When unset the operator generates one into
    /// a Secret it owns, named in `status.adminSecretName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_secret: Option<AdminPasswordSecret>,
}

/// Reference to a key of a Secret in the ShinyDB's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminPasswordSecret {
    /// Secret name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key holding the password.
    #[serde(default = "default_password_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

fn default_password_key() -> String {
    "password".into()
}

/// Overrides merged into the pods' template.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateOverrides {
    /// Extra pod labels (the operator's own labels win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra pod annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Node selector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Affinity rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Topology spread constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Priority class of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// The client Service.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Service type.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// Annotations of the client Service (for example for a cloud load balancer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Type of the client Service.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum ServiceType {
    /// Reachable inside the cluster.
    #[default]
    ClusterIP,
    /// Also on a port of every node.
    NodePort,
    /// Through the cloud's load balancer.
    LoadBalancer,
}

impl ServiceType {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

/// Prometheus scraping.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// Annotate the pods for Prometheus and expose the metrics port on the client Service.
    #[serde(default)]
    pub enabled: bool,
}

/// Observed state of a ShinyDB.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ShinyDBStatus {
    /// Summary of the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// `Ready`, `Progressing` and `Degraded`, keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Pods that pass their readiness probe.
    #[serde(default)]
    pub ready_replicas: i32,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where clients connect: `<service>.<namespace>.svc.<domain>:<port>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Secret with the server certificate and the CA bundle clients trust (`ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_name: Option<String>,
    /// Secret with the admin password (key `password`, user `admin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_secret_name: Option<String>,
    /// When the server certificate expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_expiry: Option<String>,
    /// When the operator's current CA expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_expiry: Option<String>,
    /// Backups: the schedules' runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupStatus>,
    /// How `spec.bootstrap.restore` stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapStatus>,
}

/// How an instance's backups stand.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// The data directory's lineage: its archive is under `wal/<lineage>/` in the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    /// The earliest moment a restore can reach: the oldest complete backup (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_recoverability_point: Option<String>,
    /// The latest moment a restore can reach: the newest archived write or backup (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_recoverability_point: Option<String>,
    /// Every write up to this sequence number is archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_seq: Option<u64>,
    /// Seconds the oldest write not yet archived has waited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_lag_seconds: Option<u64>,
    /// Complete backups in the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backups: Option<u32>,
    /// Each schedule's last and next run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleStatus>,
    /// Each restore drill's last and next run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drills: Vec<DrillStatus>,
    /// The last drill that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill: Option<DrillResult>,
}

/// One restore drill's runs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillStatus {
    /// The drill's name.
    pub name: String,
    /// The slot of its last run (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<String>,
    /// Its next slot (RFC 3339); unset while suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<String>,
    /// The ShinyRestore its last run created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restore: Option<String>,
}

/// What a restore drill found.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillResult {
    /// The drill's name.
    pub name: String,
    /// Its ShinyRestore.
    pub restore: String,
    /// The backup it restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// `Passed` or `Failed`.
    pub result: String,
    /// What was checked, or what failed.
    pub message: String,
    /// Seconds from the restore's start to its instance serving the restored data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_seconds: Option<u64>,
    /// When it ended (RFC 3339).
    pub finished_at: String,
}

/// One schedule's runs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleStatus {
    /// The schedule's name.
    pub name: String,
    /// The slot of its last run (RFC 3339): the next run is the first slot after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<String>,
    /// Its next slot (RFC 3339); unset while suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<String>,
    /// The ShinyBackup its last run created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<String>,
    /// The slot of the last run that was missed (later than `startingDeadline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_missed_time: Option<String>,
}

/// Phase of a ShinyDB.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Phase {
    /// Children are being created or updated and pods are not all ready.
    Progressing,
    /// Every pod is ready and up to date.
    Running,
    /// Running below the desired state (pods not ready, replication unavailable).
    Degraded,
    /// The spec cannot be acted on (for example an invalid configuration override).
    Failed,
}
