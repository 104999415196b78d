//! The Backups service: base backups to the configured object store (global admin).

use std::sync::Arc;

use shinydb_proto::v1::{
    ArchiveGap, BackupStatusRequest, BackupStatusResponse, BackupSummary, CreateBackupRequest,
    DeleteBackupRequest, DeleteBackupResponse, ListBackupsRequest, ListBackupsResponse,
    StoreDocuments, VerifyBackupRequest, VerifyBackupResponse, backups_server,
};
use tonic::{Request, Response, Status};

use crate::{
    auth::Access,
    backup::{BackupError, Backups, Listing, ListingState, Manifest},
    error::engine_status,
    state::State,
};

/// The gRPC Backups service.
pub struct BackupsService {
    state: State,
    backups: Arc<Backups>,
}

impl BackupsService {
    /// The service over shared state and the server's backups.
    pub fn new(state: State, backups: Arc<Backups>) -> Self {
        BackupsService { state, backups }
    }
}

#[tonic::async_trait]
impl backups_server::Backups for BackupsService {
    async fn create(
        &self,
        req: Request<CreateBackupRequest>,
    ) -> Result<Response<BackupSummary>, Status> {
        let s = &self.state;
        s.unary("Backups/Create", req, |p, r| async move {
            p.require(Access::Admin, None)?;
            let tag = req_tag(&r.tag)?;
            // Its own task: a deadline or a disconnect ends the wait, not the backup, which
            // completes (or fails) on its own and is then listed.
            let backups = Arc::clone(&self.backups);
            let m = tokio::spawn(async move { backups.create(tag).await })
                .await
                .map_err(|e| Status::internal(format!("the backup task failed: {e}")))?
                .map_err(status)?;
            Ok(summary(&m))
        })
        .await
    }

    async fn list(
        &self,
        req: Request<ListBackupsRequest>,
    ) -> Result<Response<ListBackupsResponse>, Status> {
        let s = &self.state;
        s.unary("Backups/List", req, |p, _r| async move {
            p.require(Access::Admin, None)?;
            let all = self.backups.list().await.map_err(status)?;
            Ok(ListBackupsResponse {
                backups: all.iter().map(listing).collect(),
            })
        })
        .await
    }

    async fn verify(
        &self,
        req: Request<VerifyBackupRequest>,
    ) -> Result<Response<VerifyBackupResponse>, Status> {
        let s = &self.state;
        s.unary("Backups/Verify", req, |p, r| async move {
            p.require(Access::Admin, None)?;
            let v = self.backups.verify(&r.id, r.deep).await.map_err(status)?;
            Ok(VerifyBackupResponse {
                chunks: v.chunks,
                raw_bytes: v.raw_bytes,
                opened: v.opened,
            })
        })
        .await
    }

    async fn delete(
        &self,
        req: Request<DeleteBackupRequest>,
    ) -> Result<Response<DeleteBackupResponse>, Status> {
        let s = &self.state;
        s.unary("Backups/Delete", req, |p, r| async move {
            p.require(Access::Admin, None)?;
            let objects = self.backups.delete(&r.id).await.map_err(status)?;
            Ok(DeleteBackupResponse { objects })
        })
        .await
    }

    async fn status(
        &self,
        req: Request<BackupStatusRequest>,
    ) -> Result<Response<BackupStatusResponse>, Status> {
        let s = &self.state;
        s.unary("Backups/Status", req, |p, _r| async move {
            p.require(Access::Admin, None)?;
            let store = self.backups.store();
            // Without a store there is nothing to list; a store that cannot be listed is
            // reported in `last_error` rather than failing the whole answer.
            let (listed, list_error) = match store {
                None => (Vec::new(), None),
                Some(_) => match self.backups.list().await {
                    Ok(l) => (l, None),
                    Err(e) => (Vec::new(), Some(e.to_string())),
                },
            };
            let mut r = backup_status(
                &self.backups,
                store,
                self.backups.visible_seq(),
                &listed,
                crate::auth::now_ms(),
            );
            if let Some(e) = list_error {
                r.last_error = e;
            }
            Ok(r)
        })
        .await
    }
}

