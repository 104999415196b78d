//! One reconciliation of a ShinyBackup, by phase:
//! - none or `Pending`: check the instance, then mark `Running` **before** asking its server,
//!   and ask in a task of its own (a backup takes minutes; the reconciler does not wait);
//! - `Running`: follow it. The server is asked for the backup with the ShinyBackup's uid as
//!   its tag. While the task waits, poll the server for progress. Without a task (the
//!   operator restarted, or the connection broke) the server and the bucket decide: the server
//!   still runs this backup → wait; its manifest is listed → `Completed`; neither → `Failed`
//!   (`Interrupted`). A server silent for [`SILENCE_LIMIT`] fails it too;
//! - `Completed`, `Failed`: nothing more; nor for a ShinyBackup the inventory made from the
//!   store (labelled `shinydb.io/discovered`);
//! - deleted with the finalizer `shinydb.io/delete-objects` (and not `Running`): its objects
//!   are deleted from the store first ([`super::deletion`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use shinydb_client::proto::BackupSummary;
use tracing::{info, instrument, warn};

use super::connect::admin_client;
use super::deletion::{awaits_deletion, delete_objects};
use super::outcome::{Outcome, of_create_error};
use crate::build::Names;
use crate::controller::{Context, DISCOVERED_LABEL, write_status_of};
use crate::crd::{BackupPhase, BackupReason, Phase, ShinyBackup, ShinyBackupStatus, ShinyDB};
use crate::error::Error;

/// How often a running backup is looked at.
pub const POLL: Duration = Duration::from_secs(5);
/// How long a running backup's server may stay silent before the backup is failed.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// Clock difference tolerated between the operator and the server when a manifest is matched
/// to the ShinyBackup that asked for it.
const CLOCK_SLACK_MS: i64 = 2_000;
/// Events' action.
const ACTION: &str = "Backup";

/// The key of a ShinyBackup among the running tasks.
fn key(backup: &ShinyBackup) -> (String, String) {
    (backup.namespace().unwrap_or_default(), backup.name_any())
}

/// Reconciles one ShinyBackup.
#[instrument(skip_all, fields(namespace = backup.namespace().unwrap_or_default(), name = backup.name_any()))]
pub async fn reconcile(backup: Arc<ShinyBackup>, ctx: Arc<Context>) -> Result<Action, Error> {
    let status = backup.status.clone().unwrap_or_default();
    if awaits_deletion(&backup) && status.phase != Some(BackupPhase::Running) {
        // Running: followed to its end first, so that its objects can go too.
        return delete_objects(&backup, &ctx).await;
    }
    let discovered = backup.labels().contains_key(DISCOVERED_LABEL);
    if discovered
        || matches!(
            status.phase,
            Some(BackupPhase::Completed | BackupPhase::Failed)
        )
    {
        // Done; or found in the store, where the inventory writes its status.
        return Ok(Action::await_change());
    }
    let instance = &backup.spec.instance;
    let dbs: Api<ShinyDB> =
        Api::namespaced(ctx.client.clone(), &backup.namespace().unwrap_or_default());
    let db = dbs.get_opt(instance).await.map_err(|source| Error::Fetch {
        what: format!("ShinyDB {instance}"),
        source,
    })?;
    if status.phase == Some(BackupPhase::Running) {
        follow(&backup, db, status, &ctx).await
    } else {
        start(&backup, db, &ctx).await
    }
}

/// Retries after a failed reconciliation (only API errors end up here).
pub fn error_policy(_backup: Arc<ShinyBackup>, error: &Error, _ctx: Arc<Context>) -> Action {
    if is_conflict(error) {
        // Decided from an old reading: look again at the new one.
        info!("the ShinyBackup changed meanwhile; reconciling it again");
        return Action::requeue(Duration::from_secs(1));
    }
    warn!(error = %error, "backup reconcile failed");
    Action::requeue(POLL)
}

fn now_rfc3339() -> String {
    Timestamp::now().to_string()
}

fn failed(reason: BackupReason, message: String, previous: ShinyBackupStatus) -> ShinyBackupStatus {
    ShinyBackupStatus {
        phase: Some(BackupPhase::Failed),
        reason: Some(reason),
        message: Some(message),
        completed_at: Some(now_rfc3339()),
        progress: None,
        ..previous
    }
}

fn pending(reason: BackupReason, message: String) -> ShinyBackupStatus {
    ShinyBackupStatus {
        phase: Some(BackupPhase::Pending),
        reason: Some(reason),
        message: Some(message),
        ..ShinyBackupStatus::default()
    }
}

