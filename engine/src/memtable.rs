//! The memtable: recent writes, kept in memory in key order with every version, until a flush
//! moves them into the B+tree.
//!
//! Entries are ordered by key, then by sequence number descending, so a reader at snapshot `s`
//! finds the newest version at or below `s` with one seek. Writers add while readers read: the
//! skip list is lock-free.

use std::{
    cmp::Ordering,
    ops::Bound,
    sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering},
};

use bytes::Bytes;
use crossbeam_skiplist::SkipMap;

use crate::kv::{KvOp, Seq};

/// A memtable key: the user key and the version's sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
struct VersionedKey {
    key: Vec<u8>,
    seq: Seq,
}

impl Ord for VersionedKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .cmp(&other.key)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for VersionedKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The newest visible version is this value.
    Value(Bytes),
    /// The newest visible version is a delete.
    Deleted,
    /// No visible version here: look further down.
    Absent,
}

/// An entry returned by a range read: the key and its newest visible version (`None` = deleted).
pub(crate) type Entry = (Vec<u8>, Option<Bytes>);

/// One memtable.
#[derive(Default)]
pub(crate) struct Memtable {
    map: SkipMap<VersionedKey, Option<Bytes>>,
    bytes: AtomicUsize,
    max_seq: AtomicU64,
}

impl Memtable {
    /// Adds every operation of batch `seq`.
    pub fn insert(&self, seq: Seq, ops: &[KvOp]) {
        let mut added = 0;
        for op in ops {
            added += op.size();
            self.map.insert(
                VersionedKey {
                    key: op.key.clone(),
                    seq,
                },
                op.value.clone(),
            );
        }
        self.bytes.fetch_add(added, AtomicOrdering::Relaxed);
        self.max_seq.fetch_max(seq, AtomicOrdering::Release);
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes.load(AtomicOrdering::Relaxed)
    }

    /// The newest sequence number inserted.
    pub fn max_seq(&self) -> Seq {
        self.max_seq.load(AtomicOrdering::Acquire)
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The newest version of `key` at or below `seq`.
    pub fn get(&self, key: &[u8], seq: Seq) -> Lookup {
        if self.map.is_empty() {
            return Lookup::Absent;
        }
        let probe = VersionedKey {
            key: key.to_vec(),
            seq,
        };
        match self.map.lower_bound(Bound::Included(&probe)) {
            Some(e) if e.key().key == key => match e.value() {
                Some(v) => Lookup::Value(v.clone()),
                None => Lookup::Deleted,
            },
            _ => Lookup::Absent,
        }
    }

    /// Up to `limit` keys between `lo` and `hi` with their newest version at or below `seq`,
    /// in ascending key order, or descending from `hi` when `reverse`.
    pub fn range(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reverse: bool,
        seq: Seq,
        limit: usize,
    ) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        let range = (to_versioned_lower(lo), to_versioned_upper(hi));
        if reverse {
            // Versions of one key come oldest-first when walking backwards: keep the newest visible.
            let mut pending: Option<Entry> = None;
            for e in self.map.range(range).rev() {
                let k = e.key();
                if let Some((pk, _)) = &pending
                    && *pk != k.key
                {
                    if out.len() + 1 >= limit {
                        break;
                    }
                    out.extend(pending.take());
                }
                if k.seq <= seq {
                    pending = Some((k.key.clone(), e.value().clone()));
                }
            }
            out.extend(pending);
            out.truncate(limit);
        } else {
            let mut last: Option<Vec<u8>> = None;
            for e in self.map.range(range) {
                let k = e.key();
                if k.seq > seq || last.as_deref() == Some(&k.key[..]) {
                    continue;
                }
                if out.len() >= limit {
                    break;
                }
                last = Some(k.key.clone());
                out.push((k.key.clone(), e.value().clone()));
            }
        }
        out
    }

    /// The newest version of every key, in key order: what a flush writes to the B+tree.
    pub fn latest(&self) -> Vec<KvOp> {
        let mut out: Vec<KvOp> = Vec::new();
        for e in &self.map {
            let k = e.key();
            if out.last().is_some_and(|last| last.key == k.key) {
                continue;
            }
            out.push(KvOp {
                key: k.key.clone(),
                value: e.value().clone(),
            });
        }
        out
    }
}

// Bounds on user keys become bounds on versioned keys. A lower bound `Included(k)` starts at the
// newest version of k (seq MAX); `Excluded(k)` starts after its oldest version (seq 0).
// An upper bound `Excluded(k)` stops before k's newest version; `Included(k)` after its oldest.
fn to_versioned_lower(b: Bound<&[u8]>) -> Bound<VersionedKey> {
    match b {
        Bound::Included(k) => Bound::Included(VersionedKey {
            key: k.to_vec(),
            seq: Seq::MAX,
        }),
        Bound::Excluded(k) => Bound::Excluded(VersionedKey {
            key: k.to_vec(),
            seq: 0,
        }),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn to_versioned_upper(b: Bound<&[u8]>) -> Bound<VersionedKey> {
    match b {
        Bound::Included(k) => Bound::Included(VersionedKey {
            key: k.to_vec(),
            seq: 0,
        }),
        Bound::Excluded(k) => Bound::Excluded(VersionedKey {
            key: k.to_vec(),
            seq: Seq::MAX,
        }),
        Bound::Unbounded => Bound::Unbounded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> KvOp {
        KvOp::put(k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    #[test]
    fn versions_and_snapshots() {
        let m = Memtable::default();
        m.insert(1, &[put("a", "1"), put("b", "1")]);
        m.insert(2, &[put("a", "2"), KvOp::delete(b"b".to_vec())]);
        assert_eq!(m.get(b"a", 1), Lookup::Value(Bytes::from("1")));
        assert_eq!(m.get(b"a", 5), Lookup::Value(Bytes::from("2")));
        assert_eq!(m.get(b"b", 2), Lookup::Deleted);
        assert_eq!(m.get(b"c", 2), Lookup::Absent);
        assert_eq!(m.get(b"a", 0), Lookup::Absent);
        let fwd = m.range(Bound::Unbounded, Bound::Unbounded, false, 2, 10);
        assert_eq!(
            fwd,
            vec![
                (b"a".to_vec(), Some(Bytes::from("2"))),
                (b"b".to_vec(), None)
            ]
        );
        let rev = m.range(Bound::Unbounded, Bound::Unbounded, true, 1, 10);
        assert_eq!(
            rev,
            vec![
                (b"b".to_vec(), Some(Bytes::from("1"))),
                (b"a".to_vec(), Some(Bytes::from("1")))
            ]
        );
        let rev2 = m.range(Bound::Unbounded, Bound::Excluded(&b"b"[..]), true, 2, 10);
        assert_eq!(rev2, vec![(b"a".to_vec(), Some(Bytes::from("2")))]);
        let lim = m.range(Bound::Unbounded, Bound::Unbounded, true, 2, 1);
        assert_eq!(lim, vec![(b"b".to_vec(), None)]);
        let latest = m.latest();
        assert_eq!(latest, vec![put("a", "2"), KvOp::delete(b"b".to_vec())]);
    }
}
