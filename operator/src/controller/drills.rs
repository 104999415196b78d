//! The drills step: restore drills prove that the instance's backups restore.
//!
//! A due drill creates a ShinyRestore (labelled [`DRILL_LABEL`]) of the newest Completed
//! ShinyBackup into a throwaway instance. Once that restore has ended, the throwaway's stores
//! are counted against the backup's manifest and the result is recorded in
//! `status.backup.lastDrill`; once the status names it, the throwaway instance, its volume and
//! the restore are deleted. Each pass decides from the ShinyRestores and the status alone, so
//! an operator restart resumes where it stopped.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{DeleteParams, ListParams};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use shinydb_client::proto::StoreDocuments;
use tracing::info;

use super::apply::create_once;
use super::dereference::backups_of;
use super::reconcile::Context;
use super::schedules::INSTANCE_LABEL;
use crate::backup::admin_client;
use crate::build::Names;
use crate::crd::{
    BackupPhase, DrillResult, DrillStatus, RestorePhase, ShinyBackup, ShinyDB, ShinyRestore,
};
use crate::error::Error;
use crate::schedule::Schedule;

/// Label naming the drill that created a ShinyRestore.
pub const DRILL_LABEL: &str = "shinydb.io/drill";
/// How long a server may take to answer a drill's questions.
const ASK_TIMEOUT: Duration = Duration::from_secs(30);

/// What the step did: the drills' runs and the last result, for `status.backup`.
pub struct Drilled {
    /// Each drill's runs.
    pub drills: Vec<DrillStatus>,
    /// The last drill that ended.
    pub last: Option<DrillResult>,
    /// The soonest next slot of any drill.
    pub next: Option<Timestamp>,
}

/// The throwaway instance of a drill run at `slot`.
pub fn drill_instance(instance: &str, slot: Timestamp) -> String {
    format!("{instance}-drill-{}", slot.strftime("%Y%m%d%H%M"))
}

/// The ShinyRestore of drill `drill` run at `slot`.
pub fn drill_restore(instance: &str, drill: &str, slot: Timestamp) -> String {
    format!("{instance}-drill-{drill}-{}", slot.strftime("%Y%m%d%H%M"))
}

/// The newest Completed ShinyBackup among `backups` (by completion time).
pub fn newest_completed(backups: &[ShinyBackup]) -> Option<&ShinyBackup> {
    backups
        .iter()
        .filter(|b| b.status.as_ref().and_then(|s| s.phase) == Some(BackupPhase::Completed))
        .max_by_key(|b| {
            b.status
                .as_ref()
                .and_then(|s| s.completed_at.as_deref())
                .and_then(|t| t.parse::<Timestamp>().ok())
        })
}

/// Whether a manifest's store is the users' (system spaces, `_…`, the server's own restore
/// checks).
fn is_user_store(s: &StoreDocuments) -> bool {
    !s.space.starts_with('_')
}

/// How the stores the throwaway instance serves (`found`: space, store, documents) compare
/// with the user stores of the backup's manifest (`expected`): the words of a pass, or of
/// each difference.
pub fn compare_counts(
    expected: &[StoreDocuments],
    found: &[(String, String, u64)],
) -> Result<String, String> {
    let expected: Vec<&StoreDocuments> = expected.iter().filter(|e| is_user_store(e)).collect();
    let mut differences = Vec::new();
    for e in &expected {
        match found
            .iter()
            .find(|(space, store, _)| *space == e.space && *store == e.store)
        {
            Some((_, _, n)) if *n == e.documents => {}
            Some((_, _, n)) => differences.push(format!(
                "{}.{}: {n} documents, the manifest says {}",
                e.space, e.store, e.documents
            )),
            None => differences.push(format!("{}.{}: missing", e.space, e.store)),
        }
    }
    if differences.is_empty() {
        let documents: u64 = expected.iter().map(|e| e.documents).sum();
        Ok(format!(
            "{} stores, {documents} documents, as the manifest says",
            expected.len()
        ))
    } else {
        Err(differences.join("; "))
    }
}