fn completed(summary: &BackupSummary, previous: ShinyBackupStatus) -> ShinyBackupStatus {
    ShinyBackupStatus {
        phase: Some(BackupPhase::Completed),
        reason: None,
        message: Some(format!("backup {} is in the store", summary.id)),
        backup_id: Some(summary.id.clone()),
        completed_at: Some(now_rfc3339()),
        seq: Some(summary.seq),
        raw_bytes: Some(summary.raw_bytes),
        stored_bytes: Some(summary.stored_bytes),
        progress: None,
        ..previous
    }
}

async fn start(
    backup: &ShinyBackup,
    db: Option<ShinyDB>,
    ctx: &Arc<Context>,
) -> Result<Action, Error> {
    let ns = backup.namespace().unwrap_or_default();
    let instance = &backup.spec.instance;
    let Some(db) = db else {
        let message = format!("ShinyDB {instance} does not exist in namespace {ns}");
        finish(
            backup,
            ctx,
            failed(
                BackupReason::InstanceNotFound,
                message,
                ShinyBackupStatus::default(),
            ),
        )
        .await?;
        return Ok(Action::await_change());
    };
    if db.spec.backup.is_none() {
        let message = format!("ShinyDB {instance} has no spec.backup: set its store first");
        finish(
            backup,
            ctx,
            failed(
                BackupReason::BackupNotConfigured,
                message,
                ShinyBackupStatus::default(),
            ),
        )
        .await?;
        return Ok(Action::await_change());
    }
    let ready = db.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running);
    if !ready {
        let message = format!("waiting for ShinyDB {instance} to be Running");
        write_status(
            ctx,
            backup,
            pending(BackupReason::InstanceNotReady, message),
        )
        .await?;
        return Ok(Action::requeue(POLL));
    }
    let running = other_backups(ctx, &ns, &backup.name_any())
        .await?
        .into_iter()
        .filter(|b| b.spec.instance == *instance)
        .find(|b| b.status.as_ref().and_then(|s| s.phase) == Some(BackupPhase::Running));
    if let Some(other) = running.map(|b| b.name_any()) {
        let message = format!("waiting for ShinyBackup {other} of {instance} to finish");
        write_status(
            ctx,
            backup,
            pending(BackupReason::AnotherBackupRunning, message),
        )
        .await?;
        return Ok(Action::requeue(POLL));
    }
    let names = Names::of(&db)?;
    let pod = format!("{}-0", names.stateful_set());
    let now = now_rfc3339();
    let running = ShinyBackupStatus {
        phase: Some(BackupPhase::Running),
        message: Some(format!("{pod} takes the backup")),
        pod: Some(pod.clone()),
        started_at: Some(now.clone()),
        last_heartbeat: Some(now),
        ..ShinyBackupStatus::default()
    };
    // Running is recorded before the server is asked: a restarted operator finds the backup
    // and asks the server and the bucket what became of it, instead of starting another.
    write_status(ctx, backup, running.clone()).await?;
    ctx.publish(
        &backup.object_ref(&()),
        EventType::Normal,
        "BackupStarted",
        ACTION,
        format!("{pod} takes a base backup of {instance}"),
    )
    .await;
    info!(%pod, "backup started");
    spawn_create(ctx, backup.clone(), db, running);
    Ok(Action::requeue(POLL))
}

/// The namespace's other ShinyBackups (all but `except`).
async fn other_backups(ctx: &Context, ns: &str, except: &str) -> Result<Vec<ShinyBackup>, Error> {
    let api: Api<ShinyBackup> = Api::namespaced(ctx.client.clone(), ns);
    let all = api
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::Fetch {
            what: "ShinyBackups".into(),
            source,
        })?;
    Ok(all
        .items
        .into_iter()
        .filter(|b| b.name_any() != except)
        .collect())
}

/// Asks the server for the backup in a task of its own, and records what it answered.
fn spawn_create(ctx: &Arc<Context>, backup: ShinyBackup, db: ShinyDB, running: ShinyBackupStatus) {
    let ctx = Arc::clone(ctx);
    ctx.backups_in_flight().insert(key(&backup));
    tokio::spawn(async move {
        let answer = match Names::of(&db) {
            Ok(names) => match admin_client(&ctx.client, &db, &names, 0, None).await {
                Ok(client) => client
                    .create_backup(&backup.uid().unwrap_or_default())
                    .await
                    .map_err(|e| of_create_error(&e)),
                Err(e) => Err(Outcome::Unknown(e.to_string())),
            },
            Err(e) => Err(Outcome::Failed(BackupReason::ServerError, e.to_string())),
        };
        let status = match answer {
            Ok(summary) => completed(&summary, running),
            Err(Outcome::Failed(reason, message)) => failed(reason, message, running),
            Err(Outcome::Busy(message)) => pending(
                BackupReason::AnotherBackupRunning,
                format!("the server runs another backup: {message}"),
            ),
            Err(Outcome::Unknown(message)) => ShinyBackupStatus {
                // Still Running: `follow` asks the server and the bucket.
                message: Some(format!(
                    "lost the answer ({message}); asking the server and the store"
                )),
                ..running
            },
        };
        let result = record(&ctx, &backup, status).await;
        // Only now: until the outcome is recorded, `follow` leaves the backup to this task.
        ctx.backups_in_flight().remove(&key(&backup));
        if let Err(e) = result {
            // `follow` finds the outcome in the store.
            warn!(error = %e, backup = %backup.name_any(), "cannot record the backup's outcome");
        }
    });
}

