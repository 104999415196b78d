//! The Replication service: followers' log streams and seeding snapshots (the
//! `replication` role), status and role changes (global admin).

use std::{pin::Pin, sync::Arc, time::Instant};

use futures::Stream;
use shinydb_proto::v1::{
    DemoteRequest, DemoteResponse, FollowRequest, FollowResponse, FollowerMessage, FollowerStatus,
    LeaderMessage, PromoteRequest, PromoteResponse, ReplicationStatusRequest,
    ReplicationStatusResponse, SnapshotChunk, SnapshotRequest, follower_message,
    replication_server,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::{
    auth::Access,
    backup::Backups,
    replication::{Replication, Role, follower, leader, seed},
    state::{PeerInfo, State, rpc_span},
};

/// The gRPC Replication service.
pub struct ReplicationService {
    state: State,
    replication: Arc<Replication>,
    /// Archiving follows the role: the leader archives its log, a follower does not.
    backups: Arc<Backups>,
}

impl ReplicationService {
    /// The service over shared state, the server's replication and its backups.
    pub fn new(state: State, replication: Arc<Replication>, backups: Arc<Backups>) -> Self {
        ReplicationService {
            state,
            replication,
            backups,
        }
    }

    fn admit<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let p = self.state.authenticate(req.metadata())?;
        p.require(Access::Replicate, None)
    }
}

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl replication_server::Replication for ReplicationService {
    type StreamStream = Boxed<LeaderMessage>;
    type SnapshotStream = Boxed<SnapshotChunk>;

    async fn stream(
        &self,
        req: Request<Streaming<FollowerMessage>>,
    ) -> Result<Response<Self::StreamStream>, Status> {
        let started = Instant::now();
        let span = rpc_span("Replication/Stream", req.metadata());
        let result = async {
            self.admit(&req)?;
            let addr = req
                .extensions()
                .get::<PeerInfo>()
                .map_or_else(String::new, |p| p.addr.to_string());
            let mut inbound = req.into_inner();
            let Some(FollowerMessage {
                kind: Some(follower_message::Kind::Start(start)),
            }) = inbound.message().await?
            else {
                return Err(Status::invalid_argument(
                    "a follower's stream must open with its StreamStart",
                ));
            };
            let from = leader::admit(&self.replication, &start).await?;
            let (tx, rx) = mpsc::channel(8);
            leader::serve(
                Arc::clone(&self.replication),
                start,
                addr,
                from,
                inbound,
                tx,
            );
            Ok(Box::pin(ReceiverStream::new(rx)) as Self::StreamStream)
        }
        .await;
        self.state
            .record_outcome("Replication/Stream", started, &span, &result);
        result.map(Response::new)
    }

    async fn snapshot(
        &self,
        req: Request<SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        let started = Instant::now();
        let span = rpc_span("Replication/Snapshot", req.metadata());
        let result = async {
            self.admit(&req)?;
            if self.replication.role() != Role::Leader {
                return Err(Status::failed_precondition(
                    "only a leader serves seeding snapshots",
                ));
            }
            let (tx, rx) = mpsc::channel(4);
            let r = Arc::clone(&self.replication);
            tokio::spawn(async move {
                let tx2 = tx.clone();
                if let Err(s) = seed::serve(r, tx).await {
                    let _ = tx2.send(Err(s)).await;
                }
            });
            Ok(Box::pin(ReceiverStream::new(rx)) as Self::SnapshotStream)
        }
        .await;
        self.state
            .record_outcome("Replication/Snapshot", started, &span, &result);
        result.map(Response::new)
    }

    async fn status(
        &self,
        req: Request<ReplicationStatusRequest>,
    ) -> Result<Response<ReplicationStatusResponse>, Status> {
        let s = &self.state;
        s.unary("Replication/Status", req, |p, _r| async move {
            p.require(Access::Admin, None)?;
            Ok(status(&self.replication))
        })
        .await
    }

    async fn promote(
        &self,
        req: Request<PromoteRequest>,
    ) -> Result<Response<PromoteResponse>, Status> {
        let s = &self.state;
        s.unary("Replication/Promote", req, |p, _r| async move {
            p.require(Access::Admin, None)?;
            let (epoch, start_seq) = self.replication.promote().await.map_err(|e| e.status())?;
            self.backups.resume_archiving();
            Ok(PromoteResponse { epoch, start_seq })
        })
        .await
    }

    async fn demote(
        &self,
        req: Request<DemoteRequest>,
    ) -> Result<Response<DemoteResponse>, Status> {
        let s = &self.state;
        s.unary("Replication/Demote", req, |p, _r| async move {
            p.require(Access::Admin, None)?;
            let last_seq = self.replication.demote().map_err(|e| e.status())?;
            self.backups.stop_archiving().await;
            Ok(DemoteResponse { last_seq })
        })
        .await
    }

    async fn follow(
        &self,
        req: Request<FollowRequest>,
    ) -> Result<Response<FollowResponse>, Status> {
        let s = &self.state;
        s.unary("Replication/Follow", req, |p, r| async move {
            p.require(Access::Admin, None)?;
            self.replication.follow(&r.leader).map_err(|e| e.status())?;
            self.backups.stop_archiving().await;
            Ok(FollowResponse {})
        })
        .await
    }
}

/// The status message.
fn status(r: &Replication) -> ReplicationStatusResponse {
    let role = r.role();
    let cfg = r.config();
    let last_seq = r.db().last_seq();
    let now_ms = crate::replication::now_ms();
    let views = r.followers.views();
    let k = cfg.sync_replicas;
    let sync_state = match (&role, k) {
        (Role::Leader, 0) => "async",
        (Role::Leader, k) if views.len() >= usize::try_from(k).unwrap_or(usize::MAX) => "sync",
        (Role::Leader, _) => "degraded",
        _ => "",
    };
    let fs = r.follower_status.lock().clone();
    let (leader, state, last_error, lag_seconds, lag_batches) = match &role {
        Role::Follower(l) => (
            l.clone(),
            fs.state.to_string(),
            fs.last_error.clone(),
            follower::lag_seconds(&fs, last_seq),
            fs.leader_seq.saturating_sub(last_seq),
        ),
        _ => (String::new(), String::new(), String::new(), 0.0, 0),
    };
    let commit_seq = r.followers.commit_seq(k, last_seq);
    ReplicationStatusResponse {
        role: role.name().into(),
        epoch: r.epoch().unwrap_or(0),
        leader,
        lineage: r.lineage().to_string(),
        last_seq,
        commit_seq: if role == Role::Leader { commit_seq } else { 0 },
        sync_replicas: k,
        sync_state: sync_state.into(),
        followers: views
            .iter()
            .map(|v| FollowerStatus {
                name: v.name.clone(),
                addr: v.addr.clone(),
                durable_seq: v.durable,
                applied_seq: v.applied,
                lag_seconds: if v.oldest_unacked_ms == 0 {
                    0.0
                } else {
                    now_ms.saturating_sub(v.oldest_unacked_ms) as f64 / 1000.0
                },
                lag_batches: last_seq.saturating_sub(v.durable),
                lag_bytes: v.unacked_bytes,
                sync: k > 0 && commit_seq > 0 && v.durable >= commit_seq,
            })
            .collect(),
        state,
        last_error,
        lag_seconds,
        lag_batches,
        seeds: r.metrics().replication_seeds.get(),
        rollbacks: r.metrics().replication_rollbacks.get(),
    }
}
