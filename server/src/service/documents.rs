//! The Documents service: reads and writes by `_id`, atomic batches and `_id`-ordered scans.
//! The operations are plain functions so the pipelined stream runs exactly the same code.

use std::ops::Bound;

use bson::Bson;
use shinydb_engine::{Write, WriteResult};
use shinydb_proto::v1::{
    BatchRequest, BatchResponse, DeleteRequest, DeleteResponse, GetRequest, GetResponse,
    InsertRequest, InsertResponse, ReplaceRequest, ReplaceResponse, ScanRequest, ScanResponse,
    UpdateRequest, UpdateResponse, documents_server,
};
use tonic::{Request, Response, Status};

use super::convert::{doc_from, id_from, id_to, outcome_to, target, update_from, write_from};
use crate::{
    auth::{Access, Principal},
    error::engine_status,
    state::{Shared, State},
};

/// Inserts documents into one store atomically.
pub async fn insert(s: &Shared, p: &Principal, r: InsertRequest) -> Result<InsertResponse, Status> {
    target(&r.space, &r.store)?;
    p.require(Access::Write, Some(&r.space))?;
    if r.documents.is_empty() {
        return Err(Status::invalid_argument(
            "documents is empty: nothing to insert",
        ));
    }
    if r.documents.len() > s.limits.max_batch_writes as usize {
        return Err(Status::resource_exhausted(format!(
            "{} documents in one insert; limits.max_batch_writes is {}",
            r.documents.len(),
            s.limits.max_batch_writes
        )));
    }
    let docs = r
        .documents
        .iter()
        .enumerate()
        .map(|(i, d)| doc_from(d, &format!("documents[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let (space, store) = (r.space, r.store);
    let ids = s
        .write(move |db| db.insert_many(&space, &store, docs))
        .await?;
    Ok(InsertResponse {
        ids: ids.iter().map(id_to).collect(),
    })
}

/// Reads one document.
pub async fn get(s: &Shared, p: &Principal, r: GetRequest) -> Result<GetResponse, Status> {
    target(&r.space, &r.store)?;
    p.require(Access::Read, Some(&r.space))?;
    let id = id_from(r.id.as_ref(), "id")?;
    // Point reads touch memory or at most a few cached pages: run them in place.
    let doc = s.db.get(&r.space, &r.store, &id).map_err(engine_status)?;
    Ok(GetResponse {
        document: doc.map(|d| d.into_bytes().into()),
    })
}

/// Sets and unsets fields of one document.
pub async fn update(s: &Shared, p: &Principal, r: UpdateRequest) -> Result<UpdateResponse, Status> {
    target(&r.space, &r.store)?;
    p.require(Access::Write, Some(&r.space))?;
    let id = id_from(r.id.as_ref(), "id")?;
    let update = update_from(&r.set, r.unset)?;
    let (space, store) = (r.space, r.store);
    let result = s
        .write(move |db| {
            db.write(vec![Write::Update {
                space,
                store,
                id,
                update,
            }])
        })
        .await?;
    match result.into_iter().next() {
        Some(WriteResult::Updated { matched, modified }) => {
            Ok(UpdateResponse { matched, modified })
        }
        other => Err(Status::internal(format!(
            "unexpected update result {other:?}"
        ))),
    }
}

/// Replaces one document.
pub async fn replace(
    s: &Shared,
    p: &Principal,
    r: ReplaceRequest,
) -> Result<ReplaceResponse, Status> {
    target(&r.space, &r.store)?;
    p.require(Access::Write, Some(&r.space))?;
    let id = id_from(r.id.as_ref(), "id")?;
    let doc = doc_from(&r.document, "document")?;
    let (space, store) = (r.space, r.store);
    let replaced = s
        .write(move |db| db.replace(&space, &store, id, doc))
        .await?;
    Ok(ReplaceResponse { replaced })
}

/// Deletes one document.
pub async fn delete(s: &Shared, p: &Principal, r: DeleteRequest) -> Result<DeleteResponse, Status> {
    target(&r.space, &r.store)?;
    p.require(Access::Write, Some(&r.space))?;
    let id = id_from(r.id.as_ref(), "id")?;
    let (space, store) = (r.space, r.store);
    let deleted = s.write(move |db| db.delete(&space, &store, id)).await?;
    Ok(DeleteResponse { deleted })
}

/// Applies writes to any stores atomically.
pub async fn batch(s: &Shared, p: &Principal, r: BatchRequest) -> Result<BatchResponse, Status> {
    if r.ops.is_empty() {
        return Err(Status::invalid_argument("ops is empty: nothing to write"));
    }
    if r.ops.len() > s.limits.max_batch_writes as usize {
        return Err(Status::resource_exhausted(format!(
            "{} writes in one batch; limits.max_batch_writes is {}",
            r.ops.len(),
            s.limits.max_batch_writes
        )));
    }
    let mut writes = Vec::with_capacity(r.ops.len());
    for (i, op) in r.ops.into_iter().enumerate() {
        let (space, w) = write_from(op, i)?;
        p.require(Access::Write, Some(&space))?;
        writes.push(w);
    }
    let results = s.write(move |db| db.write(writes)).await?;
    Ok(BatchResponse {
        outcomes: results.into_iter().map(outcome_to).collect(),
    })
}

/// Reads one page of documents in `_id` order.
pub async fn scan(s: &Shared, p: &Principal, r: ScanRequest) -> Result<ScanResponse, Status> {
    target(&r.space, &r.store)?;
    p.require(Access::Read, Some(&r.space))?;
    let start = match &r.start {
        Some(id) => Some(id_from(Some(id), "start")?),
        None => None,
    };
    let max = s.limits.max_page_documents as usize;
    let limit = if r.limit == 0 {
        max
    } else {
        (r.limit as usize).min(max)
    };
    // Leave room for the envelope: a page stops growing at half the message limit.
    let byte_budget = usize::try_from(s.limits.max_message_size.0 / 2).unwrap_or(usize::MAX);
    s.read(move |db| {
        let snap = db.snapshot();
        let (lo, hi) = match (&start, r.reverse) {
            (None, _) => (Bound::Unbounded, Bound::Unbounded),
            (Some(id), false) => (Bound::Included(id), Bound::Unbounded),
            (Some(id), true) => (Bound::Unbounded, Bound::Included(id)),
        };
        let iter = snap
            .scan_ids(&r.space, &r.store, lo, hi, r.reverse)
            .map_err(engine_status)?;
        let mut documents = Vec::new();
        let mut bytes = 0usize;
        let mut next = None;
        for doc in iter {
            let doc = doc.map_err(engine_status)?;
            if documents.len() >= limit || (bytes > 0 && bytes + doc.as_bytes().len() > byte_budget)
            {
                let id = doc
                    .get("_id")
                    .ok()
                    .flatten()
                    .and_then(|v| Bson::try_from(v.to_raw_bson()).ok());
                next = id.as_ref().map(id_to);
                break;
            }
            bytes += doc.as_bytes().len();
            documents.push(doc.into_bytes().into());
        }
        Ok(ScanResponse { documents, next })
    })
    .await
}

/// The gRPC Documents service.
pub struct DocumentsService {
    state: State,
}

impl DocumentsService {
    /// The service over shared state.
    pub fn new(state: State) -> Self {
        DocumentsService { state }
    }
}

#[tonic::async_trait]
impl documents_server::Documents for DocumentsService {
    async fn insert(
        &self,
        req: Request<InsertRequest>,
    ) -> Result<Response<InsertResponse>, Status> {
        let s = &self.state;
        s.unary("Documents/Insert", req, |p, r| async move {
            insert(s, &p, r).await
        })
        .await
    }

    async fn get(&self, req: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let s = &self.state;
        s.unary(
            "Documents/Get",
            req,
            |p, r| async move { get(s, &p, r).await },
        )
        .await
    }

    async fn update(
        &self,
        req: Request<UpdateRequest>,
    ) -> Result<Response<UpdateResponse>, Status> {
        let s = &self.state;
        s.unary("Documents/Update", req, |p, r| async move {
            update(s, &p, r).await
        })
        .await
    }

    async fn replace(
        &self,
        req: Request<ReplaceRequest>,
    ) -> Result<Response<ReplaceResponse>, Status> {
        let s = &self.state;
        s.unary("Documents/Replace", req, |p, r| async move {
            replace(s, &p, r).await
        })
        .await
    }

    async fn delete(
        &self,
        req: Request<DeleteRequest>,
    ) -> Result<Response<DeleteResponse>, Status> {
        let s = &self.state;
        s.unary("Documents/Delete", req, |p, r| async move {
            delete(s, &p, r).await
        })
        .await
    }

    async fn batch(&self, req: Request<BatchRequest>) -> Result<Response<BatchResponse>, Status> {
        let s = &self.state;
        s.unary("Documents/Batch", req, |p, r| async move {
            batch(s, &p, r).await
        })
        .await
    }

    async fn scan(&self, req: Request<ScanRequest>) -> Result<Response<ScanResponse>, Status> {
        let s = &self.state;
        s.unary(
            "Documents/Scan",
            req,
            |p, r| async move { scan(s, &p, r).await },
        )
        .await
    }
}
