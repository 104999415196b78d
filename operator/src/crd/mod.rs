//! The custom resources of group `shinydb.io`, version `v1alpha1`: [`ShinyDB`], [`ShinyBackup`]
//! and [`ShinyRestore`]. Their schemas (with CEL rules) are derived from these types; `crds/`
//! holds the generated YAML and a test keeps it in step.

mod backup;
mod backup_settings;
mod bootstrap;
mod restore;
mod shinydb;
mod store;

pub use backup::{BackupPhase, BackupReason, ShinyBackup, ShinyBackupSpec, ShinyBackupStatus};
pub use backup_settings::{BackupSchedule, BackupSettings, Encryption, Retention, WalArchive};
pub use bootstrap::{Bootstrap, BootstrapPhase, BootstrapRestore, BootstrapStatus};
pub use restore::{
    RestoreMode, RestorePhase, RestoreSource, RestoreTarget, Restored, ShinyRestore,
    ShinyRestoreSpec, ShinyRestoreStatus,
};
pub use shinydb::{
    AdminPasswordSecret, AuthSpec, BackupStatus, DrillResult, DrillStatus, MonitoringSpec, Phase,
    PodTemplateOverrides, PullPolicy, ScheduleStatus, ServiceSpec, ServiceType, ShinyDB,
    ShinyDBSpec, ShinyDBStatus, StorageSpec, TlsMode, TlsSpec, VolumeReclaimPolicy,
};
pub use store::{ObjectStore, S3Credentials, SecretKeySelector};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every ShinyDB resource.
pub const GROUP: &str = "shinydb.io";

/// Every CustomResourceDefinition of the operator, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![ShinyDB::crd(), ShinyBackup::crd(), ShinyRestore::crd()]
}

/// The CRDs as one multi-document YAML stream (what `shinydb-operator crd` prints).
pub fn to_yaml() -> Result<String, serde_yaml_ng::Error> {
    let mut out = String::new();
    for crd in all() {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&crd)?);
    }
    Ok(out)
}

/// The file name under `crds/` of one CRD: `<plural>.<group>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.clone().unwrap_or_default())
}
