//! Spaces, stores and index definitions: creating and dropping them, and building a new index
//! from the documents already stored while writes continue (the backfill); at open, dropping
//! the ones whose build was interrupted.

use bson::Bson;
use parking_lot::MutexGuard;
use tracing::warn;

use super::{
    Db, WriteState,
    catalog::{Catalog, IndexInfo, SpaceInfo, StoreInfo, validate_name},
    snapshot::encode_id,
    txn::{IntoRaw, Txn},
};
use crate::{
    error::{Error, Result},
    keys,
    kv::KvOp,
};

impl Db {
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
                created_at_ms: bson::DateTime::now().timestamp_millis(),
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
                created_at_ms: bson::DateTime::now().timestamp_millis(),
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
            fields: fields
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
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
                let seq = inner.append_locked(&mut w, &ops, None)?;
                drop(w);
                inner.complete_commit(seq)?;
            }
        }
    }

    /// Drops the indexes whose build was interrupted (see
    /// [`crate::Options::drop_unfinished_indexes`]).
    pub(crate) fn drop_unfinished_indexes(&self) -> Result<()> {
        let snap = self.snapshot();
        for space in snap.spaces() {
            for store in snap.stores(&space.name)? {
                for index in store.indexes.iter().filter(|i| !i.ready) {
                    warn!(space = %space.name, store = %store.name, index = %index.name,
                        "dropping an index whose build was interrupted; create it again");
                    self.drop_index(&space.name, &store.name, &index.name)?;
                }
            }
        }
        Ok(())
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
