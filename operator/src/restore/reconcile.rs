//! One reconciliation of a ShinyRestore, by phase:
//! - none or `Pending`: the pre-flight checks ([`plan::check`]); a refusal fails it with
//!   nothing touched, else `Validating`;
//! - `Validating`: the checks again; the pre-flight check Job (`<restore>-check`: `shinydb-server
//!   restore --check` resolves the target and walks the archive to it, touching nothing; a
//!   refusal fails the restore, reason as the server names it) and the volume's size against
//!   what the restore writes (`VolumeTooSmall`); then the preparation. In place: the safety backup
//!   (`<restore>-safety`), then the hold (the instance's [`HOLD_ANNOTATION`]: its reconciler
//!   scales it to zero), then waiting until no server pod is left: only then may the Job mount
//!   the volume. Into a new instance: its data volume claim. Then the Job, and `Running`;
//! - `Running`: the Job's outcome, from its pod's termination message. Restored: in place,
//!   the hold ends; into a new instance, the ShinyDB is created (with the source's admin
//!   password: the user catalog came with the data) and takes the claim over. Then
//!   `Verifying`. A failure releases what the restore held and fails it;
//! - `Verifying`: the instance's server serves the restored lineage at or past the restored
//!   sequence number: `Completed`.
//!
//! Each active phase fails with `DeadlineExceeded` past `spec.deadline`. Deleting an
//! unfinished restore aborts it: its Job and claim go with it (owner references), and a hold
//! whose restore is gone holds nothing.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::{info, instrument, warn};

use super::job::{self, Ended};
use super::plan::{self, World};
use crate::backup::{admin_client, admin_password};
use crate::build::{
    self, Names, RESTORE_LABEL, RestoreJob, data_claim, restore_job, selector_labels,
};
use crate::controller::{Context, INSTANCE_LABEL, apply, controlled_by, get_opt, write_status_of};
use crate::crd::{
    BackupPhase, RestoreMode, RestorePhase, Restored, ShinyBackup, ShinyDB, ShinyRestore,
    ShinyRestoreStatus,
};
use crate::error::Error;

/// The ShinyDB annotation naming the in-place ShinyRestore that holds it stopped.
pub const HOLD_ANNOTATION: &str = "shinydb.io/restore-hold";
/// How often an active restore is looked at.
pub const POLL: Duration = Duration::from_secs(5);
/// The longest Kubernetes object name a restore's Job may have.
const MAX_NAME: usize = 63;
/// Events' action.
const ACTION: &str = "Restore";

/// Whether `restore` holds `instance` stopped: it restores it in place and has not reached
/// its data yet (from `Verifying` on, the instance runs again).
pub fn holds(restore: &ShinyRestore, instance: &str) -> bool {
    let phase = restore.status.as_ref().and_then(|s| s.phase);
    restore.spec.mode == RestoreMode::InPlace
        && restore.spec.instance == instance
        && restore.metadata.deletion_timestamp.is_none()
        && !matches!(
            phase,
            Some(RestorePhase::Verifying | RestorePhase::Completed | RestorePhase::Failed)
        )
}

/// Reconciles one ShinyRestore.
#[instrument(skip_all, fields(namespace = restore.namespace().unwrap_or_default(), name = restore.name_any()))]
pub async fn reconcile(restore: Arc<ShinyRestore>, ctx: Arc<Context>) -> Result<Action, Error> {
    let status = restore.status.clone().unwrap_or_default();
    let phase = status.phase.unwrap_or(RestorePhase::Pending);
    if matches!(phase, RestorePhase::Completed | RestorePhase::Failed) {
        return Ok(Action::await_change());
    }
    if phase == RestorePhase::Pending {
        return start(&restore, &ctx).await;
    }
    let deadline: Duration = restore.spec.deadline.into();
    if plan::past_deadline(status.started_at.as_deref(), deadline, Timestamp::now()) {
        let message = format!(
            "not done within spec.deadline ({}s) while {phase:?}",
            deadline.as_secs()
        );
        fail(&restore, &ctx, status, "DeadlineExceeded", message).await?;
        return Ok(Action::await_change());
    }
    match phase {
        RestorePhase::Validating => prepare(&restore, status, &ctx).await,
        RestorePhase::Running => follow(&restore, status, &ctx).await,
        RestorePhase::Verifying => verify(&restore, status, &ctx).await,
        RestorePhase::Pending | RestorePhase::Completed | RestorePhase::Failed => {
            Ok(Action::await_change())
        }
    }
}

