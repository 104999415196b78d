//! Deleting a ShinyBackup keeps its objects in the store, unless it carries the opt-in
//! finalizer [`DELETE_OBJECTS_FINALIZER`]: then the operator first asks the instance's server
//! to delete the backup (its manifest first, then its chunks), and only then lets the
//! ShinyBackup go. A backup that never completed has nothing of its own to delete (the
//! server's retention sweeps incomplete leftovers); an instance that is gone cannot delete
//! anything, and the objects are kept, with a warning event saying so.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::connect::admin_client;
use crate::build::Names;
use crate::controller::Context;
use crate::crd::{BackupPhase, ShinyBackup, ShinyDB};
use crate::error::Error;

/// The finalizer a user puts on a ShinyBackup so that deleting it deletes the backup's
/// objects from the store too.
pub const DELETE_OBJECTS_FINALIZER: &str = "shinydb.io/delete-objects";
/// How soon a deletion the server could not do is tried again.
const RETRY: Duration = Duration::from_secs(15);
/// Events' action.
const ACTION: &str = "DeleteBackup";

/// Whether `backup` is being deleted and waits on [`DELETE_OBJECTS_FINALIZER`].
pub fn awaits_deletion(backup: &ShinyBackup) -> bool {
    backup.metadata.deletion_timestamp.is_some()
        && backup
            .finalizers()
            .iter()
            .any(|f| f == DELETE_OBJECTS_FINALIZER)
}

/// Deletes the objects of `backup` (being deleted, with the finalizer) through its
/// instance's server, then removes the finalizer.
pub async fn delete_objects(backup: &ShinyBackup, ctx: &Context) -> Result<Action, Error> {
    let ns = backup.namespace().unwrap_or_default();
    let status = backup.status.clone().unwrap_or_default();
    let id = status
        .backup_id
        .filter(|_| status.phase == Some(BackupPhase::Completed));
    let Some(id) = id else {
        return release(backup, ctx).await;
    };
    let instance = &backup.spec.instance;
    let dbs: Api<ShinyDB> = Api::namespaced(ctx.client.clone(), &ns);
    let db = dbs.get_opt(instance).await.map_err(|source| Error::Fetch {
        what: format!("ShinyDB {instance}"),
        source,
    })?;
    let Some(db) = db else {
        let note = format!(
            "ShinyDB {instance} is gone: backup {id} stays in the store (delete it there, or \
             through another instance on that store)"
        );
        publish(ctx, backup, EventType::Warning, "BackupObjectsKept", note).await;
        return release(backup, ctx).await;
    };
    let names = Names::of(&db)?;
    let answer =
        match admin_client(&ctx.client, &db, &names, 0, Some(Duration::from_secs(60))).await {
            Ok(client) => client.delete_backup(&id).await.map_err(Gone::from),
            Err(e) => Err(Gone::No(e.to_string())),
        };
    match answer {
        Ok(objects) => {
            let note = format!("deleted backup {id} from the store ({objects} objects)");
            publish(ctx, backup, EventType::Normal, "BackupObjectsDeleted", note).await;
        }
        Err(Gone::Already) => {
            info!(%id, "the backup's objects were gone already");
        }
        Err(Gone::No(e)) => {
            let note = format!(
                "cannot delete backup {id} from the store yet ({e}); retrying (remove the \
                 finalizer {DELETE_OBJECTS_FINALIZER} to keep its objects)"
            );
            warn!(%id, error = %e, "deleting a backup's objects failed");
            publish(
                ctx,
                backup,
                EventType::Warning,
                "BackupObjectsNotDeleted",
                note,
            )
            .await;
            return Ok(Action::requeue(RETRY));
        }
    }
    release(backup, ctx).await
}

/// Why the server did not delete a backup.
enum Gone {
    /// It holds no such backup: nothing left to delete.
    Already,
    /// It could not (unreachable, the store refused), in words.
    No(String),
}

impl From<shinydb_client::Error> for Gone {
    fn from(e: shinydb_client::Error) -> Gone {
        match e {
            shinydb_client::Error::Server {
                code: shinydb_client::Code::NotFound,
                ..
            } => Gone::Already,
            other => Gone::No(other.to_string()),
        }
    }
}

/// Removes the finalizer: the API server then deletes the ShinyBackup.
async fn release(backup: &ShinyBackup, ctx: &Context) -> Result<Action, Error> {
    let name = backup.name_any();
    let kept: Vec<&String> = backup
        .finalizers()
        .iter()
        .filter(|f| *f != DELETE_OBJECTS_FINALIZER)
        .collect();
    // Conditional on the version read, so another finalizer added meanwhile is not dropped.
    let patch = json!({"metadata": {
        "finalizers": kept,
        "resourceVersion": backup.resource_version(),
    }});
    let api: Api<ShinyBackup> =
        Api::namespaced(ctx.client.clone(), &backup.namespace().unwrap_or_default());
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::Apply {
            what: format!("removing the finalizer of ShinyBackup {name}"),
            source,
        })?;
    Ok(Action::await_change())
}

async fn publish(
    ctx: &Context,
    backup: &ShinyBackup,
    type_: EventType,
    reason: &str,
    note: String,
) {
    ctx.publish(&backup.object_ref(&()), type_, reason, ACTION, note)
        .await;
}
