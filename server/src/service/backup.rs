//! The Backups service: base backups to the configured object store (global admin).

use std::sync::Arc;

use shinydb_proto::v1::{
    BackupSummary, CreateBackupRequest, DeleteBackupRequest, DeleteBackupResponse,
    ListBackupsRequest, ListBackupsResponse, VerifyBackupRequest, VerifyBackupResponse,
    backups_server,
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
        s.unary("Backups/Create", req, |p, _r| async move {
            p.require(Access::Admin, None)?;
            // Its own task: a deadline or a disconnect ends the wait, not the backup, which
            // completes (or fails) on its own and is then listed.
            let backups = Arc::clone(&self.backups);
            let m = tokio::spawn(async move { backups.create().await })
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
    }
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

/// The gRPC status for a backup error: the store's problems name the store and what is wrong.
fn status(e: BackupError) -> Status {
    match e {
        BackupError::Engine(e) => engine_status(e),
        BackupError::Unreachable { .. } => Status::unavailable(e.to_string()),
        BackupError::Corrupt { .. } => Status::data_loss(e.to_string()),
        BackupError::Busy => Status::aborted(e.to_string()),
        BackupError::NoBackup { .. } => Status::not_found(e.to_string()),
        _ => Status::failed_precondition(e.to_string()),
    }
}