/// Retries after a failed reconciliation (API errors).
pub fn error_policy(_restore: Arc<ShinyRestore>, error: &Error, _ctx: Arc<Context>) -> Action {
    if error.api_status().is_some_and(|s| s.code == 409) {
        info!("the ShinyRestore changed meanwhile; reconciling it again");
        return Action::requeue(Duration::from_secs(1));
    }
    warn!(error = %error, "restore reconcile failed");
    Action::requeue(POLL)
}

/// The instance a restore into a new instance creates; `None`: it restores in place.
fn new_of(restore: &ShinyRestore) -> Option<&str> {
    match restore.spec.mode {
        RestoreMode::NewInstance => restore.spec.new_instance.as_deref(),
        RestoreMode::InPlace => None,
    }
}

fn namespace(restore: &ShinyRestore) -> String {
    restore.namespace().unwrap_or_default()
}

fn api<K>(ctx: &Context, ns: &str) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    Api::namespaced(ctx.client.clone(), ns)
}

async fn get<K>(ctx: &Context, ns: &str, name: &str) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    get_opt(&ctx.client, ns, name).await
}

/// Creates `obj`; one that exists already is returned as stored.
async fn create<K>(ctx: &Context, ns: &str, obj: &K) -> Result<K, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let name = obj.name_any();
    let what = |source| Error::Apply {
        what: format!("creating {} {name}", K::kind(&())),
        source,
    };
    match api::<K>(ctx, ns).create(&PostParams::default(), obj).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(e)) if e.code == 409 => get(ctx, ns, &name)
            .await?
            .ok_or_else(|| what(kube::Error::Api(e))),
        Err(source) => Err(what(source)),
    }
}

/// What the pre-flight checks read.
async fn read_world(ctx: &Context, restore: &ShinyRestore) -> Result<World, Error> {
    let ns = namespace(restore);
    let spec = &restore.spec;
    let mut world = World {
        instance: get(ctx, &ns, &spec.instance).await?,
        ..World::default()
    };
    if let Some(backup) = &spec.source.backup {
        world.backup = get(ctx, &ns, backup).await?;
    }
    if let Some(new) = new_of(restore) {
        world.new_instance = get(ctx, &ns, new).await?;
        let names = Names {
            instance: new.to_string(),
            namespace: ns.clone(),
        };
        let claim: Option<PersistentVolumeClaim> = get(ctx, &ns, &names.data_claim(0)).await?;
        let ours =
            |c: &PersistentVolumeClaim| c.labels().get(RESTORE_LABEL) == Some(&restore.name_any());
        world.foreign_claim = claim.filter(|c| !ours(c)).map(|c| c.name_any());
    }
    Ok(world)
}

/// The checks: what they read and the id of the backup restored exactly; `Err(())`: refused
/// (the restore is failed).
async fn checked(
    ctx: &Context,
    restore: &ShinyRestore,
) -> Result<Result<(World, Option<String>), ()>, Error> {
    let name = restore.name_any();
    if name.len() > MAX_NAME {
        let message = format!(
            "the name {name} is longer than {MAX_NAME} characters: its Job could not be named after it"
        );
        let status = restore.status.clone().unwrap_or_default();
        fail(restore, ctx, status, "NameTooLong", message).await?;
        return Ok(Err(()));
    }
    let world = read_world(ctx, restore).await?;
    match plan::check(restore, &world) {
        Ok(id) => Ok(Ok((world, id))),
        Err(refusal) => {
            let status = restore.status.clone().unwrap_or_default();
            fail(restore, ctx, status, refusal.reason(), refusal.to_string()).await?;
            Ok(Err(()))
        }
    }
}

