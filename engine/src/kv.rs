//! Key/value operations: what a write batch, a WAL record and a memtable hold.

use bytes::Bytes;

/// One change to the keyspace: a put (`Some`) or a delete (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvOp {
    /// The key.
    pub key: Vec<u8>,
    /// The new value, or `None` to delete the key.
    pub value: Option<Bytes>,
}

impl KvOp {
    /// A put of `value` at `key`.
    pub fn put(key: Vec<u8>, value: impl Into<Bytes>) -> Self {
        KvOp {
            key,
            value: Some(value.into()),
        }
    }

    /// A delete of `key`.
    pub fn delete(key: Vec<u8>) -> Self {
        KvOp { key, value: None }
    }

    /// Approximate memory the operation occupies.
    pub fn size(&self) -> usize {
        self.key.len() + self.value.as_ref().map_or(0, Bytes::len) + 32
    }
}

/// A sequence number: every committed batch gets the next one.
pub type Seq = u64;
