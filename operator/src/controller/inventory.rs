//! The inventory step: complete backups in the instance's store that no ShinyBackup holds
//! (their resources were deleted, or the namespace was, or another cluster took them under
//! the same prefix) become read-only ShinyBackups labelled [`DISCOVERED_LABEL`], Completed
//! with what their manifests say, so the inventory can be rebuilt from the bucket alone.
//!
//! The store is listed only when its server counts more complete backups than the
//! instance's ShinyBackups hold (listing reads every manifest). A backup tagged with the uid
//! of an existing ShinyBackup is that one's, even before it records it (it ran while the
//! operator was down), and untagged ones (servers without tags) wait until none is unfinished.

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use kube::api::PostParams;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use shinydb_client::proto::{BackupStatusResponse, BackupSummary};
use tracing::{info, warn};

use super::dereference::backups_of;
use super::reconcile::Context;
use super::schedules::INSTANCE_LABEL;
use super::write_status_of;
use crate::backup::admin_client;
use crate::build::Names;
use crate::crd::{BackupPhase, ShinyBackup, ShinyBackupStatus, ShinyDB};
use crate::error::Error;

/// Label of a ShinyBackup made from a backup found in the store: the backup reconciler never
/// starts it.
pub const DISCOVERED_LABEL: &str = "shinydb.io/discovered";
/// How long the server may take to list its store.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// Makes the ShinyBackups missing for `db`'s complete backups, when its server (`server`)
/// counts more than its ShinyBackups hold.
pub async fn run(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    server: Option<&Result<BackupStatusResponse, String>>,
) -> Result<(), Error> {
    let Some(Ok(status)) = server else {
        return Ok(());
    };
    let api: Api<ShinyBackup> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let mine = backups_of(&ctx.client, &names.namespace, &names.instance).await?;
    let held = Held::of(&mine);
    if status.backups as usize <= held.ids.len() {
        return Ok(());
    }
    let listed = async {
        let client = admin_client(&ctx.client, db, names, 0, Some(LIST_TIMEOUT))
            .await
            .map_err(|e| e.to_string())?;
        client.list_backups().await.map_err(|e| e.to_string())
    };
    let listed = match listed.await {
        Ok(listed) => listed,
        Err(e) => {
            warn!(error = %e, "cannot list the store's backups for the inventory");
            return Ok(());
        }
    };
    for summary in unheld(&listed, &held) {
        discover(ctx, db, names, &api, summary).await?;
    }
    Ok(())
}

/// What the instance's ShinyBackups hold, or may still claim.
#[derive(Debug, Default)]
pub struct Held {
    /// The backup ids they hold.
    pub ids: HashSet<String>,
    /// Their uids: a backup tagged with one is that ShinyBackup's, even before it records it.
    pub uids: HashSet<String>,
    /// Whether one has not finished: it may still claim an untagged backup (from a server
    /// without tags) by its start time.
    pub unfinished: bool,
}

impl Held {
    /// What `backups` hold.
    pub fn of(backups: &[ShinyBackup]) -> Held {
        Held {
            ids: backups
                .iter()
                .filter_map(|b| b.status.as_ref()?.backup_id.clone())
                .collect(),
            uids: backups.iter().filter_map(ResourceExt::uid).collect(),
            unfinished: backups.iter().any(|b| {
                !matches!(
                    b.status.as_ref().and_then(|s| s.phase),
                    Some(BackupPhase::Completed | BackupPhase::Failed)
                )
            }),
        }
    }
}

/// The complete backups in `listed` that no ShinyBackup holds or may still claim.
pub fn unheld<'a>(listed: &'a [BackupSummary], held: &Held) -> Vec<&'a BackupSummary> {
    listed
        .iter()
        .filter(|b| b.state == "complete" && !held.ids.contains(&b.id))
        .filter(|b| {
            if b.tag.is_empty() {
                !held.unfinished
            } else {
                !held.uids.contains(&b.tag)
            }
        })
        .collect()
}

/// The name of the ShinyBackup discovered for backup `id` of `instance`.
pub fn discovered_name(instance: &str, id: &str) -> String {
    format!("{instance}-{}", id.to_ascii_lowercase())
}

/// The status a ShinyBackup found in the store has: Completed, as its manifest says.
pub fn discovered_status(summary: &BackupSummary) -> ShinyBackupStatus {
    let at = |ms: i64| {
        Timestamp::from_millisecond(ms)
            .ok()
            .filter(|_| ms > 0)
            .map(|t| t.to_string())
    };
    ShinyBackupStatus {
        phase: Some(BackupPhase::Completed),
        message: Some(format!(
            "found in the store: backup {} had no ShinyBackup",
            summary.id
        )),
        backup_id: Some(summary.id.clone()),
        started_at: at(summary.started_at_ms),
        completed_at: at(summary.ended_at_ms),
        seq: Some(summary.seq),
        raw_bytes: Some(summary.raw_bytes),
        stored_bytes: Some(summary.stored_bytes),
        ..ShinyBackupStatus::default()
    }
}

/// Creates the read-only ShinyBackup of `summary`, then its status.
async fn discover(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    api: &Api<ShinyBackup>,
    summary: &BackupSummary,
) -> Result<(), Error> {
    let name = discovered_name(&names.instance, &summary.id);
    let body: ShinyBackup = serde_json::from_value(json!({
        "apiVersion": ShinyBackup::api_version(&()),
        "kind": ShinyBackup::kind(&()),
        "metadata": {
            "name": name,
            "namespace": names.namespace,
            "labels": {INSTANCE_LABEL: names.instance, DISCOVERED_LABEL: "true"},
        },
        "spec": {"instance": names.instance},
    }))
    .map_err(|source| Error::Serialize {
        kind: "ShinyBackup",
        source,
    })?;
    let created = match api.create(&PostParams::default(), &body).await {
        Ok(created) => created,
        // Made by an earlier pass whose status write failed: write it now.
        Err(kube::Error::Api(e)) if e.code == 409 => match api.get_opt(&name).await {
            Ok(Some(existing)) if existing.status.is_none() => existing,
            _ => return Ok(()),
        },
        Err(source) => {
            return Err(Error::Apply {
                what: format!("creating ShinyBackup {name} of {}", db.name_any()),
                source,
            });
        }
    };
    write_status_of(api, &created, None, &discovered_status(summary)).await?;
    info!(backup = %summary.id, %name, "a backup found in the store has a ShinyBackup again");
    ctx.publish(
        &db.object_ref(&()),
        EventType::Normal,
        "BackupDiscovered",
        "Inventory",
        format!(
            "backup {} in the store had no ShinyBackup: created {name}",
            summary.id
        ),
    )
    .await;
    Ok(())
}
