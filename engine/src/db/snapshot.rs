//! Consistent reads: documents by `_id`, scans in `_id` order and ordered index scans.

use std::{ops::Bound, sync::Arc};

use bson::{Bson, RawBson, RawBsonRef, RawDocumentBuf};
use bytes::Bytes;

use super::{
    Inner, ReadState,
    catalog::{Catalog, IndexInfo, SpaceInfo, StoreInfo},
    iter::MergeIter,
    stored,
};
use crate::{
    error::{Error, Result},
    keys::{self, encode},
    kv::Seq,
    memtable::Lookup,
    query::IndexBound,
    vlog::ValueLog,
};

/// A consistent, read-only view of the database at one moment. Holding one keeps the pages
/// and value-log segments it reads from alive; drop it when done.
pub struct Snapshot {
    inner: Arc<Inner>,
    state: Arc<ReadState>,
    seq: Seq,
}

impl Snapshot {
    pub(crate) fn new(inner: Arc<Inner>, state: Arc<ReadState>, seq: Seq) -> Snapshot {
        Snapshot { inner, state, seq }
    }

    /// The sequence number of the newest batch this snapshot sees.
    pub fn seq(&self) -> Seq {
        self.seq
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.state.catalog
    }

    /// The newest visible value of a key (documents decoded to raw BSON).
    pub(crate) fn get_key(&self, key: &[u8]) -> Result<Option<Bytes>> {
        for m in self.state.memtables() {
            match m.get(key, self.seq) {
                Lookup::Value(v) => return Ok(Some(v)),
                Lookup::Deleted => return Ok(None),
                Lookup::Absent => {}
            }
        }
        match self.state.tree.get(key)? {
            Some(v) if key.first() == Some(&keys::DOC) => {
                Ok(Some(stored::decode(v, &self.inner.vlog)?))
            }
            other => Ok(other),
        }
    }

    /// Keys between two bounds, ascending or descending.
    pub(crate) fn range(&self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>, reverse: bool) -> MergeIter {
        self.range_sized(lo, hi, reverse, 16)
    }

    /// Like [`Snapshot::range`], reading `first` entries per source at first.
    pub(crate) fn range_sized(
        &self,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        reverse: bool,
        first: usize,
    ) -> MergeIter {
        MergeIter::new(
            Arc::clone(&self.state),
            Arc::clone(&self.inner.vlog),
            self.seq,
            lo,
            hi,
            reverse,
        )
        .first_chunk(first)
    }

    /// Every space.
    pub fn spaces(&self) -> Vec<SpaceInfo> {
        self.state.catalog.spaces.values().cloned().collect()
    }

    /// Every store of `space`.
    pub fn stores(&self, space: &str) -> Result<Vec<StoreInfo>> {
        if !self.state.catalog.spaces.contains_key(space) {
            return Err(Error::NotFound {
                kind: "space",
                name: space.to_string(),
            });
        }
        Ok(self.state.catalog.stores_in(space).cloned().collect())
    }

    /// The store `space.store`.
    pub fn store(&self, space: &str, store: &str) -> Result<StoreInfo> {
        self.state.catalog.store(space, store).cloned()
    }

    /// Number of documents in a store.
    pub fn count(&self, space: &str, store: &str) -> Result<u64> {
        let s = self.state.catalog.store(space, store)?;
        Ok(match self.get_key(&keys::count_key(s.id))? {
            Some(b) if b.len() == 8 => u64::from_be_bytes(b[..].try_into().unwrap_or_default()),
            _ => 0,
        })
    }

    /// The document with this `_id`.
    pub fn get(&self, space: &str, store: &str, id: &Bson) -> Result<Option<RawDocumentBuf>> {
        let s = self.state.catalog.store(space, store)?;
        let key = keys::doc_key(s.id, &encode_id(id)?);
        self.get_key(&key)?.map(to_document).transpose()
    }

    /// Every document of a store in `_id` order (or reverse).
    pub fn scan(&self, space: &str, store: &str, reverse: bool) -> Result<DocIter> {
        self.scan_ids(space, store, Bound::Unbounded, Bound::Unbounded, reverse)
    }

    /// Documents whose `_id` lies between two bounds, in `_id` order (or reverse).
    pub fn scan_ids(
        &self,
        space: &str,
        store: &str,
        lower: Bound<&Bson>,
        upper: Bound<&Bson>,
        reverse: bool,
    ) -> Result<DocIter> {
        let s = self.state.catalog.store(space, store)?;
        let prefix = keys::doc_prefix(s.id);
        let bound = |b: Bound<&Bson>, is_lower: bool| -> Result<Bound<Vec<u8>>> {
            Ok(match b {
                Bound::Included(id) => Bound::Included(keys::doc_key(s.id, &encode_value(id)?)),
                Bound::Excluded(id) => Bound::Excluded(keys::doc_key(s.id, &encode_value(id)?)),
                Bound::Unbounded if is_lower => Bound::Included(prefix.clone()),
                Bound::Unbounded => {
                    keys::prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded)
                }
            })
        };
        let iter = self.range(bound(lower, true)?, bound(upper, false)?, reverse);
        Ok(DocIter {
            iter,
            index_lookup: None,
        })
    }

    /// Documents in the order of an index, between two bounds on a prefix of its fields.
    /// Missing fields are indexed as null. Every document appears once.
    pub fn index_scan(
        &self,
        space: &str,
        store: &str,
        index: &str,
        lower: Option<&IndexBound>,
        upper: Option<&IndexBound>,
        reverse: bool,
    ) -> Result<DocIter> {
        let s = self.state.catalog.store(space, store)?;
        let idx = find_index(s, index)?;
        let base = keys::index_prefix(idx.id);
        let encode_prefix = |b: &IndexBound| -> Result<Vec<u8>> {
            if b.values.len() > idx.fields.len() {
                return Err(Error::InvalidArgument(format!(
                    "index {} has {} fields, a bound gives {}",
                    idx.name,
                    idx.fields.len(),
                    b.values.len()
                )));
            }
            let mut k = base.clone();
            for v in &b.values {
                k.extend_from_slice(&encode_value(v)?);
            }
            Ok(k)
        };
        let after = |p: &[u8]| keys::prefix_successor(p).map_or(Bound::Unbounded, Bound::Excluded);
        let lo = match lower {
            None => Bound::Included(base.clone()),
            Some(b) if b.inclusive => Bound::Included(encode_prefix(b)?),
            Some(b) => match keys::prefix_successor(&encode_prefix(b)?) {
                Some(k) => Bound::Included(k),
                None => Bound::Excluded(base.clone()),
            },
        };
        let hi = match upper {
            None => after(&base),
            Some(b) if b.inclusive => after(&encode_prefix(b)?),
            Some(b) => Bound::Excluded(encode_prefix(b)?),
        };
        Ok(DocIter {
            iter: self.range(lo, hi, reverse),
            index_lookup: Some(IndexLookup {
                doc_prefix: keys::doc_prefix(s.id),
                state: Arc::clone(&self.state),
                vlog: Arc::clone(&self.inner.vlog),
                seq: self.seq,
                leaf: None,
            }),
        })
    }
}