async fn start(restore: &ShinyRestore, ctx: &Context) -> Result<Action, Error> {
    let Ok((_, backup_id)) = checked(ctx, restore).await? else {
        return Ok(Action::await_change());
    };
    let target = plan::target(&restore.spec, backup_id.as_deref());
    let spec = &restore.spec;
    let into = match new_of(restore) {
        Some(new) => format!("into a new instance {new}"),
        None => format!("in place, over {}'s data", spec.instance),
    };
    let message = format!("restoring {} of {} {into}", target.words, spec.instance);
    let status = ShinyRestoreStatus {
        phase: Some(RestorePhase::Validating),
        message: Some(message.clone()),
        target: Some(target.words),
        started_at: Some(Timestamp::now().to_string()),
        ..ShinyRestoreStatus::default()
    };
    if write_status(ctx, restore, status).await? {
        ctx.publish(
            &restore.object_ref(&()),
            EventType::Normal,
            "RestoreStarted",
            ACTION,
            message,
        )
        .await;
    }
    Ok(Action::requeue(Duration::from_secs(1)))
}

/// Where a safety backup stands.
enum Safety {
    /// Completed: the ShinyBackup's name.
    Taken(String),
    /// Not yet, in words.
    Waiting(String),
    /// It failed, in words.
    Failed(String),
}

/// The safety backup of an in-place restore: created if missing, and how it stands.
async fn safety_backup(ctx: &Context, restore: &ShinyRestore) -> Result<Safety, Error> {
    let ns = namespace(restore);
    let name = format!("{}-safety", restore.name_any());
    let instance = &restore.spec.instance;
    let body: ShinyBackup = serde_json::from_value(json!({
        "apiVersion": ShinyBackup::api_version(&()),
        "kind": ShinyBackup::kind(&()),
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {INSTANCE_LABEL: instance, RESTORE_LABEL: restore.name_any()},
        },
        "spec": {"instance": instance},
    }))
    .map_err(|source| Error::Serialize {
        kind: "ShinyBackup",
        source,
    })?;
    let backup = create(ctx, &ns, &body).await?;
    let status = backup.status.unwrap_or_default();
    Ok(match status.phase {
        Some(BackupPhase::Completed) => Safety::Taken(name),
        Some(BackupPhase::Failed) => Safety::Failed(format!(
            "the safety backup {name} failed ({}): {}; the instance was not touched \
             (set spec.safetyBackup to false to restore without one)",
            status.reason.map(|r| format!("{r:?}")).unwrap_or_default(),
            status.message.unwrap_or_default()
        )),
        _ => Safety::Waiting(format!(
            "waiting for the safety backup {name}: {}",
            status.message.unwrap_or_else(|| "not started yet".into())
        )),
    })
}

/// Sets or removes the hold on `instance` (a merge patch of its annotation); removing one
/// that names another restore does nothing.
async fn set_hold(
    ctx: &Context,
    ns: &str,
    instance: &str,
    restore: &str,
    hold: bool,
) -> Result<(), Error> {
    let Some(db) = get::<ShinyDB>(ctx, ns, instance).await? else {
        return Ok(());
    };
    let current = db.annotations().get(HOLD_ANNOTATION).map(String::as_str);
    let value = match (hold, current) {
        (true, Some(r)) if r == restore => return Ok(()),
        (true, _) => json!(restore),
        (false, Some(r)) if r == restore => serde_json::Value::Null,
        (false, _) => return Ok(()),
    };
    let patch = json!({"metadata": {"annotations": {HOLD_ANNOTATION: value}}});
    api::<ShinyDB>(ctx, ns)
        .patch(instance, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::Apply {
            what: format!("annotating ShinyDB {instance}"),
            source,
        })?;
    Ok(())
}

