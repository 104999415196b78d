//! Document writes: the public write types, [`Db::write`] with its commit queue (the group
//! commit's leader), and the one-document conveniences. Every batch is prepared (a
//! [`Txn`](super::txn::Txn)) and committed under the write lock, so index entries always change
//! in the same atomic batch as their document.

use std::sync::Arc;

use bson::{Bson, Document, RawDocumentBuf};
use parking_lot::{Mutex, MutexGuard};

use super::{Db, WriteState, txn::Txn};
use crate::error::{Error, Result};

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
        let durable = last_seq.map_or(Ok(()), |seq| inner.complete_commit(seq));
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
            Err(Error::Internal(
                "a write lost its place in the commit queue".into(),
            ))
        })
    }

    /// Prepares and appends a batch under the write lock; the caller waits for durability
    /// (`Inner::complete_commit`) after unlocking. Returns the batch's sequence number, if it wrote.
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
        let seq = inner.append_locked(w, &ops, None)?;
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
            other => Err(Error::Internal(format!(
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
}