/// Runs the drills of `db` at `now`: records an ended one, cleans up a recorded one, starts
/// a due one.
pub async fn run(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    now: Timestamp,
) -> Result<Drilled, Error> {
    let previous = db.status.as_ref().and_then(|s| s.backup.as_ref());
    let mut last = previous.and_then(|b| b.last_drill.clone());
    let restores: Api<ShinyRestore> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let selector = format!("{DRILL_LABEL},{INSTANCE_LABEL}={}", names.instance);
    let drill_restores = restores
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::Fetch {
            what: "drill ShinyRestores".into(),
            source,
        })?
        .items;
    let mut unfinished = false;
    for restore in &drill_restores {
        let phase = restore.status.as_ref().and_then(|s| s.phase);
        if !matches!(phase, Some(RestorePhase::Completed | RestorePhase::Failed)) {
            unfinished = true;
            continue;
        }
        if last
            .as_ref()
            .is_some_and(|l| l.restore == restore.name_any())
        {
            clean_up(ctx, names, restore).await?;
        } else {
            let result = check(ctx, db, names, restore, now).await;
            record(ctx, db, names, &result).await;
            last = Some(result);
            // Cleaned up by the next pass, once the status names it.
            unfinished = true;
        }
    }

    let specs = db.spec.backup.iter().flat_map(|b| &b.drills);
    let created_at = db.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let mut drills = Vec::new();
    let mut soonest: Option<Timestamp> = None;
    for spec in specs {
        let mut status = previous
            .and_then(|b| b.drills.iter().find(|d| d.name == spec.name).cloned())
            .unwrap_or_else(|| DrillStatus {
                name: spec.name.clone(),
                ..DrillStatus::default()
            });
        let Ok(schedule) = Schedule::parse(spec) else {
            drills.push(status);
            continue;
        };
        if spec.suspend {
            status.next_schedule_time = None;
            drills.push(status);
            continue;
        }
        let since = status
            .last_schedule_time
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .unwrap_or(created_at);
        let due = schedule.due(since, now);
        // One drill at a time: a slot due while another runs is skipped.
        if let Some(slot) = due.run.filter(|_| !unfinished) {
            let name = drill_restore(&names.instance, &spec.name, slot);
            start(ctx, db, names, &spec.name, &name, slot).await?;
            status.last_schedule_time = Some(slot.to_string());
            status.last_restore = Some(name);
            unfinished = true;
        }
        status.next_schedule_time = due.next.map(|t| t.to_string());
        if let Some(next) = due.next {
            soonest = Some(soonest.map_or(next, |s| s.min(next)));
        }
        drills.push(status);
    }
    Ok(Drilled {
        drills,
        last,
        next: soonest,
    })
}

/// Creates the drill's ShinyRestore of the newest Completed ShinyBackup into a throwaway
/// instance; one that exists already (this slot started before) is fine.
async fn start(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    drill: &str,
    name: &str,
    slot: Timestamp,
) -> Result<(), Error> {
    let mine = backups_of(&ctx.client, &names.namespace, &names.instance).await?;
    let source = newest_completed(&mine).map(ResourceExt::name_any);
    let restores: Api<ShinyRestore> = Api::namespaced(ctx.client.clone(), &names.namespace);
    // Without a complete backup the restore fails its pre-flight check (BackupNotFound),
    // and the drill records that.
    let body: ShinyRestore = serde_json::from_value(json!({
        "apiVersion": ShinyRestore::api_version(&()),
        "kind": ShinyRestore::kind(&()),
        "metadata": {
            "name": name,
            "namespace": names.namespace,
            "labels": {INSTANCE_LABEL: names.instance, DRILL_LABEL: drill},
        },
        "spec": {
            "instance": names.instance,
            "mode": "NewInstance",
            "newInstance": drill_instance(&names.instance, slot),
            "source": {"backup": source.unwrap_or_else(|| "no-complete-backup".into())},
        },
    }))
    .map_err(|source| Error::Serialize {
        kind: "ShinyRestore",
        source,
    })?;
    if create_once(&restores, &body).await? {
        ctx.publish(
            &db.object_ref(&()),
            EventType::Normal,
            "DrillStarted",
            "Drill",
            format!("drill {drill} created ShinyRestore {name}"),
        )
        .await;
    }
    Ok(())
}

/// What drill restore `restore` found: its failure, or the throwaway's store counts against
/// the backup's manifest.
async fn check(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    restore: &ShinyRestore,
    now: Timestamp,
) -> DrillResult {
    let status = restore.status.clone().unwrap_or_default();
    let backup_id = status.restored.as_ref().map(|r| r.backup_id.clone());
    let outcome = if status.phase == Some(RestorePhase::Completed) {
        compare(ctx, db, names, restore, backup_id.as_deref()).await
    } else {
        Err(format!(
            "the restore failed ({}): {}",
            status.reason.as_deref().unwrap_or("unknown"),
            status.message.as_deref().unwrap_or_default()
        ))
    };
    let (result, message) = match outcome {
        Ok(message) => ("Passed", message),
        Err(message) => ("Failed", message),
    };
    DrillResult {
        name: restore
            .labels()
            .get(DRILL_LABEL)
            .cloned()
            .unwrap_or_default(),
        restore: restore.name_any(),
        backup_id,
        result: result.into(),
        message,
        recovery_seconds: status.recovery_seconds,
        finished_at: now.to_string(),
    }
}