/// Whether `instance` runs no server pod, and its StatefulSet wants none.
async fn stopped(ctx: &Context, ns: &str, instance: &str) -> Result<bool, Error> {
    let sts: Option<StatefulSet> = get(ctx, ns, instance).await?;
    let scaled = sts.is_none_or(|s| s.spec.replicas == Some(0));
    let selector = selector_labels(instance)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods = api::<Pod>(ctx, ns)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::Fetch {
            what: format!("pods of {instance}"),
            source,
        })?;
    Ok(scaled && pods.items.is_empty())
}

async fn prepare(
    restore: &ShinyRestore,
    status: ShinyRestoreStatus,
    ctx: &Context,
) -> Result<Action, Error> {
    let Ok((world, backup_id)) = checked(ctx, restore).await? else {
        return Ok(Action::await_change());
    };
    let Some(source) = world.instance else {
        return Ok(Action::await_change());
    };
    let ns = namespace(restore);
    let name = restore.name_any();
    let spec = &restore.spec;
    let mut status = status;
    let filled = new_of(restore).unwrap_or(&spec.instance).to_string();
    let target = plan::target(spec, backup_id.as_deref());
    if status.checked.is_none() {
        match preflight(ctx, restore, &source, &filled, &target).await? {
            Preflight::Passed(checked) => {
                let volume = Names {
                    instance: filled.clone(),
                    namespace: ns.clone(),
                }
                .data_claim(0);
                let size = volume_size(ctx, restore, &source, &volume).await?;
                if let Err(refusal) = plan::fits(checked.bytes, &volume, &size) {
                    fail(restore, ctx, status, refusal.reason(), refusal.to_string()).await?;
                    return Ok(Action::await_change());
                }
                status.checked = Some(checked);
            }
            Preflight::Waiting(message) => {
                let waiting = ShinyRestoreStatus {
                    message: Some(message),
                    ..status
                };
                write_status(ctx, restore, waiting).await?;
                return Ok(Action::requeue(POLL));
            }
            Preflight::Failed { reason, message } => {
                fail(restore, ctx, status, &reason, message).await?;
                return Ok(Action::await_change());
            }
        }
    }
    let claim = if let Some(new) = new_of(restore) {
        let names = Names {
            instance: new.to_string(),
            namespace: ns.clone(),
        };
        let mut claim = data_claim(&names, &source, &name);
        claim.metadata.owner_references = Some(vec![owner(restore)?]);
        create(ctx, &ns, &claim).await?.name_any()
    } else {
        if spec.safety_backup {
            match safety_backup(ctx, restore).await? {
                Safety::Taken(backup) => status.safety_backup = Some(backup),
                Safety::Waiting(message) => {
                    let waiting = ShinyRestoreStatus {
                        message: Some(message),
                        ..status
                    };
                    write_status(ctx, restore, waiting).await?;
                    return Ok(Action::requeue(POLL));
                }
                Safety::Failed(message) => {
                    fail(restore, ctx, status, "SafetyBackupFailed", message).await?;
                    return Ok(Action::await_change());
                }
            }
        }
        set_hold(ctx, &ns, &spec.instance, &name, true).await?;
        if !stopped(ctx, &ns, &spec.instance).await? {
            let waiting = ShinyRestoreStatus {
                message: Some(format!(
                    "waiting for the pods of {} to stop before its volume is replaced",
                    spec.instance
                )),
                ..status
            };
            write_status(ctx, restore, waiting).await?;
            return Ok(Action::requeue(POLL));
        }
        Names::of(&source)?.data_claim(0)
    };
    let deadline: Duration = spec.deadline.into();
    let elapsed = plan::elapsed(status.started_at.as_deref(), Timestamp::now()).unwrap_or_default();
    let remaining = deadline
        .saturating_sub(elapsed)
        .max(Duration::from_secs(60));
    let job = restore_job(&RestoreJob {
        restore: name.clone(),
        namespace: ns.clone(),
        owner: owner(restore)?,
        source: &source,
        instance: filled,
        claim: Some(claim.clone()),
        target_args: target.args,
        deadline_seconds: i64::try_from(remaining.as_secs()).unwrap_or(i64::MAX),
    });
    let job = create(ctx, &ns, &job).await?;
    if !controlled_by(&job.metadata, &restore.uid().unwrap_or_default()) {
        let message = format!("a Job {name} exists and is not this restore's: delete it");
        fail(restore, ctx, status, "JobNameConflict", message).await?;
        return Ok(Action::await_change());
    }
    let running = ShinyRestoreStatus {
        phase: Some(RestorePhase::Running),
        job: Some(name.clone()),
        message: Some(format!("Job {name} restores into volume {claim}")),
        ..status
    };
    write_status(ctx, restore, running).await?;
    info!(job = %name, %claim, "restore Job created");
    Ok(Action::requeue(POLL))
}

