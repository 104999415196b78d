//! The backup observation step: how the instance's server says its archive and its store
//! stand (`Backups/Status`), asked of a ready server with a short timeout. A server that
//! cannot be asked leaves the backup conditions as they were.

use std::time::Duration;

use shinydb_client::proto::BackupStatusResponse;

use super::reconcile::Context;
use crate::backup::admin_client;
use crate::build::Names;
use crate::crd::ShinyDB;

/// How long the server may take to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);
/// How often an instance with backups is looked at, so a failing store or a growing archive
/// lag shows in its status within this.
pub const BACKUP_STATUS_INTERVAL: Duration = Duration::from_secs(30);

/// The server's answer, when `db` has `spec.backup` and a ready pod; `Err` names why it could
/// not be asked.
pub async fn ask(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    ready_pods: i32,
) -> Option<Result<BackupStatusResponse, String>> {
    if db.spec.backup.is_none() || ready_pods < 1 {
        return None;
    }
    let answer = async {
        let client = admin_client(&ctx.client, db, names, 0, Some(ASK_TIMEOUT))
            .await
            .map_err(|e| e.to_string())?;
        client.backup_status().await.map_err(|e| e.to_string())
    };
    Some(answer.await)
}
