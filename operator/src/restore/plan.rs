//! The pure half of a restore: what it asks `shinydb-server restore` for, why it refuses to
//! start, what the Job reported, and the instance a restore into a new instance creates.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;
use kube::api::ObjectMeta;
use kube_quantity::ParsedQuantity;
use serde::Deserialize;

use crate::build::RESTORE_LABEL;
use crate::crd::{
    BackupPhase, RestoreMode, RestoreTarget, Restored, ShinyBackup, ShinyDB, ShinyRestore,
    ShinyRestoreSpec,
};

/// What the restore Job is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The target arguments of `shinydb-server restore`.
    pub args: Vec<String>,
    /// The target in words, for `status.target`.
    pub words: String,
}

/// The target of `spec`, with `backup_id` the id of the ShinyBackup `spec.source.backup`
/// names: exactly that backup; else the time, the sequence number, or the latest state.
pub fn target(spec: &ShinyRestoreSpec, backup_id: Option<&str>) -> Target {
    target_of(
        spec.target.as_ref(),
        spec.source.lineage.as_deref(),
        backup_id,
    )
}

/// The target `wanted` (unset: the latest state) within `lineage` (unset: any), or exactly
/// backup `backup_id`.
pub fn target_of(
    wanted: Option<&RestoreTarget>,
    lineage: Option<&str>,
    backup_id: Option<&str>,
) -> Target {
    let wanted = wanted.cloned().unwrap_or_default();
    let (mut args, words) = match (backup_id, wanted.time, wanted.seq) {
        (Some(id), _, _) => (
            vec!["--backup".to_string(), id.to_string()],
            format!("backup {id}"),
        ),
        (None, Some(time), _) => (
            vec!["--target-time".to_string(), time.clone()],
            format!("time {time}"),
        ),
        (None, None, Some(seq)) => (
            vec!["--target-seq".to_string(), seq.to_string()],
            format!("seq {seq}"),
        ),
        (None, None, None) => (vec!["--latest".to_string()], "latest".to_string()),
    };
    if let Some(lineage) = lineage {
        args.extend(["--lineage".to_string(), lineage.to_string()]);
    }
    Target { args, words }
}

/// Why a restore does not start; nothing was touched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `spec.instance` does not exist.
    #[error("ShinyDB {0} does not exist")]
    InstanceNotFound(String),
    /// The instance has no backup store.
    #[error("ShinyDB {0} has no spec.backup: there is no store to restore from")]
    BackupNotConfigured(String),
    /// `spec.source.backup` does not exist.
    #[error("ShinyBackup {0} does not exist")]
    BackupNotFound(String),
    /// `spec.source.backup` is a backup of another instance.
    #[error("ShinyBackup {backup} is a backup of {of}, not of {instance}")]
    BackupOfAnotherInstance {
        /// The ShinyBackup.
        backup: String,
        /// Its instance.
        of: String,
        /// The restore's instance.
        instance: String,
    },
    /// `spec.source.backup` has not completed (or failed).
    #[error("ShinyBackup {0} has not completed: only a complete backup can be restored")]
    BackupNotCompleted(String),
    /// The instance to create exists already.
    #[error(
        "ShinyDB {0} exists already: a restore into a new instance never touches an existing one"
    )]
    InstanceExists(String),
    /// The new instance's data volume claim exists already (left by an earlier instance of
    /// that name).
    #[error(
        "PersistentVolumeClaim {0} exists already (an earlier instance's volume?): delete it or choose another spec.newInstance"
    )]
    ClaimExists(String),
    /// The data volume is smaller than what the restore writes.
    #[error(
        "the restore writes {needed} bytes and volume {claim} holds {size} ({bytes} bytes): grow spec.storage.size"
    )]
    VolumeTooSmall {
        /// The data volume claim.
        claim: String,
        /// Its size, as Kubernetes writes it.
        size: String,
        /// Its size in bytes.
        bytes: u64,
        /// The bytes the restore writes.
        needed: u64,
    },
    /// The target time is before the oldest complete backup.
    #[error(
        "spec.target.time {time} is before the oldest complete backup ({first}): nothing can reach it"
    )]
    TargetNotRecoverable {
        /// The target.
        time: String,
        /// The instance's first recoverability point.
        first: String,
    },
}

impl Refusal {
    /// The name `status.reason` shows.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::InstanceNotFound(_) => "InstanceNotFound",
            Refusal::BackupNotConfigured(_) => "BackupNotConfigured",
            Refusal::BackupNotFound(_) => "BackupNotFound",
            Refusal::BackupOfAnotherInstance { .. } => "BackupOfAnotherInstance",
            Refusal::BackupNotCompleted(_) => "BackupNotCompleted",
            Refusal::InstanceExists(_) => "InstanceExists",
            Refusal::ClaimExists(_) => "ClaimExists",
            Refusal::TargetNotRecoverable { .. } => "TargetNotRecoverable",
            Refusal::VolumeTooSmall { .. } => "VolumeTooSmall",
        }
    }
}

/// What the pre-flight checks read.
#[derive(Clone, Debug, Default)]
pub struct World {
    /// The instance `spec.instance`.
    pub instance: Option<ShinyDB>,
    /// The ShinyBackup `spec.source.backup`, when one is named.
    pub backup: Option<ShinyBackup>,
    /// With `NewInstance`: the ShinyDB `spec.newInstance`, if it exists.
    pub new_instance: Option<ShinyDB>,
    /// With `NewInstance`: whether its data volume claim exists, made by another than this
    /// restore.
    pub foreign_claim: Option<String>,
}

