//! Spaces, stores and indexes: the catalog, kept as keys in the keyspace and cached in memory.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    keys::{self, CATALOG},
    kv::{KvOp, Seq},
};

/// A space: a named group of stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceInfo {
    /// The space's name.
    pub name: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// A store: a collection of documents with unique `_id`s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// Internal id; never reused.
    pub id: u32,
    /// The space it belongs to.
    pub space: String,
    /// The store's name.
    pub name: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Its secondary indexes.
    pub indexes: Vec<IndexInfo>,
}

/// A secondary index on one or more field paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexInfo {
    /// Internal id; never reused.
    pub id: u32,
    /// The index's name, unique within its store.
    pub name: String,
    /// Dotted field paths, in key order.
    pub fields: Vec<String>,
    /// Whether two documents may not share a key (documents missing a field, or holding null,
    /// are not constrained).
    pub unique: bool,
    /// False while the index is being built; queries only use ready indexes.
    pub ready: bool,
}

/// A key range whose owner was dropped, waiting to be purged from the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Every key with this prefix is garbage.
    pub prefix: Vec<u8>,
    /// The sequence number of the drop: purge once the tree's checkpoint reaches it.
    pub seq: Seq,
}

/// The in-memory catalog.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub spaces: BTreeMap<String, SpaceInfo>,
    /// Stores by space, then by name.
    stores: BTreeMap<String, BTreeMap<String, StoreInfo>>,
    pub next_id: u32,
    pub dropped: Vec<Dropped>,
}

/// Checks a space, store or index name.
pub(crate) fn validate_name(name: &str, allow_reserved: bool) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return bad("names may not be empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return bad("names start with a letter or '_'");
        }
        _ => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return bad("names hold only ASCII letters, digits and '_'");
    }
    if name.len() > 64 {
        return bad("names are at most 64 characters");
    }
    if name.starts_with('_') && !allow_reserved {
        return bad("names starting with '_' are reserved for the system");
    }
    Ok(())
}

pub(crate) const NEXT_ID_KEY: &[u8] = &[CATALOG, b'n'];

pub(crate) fn space_key(name: &str) -> Vec<u8> {
    let mut k = vec![CATALOG, b's'];
    k.extend_from_slice(name.as_bytes());
    k
}

pub(crate) fn store_key(space: &str, store: &str) -> Vec<u8> {
    let mut k = vec![CATALOG, b't'];
    k.extend_from_slice(space.as_bytes());
    k.push(0);
    k.extend_from_slice(store.as_bytes());
    k
}

pub(crate) fn dropped_key(prefix: &[u8]) -> Vec<u8> {
    let mut k = vec![CATALOG, b'd'];
    k.extend_from_slice(prefix);
    k
}