/// Where the pre-flight check stands.
enum Preflight {
    /// The target can be restored: what it reaches and writes.
    Passed(Restored),
    /// The check Job runs, in words.
    Waiting(String),
    /// It cannot: the server's reason and words.
    Failed {
        /// The reason's name (`NoBackup`, `ArchiveGap`, `TargetBeyondArchive`, ...).
        reason: String,
        /// What the check found.
        message: String,
    },
}

/// The pre-flight check of `restore`: Job `<restore>-check` runs `shinydb-server restore
/// --check` with `source`'s image and store (no volume: nothing is touched, and the instance
/// keeps running): the target is resolved, the backup's format read and the archive walked
/// to the target.
async fn preflight(
    ctx: &Context,
    restore: &ShinyRestore,
    source: &ShinyDB,
    filled: &str,
    target: &plan::Target,
) -> Result<Preflight, Error> {
    let ns = namespace(restore);
    let name = plan::check_job_name(&restore.name_any());
    let wanted = restore_job(&RestoreJob {
        restore: name.clone(),
        namespace: ns.clone(),
        owner: owner(restore)?,
        source,
        instance: filled.to_string(),
        claim: None,
        target_args: target.args.clone(),
        deadline_seconds: 600,
    });
    let job = create(ctx, &ns, &wanted).await?;
    if !controlled_by(&job.metadata, &restore.uid().unwrap_or_default()) {
        return Ok(Preflight::Failed {
            reason: "JobNameConflict".into(),
            message: format!("a Job {name} exists and is not this restore's: delete it"),
        });
    }
    Ok(match job::ended(&ctx.client, &job).await? {
        None => Preflight::Waiting(format!(
            "checking that {} can be restored (Job {name})",
            target.words
        )),
        Some(Ended::Restored(checked)) => Preflight::Passed(checked),
        Some(Ended::Failed { reason, message }) => Preflight::Failed { reason, message },
    })
}

/// The size of the data volume `claim` a restore fills: in place, the claim's capacity (it
/// may have grown past the spec); into a new instance, the source's `spec.storage.size`.
async fn volume_size(
    ctx: &Context,
    restore: &ShinyRestore,
    source: &ShinyDB,
    claim: &str,
) -> Result<Quantity, Error> {
    let requested = source.spec.storage.size.clone();
    if new_of(restore).is_some() {
        return Ok(requested);
    }
    let stored: Option<PersistentVolumeClaim> = get(ctx, &namespace(restore), claim).await?;
    Ok(stored
        .and_then(|c| c.status?.capacity?.get("storage").cloned())
        .unwrap_or(requested))
}

fn owner(
    restore: &ShinyRestore,
) -> Result<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference, Error> {
    restore
        .controller_owner_ref(&())
        .ok_or(Error::Build(build::BuildError::MissingMetadata("uid")))
}

