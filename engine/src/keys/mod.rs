//! The layout of the engine's single ordered keyspace.
//!
//! Every piece of state — catalog entries, documents, secondary-index entries and value-log
//! statistics — is a key in one ordered map, so one atomic batch can change a document, its index
//! entries and the catalog together. The first byte of a key says what it is:
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `0x01` | catalog: `'n'` next id, `'s'` space name, `'t'` space `0x00` store, `'d'` dropped store id | BSON / u32 |
//! | `0x02` | document: store id (u32 BE) + [`encode`]d `_id` | the stored document |
//! | `0x03` | index entry: index id (u32 BE) + encoded field values + encoded `_id` | encoded `_id` |
//! | `0x04` | value-log segment statistics: segment number (u32 BE) | total and dead bytes |
//! | `0x05` | document count of a store: store id (u32 BE) | u64 BE |

pub mod encode;

use bson::RawBsonRef;

/// Prefix of catalog keys.
pub(crate) const CATALOG: u8 = 0x01;
/// Prefix of document keys.
pub(crate) const DOC: u8 = 0x02;
/// Prefix of secondary-index keys.
pub(crate) const INDEX: u8 = 0x03;
/// Prefix of value-log statistics keys.
pub(crate) const VLOG_STATS: u8 = 0x04;

/// Prefix of per-store document counts.
pub(crate) const COUNT: u8 = 0x05;

/// The key holding a store's document count.
pub(crate) fn count_key(store_id: u32) -> Vec<u8> {
    let mut k = vec![COUNT];
    k.extend_from_slice(&store_id.to_be_bytes());
    k
}

/// The key holding a value-log segment's statistics.
pub(crate) fn vlog_stats_key(segment: u32) -> Vec<u8> {
    let mut k = vec![VLOG_STATS];
    k.extend_from_slice(&segment.to_be_bytes());
    k
}

/// The largest encoded key the engine accepts (documents' `_id` plus index values).
pub const MAX_KEY_BYTES: usize = 1024;

/// The key prefix shared by every document of a store.
pub(crate) fn doc_prefix(store_id: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    k.push(DOC);
    k.extend_from_slice(&store_id.to_be_bytes());
    k
}

/// The key of one document, from its encoded `_id`.
pub(crate) fn doc_key(store_id: u32, encoded_id: &[u8]) -> Vec<u8> {
    let mut k = doc_prefix(store_id);
    k.extend_from_slice(encoded_id);
    k
}

/// The key prefix shared by every entry of an index.
pub(crate) fn index_prefix(index_id: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(64);
    k.push(INDEX);
    k.extend_from_slice(&index_id.to_be_bytes());
    k
}

/// The key of one index entry: the index's values (missing values as null) then the `_id`.
pub(crate) fn index_key(
    index_id: u32,
    values: &[Option<RawBsonRef<'_>>],
    encoded_id: &[u8],
) -> Vec<u8> {
    let mut k = index_prefix(index_id);
    for v in values {
        encode::encode_opt(*v, &mut k);
    }
    k.extend_from_slice(encoded_id);
    k
}

/// The smallest key greater than every key starting with `prefix` (`None`: no such key).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xFF {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_carries() {
        assert_eq!(prefix_successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
    }
}
