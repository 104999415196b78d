//! A handle to one store: document reads and writes over the pipelined streams.

use std::sync::Arc;

use bson::Document;
use shinydb_proto::v1::{self, pipeline_request::Op, pipeline_response::Result as R};

use crate::{
    client::Client,
    error::{Error, Result},
    id::DocId,
    resilience::Idempotency,
};

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// A document with the `_id` existed.
    pub matched: bool,
    /// Its content changed.
    pub modified: bool,
}

/// One page of a scan in `_id` order.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPage {
    /// The documents.
    pub documents: Vec<Document>,
    /// Where the next page starts; `None` when the range is exhausted.
    pub next: Option<DocId>,
}

/// A store of a space: `client.store("sales", "orders")`. Cheap to clone. Every operation
/// is one pipelined request; reads, `update`, `replace` and `delete` are retried on transient
/// errors, `insert` only when it certainly was not applied.
///
/// ```no_run
/// use shinydb_client::{Client, bson::doc};
///
/// # async fn demo(client: Client) -> Result<(), shinydb_client::Error> {
/// let users = client.store("app", "users");
/// users.insert(doc! {"_id": "u1", "name": "Ada", "age": 36}).await?;
/// let changed = users.update("u1", doc! {"age": 37}, &[]).await?;
/// assert!(changed.modified);
/// let page = users.scan(None, 100).await?;
/// println!("{} users, more: {}", page.documents.len(), page.next.is_some());
/// users.delete("u1").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    space: Arc<str>,
    store: Arc<str>,
}

fn encode(d: &Document) -> Result<bytes::Bytes> {
    let mut v = Vec::new();
    d.to_writer(&mut v)
        .map_err(|e| Error::Invalid(format!("the document cannot be encoded as BSON: {e}")))?;
    Ok(v.into())
}

fn unexpected(what: &str) -> Error {
    Error::Invalid(format!(
        "the server answered {what} with another kind of result"
    ))
}

impl Store {
    pub(crate) fn new(client: Client, space: &str, store: &str) -> Store {
        Store {
            client,
            space: space.into(),
            store: store.into(),
        }
    }

    /// The space's name.
    pub fn space(&self) -> &str {
        &self.space
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.store
    }

    fn insert_request(&self, docs: &[Document]) -> Result<v1::InsertRequest> {
        Ok(v1::InsertRequest {
            space: self.space.to_string(),
            store: self.store.to_string(),
            documents: docs.iter().map(encode).collect::<Result<_>>()?,
        })
    }

    /// Inserts one document; returns its `_id` (an ObjectId is assigned when it has none).
    pub async fn insert(&self, doc: Document) -> Result<DocId> {
        let mut v = self.insert_many(std::slice::from_ref(&doc)).await?;
        v.pop()
            .ok_or_else(|| Error::Invalid("the server returned no id for an insert".into()))
    }

    /// Inserts documents in one atomic batch; returns their ids in order.
    pub async fn insert_many(&self, docs: &[Document]) -> Result<Vec<DocId>> {
        let op = Op::Insert(self.insert_request(docs)?);
        match self
            .client
            .pipelined("insert", Idempotency::NotIdempotent, op)
            .await?
        {
            R::Insert(r) => ids(&r),
            _ => Err(unexpected("an insert")),
        }
    }

    /// The document with this `_id`, if any.
    pub async fn get(&self, id: impl Into<DocId>) -> Result<Option<Document>> {
        let op = Op::Get(v1::GetRequest {
            space: self.space.to_string(),
            store: self.store.to_string(),
            id: Some(id.into().to_proto()),
        });
        match self
            .client
            .pipelined("get", Idempotency::Idempotent, op)
            .await?
        {
            R::Get(r) => r.document.as_deref().map(crate::query::decode).transpose(),
            _ => Err(unexpected("a get")),
        }
    }

    /// Sets fields (dotted keys reach into sub-documents) and removes `unset` paths.
    pub async fn update(
        &self,
        id: impl Into<DocId>,
        set: Document,
        unset: &[&str],
    ) -> Result<UpdateOutcome> {
        let op = Op::Update(v1::UpdateRequest {
            space: self.space.to_string(),
            store: self.store.to_string(),
            id: Some(id.into().to_proto()),
            set: encode(&set)?,
            unset: unset.iter().map(std::string::ToString::to_string).collect(),
        });
        match self
            .client
            .pipelined("update", Idempotency::Idempotent, op)
            .await?
        {
            R::Update(r) => Ok(UpdateOutcome {
                matched: r.matched,
                modified: r.modified,
            }),
            _ => Err(unexpected("an update")),
        }
    }

    /// Replaces the whole body of a document; returns whether it existed.
    pub async fn replace(&self, id: impl Into<DocId>, doc: Document) -> Result<bool> {
        let op = Op::Replace(v1::ReplaceRequest {
            space: self.space.to_string(),
            store: self.store.to_string(),
            id: Some(id.into().to_proto()),
            document: encode(&doc)?,
        });
        match self
            .client
            .pipelined("replace", Idempotency::Idempotent, op)
            .await?
        {
            R::Replace(r) => Ok(r.replaced),
            _ => Err(unexpected("a replace")),
        }
    }

    /// Deletes a document; returns whether it existed.
    pub async fn delete(&self, id: impl Into<DocId>) -> Result<bool> {
        let op = Op::Delete(v1::DeleteRequest {
            space: self.space.to_string(),
            store: self.store.to_string(),
            id: Some(id.into().to_proto()),
        });
        match self
            .client
            .pipelined("delete", Idempotency::Idempotent, op)
            .await?
        {
            R::Delete(r) => Ok(r.deleted),
            _ => Err(unexpected("a delete")),
        }
    }

    /// Up to `limit` documents in `_id` order from `start` (inclusive; `None`: the first).
    /// `limit` 0 means the server's page limit.
    pub async fn scan(&self, start: Option<DocId>, limit: u32) -> Result<ScanPage> {
        self.scan_dir(start, limit, false).await
    }

    /// Like [`Store::scan`], in descending `_id` order.
    pub async fn scan_reverse(&self, start: Option<DocId>, limit: u32) -> Result<ScanPage> {
        self.scan_dir(start, limit, true).await
    }

    async fn scan_dir(&self, start: Option<DocId>, limit: u32, reverse: bool) -> Result<ScanPage> {
        let op = Op::Scan(v1::ScanRequest {
            space: self.space.to_string(),
            store: self.store.to_string(),
            start: start.map(|s| s.to_proto()),
            limit,
            reverse,
        });
        match self
            .client
            .pipelined("scan", Idempotency::Idempotent, op)
            .await?
        {
            R::Scan(r) => Ok(ScanPage {
                documents: decode_all(&r.documents)?,
                next: r.next.as_ref().map(DocId::from_proto).transpose()?,
            }),
            _ => Err(unexpected("a scan")),
        }
    }
}

/// Decodes the documents of a response.
fn decode_all(docs: &[bytes::Bytes]) -> Result<Vec<Document>> {
    docs.iter().map(|d| crate::query::decode(d)).collect()
}

/// The ids of an insert response.
fn ids(r: &v1::InsertResponse) -> Result<Vec<DocId>> {
    r.ids.iter().map(DocId::from_proto).collect()
}