async fn follow(
    restore: &ShinyRestore,
    status: ShinyRestoreStatus,
    ctx: &Context,
) -> Result<Action, Error> {
    let ns = namespace(restore);
    let name = restore.name_any();
    let Some(job) = get::<Job>(ctx, &ns, &name).await? else {
        let message = format!("Job {name} was deleted before it finished");
        fail(restore, ctx, status, "JobDeleted", message).await?;
        return Ok(Action::await_change());
    };
    let restored = match job::ended(&ctx.client, &job).await? {
        None => return Ok(Action::requeue(POLL)),
        Some(Ended::Restored(restored)) => restored,
        Some(Ended::Failed { reason, message }) => {
            fail(restore, ctx, status, &reason, message).await?;
            return Ok(Action::await_change());
        }
    };
    let spec = &restore.spec;
    let serving = if let Some(new) = new_of(restore) {
        let Some(source) = get::<ShinyDB>(ctx, &ns, &spec.instance).await? else {
            let message = format!(
                "ShinyDB {} was deleted while the restore ran: {new} is not created",
                spec.instance
            );
            fail(restore, ctx, status, "InstanceNotFound", message).await?;
            return Ok(Action::await_change());
        };
        create_instance(ctx, restore, &source, new).await?;
        new.to_string()
    } else {
        set_hold(ctx, &ns, &spec.instance, &name, false).await?;
        spec.instance.clone()
    };
    let verifying = ShinyRestoreStatus {
        phase: Some(RestorePhase::Verifying),
        message: Some(format!(
            "restored backup {} and {} archived batches (seq {}); waiting for {serving} to serve them",
            restored.backup_id, restored.replayed, restored.seq
        )),
        restored: Some(restored),
        ..status
    };
    write_status(ctx, restore, verifying).await?;
    Ok(Action::requeue(POLL))
}

/// Creates the new instance of a restore, with the source's admin password (its Secret first,
/// so that the instance never generates another), and hands it the restored claim (which no
/// longer belongs to the restore).
async fn create_instance(
    ctx: &Context,
    restore: &ShinyRestore,
    source: &ShinyDB,
    new: &str,
) -> Result<(), Error> {
    let ns = namespace(restore);
    let name = restore.name_any();
    let wanted = plan::new_instance(source, new, &name);
    if source.spec.auth.admin_password_secret.is_none() {
        let password = admin_password(&ctx.client, source, &Names::of(source)?).await?;
        let secret = build::admin_secret_copy(&wanted, k8s_openapi::ByteString(password), &name)?;
        // Applied over what may be there: an earlier instance of that name's kept Secret.
        apply(&api::<Secret>(ctx, &ns), &secret).await?;
    }
    let db = create(ctx, &ns, &wanted).await?;
    if db.labels().get(RESTORE_LABEL) != Some(&name) {
        // Made by someone else meanwhile: not ours to hand a volume to.
        return Ok(());
    }
    let names = Names::of(&db)?;
    let release = json!({"metadata": {"ownerReferences": null}});
    api::<PersistentVolumeClaim>(ctx, &ns)
        .patch(
            &names.data_claim(0),
            &PatchParams::default(),
            &Patch::Merge(&release),
        )
        .await
        .map_err(|source| Error::Apply {
            what: format!("releasing claim {}", names.data_claim(0)),
            source,
        })?;
    Ok(())
}

