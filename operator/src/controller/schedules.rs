//! The schedules step: creates the ShinyBackups whose slot is due and reports each schedule's
//! runs. Everything it decides from comes from the ShinyDB's status and the clock, so an
//! operator restart or a second operator replica cannot fire a slot twice: a slot's
//! ShinyBackup has a fixed name, and a second create finds it exists.

use jiff::Timestamp;
use kube::runtime::events::EventType;
use kube::{Api, Resource};
use serde_json::json;

use super::apply::create_once;
use super::reconcile::Context;
use crate::build::Names;
use crate::crd::{BackupStatus, ScheduleStatus, ShinyBackup, ShinyDB};
use crate::error::Error;
use crate::schedule::{Schedule, backup_name};

/// Label naming the instance a ShinyBackup backs up.
pub const INSTANCE_LABEL: &str = "shinydb.io/instance";
/// Label naming the schedule that created a ShinyBackup.
pub const SCHEDULE_LABEL: &str = "shinydb.io/schedule";

/// What the step did: the status to report and when a schedule is next due.
pub struct Scheduled {
    /// `status.backup` of the instance.
    pub status: Option<BackupStatus>,
    /// The soonest next slot of any schedule.
    pub next: Option<Timestamp>,
}

/// Creates the ShinyBackups of `db`'s schedules that are due at `now`.
pub async fn run_due(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    now: Timestamp,
) -> Result<Scheduled, Error> {
    let Some(backup) = db.spec.backup.as_ref().filter(|b| !b.schedules.is_empty()) else {
        return Ok(Scheduled {
            status: None,
            next: None,
        });
    };
    let previous: Vec<ScheduleStatus> = db
        .status
        .as_ref()
        .and_then(|s| s.backup.as_ref())
        .map(|b| b.schedules.clone())
        .unwrap_or_default();
    let created_at = db.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let mut statuses = Vec::new();
    let mut soonest: Option<Timestamp> = None;
    for spec in &backup.schedules {
        let mut status = previous
            .iter()
            .find(|s| s.name == spec.name)
            .cloned()
            .unwrap_or_else(|| ScheduleStatus {
                name: spec.name.clone(),
                ..ScheduleStatus::default()
            });
        // `validate` parsed every schedule already.
        let Ok(schedule) = Schedule::parse(spec) else {
            statuses.push(status);
            continue;
        };
        if spec.suspend {
            status.next_schedule_time = None;
            statuses.push(status);
            continue;
        }
        let since = status
            .last_schedule_time
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .unwrap_or(created_at);
        let due = schedule.due(since, now);
        if let Some(slot) = due.run {
            let name = backup_name(&names.instance, &spec.name, slot);
            create_backup(ctx, db, names, &spec.name, &name).await?;
            status.last_schedule_time = Some(slot.to_string());
            status.last_backup = Some(name);
        }
        if let Some(missed) = due.missed {
            status.last_missed_time = Some(missed.to_string());
        }
        status.next_schedule_time = due.next.map(|t| t.to_string());
        if let Some(next) = due.next {
            soonest = Some(soonest.map_or(next, |s| s.min(next)));
        }
        statuses.push(status);
    }
    Ok(Scheduled {
        status: Some(BackupStatus {
            schedules: statuses,
            ..BackupStatus::default()
        }),
        next: soonest,
    })
}

/// Creates ShinyBackup `name`; one that exists already (this slot fired before) is fine.
async fn create_backup(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    schedule: &str,
    name: &str,
) -> Result<(), Error> {
    let api: Api<ShinyBackup> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let body: ShinyBackup = serde_json::from_value(json!({
        "apiVersion": ShinyBackup::api_version(&()),
        "kind": ShinyBackup::kind(&()),
        "metadata": {
            "name": name,
            "namespace": names.namespace,
            "labels": {INSTANCE_LABEL: names.instance, SCHEDULE_LABEL: schedule},
        },
        "spec": {"instance": names.instance},
    }))
    .map_err(|source| Error::Serialize {
        kind: "ShinyBackup",
        source,
    })?;
    if create_once(&api, &body).await? {
        ctx.publish(
            &db.object_ref(&()),
            EventType::Normal,
            "BackupScheduled",
            "Schedule",
            format!("schedule {schedule} created ShinyBackup {name}"),
        )
        .await;
    }
    Ok(())
}
