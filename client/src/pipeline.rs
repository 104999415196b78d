//! The pipelined stream: a background task per connection multiplexes the operations of
//! concurrent callers over one `Pipeline/Stream`, tagging each with an id; a reader task
//! hands each response to the caller waiting for its id. Concurrent callers' operations are in
//! flight together.
//!
//! When the stream breaks, every operation in flight fails with `Unavailable` marked
//! [`Applied::Maybe`]; the next operation opens a new stream. Failing to open a stream fails
//! only the operation that tried, marked [`Applied::No`].

use std::{collections::HashMap, sync::Arc};

use parking_lot::Mutex;
use shinydb_proto::v1::{
    PipelineRequest, PipelineResponse, QueryChunk, pipeline_client::PipelineClient,
    pipeline_request::Op, pipeline_response::Result as R,
};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Streaming, transport::Channel};

use crate::{
    bearer::BearerToken,
    error::{Applied, Error, Result},
    transport::Staleness,
};

/// Operations queued for the writer task, at most.
const QUEUE: usize = 1024;
/// Chunks of one query result buffered before the reader waits for the caller.
const CHUNK_BUFFER: usize = 16;

/// Where the responses to one request go.
enum Waiter {
    /// One response.
    One(oneshot::Sender<Result<R>>),
    /// A stream of query chunks.
    Chunks(mpsc::Sender<Result<QueryChunk>>),
}

struct Command {
    op: Op,
    timeout_ms: u32,
    waiter: Waiter,
}

/// The requests in flight on one stream; `closed` once its reader has failed them all.
#[derive(Default)]
struct InFlight {
    waiters: HashMap<u64, Waiter>,
    closed: bool,
}

/// A handle to one connection's pipelined stream (cheap to clone).
#[derive(Clone)]
pub(crate) struct Pipeline {
    tx: mpsc::Sender<Command>,
}

impl Pipeline {
    /// Starts the writer task for `channel`; its streams carry `bound`, the staleness a
    /// follower's answers may have (the server checks it per operation).
    pub(crate) fn start(channel: Channel, auth: Arc<BearerToken>, bound: Staleness) -> Pipeline {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(channel, auth, bound, rx));
        Pipeline { tx }
    }

    /// Sends one operation and waits for its response.
    pub(crate) async fn call(&self, op: Op, timeout_ms: u32) -> Result<R> {
        let (tx, rx) = oneshot::channel();
        self.send(Command {
            op,
            timeout_ms,
            waiter: Waiter::One(tx),
        })
        .await?;
        rx.await.unwrap_or_else(|_| Err(stream_lost()))
    }

    /// Sends a query; its chunks arrive on the returned receiver, the last one closing it.
    pub(crate) async fn query(
        &self,
        op: Op,
        timeout_ms: u32,
    ) -> Result<mpsc::Receiver<Result<QueryChunk>>> {
        let (tx, rx) = mpsc::channel(CHUNK_BUFFER);
        self.send(Command {
            op,
            timeout_ms,
            waiter: Waiter::Chunks(tx),
        })
        .await?;
        Ok(rx)
    }

    async fn send(&self, cmd: Command) -> Result<()> {
        self.tx.send(cmd).await.map_err(|_| Error::Server {
            code: Code::Unavailable,
            message: "the client's pipeline task has stopped".into(),
            applied: Applied::No,
        })
    }
}

fn stream_lost() -> Error {
    Error::Server {
        code: Code::Unavailable,
        message: "the pipelined stream broke while the operation was in flight".into(),
        applied: Applied::Maybe,
    }
}

/// One open stream: where to send requests and the table of those in flight.
struct Open {
    out: mpsc::Sender<PipelineRequest>,
    /// The credential the stream was opened with.
    token: String,
    in_flight: Arc<Mutex<InFlight>>,
}

async fn writer(
    channel: Channel,
    auth: Arc<BearerToken>,
    bound: Staleness,
    mut rx: mpsc::Receiver<Command>,
) {
    let mut next_id: u64 = 0;
    let mut open: Option<Open> = None;
    while let Some(cmd) = rx.recv().await {
        if open
            .as_ref()
            .is_none_or(|o| o.in_flight.lock().closed || !auth.is_current(&o.token))
        {
            match open_stream(&channel, &auth, &bound).await {
                Ok(o) => open = Some(o),
                Err(e) => {
                    open = None;
                    fail(cmd.waiter, e).await;
                    continue;
                }
            }
        }
        let Some(o) = open.as_ref() else { continue };
        next_id += 1;
        let id = next_id;
        let refused = {
            let mut g = o.in_flight.lock();
            if g.closed {
                Some(cmd.waiter)
            } else {
                g.waiters.insert(id, cmd.waiter);
                None
            }
        };
        if let Some(w) = refused {
            fail(w, stream_not_sent()).await;
            continue;
        }
        let req = PipelineRequest {
            id,
            timeout_ms: cmd.timeout_ms,
            op: Some(cmd.op),
        };
        if o.out.send(req).await.is_err() {
            let waiter = o.in_flight.lock().waiters.remove(&id);
            if let Some(w) = waiter {
                fail(w, stream_not_sent()).await;
            }
        }
    }
}

