//! Ordered iteration over one snapshot: memtables and the B+tree merged, newest version wins.

use std::{collections::VecDeque, ops::Bound, sync::Arc};

use bytes::Bytes;

use super::{ReadState, stored};
use crate::{error::Result, keys, kv::Seq, vlog::ValueLog};

/// Where entries come from, newest first.
enum Source {
    Memtable(usize),
    Tree,
}

struct Cursor {
    source: Source,
    buf: VecDeque<(Vec<u8>, Option<Bytes>)>,
    /// Where the next refill starts (exclusive of what was already read).
    next: Bound<Vec<u8>>,
    done: bool,
}

/// Iterates keys in `[lo, hi]` of one snapshot, ascending or descending, yielding each key's
/// newest visible value (deleted keys are skipped). Document values are decoded to raw BSON.
pub(crate) struct MergeIter {
    state: Arc<ReadState>,
    vlog: Arc<ValueLog>,
    seq: Seq,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    reverse: bool,
    chunk: usize,
    cursors: Vec<Cursor>,
}

impl MergeIter {
    pub(crate) fn new(
        state: Arc<ReadState>,
        vlog: Arc<ValueLog>,
        seq: Seq,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        reverse: bool,
    ) -> MergeIter {
        let start = if reverse { hi.clone() } else { lo.clone() };
        let mut cursors: Vec<Cursor> = (0..state.memtables().count())
            .map(|i| Cursor {
                source: Source::Memtable(i),
                buf: VecDeque::new(),
                next: start.clone(),
                done: false,
            })
            .collect();
        cursors.push(Cursor {
            source: Source::Tree,
            buf: VecDeque::new(),
            next: start,
            done: false,
        });
        MergeIter {
            state,
            vlog,
            seq,
            lo,
            hi,
            reverse,
            chunk: 16,
            cursors,
        }
    }

    /// Reads `n` entries per source at first (the read size doubles as iteration goes on).
    pub(crate) fn first_chunk(mut self, n: usize) -> Self {
        self.chunk = n.max(1);
        self
    }

    fn refill(&mut self, i: usize) -> Result<()> {
        let chunk = self.chunk;
        let reverse = self.reverse;
        let c = &mut self.cursors[i];
        if !c.buf.is_empty() || c.done {
            return Ok(());
        }
        let (lo, hi) = if reverse {
            (as_ref(&self.lo), as_ref(&c.next))
        } else {
            (as_ref(&c.next), as_ref(&self.hi))
        };
        let entries: Vec<(Vec<u8>, Option<Bytes>)> = match c.source {
            Source::Memtable(m) => match self.state.memtables().nth(m) {
                Some(mt) => mt.range(lo, hi, reverse, self.seq, chunk),
                None => Vec::new(),
            },
            Source::Tree => self
                .state
                .tree
                .range(lo, hi, reverse, chunk)?
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect(),
        };
        c.done = entries.len() < chunk;
        if let Some((k, _)) = entries.last() {
            c.next = Bound::Excluded(k.clone());
        }
        c.buf.extend(entries);
        Ok(())
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl Iterator for MergeIter {
    type Item = Result<(Vec<u8>, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            for i in 0..self.cursors.len() {
                if let Err(e) = self.refill(i) {
                    return Some(Err(e));
                }
            }
            // The smallest (or largest) head key; the first cursor holding it is the newest.
            let mut best: Option<usize> = None;
            for (i, c) in self.cursors.iter().enumerate() {
                let Some((k, _)) = c.buf.front() else {
                    continue;
                };
                let better = match best.and_then(|b| self.cursors[b].buf.front()) {
                    None => true,
                    Some((bk, _)) => {
                        if self.reverse {
                            k > bk
                        } else {
                            k < bk
                        }
                    }
                };
                if better {
                    best = Some(i);
                }
            }
            let b = best?;
            let from_tree = matches!(self.cursors[b].source, Source::Tree);
            let (key, value) = self.cursors[b].buf.pop_front()?;
            for c in &mut self.cursors {
                if c.buf.front().is_some_and(|(k, _)| *k == key) {
                    c.buf.pop_front();
                }
            }
            self.chunk = (self.chunk * 2).min(1024);
            match value {
                // Tree values of documents are in stored form; memtables hold raw BSON.
                Some(v) if from_tree && key.first() == Some(&keys::DOC) => {
                    return Some(stored::decode(v, &self.vlog).map(|v| (key, v)));
                }
                Some(v) => return Some(Ok((key, v))),
                None => {}
            }
        }
    }
}
