//! Applying a sorted batch of changes to the tree, copy-on-write, as one commit.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{
    page::{self, Page, PageId},
    pager::{Meta, Pager},
};
use crate::{
    error::{Error, Result},
    kv::{KvOp, Seq},
};

/// A node produced by a rewrite: its lowest key (`None`: keep the parent's separator) and page.
type Piece = (Option<Vec<u8>>, PageId);

/// One write transaction on the tree. Only one exists at a time.
pub(crate) struct TreeWriter<'a> {
    pager: &'a Pager,
    base: Meta,
    root: PageId,
    new_pages: BTreeMap<PageId, Page>,
    released: Vec<PageId>,
}

impl<'a> TreeWriter<'a> {
    /// Starts a transaction on the committed tree `base`.
    pub fn new(pager: &'a Pager, base: Meta) -> Self {
        TreeWriter {
            pager,
            base,
            root: base.root,
            new_pages: BTreeMap::new(),
            released: Vec::new(),
        }
    }

    fn read(&self, id: PageId) -> Result<Page> {
        match self.new_pages.get(&id) {
            Some(p) => Ok(p.clone()),
            None => self.pager.read(id),
        }
    }

    fn free(&mut self, id: PageId) {
        if self.new_pages.remove(&id).is_some() {
            self.pager.release_uncommitted([id]);
        } else {
            self.released.push(id);
        }
    }

    fn write(&mut self, bytes: Vec<u8>) -> PageId {
        let id = self.pager.allocate();
        self.new_pages.insert(id, Page::built(bytes));
        id
    }

