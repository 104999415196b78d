//! The status of a ShinyDB, computed from what was built and observed (pure), so that the
//! controller writes it only when it changed.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::build::tls::{CertInfo, TlsOutcome};
use crate::build::{GRPC_PORT, Names};
use shinydb_client::proto::BackupStatusResponse;

use crate::backup::store_reason;
use crate::crd::{
    BackupReason, BackupStatus, BootstrapPhase, BootstrapStatus, Phase, ShinyDB, ShinyDBStatus,
    TlsMode,
};

/// Condition type: the instance serves clients as specified.
pub const READY: &str = "Ready";
/// Condition type: a rollout is under way.
pub const PROGRESSING: &str = "Progressing";
/// Condition type: the instance runs below its specification.
pub const DEGRADED: &str = "Degraded";

/// Why an instance cannot be rolled out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The spec, or a Secret it names, is wrong; the message names the field.
    InvalidSpec(String),
    /// An object the instance needs exists already and belongs to someone else; it is never
    /// adopted.
    NameConflict(String),
}

impl Problem {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Problem::InvalidSpec(_) => "InvalidSpec",
            Problem::NameConflict(_) => "NameConflict",
        }
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        match self {
            Problem::InvalidSpec(m) | Problem::NameConflict(m) => m,
        }
    }

    fn waiting_for(&self) -> &'static str {
        match self {
            Problem::InvalidSpec(_) => "waiting for the spec to be fixed",
            Problem::NameConflict(_) => {
                "waiting for the conflicting object to be removed or renamed"
            }
        }
    }
}

/// Everything the status is computed from.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// The resource (its previous status is kept where nothing changed).
    pub db: &'a ShinyDB,
    /// The StatefulSet as last applied or read.
    pub stateful_set: Option<&'a StatefulSet>,
    /// Why the spec cannot be rolled out, if it cannot.
    pub problem: Option<Problem>,
    /// Operator-managed certificates.
    pub tls: Option<&'a TlsOutcome>,
    /// The provided certificate (mode `Provided`).
    pub provided_certificate: Option<&'a CertInfo>,
    /// How the instance's backups stand (its schedules' runs).
    pub backup: Option<BackupStatus>,
    /// What its server said of its archive and store (`None`: not asked).
    pub backup_server: Option<&'a Result<BackupStatusResponse, String>>,
    /// The in-place ShinyRestore that holds the instance stopped, if any.
    pub held_by: Option<&'a str>,
    /// How `spec.bootstrap.restore` stands (`None`: the instance has none).
    pub bootstrap: Option<&'a BootstrapStatus>,
    /// The time of this reconciliation.
    pub now: Timestamp,
}

/// Sets condition `type_` in `conditions`, keeping its transition time when its status did not
/// change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = if status { "True" } else { "False" }.to_string();
    let last_transition_time = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    conditions.retain(|c| c.type_ != type_);
    conditions.push(Condition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time,
    });
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

struct Rollout {
    ready: i32,
    done: bool,
}

fn rollout(sts: Option<&StatefulSet>) -> Rollout {
    let Some(sts) = sts else {
        return Rollout {
            ready: 0,
            done: false,
        };
    };
    let status = sts.status.clone().unwrap_or_default();
    let desired = sts.spec.replicas.unwrap_or(1);
    let observed = status.observed_generation >= sts.metadata.generation;
    let revision_done =
        status.update_revision.is_some() && status.current_revision == status.update_revision;
    let ready = status.ready_replicas.unwrap_or(0);
    Rollout {
        ready,
        done: observed
            && revision_done
            && status.updated_replicas.unwrap_or(0) >= desired
            && ready >= desired,
    }
}