/// Records the task's outcome on the ShinyBackup as it is now, if it still describes the
/// attempt the task made (Running, with the same start): the write is conditional on the
/// object's version, so it never overwrites what a reconciliation wrote meanwhile.
async fn record(
    ctx: &Context,
    asked: &ShinyBackup,
    status: ShinyBackupStatus,
) -> Result<(), Error> {
    let api: Api<ShinyBackup> =
        Api::namespaced(ctx.client.clone(), &asked.namespace().unwrap_or_default());
    for _ in 0..5 {
        let current = api
            .get_opt(&asked.name_any())
            .await
            .map_err(|source| Error::Fetch {
                what: format!("ShinyBackup {}", asked.name_any()),
                source,
            })?;
        let Some(current) = current else {
            return Ok(());
        };
        let now = current.status.clone().unwrap_or_default();
        if now.phase != Some(BackupPhase::Running) || now.started_at != status.started_at {
            return Ok(());
        }
        let status = ShinyBackupStatus {
            last_heartbeat: now.last_heartbeat.clone(),
            ..status.clone()
        };
        let written = if matches!(
            status.phase,
            Some(BackupPhase::Running | BackupPhase::Pending)
        ) {
            write_status(ctx, &current, status).await.map(|_| ())
        } else {
            finish(&current, ctx, status).await
        };
        match written {
            Err(e) if is_conflict(&e) => {}
            other => return other,
        }
    }
    Ok(())
}

/// Whether `e` is the API server refusing a write made on an older version of the object.
fn is_conflict(e: &Error) -> bool {
    e.api_status().is_some_and(|s| s.code == 409)
}

async fn follow(
    backup: &ShinyBackup,
    db: Option<ShinyDB>,
    status: ShinyBackupStatus,
    ctx: &Arc<Context>,
) -> Result<Action, Error> {
    let ns = backup.namespace().unwrap_or_default();
    let instance = &backup.spec.instance;
    let Some(db) = db else {
        let message = format!("ShinyDB {instance} was deleted while the backup ran");
        finish(
            backup,
            ctx,
            failed(BackupReason::Interrupted, message, status),
        )
        .await?;
        return Ok(Action::await_change());
    };
    let names = Names::of(&db)?;
    // While the task waits for the server's answer, the server is asked only for progress;
    // the task records the outcome (or, if the answer is lost, hands over to the look below).
    let in_flight = ctx.backups_in_flight().contains(&key(backup));
    let uid = backup.uid().unwrap_or_default();
    let looked = look(ctx, &db, &names, &uid, !in_flight).await;
    let now = Timestamp::now();
    match looked {
        Ok(Server::Running { done, total }) => {
            let status = ShinyBackupStatus {
                last_heartbeat: Some(now.to_string()),
                progress: Some(progress(done, total)),
                ..status
            };
            write_status(ctx, backup, status).await?;
            Ok(Action::requeue(POLL))
        }
        Ok(Server::Idle(_)) | Err(_) if in_flight => Ok(Action::requeue(POLL)),
        Ok(Server::Idle(backups)) => {
            let started = status
                .started_at
                .as_deref()
                .and_then(|t| t.parse::<Timestamp>().ok());
            // Backup ids other ShinyBackups already hold.
            let claimed: HashSet<String> = other_backups(ctx, &ns, &backup.name_any())
                .await?
                .into_iter()
                .filter_map(|b| b.status?.backup_id)
                .collect();
            let found = started
                .and_then(|s| matching_manifest(&uid, s.as_millisecond(), &backups, &claimed));
            let status = match found {
                Some(summary) => completed(summary, status),
                None => failed(
                    BackupReason::Interrupted,
                    format!(
                        "{} no longer runs the backup and the store has no manifest for it",
                        status.pod.as_deref().unwrap_or("the server")
                    ),
                    status,
                ),
            };
            finish(backup, ctx, status).await?;
            Ok(Action::await_change())
        }
        Err(e) => {
            let heard = status
                .last_heartbeat
                .as_deref()
                .and_then(|t| t.parse::<Timestamp>().ok());
            if silent_too_long(heard, now) {
                let message = format!(
                    "no answer from {} for {}s ({e}): the backup is lost",
                    status.pod.as_deref().unwrap_or("the server"),
                    SILENCE_LIMIT.as_secs()
                );
                finish(
                    backup,
                    ctx,
                    failed(BackupReason::Interrupted, message, status),
                )
                .await?;
                return Ok(Action::await_change());
            }
            info!(error = %e, "cannot reach the server of a running backup; asking again");
            Ok(Action::requeue(POLL))
        }
    }
}

