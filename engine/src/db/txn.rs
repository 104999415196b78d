//! A batch being prepared: its writes applied to an overlay of the latest state, with the
//! index entries and store counts each one changes, turned into key-value operations at the end.

use std::{
    collections::{BTreeMap, HashMap},
    ops::Bound,
};

use bson::{Bson, Document, RawBsonRef, RawDocument, RawDocumentBuf, oid::ObjectId};
use bytes::Bytes;

use super::{
    catalog::{IndexInfo, StoreInfo},
    snapshot::{Snapshot, encode_id},
    write::{MAX_DOCUMENT_BYTES, Write, WriteResult},
};
use crate::{
    error::{Error, Result},
    keys::{self, MAX_KEY_BYTES},
    kv::KvOp,
    value::{self, FieldPath},
};

/// Bytes read back from the store, checked as a BSON document.
pub(super) trait IntoRaw {
    fn try_into_raw(self) -> Result<RawDocumentBuf>;
}

impl IntoRaw for Vec<u8> {
    fn try_into_raw(self) -> Result<RawDocumentBuf> {
        RawDocumentBuf::from_bytes(self)
            .map_err(|e| Error::corruption("document", format!("invalid BSON: {e}")))
    }
}

/// A batch being prepared: its changes overlay the latest state.
pub(super) struct Txn<'a> {
    latest: &'a Snapshot,
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    counts: HashMap<u32, i64>,
}

impl<'a> Txn<'a> {
    pub(super) fn new(latest: &'a Snapshot) -> Self {
        Txn {
            latest,
            overlay: BTreeMap::new(),
            counts: HashMap::new(),
        }
    }

