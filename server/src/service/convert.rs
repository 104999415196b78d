//! Conversions between protocol messages and engine values, with errors that name the field.

use bson::{Bson, Document, oid::ObjectId};
use shinydb_engine::{Update, Write, WriteResult};
use shinydb_proto::v1;
use tonic::Status;

/// The engine `_id` of a protocol id; `what` names the field in errors.
pub fn id_from(id: Option<&v1::Id>, what: &str) -> Result<Bson, Status> {
    use v1::id::Kind;
    match id.and_then(|i| i.kind.as_ref()) {
        Some(Kind::String(s)) => Ok(Bson::String(s.clone())),
        Some(Kind::Int32(i)) => Ok(Bson::Int32(*i)),
        Some(Kind::Int64(i)) => Ok(Bson::Int64(*i)),
        Some(Kind::ObjectId(b)) => {
            let bytes: [u8; 12] = b[..].try_into().map_err(|_| {
                Status::invalid_argument(format!(
                    "{what}: an ObjectId has 12 bytes, this one has {}",
                    b.len()
                ))
            })?;
            Ok(Bson::ObjectId(ObjectId::from_bytes(bytes)))
        }
        None => Err(Status::invalid_argument(format!("{what} is missing"))),
    }
}

/// The protocol id of an engine `_id` (string, int32, int64 or ObjectId).
pub fn id_to(id: &Bson) -> v1::Id {
    use v1::id::Kind;
    let kind = match id {
        Bson::String(s) => Kind::String(s.clone()),
        Bson::Int32(i) => Kind::Int32(*i),
        Bson::Int64(i) => Kind::Int64(*i),
        Bson::ObjectId(o) => Kind::ObjectId(o.bytes().to_vec().into()),
        other => Kind::String(other.to_string()),
    };
    v1::Id { kind: Some(kind) }
}

/// A document from BSON bytes; `what` names the field in errors. The nesting is measured first
/// (without recursion): decoding recurses once per level, so a deep enough document would
/// otherwise overflow the stack and abort the server.
pub fn doc_from(bytes: &[u8], what: &str) -> Result<Document, Status> {
    use shinydb_engine::value::{DepthError, MAX_DEPTH, check_depth_bytes};
    check_depth_bytes(bytes, MAX_DEPTH).map_err(|e| match e {
        DepthError::TooDeep { .. } => Status::invalid_argument(format!("{what} is {e}")),
        DepthError::Malformed(_) => {
            Status::invalid_argument(format!("{what} is not a valid BSON document: {e}"))
        }
    })?;
    Document::from_reader(bytes)
        .map_err(|e| Status::invalid_argument(format!("{what} is not a valid BSON document: {e}")))
}

/// Checks that a space and store are named and not system names.
pub fn target(space: &str, store: &str) -> Result<(), Status> {
    if space.is_empty() {
        return Err(Status::invalid_argument("space is missing"));
    }
    if store.is_empty() {
        return Err(Status::invalid_argument("store is missing"));
    }
    Ok(())
}

/// The engine update of an `UpdateRequest`'s `set` and `unset`.
pub fn update_from(set: &[u8], unset: Vec<String>) -> Result<Update, Status> {
    let set = if set.is_empty() {
        Vec::new()
    } else {
        doc_from(set, "set")?.into_iter().collect()
    };
    if set.is_empty() && unset.is_empty() {
        return Err(Status::invalid_argument(
            "an update needs at least one field in set or unset",
        ));
    }
    Ok(Update { set, unset })
}

/// The engine write of one batch operation, and the space it touches.
pub fn write_from(op: v1::WriteOp, i: usize) -> Result<(String, Write), Status> {
    use v1::write_op::Op;
    let at = |f: &str| format!("ops[{i}].{f}");
    match op.op {
        Some(Op::Insert(r)) => {
            target(&r.space, &r.store)?;
            let [doc] = <[_; 1]>::try_from(r.documents).map_err(|d: Vec<_>| {
                Status::invalid_argument(format!(
                    "{}: an insert in a batch carries exactly one document, not {}",
                    at("insert"),
                    d.len()
                ))
            })?;
            let doc = doc_from(&doc, &at("insert.documents[0]"))?;
            Ok((
                r.space.clone(),
                Write::Insert {
                    space: r.space,
                    store: r.store,
                    doc,
                },
            ))
        }
        Some(Op::Replace(r)) => {
            target(&r.space, &r.store)?;
            let id = id_from(r.id.as_ref(), &at("replace.id"))?;
            let doc = doc_from(&r.document, &at("replace.document"))?;
            Ok((
                r.space.clone(),
                Write::Replace {
                    space: r.space,
                    store: r.store,
                    id,
                    doc,
                },
            ))
        }
        Some(Op::Update(r)) => {
            target(&r.space, &r.store)?;
            let id = id_from(r.id.as_ref(), &at("update.id"))?;
            let update = update_from(&r.set, r.unset)?;
            Ok((
                r.space.clone(),
                Write::Update {
                    space: r.space,
                    store: r.store,
                    id,
                    update,
                },
            ))
        }
        Some(Op::Delete(r)) => {
            target(&r.space, &r.store)?;
            let id = id_from(r.id.as_ref(), &at("delete.id"))?;
            Ok((
                r.space.clone(),
                Write::Delete {
                    space: r.space,
                    store: r.store,
                    id,
                },
            ))
        }
        None => Err(Status::invalid_argument(format!("{} is empty", at("op")))),
    }
}

/// The protocol outcome of one engine write.
pub fn outcome_to(r: WriteResult) -> v1::WriteOutcome {
    use v1::write_outcome::Outcome;
    let outcome = match r {
        WriteResult::Inserted(id) => Outcome::Inserted(id_to(&id)),
        WriteResult::Replaced(b) => Outcome::Replaced(b),
        WriteResult::Updated { matched, modified } => {
            Outcome::Updated(v1::UpdateResponse { matched, modified })
        }
        WriteResult::Deleted(b) => Outcome::Deleted(b),
    };
    v1::WriteOutcome {
        outcome: Some(outcome),
    }
}
