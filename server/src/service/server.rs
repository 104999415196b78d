//! The Server service: version, uptime, statistics and the run-time log filter.

use shinydb_proto::v1::{
    InfoRequest, InfoResponse, SetLogLevelRequest, SetLogLevelResponse, StatsRequest,
    StatsResponse, server_server,
};
use tonic::{Request, Response, Status};

use crate::{
    auth::{Access, store::SYSTEM_SPACE},
    state::State,
};

/// The server's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The gRPC Server service.
pub struct ServerService {
    state: State,
}

impl ServerService {
    /// The service over shared state.
    pub fn new(state: State) -> Self {
        ServerService { state }
    }
}

#[tonic::async_trait]
impl server_server::Server for ServerService {
    async fn info(&self, req: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let s = &self.state;
        s.unary("Server/Info", req, |_p, _r| async move {
            Ok(InfoResponse {
                version: VERSION.into(),
                uptime_seconds: s.started.elapsed().as_secs(),
                role: "standalone".into(),
                tls: s.tls,
            })
        })
        .await
    }

    async fn stats(&self, req: Request<StatsRequest>) -> Result<Response<StatsResponse>, Status> {
        let s = &self.state;
        s.unary("Server/Stats", req, |p, _r| async move {
            p.require(Access::Admin, None)?;
            let st = s.db.stats();
            Ok(StatsResponse {
                visible_seq: st.visible_seq,
                checkpoint_seq: st.checkpoint_seq,
                documents: st.documents.saturating_sub(system_documents(s)),
                write_batches: st.write_batches,
                wal_syncs: st.wal_syncs,
                wal_synced_batches: st.wal_synced_batches,
                memtable_bytes: st.memtable_bytes,
                cache_hits: st.cache_hits,
                cache_misses: st.cache_misses,
                data_file_bytes: st.data_file_bytes,
                vlog_bytes: st.vlog_bytes,
                vlog_dead_bytes: st.vlog_dead_bytes,
                connections: u64::try_from(s.metrics.connections.get()).unwrap_or(0),
                sessions: s.auth.session_count() as u64,
            })
        })
        .await
    }

    async fn set_log_level(
        &self,
        req: Request<SetLogLevelRequest>,
    ) -> Result<Response<SetLogLevelResponse>, Status> {
        let s = &self.state;
        s.unary("Server/SetLogLevel", req, |p, r| async move {
            p.require(Access::Admin, None)?;
            let filter = s
                .log
                .set(&r.filter)
                .map_err(|e| Status::invalid_argument(format!("invalid log filter {e}")))?;
            Ok(SetLogLevelResponse { filter })
        })
        .await
    }
}

/// Documents of the system space (users, API keys): not user data, so not in the statistics.
fn system_documents(s: &crate::state::Shared) -> u64 {
    let snap = s.db.snapshot();
    snap.stores(SYSTEM_SPACE)
        .map(|stores| {
            stores
                .iter()
                .filter_map(|st| snap.count(SYSTEM_SPACE, &st.name).ok())
                .sum()
        })
        .unwrap_or(0)
}
