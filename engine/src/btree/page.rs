//! The byte layout of one B+tree page.
//!
//! ```text
//! 0..4    crc32 of bytes 4..PAGE_SIZE
//! 4       kind: 1 leaf, 2 branch
//! 5..7    n: number of entries (u16 LE)
//! 7..15   branch: the leftmost child's page number (u64 LE); leaf: zero
//! 15..    n slot offsets (u16 LE), in key order, pointing at the entries
//! entries leaf:   key_len u16 | value_len u16 | key | value
//!         branch: key_len u16 | child u64 | key      (child holds keys >= key)
//! ```
//! Pages are written once and never modified (copy-on-write), so readers binary-search the raw
//! bytes straight out of the cache without decoding.

#![warn(clippy::indexing_slicing)]

use bytes::Bytes;

/// Bytes in a page.
pub(crate) const PAGE_SIZE: usize = 8192;
/// A page number in the data file.
pub(crate) type PageId = u64;

const KIND_LEAF: u8 = 1;
const KIND_BRANCH: u8 = 2;
const HEADER: usize = 15;
const SLOT: usize = 2;
/// Bytes an entry may use at most so that every page holds at least two entries.
pub(crate) const MAX_ENTRY: usize = (PAGE_SIZE - HEADER) / 2 - SLOT - 8;

/// A validated, immutable page.
#[derive(Clone)]
pub(crate) struct Page(Bytes);

#[expect(
    clippy::indexing_slicing,
    reason = "parse checked the size, every slot and every entry against the page; accessors stay inside"
)]
impl Page {
    /// Checks the checksum and structure of raw page bytes.
    pub fn parse(bytes: Bytes) -> Result<Page, String> {
        if bytes.len() != PAGE_SIZE {
            return Err(format!(
                "page is {} bytes, expected {PAGE_SIZE}",
                bytes.len()
            ));
        }
        let crc = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if crc != crc32fast::hash(&bytes[4..]) {
            return Err("page checksum mismatch".into());
        }
        let page = Page(bytes);
        if !matches!(page.0[4], KIND_LEAF | KIND_BRANCH) {
            return Err(format!("unknown page kind {}", page.0[4]));
        }
        let n = page.len();
        if HEADER + n * SLOT > PAGE_SIZE {
            return Err(format!("page claims {n} entries"));
        }
        for i in 0..n {
            let off = page.slot(i);
            let fixed = if page.is_leaf() { 4 } else { 10 };
            if off < HEADER + n * SLOT || off + fixed > PAGE_SIZE {
                return Err(format!("entry {i} at offset {off} is out of bounds"));
            }
            let klen = page.u16_at(off);
            let vlen = if page.is_leaf() {
                page.u16_at(off + 2)
            } else {
                0
            };
            if off + fixed + klen + vlen > PAGE_SIZE {
                return Err(format!("entry {i} overruns the page"));
            }
        }
        Ok(page)
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Wraps a page this process just built (already sealed and well-formed).
    pub fn built(bytes: Vec<u8>) -> Page {
        Page(Bytes::from(bytes))
    }

    /// Whether this is a leaf.
    pub fn is_leaf(&self) -> bool {
        self.0[4] == KIND_LEAF
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        usize::from(u16::from_le_bytes([self.0[5], self.0[6]]))
    }

    fn u16_at(&self, off: usize) -> usize {
        usize::from(u16::from_le_bytes([self.0[off], self.0[off + 1]]))
    }

    fn slot(&self, i: usize) -> usize {
        self.u16_at(HEADER + i * SLOT)
    }

    /// The key of entry `i`.
    pub fn key(&self, i: usize) -> &[u8] {
        let off = self.slot(i);
        let klen = self.u16_at(off);
        let start = off + if self.is_leaf() { 4 } else { 10 };
        &self.0[start..start + klen]
    }

    /// The value of leaf entry `i`, sharing the page's memory.
    pub fn value(&self, i: usize) -> Bytes {
        let off = self.slot(i);
        let klen = self.u16_at(off);
        let vlen = self.u16_at(off + 2);
        let start = off + 4 + klen;
        self.0.slice(start..start + vlen)
    }

    /// The leftmost child of a branch.
    pub fn first_child(&self) -> PageId {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[7..15]);
        u64::from_le_bytes(b)
    }