fn summary(m: &Manifest) -> BackupSummary {
    BackupSummary {
        id: m.id.clone(),
        state: "complete".into(),
        seq: m.seq,
        started_at_ms: m.started_at_ms,
        ended_at_ms: m.ended_at_ms,
        raw_bytes: m.raw_bytes(),
        stored_bytes: m.stored_bytes(),
        tag: m.tag.clone(),
        stores: m
            .stores
            .iter()
            .map(|s| StoreDocuments {
                space: s.space.clone(),
                store: s.store.clone(),
                documents: s.documents,
            })
            .collect(),
    }
}

/// The longest tag a backup may be asked with.
const MAX_TAG: usize = 253;

/// `tag` if it is a backup's valid tag: printable ASCII, at most [`MAX_TAG`] characters.
fn req_tag(tag: &str) -> Result<String, Status> {
    if tag.len() > MAX_TAG || !tag.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Status::invalid_argument(format!(
            "tag: at most {MAX_TAG} printable ASCII characters without spaces, got {:?}",
            tag.chars().take(40).collect::<String>()
        )));
    }
    Ok(tag.to_string())
}

fn listing(l: &Listing) -> BackupSummary {
    match (&l.manifest, l.state) {
        (Some(m), ListingState::Complete) => summary(m),
        _ => BackupSummary {
            id: l.id.clone(),
            state: "incomplete".into(),
            ..BackupSummary::default()
        },
    }
}

/// What `Backups/Status` answers: the archiver's state and the recoverable range.
fn backup_status(
    backups: &Backups,
    store: Option<&str>,
    visible_seq: u64,
    listed: &[Listing],
    now_ms: i64,
) -> BackupStatusResponse {
    let pinned: Vec<i64> = listed
        .iter()
        .filter_map(|l| l.manifest.as_ref())
        .map(Manifest::pinned_at)
        .collect();
    let running = backups.running();
    let backup_running = running.is_some();
    let running = running.unwrap_or_default();
    let mut r = BackupStatusResponse {
        backup_running,
        backup_bytes_done: running.done,
        backup_bytes_total: running.total,
        backup_tag: running.tag,
        store: store.unwrap_or_default().into(),
        visible_seq,
        backups: u32::try_from(pinned.len()).unwrap_or(u32::MAX),
        first_recoverable_ms: pinned.iter().copied().min().unwrap_or(0),
        last_recoverable_ms: pinned.iter().copied().max().unwrap_or(0),
        ..BackupStatusResponse::default()
    };
    if let Some(a) = backups.archive_status() {
        let archived_ms = i64::try_from(a.archived_commit_ms).unwrap_or(i64::MAX);
        r.archiving = true;
        r.lineage = a.lineage;
        r.archived_seq = a.archived_seq;
        r.archived_commit_time_ms = archived_ms;
        if r.backups > 0 {
            r.last_recoverable_ms = r.last_recoverable_ms.max(archived_ms);
        }
        r.archive_lag_seconds = if a.pending_since_ms > 0 {
            now_ms.saturating_sub(a.pending_since_ms) as f64 / 1000.0
        } else {
            0.0
        };
        r.last_archived_at_ms = a.last_upload_ms;
        r.archive_errors = a.errors;
        r.last_error = a.last_error.unwrap_or_default();
        r.gaps = a
            .gaps
            .iter()
            .map(|&(from, to)| ArchiveGap { from, to })
            .collect();
    }
    r
}

/// The gRPC status for a backup error: the store's problems name the store and what is wrong.
fn status(e: BackupError) -> Status {
    match e {
        BackupError::Engine(e) => engine_status(e),
        BackupError::Unreachable { .. } => Status::unavailable(e.to_string()),
        BackupError::Corrupt { .. } | BackupError::CorruptArchive { .. } => {
            Status::data_loss(e.to_string())
        }
        BackupError::Busy => Status::aborted(e.to_string()),
        BackupError::NoBackup { .. } => Status::not_found(e.to_string()),
        _ => Status::failed_precondition(e.to_string()),
    }
}