/// The status `inputs` describe.
pub fn compute(inputs: &Inputs<'_>) -> ShinyDBStatus {
    let db = inputs.db;
    let old = db.status.clone().unwrap_or_default();
    let generation = db.metadata.generation;
    let now = inputs.now;
    let mut conditions = old.conditions.clone();
    let rollout = rollout(inputs.stateful_set);
    let names = Names::of(db).ok();

    let phase = if let Some(problem) = &inputs.problem {
        set_condition(
            &mut conditions,
            READY,
            false,
            problem.reason(),
            problem.message().into(),
            generation,
            now,
        );
        set_condition(
            &mut conditions,
            PROGRESSING,
            false,
            problem.reason(),
            problem.waiting_for().into(),
            generation,
            now,
        );
        set_condition(
            &mut conditions,
            DEGRADED,
            true,
            problem.reason(),
            problem.message().into(),
            generation,
            now,
        );
        Phase::Failed
    } else if let Some(b) = inputs
        .bootstrap
        .filter(|b| b.phase != Some(BootstrapPhase::Completed))
    {
        let failed = b.phase == Some(BootstrapPhase::Failed);
        let (reason, message) = if failed {
            (
                b.reason.clone().unwrap_or_else(|| "BootstrapFailed".into()),
                format!(
                    "spec.bootstrap.restore failed: {}; no pod runs",
                    b.message.as_deref().unwrap_or("see status.bootstrap")
                ),
            )
        } else {
            (
                "Bootstrapping".to_string(),
                format!(
                    "{}; no pod runs until the data is restored",
                    b.message.as_deref().unwrap_or("restoring the data")
                ),
            )
        };
        for (type_, status) in [(READY, false), (PROGRESSING, !failed), (DEGRADED, failed)] {
            set_condition(
                &mut conditions,
                type_,
                status,
                &reason,
                message.clone(),
                generation,
                now,
            );
        }
        if failed {
            Phase::Failed
        } else {
            Phase::Progressing
        }
    } else if let Some(restore) = inputs.held_by {
        let message =
            format!("ShinyRestore {restore} replaces the data: no pod runs until it finishes");
        for (type_, status) in [(READY, false), (PROGRESSING, true), (DEGRADED, false)] {
            set_condition(
                &mut conditions,
                type_,
                status,
                "RestoreInProgress",
                message.clone(),
                generation,
                now,
            );
        }
        Phase::Progressing
    } else {
        if rollout.done {
            set_condition(
                &mut conditions,
                PROGRESSING,
                false,
                "RolloutComplete",
                "every pod runs the current specification".into(),
                generation,
                now,
            );
        } else {
            set_condition(
                &mut conditions,
                PROGRESSING,
                true,
                "RollingOut",
                format!("{} of 1 pods ready and up to date", rollout.ready.min(1)),
                generation,
                now,
            );
        }
        let replicas = db.spec.replicas;
        if replicas > 1 {
            let msg = format!(
                "spec.replicas is {replicas} but replication is not available yet; one pod serves"
            );
            set_condition(
                &mut conditions,
                READY,
                false,
                "ReplicationUnavailable",
                msg.clone(),
                generation,
                now,
            );
            set_condition(
                &mut conditions,
                DEGRADED,
                true,
                "ReplicationUnavailable",
                msg,
                generation,
                now,
            );
            if rollout.ready > 0 {
                Phase::Degraded
            } else {
                Phase::Progressing
            }
        } else if rollout.ready > 0 {
            set_condition(
                &mut conditions,
                READY,
                true,
                "Serving",
                "the server is ready".into(),
                generation,
                now,
            );
            set_condition(
                &mut conditions,
                DEGRADED,
                false,
                "AsExpected",
                "running as specified".into(),
                generation,
                now,
            );
            if rollout.done {
                Phase::Running
            } else {
                Phase::Progressing
            }
        } else {
            set_condition(
                &mut conditions,
                READY,
                false,
                "PodsNotReady",
                "no server pod is ready".into(),
                generation,
                now,
            );
            if rollout.done || old.phase == Some(Phase::Running) {
                set_condition(
                    &mut conditions,
                    DEGRADED,
                    true,
                    "PodsNotReady",
                    "no server pod is ready".into(),
                    generation,
                    now,
                );
                Phase::Degraded
            } else {
                set_condition(
                    &mut conditions,
                    DEGRADED,
                    false,
                    "Starting",
                    "the server is starting".into(),
                    generation,
                    now,
                );
                Phase::Progressing
            }
        }
    };

    let tls = &db.spec.tls;
    let (tls_secret_name, certificate_expiry, ca_expiry) = match (tls.mode, &names) {
        (TlsMode::OperatorManaged, Some(n)) => (
            Some(n.tls_secret()),
            inputs
                .tls
                .map(|t| t.leaf_not_after.to_string())
                .or(old.certificate_expiry.clone()),
            inputs
                .tls
                .map(|t| t.ca_not_after.to_string())
                .or(old.ca_expiry.clone()),
        ),
        (TlsMode::Provided, _) => (
            tls.secret_name.clone(),
            inputs.provided_certificate.map(|c| c.not_after.to_string()),
            None,
        ),
        _ => (None, None, None),
    };
    let admin_secret_name = match &db.spec.auth.admin_password_secret {
        Some(s) => Some(s.name.clone()),
        None => names.as_ref().map(Names::admin_secret),
    };
    let backup = backup_status(
        inputs,
        old.backup.as_ref(),
        &mut conditions,
        generation,
        now,
    );
    ShinyDBStatus {
        phase: Some(phase),
        conditions,
        ready_replicas: rollout.ready,
        observed_generation: generation,
        endpoint: names
            .as_ref()
            .map(|n| format!("{}:{GRPC_PORT}", n.client_host(&tls.cluster_domain))),
        tls_secret_name,
        admin_secret_name,
        certificate_expiry,
        ca_expiry,
        backup,
        bootstrap: inputs.bootstrap.cloned(),
    }
}

