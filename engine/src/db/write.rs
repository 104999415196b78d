//! Writes: documents (insert, replace, update, delete, atomic batches) and the catalog
//! (spaces, stores, indexes). Every write is prepared and committed under the write lock, so
//! index entries always change in the same atomic batch as their document.

use std::{
    collections::{BTreeMap, HashMap},
    ops::Bound,
    time::{SystemTime, UNIX_EPOCH},
};

use bson::{Bson, Document, RawBsonRef, RawDocument, RawDocumentBuf, oid::ObjectId};
use bytes::Bytes;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use super::{
    Db, WriteState,
    catalog::{Catalog, IndexInfo, SpaceInfo, StoreInfo, validate_name},
    snapshot::{Snapshot, encode_id},
};
use crate::{
    error::{Error, Result},
    keys::{self, MAX_KEY_BYTES},
    kv::KvOp,
    value::{self, FieldPath},
};

/// A writer waiting in the commit queue.
pub(crate) struct Slot {
    batch: Mutex<Option<Vec<Write>>>,
    result: Mutex<Option<Result<Vec<WriteResult>>>>,
    thread: std::thread::Thread,
}

/// Writers waiting for a group leader to commit their batches.
#[derive(Default)]
pub(crate) struct CommitQueue {
    pending: Vec<Arc<Slot>>,
    leader_active: bool,
}

/// The largest document accepted, in bytes of BSON.
pub const MAX_DOCUMENT_BYTES: usize = 16 << 20;

/// Changes to some fields of a document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// Dotted paths to set; missing sub-documents are created.
    pub set: Vec<(String, Bson)>,
    /// Dotted paths to remove.
    pub unset: Vec<String>,
}

/// One write in a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Inserts a document; an `_id` is assigned if it has none.
    Insert {
        /// Space name.
        space: String,
        /// Store name.
        store: String,
        /// The document.
        doc: Document,
    },
    /// Replaces the whole document with this `_id`.
    Replace {
        /// Space name.
        space: String,
        /// Store name.
        store: String,
        /// The `_id`.
        id: Bson,
        /// The new body (its `_id`, if present, must equal `id`).
        doc: Document,
    },
    /// Sets and unsets fields of the document with this `_id`.
    Update {
        /// Space name.
        space: String,
        /// Store name.
        store: String,
        /// The `_id`.
        id: Bson,
        /// The changes.
        update: Update,
    },
    /// Deletes the document with this `_id`.
    Delete {
        /// Space name.
        space: String,
        /// Store name.
        store: String,
        /// The `_id`.
        id: Bson,
    },
}

