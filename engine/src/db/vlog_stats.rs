//! What the tree records about each value-log segment: bytes written and bytes no longer
//! referenced, read at open, updated by flushes and garbage collection. The encoder and the
//! decoder sit side by side here.
//!
//! On disk: key `VLOG_STATS | segment (u32, big-endian)`, value `written | dead`, two u64s,
//! little-endian (the format since the first release; the key is big-endian so that segments
//! sort in order).

#![warn(clippy::indexing_slicing)]

use std::{collections::BTreeMap, ops::Bound, path::Path};

use crate::{
    btree::TreeVersion,
    error::{Error, Result},
    keys,
    kv::KvOp,
};

/// Bytes in one encoded value.
const ENCODED_LEN: usize = 16;

/// One segment's byte counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SegmentStats {
    /// Bytes of committed records written to the segment.
    pub written: u64,
    /// Bytes of those no longer referenced by any document.
    pub dead: u64,
}

impl SegmentStats {
    /// The tree operation that stores these counts for `segment`.
    pub(crate) fn put_op(&self, segment: u32) -> KvOp {
        let mut v = Vec::with_capacity(ENCODED_LEN);
        v.extend_from_slice(&self.written.to_le_bytes());
        v.extend_from_slice(&self.dead.to_le_bytes());
        KvOp::put(keys::vlog_stats_key(segment), v)
    }

    /// Decodes a stored value; `None` if it is not one.
    fn decode(value: &[u8]) -> Option<SegmentStats> {
        let written = value.get(..8)?.try_into().ok().map(u64::from_le_bytes)?;
        let dead = value
            .get(8..ENCODED_LEN)?
            .try_into()
            .ok()
            .map(u64::from_le_bytes)?;
        (value.len() == ENCODED_LEN).then_some(SegmentStats { written, dead })
    }
}

/// Every segment's counts stored in `tree` (whose file is `path`, for errors).
pub(crate) fn load(tree: &TreeVersion, path: &Path) -> Result<BTreeMap<u32, SegmentStats>> {
    let lo = vec![keys::VLOG_STATS];
    let hi = vec![keys::VLOG_STATS + 1];
    let mut stats = BTreeMap::new();
    for (k, v) in tree.range(
        Bound::Included(&lo),
        Bound::Excluded(&hi),
        false,
        usize::MAX,
    )? {
        let segment = k
            .get(1..5)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes);
        match (segment, SegmentStats::decode(&v)) {
            (Some(segment), Some(s)) if k.len() == 5 => {
                stats.insert(segment, s);
            }
            _ => return Err(Error::corruption(path, "malformed value-log statistics")),
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_survive_encoding() {
        let s = SegmentStats {
            written: 1 << 40,
            dead: 12_345,
        };
        let op = s.put_op(7);
        assert_eq!(op.key, keys::vlog_stats_key(7));
        let value = op.value.expect("a put");
        assert_eq!(SegmentStats::decode(&value), Some(s));
        assert_eq!(SegmentStats::decode(&value[..15]), None);
        let mut longer = value.to_vec();
        longer.push(0);
        assert_eq!(SegmentStats::decode(&longer), None);
    }
}