/// The pre-flight checks of `restore`: the id of the backup it restores exactly, if any.
pub fn check(restore: &ShinyRestore, world: &World) -> Result<Option<String>, Refusal> {
    let spec = &restore.spec;
    let instance = &spec.instance;
    let db = world
        .instance
        .as_ref()
        .ok_or_else(|| Refusal::InstanceNotFound(instance.clone()))?;
    if db.spec.backup.is_none() {
        return Err(Refusal::BackupNotConfigured(instance.clone()));
    }
    let backup_id = match &spec.source.backup {
        None => None,
        Some(name) => {
            let backup = world
                .backup
                .as_ref()
                .ok_or_else(|| Refusal::BackupNotFound(name.clone()))?;
            if backup.spec.instance != *instance {
                return Err(Refusal::BackupOfAnotherInstance {
                    backup: name.clone(),
                    of: backup.spec.instance.clone(),
                    instance: instance.clone(),
                });
            }
            let status = backup.status.clone().unwrap_or_default();
            match (status.phase, status.backup_id) {
                (Some(BackupPhase::Completed), Some(id)) => Some(id),
                _ => return Err(Refusal::BackupNotCompleted(name.clone())),
            }
        }
    };
    if spec.mode == RestoreMode::NewInstance {
        if let Some(existing) = &world.new_instance {
            return Err(Refusal::InstanceExists(existing.name_any()));
        }
        if let Some(claim) = &world.foreign_claim {
            return Err(Refusal::ClaimExists(claim.clone()));
        }
    }
    let time = spec.target.as_ref().and_then(|t| t.time.as_ref());
    let first = db
        .status
        .as_ref()
        .and_then(|s| s.backup.as_ref())
        .and_then(|b| b.first_recoverability_point.as_ref());
    if let (Some(time), Some(first)) = (time, first)
        && let (Ok(t), Ok(f)) = (time.parse::<Timestamp>(), first.parse::<Timestamp>())
        && t < f
    {
        return Err(Refusal::TargetNotRecoverable {
            time: time.clone(),
            first: first.clone(),
        });
    }
    Ok(backup_id)
}

/// Whether a restore writing `needed` bytes fits volume `claim` of `size`; a size that does
/// not parse is left to the Job (a full volume fails it with nothing replaced).
pub fn fits(needed: u64, claim: &str, size: &Quantity) -> Result<(), Refusal> {
    let bytes = ParsedQuantity::try_from(size.clone())
        .ok()
        .and_then(|q| q.to_bytes_u64());
    match bytes {
        Some(bytes) if bytes < needed => Err(Refusal::VolumeTooSmall {
            claim: claim.to_string(),
            size: size.0.clone(),
            bytes,
            needed,
        }),
        _ => Ok(()),
    }
}

/// The name of a restore's pre-flight check Job: `<restore>-check`, within the 63 characters
/// of a label value.
pub fn check_job_name(restore: &str) -> String {
    let base: String = restore.chars().take(57).collect();
    format!("{base}-check")
}

/// What the restore Job reported in its termination message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// The data directory holds the restored data.
    Restored(Restored),
    /// The restore failed: a reason name (`NoBackup`, `ChecksumMismatch`, ...) and words.
    Failed {
        /// The server's reason name.
        reason: String,
        /// What happened.
        message: String,
    },
}

/// `shinydb-server restore --report`'s JSON.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportJson {
    ok: bool,
    #[serde(default)]
    id: String,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    commit_time_ms: u64,
    #[serde(default)]
    replayed: u64,
    #[serde(default)]
    lineage: String,
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
}

/// The report in a restore container's termination message; `None`: it is not one (the
/// container died before writing it, and the message is its log's tail).
pub fn parse_report(message: &str) -> Option<Report> {
    let json: ReportJson = serde_json::from_str(message.trim()).ok()?;
    if !json.ok {
        return Some(Report::Failed {
            reason: json.reason,
            message: json.message,
        });
    }
    let commit_time = i64::try_from(json.commit_time_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .map(|t| t.to_string());
    Some(Report::Restored(Restored {
        backup_id: json.id,
        seq: json.seq,
        commit_time,
        replayed: json.replayed,
        lineage: json.lineage,
        bytes: json.bytes,
    }))
}

/// The ShinyDB a restore into a new instance creates: `source`'s spec without its backups
/// (a restored instance writes a new lineage; the user decides where it goes and which
/// schedules it keeps), labelled with the restore.
pub fn new_instance(source: &ShinyDB, name: &str, restore: &str) -> ShinyDB {
    let mut spec = source.spec.clone();
    spec.backup = None;
    ShinyDB {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: source.metadata.namespace.clone(),
            labels: Some([(RESTORE_LABEL.to_string(), restore.to_string())].into()),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    }
}

/// How long ago (at `now`) a restore started at `started` (RFC 3339); `None`: it has not
/// started, or the time does not parse.
pub fn elapsed(started: Option<&str>, now: Timestamp) -> Option<Duration> {
    let started = started?.parse::<Timestamp>().ok()?;
    Duration::try_from(now.duration_since(started)).ok()
}

/// Whether a restore started at `started` is past its `deadline` at `now`.
pub fn past_deadline(started: Option<&str>, deadline: Duration, now: Timestamp) -> bool {
    elapsed(started, now).is_some_and(|d| d >= deadline)
}