/// What one write did.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteResult {
    /// The inserted document's `_id`.
    Inserted(Bson),
    /// Whether a document was replaced.
    Replaced(bool),
    /// Whether the document existed, and whether it changed.
    Updated {
        /// A document with the `_id` existed.
        matched: bool,
        /// Its content changed.
        modified: bool,
    },
    /// Whether a document was deleted.
    Deleted(bool),
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Db {
    /// Applies a batch of writes atomically: all or none, visible together, durable per the
    /// sync mode before this returns.
    pub fn write(&self, batch: Vec<Write>) -> Result<Vec<WriteResult>> {
        let inner = &self.inner;
        inner.wait_for_room()?;
        // Join the commit queue. The first writer to find no leader commits every batch queued
        // by the time it holds the write lock, then waits for one sync that covers them all and
        // hands each writer its result: one lock hand-off and one wake-up per group, not per
        // write.
        let slot = Arc::new(Slot {
            batch: Mutex::new(Some(batch)),
            result: Mutex::new(None),
            thread: std::thread::current(),
        });
        let lead = {
            let mut q = inner.commits.lock();
            q.pending.push(Arc::clone(&slot));
            !std::mem::replace(&mut q.leader_active, true)
        };
        if !lead {
            loop {
                if let Some(r) = slot.result.lock().take() {
                    return r;
                }
                std::thread::park();
            }
        }
        let mut w = inner.write.lock();
        let group = {
            let mut q = inner.commits.lock();
            q.leader_active = false;
            std::mem::take(&mut q.pending)
        };
        let mut outcomes = Vec::with_capacity(group.len());
        let mut last_seq = None;
        for s in &group {
            let batch = s.batch.lock().take().unwrap_or_default();
            let outcome = self.write_locked(&mut w, batch);
            if let Ok((_, Some(seq))) = &outcome {
                last_seq = Some(*seq);
            }
            outcomes.push(outcome.map(|(results, _)| results));
        }
        drop(w);
        let durable = last_seq.map_or(Ok(()), |seq| inner.finish(seq));
        let mut mine = None;
        for (s, outcome) in group.iter().zip(outcomes) {
            let r = match (&durable, outcome) {
                (Err(e), Ok(_)) => Err(Error::Failed(e.to_string())),
                (_, r) => r,
            };
            if Arc::ptr_eq(s, &slot) {
                mine = Some(r);
            } else {
                *s.result.lock() = Some(r);
                s.thread.unpark();
            }
        }
        mine.unwrap_or_else(|| {
            Err(Error::FailedPrecondition(
                "a write lost its place in the commit queue".into(),
            ))
        })
    }

    /// Prepares and appends a batch under the write lock; the caller waits for durability
    /// (`Inner::finish`) after unlocking. Returns the batch's sequence number, if it wrote.
    pub(crate) fn write_locked(
        &self,
        w: &mut MutexGuard<'_, WriteState>,
        batch: Vec<Write>,
    ) -> Result<(Vec<WriteResult>, Option<u64>)> {
        let inner = &self.inner;
        let latest = inner.latest(w);
        let mut tx = Txn::new(&latest);
        let results = batch
            .into_iter()
            .map(|op| tx.apply(op))
            .collect::<Result<Vec<_>>>()?;
        let ops = tx.into_ops()?;
        if ops.is_empty() {
            return Ok((results, None));
        }
        let bytes = crate::wal::payload_len(&ops);
        if bytes > inner.opts.max_batch_bytes {
            return Err(Error::LimitExceeded(format!(
                "the batch would write {bytes} bytes; one atomic batch may write at most {} \
                 (the server's storage.max_batch_size, Options::max_batch_bytes); split it, \
                 e.g. with a filter or a limit",
                inner.opts.max_batch_bytes
            )));
        }
        let seq = inner.append_locked(w, &ops)?;
        inner
            .counters
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok((results, Some(seq)))
    }

    /// Inserts one document; returns its `_id`.
    pub fn insert(&self, space: &str, store: &str, doc: Document) -> Result<Bson> {
        match self
            .write(vec![Write::Insert {
                space: space.into(),
                store: store.into(),
                doc,
            }])?
            .pop()
        {
            Some(WriteResult::Inserted(id)) => Ok(id),
            other => Err(Error::FailedPrecondition(format!(
                "unexpected insert result {other:?}"
            ))),
        }
    }

    /// Inserts documents in one atomic batch; returns their `_id`s.
    pub fn insert_many(&self, space: &str, store: &str, docs: Vec<Document>) -> Result<Vec<Bson>> {
        let batch = docs
            .into_iter()
            .map(|doc| Write::Insert {
                space: space.into(),
                store: store.into(),
                doc,
            })
            .collect();
        Ok(self
            .write(batch)?
            .into_iter()
            .filter_map(|r| match r {
                WriteResult::Inserted(id) => Some(id),
                _ => None,
            })
            .collect())
    }

    /// The document with this `_id`, from the newest visible state.
    pub fn get(&self, space: &str, store: &str, id: &Bson) -> Result<Option<RawDocumentBuf>> {
        self.snapshot().get(space, store, id)
    }

    /// Replaces the document with this `_id`; returns whether it existed.
    pub fn replace(&self, space: &str, store: &str, id: Bson, doc: Document) -> Result<bool> {
        Ok(matches!(
            self.write(vec![Write::Replace {
                space: space.into(),
                store: store.into(),
                id,
                doc
            }])?
            .pop(),
            Some(WriteResult::Replaced(true))
        ))
    }

    /// Sets and unsets fields of the document with this `_id`; returns whether it existed.
    pub fn update(&self, space: &str, store: &str, id: Bson, update: Update) -> Result<bool> {
        Ok(matches!(
            self.write(vec![Write::Update {
                space: space.into(),
                store: store.into(),
                id,
                update
            }])?
            .pop(),
            Some(WriteResult::Updated { matched: true, .. })
        ))
    }

    /// Deletes the document with this `_id`; returns whether it existed.
    pub fn delete(&self, space: &str, store: &str, id: Bson) -> Result<bool> {
        Ok(matches!(
            self.write(vec![Write::Delete {
                space: space.into(),
                store: store.into(),
                id
            }])?
            .pop(),
            Some(WriteResult::Deleted(true))
        ))
    }

    /// Creates a space. Names starting with `_` are reserved for the system.
    pub fn create_space(&self, name: &str) -> Result<()> {
        self.create_space_inner(name, false)
    }

    /// Creates a system space (its name starts with `_`).
    pub fn create_system_space(&self, name: &str) -> Result<()> {
        self.create_space_inner(name, true)
    }

    fn create_space_inner(&self, name: &str, system: bool) -> Result<()> {
        validate_name(name, system)?;
        self.catalog_change(|c, _| {
            if c.spaces.contains_key(name) {
                return Err(Error::AlreadyExists {
                    kind: "space",
                    name: name.into(),
                });
            }
            let s = SpaceInfo {
                name: name.into(),
                created_at_ms: now_ms(),
            };
            let op = Catalog::space_op(&s)?;
            c.spaces.insert(name.into(), s);
            Ok(vec![op])
        })
    }

    /// Drops a space. A space that still holds stores is refused unless `cascade`.
    pub fn drop_space(&self, name: &str, cascade: bool) -> Result<()> {
        self.catalog_change(|c, seq| {
            if !c.spaces.contains_key(name) {
                return Err(Error::NotFound {
                    kind: "space",
                    name: name.into(),
                });
            }
            let stores: Vec<StoreInfo> = c.stores_in(name).cloned().collect();
            if !stores.is_empty() && !cascade {
                return Err(Error::FailedPrecondition(format!(
                    "space {name} holds {} store(s); drop them first or drop with cascade",
                    stores.len()
                )));
            }
            let mut ops = vec![KvOp::delete(super::catalog::space_key(name))];
            for s in stores {
                c.remove_store(&s.space, &s.name);
                ops.extend(c.drop_store_ops(&s, seq));
            }
            c.spaces.remove(name);
            Ok(ops)
        })
    }

    /// Creates a store in an existing space.
    pub fn create_store(&self, space: &str, store: &str) -> Result<()> {
        validate_name(store, space.starts_with('_'))?;
        self.catalog_change(|c, _| {
            if !c.spaces.contains_key(space) {
                return Err(Error::NotFound {
                    kind: "space",
                    name: space.into(),
                });
            }
            if c.store(space, store).is_ok() {
                return Err(Error::AlreadyExists {
                    kind: "store",
                    name: format!("{space}.{store}"),
                });
            }
            let (id, id_op) = c.allocate_id();
            let s = StoreInfo {
                id,
                space: space.into(),
                name: store.into(),
                created_at_ms: now_ms(),
                indexes: Vec::new(),
            };
            let op = Catalog::store_op(&s)?;
            c.insert_store(s);
            Ok(vec![id_op, op])
        })
    }

    /// Drops a store: its documents and indexes vanish at once and their space is reclaimed
    /// in the background.
    pub fn drop_store(&self, space: &str, store: &str) -> Result<()> {
        self.catalog_change(|c, seq| {
            let s = c.store(space, store)?.clone();
            c.remove_store(space, store);
            Ok(c.drop_store_ops(&s, seq))
        })
    }

    /// Creates a secondary index on one or more dotted field paths and builds it while writes
    /// continue. When this returns the index is complete and exact.
    pub fn create_index(
        &self,
        space: &str,
        store: &str,
        name: &str,
        fields: &[&str],
        unique: bool,
    ) -> Result<IndexInfo> {
        validate_name(name, false)?;
        if fields.is_empty()
            || fields
                .iter()
                .any(|f| f.is_empty() || f.split('.').any(str::is_empty))
        {
            return Err(Error::InvalidArgument(format!(
                "index {name} needs one or more non-empty dotted field paths, got {fields:?}"
            )));
        }
        let mut info = IndexInfo {
            id: 0,
            name: name.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
            unique,
            ready: false,
        };
        // 1. Register the index: from now on every write maintains it.
        self.catalog_change(|c, _| {
            let s = c.store(space, store)?;
            if s.indexes.iter().any(|i| i.name == name) {
                return Err(Error::AlreadyExists {
                    kind: "index",
                    name: format!("{space}.{store}.{name}"),
                });
            }
            let (id, id_op) = c.allocate_id();
            info.id = id;
            let s = c.store_mut(space, store)?;
            s.indexes.push(info.clone());
            Ok(vec![id_op, Catalog::store_op(s)?])
        })?;
        // 2. Backfill from a snapshot, re-reading each document under the write lock.
        if let Err(e) = self.backfill_index(space, store, &info) {
            let _ = self.drop_index(space, store, name);
            return Err(e);
        }
        // 3. Mark it ready for queries.
        self.catalog_change(|c, _| {
            let s = c.store_mut(space, store)?;
            for i in &mut s.indexes {
                if i.id == info.id {
                    i.ready = true;
                }
            }
            Ok(vec![Catalog::store_op(s)?])
        })?;
        info.ready = true;
        Ok(info)
    }

    fn backfill_index(&self, space: &str, store: &str, info: &IndexInfo) -> Result<()> {
        let snap = self.snapshot();
        let store_id = snap.store(space, store)?.id;
        let mut ids = snap.scan(space, store, false)?;
        loop {
            let mut chunk = Vec::with_capacity(1024);
            for doc in ids.by_ref().take(1024) {
                let doc = doc?;
                if let Ok(id) = doc.get("_id")
                    && let Some(id) = id
                {
                    chunk.push(id.to_raw_bson());
                }
            }
            if chunk.is_empty() {
                return Ok(());
            }
            let inner = &self.inner;
            inner.wait_for_room()?;
            let mut w = inner.write.lock();
            let latest = inner.latest(&w);
            let mut tx = Txn::new(&latest);
            for id in chunk {
                let Ok(id) = Bson::try_from(id) else { continue };
                let key = keys::doc_key(store_id, &encode_id(&id)?);
                let Some(doc) = tx.read(&key)? else { continue };
                let entry = tx.index_entry(info, &doc.try_into_raw()?, &id)?;
                if tx.read(&entry.key)?.is_none() {
                    tx.check_unique(info, &entry)?;
                    tx.put(entry.key, entry.value);
                }
            }
            let ops = tx.into_ops()?;
            if !ops.is_empty() {
                let seq = inner.append_locked(&mut w, &ops)?;
                drop(w);
                inner.finish(seq)?;
            }
        }
    }

    /// Drops an index; its entries are reclaimed in the background.
    pub fn drop_index(&self, space: &str, store: &str, name: &str) -> Result<()> {
        self.catalog_change(|c, seq| {
            let s = c.store_mut(space, store)?;
            let pos = s
                .indexes
                .iter()
                .position(|i| i.name == name)
                .ok_or(Error::NotFound {
                    kind: "index",
                    name: format!("{space}.{store}.{name}"),
                })?;
            let idx = s.indexes.remove(pos);
            let op = Catalog::store_op(s)?;
            Ok(vec![op, c.drop_prefix_op(keys::index_prefix(idx.id), seq)])
        })
    }

    /// Runs `change` on a copy of the catalog under the write lock and commits its ops with
    /// the new catalog. `change` gets the sequence number the batch will have.
    fn catalog_change(
        &self,
        change: impl FnOnce(&mut Catalog, u64) -> Result<Vec<KvOp>>,
    ) -> Result<()> {
        let inner = &self.inner;
        inner.wait_for_room()?;
        let mut w: MutexGuard<'_, WriteState> = inner.write.lock();
        inner.check_failed()?;
        let mut catalog = (*inner.read.load().catalog).clone();
        let ops = change(&mut catalog, w.seq + 1)?;
        inner.commit_catalog(&mut w, &ops, catalog)?;
        Ok(())
    }
}

