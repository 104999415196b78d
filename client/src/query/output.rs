//! Query results as the client returns them, and their JSON shape (the same as the engine's
//! and the command line's).

use bson::{Bson, Document};
use serde_json::{Value, json};
use shinydb_proto::v1::{self, query_chunk::Result as C};

use crate::{
    error::{Error, Result},
    id::DocId,
};

/// How a query ran (`explain`).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// How documents are read, as JSON.
    pub access: Value,
    /// How rows are ordered: `none`, `_id`, `index`, `top-k` or `sort`.
    pub order: String,
    /// The planner's estimate of documents read.
    pub estimated_docs: u64,
    /// Documents read from the store.
    pub docs_examined: u64,
    /// Documents that passed the filter.
    pub docs_matched: u64,
    /// Rows returned (or, for a write, documents it would change).
    pub returned: u64,
}

impl Plan {
    pub(crate) fn from_proto(e: v1::ExplainResponse) -> Plan {
        Plan {
            access: serde_json::from_str(&e.access_json).unwrap_or(Value::String(e.access_json)),
            order: e.order,
            estimated_docs: e.estimated_docs,
            docs_examined: e.docs_examined,
            docs_matched: e.docs_matched,
            returned: e.returned,
        }
    }

    /// The JSON shape of the plan.
    pub fn to_json(&self) -> Value {
        json!({
            "access": self.access,
            "order": self.order,
            "estimated_docs": self.estimated_docs,
            "docs_examined": self.docs_examined,
            "docs_matched": self.docs_matched,
            "returned": self.returned,
        })
    }
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryOutput {
    /// A find: the documents, and a cursor for `after(...)` when the page was full.
    Documents {
        /// The rows.
        documents: Vec<Document>,
        /// The next page's cursor.
        cursor: Option<String>,
    },
    /// `count()`.
    Count(u64),
    /// `aggregate(...)` without `groupBy` (`None` when `having` removed the row).
    Aggregate(Option<Document>),
    /// Group rows of `groupBy(...)`.
    Groups(Vec<Document>),
    /// The ids an insert assigned or kept.
    Inserted(Vec<DocId>),
    /// What `set`/`unset`/`replace` did.
    Updated {
        /// Documents selected.
        matched: u64,
        /// Documents changed.
        modified: u64,
    },
    /// What `delete()` did.
    Deleted(u64),
    /// The plan of an `explain()` query.
    Explain(Plan),
}

fn doc_json(d: &Document) -> Value {
    Bson::Document(d.clone()).into_relaxed_extjson()
}

/// A document the server sent. Its nesting is measured first, without recursion: a server (or
/// anything pretending to be one) cannot make the client overflow its stack.
pub(crate) fn decode(bytes: &[u8]) -> Result<Document> {
    use shinydb_engine::value::{MAX_DEPTH, check_depth_bytes};
    check_depth_bytes(bytes, MAX_DEPTH).map_err(|e| {
        Error::Invalid(format!(
            "the server sent a document that cannot be read: {e}"
        ))
    })?;
    Document::from_reader(bytes)
        .map_err(|e| Error::Invalid(format!("the server sent a malformed BSON document: {e}")))
}

impl QueryOutput {
    /// The JSON shape every interface prints: an array of documents, `{"count": N}`, an
    /// object or `null`, `{"inserted": N, "ids": [...]}`, `{"matched": M, "modified": N}`,
    /// `{"deleted": N}` or the plan.
    pub fn to_json(&self) -> Value {
        match self {
            QueryOutput::Documents { documents: d, .. } | QueryOutput::Groups(d) => {
                Value::Array(d.iter().map(doc_json).collect())
            }
            QueryOutput::Count(n) => json!({ "count": n }),
            QueryOutput::Aggregate(row) => row.as_ref().map_or(Value::Null, doc_json),
            QueryOutput::Inserted(ids) => json!({
                "inserted": ids.len(),
                "ids": ids.iter().map(|i| i.to_bson().into_relaxed_extjson()).collect::<Vec<_>>(),
            }),
            QueryOutput::Updated { matched, modified } => {
                json!({ "matched": matched, "modified": modified })
            }
            QueryOutput::Deleted(n) => json!({ "deleted": n }),
            QueryOutput::Explain(p) => p.to_json(),
        }
    }

    /// The rows of a find or a `groupBy` (empty for other results).
    pub fn rows(&self) -> &[Document] {
        match self {
            QueryOutput::Documents { documents: d, .. } | QueryOutput::Groups(d) => d,
            _ => &[],
        }
    }

    /// Adds one chunk of a streamed result (the first chunk decides the kind).
    pub(crate) fn push(acc: &mut Option<QueryOutput>, chunk: v1::QueryChunk) -> Result<()> {
        let Some(result) = chunk.result else {
            return Err(Error::Invalid(
                "the server sent an empty query chunk".into(),
            ));
        };
        match (acc.as_mut(), result) {
            (Some(QueryOutput::Documents { documents, cursor }), C::Documents(l)) => {
                for d in &l.documents {
                    documents.push(decode(d)?);
                }
                if chunk.cursor.is_some() {
                    *cursor = chunk.cursor;
                }
            }
            (Some(QueryOutput::Groups(rows)), C::Groups(l)) => {
                for d in &l.documents {
                    rows.push(decode(d)?);
                }
            }
            (Some(_), _) => {
                return Err(Error::Invalid(
                    "the server sent chunks of different kinds for one query".into(),
                ));
            }
            (None, r) => {
                *acc = Some(match r {
                    C::Documents(l) => QueryOutput::Documents {
                        documents: l
                            .documents
                            .iter()
                            .map(|d| decode(d))
                            .collect::<Result<_>>()?,
                        cursor: chunk.cursor,
                    },
                    C::Groups(l) => QueryOutput::Groups(
                        l.documents
                            .iter()
                            .map(|d| decode(d))
                            .collect::<Result<_>>()?,
                    ),
                    C::Count(n) => QueryOutput::Count(n),
                    C::Aggregate(a) => {
                        QueryOutput::Aggregate(a.document.as_deref().map(decode).transpose()?)
                    }
                    C::Inserted(i) => QueryOutput::Inserted(
                        i.ids.iter().map(DocId::from_proto).collect::<Result<_>>()?,
                    ),
                    C::Updated(u) => QueryOutput::Updated {
                        matched: u.matched,
                        modified: u.modified,
                    },
                    C::Deleted(d) => QueryOutput::Deleted(d.deleted),
                    C::Explain(e) => QueryOutput::Explain(Plan::from_proto(e)),
                });
            }
        }
        Ok(())
    }
}