impl Catalog {
    /// Rebuilds the catalog from its keys, in key order.
    pub fn load(entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Result<Catalog> {
        let mut c = Catalog {
            next_id: 1,
            ..Default::default()
        };
        for (k, v) in entries {
            let bad = |d: String| Error::Corruption {
                path: "catalog".into(),
                detail: d,
            };
            match k.get(1) {
                Some(b'n') => {
                    let b: [u8; 4] = v
                        .as_slice()
                        .try_into()
                        .map_err(|_| bad("next id is not 4 bytes".into()))?;
                    c.next_id = u32::from_be_bytes(b);
                }
                Some(b's') => {
                    let s: SpaceInfo =
                        bson::from_slice(&v).map_err(|e| bad(format!("space entry: {e}")))?;
                    c.spaces.insert(s.name.clone(), s);
                }
                Some(b't') => {
                    let s: StoreInfo =
                        bson::from_slice(&v).map_err(|e| bad(format!("store entry: {e}")))?;
                    c.insert_store(s);
                }
                Some(b'd') => {
                    let b: [u8; 8] = v
                        .as_slice()
                        .try_into()
                        .map_err(|_| bad("drop marker is not 8 bytes".into()))?;
                    c.dropped.push(Dropped {
                        prefix: k[2..].to_vec(),
                        seq: u64::from_be_bytes(b),
                    });
                }
                _ => return Err(bad(format!("unknown catalog key {k:?}"))),
            }
        }
        Ok(c)
    }

    /// Takes the next id, returning it and the op that persists the counter.
    pub fn allocate_id(&mut self) -> (u32, KvOp) {
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        (
            id,
            KvOp::put(NEXT_ID_KEY.to_vec(), self.next_id.to_be_bytes().to_vec()),
        )
    }

    /// The op that persists a store's entry.
    pub fn store_op(store: &StoreInfo) -> Result<KvOp> {
        let v = bson::to_vec(store)
            .map_err(|e| Error::Internal(format!("encoding store entry: {e}")))?;
        Ok(KvOp::put(store_key(&store.space, &store.name), v))
    }

    /// The op that persists a space's entry.
    pub fn space_op(space: &SpaceInfo) -> Result<KvOp> {
        let v = bson::to_vec(space)
            .map_err(|e| Error::Internal(format!("encoding space entry: {e}")))?;
        Ok(KvOp::put(space_key(&space.name), v))
    }

    /// Marks every key of a dropped store (documents and indexes) for purging; returns the ops.
    pub fn drop_store_ops(&mut self, store: &StoreInfo, seq: Seq) -> Vec<KvOp> {
        let mut ops = vec![KvOp::delete(store_key(&store.space, &store.name))];
        let mut prefixes = vec![keys::doc_prefix(store.id), keys::count_key(store.id)];
        prefixes.extend(store.indexes.iter().map(|i| keys::index_prefix(i.id)));
        for p in prefixes {
            ops.push(self.drop_prefix_op(p, seq));
        }
        ops
    }

    /// Marks one key prefix for purging; returns the op.
    pub fn drop_prefix_op(&mut self, prefix: Vec<u8>, seq: Seq) -> KvOp {
        let op = KvOp::put(dropped_key(&prefix), seq.to_be_bytes().to_vec());
        self.dropped.push(Dropped { prefix, seq });
        op
    }

    /// The store `space.store`.
    pub fn store(&self, space: &str, store: &str) -> Result<&StoreInfo> {
        self.stores
            .get(space)
            .and_then(|m| m.get(store))
            .ok_or_else(|| not_found(space, store))
    }

    /// The store `space.store`, to change it.
    pub fn store_mut(&mut self, space: &str, store: &str) -> Result<&mut StoreInfo> {
        self.stores
            .get_mut(space)
            .and_then(|m| m.get_mut(store))
            .ok_or_else(|| not_found(space, store))
    }

    /// Adds (or replaces) a store.
    pub fn insert_store(&mut self, s: StoreInfo) {
        self.stores
            .entry(s.space.clone())
            .or_default()
            .insert(s.name.clone(), s);
    }

    /// Removes a store.
    pub fn remove_store(&mut self, space: &str, store: &str) -> Option<StoreInfo> {
        let m = self.stores.get_mut(space)?;
        let s = m.remove(store);
        if m.is_empty() {
            self.stores.remove(space);
        }
        s
    }

    /// Every store of one space.
    pub fn stores_in<'a>(&'a self, space: &str) -> impl Iterator<Item = &'a StoreInfo> + 'a {
        self.stores.get(space).into_iter().flat_map(|m| m.values())
    }

    /// Every store.
    pub fn all_stores(&self) -> impl Iterator<Item = &StoreInfo> {
        self.stores.values().flat_map(|m| m.values())
    }
}

fn not_found(space: &str, store: &str) -> Error {
    Error::NotFound {
        kind: "store",
        name: format!("{space}.{store}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("orders", false).is_ok());
        assert!(validate_name("_system", false).is_err());
        assert!(validate_name("_system", true).is_ok());
        assert!(validate_name("9lives", false).is_err());
        assert!(validate_name("a-b", false).is_err());
        assert!(validate_name("", false).is_err());
        assert!(validate_name(&"a".repeat(64), false).is_ok());
        assert!(validate_name(&"a".repeat(65), false).is_err());
    }
}
