//! What the executor needs from the storage engine: reading one store in one consistent snapshot
//! ([`StoreSource`]) and applying writes to it ([`StoreWriter`]).

use bson::{Bson, Document, RawDocumentBuf};

use super::error::QueryError;
use crate::value::FieldPath;

/// A stream of documents.
pub type DocStream<'a> = Box<dyn Iterator<Item = Result<RawDocumentBuf, QueryError>> + 'a>;

/// A secondary index and its statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSummary {
    /// The index's name (what [`StoreSource::index_scan`] takes).
    pub name: String,
    /// The indexed paths, in key order (a compound index has several).
    pub fields: Vec<FieldPath>,
    /// Whether the index enforces unique values.
    pub unique: bool,
    /// Number of entries (about one per document).
    pub entries: u64,
    /// Number of distinct values of the first field (at least 1 when there are entries).
    pub distinct_first: u64,
}

/// One end of an index range, on a prefix of the index's fields.
///
/// Only the first `values.len()` fields of each key are compared with the bound (in
/// [`crate::value::compare`] order, a missing field as null):
/// - lower bound: key prefix `>= values` when `inclusive`, `> values` otherwise;
/// - upper bound: key prefix `<= values` when `inclusive`, `< values` otherwise.
///
/// So `[289]` inclusive as both bounds selects every key whose first field equals 289, whatever
/// the following fields hold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IndexBound {
    /// Values for the first fields of the index.
    pub values: Vec<Bson>,
    /// Whether keys equal to the bound are included.
    pub inclusive: bool,
}

/// What the query executor needs from one store in one consistent snapshot.
pub trait StoreSource {
    /// Every document, in `_id` order.
    fn scan(&self) -> Result<DocStream<'_>, QueryError>;

    /// The document with this `_id` (ids that compare equal, such as `3` and `3.0`, are the
    /// same id).
    fn get(&self, id: &Bson) -> Result<Option<RawDocumentBuf>, QueryError>;

    /// The secondary indexes on this store.
    fn indexes(&self) -> Vec<IndexSummary>;

    /// The documents whose index key lies between the bounds (`None` = unbounded), in index
    /// order: by key in [`crate::value::compare`] order (missing values as null), then by
    /// `_id`; `reverse` gives exactly the opposite order.
    fn index_scan(
        &self,
        index: &str,
        lower: Option<&IndexBound>,
        upper: Option<&IndexBound>,
        reverse: bool,
    ) -> Result<DocStream<'_>, QueryError>;

    /// The number of documents in the store (exact or estimated).
    fn count(&self) -> u64;
}

/// One change, as part of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Insert a new document (the writer assigns an `_id` when it has none).
    Insert(Document),
    /// Replace the document with this `_id` by `document` (which holds the same `_id`). Updates
    /// (`set` / `unset`) arrive as replacements: the executor computes the new document with the
    /// same path rules the filters use, which is also how it knows whether anything changed.
    Replace {
        /// The document's `_id`.
        id: Bson,
        /// The complete new document.
        document: Document,
    },
    /// Delete the document with this `_id`.
    Delete {
        /// The document's `_id`.
        id: Bson,
    },
}

/// Applies writes to one store.
pub trait StoreWriter {
    /// Applies every operation, atomically (all or nothing), after the reads of the same query.
    /// Returns the `_id` of each inserted document, in order.
    fn apply(&mut self, ops: Vec<WriteOp>) -> Result<Vec<Bson>, QueryError>;
}
