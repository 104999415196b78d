//! Writes: the selection is read like a find (same planner, same filter), then the changes are
//! computed here and applied by the [`StoreWriter`] as one batch.

use std::cmp::Ordering;

use bson::{Bson, Document, RawDocumentBuf};

use super::read::{ReadStats, matching_documents};
use crate::query::error::QueryError;
use crate::query::eval::Filter;
use crate::query::ir::Mutation;
use crate::query::planner::Plan;
use crate::query::result::QueryResult;
use crate::query::source::{StoreSource, StoreWriter, WriteOp};
use crate::value::{FieldPath, compare_bson, set_path, unset_path};

/// The changes a write makes, and what its result reports.
pub(super) struct WritePlan {
    /// The operations, applied atomically.
    pub ops: Vec<WriteOp>,
    /// The result when the operations succeed (inserted ids are filled in after applying).
    pub result: QueryResult,
}

/// Computes the operations of a write (reading the selected documents).
pub(super) fn plan_write(
    source: &dyn StoreSource,
    write: &Mutation,
    plan: &Plan,
    filter: Option<&Filter>,
    stats: &mut ReadStats,
) -> Result<WritePlan, QueryError> {
    stats.order = "none";
    match write {
        Mutation::Insert(docs) => Ok(WritePlan {
            ops: docs.iter().cloned().map(WriteOp::Insert).collect(),
            result: QueryResult::Inserted { ids: Vec::new() },
        }),
        Mutation::Delete => {
            let docs = matching_documents(source, plan, filter, stats)?;
            let ops = docs
                .iter()
                .map(|d| id_of(d).map(|id| WriteOp::Delete { id }))
                .collect::<Result<Vec<_>, _>>()?;
            let deleted = ops.len() as u64;
            Ok(WritePlan {
                ops,
                result: QueryResult::Deleted { deleted },
            })
        }
        Mutation::Update { set, unset } => {
            let docs = matching_documents(source, plan, filter, stats)?;
            let matched = docs.len() as u64;
            let mut ops = Vec::new();
            for raw in &docs {
                let before = raw.to_document()?;
                let id = id_of(raw)?;
                let after = apply_update(&before, &id, set, unset)?;
                if changed(raw, &after)? {
                    ops.push(WriteOp::Replace {
                        id,
                        document: after,
                    });
                }
            }
            let modified = ops.len() as u64;
            Ok(WritePlan {
                ops,
                result: QueryResult::Updated { matched, modified },
            })
        }
        Mutation::Replace(new) => {
            let docs = matching_documents(source, plan, filter, stats)?;
            let matched = docs.len() as u64;
            let mut ops = Vec::new();
            for raw in &docs {
                let id = id_of(raw)?;
                if let Some(given) = new.get("_id")
                    && compare_bson(given, &id) != Ordering::Equal
                {
                    return Err(QueryError::Write(format!(
                        "replace(...) cannot change _id from {id} to {given}"
                    )));
                }
                let mut after = Document::new();
                after.insert("_id", id.clone());
                for (k, v) in new {
                    if k != "_id" {
                        after.insert(k.clone(), v.clone());
                    }
                }
                if changed(raw, &after)? {
                    ops.push(WriteOp::Replace {
                        id,
                        document: after,
                    });
                }
            }
            let modified = ops.len() as u64;
            Ok(WritePlan {
                ops,
                result: QueryResult::Updated { matched, modified },
            })
        }
    }
}

/// Applies a write plan through the writer.
pub(super) fn apply(
    writer: &mut dyn StoreWriter,
    plan: WritePlan,
) -> Result<QueryResult, QueryError> {
    if plan.ops.is_empty() {
        return Ok(plan.result);
    }
    let ids = writer.apply(plan.ops)?;
    Ok(match plan.result {
        QueryResult::Inserted { .. } => QueryResult::Inserted { ids },
        other => other,
    })
}

fn id_of(doc: &RawDocumentBuf) -> Result<Bson, QueryError> {
    match doc.get("_id")? {
        Some(v) => Bson::try_from(v.to_raw_bson()).map_err(|e| QueryError::Bson(e.to_string())),
        None => Err(QueryError::Storage(
            "a stored document has no _id".to_string(),
        )),
    }
}

/// The document after `set` and `unset`.
fn apply_update(
    before: &Document,
    id: &Bson,
    set: &[(FieldPath, Bson)],
    unset: &[FieldPath],
) -> Result<Document, QueryError> {
    let mut after = before.clone();
    for (path, value) in set {
        if path.is_id() {
            if compare_bson(value, id) != Ordering::Equal {
                return Err(QueryError::Write(format!(
                    "set(...) cannot change _id from {id} to {value}"
                )));
            }
            continue;
        }
        set_path(&mut after, path, value.clone()).map_err(|e| QueryError::Write(e.to_string()))?;
    }
    for path in unset {
        unset_path(&mut after, path);
    }
    Ok(after)
}

/// Whether `after` differs from the stored bytes.
fn changed(before: &RawDocumentBuf, after: &Document) -> Result<bool, QueryError> {
    let after = RawDocumentBuf::from_document(after)?;
    Ok(after.as_bytes() != before.as_bytes())
}