    pub(super) fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.overlay.get(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.latest.get_key(key)?.map(|b| b.to_vec())),
        }
    }

    pub(super) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.overlay.insert(key, Some(value));
    }

    fn delete(&mut self, key: Vec<u8>) {
        self.overlay.insert(key, None);
    }

    fn store(&self, space: &str, store: &str) -> Result<StoreInfo> {
        self.latest.catalog().store(space, store).cloned()
    }

    pub(super) fn apply(&mut self, op: Write) -> Result<WriteResult> {
        match op {
            Write::Insert {
                space,
                store,
                mut doc,
            } => {
                let s = self.store(&space, &store)?;
                let id = if let Some(id) = doc.get("_id") {
                    id.clone()
                } else {
                    let id = Bson::ObjectId(ObjectId::new());
                    let mut with_id = Document::new();
                    with_id.insert("_id", id.clone());
                    with_id.extend(doc);
                    doc = with_id;
                    id
                };
                let key = keys::doc_key(s.id, &encode_id(&id)?);
                if self.read(&key)?.is_some() {
                    return Err(Error::AlreadyExists {
                        kind: "document with _id",
                        name: format!("{id} in {space}.{store}"),
                    });
                }
                self.write_doc(&s, &id, key, None, Some(&doc))?;
                Ok(WriteResult::Inserted(id))
            }
            Write::Replace {
                space,
                store,
                id,
                mut doc,
            } => {
                let s = self.store(&space, &store)?;
                match doc.get("_id") {
                    Some(given) if !same_id(given, &id) => {
                        return Err(Error::InvalidArgument(format!(
                            "the replacement's _id {given} differs from the document's _id {id}"
                        )));
                    }
                    Some(_) => {}
                    None => {
                        let mut with_id = Document::new();
                        with_id.insert("_id", id.clone());
                        with_id.extend(doc);
                        doc = with_id;
                    }
                }
                let key = keys::doc_key(s.id, &encode_id(&id)?);
                let Some(old) = self.read(&key)? else {
                    return Ok(WriteResult::Replaced(false));
                };
                self.write_doc(&s, &id, key, Some(old), Some(&doc))?;
                Ok(WriteResult::Replaced(true))
            }
            Write::Update {
                space,
                store,
                id,
                update,
            } => {
                let s = self.store(&space, &store)?;
                let key = keys::doc_key(s.id, &encode_id(&id)?);
                let Some(old) = self.read(&key)? else {
                    return Ok(WriteResult::Updated {
                        matched: false,
                        modified: false,
                    });
                };
                let mut doc = Document::from_reader(old.as_slice())
                    .map_err(|e| Error::corruption("document", format!("invalid BSON: {e}")))?;
                for (path, value) in &update.set {
                    if path == "_id" || path.starts_with("_id.") {
                        return Err(Error::InvalidArgument(
                            "_id cannot be changed by an update".into(),
                        ));
                    }
                    value::set_path(&mut doc, &self::path(path)?, value.clone())
                        .map_err(|e| Error::InvalidArgument(format!("cannot set {path}: {e}")))?;
                }
                for path in &update.unset {
                    if path == "_id" || path.starts_with("_id.") {
                        return Err(Error::InvalidArgument("_id cannot be removed".into()));
                    }
                    value::unset_path(&mut doc, &self::path(path)?);
                }
                let new = bson::to_vec(&doc).map_err(|e| {
                    Error::InvalidArgument(format!("document cannot be encoded: {e}"))
                })?;
                if new == old {
                    return Ok(WriteResult::Updated {
                        matched: true,
                        modified: false,
                    });
                }
                self.write_doc(&s, &id, key, Some(old), Some(&doc))?;
                Ok(WriteResult::Updated {
                    matched: true,
                    modified: true,
                })
            }
            Write::Delete { space, store, id } => {
                let s = self.store(&space, &store)?;
                let key = keys::doc_key(s.id, &encode_id(&id)?);
                let Some(old) = self.read(&key)? else {
                    return Ok(WriteResult::Deleted(false));
                };
                self.write_doc(&s, &id, key, Some(old), None)?;
                Ok(WriteResult::Deleted(true))
            }
        }
    }

    /// Writes (or deletes) one document and moves its index entries.
    fn write_doc(
        &mut self,
        s: &StoreInfo,
        id: &Bson,
        key: Vec<u8>,
        old: Option<Vec<u8>>,
        new: Option<&Document>,
    ) -> Result<()> {
        let new_bytes = match new {
            Some(d) => {
                let b = bson::to_vec(d).map_err(|e| {
                    Error::InvalidArgument(format!("document cannot be encoded: {e}"))
                })?;
                if b.len() > MAX_DOCUMENT_BYTES {
                    return Err(Error::LimitExceeded(format!(
                        "a document of {} bytes exceeds the limit of {MAX_DOCUMENT_BYTES}",
                        b.len()
                    )));
                }
                // Stored documents must stay readable by code that recurses per level.
                value::check_depth_bytes(&b, value::MAX_DEPTH)
                    .map_err(|e| Error::LimitExceeded(format!("document _id {id} is {e}")))?;
                Some(b)
            }
            None => None,
        };
        if key.len() > MAX_KEY_BYTES {
            return Err(Error::LimitExceeded(format!(
                "_id {id} encodes to more than {MAX_KEY_BYTES} bytes"
            )));
        }
        let old_raw = old.map(IntoRaw::try_into_raw).transpose()?;
        let new_raw = new_bytes.map(IntoRaw::try_into_raw).transpose()?;
        for idx in &s.indexes {
            let old_entry = old_raw
                .as_ref()
                .map(|d| self.index_entry(idx, d, id))
                .transpose()?;
            let new_entry = new_raw
                .as_ref()
                .map(|d| self.index_entry(idx, d, id))
                .transpose()?;
            if old_entry == new_entry {
                continue;
            }
            if let Some(e) = old_entry {
                self.delete(e.key);
            }
            if let Some(e) = new_entry {
                self.check_unique(idx, &e)?;
                self.put(e.key, e.value);
            }
        }
        let delta = match (old_raw.is_some(), new_raw.is_some()) {
            (false, true) => 1,
            (true, false) => -1,
            _ => 0,
        };
        *self.counts.entry(s.id).or_default() += delta;
        match new_raw {
            Some(b) => self.put(key, b.into_bytes()),
            None => self.delete(key),
        }
        Ok(())
    }

    pub(super) fn index_entry(
        &self,
        idx: &IndexInfo,
        doc: &RawDocument,
        id: &Bson,
    ) -> Result<IndexEntry> {
        let values: Vec<Option<RawBsonRef<'_>>> = idx
            .fields
            .iter()
            .map(|f| path(f).map(|p| value::lookup(doc, &p)))
            .collect::<Result<_>>()?;
        let encoded_id = encode_id(id)?;
        let key = keys::index_key(idx.id, &values, &encoded_id);
        if key.len() > MAX_KEY_BYTES {
            return Err(Error::LimitExceeded(format!(
                "the key of index {} for document {id} is {} bytes; indexed values are limited to {MAX_KEY_BYTES} bytes",
                idx.name,
                key.len()
            )));
        }
        let constrained = values
            .iter()
            .all(|v| !matches!(v, None | Some(RawBsonRef::Null)));
        let prefix_len = key.len() - encoded_id.len();
        Ok(IndexEntry {
            key,
            value: encoded_id,
            prefix_len,
            constrained,
        })
    }

    /// Fails if another document holds the same values in a unique index.
    pub(super) fn check_unique(&self, idx: &IndexInfo, e: &IndexEntry) -> Result<()> {
        if !idx.unique || !e.constrained {
            return Ok(());
        }
        let prefix = e.key[..e.prefix_len].to_vec();
        let hi = keys::prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
        let mut candidates: Vec<(Vec<u8>, Vec<u8>)> = self
            .overlay
            .range((Bound::Included(prefix.clone()), hi.clone()))
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        for entry in self
            .latest
            .range(Bound::Included(prefix), hi, false)
            .take(4)
        {
            let (k, v) = entry?;
            if !self.overlay.contains_key(&k) {
                candidates.push((k, v.to_vec()));
            }
        }
        if let Some((_, other)) = candidates.into_iter().find(|(k, _)| *k != e.key) {
            return Err(Error::UniqueViolation {
                index: idx.name.clone(),
                key: format!("{:?}", idx.fields),
                existing_id: format!("{other:?}"),
            });
        }
        Ok(())
    }

    /// The batch's operations, with document counts folded in.
    pub(super) fn into_ops(mut self) -> Result<Vec<KvOp>> {
        for (store_id, delta) in std::mem::take(&mut self.counts) {
            if delta == 0 {
                continue;
            }
            let key = keys::count_key(store_id);
            let cur = match self.read(&key)? {
                Some(b) if b.len() == 8 => u64::from_be_bytes(b[..].try_into().unwrap_or_default()),
                _ => 0,
            };
            let next = (cur as i64 + delta).max(0) as u64;
            self.put(key, next.to_be_bytes().to_vec());
        }
        Ok(self
            .overlay
            .into_iter()
            .map(|(key, value)| KvOp {
                key,
                value: value.map(Bytes::from),
            })
            .collect())
    }
}

/// One document's entry in one index.
#[derive(Debug, PartialEq)]
pub(super) struct IndexEntry {
    /// The index key (index id, encoded values, encoded `_id`).
    pub(super) key: Vec<u8>,
    /// What the entry stores.
    pub(super) value: Vec<u8>,
    prefix_len: usize,
    constrained: bool,
}

fn same_id(a: &Bson, b: &Bson) -> bool {
    matches!((encode_id(a), encode_id(b)), (Ok(x), Ok(y)) if x == y)
}

fn path(text: &str) -> Result<FieldPath> {
    FieldPath::dotted(text).map_err(|e| Error::InvalidArgument(e.to_string()))
}