trait IntoRaw {
    fn try_into_raw(self) -> Result<RawDocumentBuf>;
}

impl IntoRaw for Vec<u8> {
    fn try_into_raw(self) -> Result<RawDocumentBuf> {
        RawDocumentBuf::from_bytes(self)
            .map_err(|e| Error::corruption("document", format!("invalid BSON: {e}")))
    }
}

/// A batch being prepared: its changes overlay the latest state.
struct Txn<'a> {
    latest: &'a Snapshot,
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    counts: HashMap<u32, i64>,
}

impl<'a> Txn<'a> {
    fn new(latest: &'a Snapshot) -> Self {
        Txn {
            latest,
            overlay: BTreeMap::new(),
            counts: HashMap::new(),
        }
    }

    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.overlay.get(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.latest.get_key(key)?.map(|b| b.to_vec())),
        }
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.overlay.insert(key, Some(value));
    }

    fn delete(&mut self, key: Vec<u8>) {
        self.overlay.insert(key, None);
    }

    fn store(&self, space: &str, store: &str) -> Result<StoreInfo> {
        self.latest.catalog().store(space, store).cloned()
    }

    fn apply(&mut self, op: Write) -> Result<WriteResult> {
        match op {
            Write::Insert {
                space,
                store,
                mut doc,
            } => {
                let s = self.store(&space, &store)?;
                let id = match doc.get("_id") {
                    Some(id) => id.clone(),
                    None => {
                        let id = Bson::ObjectId(ObjectId::new());
                        let mut with_id = Document::new();
                        with_id.insert("_id", id.clone());
                        with_id.extend(doc);
                        doc = with_id;
                        id
                    }
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
        let old_raw = old.map(|o| o.try_into_raw()).transpose()?;
        let new_raw = new_bytes.map(|b| b.try_into_raw()).transpose()?;
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

    fn index_entry(&self, idx: &IndexInfo, doc: &RawDocument, id: &Bson) -> Result<IndexEntry> {
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
    fn check_unique(&self, idx: &IndexInfo, e: &IndexEntry) -> Result<()> {
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
    fn into_ops(mut self) -> Result<Vec<KvOp>> {
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

#[derive(Debug, PartialEq)]
struct IndexEntry {
    key: Vec<u8>,
    value: Vec<u8>,
    prefix_len: usize,
    constrained: bool,
}

fn same_id(a: &Bson, b: &Bson) -> bool {
    matches!((encode_id(a), encode_id(b)), (Ok(x), Ok(y)) if x == y)
}

fn path(text: &str) -> Result<FieldPath> {
    FieldPath::dotted(text).map_err(|e| Error::InvalidArgument(e.to_string()))
}
