//! The pipelined stream: many document operations and queries in flight on one bidirectional
//! stream.
//!
//! The stream is authenticated once from its metadata; each operation re-checks that the
//! credential is still valid and uses the user's current roles. Every request is handled on its
//! own task as soon as it arrives, so a slow write (waiting for its group-commit sync) never
//! holds back the reads behind it; responses go out in completion order, tagged with the
//! request's id. At most `limits.max_in_flight_per_stream` operations run at once: past that
//! the server stops reading the stream, and HTTP/2 flow control pushes back on the client.
//!
//! On shutdown the stream stops reading, lets the operations in flight finish and send their
//! responses, then ends with `UNAVAILABLE`.

use std::{pin::Pin, sync::Arc, time::Instant};

use futures::Stream;
use shinydb_proto::v1::{
    self, PipelineRequest, PipelineResponse, pipeline_request::Op, pipeline_response::Result as R,
    pipeline_server,
};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, debug_span};

use super::{documents, query};
use crate::{
    auth::Principal,
    replication::{LEADER_HEADER, MAX_STALENESS_HEADER, staleness_bound},
    state::{Shared, State, rpc_span, stopped, with_deadline},
};

type Outbound = mpsc::Sender<Result<PipelineResponse, Status>>;

/// The gRPC Pipeline service.
pub struct PipelineService {
    state: State,
}

impl PipelineService {
    /// The service over shared state.
    pub fn new(state: State) -> Self {
        PipelineService { state }
    }
}

/// The status a failed read of the request stream ends it with.
pub fn inbound_error(e: Status) -> Status {
    if e.code() == tonic::Code::OutOfRange && e.message().contains("message length too large") {
        return Status::resource_exhausted(format!(
            "a request is larger than limits.max_message_size: {}",
            e.message()
        ));
    }
    if e.code() == tonic::Code::Internal && e.message().contains("failed to decode Protobuf") {
        return Status::invalid_argument(format!(
            "malformed request: not a valid PipelineRequest: {}",
            e.message()
        ));
    }
    e
}

#[tonic::async_trait]
impl pipeline_server::Pipeline for PipelineService {
    type StreamStream = Pin<Box<dyn Stream<Item = Result<PipelineResponse, Status>> + Send>>;

    async fn stream(
        &self,
        req: Request<Streaming<PipelineRequest>>,
    ) -> Result<Response<Self::StreamStream>, Status> {
        let s = Arc::clone(&self.state);
        let started = Instant::now();
        let span = rpc_span("Pipeline/Stream", req.metadata());
        let p = match s.authenticate(req.metadata()) {
            Ok(p) => p,
            Err(e) => {
                s.metrics
                    .observe("Pipeline/Stream", e.code(), started.elapsed());
                return Err(e);
            }
        };
        if s.shutting_down() {
            return Err(Status::unavailable("the server is shutting down"));
        }
        span.record("user", p.user.as_str());
        // Checked when the stream opens (by admission) and again before every operation: a
        // follower may fall behind while the stream lives.
        let bound = staleness_bound(
            req.metadata()
                .get(MAX_STALENESS_HEADER)
                .map(tonic::metadata::MetadataValue::as_encoded_bytes),
        )?;
        let max = s.limits.max_in_flight_per_stream as usize;
        let (tx, rx) = mpsc::channel(max);
        let inbound = req.into_inner();
        tokio::spawn(drive(s, p, bound, inbound, tx, started).instrument(span));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn drive(
    s: State,
    p: Principal,
    bound: Option<u64>,
    mut inbound: Streaming<PipelineRequest>,
    tx: Outbound,
    started: Instant,
) {
    let max = s.limits.max_in_flight_per_stream;
    let permits = Arc::new(Semaphore::new(max as usize));
    let mut shutdown = s.shutdown.clone();
    let shutting_down =
        || Status::unavailable("the server is shutting down: retry on a new connection");
    let end: Option<Status> = loop {
        let permit = tokio::select! {
            biased;
            _ = stopped(&mut shutdown) => break Some(shutting_down()),
            permit = Arc::clone(&permits).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break None };
        let msg = tokio::select! {
            biased;
            _ = stopped(&mut shutdown) => break Some(shutting_down()),
            _ = tx.closed() => break None,
            m = inbound.message() => m,
        };
        match msg {
            Ok(Some(req)) => {
                let s = Arc::clone(&s);
                let p = p.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if matches!(req.op, Some(Op::Query(_))) {
                        handle_query(&s, &p, bound, req, &tx).await;
                    } else {
                        let resp = handle(&s, &p, bound, req).await;
                        let _ = tx.send(Ok(resp)).await;
                    }
                    drop(permit);
                });
            }
            Ok(None) => break None,
            Err(e) => break Some(inbound_error(e)),
        }
    };
    // Let the operations in flight finish and answer.
    let _ = permits.acquire_many(max).await;
    let code = end.as_ref().map_or(tonic::Code::Ok, Status::code);
    if let Some(e) = end {
        let _ = tx.send(Err(e)).await;
    }
    s.metrics
        .observe("Pipeline/Stream", code, started.elapsed());
}