/// Condition: the server can read and write the backup store.
pub const BACKUP_STORE_REACHABLE: &str = "BackupStoreReachable";
/// Condition: every write is archived, without gaps.
pub const CONTINUOUS_ARCHIVING: &str = "ContinuousArchiving";

fn ms_to_rfc3339(ms: i64) -> Option<String> {
    (ms > 0)
        .then(|| Timestamp::from_millisecond(ms).ok())
        .flatten()
        .map(|t| t.to_string())
}

fn reason_name(reason: BackupReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `status.backup` and the backup conditions: the schedules' runs from `inputs.backup`, the
/// rest from what the server said (kept from `old` when it could not be asked).
fn backup_status(
    inputs: &Inputs<'_>,
    old: Option<&BackupStatus>,
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    now: Timestamp,
) -> Option<BackupStatus> {
    let Some(spec) = &inputs.db.spec.backup else {
        conditions.retain(|c| c.type_ != BACKUP_STORE_REACHABLE && c.type_ != CONTINUOUS_ARCHIVING);
        return None;
    };
    let mut status = old.cloned().unwrap_or_default();
    if let Some(b) = &inputs.backup {
        status.schedules.clone_from(&b.schedules);
        status.drills.clone_from(&b.drills);
        status.last_drill.clone_from(&b.last_drill);
    }
    let Some(Ok(server)) = inputs.backup_server else {
        return Some(status);
    };
    status.lineage = (!server.lineage.is_empty()).then(|| server.lineage.clone());
    status.first_recoverability_point = ms_to_rfc3339(server.first_recoverable_ms);
    status.last_recoverability_point = ms_to_rfc3339(server.last_recoverable_ms);
    status.archived_seq = server.archiving.then_some(server.archived_seq);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a lag in whole seconds, never negative"
    )]
    let lag = server.archive_lag_seconds.max(0.0).round() as u64;
    status.archive_lag_seconds = server.archiving.then_some(lag);
    status.backups = Some(server.backups);

    if server.last_error.is_empty() {
        set_condition(
            conditions,
            BACKUP_STORE_REACHABLE,
            true,
            "Reachable",
            format!("the server reads and writes {}", server.store),
            generation,
            now,
        );
    } else {
        let reason = store_reason(&server.last_error).unwrap_or(BackupReason::ServerError);
        let secret = spec.store.credentials.as_ref().map_or_else(
            || {
                " (no spec.backup.store.credentials: the pod's environment provides the keys)"
                    .to_string()
            },
            |c| {
                format!(
                    " (keys from Secret {}, spec.backup.store.credentials)",
                    c.secret_name
                )
            },
        );
        set_condition(
            conditions,
            BACKUP_STORE_REACHABLE,
            false,
            &reason_name(reason),
            format!("{}{secret}", server.last_error),
            generation,
            now,
        );
    }
    let (archiving, reason, message) = if !server.archiving {
        (
            false,
            "ArchivingDisabled",
            "spec.backup.walArchive.enabled is false: only base backups can be restored"
                .to_string(),
        )
    } else if let Some(gap) = server.gaps.first() {
        (
            false,
            "ArchiveGap",
            format!(
                "the archive lacks writes {} to {} (the store refused them longer than the server could keep them): a restore cannot cross them; take a backup",
                gap.from, gap.to
            ),
        )
    } else if !server.last_error.is_empty() {
        (
            false,
            "ArchiveFailing",
            format!("archiving fails: {}", server.last_error),
        )
    } else {
        (
            true,
            "Archiving",
            format!("every write up to {} is archived", server.archived_seq),
        )
    };
    set_condition(
        conditions,
        CONTINUOUS_ARCHIVING,
        archiving,
        reason,
        message,
        generation,
        now,
    );
    Some(status)
}
