//! Query results and their JSON shape (what every interface prints; BSON types JSON lacks are
//! written in MongoDB relaxed extended JSON, such as `{"$oid": "..."}`).

use bson::{Bson, Document, RawDocumentBuf};
use serde_json::{Value, json};

use super::planner::Access;

/// What a query returns.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// A find: the documents, and a cursor for the next page when the page was full.
    /// JSON: an array of documents.
    Documents {
        /// The rows.
        documents: Vec<RawDocumentBuf>,
        /// Pass to `after(...)` to read the next page (present when `limit` rows were returned).
        cursor: Option<String>,
    },
    /// `count()`. JSON: `{"count": N}`.
    Count(u64),
    /// `aggregate(...)` without `groupBy`: one row of aliases (`None` when `having` removed it).
    /// JSON: an object, or `null`.
    Aggregate(Option<Document>),
    /// Group rows: group fields (re-nested) and aliases. JSON: an array of objects.
    Groups(Vec<Document>),
    /// An insert. JSON: `{"inserted": N, "ids": [...]}`.
    Inserted {
        /// The `_id` of every inserted document, in order.
        ids: Vec<Bson>,
    },
    /// `set` / `unset` / `replace`. JSON: `{"matched": M, "modified": N}`.
    Updated {
        /// Documents selected.
        matched: u64,
        /// Documents actually changed.
        modified: u64,
    },
    /// A delete. JSON: `{"deleted": N}`.
    Deleted {
        /// Documents deleted.
        deleted: u64,
    },
    /// `explain()`.
    Explain(Explain),
}

/// What `explain()` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Explain {
    /// How documents were read.
    pub access: Access,
    /// How rows were ordered: `"none"`, `"_id"`, `"index"` (read in order, stopping early),
    /// `"top-k"` (a heap of skip + limit rows) or `"sort"`.
    pub order: &'static str,
    /// The planner's estimate of documents read.
    pub estimated_docs: u64,
    /// Documents actually read from the store.
    pub docs_examined: u64,
    /// Documents that passed the filter.
    pub docs_matched: u64,
    /// Rows the query returns (or, for a write, documents it would change).
    pub returned: u64,
}

fn doc_json(d: Document) -> Value {
    Bson::Document(d).into_relaxed_extjson()
}

impl QueryResult {
    /// The JSON shape of the result.
    pub fn to_json(&self) -> Value {
        match self {
            QueryResult::Documents { documents, .. } => Value::Array(
                documents
                    .iter()
                    .map(|d| d.to_document().map_or(Value::Null, doc_json))
                    .collect(),
            ),
            QueryResult::Count(n) => json!({ "count": n }),
            QueryResult::Aggregate(row) => row.clone().map_or(Value::Null, doc_json),
            QueryResult::Groups(rows) => Value::Array(rows.iter().cloned().map(doc_json).collect()),
            QueryResult::Inserted { ids } => json!({
                "inserted": ids.len(),
                "ids": ids.iter().cloned().map(Bson::into_relaxed_extjson).collect::<Vec<_>>(),
            }),
            QueryResult::Updated { matched, modified } => {
                json!({ "matched": matched, "modified": modified })
            }
            QueryResult::Deleted { deleted } => json!({ "deleted": deleted }),
            QueryResult::Explain(e) => json!({
                "access": e.access.to_json(),
                "order": e.order,
                "estimated_docs": e.estimated_docs,
                "docs_examined": e.docs_examined,
                "docs_matched": e.docs_matched,
                "returned": e.returned,
            }),
        }
    }
}