/// What the server says of the backup tagged with a ShinyBackup's uid.
enum Server {
    /// It runs: raw bytes read of bytes to read.
    Running { done: u64, total: u64 },
    /// It does not run (another may); these are in the store, newest first.
    Idle(Vec<BackupSummary>),
}

/// What the server says of the backup tagged `tag`; the store's backups are listed only when
/// `list` and it does not run. A running backup without a tag counts as this one (a server
/// from before tags).
async fn look(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    tag: &str,
    list: bool,
) -> Result<Server, String> {
    let client = admin_client(&ctx.client, db, names, 0, Some(Duration::from_secs(10)))
        .await
        .map_err(|e| e.to_string())?;
    let status = client.backup_status().await.map_err(|e| e.to_string())?;
    if status.backup_running && (status.backup_tag.is_empty() || status.backup_tag == tag) {
        return Ok(Server::Running {
            done: status.backup_bytes_done,
            total: status.backup_bytes_total,
        });
    }
    if !list {
        return Ok(Server::Idle(Vec::new()));
    }
    let backups = client.list_backups().await.map_err(|e| e.to_string())?;
    Ok(Server::Idle(backups))
}

/// The complete backup the ShinyBackup with uid `tag`, started at `started_ms`, made: the one
/// tagged with it; else (a server from before tags) the oldest untagged complete one that
/// started after it (less the clock slack) and no other ShinyBackup holds.
pub fn matching_manifest<'a>(
    tag: &str,
    started_ms: i64,
    backups: &'a [BackupSummary],
    claimed: &HashSet<String>,
) -> Option<&'a BackupSummary> {
    let complete = || backups.iter().filter(|b| b.state == "complete");
    if let Some(tagged) = complete().find(|b| !tag.is_empty() && b.tag == tag) {
        return Some(tagged);
    }
    complete()
        .filter(|b| b.tag.is_empty())
        .filter(|b| b.started_at_ms >= started_ms - CLOCK_SLACK_MS)
        .filter(|b| !claimed.contains(&b.id))
        .min_by_key(|b| b.started_at_ms)
}

/// Whether a server last heard from at `heard` (`None`: never) has been silent too long.
pub fn silent_too_long(heard: Option<Timestamp>, now: Timestamp) -> bool {
    heard.is_none_or(|h| {
        now.duration_since(h)
            .try_into()
            .is_ok_and(|d: Duration| d >= SILENCE_LIMIT)
    })
}

/// `done` of `total` as a whole percentage.
pub fn progress(done: u64, total: u64) -> String {
    let pct = done.saturating_mul(100).checked_div(total).unwrap_or(0);
    format!("{}%", pct.min(100))
}

/// Records a final status, with its event and metrics.
async fn finish(
    backup: &ShinyBackup,
    ctx: &Context,
    status: ShinyBackupStatus,
) -> Result<(), Error> {
    let ok = status.phase == Some(BackupPhase::Completed);
    let message = status.message.clone().unwrap_or_default();
    if !write_status(ctx, backup, status).await? {
        return Ok(());
    }
    let (type_, reason, result) = if ok {
        (EventType::Normal, "BackupCompleted", "completed")
    } else {
        (EventType::Warning, "BackupFailed", "failed")
    };
    ctx.metrics.backups.with_label_values(&[result]).inc();
    if ok {
        #[expect(
            clippy::cast_precision_loss,
            reason = "Unix seconds fit an f64 exactly"
        )]
        let seconds = Timestamp::now().as_second() as f64;
        ctx.metrics
            .last_backup_success
            .with_label_values(&[
                &backup.namespace().unwrap_or_default(),
                &backup.spec.instance,
            ])
            .set(seconds);
    }
    ctx.publish(&backup.object_ref(&()), type_, reason, ACTION, message)
        .await;
    Ok(())
}

/// Writes `status` unless it equals the stored one, if `backup` is still the stored version.
/// Returns whether it wrote.
async fn write_status(
    ctx: &Context,
    backup: &ShinyBackup,
    status: ShinyBackupStatus,
) -> Result<bool, Error> {
    let api: Api<ShinyBackup> =
        Api::namespaced(ctx.client.clone(), &backup.namespace().unwrap_or_default());
    write_status_of(&api, backup, backup.status.as_ref(), &status).await
}