fn stream_not_sent() -> Error {
    Error::Server {
        code: Code::Unavailable,
        message: "the pipelined stream closed before the operation was sent".into(),
        applied: Applied::No,
    }
}

async fn fail(w: Waiter, e: Error) {
    match w {
        Waiter::One(tx) => {
            let _ = tx.send(Err(e));
        }
        Waiter::Chunks(tx) => {
            let _ = tx.send(Err(e)).await;
        }
    }
}

async fn open_stream(channel: &Channel, auth: &BearerToken, bound: &Staleness) -> Result<Open> {
    let (out, out_rx) = mpsc::channel(QUEUE);
    let mut request = tonic::Request::new(ReceiverStream::new(out_rx));
    let mut token = auth.bearer(channel).await?;
    auth.apply(&token, request.metadata_mut())?;
    bound.apply(request.metadata_mut());
    let mut client = PipelineClient::new(channel.clone())
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let inbound = match client.stream(request).await {
        Ok(r) => r.into_inner(),
        Err(s) if s.code() == Code::Unauthenticated && auth.can_refresh() => {
            // The session expired: log in again once.
            token = auth.refresh(channel, &token).await?;
            let (out2, out_rx2) = mpsc::channel(QUEUE);
            let mut request = tonic::Request::new(ReceiverStream::new(out_rx2));
            auth.apply(&token, request.metadata_mut())?;
            bound.apply(request.metadata_mut());
            let inbound = client
                .stream(request)
                .await
                .map_err(|s| Error::from_status(&s, Applied::No))?
                .into_inner();
            return Ok(spawn_reader(out2, token, inbound));
        }
        Err(s) => return Err(Error::from_status(&s, Applied::No)),
    };
    Ok(spawn_reader(out, token, inbound))
}

fn spawn_reader(
    out: mpsc::Sender<PipelineRequest>,
    token: String,
    inbound: Streaming<PipelineResponse>,
) -> Open {
    let in_flight = Arc::new(Mutex::new(InFlight::default()));
    tokio::spawn(reader(inbound, Arc::clone(&in_flight)));
    Open {
        out,
        token,
        in_flight,
    }
}

async fn reader(mut inbound: Streaming<PipelineResponse>, in_flight: Arc<Mutex<InFlight>>) {
    let end = loop {
        match inbound.message().await {
            Ok(Some(resp)) => deliver(&in_flight, resp).await,
            Ok(None) => break stream_lost(),
            Err(s) => {
                break Error::Server {
                    code: crate::error::transport_code(&s),
                    message: format!("the pipelined stream ended: {}", s.message()),
                    applied: Applied::Maybe,
                };
            }
        }
    };
    let waiters: Vec<Waiter> = {
        let mut g = in_flight.lock();
        g.closed = true;
        g.waiters.drain().map(|(_, w)| w).collect()
    };
    if !waiters.is_empty() {
        tracing::debug!(in_flight = waiters.len(), error = %end, "pipelined stream lost");
    }
    for w in waiters {
        fail(w, end.clone()).await;
    }
}

async fn deliver(in_flight: &Mutex<InFlight>, resp: PipelineResponse) {
    let id = resp.id;
    let waiter = {
        let mut g = in_flight.lock();
        if resp.more {
            // Keep the waiter for the chunks still to come.
            match g.waiters.get(&id) {
                Some(Waiter::Chunks(tx)) => Some(Waiter::Chunks(tx.clone())),
                _ => None,
            }
        } else {
            g.waiters.remove(&id)
        }
    };
    let Some(waiter) = waiter else {
        tracing::warn!(id, "a pipelined response for no request in flight");
        return;
    };
    let result = match resp.result {
        Some(R::Error(e))
            if !e.leader.is_empty() && Code::from_i32(e.code) == Code::FailedPrecondition =>
        {
            Err(Error::NotLeader {
                message: e.message,
                leader: e.leader,
            })
        }
        Some(R::Error(e)) => Err(Error::Server {
            code: Code::from_i32(e.code),
            message: e.message,
            applied: Applied::No,
        }),
        Some(r) => Ok(r),
        None => Err(Error::Invalid(format!(
            "the server's response to request {id} carries no result"
        ))),
    };
    match waiter {
        Waiter::One(tx) => {
            let _ = tx.send(result);
        }
        Waiter::Chunks(tx) => {
            let item = result.and_then(|r| match r {
                R::Query(c) => Ok(c),
                _ => Err(Error::Invalid(format!(
                    "the server answered query {id} with something other than a chunk"
                ))),
            });
            let _ = tx.send(item).await;
        }
    }
}
