//! Copy-on-write B+trees on disk.
//!
//! The whole keyspace is one B+tree in one data file. A commit never overwrites a page that the
//! last committed tree uses: changed leaves and their ancestors are written to free pages, then
//! a meta page names the new root. Readers hold a [`TreeVersion`] and see that tree for as long
//! as they like; its pages are not reused until every holder is gone.

mod page;
mod pager;
mod writer;

use std::{collections::HashSet, ops::Bound, sync::Arc};

use bytes::Bytes;

pub(crate) use page::{PAGE_SIZE, Page, PageId};
pub(crate) use pager::{Meta, Pager};
pub(crate) use writer::TreeWriter;

use crate::error::{Error, Result};

/// A committed tree, pinned for readers.
pub(crate) struct TreeVersion {
    pager: Arc<Pager>,
    meta: Meta,
}

impl TreeVersion {
    /// Pins the tree described by `meta`.
    pub fn new(pager: Arc<Pager>, meta: Meta) -> Arc<TreeVersion> {
        pager.pin(meta.generation);
        Arc::new(TreeVersion { pager, meta })
    }

    /// The meta record of this version.
    pub fn meta(&self) -> Meta {
        self.meta
    }

    /// The value stored at `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let mut id = self.meta.root;
        if id == 0 {
            return Ok(None);
        }
        for _ in 0..64 {
            let page = self.pager.read(id)?;
            if page.is_leaf() {
                let i = page.lower_bound(key);
                return Ok((i < page.len() && page.key(i) == key).then(|| page.value(i)));
            }
            id = page.child_at(page.upper_bound(key));
        }
        Err(self.too_deep())
    }

    /// Like [`TreeVersion::get`], but first looks in `leaf`, the leaf of a previous lookup,
    /// when `key` lies within its keys (ascending lookups of nearby keys, such as the documents
    /// of one index range, then skip the descent). `leaf` is updated to the leaf searched.
    pub fn get_near(&self, key: &[u8], leaf: &mut Option<page::Page>) -> Result<Option<Bytes>> {
        if let Some(page) = leaf.as_ref() {
            let n = page.len();
            if n > 0 && page.key(0) <= key && key <= page.key(n - 1) {
                let i = page.lower_bound(key);
                return Ok((i < n && page.key(i) == key).then(|| page.value(i)));
            }
        }
        let mut id = self.meta.root;
        if id == 0 {
            return Ok(None);
        }
        for _ in 0..64 {
            let page = self.pager.read(id)?;
            if page.is_leaf() {
                let i = page.lower_bound(key);
                let found = (i < page.len() && page.key(i) == key).then(|| page.value(i));
                *leaf = Some(page);
                return Ok(found);
            }
            id = page.child_at(page.upper_bound(key));
        }
        Err(self.too_deep())
    }

    fn too_deep(&self) -> Error {
        Error::corruption(
            self.pager.path(),
            "the tree is deeper than 64 levels: a page cycle",
        )
    }

    /// Up to `limit` entries between `lo` and `hi`, ascending, or descending when `reverse`.
    pub fn range(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Bytes)>> {
        let mut out = Vec::new();
        if self.meta.root != 0 && limit > 0 {
            self.collect(self.meta.root, lo, hi, reverse, limit, &mut out, 0)?;
        }
        Ok(out)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the recursive range walk carries its bounds and output down each level"
    )]
    fn collect(
        &self,
        id: PageId,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
        out: &mut Vec<(Vec<u8>, Bytes)>,
        depth: usize,
    ) -> Result<()> {
        if depth > 64 {
            return Err(self.too_deep());
        }
        let page = self.pager.read(id)?;
        if page.is_leaf() {
            let start = match lo {
                Bound::Included(k) => page.lower_bound(k),
                Bound::Excluded(k) => page.upper_bound(k),
                Bound::Unbounded => 0,
            };
            let end = match hi {
                Bound::Included(k) => page.upper_bound(k),
                Bound::Excluded(k) => page.lower_bound(k),
                Bound::Unbounded => page.len(),
            };
            if start >= end {
                return Ok(());
            }
            let take = (end - start).min(limit.saturating_sub(out.len()));
            if reverse {
                out.extend(
                    (end - take..end)
                        .rev()
                        .map(|i| (page.key(i).to_vec(), page.value(i))),
                );
            } else {
                out.extend((start..start + take).map(|i| (page.key(i).to_vec(), page.value(i))));
            }
            return Ok(());
        }
        // Children that can hold keys in [lo, hi].
        let first = match lo {
            Bound::Included(k) | Bound::Excluded(k) => page.upper_bound(k),
            Bound::Unbounded => 0,
        };
        let last = match hi {
            Bound::Included(k) | Bound::Excluded(k) => page.upper_bound(k),
            Bound::Unbounded => page.len(),
        };
        let children: Box<dyn Iterator<Item = usize>> = if reverse {
            Box::new((first..=last).rev())
        } else {
            Box::new(first..=last)
        };
        for c in children {
            if out.len() >= limit {
                break;
            }
            self.collect(page.child_at(c), lo, hi, reverse, limit, out, depth + 1)?;
        }
        Ok(())
    }

    /// Every page the tree uses. Branches are read; leaves, all at the same depth, are known
    /// from their parents.
    pub fn reachable_pages(&self) -> Result<HashSet<PageId>> {
        let mut seen = HashSet::new();
        if self.meta.root == 0 {
            return Ok(seen);
        }
        let mut height = 1;
        let mut id = self.meta.root;
        loop {
            let page = self.pager.read(id)?;
            if page.is_leaf() {
                break;
            }
            height += 1;
            if height > 64 {
                return Err(self.too_deep());
            }
            id = page.child_at(0);
        }
        let mut stack = vec![(self.meta.root, 1usize)];
        while let Some((id, level)) = stack.pop() {
            if !seen.insert(id) || id >= self.meta.page_count {
                return Err(Error::corruption(
                    self.pager.path(),
                    format!("page {id} is reached twice or lies past the end of the file"),
                ));
            }
            if level == height {
                continue;
            }
            let page = self.pager.read(id)?;
            if page.is_leaf() {
                return Err(Error::corruption(
                    self.pager.path(),
                    format!("leaf {id} above the leaf level"),
                ));
            }
            for c in 0..=page.len() {
                stack.push((page.child_at(c), level + 1));
            }
        }
        Ok(seen)
    }
}

impl Drop for TreeVersion {
    fn drop(&mut self) {
        self.pager.unpin(self.meta.generation);
    }
}

#[cfg(test)]
mod tests;
