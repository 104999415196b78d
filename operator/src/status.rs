//! The status of a ShinyDB, computed from what was built and observed (pure), so that the
//! controller writes it only when it changed.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::build::tls::{CertInfo, TlsOutcome};
use crate::build::{GRPC_PORT, Names};
use crate::crd::{BackupStatus, Phase, ShinyDB, ShinyDBStatus, TlsMode};

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
        backup: inputs.backup.clone(),
    }
}
