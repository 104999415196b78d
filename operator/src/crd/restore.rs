//! `ShinyRestore`: restores an instance's backups, either into a new instance (the default:
//! nothing existing is touched) or in place (the instance is stopped, its volume replaced, and
//! a safety backup taken first). The server's `shinydb-server restore` does the work, in a Job.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

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
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".status.target"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.reason","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self == oldSelf").message("spec is immutable: create a new ShinyRestore"),
    validation = Rule::new("self.mode != 'NewInstance' || has(self.newInstance)").message("mode NewInstance needs spec.newInstance: the name of the instance to create"),
    validation = Rule::new("self.mode != 'InPlace' || !has(self.newInstance)").message("spec.newInstance is for mode NewInstance only"),
    validation = Rule::new("self.mode != 'InPlace' || (has(self.confirm) && self.confirm == self.instance)").message("mode InPlace replaces the instance's data: set spec.confirm to the instance's name"),
    validation = Rule::new("!has(self.newInstance) || self.newInstance != self.instance").message("spec.newInstance must differ from spec.instance"),
    validation = Rule::new("!has(self.source.backup) || !has(self.target)").message("spec.source.backup restores exactly that backup: leave spec.target unset")
)]
pub struct ShinyRestoreSpec {
    /// The ShinyDB (same namespace) whose store holds the backups; with `InPlace`, the
    /// instance whose data is replaced.
    #[schemars(length(min = 1, max = 63))]
    pub instance: String,
    /// `NewInstance` (default) restores into a new ShinyDB named `newInstance`, made from
    /// the instance's spec; `InPlace` replaces the instance's own data.
    #[serde(default)]
    pub mode: RestoreMode,
    /// With `NewInstance`: the name of the ShinyDB to create (it must not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 52))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message("spec.newInstance: lowercase letters, digits and '-', starting with a letter"))]
    pub new_instance: Option<String>,
    /// With `InPlace`: the instance's name again, to confirm that its data is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub confirm: Option<String>,
    /// Which backups: a ShinyBackup, a lineage; unset: the instance's store, any lineage.
    #[serde(default)]
    pub source: RestoreSource,
    /// The state to restore (not with `source.backup`, which restores exactly that backup);
    /// unset: the latest recoverable state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<RestoreTarget>,
    /// With `InPlace`: take a backup of the current data first (`<restore>-safety`), and
    /// stop if it fails.
    #[serde(default = "yes")]
    pub safety_backup: bool,
    /// The longest the restore may take, from its start to the instance serving again.
    #[serde(default = "default_deadline")]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1m')").message("spec.deadline must be at least 1m"))]
    pub deadline: kube::core::Duration,
}

fn yes() -> bool {
    true
}

fn default_deadline() -> kube::core::Duration {
    std::time::Duration::from_secs(3600).into()
}

/// Where a restore puts the data.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum RestoreMode {
    /// Into a new ShinyDB; the instance is not touched.
    #[default]
    NewInstance,
    /// Over the instance's own data (it is stopped meanwhile).
    InPlace,
}

/// Which backups a restore reads.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSource {
    /// A Completed ShinyBackup of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub backup: Option<String>,
    /// Only backups and archived log of this lineage (one data directory's history, as
    /// `status.backup.lineage` of an instance shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub lineage: Option<String>,
}

/// The state a restore reaches: at most one of its fields.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.time), has(self.seq), has(self.latest) && self.latest].filter(x, x).size() == 1").message("spec.target: set exactly one of time, seq and latest"))]
pub struct RestoreTarget {
    /// Every write committed at or before this time (RFC 3339, such as
    /// `2026-12-01T10:15:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 20, max = 40))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$')").message("spec.target.time must be an RFC 3339 time such as 2026-12-01T10:15:00Z"))]
    pub time: Option<String>,
    /// The state right after this write (a sequence number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The newest backup and everything archived after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<bool>,
}

/// Observed state of a restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShinyRestoreStatus {
    /// Where the restore is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    /// Why it failed (a name such as `NoBackup`, `ChecksumMismatch`, `InstanceExists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The target in words (`backup <id>`, `time <t>`, `seq <n>`, `latest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The safety backup (a ShinyBackup) taken before an in-place restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_backup: Option<String>,
    /// The Job running `shinydb-server restore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// What the pre-flight check (Job `<restore>-check`, `shinydb-server restore --check`)
    /// found restorable before anything was touched: the backup, the sequence number the
    /// target reaches, and the bytes the restore writes (`lineage` empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<Restored>,
    /// What the restore produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored: Option<Restored>,
    /// When the restore started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it completed or failed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// Seconds from the start until the instance served the restored data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_seconds: Option<u64>,
}

/// What `shinydb-server restore` reported.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Restored {
    /// The base backup restored.
    pub backup_id: String,
    /// The data holds exactly the writes up to this sequence number.
    pub seq: u64,
    /// The commit time of that write (RFC 3339), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<String>,
    /// Archived batches replayed after the base backup.
    pub replayed: u64,
    /// The restored data's new lineage.
    pub lineage: String,
    /// Bytes downloaded.
    pub bytes: u64,
}

/// Phase of a restore.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum RestorePhase {
    /// Accepted, not looked at yet.
    Pending,
    /// Pre-flight checks (the target resolved and the archive walked to it by a check Job,
    /// the volume large enough), and (in place) the safety backup; nothing is touched yet.
    Validating,
    /// The instance is stopped (in place) and the Job restores the data.
    Running,
    /// The data is restored; waiting for the instance to serve it.
    Verifying,
    /// The instance serves the restored data.
    Completed,
    /// It never will; see `reason` and `message`. An in-place restore that failed left the
    /// instance on its old data.
    Failed,
}