/// The throwaway instance's store counts against the manifest of backup `backup_id`, as the
/// source's server lists it.
async fn compare(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    restore: &ShinyRestore,
    backup_id: Option<&str>,
) -> Result<String, String> {
    let id = backup_id.ok_or("the restore reported no backup id")?;
    let source = admin_client(&ctx.client, db, names, 0, Some(ASK_TIMEOUT))
        .await
        .map_err(|e| format!("cannot ask {} for the manifest: {e}", names.instance))?;
    let listed = source
        .list_backups()
        .await
        .map_err(|e| format!("cannot list the backups of {}: {e}", names.instance))?;
    let expected = listed
        .into_iter()
        .find(|b| b.id == id)
        .ok_or_else(|| format!("backup {id} is no longer in the store"))?
        .stores;
    let throwaway_name = restore.spec.new_instance.clone().unwrap_or_default();
    let dbs: Api<ShinyDB> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let throwaway = dbs
        .get(&throwaway_name)
        .await
        .map_err(|e| format!("ShinyDB {throwaway_name}: {e}"))?;
    let throwaway_names = Names::of(&throwaway).map_err(|e| e.to_string())?;
    let copy = admin_client(
        &ctx.client,
        &throwaway,
        &throwaway_names,
        0,
        Some(ASK_TIMEOUT),
    )
    .await
    .map_err(|e| format!("cannot connect to {throwaway_name}: {e}"))?;
    let mut found = Vec::new();
    for e in expected.iter().filter(|e| is_user_store(e)) {
        match copy.store_stats(&e.space, &e.store).await {
            Ok(stats) => found.push((e.space.clone(), e.store.clone(), stats.documents)),
            Err(shinydb_client::Error::Server {
                code: shinydb_client::Code::NotFound,
                ..
            }) => {}
            Err(err) => return Err(format!("{throwaway_name}: {}.{}: {err}", e.space, e.store)),
        }
    }
    compare_counts(&expected, &found)
}

/// Publishes a drill's result as an event and in the metrics.
async fn record(ctx: &Context, db: &ShinyDB, names: &Names, result: &DrillResult) {
    let passed = result.result == "Passed";
    ctx.metrics
        .drills
        .with_label_values(&[if passed { "passed" } else { "failed" }])
        .inc();
    if let Some(seconds) = result.recovery_seconds {
        #[expect(
            clippy::cast_precision_loss,
            reason = "a recovery time in whole seconds"
        )]
        ctx.metrics
            .drill_recovery_seconds
            .with_label_values(&[&names.namespace, &names.instance])
            .set(seconds as f64);
    }
    let (type_, reason) = if passed {
        (EventType::Normal, "DrillPassed")
    } else {
        (EventType::Warning, "DrillFailed")
    };
    info!(drill = %result.name, restore = %result.restore, result = %result.result, "drill ended");
    ctx.publish(
        &db.object_ref(&()),
        type_,
        reason,
        "Drill",
        format!(
            "drill {} ({}): {}",
            result.name, result.restore, result.message
        ),
    )
    .await;
}

/// Deletes a recorded drill's throwaway instance, its data volume and its ShinyRestore.
async fn clean_up(ctx: &Context, names: &Names, restore: &ShinyRestore) -> Result<(), Error> {
    let ns = &names.namespace;
    let gone = |r: Result<(), kube::Error>, what: String| match r {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(source) => Err(Error::Apply { what, source }),
        Ok(()) => Ok(()),
    };
    if let Some(throwaway) = &restore.spec.new_instance {
        let throwaway_names = Names {
            instance: throwaway.clone(),
            ..names.clone()
        };
        let dbs: Api<ShinyDB> = Api::namespaced(ctx.client.clone(), ns);
        gone(
            dbs.delete(throwaway, &DeleteParams::default())
                .await
                .map(|_| ()),
            format!("deleting drill instance {throwaway}"),
        )?;
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
        let claim = throwaway_names.data_claim(0);
        gone(
            claims
                .delete(&claim, &DeleteParams::default())
                .await
                .map(|_| ()),
            format!("deleting drill volume claim {claim}"),
        )?;
    }
    let restores: Api<ShinyRestore> = Api::namespaced(ctx.client.clone(), ns);
    gone(
        restores
            .delete(&restore.name_any(), &DeleteParams::default())
            .await
            .map(|_| ()),
        format!("deleting drill ShinyRestore {}", restore.name_any()),
    )
}