    /// The value at `key` as this transaction sees it.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let mut id = self.root;
        if id == 0 {
            return Ok(None);
        }
        for _ in 0..64 {
            let page = self.read(id)?;
            if page.is_leaf() {
                let i = page.lower_bound(key);
                return Ok((i < page.len() && page.key(i) == key).then(|| page.value(i)));
            }
            id = page.child_at(page.upper_bound(key));
        }
        Err(Error::corruption(
            self.pager.path(),
            "the tree is deeper than 64 levels",
        ))
    }

    /// Applies `ops`, sorted by key with no key twice. `on_replaced` sees the old value of every
    /// key that is overwritten or deleted.
    pub fn apply(&mut self, ops: &[KvOp], on_replaced: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        for op in ops {
            let size = page::leaf_entry_size(&op.key, op.value.as_deref().unwrap_or_default());
            if size > page::MAX_ENTRY {
                return Err(Error::LimitExceeded(format!(
                    "an entry of {size} bytes does not fit a B+tree page (at most {})",
                    page::MAX_ENTRY
                )));
            }
        }
        let pieces = if self.root == 0 {
            self.build_leaves(
                ops.iter()
                    .filter_map(|op| op.value.as_ref().map(|v| (&op.key[..], &v[..])))
                    .collect(),
            )?
        } else {
            self.apply_node(self.root, ops, on_replaced, 0)?
        };
        self.root = self.grow_root(pieces)?;
        self.collapse_root()?;
        Ok(())
    }

    fn apply_node(
        &mut self,
        id: PageId,
        ops: &[KvOp],
        on_replaced: &mut dyn FnMut(&[u8], &[u8]),
        depth: usize,
    ) -> Result<Vec<Piece>> {
        if depth > 64 {
            return Err(Error::corruption(
                self.pager.path(),
                "the tree is deeper than 64 levels",
            ));
        }
        let page = self.read(id)?;
        if page.is_leaf() {
            return self.apply_leaf(id, &page, ops, on_replaced);
        }
        // The new child list: (separator, child); the first separator is dropped at the end.
        let mut children: Vec<(Option<Vec<u8>>, PageId)> = Vec::with_capacity(page.len() + 2);
        let mut next_op = 0;
        for c in 0..=page.len() {
            let sep = (c > 0).then(|| page.key(c - 1).to_vec());
            let start = next_op;
            while next_op < ops.len()
                && (c == page.len() || ops[next_op].key.as_slice() < page.key(c))
            {
                next_op += 1;
            }
            let child = page.child_at(c);
            if start == next_op {
                children.push((sep, child));
                continue;
            }
            let pieces = self.apply_node(child, &ops[start..next_op], on_replaced, depth + 1)?;
            for (i, (key, pid)) in pieces.into_iter().enumerate() {
                children.push((if i == 0 { sep.clone() } else { key }, pid));
            }
        }
        self.free(id);
        self.build_branches(children)
    }

    fn apply_leaf(
        &mut self,
        id: PageId,
        page: &Page,
        ops: &[KvOp],
        on_replaced: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<Vec<Piece>> {
        let values: Vec<Bytes> = (0..page.len()).map(|i| page.value(i)).collect();
        let mut merged: Vec<(&[u8], &[u8])> = Vec::with_capacity(page.len() + ops.len());
        let (mut i, mut j) = (0, 0);
        while i < page.len() || j < ops.len() {
            let take_page =
                j == ops.len() || (i < page.len() && page.key(i) < ops[j].key.as_slice());
            if take_page {
                merged.push((page.key(i), &values[i]));
                i += 1;
                continue;
            }
            let op = &ops[j];
            if i < page.len() && page.key(i) == op.key.as_slice() {
                on_replaced(page.key(i), &values[i]);
                i += 1;
            }
            if let Some(v) = &op.value {
                merged.push((&op.key, v));
            }
            j += 1;
        }
        let pieces = self.build_leaves(merged)?;
        self.free(id);
        Ok(pieces)
    }

    fn build_leaves(&mut self, entries: Vec<(&[u8], &[u8])>) -> Result<Vec<Piece>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let sizes: Vec<usize> = entries
            .iter()
            .map(|(k, v)| page::leaf_entry_size(k, v))
            .collect();
        let mut pieces = Vec::new();
        let mut start = 0;
        for end in page::split_even(&sizes) {
            let group = &entries[start..end];
            let id = self.write(page::build_leaf(group));
            pieces.push((Some(group[0].0.to_vec()), id));
            start = end;
        }
        Ok(pieces)
    }

    fn build_branches(&mut self, children: Vec<(Option<Vec<u8>>, PageId)>) -> Result<Vec<Piece>> {
        if children.is_empty() {
            return Ok(Vec::new());
        }
        let sizes: Vec<usize> = children
            .iter()
            .map(|(k, _)| page::branch_entry_size(k.as_deref().unwrap_or_default()))
            .collect();
        let mut pieces = Vec::new();
        let mut start = 0;
        for end in page::split_even(&sizes) {
            let group = &children[start..end];
            let entries: Vec<(&[u8], PageId)> = group[1..]
                .iter()
                .map(|(k, id)| (k.as_deref().unwrap_or_default(), *id))
                .collect();
            let id = self.write(page::build_branch(group[0].1, &entries));
            pieces.push((if start == 0 { None } else { group[0].0.clone() }, id));
            start = end;
        }
        Ok(pieces)
    }

    fn grow_root(&mut self, mut pieces: Vec<Piece>) -> Result<PageId> {
        loop {
            match pieces.len() {
                0 => return Ok(0),
                1 => return Ok(pieces[0].1),
                _ => {
                    if let Some(first) = pieces.first_mut() {
                        first.0 = None;
                    }
                    pieces = self.build_branches(pieces)?;
                }
            }
        }
    }

    fn collapse_root(&mut self) -> Result<()> {
        while self.root != 0 {
            let page = self.read(self.root)?;
            if page.is_leaf() || page.len() > 0 {
                break;
            }
            let child = page.first_child();
            self.free(self.root);
            self.root = child;
        }
        Ok(())
    }

    /// Writes the new pages and the meta; returns the new committed state.
    pub fn commit(self, checkpoint: Seq) -> Result<Meta> {
        let meta = Meta {
            generation: self.base.generation + 1,
            root: self.root,
            page_count: self.pager.page_count(),
            checkpoint: checkpoint.max(self.base.checkpoint),
        };
        let pages: Vec<(PageId, Page)> = self.new_pages.into_iter().collect();
        self.pager.commit(&pages, meta, self.released)?;
        Ok(meta)
    }
}