/// Finds an index of a store by name.
pub(crate) fn find_index<'a>(s: &'a StoreInfo, index: &str) -> Result<&'a IndexInfo> {
    s.indexes
        .iter()
        .find(|i| i.name == index)
        .ok_or_else(|| Error::NotFound {
            kind: "index",
            name: format!("{}.{}.{index}", s.space, s.name),
        })
}

struct IndexLookup {
    doc_prefix: Vec<u8>,
    state: Arc<ReadState>,
    vlog: Arc<ValueLog>,
    seq: Seq,
    /// The leaf of the previous document: entries of one index value come in `_id` order, so
    /// their documents often share a leaf.
    leaf: Option<crate::btree::Page>,
}

impl IndexLookup {
    fn document(&mut self, encoded_id: &[u8]) -> Result<Option<Bytes>> {
        let mut key = self.doc_prefix.clone();
        key.extend_from_slice(encoded_id);
        for m in self.state.memtables() {
            match m.get(&key, self.seq) {
                Lookup::Value(v) => return Ok(Some(v)),
                Lookup::Deleted => return Ok(None),
                Lookup::Absent => {}
            }
        }
        self.state
            .tree
            .get_near(&key, &mut self.leaf)?
            .map(|v| stored::decode(v, &self.vlog))
            .transpose()
    }
}

/// Documents from a scan, in order.
pub struct DocIter {
    iter: MergeIter,
    index_lookup: Option<IndexLookup>,
}

impl Iterator for DocIter {
    type Item = Result<RawDocumentBuf>;

    fn next(&mut self) -> Option<Self::Item> {
        let (_, value) = match self.iter.next()? {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e)),
        };
        let Some(lookup) = &mut self.index_lookup else {
            return Some(to_document(value));
        };
        Some(match lookup.document(&value) {
            Ok(Some(doc)) => to_document(doc),
            Ok(None) => Err(Error::corruption(
                "index",
                "an index entry points at a document that does not exist",
            )),
            Err(e) => Err(e),
        })
    }
}

fn to_document(b: Bytes) -> Result<RawDocumentBuf> {
    RawDocumentBuf::from_bytes(b.to_vec()).map_err(|e| {
        Error::corruption(
            "document",
            format!("a stored document is not valid BSON: {e}"),
        )
    })
}

/// The order-preserving encoding of an `_id`, refusing types that may not be ids.
pub(crate) fn encode_id(id: &Bson) -> Result<Vec<u8>> {
    let raw = match id {
        Bson::String(s) => RawBsonRef::String(s),
        Bson::Int32(i) => RawBsonRef::Int32(*i),
        Bson::Int64(i) => RawBsonRef::Int64(*i),
        Bson::ObjectId(o) => RawBsonRef::ObjectId(*o),
        other => {
            return Err(Error::InvalidArgument(format!(
                "_id must be a string, int32, int64 or ObjectId, not {:?}",
                other.element_type()
            )));
        }
    };
    let mut out = Vec::with_capacity(24);
    encode::encode(raw, &mut out);
    Ok(out)
}

/// The order-preserving encoding of any value.
pub(crate) fn encode_value(v: &Bson) -> Result<Vec<u8>> {
    let raw = RawBson::try_from(v.clone())
        .map_err(|e| Error::InvalidArgument(format!("value cannot be encoded: {e}")))?;
    let mut out = Vec::new();
    encode::encode(raw.as_raw_bson_ref(), &mut out);
    Ok(out)
}

/// Rebuilds the catalog from a read state.
pub(crate) fn load_catalog(state: &ReadState, vlog: &Arc<ValueLog>) -> Result<Catalog> {
    let iter = MergeIter::new(
        Arc::new(ReadState {
            catalog: Arc::clone(&state.catalog),
            active: Arc::clone(&state.active),
            frozen: state.frozen.clone(),
            tree: Arc::clone(&state.tree),
        }),
        Arc::clone(vlog),
        Seq::MAX,
        Bound::Included(vec![keys::CATALOG]),
        Bound::Excluded(vec![keys::CATALOG + 1]),
        false,
    );
    let entries = iter
        .map(|r| r.map(|(k, v)| (k, v.to_vec())))
        .collect::<Result<Vec<_>>>()?;
    Catalog::load(entries)
}
