//! Document ids.

use bson::{Bson, oid::ObjectId};
use shinydb_proto::v1::{self, id::Kind};

use crate::error::{Error, Result};

/// A document `_id`: a string, a 32- or 64-bit integer or an ObjectId.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DocId {
    /// A string.
    String(String),
    /// A 32-bit integer.
    Int32(i32),
    /// A 64-bit integer.
    Int64(i64),
    /// A BSON ObjectId.
    ObjectId(ObjectId),
}

impl DocId {
    /// The id as a BSON value.
    pub fn to_bson(&self) -> Bson {
        match self {
            DocId::String(s) => Bson::String(s.clone()),
            DocId::Int32(i) => Bson::Int32(*i),
            DocId::Int64(i) => Bson::Int64(*i),
            DocId::ObjectId(o) => Bson::ObjectId(*o),
        }
    }

    /// The id of a BSON value; fails for types that cannot be ids.
    pub fn from_bson(b: &Bson) -> Result<DocId> {
        match b {
            Bson::String(s) => Ok(DocId::String(s.clone())),
            Bson::Int32(i) => Ok(DocId::Int32(*i)),
            Bson::Int64(i) => Ok(DocId::Int64(*i)),
            Bson::ObjectId(o) => Ok(DocId::ObjectId(*o)),
            other => Err(Error::Invalid(format!(
                "{other} cannot be a document id: use a string, an integer or an ObjectId"
            ))),
        }
    }

    pub(crate) fn to_proto(&self) -> v1::Id {
        let kind = match self {
            DocId::String(s) => Kind::String(s.clone()),
            DocId::Int32(i) => Kind::Int32(*i),
            DocId::Int64(i) => Kind::Int64(*i),
            DocId::ObjectId(o) => Kind::ObjectId(bytes::Bytes::copy_from_slice(&o.bytes())),
        };
        v1::Id { kind: Some(kind) }
    }

    pub(crate) fn from_proto(id: &v1::Id) -> Result<DocId> {
        match &id.kind {
            Some(Kind::String(s)) => Ok(DocId::String(s.clone())),
            Some(Kind::Int32(i)) => Ok(DocId::Int32(*i)),
            Some(Kind::Int64(i)) => Ok(DocId::Int64(*i)),
            Some(Kind::ObjectId(b)) => {
                let bytes: [u8; 12] = b.as_ref().try_into().map_err(|_| {
                    Error::Invalid(format!("the server sent an ObjectId of {} bytes", b.len()))
                })?;
                Ok(DocId::ObjectId(ObjectId::from_bytes(bytes)))
            }
            None => Err(Error::Invalid("the server sent an empty id".into())),
        }
    }
}

impl std::fmt::Display for DocId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocId::String(s) => write!(f, "{s:?}"),
            DocId::Int32(i) => write!(f, "{i}"),
            DocId::Int64(i) => write!(f, "{i}"),
            DocId::ObjectId(o) => write!(f, "oid(\"{o}\")"),
        }
    }
}

impl From<&str> for DocId {
    fn from(s: &str) -> Self {
        DocId::String(s.to_string())
    }
}

impl From<String> for DocId {
    fn from(s: String) -> Self {
        DocId::String(s)
    }
}

impl From<i32> for DocId {
    fn from(i: i32) -> Self {
        DocId::Int32(i)
    }
}

impl From<i64> for DocId {
    fn from(i: i64) -> Self {
        DocId::Int64(i)
    }
}

impl From<ObjectId> for DocId {
    fn from(o: ObjectId) -> Self {
        DocId::ObjectId(o)
    }
}
