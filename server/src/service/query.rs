//! The Query service: YQL text or the typed query, results streamed back in chunks; `Explain`.
//!
//! Reads run on one snapshot; a query that writes commits one atomic batch and answers once it
//! is durable. The engine returns a whole result at once, so a find without `limit` holds its
//! rows in memory; the stream cuts them into chunks of at most `limits.max_page_documents`
//! documents and half of `limits.max_message_size`.

use std::{
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use bson::RawDocumentBuf;
use bytes::Bytes;
use futures::Stream;
use shinydb_engine::{
    QueryFailure,
    query::{self, Explain, Query, QueryError, QueryResult},
};
use shinydb_proto::v1::{
    self, ExplainResponse, QueryChunk, QueryRequest, query_chunk::Result as C, query_request,
    query_server,
};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::convert::id_to;
use crate::{
    auth::{Access, Principal},
    error::engine_status,
    state::{Shared, State, rpc_span, with_deadline},
};

/// The status for a query that failed.
pub fn query_status(e: QueryFailure) -> Status {
    match e {
        QueryFailure::Engine(e) => engine_status(e),
        QueryFailure::Query(e) => query_error_status(e),
    }
}

fn query_error_status(e: QueryError) -> Status {
    match e {
        // The parse error's text is three lines: the message, the query line and a caret.
        QueryError::Parse(p) => Status::invalid_argument(p.to_string()),
        QueryError::Invalid(_)
        | QueryError::Cursor(_)
        | QueryError::Write(_)
        | QueryError::ReadOnly => Status::invalid_argument(e.to_string()),
        QueryError::DeadlineExceeded => {
            Status::deadline_exceeded("the query ran past its deadline and was stopped")
        }
        QueryError::TooManyGroups { max } => Status::resource_exhausted(format!(
            "the query makes more than {max} groups (limits.max_result_groups): narrow its \
             filter or group by fewer distinct values"
        )),
        QueryError::Storage(_) | QueryError::Bson(_) => Status::internal(e.to_string()),
    }
}

/// The typed query of a request, parsed and validated.
pub fn parse(r: &QueryRequest) -> Result<Query, Status> {
    let q = match &r.query {
        Some(query_request::Query::Yql(text)) => query::parse(text).map_err(query_error_status)?,
        Some(query_request::Query::TypedJson(json)) => {
            let q: Query = serde_json::from_str(json).map_err(|e| {
                Status::invalid_argument(format!("typed_json is not a typed query: {e}"))
            })?;
            query::validate(&q).map_err(query_error_status)?;
            q
        }
        None => {
            return Err(Status::invalid_argument(
                "query is missing: send yql or typed_json",
            ));
        }
    };
    if q.space.is_none() {
        return Err(Status::invalid_argument(format!(
            "name the space of store {0}: space.{0}",
            q.store
        )));
    }
    Ok(q)
}

/// Checks the caller may run the query: reads need `read_only`, writes `read_write` in the
/// space.
pub fn authorize(p: &Principal, q: &Query) -> Result<(), Status> {
    let access = if q.write.is_some() && !q.explain {
        Access::Write
    } else {
        Access::Read
    };
    p.require(access, q.space.as_deref())
}

/// Runs a query on a blocking thread; a read still running after `deadline` stops there.
pub async fn run(s: &Shared, q: Query, deadline: Duration) -> Result<QueryResult, Status> {
    if q.write.is_some() && !q.explain {
        s.write_query(q).await
    } else {
        let max = u64::from(s.limits.max_result_documents);
        let (q, capped) = cap_result(q, max);
        let until = std::time::Instant::now() + deadline;
        let result = s
            .read(move |db| db.query_until(&q, Some(until)).map_err(query_status))
            .await?;
        match result {
            QueryResult::Documents { documents, .. } if capped && documents.len() as u64 > max => {
                Err(Status::resource_exhausted(format!(
                    "the find matches more than {max} documents (limits.max_result_documents): \
                     ask for at most {max} with limit() and read the rest page by page with \
                     after(cursor)"
                )))
            }
            other => Ok(other),
        }
    }
}

/// A find that could return more than `max` documents is run with a limit of `max + 1`, so
/// that the engine holds at most that many (its top-k keeps only those while sorting); whether
/// it was capped so.
fn cap_result(mut q: Query, max: u64) -> (Query, bool) {
    let find = !q.is_grouped() && !q.count && !q.explain && q.id.is_none();
    if find && q.limit.is_none_or(|l| l > max) {
        q.limit = Some(max + 1);
        return (q, true);
    }
    (q, false)
}

impl Shared {
    async fn write_query(&self, q: Query) -> Result<QueryResult, Status> {
        // Writes share the write slots with the Documents service.
        let result = self.write(move |db| Ok(db.query(&q))).await?;
        result.map_err(query_status)
    }
}

fn explain_to(e: &Explain) -> ExplainResponse {
    ExplainResponse {
        access_json: e.access.to_json().to_string(),
        order: e.order.to_string(),
        estimated_docs: e.estimated_docs,
        docs_examined: e.docs_examined,
        docs_matched: e.docs_matched,
        returned: e.returned,
    }
}

fn doc_bytes(d: &bson::Document) -> Result<Bytes, Status> {
    let mut v = Vec::new();
    d.to_writer(&mut v)
        .map_err(|e| Status::internal(format!("encoding a result row: {e}")))?;
    Ok(v.into())
}

/// Cuts a list of documents into chunks of at most `per_chunk` documents and about
/// `byte_budget` bytes.
fn chunked(docs: Vec<Bytes>, per_chunk: usize, byte_budget: usize) -> Vec<Vec<Bytes>> {
    let mut out = Vec::new();
    let mut cur: Vec<Bytes> = Vec::new();
    let mut bytes = 0;
    for d in docs {
        if !cur.is_empty() && (cur.len() >= per_chunk || bytes + d.len() > byte_budget) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += d.len();
        cur.push(d);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// The chunks of a result, in order.
pub fn chunks(
    result: QueryResult,
    per_chunk: usize,
    byte_budget: usize,
) -> Result<Vec<QueryChunk>, Status> {
    let one = |r: C| {
        Ok(vec![QueryChunk {
            result: Some(r),
            cursor: None,
        }])
    };
    match result {
        QueryResult::Documents { documents, cursor } => {
            let docs = documents
                .into_iter()
                .map(|d: RawDocumentBuf| Bytes::from(d.into_bytes()))
                .collect();
            let mut out: Vec<QueryChunk> = chunked(docs, per_chunk, byte_budget)
                .into_iter()
                .map(|documents| QueryChunk {
                    result: Some(C::Documents(v1::DocumentList { documents })),
                    cursor: None,
                })
                .collect();
            if let Some(last) = out.last_mut() {
                last.cursor = cursor;
            }
            Ok(out)
        }
        QueryResult::Groups(rows) => {
            let docs = rows.iter().map(doc_bytes).collect::<Result<Vec<_>, _>>()?;
            Ok(chunked(docs, per_chunk, byte_budget)
                .into_iter()
                .map(|documents| QueryChunk {
                    result: Some(C::Groups(v1::DocumentList { documents })),
                    cursor: None,
                })
                .collect())
        }
        QueryResult::Count(n) => one(C::Count(n)),
        QueryResult::Aggregate(row) => one(C::Aggregate(v1::OptionalDocument {
            document: row.as_ref().map(doc_bytes).transpose()?,
        })),
        QueryResult::Inserted { ids } => one(C::Inserted(v1::Inserted {
            ids: ids.iter().map(id_to).collect(),
        })),
        QueryResult::Updated { matched, modified } => {
            one(C::Updated(v1::Updated { matched, modified }))
        }
        QueryResult::Deleted { deleted } => one(C::Deleted(v1::Deleted { deleted })),
        QueryResult::Explain(e) => one(C::Explain(explain_to(&e))),
    }
}

/// Documents per chunk and bytes per chunk for a requested chunk size (0: the page limit).
pub fn chunk_limits(s: &Shared, requested: u32) -> (usize, usize) {
    let max = s.limits.max_page_documents as usize;
    let per_chunk = if requested == 0 {
        max
    } else {
        (requested as usize).min(max)
    };
    let budget = usize::try_from(s.limits.max_message_size.0 / 2).unwrap_or(usize::MAX);
    (per_chunk, budget)
}

/// The gRPC Query service.
pub struct QueryService {
    state: State,
}

impl QueryService {
    /// The service over shared state.
    pub fn new(state: State) -> Self {
        QueryService { state }
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<QueryChunk, Status>> + Send>>;

#[tonic::async_trait]
impl query_server::Query for QueryService {
    type QueryStream = ChunkStream;

    async fn query(
        &self,
        req: Request<QueryRequest>,
    ) -> Result<Response<Self::QueryStream>, Status> {
        let s = Arc::clone(&self.state);
        let started = Instant::now();
        let deadline = s.deadline(req.metadata());
        let span = rpc_span("Query/Query", req.metadata());
        let result = async {
            let p = s.authenticate(req.metadata())?;
            tracing::Span::current().record("user", p.user.as_str());
            let r = req.into_inner();
            let q = parse(&r)?;
            authorize(&p, &q)?;
            let (per_chunk, budget) = chunk_limits(&s, r.chunk_size);
            let result = with_deadline(deadline, run(&s, q, deadline)).await?;
            chunks(result, per_chunk, budget)
        }
        .instrument(span.clone())
        .await;
        s.record_outcome("Query/Query", started, &span, &result);
        let chunks = result?;
        Ok(Response::new(Box::pin(futures::stream::iter(
            chunks.into_iter().map(Ok),
        ))))
    }

    async fn explain(
        &self,
        req: Request<QueryRequest>,
    ) -> Result<Response<ExplainResponse>, Status> {
        let s = &self.state;
        s.unary("Query/Explain", req, |p, r| async move {
            let mut q = parse(&r)?;
            q.explain = true;
            authorize(&p, &q)?;
            match run(s, q, s.deadline_ms(0)).await? {
                QueryResult::Explain(e) => Ok(explain_to(&e)),
                other => Err(Status::internal(format!(
                    "explain returned {other:?} instead of a plan"
                ))),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_count_and_bytes() {
        let docs: Vec<Bytes> = (0..10).map(|_| Bytes::from(vec![0u8; 100])).collect();
        let c = chunked(docs.clone(), 4, 10_000);
        assert_eq!(c.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
        let c = chunked(docs, 100, 250);
        assert_eq!(
            c.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, 2, 2, 2, 2]
        );
        assert_eq!(
            chunked(Vec::new(), 4, 10).len(),
            1,
            "an empty find sends one chunk"
        );
    }
}