async fn verify(
    restore: &ShinyRestore,
    status: ShinyRestoreStatus,
    ctx: &Context,
) -> Result<Action, Error> {
    let ns = namespace(restore);
    let spec = &restore.spec;
    let serving = spec
        .new_instance
        .clone()
        .unwrap_or_else(|| spec.instance.clone());
    let Some(restored) = status.restored.clone() else {
        let message = "the status lost what was restored".to_string();
        fail(restore, ctx, status, "VerificationFailed", message).await?;
        return Ok(Action::await_change());
    };
    let Some(db) = get::<ShinyDB>(ctx, &ns, &serving).await? else {
        let message = format!("ShinyDB {serving} was deleted before it served the restored data");
        fail(restore, ctx, status, "InstanceNotFound", message).await?;
        return Ok(Action::await_change());
    };
    let names = Names::of(&db)?;
    let answer =
        match admin_client(&ctx.client, &db, &names, 0, Some(Duration::from_secs(10))).await {
            Ok(client) => client.replica_status().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
    let served = match answer {
        Ok(s) => s,
        Err(e) => {
            let waiting = ShinyRestoreStatus {
                message: Some(format!(
                    "waiting for {serving} to serve the restored data ({e})"
                )),
                ..status
            };
            write_status(ctx, restore, waiting).await?;
            return Ok(Action::requeue(POLL));
        }
    };
    if served.lineage != restored.lineage || served.last_seq < restored.seq {
        let message = format!(
            "{serving} serves lineage {} at seq {}, not the restored lineage {} at seq {}",
            served.lineage, served.last_seq, restored.lineage, restored.seq
        );
        fail(restore, ctx, status, "VerificationFailed", message).await?;
        return Ok(Action::await_change());
    }
    let now = Timestamp::now();
    let seconds = plan::elapsed(status.started_at.as_deref(), now).unwrap_or_default();
    let message = format!(
        "{serving} serves backup {} and {} archived batches up to seq {}",
        restored.backup_id, restored.replayed, restored.seq
    );
    let completed = ShinyRestoreStatus {
        phase: Some(RestorePhase::Completed),
        reason: None,
        message: Some(message.clone()),
        completed_at: Some(now.to_string()),
        recovery_seconds: Some(seconds.as_secs()),
        ..status
    };
    if write_status(ctx, restore, completed).await? {
        ctx.metrics.restores.with_label_values(&["completed"]).inc();
        ctx.metrics.restore_duration.observe(seconds.as_secs_f64());
        ctx.publish(
            &restore.object_ref(&()),
            EventType::Normal,
            "RestoreCompleted",
            ACTION,
            message,
        )
        .await;
    }
    Ok(Action::await_change())
}

/// Fails the restore: releases what it held (a running Job, the hold, a new instance's claim
/// not yet handed over), then records `Failed` with its event and metric.
async fn fail(
    restore: &ShinyRestore,
    ctx: &Context,
    status: ShinyRestoreStatus,
    reason: &str,
    message: String,
) -> Result<(), Error> {
    let ns = namespace(restore);
    let name = restore.name_any();
    let uid = restore.uid().unwrap_or_default();
    if let Some(job) = get::<Job>(ctx, &ns, &name).await?
        && controlled_by(&job.metadata, &uid)
        && job::outcome(&job).is_none()
    {
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        api::<Job>(ctx, &ns)
            .delete(&name, &params)
            .await
            .map_err(|source| Error::Apply {
                what: format!("deleting Job {name}"),
                source,
            })?;
    }
    if let Some(new) = new_of(restore) {
        let names = Names {
            instance: new.to_string(),
            namespace: ns.clone(),
        };
        let claim: Option<PersistentVolumeClaim> = get(ctx, &ns, &names.data_claim(0)).await?;
        if let Some(claim) = claim
            && controlled_by(&claim.metadata, &uid)
        {
            api::<PersistentVolumeClaim>(ctx, &ns)
                .delete(&claim.name_any(), &DeleteParams::default())
                .await
                .map_err(|source| Error::Apply {
                    what: format!("deleting claim {}", claim.name_any()),
                    source,
                })?;
        }
    } else {
        set_hold(ctx, &ns, &restore.spec.instance, &name, false).await?;
    }
    let failed = ShinyRestoreStatus {
        phase: Some(RestorePhase::Failed),
        reason: Some(reason.to_string()),
        message: Some(message.clone()),
        completed_at: Some(Timestamp::now().to_string()),
        ..status
    };
    if write_status(ctx, restore, failed).await? {
        ctx.metrics.restores.with_label_values(&["failed"]).inc();
        ctx.publish(
            &restore.object_ref(&()),
            EventType::Warning,
            "RestoreFailed",
            ACTION,
            format!("{reason}: {message}"),
        )
        .await;
        warn!(%reason, %message, "restore failed");
    }
    Ok(())
}

async fn write_status(
    ctx: &Context,
    restore: &ShinyRestore,
    status: ShinyRestoreStatus,
) -> Result<bool, Error> {
    let api: Api<ShinyRestore> = api(ctx, &namespace(restore));
    write_status_of(&api, restore, restore.status.as_ref(), &status).await
}