    /// The child to the right of branch key `i` (keys >= key(i)).
    pub fn child(&self, i: usize) -> PageId {
        let off = self.slot(i) + 2;
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[off..off + 8]);
        u64::from_le_bytes(b)
    }

    /// Child number `c` of a branch, 0 being the leftmost (a branch has `len() + 1` children).
    pub fn child_at(&self, c: usize) -> PageId {
        if c == 0 {
            self.first_child()
        } else {
            self.child(c - 1)
        }
    }

    /// The first index `i` whose key is greater than `key` (for a leaf, where `key` would go).
    pub fn upper_bound(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.key(mid) <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The first index `i` whose key is at least `key`.
    pub fn lower_bound(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.key(mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Bytes a leaf entry occupies, slot included.
pub(crate) fn leaf_entry_size(key: &[u8], value: &[u8]) -> usize {
    SLOT + 4 + key.len() + value.len()
}

/// Bytes a branch entry occupies, slot included.
pub(crate) fn branch_entry_size(key: &[u8]) -> usize {
    SLOT + 10 + key.len()
}

/// Bytes available for entries in a page.
pub(crate) const CAPACITY: usize = PAGE_SIZE - HEADER;

/// Serialises a leaf; the entries must fit (see [`CAPACITY`]).
#[expect(
    clippy::indexing_slicing,
    reason = "a PAGE_SIZE buffer and entries that fit it: CAPACITY and split_even guarantee them"
)]
pub(crate) fn build_leaf(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut page = vec![0u8; PAGE_SIZE];
    page[4] = KIND_LEAF;
    page[5..7].copy_from_slice(&(entries.len() as u16).to_le_bytes());
    let mut off = HEADER + entries.len() * SLOT;
    for (i, (k, v)) in entries.iter().enumerate() {
        page[HEADER + i * SLOT..HEADER + i * SLOT + 2].copy_from_slice(&(off as u16).to_le_bytes());
        page[off..off + 2].copy_from_slice(&(k.len() as u16).to_le_bytes());
        page[off + 2..off + 4].copy_from_slice(&(v.len() as u16).to_le_bytes());
        page[off + 4..off + 4 + k.len()].copy_from_slice(k);
        page[off + 4 + k.len()..off + 4 + k.len() + v.len()].copy_from_slice(v);
        off += 4 + k.len() + v.len();
    }
    seal(&mut page);
    page
}

/// Serialises a branch: the leftmost child, then (separator key, child) pairs.
#[expect(
    clippy::indexing_slicing,
    reason = "a PAGE_SIZE buffer and entries that fit it: CAPACITY and split_even guarantee them"
)]
pub(crate) fn build_branch(first_child: PageId, entries: &[(&[u8], PageId)]) -> Vec<u8> {
    let mut page = vec![0u8; PAGE_SIZE];
    page[4] = KIND_BRANCH;
    page[5..7].copy_from_slice(&(entries.len() as u16).to_le_bytes());
    page[7..15].copy_from_slice(&first_child.to_le_bytes());
    let mut off = HEADER + entries.len() * SLOT;
    for (i, (k, child)) in entries.iter().enumerate() {
        page[HEADER + i * SLOT..HEADER + i * SLOT + 2].copy_from_slice(&(off as u16).to_le_bytes());
        page[off..off + 2].copy_from_slice(&(k.len() as u16).to_le_bytes());
        page[off + 2..off + 10].copy_from_slice(&child.to_le_bytes());
        page[off + 10..off + 10 + k.len()].copy_from_slice(k);
        off += 10 + k.len();
    }
    seal(&mut page);
    page
}

#[expect(clippy::indexing_slicing, reason = "called on PAGE_SIZE buffers only")]
fn seal(page: &mut [u8]) {
    let crc = crc32fast::hash(&page[4..]);
    page[0..4].copy_from_slice(&crc.to_le_bytes());
}

/// Splits items with the given sizes into consecutive groups that each fit in a page, as even
/// as possible. Returns the group boundaries (exclusive ends).
pub(crate) fn split_even(sizes: &[usize]) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    if total <= CAPACITY {
        return vec![sizes.len()];
    }
    let pages = total.div_ceil(CAPACITY * 15 / 16).max(2);
    let target = total.div_ceil(pages);
    let mut ends = Vec::with_capacity(pages);
    let mut used = 0;
    for (i, &s) in sizes.iter().enumerate() {
        if used > 0 && (used + s > CAPACITY || used >= target) {
            ends.push(i);
            used = 0;
        }
        used += s;
    }
    ends.push(sizes.len());
    ends
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_round_trip_and_search() {
        let raw = build_leaf(&[(b"a", b"1"), (b"c", b"3"), (b"e", b"")]);
        let p = Page::parse(Bytes::from(raw)).expect("valid page");
        assert!(p.is_leaf());
        assert_eq!(p.len(), 3);
        assert_eq!(p.key(1), b"c");
        assert_eq!(&p.value(1)[..], b"3");
        assert_eq!(p.lower_bound(b"c"), 1);
        assert_eq!(p.upper_bound(b"c"), 2);
        assert_eq!(p.lower_bound(b"d"), 2);
    }

    #[test]
    fn branch_round_trip() {
        let raw = build_branch(7, &[(b"m", 8), (b"t", 9)]);
        let p = Page::parse(Bytes::from(raw)).expect("valid page");
        assert!(!p.is_leaf());
        assert_eq!(p.child_at(0), 7);
        assert_eq!(p.child_at(2), 9);
        assert_eq!(p.upper_bound(b"m"), 1);
    }

    #[test]
    fn corruption_is_detected() {
        let mut raw = build_leaf(&[(b"a", b"1")]);
        raw[100] ^= 0x40;
        assert!(Page::parse(Bytes::from(raw)).is_err());
    }

    #[test]
    fn split_is_even_and_fits() {
        let sizes = vec![1000; 20];
        let ends = split_even(&sizes);
        let mut start = 0;
        for &e in &ends {
            let used: usize = sizes[start..e].iter().sum();
            assert!(used <= CAPACITY);
            start = e;
        }
        assert_eq!(start, 20);
        assert!(ends.len() <= 4);
    }
}