fn method(op: &Option<Op>) -> &'static str {
    match op {
        Some(Op::Insert(_)) => "Pipeline/Insert",
        Some(Op::Get(_)) => "Pipeline/Get",
        Some(Op::Update(_)) => "Pipeline/Update",
        Some(Op::Replace(_)) => "Pipeline/Replace",
        Some(Op::Delete(_)) => "Pipeline/Delete",
        Some(Op::Batch(_)) => "Pipeline/Batch",
        Some(Op::Scan(_)) => "Pipeline/Scan",
        Some(Op::Query(_)) => "Pipeline/Query",
        None => "Pipeline/Empty",
    }
}

async fn handle(
    s: &Shared,
    p: &Principal,
    bound: Option<u64>,
    req: PipelineRequest,
) -> PipelineResponse {
    let started = Instant::now();
    let name = method(&req.op);
    let id = req.id;
    let deadline = s.deadline_ms(req.timeout_ms);
    let result = with_deadline(deadline, async {
        let p = s.auth.revalidate(p)?;
        if let Some(b) = bound {
            s.replication.check_staleness_bound(b)?;
        }
        match req.op {
            Some(Op::Insert(r)) => documents::insert(s, &p, r).await.map(R::Insert),
            Some(Op::Get(r)) => documents::get(s, &p, r).await.map(R::Get),
            Some(Op::Update(r)) => documents::update(s, &p, r).await.map(R::Update),
            Some(Op::Replace(r)) => documents::replace(s, &p, r).await.map(R::Replace),
            Some(Op::Delete(r)) => documents::delete(s, &p, r).await.map(R::Delete),
            Some(Op::Batch(r)) => documents::batch(s, &p, r).await.map(R::Batch),
            Some(Op::Scan(r)) => documents::scan(s, &p, r).await.map(R::Scan),
            Some(Op::Query(_)) => Err(Status::internal("queries are answered by handle_query")),
            None => Err(Status::invalid_argument(format!(
                "request {id} carries no operation"
            ))),
        }
    })
    .instrument(debug_span!("op", otel.name = name, id))
    .await;
    let code = result
        .as_ref()
        .map_or_else(Status::code, |_| tonic::Code::Ok);
    s.metrics.observe(name, code, started.elapsed());
    PipelineResponse {
        id,
        more: false,
        result: Some(result.unwrap_or_else(error_result)),
    }
}

fn error_result(e: Status) -> R {
    let leader = e
        .metadata()
        .get(LEADER_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    R::Error(v1::Error {
        code: e.code() as i32,
        message: e.message().to_string(),
        leader,
    })
}

/// Runs a query and sends its result as one response per chunk, `more` set on all but the
/// last; a failure is one error response.
async fn handle_query(
    s: &Shared,
    p: &Principal,
    bound: Option<u64>,
    req: PipelineRequest,
    tx: &Outbound,
) {
    let started = Instant::now();
    let name = "Pipeline/Query";
    let id = req.id;
    let deadline = s.deadline_ms(req.timeout_ms);
    let Some(Op::Query(r)) = req.op else { return };
    let result = with_deadline(deadline, async {
        let p = s.auth.revalidate(p)?;
        if let Some(b) = bound {
            s.replication.check_staleness_bound(b)?;
        }
        let q = query::parse(&r)?;
        query::authorize(&p, &q)?;
        let (per_chunk, budget) = query::chunk_limits(s, r.chunk_size);
        let result = query::run(s, q, deadline).await?;
        query::chunks(result, per_chunk, budget)
    })
    .instrument(debug_span!("op", otel.name = name, id))
    .await;
    let code = result
        .as_ref()
        .map_or_else(Status::code, |_| tonic::Code::Ok);
    s.metrics.observe(name, code, started.elapsed());
    match result {
        Ok(chunks) => {
            let last = chunks.len().saturating_sub(1);
            for (i, chunk) in chunks.into_iter().enumerate() {
                let resp = PipelineResponse {
                    id,
                    more: i < last,
                    result: Some(R::Query(chunk)),
                };
                if tx.send(Ok(resp)).await.is_err() {
                    return;
                }
            }
        }
        Err(e) => {
            let resp = PipelineResponse {
                id,
                more: false,
                result: Some(error_result(e)),
            };
            let _ = tx.send(Ok(resp)).await;
        }
    }
}
